"""Start and stop the real nitro-enc-proxy binary, and small TCP peers for the relay tests.

Every proxy listens on free loopback ports (port 0, announced in its "listening" log lines) and
writes its JSON log lines to a file in the test's temporary directory.
"""
import json
import os
import pathlib
import resource
import signal
import socket
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("NES_BIN", ROOT / "build" / "bin"))


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Proxy:
    """One nitro-enc-proxy process (mode "ingress" or "egress")."""

    def __init__(self, tmp_path, mode, env, wait_for=None):
        self.dir = pathlib.Path(tmp_path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WORKER_THREADS": "2",
                    "SHUTDOWN_GRACE_SECS": "5"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        self.env.update(env)
        self.log_path = self.dir / f"proxy-{mode}-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(BIN / "nitro-enc-proxy"), mode], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"proxy exited with {self.proc.returncode}:\n{self.logs()}")
            if '"started"' in self.logs() or "started\"" in self.logs():
                break
            time.sleep(0.02)
        else:
            raise RuntimeError(f"proxy did not start:\n{self.logs()}")
        self.endpoints = {l["listener"]: l["endpoint"] for l in self.lines()
                          if l.get("msg") == "listening"}

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines(self):
        out = []
        for line in self.logs().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_log(self, pred, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for l in self.lines():
                if pred(l):
                    return l
            time.sleep(0.02)
        raise AssertionError(f"no such log line; log:\n{self.logs()}")

    def port(self, listener="egress") -> int:
        return int(self.endpoints[listener].rsplit(":", 1)[1])

    def rss_kib(self) -> int:
        for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return -1

    def threads(self) -> dict:
        """Per thread id: (CPU time used so far in ns, times it went to sleep), from
        /proc/PID/task/TID/schedstat and the voluntary_ctxt_switches of its status."""
        out = {}
        for t in pathlib.Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                cpu = int((t / "schedstat").read_text().split()[0])
                sleeps = next(int(l.split()[1]) for l in (t / "status").read_text().splitlines()
                              if l.startswith("voluntary_ctxt_switches:"))
            except (OSError, ValueError, IndexError, StopIteration):
                continue  # a thread that ended meanwhile
            out[int(t.name)] = (cpu, sleeps)
        return out

    def connect(self, listener="egress", timeout=10) -> socket.socket:
        ep = self.endpoints[listener]
        if ep.startswith("unix://"):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(timeout)
            s.connect(ep[len("unix://"):])
            return s
        return socket.create_connection(("127.0.0.1", self.port(listener)), timeout=timeout)

    def metrics(self, listener="metrics") -> dict:
        with self.connect(listener) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            data = recv_all(s)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop(self, timeout=20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def recv_all(s, limit=1 << 30) -> bytes:
    buf = bytearray()
    while len(buf) < limit:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    return bytes(buf)


def recv_exact(s, n) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += d
    return bytes(buf)


class Server:
    """A TCP (or Unix) server on a free loopback port running `handler(conn)` per connection in a
    thread. Keeps every accepted connection so tests can inspect or close them."""

    def __init__(self, handler, unix_path=None):
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(str(unix_path))
            self.uri = f"unix://{unix_path}"
        else:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.uri = f"tcp://127.0.0.1:{self.port}"
        self.sock.listen(1024)
        self.handler = handler
        self.conns = []
        self.errors = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            self.handler(c)
        except Exception as e:  # noqa: BLE001 - recorded for the test to assert on
            self.errors.append(e)

    def close(self):
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def echo_handler(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)
    c.close()


def dead_port() -> int:
    """A loopback port with no listener."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
