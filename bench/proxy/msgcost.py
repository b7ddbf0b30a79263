#!/usr/bin/env python3
"""bench/proxy/msgcost.py BIN_DIR [--trips T] [--conns C] [--strace] [--perf]

What one relayed message costs nitro-enc-proxy, in load-insensitive units: CPU time of the relay
process (user + system, from /proc) per relayed message, and with --strace the syscalls per
relayed message by name (strace -c -f attached to the relay), with --perf the instructions per
relayed message (user and kernel; perf stat attached to the relay).

The relay (`nitro-enc-proxy egress` with a fixed UPSTREAM) sits in front of bench.py's echo
server; C connections each do T sequential 64-byte round trips (C=1: the one-connection
ping-pong of bench.py; C>1: driven from one epoll client thread). A round trip is two relayed
messages (request up, echo down). Connections are opened before the counting starts, so the
figures are the steady state of relaying, not connection setup.

Not a test and not a throughput figure: the CPU and syscall counts per message are what it is
for (they hold on a busy machine; wall-clock numbers do not).
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import EchoServer, Relay, roundtrips  # noqa: E402  (bench/proxy/bench.py)

def drive(port, conns):
    msg = b"q" * 64
    socks = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(msg)  # one warm-up trip: the relay has connected upstream
        got = 0
        while got < 64:
            got += len(s.recv(64 - got))
        socks.append(s)
    return socks


def run(socks, trips):
    msg = b"q" * 64
    if len(socks) == 1:
        s = socks[0]
        for _ in range(trips):
            s.sendall(msg)
            got = 0
            while got < 64:
                got += len(s.recv(64 - got))
        return
    roundtrips(socks, trips)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--trips", type=int, default=20000)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--perf", action="store_true")
    a = ap.parse_args()
    echo = EchoServer()
    relay = Relay("proxy", a.bin_dir, echo.port)
    tracer = None
    try:
        socks = drive(relay.port, a.conns)
        if a.strace:
            tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(relay.p.pid)],
                                      stderr=subprocess.PIPE, text=True)
        elif a.perf:
            tracer = subprocess.Popen(["perf", "stat", "-x", ",", "-e",
                                       "instructions:u,instructions:k", "-p",
                                       str(relay.p.pid)], stderr=subprocess.PIPE, text=True)
        if tracer is not None:
            time.sleep(1.0)  # attached
        c0 = relay.cpu_ns()
        t0 = time.perf_counter()
        run(socks, a.trips)
        dt = time.perf_counter() - t0
        c1 = relay.cpu_ns()
        msgs = 2 * a.trips * a.conns
        print(f"{a.conns} conn(s) x {a.trips} round trips of 64 B: {msgs} relayed messages; "
              f"relay CPU {(c1 - c0) / 1e3 / msgs:.2f} us/message; "
              f"wall {1e6 * dt / (a.trips):.1f} us/round trip")
        if tracer is not None:
            tracer.send_signal(signal.SIGINT)
            err = tracer.communicate(timeout=30)[1]
            if a.strace:
                total = 0
                rows = []
                for line in err.splitlines():
                    m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d+)?\s*(\w+)$", line)
                    if m and m.group(3) != "total":
                        rows.append((int(m.group(1)), m.group(3)))
                        total += int(m.group(1))
                rows.sort(reverse=True)
                print(f"syscalls/message {total / msgs:.2f}: " + ", ".join(
                    f"{n} {c / msgs:.2f}" for c, n in rows if c / msgs >= 0.01))
            else:
                for line in err.splitlines():
                    f = line.split(",")
                    if len(f) > 2 and f[0].isdigit():
                        print(f"{f[2]}/message {int(f[0]) / msgs:.0f}")
        for s in socks:
            s.close()
    finally:
        relay.close()
        echo.close()


if __name__ == "__main__":
    main()
