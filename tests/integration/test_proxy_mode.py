"""Proxy mode end to end, with real processes: a TLS client -> nitro-enc-proxy ingress ->
nitro-enc-svc (PROXY_PROTOCOL=on) -> the sidecar's return port -> a test application that records
what it received -> the response back to the client. Also the PROXY v2 refusals, 502/504, the
unmatched 400 and pass-through, and a Unix-socket UPSTREAM without the PROXY protocol."""
import json
import os
import socket
import time

import pytest

from proxymode import (App, BIG, HUGE, Reader, big_body, huge_body, pp2_header, request_bytes,
                       sha, tls_connect)
from proxyutil import Proxy, dead_port
from svc import Service, remember

PII = {"name": "Alice Proxyperson", "email": "alice.proxy@example.com",
       "card": {"number": "4111111111111111", "expiry": "12/30"}, "amount": 12.5,
       "note": "plain note"}
PLAIN = ["Alice Proxyperson", "alice.proxy@example.com", "4111111111111111"]
remember(*PLAIN)


class Chain:
    def __init__(self, tmp_path, svc_env=None, app_unix=None):
        self.app = App(unix_path=app_unix)
        env = {"PROXY_PROTOCOL": "on", "UPSTREAM_TIMEOUT_SECS": "2", "LOG_LEVEL": "info"}
        env.update(svc_env or {})
        self.svc = Service(tmp_path / "svc", env=env, specs=("shop", "payments"),
                           wait_ready=False)
        self.ingress = Proxy(tmp_path / "ingress", "ingress", {
            "LISTEN": "tcp://127.0.0.1:0", "ENCLAVE": self.svc.env["LISTEN"],
            "MAIN_APP_ADDR": self.app.addr or self.app.uri, "RETURN_LISTEN": "tcp://127.0.0.1:0"})
        self.port = self.ingress.port("ingress")
        end = time.monotonic() + 15
        while True:
            try:
                st, _, _ = self.one("GET", "/readyz")
                if st == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError("not ready:\n" + self.svc.logs())
            time.sleep(0.1)

    def connect(self):
        return tls_connect(self.port, self.svc.cafile)

    def one(self, method, target, body=b"", headers=()):
        s = self.connect()
        try:
            s.sendall(request_bytes(method, target, body, headers))
            st, hd, b, _, _ = Reader(s).response(head_request=method == "HEAD")
            return st, hd, b
        finally:
            s.close()

    def close(self):
        self.ingress.stop()
        rc = self.svc.stop()
        self.app.close()
        assert rc == 0, self.svc.logs()  # under ASan: no leak, no error


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    yield c
    c.close()


def test_transformed_body_reaches_the_app_and_its_answer_the_client(chain):
    body = json.dumps(PII).encode()
    s = chain.connect()
    s.sendall(request_bytes("PUT", "/orders/42?x=1", body, [("X-Forwarded-For", "192.0.2.1")]))
    st, hd, got, head, raw = Reader(s).response()
    s.close()
    assert st == 201, got
    req = chain.app.requests[-1]
    assert req["method"] == "PUT" and req["target"] == "/orders/42?x=1"
    seen = json.loads(req["body"])
    for v in (seen["name"], seen["email"], seen["card"]["number"]):
        assert v.startswith("v1.")
    assert seen["card"]["expiry"] == "12/30" and seen["note"] == "plain note"
    for p in PLAIN:
        assert p.encode() not in req["body"]
        assert all(p not in v for _, v in req["headers"])
    # the client's address (from the sidecar's PROXY v2 header) is appended
    assert req["h"]["x-forwarded-for"] == "192.0.2.1, 127.0.0.1"
    assert req["h"]["content-length"] == str(len(req["body"]))
    assert req["h"]["host"] == "shop.example"
    # the application's response, byte for byte (less its hop-by-hop Keep-Alive field)
    app_head, app_body = chain.app.responses[-1].split(b"\r\n\r\n", 1)
    assert raw == app_body
    want = [l for l in app_head.split(b"\r\n") if not l.lower().startswith(b"keep-alive")]
    assert head.rstrip(b"\r\n").split(b"\r\n") == want
    # the access log names the client and the route, never a value
    end = time.monotonic() + 5
    while not [l for l in chain.svc.log_lines() if l.get("route") == "proxy"]:
        assert time.monotonic() < end, chain.svc.logs()
        time.sleep(0.05)
    line = [l for l in chain.svc.log_lines() if l.get("route") == "proxy"][-1]
    assert line["client"] == "127.0.0.1" and line["status"] == 201 and line["fields"] == 3


