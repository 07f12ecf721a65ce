"""t/lib/hostile_cases.py: the hostile inputs t/lib/hostile.py runs, as data.

A case is a dict:
  group, name  where it is counted and how a failure is named
  via          "nginx" (send: the raw HTTP request, bytes) or "fcgi" (send:
               the raw bytes for stockade's FastCGI socket)
  want         ("problem", STATUSES, CODES or None): an
               application/problem+json answer with one of STATUSES and,
               unless None, one of CODES (docs/openapi.yaml);
               ("closed",): the server closes the connection, having sent
               nothing or a 4xx (protocol garbage on the FastCGI socket);
               ("head", STATUS): an answer with STATUS, a Content-Length
               and no body;
               ("status", STATUS): just that status (controls)
  optional     half_close (shut our side after sending: the server reads
               EOF), hold and then (send, wait hold seconds, send then),
               reset (close with RST right after sending; no answer read),
               timeout, rfc_5xx (statuses from 500 up that nginx must
               send, RFC 9112: allowed), checks (functions of (exchange,
               reply) returning an error or None), after (a function of the
               runner yielding extra (ok, what, details) results), custom (a
               function of the runner doing the exchange itself)

Most bodies are otherwise valid requests that would change something (a
charge, a product, an order): if the hostile part were ignored, the
database digest would show it.

setup() makes the fixtures through the API; cases() builds the list;
afterwards() checks the daemon still serves normal requests.
"""

import json
import socket
import struct
import time

import fcgi_client as fcgi

INT64_MAX = "9223372036854775807"
INT64_OVER = "9223372036854775808"

# Hold-open cases rely on the worker's read deadline (fastcgi_timeout,
# issue 13 item 3): it must be shorter than --hold (t/test_hostile.sh sets
# it to 1 s, HOSTILE_HOLD is 3 s) so that the answer -- a closed
# connection, or a 4xx -- comes within it.


def problem(statuses, *codes):
    if isinstance(statuses, int):
        statuses = (statuses,)
    return ("problem", tuple(statuses), tuple(codes) if codes else None)


CLOSED = ("closed",)


def head(status=200):
    return ("head", status)


# ---------------------------------------------------------------------------
# Building requests.


class Builder:
    """Makes cases for one runner: knows the tokens, the fixtures and the
    helpers of hostile.py."""

    def __init__(self, runner, fx):
        import hostile
        self.h = hostile
        self.r = runner
        self.fx = fx
        self.out = []

    def add(self, group, name, via, send, want, **kw):
        case = dict(group=group, name=name, via=via, send=send, want=want)
        case.update(kw)
        self.out.append(case)

    def http(self, group, name, method, target, want, token=None,
             headers=(), body=b"", raw=None, **kw):
        hdrs = list(headers)
        if token:
            hdrs.append(("Authorization", "Bearer " + token))
        data = raw if raw is not None else self.h.http_bytes(
            method, target, hdrs, body)
        self.add(group, name, "nginx", data, want, **kw)

    def post_json(self, group, name, path, body, want, token=None,
                  ctype="application/json", headers=(), **kw):
        body = body.encode() if isinstance(body, str) else body
        hdrs = [("Content-Type", ctype)] if ctype is not None else []
        hdrs += list(headers)
        if not body:
            hdrs.append(("Content-Length", "0"))
        self.http(group, name, "POST", path, want,
                  token=token if token is not None else self.fx["u1"],
                  headers=hdrs, body=body, **kw)

    def fcgi(self, group, name, data, want, **kw):
        self.add(group, name, "fcgi", data, want, **kw)

    def fcgi_request(self, group, name, want, method="GET", uri="/healthz",
                     body=b"", headers=None, drop=(), extra=(), role=None,
                     content_type=None, **kw):
        role = fcgi.RESPONDER if role is None else role
        pairs = [p for p in fcgi.nginx_params(method, uri, body, headers,
                                              content_type)
                 if p[0] not in drop] + list(extra)
        self.fcgi(group, name, fcgi.request(
            pairs, body, role=role), want, **kw)


def api(runner, method, path, token=None, body=None):
    """One request through nginx for the set-up; (status, JSON or None)."""
    import hostile
    hdrs = []
    if token:
        hdrs.append(("Authorization", "Bearer " + token))
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.append(("Content-Type", "application/json"))
    ex = hostile.http_exchange(runner.args.port, hostile.http_bytes(
        method, path, hdrs, data), 10)
    rep = hostile.parse_http(ex.data)
    try:
        doc = json.loads(rep.body.decode())
    except ValueError:
        doc = None
    return rep.status, doc


def setup(runner):
    """Fixtures: a product with two options, a coupon policy, a pending
    order of user 1 and one of user 2, a few points for user 1."""
    t = runner.tokens
    fx = {"u1": t.user(1), "u2": t.user(2), "admin": t.user(1000, "admin")}
    st, doc = api(runner, "POST", "/api/v1/admin/products", fx["admin"], {
        "name": "hostile", "options": [
            {"name": "a", "price": 100, "stock": 10},
            {"name": "b", "price": 100, "stock": 5}]})
    assert st == 201, (st, doc)
    fx["product"] = doc["id"]
    fx["o1"], fx["o2"] = [o["id"] for o in doc["options"]]
    st, doc = api(runner, "POST", "/api/v1/admin/coupons", fx["admin"], {
        "name": "hostile", "discount_kind": "amount", "discount_value": 100,
        "total_quantity": 10})
    assert st == 201, (st, doc)
    fx["coupon"] = doc["id"]
    for user, key in (("u1", "order1"), ("u2", "order2")):
        st, doc = api(runner, "POST", "/api/v1/orders", fx[user], {
            "items": [{"option_id": fx["o1"], "quantity": 1}]})
        assert st == 201, (st, doc)
        fx[key] = doc["id"]
    st, doc = api(runner, "POST", "/api/v1/points/charge", fx["u1"],
                  {"amount": 50})
    assert st == 200, (st, doc)
    return fx


def cases(runner, fx):
    b = Builder(runner, fx)
    issue13_cases(b)
    http_cases(b)
    json_cases(b)
    token_cases(b)
    fcgi_cases(b)
    only = [g for g in runner.args.only.split(",") if g]
    return [c for c in b.out if not only or c["group"] in only]


# ---------------------------------------------------------------------------
# Issue 13, items 1-5 and 15.


