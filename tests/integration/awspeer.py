"""A real AWS-protocol peer for the integration tests: moto in server mode behind a small gate.

moto (`python -m moto.server`) serves KMS, Secrets Manager and S3 with their wire protocols on a
free loopback port. Programs under test reach it through a TCP gate on another free port, so a
test can take the peer away and bring it back without losing moto's state:

    peer.down()     # new connections are refused, open ones are cut (state kept)
    peer.up()       # the same URL answers again
    peer.stop()     # moto itself exits (state lost); peer.start() starts a fresh one

`peer.env()` gives the variables our programs read (AWS_ENDPOINT_URL, AWS_REGION and dummy
credentials); `peer.client("kms")` is a boto3 client on the same endpoint for setting up and
reading back. moto checks no signatures: tests must check bodies, not only statuses.
"""
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

REGION = "us-east-1"
ACCESS_KEY = "AKIDEXAMPLETESTKEY00"
SECRET_KEY = "testsecret/notreal+0123456789abcdefghijk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pipe(src, dst):
    """Copies src to dst until src ends or fails, then shuts both down (one direction of a
    relay; awsfake's CONNECT proxy uses it too)."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Gate:
    """A TCP relay 127.0.0.1:port -> 127.0.0.1:backend that can be closed and reopened."""

    def __init__(self, backend_port: int, port: int = 0):
        self.backend_port = backend_port
        self.port = port
        self._lsock = None
        self._conns = set()
        self._lock = threading.Lock()
        self.accepted = 0

    def open(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(128)
        self.port = s.getsockname()[1]
        self._lsock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def close(self):
        s, self._lsock = self._lsock, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, lsock):
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                b = socket.create_connection(("127.0.0.1", self.backend_port), timeout=5)
                b.settimeout(None)
            except OSError:
                c.close()
                continue
            with self._lock:
                self._conns.update((c, b))
            for src, dst in ((c, b), (b, c)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src, dst):
        pipe(src, dst)
        with self._lock:
            self._conns.discard(src)
            self._conns.discard(dst)


class MotoPeer:
    """moto server + gate. Use as a context manager or call start()/close()."""

    def __init__(self, region: str = REGION):
        self.region = region
        self.moto_port = free_port()
        self.proc = None
        self.gate = None
        self.log = None

    # --- lifecycle -----------------------------------------------------------------------
    def start(self, timeout: float = 30.0):
        """Starts moto (fresh state) and opens the gate; returns once moto answers."""
        env = dict(os.environ)
        env.update({"AWS_DEFAULT_REGION": self.region, "MOTO_ALLOW_NONEXISTENT_REGION": "1"})
        self.log = open(os.devnull, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)],
            stdout=self.log, stderr=self.log, env=env)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{self.moto_port}/moto-api/data.json", timeout=2) as r:
                    r.read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start")
                time.sleep(0.05)
        if self.gate is None:
            self.gate = Gate(self.moto_port)
            self.gate.open()
        return self

    def stop(self):
        """Stops moto (its state is lost); the gate stays open and cuts every connection."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def down(self):
        """Refuses new connections and cuts open ones; moto keeps running with its state."""
        self.gate.close()

    def up(self):
        """Answers again on the same port after down()."""
        self.gate.open()

    def close(self):
        if self.gate is not None:
            self.gate.close()
        self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # --- what tests use ------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.gate.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gate.port}"

    def env(self, **extra) -> dict:
        """Variables for our programs: endpoint, region and dummy static credentials."""
        e = {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def client(self, service: str):
        """A boto3 client for `service` on this peer (straight to moto, not through the gate)."""
        import boto3  # pylint: disable=import-outside-toplevel
        from botocore.config import Config  # pylint: disable=import-outside-toplevel
        return boto3.client(
            service, region_name=self.region, endpoint_url=f"http://127.0.0.1:{self.moto_port}",
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
