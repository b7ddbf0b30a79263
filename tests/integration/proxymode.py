"""Peers for the proxy-mode tests: a recording HTTP/1.1 test application, a raw TLS client and a
response reader that keeps the exact bytes (so a test can compare what the application sent with
what the client received, byte for byte)."""
import hashlib
import json
import os
import socket
import socketserver
import ssl
import threading
import time

BIG = 6 * 1024 * 1024  # the multi-MiB response
HUGE = 48 * 1024 * 1024  # the slow-reader response


def big_body():
    block = hashlib.sha256(b"nes").digest() * 2048  # 64 KiB
    return (block * (BIG // len(block) + 1))[:BIG]


def huge_body():
    return bytes(range(256)) * (HUGE // 256)


class App:
    """A small HTTP/1.1 application (TCP or Unix socket) that records every request it receives
    (method, target, headers, body) and every response it writes (raw bytes). The last path segment picks the answer:
      chunked        a chunked response (several chunks, an extension, no trailer)
      huge           a HUGE-byte Content-Length response
      big            a BIG-byte Content-Length response
      slow           answers after 3 s
      early          413 before reading the body, 4 s without reading, a lingering close
      cut            announces 100000 bytes, sends 100, closes
      dropnext       answers (keep-alive), then closes on the next request unanswered
      bad            an invalid status line
      close          an HTTP/1.0-style close-delimited response
      anything else  JSON {"seen": <body length>} with Content-Length, keep-alive."""

    def __init__(self, unix_path=None):
        self.requests = []
        self.responses = []
        self.connections = 0
        self.lock = threading.Lock()
        app = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with app.lock:
                    app.connections += 1
                state = {"sock": self.connection}
                while app.serve_one(self.rfile, self.wfile, state):
                    pass

        if unix_path:
            class Srv(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
                daemon_threads = True
            self.srv = Srv(str(unix_path), Handler)
            self.uri = f"unix://{unix_path}"
            self.addr = None
        else:
            class Srv(socketserver.ThreadingMixIn, socketserver.TCPServer):
                daemon_threads = True
                allow_reuse_address = True
            self.srv = Srv(("127.0.0.1", 0), Handler)
            port = self.srv.server_address[1]
            self.uri = f"tcp://127.0.0.1:{port}"
            self.addr = f"127.0.0.1:{port}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def serve_one(self, rfile, wfile, state):
        line = rfile.readline(65537)
        if not line:
            return False
        method, target, _ = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers = []
        while True:
            h = rfile.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            k, v = h.decode("latin-1").split(":", 1)
            headers.append((k.strip(), v.strip()))
        hd = {k.lower(): v for k, v in headers}
        if "transfer-encoding" in hd:
            raise AssertionError("the service must forward with Content-Length")
        if target.rsplit("/", 1)[-1] == "early":
            # answers before reading the body, then closes without a reset (lingering)
            out = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\nConnection: close" \
                  b"\r\n\r\nnope"
            with self.lock:
                self.requests.append({"method": method, "target": target, "headers": headers,
                                      "h": hd, "body": b""})
                self.responses.append(out)
            wfile.write(out)
            wfile.flush()
            self.early_at = time.monotonic()
            time.sleep(4)  # reads nothing for a while: the sender must not wait for that
            sock = state["sock"]
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(10)
            try:
                while sock.recv(1 << 20):
                    pass
            except OSError:
                pass
            return False
        body = rfile.read(int(hd.get("content-length", "0")))
        with self.lock:
            self.requests.append({"method": method, "target": target, "headers": headers,
                                  "h": hd, "body": body})
        keep = hd.get("connection", "").lower() != "close"
        if state.pop("drop", False):
            return False  # closes the kept-alive connection without an answer
        last = target.split("?")[0].rsplit("/", 1)[-1]
        if last == "chunked":
            chunks = [b"first chunk\n", b"x" * 5000, b"{\"last\":true}"]
            out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-App: chunked\r\n" \
                  b"Transfer-Encoding: chunked\r\n\r\n"
            out += b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        elif last == "big":
            out = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" \
                  b"Content-Length: %d\r\n\r\n" % BIG + big_body()
        elif last == "slow":
            time.sleep(3)
            out = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        elif last == "huge":
            out = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % HUGE + huge_body()
        elif last == "cut":
            out = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"c" * 100
            keep = False  # closes 100 bytes into a 100000-byte body
        elif last == "dropnext":
            state["drop"] = True  # answer, keep the connection, then drop the next request
            out = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndrop"
        elif last == "bad":
            out = b"HTTP/1.1 2000 Broken\r\nContent-Length: 0\r\n\r\n"
        elif last == "close":
            out = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" \
                  b"until the end"
            keep = False
        else:
            payload = json.dumps({"seen": len(body)}).encode()
            out = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-App: yes\r\n" \
                  b"Keep-Alive: timeout=5\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload)
        if method == "HEAD":
            out = out.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        with self.lock:
            self.responses.append(out)
        wfile.write(out)
        wfile.flush()
        return keep


def tls_connect(port, cafile, timeout=20):
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


class Reader:
    """Reads HTTP/1.1 responses from a socket, keeping each one's raw bytes."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def _more(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        parts, have = [self.buf], len(self.buf)
        while have < n:  # collected in a list: appending to bytes would be quadratic
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError("connection closed")
            parts.append(d)
            have += len(d)
        data = b"".join(parts)
        self.buf = data[n:]
        return data[:n]

    def response(self, head_request=False):
        """(status, headers dict lower-case, decoded body, raw head, raw body)."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        hd = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            hd[k.strip().lower()] = v.strip()
        raw = b""
        body = b""
        if head_request or status in (204, 304) or status < 200:
            pass
        elif hd.get("transfer-encoding", "").lower() == "chunked":
            while True:
                line = self._line()
                raw += line + b"\r\n"
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    end = self._line()
                    raw += end + b"\r\n"
                    break
                data = self._take(n + 2)
                raw += data
                body += data[:-2]
        elif "content-length" in hd:
            body = raw = self._take(int(hd["content-length"]))
        else:
            try:
                while True:
                    self._more()
            except (EOFError, ConnectionError, ssl.SSLError):
                pass
            body = raw = self.buf
            self.buf = b""
        return status, hd, body, head + b"\r\n\r\n", raw


def request_bytes(method, target, body=b"", headers=()):
    h = [("Host", "shop.example"), ("X-Schema-Name", "shop")] + list(headers)
    if body or method in ("POST", "PUT", "PATCH"):
        h.append(("Content-Length", str(len(body))))
        if not any(k.lower() == "content-type" for k, _ in h):
            h.append(("Content-Type", "application/json"))
    return (f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h) +
            "\r\n").encode() + body


def pp2_header(src=("198.51.100.23", 40000), dst=("127.0.0.1", 443), ret=None, tlvs=b"",
               version=0x2, command=0x1, family=0x11, length=None, sig=None):
    import ipaddress
    import struct
    addr = ipaddress.IPv4Address(src[0]).packed + ipaddress.IPv4Address(dst[0]).packed + \
        struct.pack(">HH", src[1], dst[1])
    if ret is not None:
        tlvs = struct.pack(">BH", 0xE0, len(ret)) + ret.encode() + tlvs
    body = addr + tlvs
    sig = sig if sig is not None else b"\r\n\r\n\x00\r\nQUIT\n"
    n = len(body) if length is None else length
    return sig + bytes([(version << 4) | command, family]) + struct.pack(">H", n) + body


def sha(b):
    return hashlib.sha256(b).hexdigest()


def env_for_tests():
    return {k: os.environ[k] for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if k in os.environ}
