"""Start and stop the real nitro-enc-svc binary for the integration suite.

Every service runs in its own temporary directory in --local-mode (self-signed certificate and
dev key generated there), listens on a free loopback port, and writes its JSON log lines to a
file. Every log file is kept in LOG_FILES so a final test can check that no plaintext value sent
during the whole run ever reached a log.
"""
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(__file__).resolve().parent / "data"
BIN = pathlib.Path(os.environ.get("NES_BIN", ROOT / "build" / "bin"))

LOG_FILES = []  # every service log of this run
PLAINTEXTS = set()  # every PII plaintext sent to any service
OBSERVED = set()  # (method, path, status) answered by any service, checked against the OpenAPI doc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def remember(*values):
    """Records plaintext values sent so the log check can look for them."""
    for v in values:
        PLAINTEXTS.add(str(v))


class Service:
    """One nitro-enc-svc process."""

    def __init__(self, tmp_path, env=None, args=("--local-mode",), specs=("payments", "twoops"),
                 wait_ready=True, listen=None, cafile=None):
        self.dir = pathlib.Path(tmp_path)
        self._cafile = cafile
        self.dir.mkdir(parents=True, exist_ok=True)
        schemas = self.dir / "schemas"
        if specs is not None:
            schemas.mkdir(exist_ok=True)
            for name in specs:
                shutil.copy(DATA / "specs" / f"{name}.yaml", schemas / f"{name}.yaml")
        self.port = free_port()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LISTEN": listen or f"tcp://127.0.0.1:{self.port}",
            "WORKER_THREADS": "2",
            "SHUTDOWN_GRACE_SECS": "5",
        }
        for k in ("SOFTHSM2_CONF", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        self.env.update(env or {})
        self.log_path = self.dir / "service.log"
        LOG_FILES.append(self.log_path)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(BIN / "nitro-enc-svc"), *args], cwd=self.dir,
                                     env=self.env, stdout=subprocess.PIPE, stderr=self.log)
        self.started_at = time.monotonic()
        self._wait_listening()
        if wait_ready:
            self.wait_ready()

    # ---- lifecycle -----------------------------------------------------------------------
    def _wait_listening(self, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with {self.proc.returncode}:\n{self.logs()}")
            if '"msg":"listening"' in self.logs():
                return
            time.sleep(0.02)
        raise RuntimeError("service did not start listening:\n" + self.logs())

    def wait_ready(self, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            status, _, _ = self.request("GET", "/readyz")
            if status == 200:
                return
            time.sleep(0.05)
        raise RuntimeError("service never became ready:\n" + self.logs())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self):
        out = []
        for line in self.logs().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return out

    # ---- clients -------------------------------------------------------------------------
    @property
    def cafile(self) -> str:
        if self._cafile:
            return str(self._cafile)
        return str(self.dir / ".nitro-enc" / "tls.crt")

    def context(self, cert=None, key=None, cafile=None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=cafile or self.cafile)
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx

    def connection(self, ctx=None, timeout=10) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx or self.context(),
                                           timeout=timeout)

    def request(self, method, path, body=None, headers=None, ctx=None, conn=None):
        """One request; returns (status, headers dict lower-cased, body bytes)."""
        own = conn is None
        conn = conn or self.connection(ctx)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            OBSERVED.add((method, path.split("?")[0], resp.status))
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            if own:
                conn.close()

    def encrypt(self, body, schema="payments", conn=None, extra=None):
        headers = {"Content-Type": "application/json", "X-Schema-Name": schema}
        headers.update(extra or {})
        return self.request("POST", "/encrypt", body, headers, conn=conn)

    def raw_tls(self, timeout=10) -> ssl.SSLSocket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return self.context().wrap_socket(sock, server_hostname="localhost")

    def metric(self, name) -> float:
        """Sum of every sample of a metric (labels ignored)."""
        _, _, body = self.request("GET", "/metrics")
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total


def read_response(sock) -> tuple:
    """Reads one HTTP/1.1 response with a Content-Length from a raw socket."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:n], rest[n:]


PAYMENT = {
    "name": "Ada Lovelace",
    "ssn": "078-05-1120",
    "email": "ada@example.org",
    "phone": "+44 20 7946 0958",
    "card": {"number": "4111111111111111", "cvv": "cvv-9q7z", "expiry": "12/29"},
    "amount": 12.5,
    "currency": "GBP",
    "note": "tea",
}
PAYMENT_PII = ["Ada Lovelace", "078-05-1120", "ada@example.org", "+44 20 7946 0958",
               "4111111111111111", "cvv-9q7z"]
remember(*PAYMENT_PII)
