#!/usr/bin/env python3
"""t/lib/pgproxy.py: a PostgreSQL fault proxy for the integration tests.

It listens on a unix socket and forwards every connection, byte for byte,
to the real server's unix socket: the startup packet as it is (an
SSLRequest or GSSENCRequest is passed on too, and so is the server's one
byte answer; over unix sockets libpq sends neither), and after it the
protocol's messages, which it reads one by one (a type byte and a length)
so that it can fail a connection at an exact point.  A cancel request is
piped through untouched.

Faults are armed through a control file holding "MODE COUNT"; every fault
made counts COUNT down by one (the file is rewritten), so a test arms one
fault, sends one request, and reads "MODE 0" back as proof that the fault
happened.  Only connections whose application_name starts with --match
("stockade worker" by default) are failed, so the reaper's and psql's
transactions are never hit.  MODE is one of:

  reply    the server's CommandComplete for COMMIT is not passed on: both
           connections are closed instead.  The transaction committed and
           the client never hears so (a lost COMMIT answer).
  request  the client's COMMIT (a simple Query, or the Parse of a COMMIT
           pipelined after the last statements) is not passed on: both
           connections are closed instead.  The server rolls back; the
           client cannot tell this from the case above.
  idle     the client's next statement (BEGIN, a Parse or a Bind) is not
           passed on: the client gets what a server stopped with -m
           immediate sends, a WARNING notice (SQLSTATE 57P01), and EOF.
           As if the server died between the client's last look at its
           idle connection and its statement.
  idle-fatal  the same with what -m fast sends: an ErrorResponse FATAL
           57P01, and EOF.
  reply:NAME  the next Bind of the prepared statement NAME outside a
           transaction (the last ReadyForQuery said idle) is passed on,
           and the server's whole answer to it is not: the proxy waits
           for the ReadyForQuery that follows the Sync, by which time the
           statement has committed on its own, and closes both
           connections instead.  A write outside a transaction whose
           answer is lost.
  gone:NAME  the next Bind of NAME outside a transaction is not passed on:
           the client gets what idle sends.  A write outside a
           transaction that never reached the server, which the client
           cannot tell from the case above.

Python 3 standard library only.  Usage:

  pgproxy.py --listen SOCKET --upstream SOCKET --control FILE [--match P]

Every fault is logged on stderr, one line each.
"""

import argparse
import asyncio
import os
import struct
import sys

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102

# What a fault function says of a message: forward it (False), end both
# connections (True), or drop it and go on (SKIP).
SKIP = "skip"


def log(msg):
    print(f"pgproxy: {msg}", file=sys.stderr, flush=True)


def is_commit(typ, body):
    """A COMMIT: a simple Query, or the Parse of one (pipeline mode sends
    COMMIT through the extended protocol, after the last statements)."""
    if typ == b"Q":
        text = body.rstrip(b"\0")
    elif typ == b"P":
        parts = body.split(b"\0", 2)
        text = parts[1] if len(parts) > 2 else b""
    else:
        return False
    return text.strip().upper() == b"COMMIT"


class Control:
    """The control file: "MODE COUNT"; take() counts a fault down."""

    def __init__(self, path):
        self.path = path

    def take(self, mode):
        try:
            with open(self.path) as f:
                words = f.read().split()
        except FileNotFoundError:
            return False
        if len(words) != 2 or words[0] != mode or not words[1].isdigit():
            return False
        left = int(words[1])
        if left <= 0:
            return False
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{mode} {left - 1}\n")
        os.replace(tmp, self.path)
        return True


