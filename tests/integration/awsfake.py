"""Small programmable HTTP peers for the AWS fault tests: what moto cannot be made to do.

FakeAws answers every request with a handler the test sets (status, headers, body; or a callable
that writes the raw answer itself), records each request, and can stand in for KMS, Secrets
Manager, S3 or IMDS. ConnectProxy is an HTTP CONNECT proxy on TCP or a Unix socket (the egress
path); it records the targets it was asked for.
"""
import os
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from awspeer import pipe


class Request:
    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body


class FakeAws:
    """handler(req) -> (status, headers dict, body bytes) or None after writing via req.wfile."""

    def __init__(self, tls=None):
        """tls: (certfile, keyfile) to serve HTTPS instead of HTTP."""
        self.requests = []
        self.handler = lambda req: (200, {}, b"{}")
        self.bytes_sent = 0
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = Request(self.command, self.path, dict(self.headers), body)
                req.wfile = self.wfile
                req.client = self.client_address
                req.handler = self
                fake.requests.append(req)
                ans = fake.handler(req)
                if ans is None:
                    self.close_connection = True
                    return
                status, headers, data = ans
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                    fake.bytes_sent += len(data)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if tls is not None:
            import ssl  # pylint: disable=import-outside-toplevel
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _relay(a, b):
    ts = [threading.Thread(target=pipe, args=(a, b), daemon=True),
          threading.Thread(target=pipe, args=(b, a), daemon=True)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)


class ConnectProxy:
    """HTTP CONNECT proxy on 127.0.0.1 (tcp) or a Unix socket path. With `forward_to`, it is a
    fixed port forward instead (every connection relayed to that host:port, no CONNECT)."""

    def __init__(self, unix_path=None, forward_to=None):
        self.targets = []
        self.unix_path = unix_path
        self.forward_to = forward_to
        proxy = self

        class H(socketserver.BaseRequestHandler):
            def handle(self):
                c = self.request
                if proxy.forward_to:
                    proxy.targets.append("forward")
                    b = socket.create_connection(proxy.forward_to)
                    _relay(c, b)
                    return
                data = b""
                while b"\r\n\r\n" not in data:
                    d = c.recv(4096)
                    if not d:
                        return
                    data += d
                line = data.split(b"\r\n", 1)[0].decode()
                method, target, _ = line.split(" ", 2)
                proxy.targets.append(target)
                if method != "CONNECT":
                    c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    return
                host, port = target.rsplit(":", 1)
                try:
                    b = socket.create_connection((host, int(port)), timeout=5)
                except OSError:
                    c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                    return
                c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _relay(c, b)

        if unix_path:
            if os.path.exists(unix_path):
                os.unlink(unix_path)

            class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
                daemon_threads = True
            self.server = S(unix_path, H)
        else:
            class T(socketserver.ThreadingMixIn, socketserver.TCPServer):
                daemon_threads = True
                allow_reuse_address = True
            self.server = T(("127.0.0.1", 0), H)
            self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def amz_time(t=None):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t if t is not None else time.time()))


def http_date(t=None):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                         time.gmtime(t if t is not None else time.time()))
