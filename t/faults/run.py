#!/usr/bin/env python3
"""t/faults/run.py: the fault-injection run's load and fault schedule.

Drives a running stockade stack (t/lib/stack.sh, through nginx on
loopback) with a mixed load from a bounded number of client threads while
a fault thread breaks the stack on a seeded schedule, and records
everything for the checker (t/faults/check.py):

  setup.json     what the run created: options with their initial stock,
                 coupon policies with their N, the users
  history.jsonl  one line per request and its answer: client, user, op,
                 Idempotency-Key, method, path, body, phase (load, replay,
                 retry), start and end (seconds since the run began),
                 status, problem code, Idempotent-Replayed, the answer's
                 body (parsed JSON) or the connection error
  faults.jsonl   one line per fault: kind, start, end, what
                 t/faults/inject.sh did, and its exit status

The load: orders of one or two options (small stock), payments with
points (sometimes with a coupon), cancels (refunds), point charges (each
amount unique in the run, so that the checker can tell every ledger row's
request), coupon claims on policies of small N by many users, and reads.
Every value-moving POST carries an Idempotency-Key.  An ambiguous answer
(a connection error, any 5xx, 409 request_in_progress) is retried with the
same key by its client, a few times during the load; whatever is still
ambiguous when the load ends is retried until definite, bounded, after the
faults have stopped.  Some definite answers are sent again on purpose with
their key, to check that they replay.

The fault thread draws everything from random.Random(seed): the order of
fault kinds (each cycle a shuffle of every kind, with worker kills three
times; the first cycle is made whole even if it outlasts --duration), the gaps between them, the victims (passed to inject.sh).  The
timing of the load against the faults is the machine's, so a seed replays
the schedule, not the interleaving.

With --schedule KIND,... the faults are those kinds in that order
instead, --gap seconds apart, made by the --inject program (any kinds it
knows: t/test_scaleout_faults.sh passes t/faults/inject_hosts.sh's
link_down and pg_failover), and the load lasts until they are done and
--calm seconds more.

Python 3 standard library only.  Usage (t/test_faults.sh shows it whole):

  run.py --url URL --tokens FILE --admin-token TOKEN --out DIR
         [--seed N] [--duration S] [--clients N] [--inject PATH]
         [--schedule KIND,...]
"""

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

FAULT_KINDS = [
    "worker_kill", "reaper_kill", "master_kill", "graceful_restart",
    "pg_immediate", "pg_fast", "commit_reply", "commit_request", "pg_idle",
    "redis_restart", "redis_flushall", "redis_script_flush", "redis_stop",
]

# Answers after which a key's request may or may not have run: it is
# retried with its key until one of the others comes.
AMBIGUOUS_CODES = {"request_in_progress"}

KEYED_OPS = ("order", "pay", "cancel", "charge", "claim")


def ambiguous(status, code):
    """True when an answer does not settle what the request did."""
    if status is None or status >= 500:
        return True
    return status == 409 and code in AMBIGUOUS_CODES


class Recorder:
    """Appends history records, one JSON line each, under a lock."""

    def __init__(self, path, t0):
        self.f = open(path, "w", encoding="utf-8")
        self.t0 = t0
        self.lock = threading.Lock()
        self.seq = 0

    def now(self):
        return time.monotonic() - self.t0

    def write(self, rec):
        with self.lock:
            self.seq += 1
            rec["i"] = self.seq
            self.f.write(json.dumps(rec, sort_keys=True) + "\n")

    def close(self):
        with self.lock:
            self.f.close()