def test_most_specific_template_wins(chain):
    st, _, _ = chain.one("PUT", "/orders/me", json.dumps({"nickname": "Ally Nick"}).encode())
    remember("Ally Nick")
    assert st == 201
    seen = json.loads(chain.app.requests[-1]["body"])
    assert seen["nickname"].startswith("v1.")
    # (had /orders/{id} won, its Order schema would not mark "nickname")
    st, _, b = chain.one("PUT", "/orders/7", json.dumps({"name": "Ally Nick"}).encode())
    assert st == 201
    assert json.loads(chain.app.requests[-1]["body"])["name"].startswith("v1.")


def test_server_url_prefix_and_bodyless_operation(chain):
    st, _, _ = chain.one("POST", "/v1/orders", json.dumps(PII).encode())
    assert st == 201
    assert json.loads(chain.app.requests[-1]["body"])["name"].startswith("v1.")
    st, _, _ = chain.one("GET", "/orders/9")
    assert st == 201 and chain.app.requests[-1]["body"] == b""


def test_chunked_and_multi_mib_responses_stream_unchanged(chain):
    s = chain.connect()
    r = Reader(s)
    s.sendall(request_bytes("GET", "/files/chunked"))
    st, hd, body, head, raw = r.response()
    assert st == 200 and hd["transfer-encoding"] == "chunked" and hd["x-app"] == "chunked"
    assert raw == chain.app.responses[-1].split(b"\r\n\r\n", 1)[1]  # chunk lines and all
    s.sendall(request_bytes("GET", "/files/big"))
    st, hd, body, head, raw = r.response()
    assert st == 200 and len(body) == BIG and sha(body) == sha(big_body())
    # HEAD: the length is announced, no body follows; the connection stays usable
    s.sendall(request_bytes("HEAD", "/files/big"))
    st, hd, body, _, _ = r.response(head_request=True)
    assert st == 200 and hd["content-length"] == str(BIG)
    s.sendall(request_bytes("GET", "/files/x"))
    assert r.response()[0] == 201
    s.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int([l for l in f if l.startswith("VmRSS:")][0].split()[1])


def test_slow_reader_gets_a_huge_answer_in_bounded_memory(chain):
    s = chain.connect()
    r = Reader(s)
    s.sendall(request_bytes("GET", "/files/x"))
    assert r.response()[0] == 201
    base = rss_kib(chain.svc.proc.pid)
    s.sendall(request_bytes("GET", "/files/huge"))
    time.sleep(2)  # the client reads nothing: the service must stop reading the application
    held = rss_kib(chain.svc.proc.pid) - base
    print(f"service RSS grew {held} KiB while the client did not read")
    st, _, body, _, _ = r.response()
    assert st == 200 and len(body) == HUGE and body == huge_body()
    s.close()
    if "ASAN_OPTIONS" not in os.environ:  # ASan's quarantine keeps freed buffers resident
        assert held < 8 * 1024, f"{held} KiB held for a {HUGE >> 20} MiB answer"


