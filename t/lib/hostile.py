#!/usr/bin/env python3
"""t/lib/hostile.py: runs the hostile inputs of t/lib/hostile_cases.py
against a running stack (t/test_hostile.sh starts it) and checks each.

Every case is one request, through nginx (raw bytes on a TCP connection,
so that a request line, a header or a body can be as wrong as a client can
make it) or straight on stockade's FastCGI socket (t/lib/fcgi_client.py).
For each case it checks that:
  - an answer came within the deadline (no hang), and the connection was
    closed (nginx: Connection: close; FastCGI: keepConnection 0);
  - the answer is what the case expects: an application/problem+json 4xx
    with the documented `code` (docs/openapi.yaml), or for protocol garbage
    on the FastCGI socket a closed connection (with nothing, or a 4xx);
    never a 5xx;
  - nothing changed in PostgreSQL: a digest of every table's rows, taken
    before and after the case, is the same; and Redis holds the same keys
    (their values are counters and caches a refused request may touch).
After each group it checks that the pool is full (every slot has a live
worker) and that every worker that is gone since the group started has its
"replacing it" line in the master's log.

Output: TAP lines ("ok N - group/name"), numbered from --first, a summary
(cases by group, answers by status and code), and a last line
"hostile: P passed, F failed" that t/test_hostile.sh adds to its
own counts.  Exit status 0 when nothing failed.

Python 3 standard library only.
"""

import argparse
import base64
import collections
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fcgi_client as fcgi  # noqa: E402
import hostile_cases  # noqa: E402

# ---------------------------------------------------------------------------
# HTTP, raw.


def http_bytes(method, target, headers=(), body=b"", version="HTTP/1.1",
               host=True, length=True):
    """A request as bytes: method and target as given (bytes or str), Host
    and Connection: close unless host is False, Content-Length for a
    non-empty body unless length is False, then headers (name, value)."""
    def b(s):
        return s if isinstance(s, bytes) else s.encode()

    out = b(method) + b" " + b(target) + b" " + b(version) + b"\r\n"
    if host:
        out += b"Host: 127.0.0.1\r\nConnection: close\r\n"
    if body and length:
        out += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    for name, value in headers:
        out += b(name) + b": " + b(value) + b"\r\n"
    return out + b"\r\n" + b(body)


class HttpReply:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""


