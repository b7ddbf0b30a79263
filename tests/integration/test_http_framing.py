"""HTTP/1.1 framing on the wire (issue 6), over real TLS against the real binary, one table.

Each refused case is sent with a smuggled request behind it; the service must answer with
exactly one response (the exact status line, a JSON error of the service's shape, Connection:
close) and then close: nothing after a refused request is parsed or answered. A good request on
a new connection still works afterwards. Accepted cases get their normal answers on a connection
that stays usable (or closes when the request asked for it).
"""
import json
import socket
import ssl
import time

import pytest

from svc import PAYMENT, Service

SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
BODY = json.dumps(PAYMENT).encode()
POST = (b"POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Schema-Name: payments\r\n")

STATUS_LINES = {
    400: b"HTTP/1.1 400 Bad Request",
    413: b"HTTP/1.1 413 Content Too Large",
    414: b"HTTP/1.1 414 URI Too Long",
    417: b"HTTP/1.1 417 Expectation Failed",
    431: b"HTTP/1.1 431 Request Header Fields Too Large",
    501: b"HTTP/1.1 501 Not Implemented",
    505: b"HTTP/1.1 505 HTTP Version Not Supported",
}
CODES = {400: "bad_request", 413: "body_too_large", 414: "uri_too_long", 417: "expectation_failed",
         431: "headers_too_large", 501: "not_implemented", 505: "http_version_not_supported"}

