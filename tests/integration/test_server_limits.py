"""Hostile and broken clients: over-limit bodies (honest, lying and chunked), header floods,
slowloris, many idle connections, TLS garbage, abrupt disconnects. Each gets its status (or a
closed connection) and the service keeps answering other clients throughout."""
import json
import os
import resource
import socket
import ssl
import time

import pytest

from svc import Service, read_response

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("limits"), wait_ready=False,
                env={"MAX_BODY_BYTES": str(LIMIT), "HEADER_TIMEOUT_SECS": "2",
                     "REQUEST_TIMEOUT_SECS": "3", "IDLE_TIMEOUT_SECS": "30"})
    yield s
    assert s.alive(), s.logs()
    assert s.stop() == 0


@pytest.fixture(autouse=True)
def still_answering(svc):
    yield
    assert svc.alive(), svc.logs()
    assert svc.request("GET", "/healthz")[0] == 200


def post_head(length=None, extra=b""):
    head = b"POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Schema-Name: payments\r\n"
    if length is not None:
        head += b"Content-Length: %d\r\n" % length
    return head + extra + b"\r\n"


def read_status_or_close(sock):
    try:
        return read_response(sock)[0]
    except (ConnectionError, ssl.SSLError, OSError):
        return None


def test_body_over_limit_gets_413(svc):
    body = b"[" + b"1," * (LIMIT // 2) + b"1]"
    status, headers, resp = svc.request("POST", "/encrypt", body,
                                        {"Content-Type": "application/json", "X-Schema-Name": "payments"})
    assert status == 413
    assert json.loads(resp)["error"]["code"] == "body_too_large"
    assert headers.get("connection") == "close"


def test_far_over_limit_answered_early(svc):
    sock = svc.raw_tls()
    try:
        sock.sendall(post_head(100 * LIMIT, b"Expect: 100-continue\r\n"))
        status, headers, body, _ = read_response(sock)
        assert status == 413
        assert json.loads(body)["error"]["code"] == "body_too_large"
    finally:
        sock.close()


def test_lying_content_length(svc):
    # Claims a small body, sends far more: the excess is parsed as a next request and rejected.
    sock = svc.raw_tls()
    try:
        sock.sendall(post_head(2) + b"{}" + b"x" * (4 * LIMIT))
        status, _, _, rest = read_response(sock)
        assert status in (200, 503)  # the two bytes it announced form the request
        # the rest is not HTTP: answered with 400/414 (or the connection just closes)
        if rest:
            assert rest.startswith((b"HTTP/1.1 400", b"HTTP/1.1 414", b"HTTP/1.1 431"))
        else:
            assert read_status_or_close(sock) in (400, 414, 431, None)
    finally:
        sock.close()
    # Claims a huge body, sends a little then stops: early 413, connection closed.
    sock = svc.raw_tls()
    try:
        sock.sendall(post_head(1 << 40) + b"{}")
        assert read_status_or_close(sock) in (413, None)
    finally:
        sock.close()


def test_chunked_over_limit(svc):
    sock = svc.raw_tls()
    try:
        sock.sendall(post_head(None, b"Transfer-Encoding: chunked\r\n"))
        chunk = b"[" + b"0" * 8190 + b"]"
        for _ in range(2 * LIMIT // len(chunk)):
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        assert read_status_or_close(sock) == 413
    finally:
        sock.close()


def test_chunked_far_over_limit_is_dropped(svc):
    sock = svc.raw_tls()
    try:
        sock.sendall(post_head(None, b"Transfer-Encoding: chunked\r\n"))
        chunk = b"0" * 65536
        try:
            for _ in range(40):  # 40 x 64 KiB = 40 caps: past the discard bound
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        assert read_status_or_close(sock) in (413, None)
    finally:
        sock.close()


def test_ten_thousand_headers(svc):
    sock = svc.raw_tls()
    try:
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-H%d: v\r\n" % i for i in range(10000)) + b"\r\n"
        try:
            sock.sendall(head)
        except OSError:
            pass
        status = read_status_or_close(sock)
        assert status in (413, 431, 400, None)
        assert status != 200
    finally:
        sock.close()


def test_header_over_64k(svc):
    sock = svc.raw_tls()
    try:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (65 * 1024) + b"\r\n\r\n")
        except OSError:
            pass
        status = read_status_or_close(sock)
        assert status in (413, 431, 400, None) and status != 200
    finally:
        sock.close()


def test_slowloris_is_cut_off(svc):
    sock = svc.raw_tls()
    sock.settimeout(1.5)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    t0 = time.monotonic()
    closed_after = None
    try:
        for b in head:  # one byte a second; HEADER_TIMEOUT_SECS is 2
            sock.sendall(bytes([b]))
            try:
                if sock.recv(1) == b"":
                    closed_after = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except (ssl.SSLError, OSError):
                closed_after = time.monotonic() - t0
                break
            assert svc.request("GET", "/healthz")[0] == 200  # others are served meanwhile
            if time.monotonic() - t0 > 8:
                break
    except OSError:
        closed_after = time.monotonic() - t0
    finally:
        sock.close()
    assert closed_after is not None and closed_after < 6


def test_slow_body_is_cut_off(svc):
    sock = svc.raw_tls()
    sock.settimeout(1)
    t0 = time.monotonic()
    closed = False
    try:
        sock.sendall(post_head(1000))
        while time.monotonic() - t0 < 8 and not closed:  # REQUEST_TIMEOUT_SECS is 3
            try:
                sock.sendall(b" ")
                if sock.recv(1) == b"":
                    closed = True
            except socket.timeout:
                pass
            except OSError:
                closed = True
    finally:
        sock.close()
    assert closed and time.monotonic() - t0 < 7


def trickle_until_closed(sock, data, limit):
    """Sends `data` a byte every 0.5 s; the seconds until the service closed, or None."""
    sock.settimeout(0.5)
    t0 = time.monotonic()
    for b in data:
        try:
            sock.sendall(bytes([b]))
            if sock.recv(1) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            pass
        except OSError:
            return time.monotonic() - t0
        if time.monotonic() - t0 > limit:
            return None
    return None


@pytest.mark.parametrize("second", ["head", "body"])
def test_slow_second_request_is_cut_off(svc, second):
    """After a keep-alive request the idle deadline (30 s) runs; a second request that trickles
    in gets the header deadline (2 s) from its first byte, or the request deadline (3 s) from the
    end of its head: the deadlines are armed when the service waits, not only on the first
    request of a connection."""
    sock = svc.raw_tls()
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock)[0] == 200
        time.sleep(1)
        if second == "head":
            data = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        else:
            sock.sendall(post_head(1000))
            data = b" " * 100
        took = trickle_until_closed(sock, data, 12)
    finally:
        sock.close()
    assert took is not None and took < (6 if second == "head" else 7), took