def parse_http(data):
    """Status, headers (lower-case names) and body (chunks joined) of one
    HTTP/1.1 response; status None when data holds none."""
    rep = HttpReply()
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return rep
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        return rep
    rep.status = int(m.group(1))
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        rep.headers[name.strip().lower().decode("latin-1")] = \
            value.strip().decode("latin-1")
    if rep.headers.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while body:
            size, _, rest = body.partition(b"\r\n")
            n = int(size.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            out += rest[:n]
            body = rest[n + 2:]
        body = out
    rep.body = body
    return rep


def http_exchange(port, data, timeout, half_close=False, hold=0.0, then=b""):
    """fcgi_client.talk() on a new connection to nginx on 127.0.0.1:port:
    sends data and reads until nginx closes the connection or timeout
    seconds pass."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        return fcgi.talk(sock, data, timeout, half_close, hold, then)
    finally:
        sock.close()


# ---------------------------------------------------------------------------
# Tokens: HS256 over "header.payload", unpadded base64url (src/auth.c).


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Tokens:
    def __init__(self, secret):
        self.secret = secret

    def sign(self, signing_input, key=None):
        mac = hmac.new(self.secret if key is None else key,
                       signing_input.encode(), hashlib.sha256).digest()
        return b64url(mac)

    def make(self, header=None, payload=None, key=None, sig=None):
        """A token from header and payload (dicts are dumped as JSON, str
        and bytes used as they are); signed with key (the stack's secret by
        default) unless sig is given."""
        def part(v, default):
            v = default if v is None else v
            if isinstance(v, (dict, list, int)):
                v = json.dumps(v, separators=(",", ":"))
            return b64url(v.encode() if isinstance(v, str) else v)

        now = int(time.time())
        signing_input = part(header, {"alg": "HS256", "typ": "JWT"}) + \
            "." + part(payload, {"sub": "1", "role": "user", "iat": now,
                                 "exp": now + 3600})
        return signing_input + "." + (self.sign(signing_input, key)
                                      if sig is None else sig)

    def user(self, uid, role="user", ttl=3600):
        now = int(time.time())
        return self.make(payload={"sub": str(uid), "role": role, "iat": now,
                                  "exp": now + ttl})


# ---------------------------------------------------------------------------
# The database digest: one md5 per table over its rows in a stable order,
# through one psql session kept open (a connection per query would cost
# more than the cases).


class Psql:
    END = "__hostile_end__"

    def __init__(self, psql, host):
        self.proc = subprocess.Popen(
            [psql, "-XAtq", "-h", host, "-U", "stockade", "-d", "stockade"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            bufsize=1)

    def query(self, sql):
        self.proc.stdin.write(sql + ";\n\\echo " + self.END + "\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line == self.END:
                return out
            out.append(line)
        raise RuntimeError("psql went away")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class Digest:
    def __init__(self, psql):
        self.psql = psql
        tables = psql.query("SELECT tablename FROM pg_tables "
                            "WHERE schemaname = 'public' ORDER BY 1")
        self.tables = tables
        self.sql = " UNION ALL ".join(
            "SELECT '%s:' || md5(COALESCE(string_agg(x::text, '|' "
            "ORDER BY x::text), '')) || ':' || count(*) FROM public.%s x"
            % (t, t) for t in tables)
        self.seq_sql = ("SELECT sequencename || ':' || "
                        "COALESCE(last_value, 0) FROM pg_sequences "
                        "WHERE schemaname = 'public' ORDER BY 1")

    def take(self):
        return tuple(self.psql.query(self.sql))

    def sequences(self):
        return tuple(self.psql.query(self.seq_sql))


class RedisKeys:
    """The names of Redis's keys, over one connection kept open (RESP,
    the few lines a KEYS answer needs).  Names only: a refused request may
    bump a counter (the gate's request count), but must not make a key."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("redis went away")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("redis went away")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def take(self):
        self.sock.sendall(b"*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n")
        head = self._line()
        if not head.startswith(b"*"):
            raise RuntimeError("redis answered %r" % head)
        names = []
        for _ in range(int(head[1:])):
            names.append(self._exact(int(self._line()[1:])))
        return tuple(sorted(names))


def digest_diff(before, after):
    return ", ".join(a.split(":")[0] for a, b in zip(before, after) if a != b)


# ---------------------------------------------------------------------------
# The runner.


class Runner:
    def __init__(self, args):
        self.args = args
        self.n = args.first - 1
        self.passed = self.failed = 0
        self.by_group = collections.Counter()
        self.answers = collections.Counter()
        self.seq_moved = []
        with open(args.secret_file, "rb") as f:
            secret = f.read()
        secret = secret[:-1] if secret.endswith(b"\n") else secret
        self.tokens = Tokens(secret)
        self.psql = Psql(args.psql, args.pg_host)
        self.digest = Digest(self.psql)
        self.redis = RedisKeys(args.redis_socket)
        self.admin = self.tokens.user(9998, "admin")

    # -- TAP ---------------------------------------------------------------

    def report(self, ok, name, why=()):
        self.n += 1
        if ok:
            self.passed += 1
            print("ok %d - %s" % (self.n, name))
            return
        self.failed += 1
        print("not ok %d - %s" % (self.n, name))
        for line in why:
            print("#   " + line)

    # -- one request ---------------------------------------------------------

    def send(self, case):
        """Runs case; returns (exchange, parsed reply, reasons found on
        the way)."""
        if case.get("custom"):
            return case["custom"](self, case)
        hold, then = case.get("hold", 0.0), case.get("then", b"")
        timeout = case.get("timeout", self.args.timeout)
        if case["via"] == "nginx":
            ex = http_exchange(self.args.port, case["send"], timeout,
                               case.get("half_close", False), hold, then)
            return ex, parse_http(ex.data), []
        if case.get("reset"):
            fcgi.abort_connection(self.args.socket, case["send"])
            return None, None, []
        ex = fcgi.exchange(self.args.socket, case["send"], timeout,
                           case.get("half_close", False), hold, then)
        return ex, fcgi.parse_reply(ex.data, case.get("request_id", 1)), []

    def check_answer(self, case, ex, rep):
        """The reasons the answer is wrong (empty when it is right), and a
        label for the summary."""
        want = case["want"]
        why = []
        if ex is None:  # reset by us: nothing to read
            return why, "reset"
        status = rep.status
        if not ex.closed:
            why.append("no answer and the connection still open after "
                       "%.1fs (a hang)" % ex.elapsed)
        if status is not None and status >= 500 and \
                status not in case.get("rfc_5xx", ()):
            why.append("a 5xx answer: %d" % status)
        code = None
        ctype = rep.headers.get("content-type", "")
        if status is not None and want[0] != "head" and ctype.startswith(
                "application/problem+json"):
            try:
                doc = json.loads(rep.body.decode("utf-8"))
                code = doc.get("code")
                if doc.get("status") != status or \
                        doc.get("type") != "urn:stockade:problem:%s" % code:
                    why.append("problem document disagrees with itself: %r"
                               % doc)
            except (ValueError, UnicodeDecodeError, AttributeError) as e:
                why.append("problem+json that does not parse: %s" % e)
        label = "closed" if status is None else "%d %s" % (
            status, code or ctype.split(";")[0] or "-")
        kind = want[0]
        if kind == "problem":
            statuses, codes = want[1], want[2]
            if status not in statuses:
                why.append("status %s, want %s" % (status, "/".join(
                    map(str, statuses))))
            elif not ctype.startswith("application/problem+json"):
                why.append("content type %r, want application/problem+json"
                           % ctype)
            elif codes is not None and code not in codes:
                why.append("code %r, want %s" % (code, "/".join(codes)))
        elif kind == "closed":
            if status is not None and not 400 <= status < 500:
                why.append("answered %d; want the connection closed, or a "
                           "4xx" % status)
        elif kind == "head":
            if status != want[1]:
                why.append("status %s, want %d" % (status, want[1]))
            if rep.body:
                why.append("HEAD answered with a body of %d bytes"
                           % len(rep.body))
            if "content-length" not in rep.headers:
                why.append("HEAD answer without Content-Length")
        elif kind == "status":
            if status != want[1]:
                why.append("status %s, want %d" % (status, want[1]))
        for check in case.get("checks", ()):
            msg = check(ex, rep)
            if msg:
                why.append(msg)
        if why and status is not None:
            why.append("answer: %d %r" % (status, rep.body[:300]))
        return why, label

    def run_case(self, case):
        name = "%s/%s" % (case["group"], case["name"])
        before = self.digest.take()
        seq_before = self.digest.sequences()
        keys_before = self.redis.take()
        try:
            ex, rep, why0 = self.send(case)
            why, label = self.check_answer(case, ex, rep)
            why = why0 + why
        except OSError as e:
            why, label = ["the request could not be sent: %r" % e], "error"
        after = self.digest.take()
        if after != before and not case.get("changes_db"):
            why.append("the database changed: %s" % digest_diff(before,
                                                                 after))
        keys_after = self.redis.take()
        if keys_after != keys_before:
            why.append("Redis keys changed: made %r, gone %r" % (
                sorted(set(keys_after) - set(keys_before))[:5],
                sorted(set(keys_before) - set(keys_after))[:5]))
        seq_after = self.digest.sequences()
        if seq_after != seq_before:
            self.seq_moved.append("%s (%s)" % (name, digest_diff(
                seq_before, seq_after)))
        self.by_group[case["group"]] += 1
        self.answers[label] += 1
        self.report(not why, name, why)
        after_hook = case.get("after")
        if after_hook:
            for ok, what, details in after_hook(self):
                self.report(ok, "%s: %s" % (name, what), details)

    # -- the pool --------------------------------------------------------------

    def workers(self):
        """[(slot, pid, state)] from GET /status, or None."""
        data = http_bytes("GET", "/status", [("Authorization",
                                              "Bearer " + self.admin)])
        ex = http_exchange(self.args.port, data, 10)
        rep = parse_http(ex.data)
        if rep.status != 200:
            return None
        try:
            doc = json.loads(rep.body.decode("utf-8"))
        except ValueError:
            return None
        return [(w["slot"], w["pid"], w["state"]) for w in doc["workers"]]

    def pool_full(self, wait=3.0):
        """Waits up to wait seconds for every slot to hold a live worker;
        returns the last [(slot, pid, state)]."""
        deadline = time.monotonic() + wait
        while True:
            ws = self.workers() or []
            full = len(ws) == self.args.workers and all(
                pid > 0 and state in ("idle", "busy") for _, pid, state in ws)
            if full or time.monotonic() > deadline:
                return ws, full
            time.sleep(0.05)

    def check_pool(self, group, pids_before):
        ws, full = self.pool_full()
        self.report(full, "%s: the pool is full afterwards (%d workers)"
                    % (group, self.args.workers), ["workers: %r" % ws])
        gone = sorted(set(pids_before) - {pid for _, pid, _ in ws})
        if not gone:
            self.report(True, "%s: the same worker pids" % group)
            return
        with open(self.args.log, encoding="utf-8", errors="replace") as f:
            log = f.read()
        unlogged = [p for p in gone
                    if not re.search(r"\(pid %d\) .*; replacing it" % p, log)]
        backoff = "keeps dying" in log
        self.report(not unlogged and not backoff,
                    "%s: %d worker(s) replaced, each logged, no back-off"
                    % (group, len(gone)),
                    ["not logged: %r" % unlogged, "back-off logged: %s"
                     % backoff])
        print("# %s: workers replaced: %s" % (group, gone))

    def run(self):
        fixtures = hostile_cases.setup(self)
        groups = collections.OrderedDict()
        for case in hostile_cases.cases(self, fixtures):
            groups.setdefault(case["group"], []).append(case)
        start = time.monotonic()
        for group, cases in groups.items():
            ws, _ = self.pool_full()
            pids_before = [pid for _, pid, _ in ws]
            t0 = time.monotonic()
            for case in cases:
                self.run_case(case)
            print("# %s: %d cases in %.1fs" % (group, len(cases),
                                               time.monotonic() - t0))
            self.check_pool(group, pids_before)
        for ok, what, details in hostile_cases.afterwards(self, fixtures):
            self.report(ok, what, details)
        self.summary(time.monotonic() - start)
        self.psql.close()
        return self.failed == 0

    def summary(self, elapsed):
        total = sum(self.by_group.values())
        print("# %d hostile cases in %.1fs, by group:" % (total, elapsed))
        for group, n in self.by_group.items():
            print("#   %-10s %4d" % (group, n))
        print("# answers, by status and code:")
        for label, n in sorted(self.answers.items()):
            print("#   %-40s %4d" % (label, n))
        if self.seq_moved:
            print("# sequences that moved during a refused request (no "
                  "row was kept): %s" % "; ".join(self.seq_moved))
        print("hostile: %d passed, %d failed" % (self.passed, self.failed))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True,
                    help="nginx's port on 127.0.0.1")
    ap.add_argument("--socket", required=True,
                    help="stockade's FastCGI socket")
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--psql", required=True, help="the psql binary")
    ap.add_argument("--pg-host", required=True,
                    help="PostgreSQL's socket directory")
    ap.add_argument("--redis-socket", required=True,
                    help="Redis's unix socket")
    ap.add_argument("--log", required=True, help="stockade's log file")
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--first", type=int, default=1,
                    help="the number of the first TAP line")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds an answer may take before it is a hang")
    ap.add_argument("--hold", type=float, default=3.0,
                    help="seconds a held-open request waits for the "
                    "server's read deadline")
    ap.add_argument("--only", default="",
                    help="run only the groups named (comma-separated)")
    args = ap.parse_args()
    sys.exit(0 if Runner(args).run() else 1)


if __name__ == "__main__":
    main()
