#!/usr/bin/env python3
"""t/lib/fcgi_stall.py: open FastCGI connections that stall, as a hostile
or broken peer would, straight on stockade's socket (not through nginx),
and report how each one ended.

Usage: fcgi_stall.py SOCKET WAIT_S READY_FILE MODE...

One connection per MODE, all opened at once:
  body    a whole BEGIN_REQUEST and PARAMS with CONTENT_LENGTH 100 for a
          POST, then a STDIN record of 10 bytes, then nothing
  params  a BEGIN_REQUEST, then a PARAMS record header announcing 100
          bytes followed by 10 of them, then nothing
  silent  nothing at all

Once every connection has sent its part, READY_FILE is created.  Each
connection then only reads, for at most WAIT_S seconds from the
start, until the server closes it.  Prints one line per connection, in
MODE order:
  MODE closed|open SECONDS STATUS
SECONDS is when the server closed it (from the moment all were open),
STATUS the HTTP status of the answer it sent ("-" when none).
"""
import re
import selectors
import socket
import struct
import sys
import time

FCGI_BEGIN_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 4, 5, 6


def record(rtype, content, request_id=1):
    return struct.pack(">BBHHBx", 1, rtype, request_id, len(content), 0) + content


def pair(name, value):
    # Both lengths below 128: one byte each (FastCGI 1.0, 3.4).
    return bytes([len(name), len(value)]) + name + value


def begin():
    return record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))


def opening(mode):
    if mode == "silent":
        return b""
    if mode == "params":
        return begin() + struct.pack(">BBHHBx", 1, FCGI_PARAMS, 1, 100, 0) + b"\x0e" * 10
    params = b"".join(pair(n, v) for n, v in [
        (b"REQUEST_METHOD", b"POST"),
        (b"REQUEST_URI", b"/v1/orders"),
        (b"CONTENT_TYPE", b"application/json"),
        (b"CONTENT_LENGTH", b"100"),
        (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        (b"REMOTE_ADDR", b"127.0.0.1"),
    ])
    return (begin() + record(FCGI_PARAMS, params) + record(FCGI_PARAMS, b"")
            + record(FCGI_STDIN, b'{"items":['))


def status_of(data):
    """The Status: of the STDOUT records in data, or "-"."""
    out, i = b"", 0
    while i + 8 <= len(data):
        _, rtype, _, clen, plen = struct.unpack(">BBHHBx", data[i:i + 8])
        if rtype == FCGI_STDOUT:
            out += data[i + 8:i + 8 + clen]
        i += 8 + clen + plen
    m = re.search(rb"^Status: (\d{3})", out, re.M)
    return m.group(1).decode() if m else "-"


def main():
    path, wait_s, ready, modes = (sys.argv[1], float(sys.argv[2]),
                                  sys.argv[3], sys.argv[4:])
    sel = selectors.DefaultSelector()
    conns = []
    for mode in modes:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(opening(mode))
        s.setblocking(False)
        c = {"mode": mode, "sock": s, "data": b"", "closed": None}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    open(ready, "w").close()
    start = time.monotonic()
    left = len(conns)
    while left > 0:
        remaining = start + wait_s - time.monotonic()
        if remaining <= 0:
            break
        for key, _ in sel.select(remaining):
            c = key.data
            try:
                chunk = c["sock"].recv(65536)
            except (ConnectionResetError, BlockingIOError) as e:
                chunk = b"" if isinstance(e, ConnectionResetError) else None
            if chunk is None:
                continue
            if chunk:
                c["data"] += chunk
                continue
            c["closed"] = time.monotonic() - start
            sel.unregister(c["sock"])
            left -= 1
    for c in conns:
        c["sock"].close()
        when = "%.2f" % c["closed"] if c["closed"] is not None else "-"
        print(c["mode"], "closed" if c["closed"] is not None else "open",
              when, status_of(c["data"]))


if __name__ == "__main__":
    main()
