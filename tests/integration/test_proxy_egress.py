"""nitro-enc-proxy egress in CONNECT mode: the allowlist decides, names are resolved on the
proxy's side, TLS passes through untouched, and every refusal is an HTTP status, a clean close
and one log line."""
import socket
import ssl
import subprocess
import threading

import pytest

from proxyutil import Proxy, Server, dead_port, recv_all
from tlsutil import CA


@pytest.fixture()
def tls_server(tmp_path):
    """A TLS server on localhost that answers each line with "echo: " + line."""
    ca = CA()
    cert, key, _ = ca.write(tmp_path, "srv", "localhost")
    (tmp_path / "ca.pem").write_bytes(ca.pem())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def handler(c):
        with ctx.wrap_socket(c, server_side=True) as t:
            data = t.recv(65536)
            if data.startswith(b"GET "):
                body = b"hello through the tunnel"
                t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                          % (len(body), body))
            else:
                t.sendall(b"echo: " + data)

    srv = Server(handler)
    srv.cafile = str(tmp_path / "ca.pem")
    yield srv
    srv.close()


def egress(tmp_path, entries, **env):
    lines = "".join(f"- {{address: \"{a}\", port: {p}}}\n" for a, p in entries)
    (tmp_path / "allow.yaml").write_text("allowlist:\n" + lines)
    e = {"LISTEN": "tcp://127.0.0.1:0", "ALLOWLIST": str(tmp_path / "allow.yaml"),
         "HEAD_TIMEOUT_SECS": "2"}
    e.update({k: str(v) for k, v in env.items()})
    return Proxy(tmp_path, "egress", e)


def connect_via(p, target: bytes, extra=b""):
    s = p.connect()
    s.sendall(b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target + b"\r\n" + extra + b"\r\n")
    return s


def read_head(s) -> bytes:
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(1)
        if not d:
            break
        buf += d
    return buf


def test_allowed_connect_reaches_tls_server(tmp_path, tls_server):
    p = egress(tmp_path, [("localhost", tls_server.port)])
    try:
        s = connect_via(p, b"localhost:%d" % tls_server.port)
        assert read_head(s).startswith(b"HTTP/1.1 200 ")
        ctx = ssl.create_default_context(cafile=tls_server.cafile)
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"ping")
            assert t.recv(100) == b"echo: ping"
        p.wait_log(lambda l: l.get("msg") == "connect" and l.get("host") == "localhost")
    finally:
        assert p.stop() == 0


def test_curl_through_the_tunnel(tmp_path, tls_server):
    p = egress(tmp_path, [("*.localhost", 1), ("localhost", tls_server.port)])
    try:
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "--proxytunnel",
                            "--proxy", f"http://127.0.0.1:{p.port()}", "--cacert",
                            tls_server.cafile, f"https://localhost:{tls_server.port}/x"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "hello through the tunnel"
    finally:
        assert p.stop() == 0


def test_host_outside_allowlist_gets_403(tmp_path, tls_server):
    p = egress(tmp_path, [("kms.eu-west-1.amazonaws.com", 443), ("localhost", tls_server.port)])
    try:
        for target in (b"localhost:%d" % (tls_server.port + 1 if tls_server.port < 65535 else 1),
                       b"example.com:443", b"127.0.0.1:%d" % tls_server.port):
            s = connect_via(p, target)
            data = recv_all(s)
            assert data.startswith(b"HTTP/1.1 403 Forbidden\r\n"), data
            s.close()
        p.wait_log(lambda l: l.get("msg") == "connect refused" and l.get("host") == "127.0.0.1")
        refusals = [l for l in p.lines() if l.get("msg") == "connect refused"]
        assert len(refusals) == 3
        assert all(l["status"].startswith("403") for l in refusals)
        # (lines of different worker threads may reach the file in either order)
        assert ("example.com", 443) in {(l["host"], l["port"]) for l in refusals}
        assert not tls_server.conns  # nothing reached the server
    finally:
        assert p.stop() == 0


H = b"Host: localhost:443\r\n"


