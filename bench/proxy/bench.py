#!/usr/bin/env python3
"""bench/proxy/bench.py BIN_DIR [--rounds N] [--bulk-mib M] [--requests R]

nitro-enc-proxy relaying TCP -> TCP beside socat doing the same job, on loopback, in alternating
rounds (direct, proxy, socat, ...). Prints one table:

  * bulk: one connection sends M MiB to a sink; MB/s (median of rounds);
  * rr64: 64 connections each doing R round trips of a 64-byte request and response against an
    echo server; p50 / p99 latency, and the latency each relay adds over the direct path.

Then (2), unless --no-proxy-mode: bench/proxy/proxymode.py, proxy mode end to end (client ->
sidecar -> service -> sidecar -> app) beside the client calling the app directly over TLS, req/s
and p50/p99 for the 1 KiB payments body with 6 PII fields (its own table).

A figure, not a test: run it on a quiet machine (the peers are Python, so absolute numbers
include their cost; the comparison between the relays is the point).
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(handler):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(256)

    def loop():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handler, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return srv, srv.getsockname()[1]


def sink(c):
    buf = bytearray(1 << 20)
    while c.recv_into(buf):
        pass
    c.sendall(b"k")
    c.close()


def echo(c):
    while True:
        d = c.recv(4096)
        if not d:
            break
        c.sendall(d)
    c.close()


def wait_port(port, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Relay:
    def __init__(self, kind, bin_dir, upstream_port):
        self.port = free_port()
        if kind == "proxy":
            env = dict(os.environ, LISTEN=f"tcp://127.0.0.1:{self.port}",
                       UPSTREAM=f"127.0.0.1:{upstream_port}", LOG_LEVEL="warn")
            self.p = subprocess.Popen([os.path.join(bin_dir, "nitro-enc-proxy"), "egress"],
                                      env=env, stderr=subprocess.DEVNULL)
        else:
            self.p = subprocess.Popen(["socat", f"TCP-LISTEN:{self.port},reuseaddr,fork,bind=127.0.0.1",
                                       f"TCP:127.0.0.1:{upstream_port},nodelay"],
                                      stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def close(self):
        self.p.terminate()
        self.p.wait(10)


def bulk(port, mib):
    block = memoryview(os.urandom(1 << 20))
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.perf_counter()
    for _ in range(mib):
        s.sendall(block)
    s.shutdown(socket.SHUT_WR)
    assert s.recv(1) == b"k"
    dt = time.perf_counter() - t0
    s.close()
    return mib * (1 << 20) / dt / 1e6


def rr64(port, requests):
    lat = []
    lock = threading.Lock()
    msg = b"q" * 64
    barrier = threading.Barrier(64)

    def worker():
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mine = []
        barrier.wait()
        for _ in range(requests):
            t0 = time.perf_counter_ns()
            s.sendall(msg)
            got = 0
            while got < 64:
                got += len(s.recv(64 - got))
            mine.append(time.perf_counter_ns() - t0)
        s.close()
        with lock:
            lat.extend(mine)
    ts = [threading.Thread(target=worker) for _ in range(64)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    lat.sort()
    return lat[len(lat) // 2] / 1000, lat[int(len(lat) * 0.99)] / 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bulk-mib", type=int, default=2048)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--no-proxy-mode", action="store_true",
                    help="skip part (2): proxy mode end to end (bench/proxy/proxymode.py)")
    a = ap.parse_args()
    sink_srv, sink_port = serve(sink)
    echo_srv, echo_port = serve(echo)
    res = {k: {"bulk": [], "p50": [], "p99": []} for k in ("direct", "proxy", "socat")}
    for r in range(a.rounds):
        for kind in ("direct", "proxy", "socat"):
            if kind == "direct":
                res[kind]["bulk"].append(bulk(sink_port, a.bulk_mib))
                p50, p99 = rr64(echo_port, a.requests)
            else:
                rb = Relay(kind, a.bin_dir, sink_port)
                res[kind]["bulk"].append(bulk(rb.port, a.bulk_mib))
                rb.close()
                re_ = Relay(kind, a.bin_dir, echo_port)
                p50, p99 = rr64(re_.port, a.requests)
                re_.close()
            res[kind]["p50"].append(p50)
            res[kind]["p99"].append(p99)
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    med = {k: {m: statistics.median(v) for m, v in d.items()} for k, d in res.items()}
    print(f"{'path':<8} {'bulk MB/s':>10} {'rr64 p50 us':>12} {'rr64 p99 us':>12} "
          f"{'added p50':>10} {'added p99':>10}")
    for k in ("direct", "proxy", "socat"):
        m = med[k]
        add50 = "-" if k == "direct" else f"{m['p50'] - med['direct']['p50']:.0f}"
        add99 = "-" if k == "direct" else f"{m['p99'] - med['direct']['p99']:.0f}"
        print(f"{k:<8} {m['bulk']:>10.0f} {m['p50']:>12.0f} {m['p99']:>12.0f} {add50:>10} {add99:>10}")
    print(f"({a.rounds} alternating rounds, medians; bulk {a.bulk_mib} MiB over one connection; "
          f"rr64: 64 connections x {a.requests} round trips of 64 bytes)")
    sink_srv.close()
    echo_srv.close()
    if not a.no_proxy_mode:  # (2) proxy mode end to end vs direct (its own table)
        print()
        sys.stdout.flush()
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "proxymode.py"),
                        a.bin_dir, "--rounds", str(a.rounds)], check=False)


if __name__ == "__main__":
    main()