class Http:
    """One kept-alive connection to nginx, re-opened after any failure."""

    def __init__(self, url, timeout):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body, headers):
        """Returns (status, headers dict, body bytes); raises OSError or
        http.client.HTTPException when no answer came."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if hdrs.get("connection", "").lower() == "close":
                self.close()
            return r.status, hdrs, data
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Shop:
    """What the clients know, shared: each user's orders and coupons as
    the answers told them.  Only for choosing plausible requests; the
    checker trusts the history and the database, not this."""

    def __init__(self, users):
        self.lock = threading.Lock()
        self.orders = {u: {} for u in users}  # id -> status
        self.coupons = {u: {} for u in users}  # id -> status
        self.paid_with = {}  # order id -> coupon id

    def learn(self, op, user, status, code, body, req):
        if status is None or status >= 300 or not isinstance(body, dict):
            if op in ("pay", "cancel") and status in (404, 409):
                with self.lock:
                    self.orders[user].pop(req["order_id"], None)
                    if req.get("coupon_id") and code == "coupon_unavailable":
                        self.coupons[user].pop(req["coupon_id"], None)
            return
        with self.lock:
            if op == "order":
                self.orders[user][body["id"]] = "pending"
            elif op == "pay":
                self.orders[user][req["order_id"]] = "paid"
                if req.get("coupon_id"):
                    self.coupons[user][req["coupon_id"]] = "used"
                    self.paid_with[req["order_id"]] = req["coupon_id"]
            elif op == "cancel":
                self.orders[user].pop(req["order_id"], None)
                c = self.paid_with.pop(req["order_id"], None)
                if c is not None and c in self.coupons[user]:
                    self.coupons[user][c] = "available"
            elif op == "claim":
                self.coupons[user][body["id"]] = "available"

    def pick_order(self, rng, user, statuses):
        with self.lock:
            ids = [o for o, s in self.orders[user].items() if s in statuses]
        return rng.choice(ids) if ids else None

    def pick_coupon(self, rng, user):
        with self.lock:
            ids = [c for c, s in self.coupons[user].items()
                   if s == "available"]
        return rng.choice(ids) if ids else None


class Run:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic()
        self.rec = Recorder(os.path.join(args.out, "history.jsonl"), self.t0)
        self.tokens = {}
        with open(args.tokens) as f:
            for line in f:
                if line.strip():
                    u, tok = line.split()
                    self.tokens[int(u)] = tok
        self.users = sorted(self.tokens)
        self.shop = Shop(self.users)
        self.stop_load = threading.Event()
        self.crashed = threading.Event()
        self.charge_seq = 0
        self.charge_lock = threading.Lock()
        self.pending = []  # keyed requests still ambiguous after the load
        self.pending_lock = threading.Lock()

    # -- set-up ----------------------------------------------------------

    def admin(self, method, path, body):
        h = Http(self.args.url, 30)
        status, _, data = h.request(method, path, json.dumps(body), {
            "Authorization": "Bearer " + self.args.admin_token,
            "Content-Type": "application/json"})
        h.close()
        if status != 201:
            sys.exit(f"set-up: {method} {path}: {status} {data!r}")
        return json.loads(data)

    def setup(self):
        rng = random.Random(self.args.seed)
        options = []
        for p in range(3):
            opts = [{"name": f"o{p}{i}", "price": rng.choice([50, 100, 150]),
                     "stock": rng.randint(12, 30)} for i in range(2)]
            prod = self.admin("POST", "/api/v1/admin/products",
                              {"name": f"faults-{p}", "options": opts})
            for o, spec in zip(prod["options"], opts):
                options.append({"id": o["id"], "product_id": prod["id"],
                                "price": spec["price"],
                                "stock": spec["stock"]})
        policies = []
        for n in (4, 12, 1000):
            pol = self.admin("POST", "/api/v1/admin/coupons", {
                "name": f"faults-{n}", "discount_kind": "amount",
                "discount_value": 30, "total_quantity": n})
            policies.append({"id": pol["id"], "total": n})
        self.options, self.policies = options, policies
        with open(os.path.join(self.args.out, "setup.json"), "w") as f:
            # The wall clock at t = 0 of the history's times: the checker
            # places the database's timestamps among the requests.
            epoch = time.time() - self.rec.now()
            json.dump({"seed": self.args.seed, "epoch": epoch,
                       "options": options,
                       "policies": policies, "users": self.users}, f,
                      indent=1)

    # -- one request -----------------------------------------------------

    def send(self, h, client, req, phase, attempt):
        """Sends req (a dict: user, op, method, path, body, key) once and
        records it; returns (status, code, parsed body)."""
        headers = {"Authorization": "Bearer " + self.tokens[req["user"]]}
        if req["body"] is not None:
            headers["Content-Type"] = "application/json"
        if req["key"]:
            headers["Idempotency-Key"] = req["key"]
        start = self.rec.now()
        status = code = body = error = None
        replayed = False
        try:
            status, hdrs, data = h.request(
                req["method"], req["path"],
                req["body"].encode() if req["body"] is not None else None,
                headers)
            replayed = hdrs.get("idempotent-replayed") == "true"
            try:
                body = json.loads(data) if data else None
            except ValueError:
                body = data.decode("utf-8", "replace")[:500]
            if isinstance(body, dict) and status >= 400:
                # The code is what a refusal says; its prose is left out
                # (a ten-minute run has a million of them).
                code = body.get("code")
                body = None
        except (OSError, http.client.HTTPException) as e:
            error = f"{type(e).__name__}: {e}"[:200]
        end = self.rec.now()
        self.rec.write({
            "client": client, "user": req["user"], "op": req["op"],
            "key": req["key"], "method": req["method"], "path": req["path"],
            "body": req["body"], "phase": phase, "attempt": attempt,
            "t0": round(start, 4), "t1": round(end, 4), "status": status,
            "code": code, "replayed": replayed, "resp": body,
            "error": error})
        return status, code, body

    # -- the load --------------------------------------------------------

    def next_request(self, rng, client, n):
        user = rng.choice(self.users)
        key = f"s{self.args.seed}-c{client}-{n}"
        r = rng.random()
        if r < 0.27:
            items = rng.sample(self.options, rng.choice([1, 1, 2]))
            body = json.dumps({"items": [
                {"option_id": o["id"], "quantity": rng.randint(1, 2)}
                for o in sorted(items, key=lambda o: o["id"])]})
            return {"user": user, "op": "order", "method": "POST",
                    "path": "/api/v1/orders", "body": body, "key": key}
        if r < 0.45:
            oid = self.shop.pick_order(rng, user, ("pending",))
            if oid is not None:
                coupon = None
                if rng.random() < 0.5:
                    coupon = self.shop.pick_coupon(rng, user)
                body = json.dumps({"coupon_id": coupon}) if coupon else None
                return {"user": user, "op": "pay", "method": "POST",
                        "path": f"/api/v1/orders/{oid}/pay", "body": body,
                        "key": key, "order_id": oid, "coupon_id": coupon}
        if r < 0.56:
            oid = self.shop.pick_order(rng, user, ("pending", "paid"))
            if oid is not None:
                return {"user": user, "op": "cancel", "method": "POST",
                        "path": f"/api/v1/orders/{oid}/cancel", "body": None,
                        "key": key, "order_id": oid}
        if r < 0.74:
            with self.charge_lock:
                self.charge_seq += 1
                # Unique in the run: the checker maps ledger rows to keys.
                amount = 1000 + self.charge_seq
            return {"user": user, "op": "charge", "method": "POST",
                    "path": "/api/v1/points/charge",
                    "body": json.dumps({"amount": amount}), "key": key}
        if r < 0.88:
            pol = rng.choice(self.policies)
            # --unkeyed-claims: coupon_strategy = queue queues only claims
            # without a key (a keyed one commits with its key's row, on the
            # direct path); never retried, so the checker counts a coupon
            # of an ambiguous unkeyed claim as possibly its.  Drawn only
            # when asked, so that a seed replays as before.
            if self.args.unkeyed_claims > 0 and \
                    rng.random() < self.args.unkeyed_claims:
                key = None
            return {"user": user, "op": "claim", "method": "POST",
                    "path": f"/api/v1/coupons/{pol['id']}/issue",
                    "body": None, "key": key}
        what = rng.random()
        if what < 0.4:
            opt = rng.choice(self.options)
            return {"user": user, "op": "read_product", "method": "GET",
                    "path": f"/api/v1/products/{opt['product_id']}",
                    "body": None, "key": None}
        if what < 0.7:
            return {"user": user, "op": "read_points", "method": "GET",
                    "path": "/api/v1/points", "body": None, "key": None}
        return {"user": user, "op": "read_coupons", "method": "GET",
                "path": "/api/v1/me/coupons", "body": None, "key": None}

    def guarded(self, target, *args):
        """Runs target in a thread; a crash stops the run and fails it
        (a client that died would silently thin the load)."""
        def run():
            try:
                target(*args)
            except BaseException:
                traceback.print_exc()
                self.crashed.set()
                self.stop_load.set()
        return threading.Thread(target=run)

    def client(self, client):
        rng = random.Random(self.args.seed * 1000 + client)
        h = Http(self.args.url, self.args.request_timeout)
        n = 0
        while not self.stop_load.is_set():
            n += 1
            req = self.next_request(rng, client, n)
            status, code, body = self.send(h, client, req, "load", 1)
            attempt = 1
            # A client that knows its key retries an unclear answer.
            while ambiguous(status, code) and req["key"] and attempt < 3 \
                    and not self.stop_load.is_set():
                time.sleep(rng.uniform(0.1, 0.5))
                attempt += 1
                status, code, body = self.send(h, client, req, "load",
                                               attempt)
            if req["key"] and ambiguous(status, code):
                with self.pending_lock:
                    self.pending.append((req, attempt))
                continue
            self.shop.learn(req["op"], req["user"], status, code, body, req)
            if req["key"] and rng.random() < 0.08:
                # Sent again on purpose: a definite answer must replay.
                self.send(h, client, req, "replay", attempt + 1)
        h.close()

    # -- after the load --------------------------------------------------

    def settle(self, item, deadline):
        req, attempt = item
        h = Http(self.args.url, self.args.request_timeout)
        delay = 0.2
        status, code = None, None
        while time.monotonic() < deadline:
            attempt += 1
            status, code, _ = self.send(h, -1, req, "retry", attempt)
            if not ambiguous(status, code):
                break
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        h.close()

    def settle_all(self):
        deadline = time.monotonic() + self.args.settle_timeout
        threads = []
        work = list(self.pending)
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    if not work:
                        return
                    item = work.pop()
                self.settle(item, deadline)

        for _ in range(min(8, len(work))):
            t = threading.Thread(target=worker)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        return len(self.pending)

    # -- faults ----------------------------------------------------------

    def faults(self, until):
        rng = random.Random(self.args.seed)
        path = os.path.join(self.args.out, "faults.jsonl")
        kinds = [k for k in FAULT_KINDS if k in self.args.kinds]
        with open(path, "w", encoding="utf-8") as f:
            if not kinds:  # a run without faults: the load alone
                time.sleep(max(0.0, until - time.monotonic()))
                return
            time.sleep(max(0.0, min(2.0, until - time.monotonic())))
            # The first cycle is always made whole, however long a
            # loaded machine takes over it, so that every run makes
            # every kind; later cycles stop at `until`.
            first = True
            while True:
                cycle = kinds + ["worker_kill"] * 3 * \
                    ("worker_kill" in kinds)
                rng.shuffle(cycle)
                for kind in cycle:
                    gap = rng.uniform(self.args.gap / 2, self.args.gap * 1.5)
                    victim = rng.randrange(1 << 30)
                    late = time.monotonic() + gap >= until
                    if (late and not first) or self.stop_load.wait(gap):
                        return
                    self.inject(f, kind, victim)
                first = False

    def inject(self, f, kind, victim):
        """Makes one fault (the inject program, KIND VICTIM) and logs it
        to f, faults.jsonl."""
        start = self.rec.now()
        try:
            p = subprocess.run(
                [self.args.inject, kind, str(victim)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                timeout=120, text=True)
            rc, out = p.returncode, p.stdout.strip()
        except subprocess.TimeoutExpired:
            rc, out = 124, "timed out"
        end = self.rec.now()
        f.write(json.dumps({"kind": kind, "t0": round(start, 4),
                            "t1": round(end, 4), "rc": rc,
                            "detail": out[-300:]}) + "\n")
        f.flush()
        print(f"faults: {start:7.2f}s {kind}: rc {rc}: {out}",
              file=sys.stderr, flush=True)

    def scheduled(self):
        """--schedule: the given kinds, in order, each --gap seconds after
        the one before ended (the first --gap seconds into the load)."""
        with open(os.path.join(self.args.out, "faults.jsonl"), "w",
                  encoding="utf-8") as f:
            for kind in self.args.schedule:
                if self.stop_load.wait(self.args.gap):
                    return
                self.inject(f, kind, 0)

    def main(self):
        self.setup()
        load_end = time.monotonic() + self.args.duration
        # Faults stop a few seconds before the load, so that the load
        # also shows the stack serving after the last one.
        if self.args.schedule:
            faults = self.guarded(self.scheduled)
        else:
            faults = self.guarded(self.faults, load_end - self.args.calm)
        clients = [self.guarded(self.client, c)
                   for c in range(self.args.clients)]
        for t in clients:
            t.start()
        faults.start()
        faults.join()
        # A schedule, or a first cycle that outlasted --duration, runs as
        # long as its faults take: the load goes on --calm s after them.
        if self.args.schedule:
            load_end = time.monotonic() + self.args.calm
        else:
            load_end = max(load_end, time.monotonic() + self.args.calm)
        self.stop_load.wait(max(0.0, load_end - time.monotonic()))
        self.stop_load.set()
        for t in clients:
            t.join()
        load_s = self.rec.now()
        left = self.settle_all()
        self.rec.close()
        print(f"run: load {load_s:.1f}s with {self.args.clients} clients; "
              f"{left} keys retried after it", file=sys.stderr)
        return 1 if self.crashed.is_set() else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--tokens", required=True,
                   help='a file of "USER TOKEN" lines')
    p.add_argument("--admin-token", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=float, default=60.0,
                   help="seconds of load")
    p.add_argument("--calm", type=float, default=4.0,
                   help="seconds of load after the last fault")
    p.add_argument("--gap", type=float, default=1.5,
                   help="mean seconds between faults")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--unkeyed-claims", type=float, default=0.0,
                   help="the fraction of coupon claims sent without an "
                   "Idempotency-Key (coupon_strategy = queue)")
    p.add_argument("--request-timeout", type=float, default=40.0)
    p.add_argument("--settle-timeout", type=float, default=60.0)
    p.add_argument("--kinds", default=",".join(FAULT_KINDS),
                   help="comma-separated fault kinds (default: all)")
    p.add_argument("--schedule", default="",
                   help="comma-separated fault kinds made in this order, "
                   "--gap s apart, instead of the seeded random schedule "
                   "(any kind the --inject program knows); the load lasts "
                   "until they are done, then --calm s (--duration is "
                   "ignored)")
    p.add_argument("--inject", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "inject.sh"))
    args = p.parse_args()
    args.kinds = set(args.kinds.split(",")) if args.kinds else set()
    args.schedule = args.schedule.split(",") if args.schedule else []
    sys.exit(Run(args).main())


if __name__ == "__main__":
    main()
