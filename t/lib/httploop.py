#!/usr/bin/env python3
"""t/lib/httploop.py: continuous HTTP load for the integration tests.

CLIENTS threads each send one request after another over a keep-alive
connection (a new one after any error) until the file STOP exists.  Each
thread sends its own kind of request, taken in turn from the --request
options ("METHOD PATH [BODY]", with the token of --token).  Every request is
printed on stdout as "START STATUS": START is when it was sent (seconds
since the epoch, as bash's $EPOCHREALTIME), STATUS the HTTP status, or 000
when no answer came; each line as soon as the answer came.  Python 3
standard library only.

  httploop.py --url http://127.0.0.1:PORT --clients 8 --stop FILE \\
      --token TOKEN --request 'GET /api/v1/products' \\
      --request 'POST /api/v1/points/charge {"amount":1}'
"""

import argparse
import http.client
import os
import sys
import threading
import time
import urllib.parse


def client(args, request, out, lock):
    method, _, rest = request.partition(" ")
    path, _, body = rest.partition(" ")
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    if body:
        headers["Content-Type"] = "application/json"
    url = urllib.parse.urlsplit(args.url)
    conn = None
    while not os.path.exists(args.stop):
        if conn is None:
            conn = http.client.HTTPConnection(url.hostname, url.port,
                                              timeout=10)
        start = time.time()
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = None
            status = 0
        # Written as it comes, so that a test can wait for answers.
        with lock:
            out.write(f"{start:.6f} {status:03d}\n")
            out.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--stop", required=True)
    p.add_argument("--token", default="")
    p.add_argument("--request", action="append", required=True)
    args = p.parse_args()
    lock = threading.Lock()
    threads = [threading.Thread(target=client,
                                args=(args, args.request[i % len(args.request)],
                                      sys.stdout, lock))
               for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