def test_unmatched_is_400_json(chain):
    st, hd, b = chain.one("POST", "/nowhere", json.dumps(PII).encode())
    assert st == 400 and hd["content-type"] == "application/json"
    assert json.loads(b)["error"]["code"] == "no_operation"
    st, _, b = chain.one("PUT", "/orders/../admin", json.dumps(PII).encode())
    assert st == 400 and json.loads(b)["error"]["code"] == "bad_path"
    assert not any(r["target"] in ("/nowhere", "/orders/../admin") for r in chain.app.requests)


@pytest.fixture
def passchain(tmp_path):
    c = Chain(tmp_path, svc_env={"PROXY_PASS_UNMATCHED": "on"})
    yield c
    c.close()


def test_pass_unmatched_forwards_untouched_and_streams(passchain):
    c = passchain
    raw_body = b'{"anything": "goes"}'
    st, _, _ = c.one("POST", "/nowhere", raw_body)
    assert st == 201 and c.app.requests[-1]["body"] == raw_body
    s = c.connect()
    r = Reader(s)
    s.sendall(request_bytes("GET", "/nowhere/chunked"))
    st, hd, body, head, raw = r.response()
    assert st == 200 and hd["transfer-encoding"] == "chunked"
    assert raw == c.app.responses[-1].split(b"\r\n\r\n", 1)[1]
    s.sendall(request_bytes("GET", "/nowhere/big"))
    st, hd, body, head, raw = r.response()
    assert st == 200 and len(body) == BIG and sha(body) == sha(big_body())
    # close-delimited: the client's connection ends with the body
    s.sendall(request_bytes("GET", "/nowhere/close"))
    st, hd, body, _, _ = r.response()
    assert st == 200 and body == b"until the end" and hd["connection"] == "close"
    s.close()


def test_keep_alive_and_pipelining_through_the_chain(chain):
    s = chain.connect()
    r = Reader(s)
    before = chain.app.connections
    bodies = [json.dumps(dict(PII, amount=i)).encode() for i in range(5)]
    s.sendall(b"".join(request_bytes("PUT", f"/orders/{i}", b) for i, b in enumerate(bodies)))
    for i in range(5):
        st, _, b, _, _ = r.response()
        assert st == 201 and json.loads(b)["seen"] > len(bodies[i])
    for i in range(10):  # keep-alive, sequential
        s.sendall(request_bytes("PUT", f"/orders/k{i}", bodies[0]))
        assert r.response()[0] == 201
    s.close()
    targets = [q["target"] for q in chain.app.requests[-15:]]
    assert targets[:5] == [f"/orders/{i}" for i in range(5)]
    # the upstream side reuses its keep-alive connections (2 workers: at most a few)
    assert chain.app.connections - before <= 4


def test_chunked_request_is_forwarded_with_a_length(chain):
    body = json.dumps(PII).encode()
    s = chain.connect()
    head = request_bytes("PUT", "/orders/c", body)[:-len(body)]
    head = head.replace(b"Content-Length: %d\r\n" % len(body), b"Transfer-Encoding: chunked\r\n")
    s.sendall(head + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, body[:10], len(body) - 10,
                                                                body[10:]))
    assert Reader(s).response()[0] == 201
    s.close()
    req = chain.app.requests[-1]
    assert req["h"]["content-length"] == str(len(req["body"]))
    assert json.loads(req["body"])["email"].startswith("v1.")


def test_http10_client_gets_a_chunked_answer_unwrapped(chain):
    s = chain.connect()
    s.sendall(b"GET /files/chunked HTTP/1.0\r\nHost: x\r\nX-Schema-Name: shop\r\n\r\n")
    st, hd, body, _, _ = Reader(s).response()
    s.close()
    assert st == 200 and "transfer-encoding" not in hd and hd["connection"] == "close"
    assert body == b"first chunk\n" + b"x" * 5000 + b'{"last":true}'


