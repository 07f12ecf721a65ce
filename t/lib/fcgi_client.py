"""t/lib/fcgi_client.py: a small FastCGI client for the tests, speaking to
stockade's socket the way nginx does, and able not to.

It builds records byte by byte (FastCGI 1.0 specification, section 3: an
8-byte header of version, type, request id, content length and padding
length, then the content and the padding), so a test can send what nginx
sends, or a wrong version, an unknown type, a truncated header, lengths that
disagree, or half a record.  exchange() sends the bytes on a fresh
connection and reads until the server closes it or a deadline passes;
parse_reply() splits what came back into records and the CGI response
(Status, headers, body) that the STDOUT records carry.

Python 3 standard library only.
"""

import socket
import struct
import time

VERSION_1 = 1

BEGIN_REQUEST = 1
ABORT_REQUEST = 2
END_REQUEST = 3
PARAMS = 4
STDIN = 5
STDOUT = 6
STDERR = 7
DATA = 8
GET_VALUES = 9
GET_VALUES_RESULT = 10
UNKNOWN_TYPE = 11

RESPONDER = 1
AUTHORIZER = 2
FILTER = 3

KEEP_CONN = 1

CONTENT_MAX = 65535


def header(rtype, request_id, content_len, padding=0, version=VERSION_1):
    """The 8 header bytes of one record (section 3.3)."""
    return struct.pack(">BBHHBx", version, rtype, request_id, content_len,
                       padding)


def record(rtype, request_id, content=b"", padding=0, version=VERSION_1):
    """One whole record: header, content, padding (zero bytes)."""
    return header(rtype, request_id, len(content), padding,
                  version) + content + b"\0" * padding


def begin_request(request_id=1, role=RESPONDER, flags=0):
    """A BEGIN_REQUEST record (section 5.1)."""
    return record(BEGIN_REQUEST, request_id,
                  struct.pack(">HB5x", role, flags))


def encode_length(n):
    """A name or value length: one byte below 128, else four with the high
    bit set (section 3.4)."""
    if n < 128:
        return bytes([n])
    return struct.pack(">I", n | 0x80000000)


def encode_pairs(pairs):
    """Name-value pairs as PARAMS content; names and values are bytes or
    str (UTF-8)."""
    out = bytearray()
    for name, value in pairs:
        name = name.encode() if isinstance(name, str) else name
        value = value.encode() if isinstance(value, str) else value
        out += encode_length(len(name)) + encode_length(len(value))
        out += name + value
    return bytes(out)


def stream(rtype, request_id, data):
    """data as records of rtype, at most CONTENT_MAX bytes each, then the
    empty record that ends the stream."""
    out = bytearray()
    for i in range(0, len(data), CONTENT_MAX):
        out += record(rtype, request_id, data[i:i + CONTENT_MAX])
    return bytes(out + record(rtype, request_id))


def nginx_params(method="GET", uri="/healthz", body=b"", headers=None,
                 content_type=None):
    """The parameters nginx/stockade.conf sends for one request, as a list
    of pairs (a test may drop, repeat or spoil any of them)."""
    path, _, query = uri.partition("?")
    pairs = [
        ("REQUEST_METHOD", method),
        ("REQUEST_URI", uri),
        ("DOCUMENT_URI", path),
        ("QUERY_STRING", query),
        ("CONTENT_TYPE", content_type or ""),
        ("CONTENT_LENGTH", str(len(body)) if body else ""),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("REMOTE_PORT", "40000"),
        ("SERVER_NAME", "localhost"),
        ("SERVER_PORT", "80"),
    ]
    for name, value in (headers or {}).items():
        pairs.append(("HTTP_" + name.upper().replace("-", "_"), value))
    return pairs


def request(pairs, body=b"", request_id=1, role=RESPONDER, flags=0):
    """A whole request: BEGIN_REQUEST, PARAMS, STDIN."""
    return (begin_request(request_id, role, flags) +
            stream(PARAMS, request_id, encode_pairs(pairs)) +
            stream(STDIN, request_id, body))


class Exchange:
    """What one connection brought back: the bytes, whether the server
    closed the connection (EOF or reset) before the deadline, and the
    seconds it took."""

    def __init__(self):
        self.data = b""
        self.closed = False
        self.reset = False
        self.elapsed = 0.0
        self.error = None


def talk(sock, data, timeout=10.0, half_close=False, hold=0.0, then=b""):
    """On a connected socket: sends data, then sleeps hold seconds (a peer
    that goes quiet), sends then, and half-closes the connection when
    half_close (the server reads EOF, as from a peer gone mid-record).
    Reads until the server closes or timeout seconds have passed; returns
    an Exchange.  Used for nginx's TCP port too (t/lib/hostile.py)."""
    ex = Exchange()
    start = time.monotonic()
    try:
        sock.sendall(data)
        if hold > 0:
            time.sleep(hold)
        if then:
            sock.sendall(then)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError) as e:
        # The server closed first (it refused what it had read so far):
        # what it sent before is still worth reading.
        ex.error = repr(e)
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            ex.closed = ex.reset = True
            break
        if not chunk:
            ex.closed = True
            break
        ex.data += chunk
    ex.elapsed = time.monotonic() - start
    return ex


def exchange(path, data, timeout=10.0, half_close=False, hold=0.0,
             then=b"", connect_timeout=5.0):
    """talk() on a new connection to the unix socket path."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(connect_timeout)
        sock.connect(path)
        return talk(sock, data, timeout, half_close, hold, then)
    finally:
        sock.close()


def abort_connection(path, data):
    """Sends data and closes at once with a reset (SO_LINGER 0): a peer
    that vanishes mid-record without a FIN."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    finally:
        sock.close()


class Reply:
    """The records of one exchange, and the CGI response in its STDOUT."""

    def __init__(self):
        self.records = []      # (version, type, request id, content)
        self.trailing = b""    # bytes after the last whole record
        self.stdout = {}       # request id -> bytes
        self.ended = {}        # request id -> (app status, protocol status)
        self.status = None     # the first request's HTTP status, or None
        self.headers = {}      # lower-case name -> value
        self.body = b""


def parse_reply(data, request_id=1):
    """Splits data into records; the response to request_id is read from
    its STDOUT ("Status: 400 Bad Request\\r\\n...\\r\\n\\r\\nbody")."""
    rep = Reply()
    i = 0
    while len(data) - i >= 8:
        ver, rtype, rid, clen, plen = struct.unpack(">BBHHBx", data[i:i + 8])
        if len(data) - i < 8 + clen + plen:
            break
        content = data[i + 8:i + 8 + clen]
        rep.records.append((ver, rtype, rid, content))
        if rtype == STDOUT:
            rep.stdout[rid] = rep.stdout.get(rid, b"") + content
        elif rtype == END_REQUEST and clen >= 5:
            app, proto = struct.unpack(">IB", content[:5])
            rep.ended[rid] = (app, proto)
        i += 8 + clen + plen
    rep.trailing = data[i:]
    out = rep.stdout.get(request_id, b"")
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep:
        return rep
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        rep.headers[name.strip().lower().decode("latin-1")] = \
            value.strip().decode("latin-1")
    rep.body = body
    status = rep.headers.get("status", "200").split(" ", 1)[0]
    rep.status = int(status) if status.isdigit() else None
    return rep
