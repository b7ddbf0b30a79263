"""nitro-enc-proxy ingress (the pod sidecar): every client connection reaches the enclave side
preceded by a PROXY v2 header, decoded here by an independent decoder written from HAProxy's
specification, carrying the client's address and the return endpoint (TLV 0xE0); then the bytes
pass untouched. Connections to the announced return endpoint reach MAIN_APP_ADDR."""
import ipaddress
import os
import socket
import struct
import threading
import time

import pytest

from proxyutil import Proxy, Server, recv_all, recv_exact

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def decode_pp2(sock):
    """Reads one PROXY v2 header from `sock`; returns a dict (strict per the spec)."""
    fixed = recv_exact(sock, 16)
    assert fixed[:12] == SIG
    ver_cmd, fam, length = fixed[12], fixed[13], struct.unpack(">H", fixed[14:16])[0]
    assert ver_cmd >> 4 == 2, "version"
    cmd = ver_cmd & 0xF
    body = recv_exact(sock, length)
    out = {"cmd": cmd, "family": fam >> 4, "transport": fam & 0xF, "tlvs": []}
    off = 0
    if fam >> 4 == 1:  # INET
        src, dst, sp, dp = struct.unpack(">4s4sHH", body[:12])
        out.update(src=str(ipaddress.IPv4Address(src)), dst=str(ipaddress.IPv4Address(dst)),
                   sport=sp, dport=dp)
        off = 12
    elif fam >> 4 == 2:  # INET6
        src, dst, sp, dp = struct.unpack(">16s16sHH", body[:36])
        out.update(src=str(ipaddress.IPv6Address(src)), dst=str(ipaddress.IPv6Address(dst)),
                   sport=sp, dport=dp)
        off = 36
    while off < len(body):
        t, n = body[off], struct.unpack(">H", body[off + 1:off + 3])[0]
        v = body[off + 3:off + 3 + n]
        assert len(v) == n, "TLV past the end"
        out["tlvs"].append((t, v))
        off += 3 + n
    assert off == len(body)
    return out


def ingress(tmp_path, enclave_uri, app_uri, **env):
    e = {"LISTEN": "tcp://127.0.0.1:0", "ENCLAVE": enclave_uri, "MAIN_APP_ADDR": app_uri,
         "RETURN_LISTEN": "tcp://127.0.0.1:0", "LOG_LEVEL": "debug"}
    e.update({k: str(v) for k, v in env.items()})
    return Proxy(tmp_path, "ingress", e)


@pytest.mark.parametrize("busy_us", [0, 200], ids=["plain", "busy-poll"])
def test_proxy_v2_header_then_untouched_bytes(tmp_path, busy_us):
    seen = {}

    def enclave(c):
        seen["hdr"] = decode_pp2(c)
        data = recv_all(c)
        seen["data"] = data
        c.sendall(data[::-1])
        c.shutdown(socket.SHUT_WR)
        c.close()

    enc = Server(enclave)
    p = ingress(tmp_path, enc.uri, "127.0.0.1:9", BUSY_POLL_US=busy_us)
    try:
        s = p.connect("ingress")
        client_port = s.getsockname()[1]
        payload = os.urandom(1 << 20)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        back = recv_all(s)
        s.close()
        assert back == payload[::-1]
        assert seen["data"] == payload
        h = seen["hdr"]
        assert h["cmd"] == 1 and h["family"] == 1 and h["transport"] == 1
        assert h["src"] == "127.0.0.1" and h["sport"] == client_port
        assert h["dst"] == "127.0.0.1" and h["dport"] == p.port("ingress")
        ret = [v for t, v in h["tlvs"] if t == 0xE0]
        assert ret == [p.endpoints["return"].encode()]
        p.wait_log(lambda l: "TLV 0xE0" in l.get("msg", ""))
    finally:
        assert p.stop() == 0
        enc.close()