@pytest.mark.parametrize("request_bytes,status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
    (b"CONNECT localhost HTTP/1.1\r\n" + H + b"\r\n", b"400"),
    (b"CONNECT localhost:99999 HTTP/1.1\r\n" + H + b"\r\n", b"400"),
    (b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", b"400"),
    (b"CONNECT localhost:443 HTTP/1.1\r\n\r\n", b"400"),  # no Host
    (b"CONNECT localhost:443 HTTP/9.9\r\n" + H + b"\r\n", b"505"),
    (b"CONNECT  localhost:443 HTTP/1.1\r\n" + H + b"\r\n", b"400"),
    (b"CONNECT localhost:443 HTTP/1.1\r\n" + H + b"Bad Header\r\n\r\n", b"400"),
    (b"CONNECT localhost:443 HTTP/1.1\r\n" + H + b"X: a\r\n folded\r\n\r\n", b"400"),
    (b"CONNECT localhost:443 HTTP/1.1\r\n" + H + b"X: a\rb\r\n\r\n", b"400"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"400"),
    (b"CONNECT localhost:443 HTTP/1.1\r\n" + H + b"X: " + b"a" * 9000 + b"\r\n\r\n", b"431"),
])
def test_malformed_requests_get_status_close_and_one_log_line(tmp_path, request_bytes, status):
    p = egress(tmp_path, [("localhost", 443)])
    try:
        s = p.connect()
        try:
            s.sendall(request_bytes)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = recv_all(s)
        assert data.startswith(b"HTTP/1.1 " + status), data
        assert b"Connection: close" in data
        s.close()
        p.wait_log(lambda l: l.get("msg") == "connect refused")
        assert len([l for l in p.lines() if l.get("msg") == "connect refused"]) == 1
        assert p.proc.poll() is None
    finally:
        assert p.stop() == 0


def test_incomplete_head_times_out_with_a_log_line(tmp_path):
    p = egress(tmp_path, [("localhost", 443)])
    try:
        s = p.connect()
        s.sendall(b"CONNECT localhost:443 HTTP/1.1\r\nHost: loc")
        s.settimeout(10)
        assert recv_all(s) == b""
        p.wait_log(lambda l: l.get("kind") == "head")
    finally:
        assert p.stop() == 0


def test_allowed_but_down_gets_502(tmp_path):
    port = dead_port()
    p = egress(tmp_path, [("localhost", port)])
    try:
        s = connect_via(p, b"localhost:%d" % port)
        assert recv_all(s).startswith(b"HTTP/1.1 502 ")
        p.wait_log(lambda l: l.get("msg") == "upstream unavailable")
    finally:
        assert p.stop() == 0


def test_bytes_after_the_head_are_relayed(tmp_path):
    """A client may pipeline its first bytes behind the CONNECT head."""
    got = {}

    def upstream(c):
        got["data"] = recv_all(c)
        c.close()
    srv = Server(upstream)
    p = egress(tmp_path, [("127.0.0.1", srv.port)])
    try:
        s = p.connect()
        s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\nearly bytes"
                  % (srv.port, srv.port))
        assert read_head(s).startswith(b"HTTP/1.1 200")
        s.sendall(b" and later ones")
        s.shutdown(socket.SHUT_WR)
        recv_all(s)
        s.close()
        for _ in range(200):
            if "data" in got:
                break
            threading.Event().wait(0.02)
        assert got["data"] == b"early bytes and later ones"
    finally:
        assert p.stop() == 0
        srv.close()


def test_bad_allowlist_is_a_config_error(tmp_path, bin_dir):
    (tmp_path / "a.yaml").write_text("allowlist:\n- {address: 'a b', port: 443}\n")
    r = subprocess.run([str(bin_dir / "nitro-enc-proxy"), "egress"],
                       env={"LISTEN": "tcp://127.0.0.1:0", "ALLOWLIST": str(tmp_path / "a.yaml")},
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "ALLOWLIST" in r.stderr and "entry 1" in r.stderr