def test_thousand_idle_connections(svc):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    socks = []
    try:
        for _ in range(1000):
            socks.append(socket.create_connection(("127.0.0.1", svc.port), timeout=5))
        time.sleep(0.3)
        assert svc.metric("nes_open_connections") >= 1000
        t0 = time.monotonic()
        assert svc.request("GET", "/healthz")[0] == 200
        assert time.monotonic() - t0 < 1
        # HEADER_TIMEOUT_SECS (2 s) closes connections that never complete a request
        time.sleep(3.5)
        assert svc.metric("nes_open_connections") < 10
    finally:
        for s in socks:
            s.close()


def test_tls_garbage(svc):
    for payload in (os.urandom(2000), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"\x16\x03\x01\x00\x05hello" + os.urandom(100)):
        with socket.create_connection(("127.0.0.1", svc.port), timeout=5) as s:
            s.sendall(payload)
            s.settimeout(3)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_old_tls_versions_refused(svc):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(svc.cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection(("127.0.0.1", svc.port), timeout=5) as s:
            ctx.wrap_socket(s, server_hostname="localhost")


def test_abrupt_disconnect_mid_body(svc):
    for _ in range(5):
        sock = svc.raw_tls()
        sock.sendall(post_head(10000) + b'{"name": "half')
        sock.close()
    raw = socket.create_connection(("127.0.0.1", svc.port), timeout=5)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    tls = svc.context().wrap_socket(raw, server_hostname="localhost")
    tls.sendall(post_head(10000) + b"{")
    tls.close()  # RST
    time.sleep(0.3)
    assert any(l.get("error") == "aborted" for l in svc.log_lines())


def test_connection_cap(tmp_path):
    s = Service(tmp_path, wait_ready=False, env={"MAX_CONNECTIONS": "4"})
    held = []
    try:
        for _ in range(4):
            held.append(s.raw_tls())
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        extra.settimeout(3)
        try:
            assert extra.recv(1) == b""  # closed at once
        except OSError:
            pass
        extra.close()
        for t in held:
            t.close()
        time.sleep(0.3)
        assert s.request("GET", "/healthz")[0] == 200
        assert s.metric("nes_connections_rejected_total") >= 1
    finally:
        for t in held:
            t.close()
        assert s.stop() == 0