def issue13_cases(b):
    fx = b.fx
    g = "issue13"
    # Item 1: ill-formed UTF-8 and escaped lone surrogates in names.
    names = [
        ("escaped lone low surrogate", b'"\\udc00"'),
        ("escaped lone high surrogate", b'"\\ud800"'),
        ("high surrogate then a letter", b'"\\ud800\\u0041"'),
        ("low surrogate after text", b'"a\\udfff"'),
        ("two high surrogates", b'"\\ud800\\ud800"'),
        ("overlong C0 AF", b'"\xc0\xaf"'),
        ("encoded surrogate ED A0 80", b'"\xed\xa0\x80"'),
        ("past U+10FFFF F4 90 80 80", b'"\xf4\x90\x80\x80"'),
        ("byte FF", b'"\xff"'),
        ("truncated sequence E2 82", b'"\xe2\x82"'),
    ]
    for label, name in names:
        b.post_json(g, "product name: " + label, "/api/v1/admin/products",
                    b'{"name":' + name + b',"options":[{"name":"o",'
                    b'"price":1,"stock":1}]}',
                    problem(400, "malformed_json"), token=fx["admin"])
        b.post_json(g, "coupon name: " + label, "/api/v1/admin/coupons",
                    b'{"name":' + name + b',"discount_kind":"amount",'
                    b'"discount_value":100,"total_quantity":5}',
                    problem(400, "malformed_json"), token=fx["admin"])
    b.post_json(g, "option name: escaped lone surrogate",
                "/api/v1/admin/products",
                b'{"name":"p","options":[{"name":"\\udc00","price":1}]}',
                problem(400, "malformed_json"), token=fx["admin"])

    # Item 2: HEAD on every GET route answers as GET, without a body.
    u1, admin = fx["u1"], fx["admin"]
    for path, token in [
            ("/healthz", None), ("/readyz", None), ("/status", admin),
            ("/api/v1/whoami", u1), ("/api/v1/products", None),
            ("/api/v1/products/popular", None),
            ("/api/v1/products/%d" % fx["product"], None),
            ("/api/v1/orders", u1), ("/api/v1/orders/%d" % fx["order1"], u1),
            ("/api/v1/points", u1), ("/api/v1/points/history", u1),
            ("/api/v1/coupons/%d" % fx["coupon"], u1),
            ("/api/v1/me/coupons", u1)]:
        b.http(g, "HEAD " + path, "HEAD", path, head(200), token=token)
    b.http(g, "HEAD without a token", "HEAD", "/api/v1/whoami", head(401))
    b.http(g, "HEAD on a POST-only route", "HEAD", "/api/v1/admin/products",
           head(405), token=admin)
    b.http(g, "HEAD on an unknown path", "HEAD", "/nope", head(404))

    # Item 15: strict integers take no white space, sign or junk.
    for label, q in [("%09 then 5", "%095"), ("%0A then 5", "%0A5"),
                     ("%0D then 5", "%0D5"), ("%0B then 5", "%0B5"),
                     ("%0C then 5", "%0C5"), ("%20 then 5", "%205"),
                     ("+ (a space) then 5", "+5"), ("%2B then 5", "%2B5"),
                     ("5 then %09", "5%09"), ("5 then %20", "5%20")]:
        b.http(g, "limit=" + label, "GET", "/api/v1/orders?limit=" + q,
               problem(400, "invalid_parameter"), token=u1)

    # Item 4: a PARAMS name length of 0x7ffffffe makes libfcgi's Malloc
    # assert; the worker dies after serving, and must be replaced at once.
    huge = (fcgi.begin_request() + fcgi.header(fcgi.PARAMS, 1, 16) +
            struct.pack(">I", 0x7ffffffe | 0x80000000) + b"\x01" + b"a" * 11)
    for i in range(1, 6):
        b.fcgi(g, "PARAMS name length 0x7ffffffe, round %d" % i,
               huge + fcgi.record(fcgi.PARAMS, 1), CLOSED, half_close=True,
               after=pool_full_at_once)
    value_huge = (fcgi.begin_request() + fcgi.header(fcgi.PARAMS, 1, 16) +
                  b"\x01" + struct.pack(">I", 0x7ffffffe | 0x80000000) +
                  b"a" * 11)
    b.fcgi(g, "PARAMS value length 0x7ffffffe", value_huge +
           fcgi.record(fcgi.PARAMS, 1), CLOSED, half_close=True,
           after=pool_full_at_once)

    # Item 5: /status shows a non-UTF-8 method and path escaped.
    b.add(g, "non-UTF-8 method and path shown on /status", "fcgi", b"",
          problem(400, "incomplete_body"), custom=status_shows_escaped)

    # Item 3: fewer body bytes than CONTENT_LENGTH.
    body = b'{"amount":1}'
    pairs = fcgi.nginx_params("POST", "/api/v1/points/charge", body,
                              {"Authorization": "Bearer " + u1},
                              "application/json")
    pairs = [p for p in pairs if p[0] != "CONTENT_LENGTH"] + \
        [("CONTENT_LENGTH", "100")]
    start = fcgi.begin_request() + fcgi.stream(
        fcgi.PARAMS, 1, fcgi.encode_pairs(pairs))
    b.fcgi(g, "short body, STDIN ended", start + fcgi.stream(
        fcgi.STDIN, 1, body), problem(400, "incomplete_body"))
    b.fcgi(g, "short body, peer half-closes", start +
           fcgi.record(fcgi.STDIN, 1, body), problem(400, "incomplete_body"),
           half_close=True)
    b.fcgi(g, "short body, peer holds the connection open", start +
           fcgi.record(fcgi.STDIN, 1, body), CLOSED,
           timeout=b.r.args.hold)
    b.http(g, "nginx: short body, client half-closes", "POST",
           "/api/v1/points/charge", CLOSED, token=u1,
           raw=b.h.http_bytes("POST", "/api/v1/points/charge", [
               ("Authorization", "Bearer " + u1),
               ("Content-Type", "application/json"),
               ("Content-Length", "100")], body), half_close=True)


def pool_full_at_once(runner):
    """After a case that may kill a worker: the pool is full again within
    a second (no crash-loop back-off)."""
    t0 = time.monotonic()
    ws, full = runner.pool_full(wait=1.0)
    yield (full, "the pool is full again within 1 s",
           ["after %.2fs: %r" % (time.monotonic() - t0, ws)])