class Link:
    """One client connection and its server connection."""

    def __init__(self, args, control, creader, cwriter):
        self.args = args
        self.control = control
        self.creader, self.cwriter = creader, cwriter
        self.sreader = self.swriter = None
        self.app = ""
        self.watched = False
        self.tx = b"I"  # the last ReadyForQuery's transaction status
        self.swallow = None  # reply:NAME: the statement being lost

    def close(self):
        # close(), not abort(): what was already forwarded is delivered,
        # then EOF, as when a server or a network path dies.
        for w in (self.cwriter, self.swriter):
            if w is not None and not w.is_closing():
                w.close()

    async def startup(self):
        """Forwards the startup packets; False for a cancel request."""
        while True:
            head = await self.creader.readexactly(4)
            (n,) = struct.unpack("!I", head)
            body = await self.creader.readexactly(n - 4)
            (code,) = struct.unpack("!I", body[:4])
            self.swriter.write(head + body)
            await self.swriter.drain()
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                answer = await self.sreader.readexactly(1)
                self.cwriter.write(answer)
                await self.cwriter.drain()
                if answer != b"N":
                    return False  # encrypted: pass through, no faults
                continue
            if code == CANCEL_REQUEST:
                return False
            words = body[4:].split(b"\0")
            params = dict(zip(words[0::2], words[1::2]))
            self.app = params.get(b"application_name", b"").decode(
                "utf-8", "replace")
            self.watched = self.app.startswith(self.args.match)
            return True

    async def pipe_raw(self, reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                return
            writer.write(data)
            await writer.drain()

    async def pipe_messages(self, reader, writer, fault):
        """Forwards messages until EOF or until fault(type, body) says to
        fail the connection."""
        while True:
            head = await reader.readexactly(5)
            (n,) = struct.unpack("!I", head[1:])
            body = await reader.readexactly(n - 4)
            verdict = fault(head[:1], body) if self.watched else False
            if verdict == SKIP:
                continue
            if verdict:
                return
            writer.write(head + body)
            await writer.drain()

    def lost_reply(self, typ, body):
        if typ == b"Z":
            self.tx = body[:1]
        if self.swallow is not None:
            if typ != b"Z":
                return SKIP
            log(f"{self.app}: {self.swallow}'s answer dropped after it "
                "committed, connections closed")
            return True
        if typ != b"C" or body != b"COMMIT\0":
            return False
        if not self.control.take("reply"):
            return False
        log(f"{self.app}: COMMIT's answer dropped, connections closed")
        return True

    def lost_statement(self, body):
        """A Bind of NAME outside a transaction: reply:NAME starts the
        swallowing of its answer (lost_reply), gone:NAME ends the
        connections at once (True)."""
        name = body.split(b"\0")[1].decode("utf-8", "replace")
        if self.tx != b"I":
            return False
        if self.control.take(f"reply:{name}"):
            self.swallow = name
        elif self.control.take(f"gone:{name}"):
            self.server_gone(b"N", b"WARNING")
            log(f"{self.app}: {name} not sent on; gone")
            return True
        return False

    def lost_request(self, typ, body):
        if typ == b"B" and self.lost_statement(body):
            return True
        # Not any Query: the session's SET at connect time must pass.
        first = typ in (b"P", b"B") or (
            typ == b"Q" and body.rstrip(b"\0").strip().upper() == b"BEGIN")
        if first:
            for mode, kind, severity in (("idle", b"N", b"WARNING"),
                                         ("idle-fatal", b"E", b"FATAL")):
                if self.control.take(mode):
                    self.server_gone(kind, severity)
                    log(f"{self.app}: statement not sent on; {mode}")
                    return True
        if not is_commit(typ, body):
            return False
        if not self.control.take("request"):
            return False
        log(f"{self.app}: COMMIT not sent on, connections closed")
        return True

    def server_gone(self, kind, severity):
        """Sends the client the last words of a server shutting down."""
        fields = b"".join([
            b"S" + severity + b"\0", b"V" + severity + b"\0",
            b"C57P01\0",
            b"Mterminating connection due to administrator command\0",
        ]) + b"\0"
        self.cwriter.write(kind + struct.pack("!I", len(fields) + 4) + fields)

    async def run(self):
        try:
            self.sreader, self.swriter = await asyncio.open_unix_connection(
                self.args.upstream)
            if await self.startup():
                up = self.pipe_messages(self.creader, self.swriter,
                                        self.lost_request)
                down = self.pipe_messages(self.sreader, self.cwriter,
                                          self.lost_reply)
            else:
                up = self.pipe_raw(self.creader, self.swriter)
                down = self.pipe_raw(self.sreader, self.cwriter)
            # Whichever side ends first (EOF, a fault) ends both.
            tasks = [asyncio.ensure_future(up), asyncio.ensure_future(down)]
            done, pending = await asyncio.wait(
                tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in pending:
                t.cancel()
            # An EOF in the middle of a message is an end like any other.
            await asyncio.gather(*tasks, return_exceptions=True)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.close()


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--control", required=True)
    p.add_argument("--match", default="stockade worker")
    args = p.parse_args()
    control = Control(args.control)

    async def accept(creader, cwriter):
        await Link(args, control, creader, cwriter).run()

    server = await asyncio.start_unix_server(accept, path=args.listen)
    os.chmod(args.listen, 0o777)
    log(f"listening on {args.listen}, forwarding to {args.upstream}")
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