# (case id, bytes sent (the smuggled request is appended), status of the one answer)
REFUSED = [
    ("two-different-content-lengths",
     POST + b"Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}", 400),
    ("content-length-and-chunked",
     POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("chunked-and-content-length",
     POST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
    ("space-before-colon", POST + b"Content-Length : 30\r\n\r\n", 400),
    ("empty-header-name", POST + b": x\r\nContent-Length: 2\r\n\r\n{}", 400),
    ("te-identity", POST + b"Transfer-Encoding: identity\r\n\r\n", 501),
    ("te-xchunked", POST + b"Transfer-Encoding: xchunked\r\n\r\n", 501),
    ("te-gzip-chunked", POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("te-chunked-not-last", POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n", 501),
    ("content-length-negative", POST + b"Content-Length: -1\r\n\r\n", 400),
    ("content-length-plus", POST + b"Content-Length: +30\r\n\r\n", 400),
    ("content-length-hex", POST + b"Content-Length: 0x1e\r\n\r\n", 400),
    ("content-length-list", POST + b"Content-Length: 2, 2\r\n\r\n{}", 400),
    ("content-length-overflow", POST + b"Content-Length: 99999999999999999999999\r\n\r\n", 400),
    ("chunk-extension-32k",
     POST + b"Transfer-Encoding: chunked\r\n\r\n2;" + b"e" * 32768 + b"\r\n{}\r\n0\r\n\r\n", 400),
    ("chunk-size-not-hex", POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400),
    ("http11-without-host", b"GET /healthz HTTP/1.1\r\n\r\n", 400),
    ("two-hosts", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("space-in-header-name", b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400),
    ("nul-in-schema-name",
     POST + b"X-Schema-Name: pay\x00ments\r\nContent-Length: 2\r\n\r\n{}", 400),
    ("bare-cr-in-value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
    ("bare-cr-line-end", b"GET /healthz HTTP/1.1\rHost: x\r\n\r\n", 400),
    ("obs-fold", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
    ("lowercase-version", b"GET /healthz http/1.1\r\nHost: x\r\n\r\n", 400),
    ("two-spaces-in-request-line", b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("http-2-version", b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("te-in-http10", b"POST /encrypt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("expect-unknown", POST + b"Expect: 200-ok\r\nContent-Length: 2\r\n\r\n{}", 417),
    ("target-too-long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("too-many-headers",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(150))
     + b"\r\n", 431),
    ("head-too-large", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n",
     431),
]


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("framing"), env={"MAX_BODY_BYTES": "65536"})
    yield s
    assert s.alive(), s.logs()
    assert s.stop() == 0


def read_until_eof(sock, timeout=10):
    """Everything the server sends until it closes (fails when it does not close in time)."""
    sock.settimeout(timeout)
    data = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, ConnectionResetError):
            break  # closed (a reset after the close_notify is fine: we sent bytes it dropped)
        if not chunk:
            return data
        data += chunk
    return data


def split_response(data):
    """(status line, headers, body, rest) of the first response in data."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, data[:200]
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        k, v = line.split(b":", 1)
        headers[k.strip().lower().decode()] = v.strip().decode()
    n = int(headers["content-length"])
    return lines[0], headers, rest[:n], rest[n:]


def send_all(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass  # the server may close while we still send (it answered first)


@pytest.mark.parametrize("case,request_bytes,status", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_exactly_one_answer_then_close(svc, case, request_bytes, status):
    sock = svc.raw_tls()
    try:
        send_all(sock, request_bytes + SMUGGLED)
        data = read_until_eof(sock)
    finally:
        sock.close()
    line, headers, body, rest = split_response(data)
    assert line == STATUS_LINES[status], (case, data[:300])
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert set(doc) == {"error"}
    assert doc["error"]["code"] == CODES[status]
    assert isinstance(doc["error"]["message"], str) and doc["error"]["message"]
    assert b"\x00" not in body
    assert rest == b"", f"{case}: bytes after the one answer: {rest[:200]!r}"
    # a good request still works on a new connection
    assert svc.request("GET", "/healthz")[0] == 200


def responses(data):
    out = []
    while data:
        line, headers, body, data = split_response(data)
        out.append((line, headers, body))
    return out


def exchange(svc, payload, n, close_expected=False):
    """Sends payload, reads n responses; returns them and whether the server closed after."""
    sock = svc.raw_tls()
    try:
        sock.sendall(payload)
        sock.settimeout(10)
        data = b""
        got = []
        while len(got) < n:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(got)} of {n} responses"
            data += chunk
            try:
                got = responses(data)
            except (AssertionError, KeyError, ValueError):
                continue  # partial
        closed = False
        if close_expected:
            closed = read_until_eof(sock) == b""
        return got, closed
    finally:
        sock.close()


ENC = POST + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY

# (case id, bytes, statuses in order, the server closes after)
ACCEPTED = [
    ("bare-lf-line-ends", b"GET /healthz HTTP/1.1\nHost: x\n\n", [200], False),
    ("leading-empty-lines", b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", [200], False),
    ("identical-content-lengths",
     POST + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(BODY), len(BODY)) + BODY,
     [200], False),
    ("pipeline-of-100", (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + ENC) * 50, [200] * 100,
     False),
    ("connection-close", b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [200],
     True),
    ("http10-closes", b"GET /healthz HTTP/1.0\r\n\r\n", [200], True),
    ("http10-keep-alive",
     b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n",
     [200, 200], "keep-alive,close"),
    ("chunked-with-trailer",
     POST + b"Transfer-Encoding: chunked\r\n\r\n%x;ext=1\r\n" % len(BODY) + BODY
     + b"\r\n0\r\nX-Trailer: t\r\n\r\n", [200], False),
    ("head-request", b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", [200], False),
    ("unknown-route-with-body-then-next",
     b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
     b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", [404, 200], False),
]


@pytest.mark.parametrize("case,payload,statuses,closes", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted(svc, case, payload, statuses, closes):
    if case == "head-request":
        sock = svc.raw_tls()
        try:
            sock.sendall(payload + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(10)
            data = b""
            while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"}\n"):
                chunk = sock.recv(65536)
                assert chunk
                data += chunk
            first, _, second = data.partition(b"\r\n\r\n")
            assert b"content-length: 16" in first.lower()  # announced, not sent
            assert second.startswith(b"HTTP/1.1 200 OK\r\n")
        finally:
            sock.close()
        return
    got, closed = exchange(svc, payload, len(statuses), close_expected=bool(closes))
    assert [int(line.split()[1]) for line, _, _ in got] == statuses
    want = closes.split(",") if isinstance(closes, str) else [
        "close" if closes else None] * len(got)
    for (line, headers, _), conn in zip(got, want):
        assert headers.get("connection") == conn
        assert "date" in headers and headers["date"].endswith(" GMT")
    if closes:
        assert closed


def test_expect_100_continue(svc):
    sock = svc.raw_tls()
    try:
        sock.sendall(POST + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(BODY))
        sock.settimeout(10)
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(4096)
            assert chunk
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(BODY)
        data = b""
        while True:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
            try:
                (line, headers, body), = responses(data)
                break
            except (AssertionError, KeyError, ValueError):
                continue
        assert line == b"HTTP/1.1 200 OK" and json.loads(body)["name"].startswith("v1.")
    finally:
        sock.close()


def test_expect_100_continue_refused_early(svc):
    # The answer is known from the head (415): it comes instead of 100 Continue, then close.
    sock = svc.raw_tls()
    try:
        sock.sendall(b"POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                     b"X-Schema-Name: payments\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n")
        data = read_until_eof(sock)
    finally:
        sock.close()
    line, headers, body, rest = split_response(data)
    assert line == b"HTTP/1.1 415 Unsupported Media Type" and rest == b""
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["code"] == "unsupported_media_type"


def test_refusal_is_logged_without_content(svc):
    sock = svc.raw_tls()
    try:
        send_all(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Secret-Value: hunter2\r\n bad\r\n\r\n")
        read_until_eof(sock)
    finally:
        sock.close()
    time.sleep(0.3)
    logs = svc.logs()
    assert "hunter2" not in logs
    assert any(l.get("status") == 400 and l.get("msg") == "request" for l in svc.log_lines())


def codec_refusals():
    """Every request case of the codec's own table (tests/unit/http/h1_cases.h, via
    h1_cases_dump) that it refuses with the service's limits: (name, bytes, status)."""
    import subprocess
    from svc import BIN
    try:
        out = subprocess.run([str(BIN / "h1_cases_dump")], check=True, capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [json.loads(line) for line in out.splitlines()]
    return [(r["name"], bytes.fromhex(r["input_hex"]), int(r["outcome"])) for r in rows
            if r["side"] == "request" and r["default_limits"] and r["outcome"] != "accept"]


CODEC_REFUSED = codec_refusals()


@pytest.mark.parametrize("case,request_bytes,status", CODEC_REFUSED,
                         ids=[c[0] for c in CODEC_REFUSED])
def test_codec_refusals_on_the_wire(svc, case, request_bytes, status):
    # The same cases the codec's unit tests judge, now through TLS, the loop and the routes.
    sock = svc.raw_tls()
    try:
        send_all(sock, request_bytes + SMUGGLED)
        data = read_until_eof(sock)
    finally:
        sock.close()
    line, headers, body, rest = split_response(data)
    assert line == STATUS_LINES[status], (case, data[:300])
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["code"] == CODES[status]
    assert rest == b"", f"{case}: bytes after the one answer: {rest[:200]!r}"


def test_codec_cases_present():
    assert len(CODEC_REFUSED) > 50