def test_an_app_that_stops_mid_body_closes_the_client(chain):
    s = chain.connect()
    s.sendall(request_bytes("GET", "/files/cut"))
    r = Reader(s)
    with pytest.raises((EOFError, ConnectionError)):
        r.response()
    s.close()
    end = time.monotonic() + 5
    while not any(l.get("error") == "upstream_aborted" for l in chain.svc.log_lines()):
        assert time.monotonic() < end, chain.svc.logs()
        time.sleep(0.05)
    assert chain.one("GET", "/files/x")[0] == 201


def test_invalid_response_head_is_502(chain):
    st, _, b = chain.one("GET", "/files/bad")
    assert st == 502 and json.loads(b)["error"]["code"] == "bad_gateway"
    assert chain.one("GET", "/files/x")[0] == 201  # and the next request works


def test_a_pooled_connection_the_app_dropped_is_retried_once(tmp_path):
    app = App()
    svc = Service(tmp_path / "svc", env={"UPSTREAM": app.uri, "WORKER_THREADS": "1"},
                  specs=("shop",))
    try:
        s = tls_connect(svc.port, svc.cafile)
        r = Reader(s)
        s.sendall(request_bytes("GET", "/files/dropnext"))
        assert r.response()[0] == 200
        body = json.dumps(PII).encode()
        s.sendall(request_bytes("PUT", "/orders/r", body))
        st, _, b, _, _ = r.response()
        s.close()
        assert st == 201, b
        # the app read the PUT twice: on the dropped pooled connection, then on a fresh one
        assert [q["target"] for q in app.requests].count("/orders/r") == 2
        assert app.connections == 2
    finally:
        assert svc.stop() == 0
        app.close()


def test_an_early_answer_before_the_whole_body_went_is_forwarded(tmp_path):
    app = App()
    svc = Service(tmp_path / "svc", env={"UPSTREAM": app.uri, "MAX_BODY_BYTES": "32M"},
                  specs=("shop",))
    try:
        body = json.dumps(dict(PII, note="n" * (24 << 20))).encode()  # more than socket buffers
        s = tls_connect(svc.port, svc.cafile)
        s.sendall(request_bytes("PUT", "/orders/early", body))
        st, hd, b, _, _ = Reader(s).response()
        got_at = time.monotonic()
        s.close()
        assert st == 413 and b == b"nope"
        # forwarded as soon as it came, not after the application took the rest of the body
        assert got_at - app.early_at < 2.5
    finally:
        assert svc.stop() == 0
        app.close()


def test_expect_100_continue(chain):
    body = json.dumps(PII).encode()
    s = chain.connect()
    head = request_bytes("PUT", "/orders/5", body, [("Expect", "100-continue")])[:-len(body)]
    s.sendall(head)
    r = Reader(s)
    st, _, _, _, _ = r.response()
    assert st == 100
    s.sendall(body)
    st, _, _, _, _ = r.response()
    assert st == 201
    assert "expect" not in chain.app.requests[-1]["h"]
    s.close()


def test_upstream_timeout_is_504(tmp_path):
    c = Chain(tmp_path, svc_env={"PROXY_PASS_UNMATCHED": "on", "UPSTREAM_TIMEOUT_SECS": "1"})
    try:
        t0 = time.monotonic()
        st, hd, b = c.one("GET", "/slow")
        assert st == 504 and json.loads(b)["error"]["code"] == "upstream_timeout"
        assert time.monotonic() - t0 < 2.9
    finally:
        c.close()


def test_upstream_by_host_name(tmp_path):
    app = App()
    port = app.addr.rsplit(":", 1)[1]
    svc = Service(tmp_path / "svc", env={"UPSTREAM": f"tcp://localhost:{port}"}, specs=("shop",))
    try:
        s = tls_connect(svc.port, svc.cafile)
        r = Reader(s)
        for _ in range(2):
            s.sendall(request_bytes("POST", "/orders", json.dumps(PII).encode()))
            assert r.response()[0] == 201
        s.close()
    finally:
        assert svc.stop() == 0
        app.close()


