"""nitro-enc-svc routes over real TLS: statuses, errors, tokens, keep-alive, pipelining, chunked
bodies, readiness, configuration checks, graceful shutdown."""
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from svc import BIN, DATA, PAYMENT, PAYMENT_PII, ROOT, Service, read_response, remember

TOKEN = re.compile(r"^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$")


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("api"), wait_ready=True)
    yield s
    assert s.stop() == 0


def error_of(body):
    doc = json.loads(body)
    assert set(doc) == {"error"}
    assert isinstance(doc["error"]["code"], str) and isinstance(doc["error"]["message"], str)
    return doc["error"]


def test_healthz(svc):
    status, headers, body = svc.request("GET", "/healthz")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"status": "ok"}
    status, _, body = svc.request("HEAD", "/healthz")
    assert status == 200 and body == b""


def test_readyz_when_ready(svc):
    status, _, body = svc.request("GET", "/readyz")
    assert status == 200
    assert json.loads(body) == {"status": "ready", "specs": 2}


def test_metrics_text(svc):
    svc.request("GET", "/healthz")
    status, headers, body = svc.request("GET", "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert 'nes_http_requests_total{route="healthz",status="200"}' in text
    assert "# TYPE nes_http_request_duration_seconds histogram" in text
    assert "nes_open_connections " in text
    assert "nes_fields_encrypted_total " in text


def test_openapi_served(svc):
    import yaml
    status, headers, body = svc.request("GET", "/openapi.yaml")
    assert status == 200
    assert headers["content-type"] == "application/yaml"
    doc = yaml.safe_load(body)
    assert doc["openapi"].startswith("3.")
    assert (ROOT / "docs" / "openapi.yaml").read_bytes() == body


def test_not_found_and_method_not_allowed(svc):
    status, _, body = svc.request("GET", "/nope")
    assert status == 404 and error_of(body)["code"] == "not_found"
    status, headers, body = svc.request("GET", "/encrypt")
    assert status == 405 and headers["allow"] == "POST"
    assert error_of(body)["code"] == "method_not_allowed"
    status, headers, _ = svc.request("POST", "/healthz", b"{}", {"Content-Type": "application/json"})
    assert status == 405 and headers["allow"] == "GET"


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/xml", "application/json; charset=latin1"])
def test_unsupported_media_type(svc, ctype):
    headers = {"X-Schema-Name": "payments"}
    if ctype:
        headers["Content-Type"] = ctype
    status, _, body = svc.request("POST", "/encrypt", b"{}", headers)
    assert status == 415
    assert error_of(body)["code"] == "unsupported_media_type"


def test_missing_schema_header(svc):
    status, _, body = svc.request("POST", "/encrypt", b"{}", {"Content-Type": "application/json"})
    assert status == 400
    err = error_of(body)
    assert err["code"] == "missing_schema" and "X-Schema-Name" in err["message"]


def test_unknown_schema(svc):
    status, _, body = svc.encrypt({"a": 1}, schema="nosuch")
    assert status == 400
    err = error_of(body)
    assert err["code"] == "unknown_schema" and "nosuch" in err["message"]
    status, _, body = svc.encrypt({"a": 1}, schema="bad name\u00e9".encode().decode("latin-1"))
    assert status == 400 and error_of(body)["code"] == "unknown_schema"


def test_decrypt_disabled(svc):
    status, _, body = svc.request("POST", "/decrypt", b"{}", {"Content-Type": "application/json",
                                                             "X-Schema-Name": "payments"})
    assert status == 403 and error_of(body)["code"] == "forbidden"


def test_encrypt_replaces_pii_only(svc):
    status, headers, body = svc.encrypt(PAYMENT)
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    out = json.loads(body)
    for key in ("name", "ssn", "email", "phone"):
        assert TOKEN.match(out[key]), out[key]
    assert TOKEN.match(out["card"]["number"]) and TOKEN.match(out["card"]["cvv"])
    assert out["card"]["expiry"] == "12/29"
    assert out["amount"] == 12.5 and out["currency"] == "GBP" and out["note"] == "tea"
    for value in PAYMENT_PII:
        assert value.encode() not in body
    assert svc.metric("nes_fields_encrypted_total") >= 6


def test_same_body_same_tokens_across_requests_and_threads(svc):
    _, _, first = svc.encrypt(PAYMENT)

    def one(_):
        conn = svc.connection()
        try:
            return [svc.encrypt(PAYMENT, conn=conn)[2] for _ in range(5)]
        finally:
            conn.close()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = [b for batch in pool.map(one, range(8)) for b in batch]
    assert all(r == first for r in results)


def test_invalid_json_names_offset_only(svc):
    secret = "Grace Hopper 4000"
    remember(secret)
    body = ('{"name": "%s", "ssn": }' % secret).encode()
    status, _, resp = svc.encrypt(body)
    assert status == 400
    err = error_of(resp)
    assert err["code"] == "invalid_json"
    assert err["offset"] == body.index(b"}")
    assert secret.encode() not in resp and str(err["offset"]) in err["message"]
    assert err["message"].endswith(": expected a value")


def test_invalid_utf8(svc):
    status, _, resp = svc.encrypt(b'{"name": "caf\xc3\x28"}')
    assert status == 400 and error_of(resp)["code"] == "invalid_json"


def test_too_deep(tmp_path):
    s = Service(tmp_path, env={"MAX_DEPTH": "8"})
    try:
        status, _, resp = s.encrypt(b"[" * 20 + b"]" * 20)
        assert status == 400 and error_of(resp)["code"] == "too_deep"
    finally:
        s.stop()


def test_ambiguous_root_and_operation_header(svc):
    status, _, resp = svc.encrypt({"email": "x@example.org"}, schema="twoops")
    remember("x@example.org")
    assert status == 400
    err = error_of(resp)
    assert err["code"] == "ambiguous_root"
    assert "createUser" in err["message"] and "createOrder" in err["message"]
    status, _, resp = svc.encrypt({"email": "x@example.org"}, schema="twoops",
                                  extra={"X-Schema-Operation": "createUser"})
    assert status == 200 and TOKEN.match(json.loads(resp)["email"])
    status, _, resp = svc.encrypt({"email": "x@example.org"}, schema="twoops",
                                  extra={"X-Schema-Operation": "deleteEverything"})
    assert status == 400 and error_of(resp)["code"] == "unknown_operation"


def test_keep_alive_many_requests_one_connection(svc):
    conn = svc.connection()
    try:
        for _ in range(50):
            status, _, _ = svc.request("GET", "/healthz", conn=conn)
            assert status == 200
        sock = conn.sock
        status, _, _ = svc.request("GET", "/metrics", conn=conn)
        assert status == 200 and conn.sock is sock  # same TLS connection throughout
    finally:
        conn.close()


def test_pipelining(svc):
    sock = svc.raw_tls()
    try:
        req = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
               b"POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 2\r\n\r\n{}"
               b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.sendall(req)
        statuses = []
        rest = b""
        for _ in range(3):
            status, _, _, rest = read_response_buffered(sock, rest)
            statuses.append(status)
        assert statuses == [200, 400, 404]
    finally:
        sock.close()


def read_response_buffered(sock, pending):
    class Buffered:
        def __init__(self, s, data):
            self.s, self.data = s, data

        def recv(self, n):
            if self.data:
                d, self.data = self.data, b""
                return d
            return self.s.recv(n)

    return read_response(Buffered(sock, pending))


def test_chunked_request_body(svc):
    payload = json.dumps(PAYMENT).encode()
    conn = svc.connection()
    try:
        def gen():
            for i in range(0, len(payload), 7):
                yield payload[i:i + 7]
        conn.request("POST", "/encrypt", body=gen(), encode_chunked=True,
                      headers={"Content-Type": "application/json", "X-Schema-Name": "payments",
                               "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200
        _, _, plain = svc.encrypt(PAYMENT)
        assert body == plain
    finally:
        conn.close()


def test_readyz_503_until_specs_load(tmp_path):
    s = Service(tmp_path, specs=None, wait_ready=False)
    try:
        status, headers, body = s.request("GET", "/readyz")
        assert status == 503
        assert headers["retry-after"] == "1"
        assert error_of(body)["code"] == "not_ready"
        status, headers, _ = s.encrypt({"name": "x"})
        assert status == 503 and headers["retry-after"] == "1"
        (tmp_path / "schemas").mkdir()
        shutil.copy(DATA / "specs" / "payments.yaml", tmp_path / "schemas" / "payments.yaml")
        s.signal(signal.SIGHUP)
        s.wait_ready(timeout=5)
        status, _, _ = s.encrypt(PAYMENT)
        assert status == 200
    finally:
        s.stop()


def test_ready_in_under_a_second(tmp_path):
    t0 = time.monotonic()
    s = Service(tmp_path)
    try:
        assert time.monotonic() - t0 < 1.0
        lines = [l for l in s.log_lines() if l.get("msg", "").startswith("DEVELOPMENT KEY")]
        assert lines and lines[0]["level"] == "warn"
        assert (tmp_path / ".nitro-enc" / "dev.key").stat().st_mode & 0o777 == 0o600
    finally:
        s.stop()


def test_check_config_redacts_and_exits(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PKCS11_PIN": "87654321", "MAX_BODY_BYTES": "2M"}
    r = subprocess.run([str(BIN / "nitro-enc-svc"), "--local-mode", "--check-config"], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    assert "87654321" not in r.stdout
    assert "PKCS11_PIN=<redacted>" in r.stdout
    assert "MAX_BODY_BYTES=2M  # environment" in r.stdout
    assert "LISTEN=tcp://127.0.0.1:8443  # default" in r.stdout


def test_invalid_config_one_line_per_problem_exit_2(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("MAX_DEPTH: zero\nBOGUS: 1\n")
    env = {"PATH": "/usr/bin:/bin", "LISTEN": "tcp://nowhere", "WORKER_THREADS": "0"}
    r = subprocess.run([str(BIN / "nitro-enc-svc"), "--local-mode", "--config", str(cfg)], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 4, lines
    assert any("LISTEN" in l for l in lines) and any("WORKER_THREADS" in l for l in lines)
    assert any("MAX_DEPTH" in l for l in lines) and any("BOGUS" in l for l in lines)
    r = subprocess.run([str(BIN / "nitro-enc-svc")], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "SECRET_ARN: required" in r.stderr


def test_sigterm_finishes_in_flight_request(tmp_path):
    s = Service(tmp_path, wait_ready=False)
    sock = s.raw_tls()
    try:
        body = b'{"x": 1}'
        sock.sendall(b"POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:3])
        time.sleep(0.3)
        s.signal(signal.SIGTERM)
        time.sleep(0.3)
        # the listener is closed: new connections are refused
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
        sock.sendall(body[3:])
        status, headers, _, _ = read_response(sock)
        assert status in (400, 503)  # answered (no schema header), not dropped
        assert headers.get("connection") == "close"
        assert s.proc.wait(10) == 0
    finally:
        sock.close()
        s.stop()


def test_unix_socket_endpoint(tmp_path):
    path = f"/tmp/nes-svc-{os.getpid()}.sock"
    s = Service(tmp_path, wait_ready=False, listen=f"unix://{path}")
    try:
        raw = socket.socket(socket.AF_UNIX)
        raw.settimeout(5)
        raw.connect(path)
        with s.context().wrap_socket(raw, server_hostname="localhost") as t:
            t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, body, _ = read_response(t)
            assert status == 200 and json.loads(body) == {"status": "ok"}
    finally:
        assert s.stop() == 0
    assert not os.path.exists(path)


def test_version_and_help():
    r = subprocess.run([str(BIN / "nitro-enc-svc"), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("nitro-enc-svc ")
    r = subprocess.run([str(BIN / "nitro-enc-svc"), "--bogus"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage:" in r.stderr


def test_body_just_under_one_mib(svc):
    doc = dict(PAYMENT, note="n" * (1024 * 1024 - 400))
    body = json.dumps(doc).encode()
    assert len(body) < 1024 * 1024
    status, _, resp = svc.encrypt(body)
    assert status == 200
    assert json.loads(resp)["note"] == doc["note"]
