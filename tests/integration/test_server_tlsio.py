"""The service's TLS transport (src/enclave/tlsio.c): a response's header record is held back
and leaves with its body in one send, and small records are read ahead. These tests drive the
edges of that: responses without a body (HEAD), a client that pipelines many requests without
reading (the socket buffer fills, sends come back short), a slow reader of a large response,
and pipelined requests that arrive in one segment."""
import json
import socket
import ssl
import time

import pytest

from svc import PAYMENT, Service, read_response

WANT = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("tlsio"), wait_ready=True)
    yield s
    assert s.stop() == 0


class Reader:
    """Reads consecutive responses from one socket (keeps what was read past a response)."""

    def __init__(self, sock):
        self.sock, self.data = sock, b""

    def recv(self, n):
        if self.data:
            d, self.data = self.data, b""
            return d
        return self.sock.recv(n)

    def response(self):
        status, headers, body, self.data = read_response(self)
        return status, headers, body


def small_rcvbuf_tls(svc, rcvbuf=4096, timeout=20):
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.settimeout(timeout)
    raw.connect(("127.0.0.1", svc.port))
    return svc.context().wrap_socket(raw, server_hostname="localhost")


def test_head_then_get_on_one_connection(svc):
    # HEAD answers carry no body: nothing may stay held back waiting for one.
    sock = svc.raw_tls(timeout=5)
    try:
        rd = Reader(sock)
        for path in ("/healthz", "/openapi.yaml", "/healthz"):
            sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(4096)
                assert chunk, "closed"
                buf += chunk
            assert buf.startswith(b"HTTP/1.1 200 ")
            assert buf.endswith(b"\r\n\r\n")  # the header only
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = rd.response()
        assert status == 200 and json.loads(body) == {"status": "ok"}
    finally:
        sock.close()


def test_many_pipelined_requests_unread_until_the_end(svc):
    # 400 requests sent before reading anything: the server's socket buffer fills, its sends
    # come back short and must resume on EPOLLOUT with every byte in order.
    body = json.dumps(PAYMENT).encode()
    req = (b"POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"X-Schema-Name: payments\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
           + body)
    _, _, expected = svc.encrypt(PAYMENT)
    n = 400
    sock = small_rcvbuf_tls(svc)
    try:
        sock.setblocking(False)
        out, got, rd_data = req * n, b"", b""
        deadline = time.monotonic() + 30
        sent = 0
        while sent < len(out):  # send everything, reading only when sending would block
            assert time.monotonic() < deadline
            try:
                sent += sock.send(out[sent:sent + 65536])
            except WANT:
                time.sleep(0.05)  # the server blocks on us; let it stall a moment
                try:
                    rd_data += sock.recv(65536)
                except WANT:
                    pass
        sock.setblocking(True)
        sock.settimeout(20)
        rd = Reader(sock)
        rd.data = rd_data
        for i in range(n):
            status, _, resp = rd.response()
            assert status == 200, i
            assert resp == expected, i
    finally:
        sock.close()


def test_slow_reader_of_a_large_response(svc):
    doc = dict(PAYMENT, note="n" * (600 * 1024))
    body = json.dumps(doc).encode()
    _, _, expected = svc.encrypt(body)
    sock = small_rcvbuf_tls(svc)
    try:
        for _ in range(2):  # the second response follows a slowly drained first one
            sock.sendall(b"POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"X-Schema-Name: payments\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            time.sleep(0.3)  # let the server fill its buffer and stall

            class Slow(Reader):
                def recv(self, n):
                    time.sleep(0.001)
                    return super().recv(min(n, 8192))

            rd = Slow(sock)
            status, _, resp = rd.response()
            assert status == 200 and resp == expected
            assert rd.data == b""
    finally:
        sock.close()


def test_pipelined_requests_in_one_segment_then_idle(svc):
    # Both requests arrive in one TLS record batch; the second is read ahead with the first and
    # must be answered without any further bytes from the client.
    sock = svc.raw_tls(timeout=5)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        rd = Reader(sock)
        assert rd.response()[0] == 200
        assert rd.response()[0] in (200, 503)
    finally:
        sock.close()


def test_many_connections_interleaved(svc):
    # Requests on many connections of the same worker threads, sent in small pieces in turn:
    # read-ahead bytes of one connection must never be handed to another.
    socks = [svc.raw_tls(timeout=10) for _ in range(20)]
    try:
        reqs = [f"GET /healthz?c={i} HTTP/1.1\r\nHost: x\r\nX-Pad: {'p' * i}\r\n\r\n".encode()
                for i in range(len(socks))]
        for rnd in range(3):
            for k in (0, 16, 32, 48):  # every request in four records, connections in turn
                for s, r in zip(socks, reqs):
                    s.sendall(r[k:k + 16] if k < 48 else r[k:])
            for s in socks:
                status, _, body = Reader(s).response()
                assert status == 200 and json.loads(body) == {"status": "ok"}, rnd
    finally:
        for s in socks:
            s.close()