@pytest.mark.parametrize("busy_us", [0, 200], ids=["plain", "busy-poll"])
def test_return_path_reaches_main_app(tmp_path, busy_us):
    """The enclave side connects to the endpoint named in the TLV and its bytes reach the app."""
    got = {}

    def app(c):
        req = b""
        while b"\r\n\r\n" not in req:
            d = c.recv(4096)
            if not d:
                break
            req += d
        got["req"] = req
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        c.close()

    def enclave(c):
        hdr = decode_pp2(c)
        got["ret"] = dict(hdr["tlvs"])[0xE0].decode()
        c.close()

    enc, appsrv = Server(enclave), Server(app)
    p = ingress(tmp_path, enc.uri, f"127.0.0.1:{appsrv.port}", BUSY_POLL_US=busy_us)
    try:
        s = p.connect("ingress")
        s.sendall(b"x")
        s.close()
        for _ in range(500):
            if "ret" in got:
                break
            time.sleep(0.01)
        uri = got["ret"]
        assert uri.startswith("tcp://127.0.0.1:")
        r = socket.create_connection(("127.0.0.1", int(uri.rsplit(":", 1)[1])), timeout=10)
        r.sendall(b"POST /orders HTTP/1.1\r\nHost: app\r\nContent-Length: 0\r\n\r\n")
        assert recv_all(r).endswith(b"\r\n\r\nhi")
        r.close()
        assert got["req"].startswith(b"POST /orders HTTP/1.1\r\n")
    finally:
        assert p.stop() == 0
        enc.close()
        appsrv.close()


def test_unix_enclave_endpoint_and_advertise_override(tmp_path):
    seen = {}

    def enclave(c):
        seen["hdr"] = decode_pp2(c)
        c.sendall(recv_exact(c, 5))
        c.close()

    enc = Server(enclave, unix_path=tmp_path / "enclave.sock")
    p = ingress(tmp_path, enc.uri, "127.0.0.1:9", RETURN_ADVERTISE="vsock://3:5001")
    try:
        s = p.connect("ingress")
        s.sendall(b"hello")
        assert recv_exact(s, 5) == b"hello"
        s.close()
        assert dict(seen["hdr"]["tlvs"])[0xE0] == b"vsock://3:5001"
    finally:
        assert p.stop() == 0
        enc.close()


def test_many_clients_each_get_their_own_header(tmp_path):
    ports = []
    lock = threading.Lock()

    def enclave(c):
        h = decode_pp2(c)
        with lock:
            ports.append(h["sport"])
        c.sendall(recv_exact(c, 4))
        c.close()

    enc = Server(enclave)
    p = ingress(tmp_path, enc.uri, "127.0.0.1:9")
    try:
        mine = []
        for i in range(50):
            s = p.connect("ingress")
            mine.append(s.getsockname()[1])
            s.sendall(b"%04d" % i)
            assert recv_exact(s, 4) == b"%04d" % i
            s.close()
        assert sorted(ports) == sorted(mine)
    finally:
        assert p.stop() == 0
        enc.close()


def test_default_return_listener_is_vsock_and_announced_as_cid_3(tmp_path):
    """RETURN_LISTEN defaults to vsock://any:0 (any free port); the TLV names the parent as the
    enclave sees it (CID 3) with the port the socket bound. The vsock socket is set up for real."""
    import re
    seen = {}

    def enclave(c):
        seen["hdr"] = decode_pp2(c)
        recv_all(c)
        c.close()

    enc = Server(enclave)
    e = {"LISTEN": "tcp://127.0.0.1:0", "ENCLAVE": enc.uri, "MAIN_APP_ADDR": "127.0.0.1:9"}
    p = Proxy(tmp_path, "ingress", e)
    try:
        bound = p.endpoints["return"]
        m = re.fullmatch(r"vsock://any:(\d+)", bound)
        assert m and int(m.group(1)) > 0
        s = p.connect("ingress")
        s.sendall(b"x")
        s.shutdown(socket.SHUT_WR)
        recv_all(s)
        s.close()
        for _ in range(500):
            if "hdr" in seen:
                break
            time.sleep(0.01)
        assert dict(seen["hdr"]["tlvs"])[0xE0] == f"vsock://3:{m.group(1)}".encode()
    finally:
        assert p.stop() == 0
        enc.close()


def test_ingress_config(bin_dir):
    import subprocess
    r = subprocess.run([str(bin_dir / "nitro-enc-proxy"), "ingress", "--check-config"],
                       env={"ENCLAVE_CID": "16", "MAIN_APP_ADDR": "127.0.0.1:8080"},
                       capture_output=True, text=True)
    assert r.returncode == 0
    assert "ENCLAVE=vsock://16:443" in r.stdout and "LISTEN=tcp://0.0.0.0:8443" in r.stdout
    assert "RETURN_LISTEN=vsock://any:0" in r.stdout
    r = subprocess.run([str(bin_dir / "nitro-enc-proxy"), "ingress"], env={"ENCLAVE_PORT": "x"},
                       capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 3  # ENCLAVE_PORT, ENCLAVE_CID, MAIN_APP_ADDR