def test_upstream_unreachable_is_502(tmp_path):
    c = Chain(tmp_path, svc_env={"UPSTREAM": f"tcp://127.0.0.1:{dead_port()}"})
    try:
        st, hd, b = c.one("PUT", "/orders/1", json.dumps(PII).encode())
        assert st == 502 and hd["content-type"] == "application/json"
        assert json.loads(b)["error"]["code"] == "bad_gateway"
        # the service's own routes still answer, and count it
        assert c.one("GET", "/healthz")[0] == 200
        st, _, m = c.one("GET", "/metrics")
        assert st == 200
        assert b'nes_http_requests_total{route="proxy",status="502"} 1' in m
    finally:
        c.close()


BAD_HEADERS = {
    "bad signature": pp2_header(sig=b"\r\n\r\n\x00\r\nQUIX\n"),
    "wrong version": pp2_header(version=1),
    "truncated TLV": pp2_header(tlvs=b"\xe1\x00\x10abc"),
    "oversized": pp2_header(length=60000),
    "not a header": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(BAD_HEADERS))
def test_bad_proxy_headers_close_cleanly_with_a_log_line(tmp_path, name):
    svc = Service(tmp_path, env={"PROXY_PROTOCOL": "on"}, specs=("shop",), wait_ready=False)
    try:
        before = svc.logs().count("proxy protocol")
        s = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
        s.sendall(BAD_HEADERS[name])
        try:
            assert s.recv(100) == b""  # closed, nothing answered
        except ConnectionResetError:
            pass
        s.close()
        end = time.monotonic() + 5
        while svc.logs().count("proxy protocol") == before and time.monotonic() < end:
            time.sleep(0.05)
        assert svc.logs().count("proxy protocol") == before + 1
        assert svc.alive()
        # a good header still works on the same service
        s = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
        s.sendall(pp2_header())
        import ssl
        ctx = ssl.create_default_context(cafile=svc.cafile)
        t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert Reader(t).response()[0] == 200
        t.close()
    finally:
        assert svc.stop() == 0


def test_without_proxy_protocol_a_header_is_refused_at_tls(tmp_path):
    svc = Service(tmp_path, specs=("shop",))
    try:
        s = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
        s.sendall(pp2_header() + b"\x16\x03\x01\x00\x05hello")
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        assert not data.startswith(b"HTTP/")
        s.close()
        assert svc.alive()
    finally:
        svc.stop()


def test_unix_upstream_without_proxy_protocol(tmp_path):
    app = App(unix_path=tmp_path / "app.sock")
    svc = Service(tmp_path / "svc", env={"UPSTREAM": app.uri}, specs=("shop",))
    try:
        s = tls_connect(svc.port, svc.cafile)
        r = Reader(s)
        for i in range(3):
            s.sendall(request_bytes("POST", "/orders", json.dumps(PII).encode()))
            assert r.response()[0] == 201
        s.close()
        req = app.requests[-1]
        assert json.loads(req["body"])["email"].startswith("v1.")
        assert req["h"]["x-forwarded-for"] == "127.0.0.1"
        assert app.connections == 1
        # the service's own routes are not forwarded
        assert svc.request("GET", "/healthz")[0] == 200
        assert len(app.requests) == 3
    finally:
        assert svc.stop() == 0
        app.close()


def test_undeclared_member_is_refused_and_never_reaches_the_app(chain):
    # Fail closed (DESIGN section 6) on the forwarding path too: a misspelt key could carry PII.
    secret = "Bob Misspeltkey"
    remember(secret)
    body = json.dumps(dict(PII, Name=secret)).encode()
    before = len(chain.app.requests)
    st, _, got = chain.one("PUT", "/orders/42", body)
    assert st == 422, got
    err = json.loads(got)["error"]
    assert "/Name" in err["message"] and secret not in got.decode()
    assert len(chain.app.requests) == before