def status_shows_escaped(runner, case=None):
    """Holds a request with method FF FE and path /\\xc3\\x28 in a worker
    (its body is not all sent yet), reads /status through nginx, then
    half-closes.  Returns (exchange, reply, reasons)."""
    import hostile
    pairs = fcgi.nginx_params("GET", "/x", b"")
    pairs = [p for p in pairs if p[0] not in
             ("REQUEST_METHOD", "REQUEST_URI", "CONTENT_LENGTH")]
    pairs += [("REQUEST_METHOD", b"\xff\xfe"),
              ("REQUEST_URI", b"/\xc3\x28\x01"), ("CONTENT_LENGTH", "10")]
    data = fcgi.begin_request() + fcgi.stream(
        fcgi.PARAMS, 1, fcgi.encode_pairs(pairs)) + fcgi.record(
        fcgi.STDIN, 1, b"abc")
    why = []
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(runner.args.socket)
    try:
        sock.sendall(data)
        seen = None
        deadline = time.monotonic() + 3
        while seen is None and time.monotonic() < deadline:
            ex = hostile.http_exchange(runner.args.port, hostile.http_bytes(
                "GET", "/status", [("Authorization",
                                    "Bearer " + runner.admin)]), 10)
            rep = hostile.parse_http(ex.data)
            if rep.status != 200:
                why.append("/status answered %s: %r" % (rep.status,
                                                          rep.body[:200]))
                break
            try:
                doc = json.loads(rep.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                why.append("/status is not UTF-8 JSON: %s" % e)
                break
            for w in doc["workers"]:
                if "\\xff\\xfe" in w.get("request", ""):
                    seen = w["request"]
            time.sleep(0.05)
        if seen is None and not why:
            why.append("no worker on /status shows the held request")
        elif seen is not None and seen != "\\xff\\xfe /\\xc3(\\x01":
            why.append("/status shows %r" % seen)
        sock.shutdown(socket.SHUT_WR)
        out = fcgi.Exchange()
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                out.closed = True
                break
            out.data += chunk
    finally:
        sock.close()
    return out, fcgi.parse_reply(out.data), why


# ---------------------------------------------------------------------------
# HTTP through nginx.


def http_cases(b):
    fx = b.fx
    g = "http"
    u1 = fx["u1"]
    allow = [allow_header]
    # Methods.
    for m in ("PUT", "PATCH", "DELETE", "OPTIONS", "FOO", "PROPFIND",
              "M" * 40, "GET_", "POST-"):
        b.http(g, "method %s on /api/v1/products" % m[:12], m,
               "/api/v1/products", problem(405, "method_not_allowed"),
               checks=allow)
    b.http(g, "TRACE (nginx refuses it)", "TRACE", "/api/v1/products",
           problem(405, "method_not_allowed"))
    b.http(g, "lower-case get", "get", "/api/v1/products",
           problem(400, "bad_request"))
    b.http(g, "method with byte FF", b"G\xffT", "/api/v1/products",
           problem(400, "bad_request"))
    b.http(g, "POST on a GET route", "POST", "/api/v1/products",
           problem(405, "method_not_allowed"), checks=allow,
           headers=[("Content-Length", "0")])
    b.http(g, "GET on a POST route", "GET",
           "/api/v1/orders/%d/pay" % fx["order1"],
           problem(405, "method_not_allowed"), token=u1, checks=allow)
    b.http(g, "DELETE on an order", "DELETE",
           "/api/v1/orders/%d" % fx["order1"],
           problem(405, "method_not_allowed"), token=u1)
    b.http(g, "unknown method, unknown path", "FOO", "/nope",
           problem(404, "not_found"))
    b.http(g, "OPTIONS *", "OPTIONS", "*", problem(400, "bad_request"))
    b.http(g, "HTTP/1.1 without Host", "GET", "/healthz",
           problem(400, "bad_request"),
           raw=b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    b.http(g, "request line of spaces", "", "",
           problem(400, "bad_request"), raw=b"   \r\n\r\n")
    # nginx's own 5xx, as RFC 9112 sections 2.6 and 6.1 want them; the
    # only ones a client's bytes alone can cause, and problem+json too.
    b.http(g, "HTTP/2.0 in the request line", "GET", "/healthz",
           problem(505, "http_version_not_supported"), rfc_5xx=(505,),
           raw=b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
    b.http(g, "Transfer-Encoding gzip", "POST", "/api/v1/points/charge",
           problem(501, "not_implemented"), rfc_5xx=(501,), token=u1,
           headers=[("Content-Type", "application/json"),
                    ("Transfer-Encoding", "gzip")])
    b.http(g, "request line without a version", "GET", "/",
           problem(400, "bad_request"),
           raw=b"GET /api/v1/products HTTP/\r\n\r\n")

    # Long paths, queries and headers.
    b.http(g, "path of 1100 bytes", "GET", "/api/v1/products/" + "a" * 1083,
           problem(414, "uri_too_long"))
    b.http(g, "path of exactly 1024 bytes", "GET", "/" + "a" * 1023,
           problem(414, "uri_too_long"))
    b.http(g, "path of 1023 bytes", "GET", "/" + "a" * 1022,
           problem(404, "not_found"))
    b.http(g, "path of 9000 bytes (nginx)", "GET", "/" + "a" * 9000,
           problem(414, "uri_too_long"))
    b.http(g, "query of 2100 bytes", "GET",
           "/api/v1/products?x=" + "a" * 2100, problem(414, "uri_too_long"))
    b.http(g, "query of 2100 bytes on a POST", "POST",
           "/api/v1/points/charge?x=" + "a" * 2100,
           problem(414, "uri_too_long"), token=u1,
           headers=[("Content-Type", "application/json")],
           body=b'{"amount":1}')
    b.http(g, "header of 20 KB", "GET", "/api/v1/products",
           problem(400, "bad_request"), headers=[("X-Junk", "a" * 20000)])
    b.http(g, "Authorization of 9000 bytes", "GET", "/api/v1/whoami",
           problem(400, "bad_request"),
           headers=[("Authorization", "Bearer " + "a" * 9000)])

    # Percent-encoding garbage, traversal, odd paths.
    for label, path, want in [
            ("lone %", "/api/v1/products/%", problem(400, "bad_path",
                                                     "bad_request")),
            ("%g0", "/api/v1/products/%g0", problem(400, "bad_path",
                                                    "bad_request")),
            ("%2 at the end", "/api/v1/products/%2",
             problem(400, "bad_path", "bad_request")),
            ("%00", "/api/v1/products/1%00", problem(400, "bad_path",
                                                     "bad_request")),
            ("%00 in the middle", "/api/v1/pro%00ducts",
             problem(400, "bad_path", "bad_request")),
            ("overlong %c0%af", "/api/v1/products/%c0%af",
             problem(404, "not_found")),
            ("%ff", "/api/v1/products/%ff", problem(404, "not_found")),
            ("raw byte FF", b"/api/v1/products/\xff",
             problem(404, "not_found")),
            ("raw UTF-8", "/api/v1/products/\u00e9".encode(),
             problem(404, "not_found")),
            ("dot segments", "/api/v1/products/../products/1",
             problem(404, "not_found")),
            ("encoded dot segments", "/api/v1/%2e%2e/%2e%2e/etc/passwd",
             problem((400, 404), "not_found", "bad_request")),
            ("traversal above the root", "/../../../etc/passwd",
             problem(400, "bad_request")),
            ("encoded traversal above the root",
             "/%2e%2e/%2e%2e/etc/passwd",
             problem((400, 404), "bad_request", "not_found")),
            ("backslashes", "/api\\v1\\products", problem(404, "not_found")),
            ("double slash", "//api/v1/products", problem(404, "not_found")),
            ("trailing slash", "/api/v1/products/1/",
             problem(404, "not_found")),
            ("semicolon parameter", "/api/v1/products/1;x=1",
             problem(404, "not_found")),
            ("empty id segment", "/api/v1/products//",
             problem(404, "not_found"))]:
        b.http(g, "path: " + label, "GET", path, want)

    # stockade routes on the decoded path, as nginx matches locations on
    # its decoded $uri: %2f is a slash to both, so a location that fences a
    # path off in nginx fences off its encoded spellings too.
    b.http(g, "path: encoded slash routes as a slash", "GET",
           "/api/v1%2fproducts", ("status", 200))

    # Ids.
    for label, ident in [("0", "0"), ("-1", "-1"), ("2^63", INT64_OVER),
                         ("30 digits", "9" * 30), ("leading zero", "007"),
                         ("letters", "abc"), ("1.0", "1.0"), ("1e3", "1e3"),
                         ("0x10", "0x10"), ("+1", "+1"), ("%2B1", "%2B1"),
                         ("%201", "%201"), ("1%20", "1%20"),
                         ("%31 (digit 1, encoded)", "%31%30%30%30%30%30")]:
        b.http(g, "product id " + label, "GET", "/api/v1/products/" + ident,
               problem(404, "not_found", "product_not_found"))
    for label, method, path, want in [
            ("product id 2^63-1 (none)", "GET", "/products/" + INT64_MAX,
             problem(404, "product_not_found")),
            ("order id 0", "GET", "/orders/0", problem(404, "not_found")),
            ("order id 2^63-1 (none)", "GET", "/orders/" + INT64_MAX,
             problem(404, "order_not_found")),
            ("pay order -1", "POST", "/orders/-1/pay",
             problem(404, "not_found")),
            ("cancel order 2^63", "POST", "/orders/%s/cancel" % INT64_OVER,
             problem(404, "not_found")),
            ("cancel order 2^63-1 (none)", "POST",
             "/orders/%s/cancel" % INT64_MAX,
             problem(404, "order_not_found")),
            ("issue coupon 0", "POST", "/coupons/0/issue",
             problem(404, "not_found")),
            ("issue coupon 2^63-1 (none)", "POST",
             "/coupons/%s/issue" % INT64_MAX,
             problem(404, "coupon_not_found"))]:
        b.http(g, label, method, "/api/v1" + path, want, token=u1,
               headers=[("Content-Length", "0")] if method == "POST" else [])
    b.post_json(g, "restock option 2^63-1 (none)",
                "/api/v1/admin/options/%s/restock" % INT64_MAX,
                '{"quantity":1}', problem(404, "option_not_found"),
                token=fx["admin"])
    b.post_json(g, "restock option 0", "/api/v1/admin/options/0/restock",
                '{"quantity":1}', problem(404, "not_found"),
                token=fx["admin"])

    # Query parameters (item 15 has the white space ones).
    for label, q in [("empty", "limit="), ("no value", "limit"),
                     ("0", "limit=0"), ("-1", "limit=-1"),
                     ("101", "limit=101"), ("1e2", "limit=1e2"),
                     ("5.0", "limit=5.0"), ("0x5", "limit=0x5"),
                     ("20 digits", "limit=" + "9" * 20),
                     ("lone %", "limit=%"), ("%g0", "limit=%g0"),
                     ("%00", "limit=%00"), ("5%00", "limit=5%00"),
                     ("fullwidth digit", "limit=%EF%BC%95"),
                     ("twice, equal", "limit=5&limit=5"),
                     ("twice, different", "limit=5&limit=6"),
                     ("twice, one encoded", "limit=5&%6cimit=6"),
                     ("after=-1", "after=-1"), ("after=abc", "after=abc"),
                     ("after=2^63", "after=" + INT64_OVER)]:
        b.http(g, "products?" + label, "GET", "/api/v1/products?" + q,
               problem(400, "invalid_parameter"))
    for label, q in [("days=0", "days=0"), ("days=-1", "days=-1"),
                     ("days=100000", "days=100000"), ("days=%00", "days=%00"),
                     ("limit twice", "limit=1&limit=1")]:
        b.http(g, "popular?" + label, "GET",
               "/api/v1/products/popular?" + q,
               problem(400, "invalid_parameter"))
    b.http(g, "orders?after=0", "GET", "/api/v1/orders?after=0",
           problem(400, "invalid_parameter"), token=u1)

    # Bodies: size, length, type, encoding.
    charge = b'{"amount":1}'
    for label, ctype in [("text/plain", "text/plain"),
                         ("form", "application/x-www-form-urlencoded"),
                         ("multipart", "multipart/form-data; boundary=x"),
                         ("application/jsonx", "application/jsonx"),
                         ("application/json-patch+json",
                          "application/json-patch+json"),
                         ("json", "json"), ("empty", ""),
                         ("application/", "application/")]:
        b.post_json(g, "Content-Type " + label, "/api/v1/points/charge",
                    charge, problem(415, "unsupported_media_type"),
                    ctype=ctype)
    b.post_json(g, "no Content-Type", "/api/v1/points/charge", charge,
                problem(415, "unsupported_media_type"), ctype=None)
    b.post_json(g, "body of 70000 bytes", "/api/v1/points/charge",
                b'{"amount":1,"x":"' + b"a" * 70000 + b'"}',
                problem(413, "payload_too_large"))
    b.http(g, "Content-Length of 10 MB, no body sent", "POST",
           "/api/v1/points/charge", problem(413, "payload_too_large"),
           token=u1, headers=[("Content-Type", "application/json"),
                              ("Content-Length", "10000000")])
    b.http(g, "Content-Length abc", "POST", "/api/v1/points/charge",
           problem(400, "bad_request"), token=u1,
           headers=[("Content-Type", "application/json"),
                    ("Content-Length", "abc")])
    b.http(g, "Content-Length -1", "POST", "/api/v1/points/charge",
           problem(400, "bad_request"), token=u1,
           headers=[("Content-Type", "application/json"),
                    ("Content-Length", "-1")])
    b.http(g, "two different Content-Lengths", "POST",
           "/api/v1/points/charge", problem(400, "bad_request"), token=u1,
           raw=b.h.http_bytes("POST", "/api/v1/points/charge", [
               ("Authorization", "Bearer " + u1),
               ("Content-Type", "application/json"),
               ("Content-Length", "12"), ("Content-Length", "5")],
               charge, length=False))
    b.http(g, "Content-Length and chunked together", "POST",
           "/api/v1/points/charge", problem(400, "bad_request"), token=u1,
           raw=b.h.http_bytes("POST", "/api/v1/points/charge", [
               ("Authorization", "Bearer " + u1),
               ("Content-Type", "application/json"),
               ("Content-Length", "12"),
               ("Transfer-Encoding", "chunked")],
               b"c\r\n" + charge + b"\r\n0\r\n\r\n", length=False))
    b.http(g, "POST without Content-Length (an empty body)", "POST",
           "/api/v1/points/charge", problem(400, "malformed_json"), token=u1,
           headers=[("Content-Type", "application/json")])
    chunked = [("Authorization", "Bearer " + u1),
               ("Content-Type", "application/json"),
               ("Transfer-Encoding", "chunked")]
    b.http(g, "chunked body, amount 0", "POST", "/api/v1/points/charge",
           problem(400, "invalid_field"), raw=b.h.http_bytes(
               "POST", "/api/v1/points/charge", chunked,
               b"5\r\n{\"amo\r\n7\r\nunt\":0}\r\n0\r\n\r\n", length=False))
    b.http(g, "chunked body, bad chunk size", "POST",
           "/api/v1/points/charge", problem(400, "bad_request"),
           raw=b.h.http_bytes("POST", "/api/v1/points/charge", chunked,
                              b"zz\r\n" + charge + b"\r\n0\r\n\r\n",
                              length=False))
    b.http(g, "chunked body of 70000 bytes", "POST",
           "/api/v1/points/charge", problem(413, "payload_too_large"),
           raw=b.h.http_bytes("POST", "/api/v1/points/charge", chunked,
                              (b"%x\r\n" % 10000 + b"a" * 10000 + b"\r\n") *
                              7 + b"0\r\n\r\n", length=False))
    b.http(g, "chunked body cut short, client half-closes", "POST",
           "/api/v1/points/charge", CLOSED, half_close=True,
           raw=b.h.http_bytes("POST", "/api/v1/points/charge", chunked,
                              b"100\r\n" + charge, length=False))
    for label, key in [("256 characters", "k" * 256),
                       ("a space", "a b"), ("UTF-8", "cl\u00e9".encode()),
                       ("a tab", "a\tb"), ("empty", "")]:
        b.post_json(g, "Idempotency-Key with " + label,
                    "/api/v1/points/charge", charge,
                    problem(400, "invalid_idempotency_key"),
                    headers=[("Idempotency-Key", key)])
    b.http(g, "coupon issue with a bad Idempotency-Key", "POST",
           "/api/v1/coupons/%d/issue" % fx["coupon"],
           problem(400, "invalid_idempotency_key"), token=u1,
           headers=[("Content-Length", "0"), ("Idempotency-Key", "a b")])


def allow_header(ex, rep):
    if "allow" not in rep.headers:
        return "405 without an Allow header"
    return None


# ---------------------------------------------------------------------------
# JSON bodies.


def json_cases(b):
    fx = b.fx
    g = "json"
    charge = "/api/v1/points/charge"
    malformed = problem(400, "malformed_json")
    for label, body in [
            ("empty", b""), ("{", b"{"), ("}", b"}"),
            ("member without value", b'{"amount":}'),
            ("unquoted key", b'{amount:1}'),
            ("single quotes", b"{'amount':1}"),
            ("unterminated object", b'{"amount":1'),
            ("one brace too many", b'{"amount":1}}'),
            ("trailing garbage", b'{"amount":1}x'),
            ("two objects", b'{"amount":1}{"amount":1}'),
            ("trailing comma", b'{"amount":1,}'),
            ("leading comma", b'{,"amount":1}'),
            ("block comment", b'/*c*/{"amount":1}'),
            ("line comment", b'{"amount":1}//c'),
            ("byte order mark", b'\xef\xbb\xbf{"amount":1}'),
            ("NaN", b'{"amount":NaN}'), ("Infinity", b'{"amount":Infinity}'),
            ("-Infinity", b'{"amount":-Infinity}'),
            ("leading zero", b'{"amount":01}'), ("plus sign", b'{"amount":+1}'),
            (".5", b'{"amount":.5}'), ("1.", b'{"amount":1.}'),
            ("0x10", b'{"amount":0x10}'), ("1e", b'{"amount":1e}'),
            ("--1", b'{"amount":--1}'), ("bad escape \\x",
                                        b'{"amount":1,"a":"\\x41"}'),
            ("short \\u escape", b'{"amount":1,"a":"\\u12"}'),
            ("unterminated string", b'{"amount":1,"a":"abc}'),
            ("raw newline in a key", b'{"am\nount":1}'),
            ("raw tab in a string", b'{"amount":1,"a":"x\ty"}'),
            ("raw NUL byte in a string", b'{"amount":1,"a":"x\x00y"}'),
            ("tru", b'{"amount":tru}'),
            ("NUL byte after the object", b'{"amount":1}\x00'),
            ("NUL byte before the object", b'\x00{"amount":1}'),
            ("vertical tab as white space", b'{"amount":\x0b0}'),
            ("form feed as white space", b'{"amount":\x0c0}'),
            ("non-breaking space as white space",
             b'{"amount":\xc2\xa00}'),
            ("duplicate key", b'{"amount":1,"amount":1}'),
            ("duplicate key, other value", b'{"amount":1,"amount":2}'),
            ("duplicate key, one escaped", b'{"amount":1,"\\u0061mount":1}'),
            ("NUL in a key", b'{"amount":1,"x\\u0000":1}'),
            ("NUL in a string", b'{"amount":1,"note":"a\\u0000b"}'),
            ("nesting 17 deep", b'{"amount":1,"x":' + b"[" * 16 +
             b"]" * 16 + b"}"),
            ("nesting 60000 deep", b"[" * 60000),
            ("string of 5000 bytes", b'{"amount":1,"x":"' + b"a" * 5000 +
             b'"}'),
            ("key of 5000 bytes", b'{"amount":1,"' + b"k" * 5000 + b'":1}'),
            ("1001 members", b"{" + b",".join(
                b'"k%d":1' % i for i in range(1001)) + b"}"),
            ("array of 1001 items", b'{"amount":1,"x":[' +
             b",".join([b"1"] * 1001) + b"]}")]:
        b.post_json(g, "charge: " + label, charge, body, malformed)

    for label, body in [("null", "null"), ("number", "1"),
                        ("string", '"amount"'), ("true", "true"),
                        ("empty array", "[]"),
                        ("array holding the object", '[{"amount":1}]')]:
        b.post_json(g, "charge: top level " + label, charge, body,
                    problem(400, "invalid_body"))
    b.post_json(g, "charge: empty object", charge, "{}",
                problem(400, "missing_field"))

    invalid = problem(400, "invalid_field")
    for label, value in [
            ("a string", '"1"'), ("1.5", "1.5"), ("1.0", "1.0"),
            ("1e2", "1e2"), ("1E-7", "1E-7"), ("1e400", "1e400"),
            ("-1e400", "-1e400"), ("-0", "-0"), ("0", "0"), ("-1", "-1"),
            ("2^63-1", INT64_MAX), ("2^63", INT64_OVER),
            ("-2^63-1", "-9223372036854775809"), ("1e19", "1e19"),
            ("30 digits", "1" * 30), ("true", "true"), ("false", "false"),
            ("null", "null"), ("[]", "[]"), ("{}", "{}"), ("[1]", "[1]"),
            ('{"v":1}', '{"v":1}'), ("empty string", '""'),
            ('"0x10"', '"0x10"'), ("-0.0", "-0.0")]:
        b.post_json(g, "charge: amount " + label, charge,
                    '{"amount":%s}' % value, invalid)
    for label, body in [("unknown key", '{"amount":1,"x":1}'),
                        ("key differing in case", '{"amount":1,"Amount":1}'),
                        ("empty key", '{"amount":1,"":1}'),
                        ("key with a trailing space",
                         '{"amount":1,"amount ":1}'),
                        ("non-ASCII key", '{"amount":1,"\\u00e9":1}')]:
        b.post_json(g, "charge: " + label, charge, body,
                    problem(400, "unknown_field"))

    # Orders.
    o1, o2 = fx["o1"], fx["o2"]
    orders = "/api/v1/orders"

    def item(option, qty):
        return '{"option_id":%s,"quantity":%s}' % (option, qty)

    for label, body, want in [
            ("no items", '{"items":[]}', invalid),
            ("items an object", '{"items":{}}', invalid),
            ("items null", '{"items":null}', invalid),
            ("items a number", '{"items":[1]}', invalid),
            ("item empty", '{"items":[{}]}', problem(400, "missing_field")),
            ("item without quantity", '{"items":[{"option_id":%d}]}' % o1,
             problem(400, "missing_field")),
            ("quantity 0", '{"items":[%s]}' % item(o1, 0), invalid),
            ("quantity 1001", '{"items":[%s]}' % item(o1, 1001), invalid),
            ("quantity -1", '{"items":[%s]}' % item(o1, -1), invalid),
            ("quantity 1.5", '{"items":[%s]}' % item(o1, 1.5), invalid),
            ('quantity "1"', '{"items":[%s]}' % item(o1, '"1"'), invalid),
            ("option 0", '{"items":[%s]}' % item(0, 1), invalid),
            ("option 2^63", '{"items":[%s]}' % item(INT64_OVER, 1), invalid),
            ("option as a string", '{"items":[%s]}' % item('"%d"' % o1, 1),
             invalid),
            ("the same option twice", '{"items":[%s,%s]}' % (
                item(o1, 1), item(o1, 1)), problem(400, "duplicate_option")),
            ("unknown item key", '{"items":[{"option_id":%d,"quantity":1,'
             '"price":0}]}' % o1, problem(400, "unknown_field")),
            ("unknown top-level key", '{"items":[%s],"total":0}'
             % item(o1, 1), problem(400, "unknown_field")),
            ("101 items", '{"items":[%s]}' % ",".join(
                item(i + 1, 1) for i in range(101)), invalid),
            ("option that does not exist", '{"items":[%s]}' % item(
                INT64_MAX, 1), problem(404, "option_not_found")),
            ("more than the stock", '{"items":[%s]}' % item(o2, 6),
             problem(409, "out_of_stock")),
            ("a good item and a missing one", '{"items":[%s,%s]}' % (
                item(o1, 1), item(INT64_MAX, 1)),
             problem(404, "option_not_found"))]:
        b.post_json(g, "order: " + label, orders, body, want)

    # Admin: products, restock, coupons.
    admin = fx["admin"]
    products = "/api/v1/admin/products"
    opt = '[{"name":"o","price":1,"stock":1}]'
    for label, body, want in [
            ("empty name", '{"name":"","options":%s}' % opt, invalid),
            ("name of 201 bytes", '{"name":"%s","options":%s}' % (
                "n" * 201, opt), invalid),
            ("name with U+0001", '{"name":"a\\u0001","options":%s}' % opt,
             invalid),
            ("name with U+007F", '{"name":"a\\u007f","options":%s}' % opt,
             invalid),
            ("name with an escaped newline", '{"name":"a\\nb","options":%s}'
             % opt, invalid),
            ("name a number", '{"name":1,"options":%s}' % opt, invalid),
            ("name null", '{"name":null,"options":%s}' % opt, invalid),
            ("description of 4001 bytes", '{"name":"p","description":"%s",'
             '"options":%s}' % ("d" * 4001, opt), invalid),
            ("no options", '{"name":"p","options":[]}', invalid),
            ("options an object", '{"name":"p","options":{}}', invalid),
            ("option a string", '{"name":"p","options":["o"]}', invalid),
            ("price -1", '{"name":"p","options":[{"name":"o","price":-1}]}',
             invalid),
            ("price 1.5", '{"name":"p","options":[{"name":"o","price":1.5}]}',
             invalid),
            ("price past its bound", '{"name":"p","options":[{"name":"o",'
             '"price":1000000000001}]}', invalid),
            ("stock 2^63", '{"name":"p","options":[{"name":"o","price":1,'
             '"stock":%s}]}' % INT64_OVER, invalid),
            ("option without a name", '{"name":"p","options":[{"price":1}]}',
             problem(400, "missing_field")),
            ("unknown option key", '{"name":"p","options":[{"name":"o",'
             '"price":1,"id":1}]}', problem(400, "unknown_field")),
            ("101 options", '{"name":"p","options":[%s]}' % ",".join(
                ['{"name":"o","price":1}'] * 101), invalid),
            ("unknown key", '{"name":"p","options":%s,"id":1}' % opt,
             problem(400, "unknown_field"))]:
        b.post_json(g, "product: " + label, products, body, want,
                    token=admin)

    restock = "/api/v1/admin/options/%d/restock" % o1
    for label, value, want in [("0", "0", invalid), ("-1", "-1", invalid),
                               ("2^63", INT64_OVER, invalid),
                               ('"1"', '"1"', invalid),
                               ("1.5", "1.5", invalid),
                               ("null", "null", invalid),
                               ("past the stock bound", "1000000000",
                                problem(409, "stock_limit"))]:
        b.post_json(g, "restock: quantity " + label, restock,
                    '{"quantity":%s}' % value, want, token=admin)
    b.post_json(g, "restock: no quantity", restock, "{}",
                problem(400, "missing_field"), token=admin)

    coupons = "/api/v1/admin/coupons"
    base = {"name": "c", "discount_kind": "amount", "discount_value": 100,
            "total_quantity": 5}
    for label, change, want in [
            ("kind bogus", {"discount_kind": "bogus"}, invalid),
            ("percent 101", {"discount_kind": "percent",
                             "discount_value": 101}, invalid),
            ("amount with a cap", {"discount_cap": 10}, invalid),
            ("value 0", {"discount_value": 0}, invalid),
            ("total 0", {"total_quantity": 0}, invalid),
            ("total 10000001", {"total_quantity": 10000001}, invalid),
            ("valid_days 0", {"valid_days": 0}, invalid),
            ("valid_days 3651", {"valid_days": 3651}, invalid),
            ("month 13", {"starts_at": "2026-13-01T00:00:00Z"}, invalid),
            ("29 February 2027", {"starts_at": "2027-02-29T00:00:00Z"},
             invalid),
            ("date only", {"starts_at": "2027-01-01"}, invalid),
            ("no offset", {"starts_at": "2027-01-01T00:00:00"}, invalid),
            ("hour 24", {"starts_at": "2027-01-01T24:00:00Z"}, invalid),
            ("second 60", {"starts_at": "2027-01-01T00:00:60Z"}, invalid),
            ("offset +14:01", {"starts_at": "2027-01-01T00:00:00+14:01"},
             invalid),
            ("before 1970", {"starts_at": "1969-12-31T23:59:59Z"}, invalid),
            ("ten fraction digits", {"starts_at":
                                     "2027-01-01T00:00:00.0123456789Z"},
             invalid),
            ("trailing junk", {"starts_at": "2027-01-01T00:00:00Zjunk"},
             invalid),
            ("ends before it starts", {"starts_at": "2027-02-01T00:00:00Z",
                                       "ends_at": "2027-01-01T00:00:00Z"},
             problem(400, "invalid_window")),
            ("ends in the past", {"ends_at": "2001-01-01T00:00:00Z"},
             problem(400, "invalid_window")),
            ("unknown key", {"issued_quantity": 0},
             problem(400, "unknown_field"))]:
        body = dict(base)
        body.update(change)
        b.post_json(g, "coupon: " + label, coupons, json.dumps(body), want,
                    token=admin)

    pay = "/api/v1/orders/%d/pay" % fx["order1"]
    for label, body, want in [("coupon_id 0", '{"coupon_id":0}', invalid),
                              ('coupon_id "1"', '{"coupon_id":"1"}', invalid),
                              ("coupon_id null", '{"coupon_id":null}',
                               invalid),
                              ("unknown key", '{"points":1}',
                               problem(400, "unknown_field")),
                              ("an array", "[]",
                               problem(400, "invalid_body")),
                              ("garbage", "garbage", malformed)]:
        b.post_json(g, "pay: " + label, pay, body, want)
    b.post_json(g, "pay: body as text/plain", pay, '{"coupon_id":1}',
                problem(415, "unsupported_media_type"), ctype="text/plain")


# ---------------------------------------------------------------------------
# Tokens.


def token_cases(b):
    fx = b.fx
    g = "token"
    t = b.r.tokens
    now = int(time.time())
    good = fx["u1"]
    head_, payload, sig = good.split(".")
    unauthorized = problem(401, "unauthorized")

    def whoami(label, auth, want=unauthorized, path="/api/v1/whoami"):
        hdrs = [] if auth is None else [("Authorization", auth)]
        b.http(g, label, "GET", path, want, headers=hdrs,
               checks=[www_authenticate] if want == unauthorized else [])

    def claims(**kw):
        c = {"sub": "1", "role": "user", "iat": now, "exp": now + 3600}
        for k, v in kw.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    whoami("no Authorization", None)
    whoami("empty Authorization", "")
    whoami("Bearer without a token", "Bearer")
    whoami("Bearer and a space", "Bearer ")
    whoami("Basic scheme", "Basic dXNlcjpwdw==")
    whoami("Bearer glued to the token", "Bearer" + good)
    whoami("tab after Bearer", "Bearer\t" + good)
    whoami("garbage", "Bearer abc")
    whoami("two segments", "Bearer %s.%s" % (head_, payload))
    whoami("four segments", "Bearer %s.%s" % (good, sig))
    whoami("three empty segments", "Bearer ..")
    whoami("padding", "Bearer %s.%s=.%s" % (head_, payload, sig))
    whoami("base64 + and /", "Bearer %s.%s.%s" % (
        head_, payload, sig.replace("-", "+").replace("_", "/") + "+/"))
    whoami("trailing dot", "Bearer " + good + ".")
    whoami("trailing junk", "Bearer " + good + "x")
    whoami("two tokens", "Bearer %s %s" % (good, good))
    whoami("signature changed", "Bearer %s.%s.%s" % (
        head_, payload, ("B" if sig[5] == "A" else "A").join(
            [sig[:5], sig[6:]])))
    whoami("signature removed", "Bearer %s.%s." % (head_, payload))
    whoami("signature truncated", "Bearer %s.%s.%s" % (head_, payload,
                                                      sig[:20]))
    whoami("signature doubled", "Bearer %s.%s.%s" % (head_, payload,
                                                    sig + sig))
    whoami("signed with another secret", "Bearer " + t.make(
        payload=claims(), key=b"another secret of at least 32 bytes!"))
    whoami("signed with an empty key", "Bearer " + t.make(
        payload=claims(), key=b""))
    whoami("admin payload under the user's signature", "Bearer %s.%s.%s" % (
        head_, fx["admin"].split(".")[1], sig))
    for label, hdr in [
            ("alg none", {"alg": "none", "typ": "JWT"}),
            ("alg None", {"alg": "None"}),
            ("alg HS512", {"alg": "HS512"}), ("alg hs256", {"alg": "hs256"}),
            ("alg RS256 (key confusion)", {"alg": "RS256"}),
            ("alg ES256", {"alg": "ES256"}), ("no alg", {"typ": "JWT"}),
            ("alg a number", {"alg": 256}), ("alg null", {"alg": None}),
            ("alg an array", {"alg": ["HS256"]}),
            ("alg with a NUL", '{"alg":"HS256\\u0000"}'),
            ("alg twice", '{"alg":"none","alg":"HS256"}'),
            ("crit", {"alg": "HS256", "crit": ["exp"]}),
            ("header an array", ["HS256"]), ("header not JSON", "HS256"),
            ("header nested too deep", {"alg": "HS256", "x": [[[[[1]]]]]})]:
        whoami("header: " + label, "Bearer " + t.make(header=hdr,
                                                      payload=claims()))
    whoami("alg none, no signature", "Bearer %s.%s." % (
        t.make(header={"alg": "none"}).split(".")[0], payload))
    for label, c in [
            ("expired", claims(exp=now - 10)),
            ("expires now", claims(exp=now)),
            ("not yet valid", claims(nbf=now + 3600)),
            ("nbf a string", claims(nbf=str(now - 10))),
            ("no exp", claims(exp=None)), ("exp a string",
                                           claims(exp=str(now + 3600))),
            ("exp a float", claims(exp=now + 3600.5)),
            ("exp past 2^63", '{"sub":"1","role":"user","exp":%s}'
             % INT64_OVER),
            ("no sub", claims(sub=None)), ("sub 0", claims(sub="0")),
            ("sub -1", claims(sub="-1")), ("sub 007", claims(sub="007")),
            ("sub 2^63", claims(sub=INT64_OVER)), ("sub abc",
                                                   claims(sub="abc")),
            ("sub integer 0", claims(sub=0)), ("sub a float",
                                               claims(sub=1.5)),
            ("sub empty", claims(sub="")), ("sub with a NUL",
                                            '{"sub":"1\\u0000","role":"user",'
                                            '"exp":%d}' % (now + 3600)),
            ("no role", claims(role=None)), ("role root", claims(role="root")),
            ("role Admin", claims(role="Admin")),
            ("role an array", claims(role=["admin"])),
            ("role admin with a NUL", '{"sub":"1","role":"admin\\u0000",'
             '"exp":%d}' % (now + 3600)),
            ("role twice", '{"sub":"1","role":"user","role":"admin","exp":%d}'
             % (now + 3600)),
            ("payload an array", [1]), ("payload not JSON", "sub=1"),
            ("payload nested too deep", claims(x=[[[[1]]]]))]:
        whoami("claims: " + label, "Bearer " + t.make(payload=c))
    whoami("a token of 5000 bytes", "Bearer " + t.make(
        payload=claims(x="a" * 3700)))
    whoami("a token of 9000 bytes (nginx)", "Bearer " + "a" * 9000,
           problem(400, "bad_request"))

    # Roles and other users' resources: refused, and nothing moves.
    u1, u2 = fx["u1"], fx["u2"]
    b.post_json(g, "user token creating a product", "/api/v1/admin/products",
                '{"name":"p","options":[{"name":"o","price":1}]}',
                problem(403, "forbidden"), token=u1)
    b.post_json(g, "user token restocking", "/api/v1/admin/options/%d/restock"
                % fx["o1"], '{"quantity":1}', problem(403, "forbidden"),
                token=u1)
    b.post_json(g, "user token creating a coupon policy",
                "/api/v1/admin/coupons", '{"name":"c","discount_kind":'
                '"amount","discount_value":1,"total_quantity":1}',
                problem(403, "forbidden"), token=u1)
    b.http(g, "user token on /status", "GET", "/status",
           problem(403, "forbidden"), token=u1)
    b.http(g, "no token on /status", "GET", "/status", unauthorized)
    b.post_json(g, "expired admin token creating a product",
                "/api/v1/admin/products", '{"name":"p","options":'
                '[{"name":"o","price":1}]}', unauthorized,
                token=t.user(1000, "admin", ttl=-10))
    b.http(g, "expired token issuing a coupon", "POST",
           "/api/v1/coupons/%d/issue" % fx["coupon"], unauthorized,
           token=t.user(1, ttl=-10), headers=[("Content-Length", "0")])
    order2 = fx["order2"]
    b.http(g, "another user's order", "GET", "/api/v1/orders/%d" % order2,
           problem(404, "order_not_found"), token=u1)
    b.http(g, "paying another user's order", "POST",
           "/api/v1/orders/%d/pay" % order2, problem(404, "order_not_found"),
           token=u1, headers=[("Content-Length", "0")])
    b.http(g, "canceling another user's order", "POST",
           "/api/v1/orders/%d/cancel" % order2,
           problem(404, "order_not_found"), token=u1,
           headers=[("Content-Length", "0")])
    b.http(g, "canceling an order without a token", "POST",
           "/api/v1/orders/%d/cancel" % order2, unauthorized,
           headers=[("Content-Length", "0")])
    b.http(g, "paying user 1's order as user 2, with a coupon", "POST",
           "/api/v1/orders/%d/pay" % fx["order1"],
           problem(404, "order_not_found"), token=u2,
           headers=[("Content-Type", "application/json")],
           body=b'{"coupon_id":1}')


def www_authenticate(ex, rep):
    if not rep.headers.get("www-authenticate", "").startswith("Bearer"):
        return "401 without WWW-Authenticate: Bearer"
    return None


# ---------------------------------------------------------------------------
# The FastCGI socket, directly.


def fcgi_cases(b):
    fx = b.fx
    g = "fcgi"
    u1 = fx["u1"]
    begin = fcgi.begin_request()
    healthz = fcgi.encode_pairs(fcgi.nginx_params())
    params = fcgi.stream(fcgi.PARAMS, 1, healthz)

    b.fcgi_request(g, "control: GET /healthz as nginx sends it",
                   ("status", 200))
    # Versions, types, headers.
    for v in (0, 2, 255):
        b.fcgi(g, "version %d" % v, fcgi.record(
            fcgi.BEGIN_REQUEST, 1, struct.pack(">HB5x", 1, 0), version=v) +
            params + fcgi.record(fcgi.STDIN, 1), CLOSED, half_close=True)
    b.fcgi(g, "version 2 in PARAMS", begin + fcgi.record(
        fcgi.PARAMS, 1, healthz, version=2), CLOSED, half_close=True)
    for rtype in (0, 12, 99, 255):
        b.fcgi(g, "unknown type %d as a management record" % rtype,
               fcgi.record(rtype, 0, b"abcdefgh"), CLOSED, half_close=True)
        b.fcgi(g, "unknown type %d before BEGIN_REQUEST" % rtype,
               fcgi.record(rtype, 1, b"abcdefgh") + begin + params +
               fcgi.record(fcgi.STDIN, 1), CLOSED, half_close=True)
        b.fcgi(g, "unknown type %d among the PARAMS" % rtype, begin +
               fcgi.record(fcgi.PARAMS, 1, healthz) +
               fcgi.record(rtype, 1, b"x") + fcgi.record(fcgi.PARAMS, 1) +
               fcgi.record(fcgi.STDIN, 1), CLOSED, half_close=True)
    for rtype in (fcgi.END_REQUEST, fcgi.STDOUT, fcgi.STDERR, fcgi.DATA,
                  fcgi.GET_VALUES_RESULT, fcgi.UNKNOWN_TYPE,
                  fcgi.ABORT_REQUEST):
        b.fcgi(g, "record type %d in place of PARAMS" % rtype, begin +
               fcgi.record(rtype, 1, healthz) + fcgi.record(fcgi.STDIN, 1),
               CLOSED, half_close=True)
    gv = fcgi.encode_pairs([("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""),
                            ("FCGI_MPXS_CONNS", "")])
    b.fcgi(g, "GET_VALUES", fcgi.record(fcgi.GET_VALUES, 0, gv), CLOSED,
           half_close=True)
    b.fcgi(g, "GET_VALUES asking 20 times", fcgi.record(
        fcgi.GET_VALUES, 0, fcgi.encode_pairs(
            [("FCGI_MAX_CONNS", "")] * 20)), CLOSED, half_close=True)
    b.fcgi(g, "GET_VALUES with a huge name length", fcgi.record(
        fcgi.GET_VALUES, 0, struct.pack(">I", 0xfffffff0) + b"\x01x"),
        CLOSED, half_close=True)
    b.fcgi(g, "truncated header, then EOF", begin[:4], CLOSED,
           half_close=True)
    b.fcgi(g, "header and half the BEGIN body, then EOF", begin[:12],
           CLOSED, half_close=True)
    b.fcgi(g, "nothing, then EOF", b"", CLOSED, half_close=True)
    # libfcgi drops a unix-socket connection that has sent nothing 2 s
    # after accepting it (os_unix.c, is_af_unix_keeper); one byte is enough
    # to keep it (the two cases below).
    b.fcgi(g, "a connection that sends nothing, held open", b"", CLOSED,
           timeout=max(b.r.args.hold, 2.5))
    b.fcgi(g, "truncated header, held open", begin[:4], CLOSED,
           timeout=b.r.args.hold)
    b.fcgi(g, "BEGIN_REQUEST only, held open", begin, CLOSED,
           timeout=b.r.args.hold)

    # BEGIN_REQUEST itself.
    b.fcgi(g, "BEGIN_REQUEST with request id 0", fcgi.record(
        fcgi.BEGIN_REQUEST, 0, struct.pack(">HB5x", 1, 0)) + params +
        fcgi.record(fcgi.STDIN, 1), CLOSED, half_close=True)
    for n in (0, 7, 9, 64):
        b.fcgi(g, "BEGIN_REQUEST body of %d bytes" % n, fcgi.record(
            fcgi.BEGIN_REQUEST, 1, b"\x00\x01" + b"\x00" * (n - 2)
            if n >= 2 else b"") + params + fcgi.record(fcgi.STDIN, 1),
            CLOSED, half_close=True)
    for role in (0, 4, 0xffff):
        b.fcgi_request(g, "role %d" % role, CLOSED, role=role,
                       half_close=True)
    charge = b'{"amount":1}'
    for role, label in ((fcgi.AUTHORIZER, "AUTHORIZER"),
                        (fcgi.FILTER, "FILTER")):
        b.fcgi_request(g, "role %s, a charge" % label,
                       problem(400, "bad_request"), method="POST",
                       uri="/api/v1/points/charge", body=charge,
                       headers={"Authorization": "Bearer " + u1},
                       content_type="application/json", role=role)
    b.fcgi(g, "STDIN before PARAMS ends", begin +
           fcgi.record(fcgi.PARAMS, 1, healthz) + fcgi.record(fcgi.STDIN, 1),
           CLOSED, half_close=True)

    # PARAMS lengths.
    for label, content in [
            ("name length past the record", b"\x0a\x01abc"),
            ("value length past the record", b"\x01\x0aab"),
            ("four-byte length cut short", b"\x80\x00"),
            ("name length 0x7fffffff", struct.pack(">I", 0xffffffff) +
             b"\x01ab"),
            ("value length 0x7fffffff", b"\x01" +
             struct.pack(">I", 0xffffffff) + b"ab"),
            ("lengths spilling into STDIN", b"\x7f\x7f" + b"a" * 10)]:
        b.fcgi(g, "PARAMS: " + label, begin + fcgi.record(
            fcgi.PARAMS, 1, content) + fcgi.record(fcgi.PARAMS, 1) +
            fcgi.record(fcgi.STDIN, 1), CLOSED, half_close=True)
    b.fcgi(g, "PARAMS: a pair split across two records", begin +
           fcgi.record(fcgi.PARAMS, 1, healthz[:9]) +
           fcgi.record(fcgi.PARAMS, 1, healthz[9:]) +
           fcgi.record(fcgi.PARAMS, 1) + fcgi.record(fcgi.STDIN, 1),
           ("status", 200))
    b.fcgi(g, "PARAMS: four-byte lengths for short strings", begin +
           fcgi.stream(fcgi.PARAMS, 1, b"".join(
               struct.pack(">II", len(n) | 0x80000000, len(v) | 0x80000000) +
               n.encode() + v.encode()
               for n, v in fcgi.nginx_params())) +
           fcgi.record(fcgi.STDIN, 1), ("status", 200))
    b.fcgi(g, "PARAMS: 255 bytes of padding", begin + fcgi.record(
        fcgi.PARAMS, 1, healthz, padding=255) + fcgi.record(fcgi.PARAMS, 1) +
        fcgi.record(fcgi.STDIN, 1), ("status", 200))

    # Missing or spoiled parameters.
    b.fcgi_request(g, "no REQUEST_METHOD", problem(405,
                                                   "method_not_allowed"),
                   drop=("REQUEST_METHOD",))
    b.fcgi_request(g, "no SCRIPT_NAME, no SERVER_*", ("status", 200),
                   drop=("SERVER_PROTOCOL", "SERVER_NAME", "SERVER_PORT",
                         "REMOTE_ADDR", "REMOTE_PORT"))
    b.fcgi_request(g, "no REQUEST_URI nor DOCUMENT_URI",
                   problem(400, "bad_request"),
                   drop=("REQUEST_URI", "DOCUMENT_URI"))
    b.fcgi_request(g, "no parameters at all", problem(400, "bad_request"),
                   drop=[p[0] for p in fcgi.nginx_params()])
    for label, uri in [("*", "*"), ("relative", "healthz"), ("empty", ""),
                       ("http://x/healthz", "http://x/healthz")]:
        b.fcgi_request(g, "REQUEST_URI " + label, problem(400, "bad_request"),
                       drop=("REQUEST_URI", "DOCUMENT_URI"),
                       extra=[("REQUEST_URI", uri)])
    b.fcgi_request(g, "REQUEST_URI of 1 MB", problem(414, "uri_too_long"),
                   drop=("REQUEST_URI",),
                   extra=[("REQUEST_URI", "/" + "a" * 1000000)])
    b.fcgi_request(g, "QUERY_STRING of 1 MB", problem(414, "uri_too_long"),
                   drop=("QUERY_STRING",),
                   extra=[("QUERY_STRING", "a" * 1000000)])
    b.fcgi_request(g, "REQUEST_URI with CR LF and NUL-free control bytes",
                   problem(404, "not_found"),
                   drop=("REQUEST_URI",),
                   extra=[("REQUEST_URI", "/a\r\nSet-Cookie: x=1\x01")],
                   checks=[no_injected_header])
    b.fcgi_request(g, "X-Request-Id with CR LF", ("status", 200),
                   headers={"X-Request-Id": "a\r\nSet-Cookie: x=1"},
                   checks=[no_injected_header])
    b.fcgi_request(g, "REQUEST_METHOD of 1000 bytes",
                   problem(405, "method_not_allowed"),
                   drop=("REQUEST_METHOD",),
                   extra=[("REQUEST_METHOD", "G" * 1000)])
    b.fcgi_request(g, "REQUEST_METHOD with bytes FF FE",
                   problem(405, "method_not_allowed"),
                   drop=("REQUEST_METHOD",),
                   extra=[("REQUEST_METHOD", b"\xff\xfe")])
    b.fcgi_request(g, "REQUEST_METHOD given twice (GET, POST)",
                   ("status", 200), extra=[("REQUEST_METHOD", "POST")])
    b.fcgi_request(g, "empty parameter name", ("status", 200),
                   extra=[("", "x")])
    b.fcgi_request(g, "20000 parameters", ("status", 200),
                   extra=[("HTTP_X_%d" % i, "v") for i in range(20000)])
    b.fcgi_request(g, "Authorization of 9000 bytes",
                   problem(400, "bad_header"), uri="/api/v1/whoami",
                   headers={"Authorization": "Bearer " + "a" * 9000})
    b.fcgi_request(g, "Authorization of 1 MB", problem(400, "bad_header"),
                   uri="/api/v1/whoami",
                   headers={"Authorization": "Bearer " + "a" * 1000000})
    b.fcgi_request(g, "CONTENT_TYPE of 9000 bytes",
                   problem(400, "bad_header"), method="POST",
                   uri="/api/v1/points/charge", body=charge,
                   content_type="application/json" + " " * 9000,
                   headers={"Authorization": "Bearer " + u1})
    b.fcgi_request(g, "Idempotency-Key with CR LF",
                   problem(400, "invalid_idempotency_key"), method="POST",
                   uri="/api/v1/points/charge", body=charge,
                   content_type="application/json",
                   headers={"Authorization": "Bearer " + u1,
                            "Idempotency-Key": "a\r\nb"})

    # CONTENT_LENGTH and the body.
    def charge_with_length(label, length, body, want):
        pairs = [p for p in fcgi.nginx_params(
            "POST", "/api/v1/points/charge", body,
            {"Authorization": "Bearer " + u1}, "application/json")
            if p[0] != "CONTENT_LENGTH"] + [("CONTENT_LENGTH", length)]
        b.fcgi(g, "CONTENT_LENGTH " + label, fcgi.request(pairs, body), want)

    for label, length in [("-1", "-1"), ("abc", "abc"), ("+12", "+12"),
                          (" 12", " 12"), ("12 ", "12 "), ("1e1", "1e1"),
                          ("0x0c", "0x0c"), ("20 digits", "9" * 20),
                          ("2^63", INT64_OVER)]:
        charge_with_length(label, length, charge,
                           problem((400, 413), "bad_request",
                                   "payload_too_large"))
    charge_with_length("70000", "70000", charge,
                       problem(413, "payload_too_large"))
    charge_with_length("2^63-1", INT64_MAX, charge,
                       problem(413, "payload_too_large"))
    charge_with_length("shorter than the body (5 of 12)", "5", charge,
                       problem(400, "malformed_json"))
    charge_with_length("0 with a body", "0", charge,
                       problem(400, "malformed_json"))
    b.fcgi(g, "POST, no STDIN at all, then EOF", begin + fcgi.stream(
        fcgi.PARAMS, 1, fcgi.encode_pairs(fcgi.nginx_params(
            "POST", "/api/v1/points/charge", charge,
            {"Authorization": "Bearer " + u1}, "application/json"))),
        problem(400, "incomplete_body"), half_close=True)
    b.fcgi(g, "ABORT_REQUEST in the middle of STDIN", begin + fcgi.stream(
        fcgi.PARAMS, 1, fcgi.encode_pairs(fcgi.nginx_params(
            "POST", "/api/v1/points/charge", charge,
            {"Authorization": "Bearer " + u1}, "application/json"))) +
        fcgi.record(fcgi.STDIN, 1, charge[:4]) +
        fcgi.record(fcgi.ABORT_REQUEST, 1), problem(400, "incomplete_body"),
        half_close=True)

    # Multiplexing and request ids.
    b.fcgi(g, "a second BEGIN_REQUEST (id 2) in the middle", begin +
           fcgi.record(fcgi.PARAMS, 1, healthz) +
           fcgi.begin_request(2) + fcgi.stream(fcgi.PARAMS, 2, healthz) +
           fcgi.record(fcgi.PARAMS, 1) + fcgi.record(fcgi.STDIN, 1),
           ("status", 200))
    b.fcgi(g, "records of another request id are skipped", begin +
           fcgi.record(fcgi.PARAMS, 7, fcgi.encode_pairs(
               [("REQUEST_METHOD", "DELETE")])) + params +
           fcgi.record(fcgi.STDIN, 7, b"junk") + fcgi.record(fcgi.STDIN, 1),
           ("status", 200))
    b.fcgi(g, "request id 65535", fcgi.request(fcgi.nginx_params(),
                                               request_id=65535),
           ("status", 200), request_id=65535)
    b.fcgi(g, "two requests on one kept connection", fcgi.request(
        fcgi.nginx_params(), flags=fcgi.KEEP_CONN) + fcgi.request(
        fcgi.nginx_params("GET", "/nope")), ("status", 200),
        timeout=b.r.args.hold)

    # Closing mid-record.
    charge_req = fcgi.request(fcgi.nginx_params(
        "POST", "/api/v1/points/charge", charge,
        {"Authorization": "Bearer " + u1}, "application/json"), charge)
    for cut in (3, 8, 20, len(charge_req) - 30, len(charge_req) - 9):
        b.fcgi(g, "a charge cut after %d bytes, then EOF" % cut,
               charge_req[:cut], CLOSED, half_close=True)
        b.fcgi(g, "a charge cut after %d bytes, then RST" % cut,
               charge_req[:cut], CLOSED, reset=True)
    b.add(g, "a whole charge that waited in the backlog, its peer gone",
          "fcgi", charge_req, problem(499, "client_closed_request"),
          custom=backlog_then_gone)


def backlog_then_gone(runner, case=None):
    """A whole charge whose peer half-closes while the request waits in the
    listen backlog (nginx gave up on it: a 499): it must not run.  Every
    worker is first kept busy by a connection that sent a BEGIN_REQUEST
    only; the charge and its EOF are then both queued before a worker is
    freed, so the worker sees the peer gone (worker_peer_gone) whatever the
    timing.  Returns (exchange, reply, reasons)."""
    holders = []
    try:
        for _ in range(runner.args.workers):
            h = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            h.connect(runner.args.socket)
            h.sendall(fcgi.begin_request())
            holders.append(h)
        time.sleep(0.3)  # each worker takes one and waits for its PARAMS
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(runner.args.socket)
        sock.sendall(case["send"])
        sock.shutdown(socket.SHUT_WR)
        for h in holders:
            h.close()
        holders = []
        try:
            ex = fcgi.talk(sock, b"", runner.args.timeout)
        finally:
            sock.close()
    finally:
        for h in holders:
            h.close()
    return ex, fcgi.parse_reply(ex.data), []


def no_injected_header(ex, rep):
    if "set-cookie" in rep.headers:
        return "a header was injected: Set-Cookie"
    return None


def afterwards(runner, fx):
    """The daemon still serves normal requests, and they still move the
    database; yields (ok, what, details)."""
    for path, token in [("/healthz", None), ("/api/v1/products", None),
                        ("/api/v1/whoami", fx["u1"])]:
        st, doc = api(runner, "GET", path, token)
        yield st == 200, "afterwards: GET %s answers 200" % path, [
            "got %s %r" % (st, doc)]
    before = runner.digest.take()
    st, doc = api(runner, "POST", "/api/v1/points/charge", fx["u2"],
                  {"amount": 7})
    yield st == 200, "afterwards: a charge answers 200", ["got %s %r" % (
        st, doc)]
    yield runner.digest.take() != before, \
        "afterwards: the digest sees the charge", []
    st, doc = api(runner, "POST", "/api/v1/orders", fx["u2"],
                  {"items": [{"option_id": fx["o1"], "quantity": 1}]})
    yield st == 201, "afterwards: an order answers 201", ["got %s %r" % (
        st, doc)]
