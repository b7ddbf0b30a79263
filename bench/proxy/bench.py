#!/usr/bin/env python3
"""bench/proxy/bench.py BIN_DIR [--rounds N] [--bulk-mib M] [--requests R] [--trips T]
                          [--busy-poll-us U]

nitro-enc-proxy relaying TCP -> TCP beside socat doing the same job, on loopback, in alternating
rounds (direct, proxy, socat, then the reverse order). Prints one table:

  * bulk: one connection sends M MiB to a sink; MB/s (median of rounds);
  * 1-conn: one connection doing T sequential round trips of 64 bytes against an echo server;
    p50 / p99. Nothing else is in flight, so relay minus direct is what one hop adds to one
    request: the "added latency per hop" (goal <= 50 us p99). Measured twice: as the machine is,
    and with the CPUs kept out of halt (class Awake), which separates the hop's own cost from
    the VM's cost of waking one more process on the path; and a third time through a second
    nitro-enc-proxy with BUSY_POLL_US=U (default 200): its relay thread polls for U us after
    each event before it sleeps, so the CPU it runs on never halts between the request going
    out and the answer coming back. U is chosen longer than the far side's response time (the
    echo server here answers within some tens of us; for the sidecar, the enclave's), so the
    return trip finds the relay still polling, and longer than the client's gap before its next
    request, so a steady ping-pong never lets it sleep. The honest cost is printed beside it:
    the relay process's CPU per round trip, plain and busy polling (from
    /proc/PID/task/*/schedstat over the whole ping-pong): busy polling turns the relay's idle
    time between events into CPU time;
  * 64-conn: 64 connections each doing R round trips of 64 bytes, driven by one epoll client
    thread; p50 / p99 under concurrency (queueing included, on every path alike). A closed
    loop: by Little's law its mean round trip is 64 / (round trips per second), so a relay adds
    64 x what it adds per round trip at the bottleneck; when the CPUs are saturated (the share
    busy is printed) that is the relay's CPU per round trip / CPUs. The bench prints both sides
    of that identity, which says what "added latency per hop" at 64 connections can be here;
    the 1-conn ping-pong is where one hop's own latency shows;
  "added" is relay minus direct of the same round (the paths run back to back in each round,
  so a burst of other load falls on all of them), as the median over rounds with the min..max
  spread. The echo server is a single-threaded epoll process of its own: earlier versions ran
  it and 64 client threads in one Python process, and its GIL queueing made the direct path's
  tail larger than a relayed one's (negative "added" latency).

Then (2), unless --no-proxy-mode: bench/proxy/proxymode.py, proxy mode end to end (client ->
sidecar -> service -> sidecar -> app) beside the client calling the app directly over TLS, req/s
and p50/p99 for the 1 KiB payments body with 6 PII fields (its own table).

A figure, not a test: run it on a quiet machine (the peers are Python, so absolute numbers
include their cost; the comparison between the relays is the point).
"""
import argparse
import importlib.util
import os
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time

NCPU = len(os.sched_getaffinity(0))
# bench/http/bench.py's helpers (loaded by path: both scripts are named bench.py)
_spec = importlib.util.spec_from_file_location(
    "http_bench", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http", "bench.py"))
_http_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_http_bench)
busy_ticks, free_port = _http_bench.busy_ticks, _http_bench.free_port

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
    def __init__(self, kind, bin_dir, upstream_port, busy_poll_us=0):
        self.port = free_port()
        if kind == "proxy":
            env = dict(os.environ, LISTEN=f"tcp://127.0.0.1:{self.port}",
                       UPSTREAM=f"127.0.0.1:{upstream_port}", LOG_LEVEL="warn",
                       BUSY_POLL_US=str(busy_poll_us))
            self.p = subprocess.Popen([os.path.join(bin_dir, "nitro-enc-proxy"), "egress"],
                                      env=env, stderr=subprocess.DEVNULL)
        else:
            self.p = subprocess.Popen(["socat", f"TCP-LISTEN:{self.port},reuseaddr,fork,bind=127.0.0.1",
                                       f"TCP:127.0.0.1:{upstream_port},nodelay"],
                                      stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def cpu_ns(self):
        """CPU time of the relay process's threads so far (ns; socat's forked children are not
        counted, so this is read for nitro-enc-proxy only)."""
        total = 0
        for t in os.listdir(f"/proc/{self.p.pid}/task"):
            try:
                with open(f"/proc/{self.p.pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        return total

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


ECHO_SERVER = r"""
import selectors, socket
sel = selectors.DefaultSelector()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(1024)
srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ)
print(srv.getsockname()[1], flush=True)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s is srv:
            c, _ = srv.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ)
            continue
        try:
            d = s.recv(65536)
        except BlockingIOError:
            continue
        except ConnectionError:
            d = b""
        if not d:
            sel.unregister(s)
            s.close()
            continue
        s.setblocking(True)
        s.sendall(d)
        s.setblocking(False)
"""


class EchoServer:
    """A single-threaded epoll echo server in its own process: no GIL shared with the clients,
    so the direct path is not slowed by the measuring side's threads."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE)
        self.port = int(self.p.stdout.readline())

    def close(self):
        self.p.terminate()
        self.p.wait(10)


def pct(lat, q):
    return lat[min(len(lat) - 1, int(len(lat) * q))] / 1000


def pingpong(port, trips):
    """One connection, `trips` sequential round trips of 64 bytes: p50/p99 in us. With nothing
    else in flight, each sample is one pass through the path (the added latency per hop is
    relay minus direct)."""
    msg = b"q" * 64
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat = []
    for i in range(trips + 50):
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        got = 0
        while got < 64:
            got += len(s.recv(64 - got))
        if i >= 50:  # warm-up trips are not counted
            lat.append(time.perf_counter_ns() - t0)
    s.close()
    lat.sort()
    return pct(lat, 0.5), pct(lat, 0.99)


class Awake:
    """While open: one busy loop per CPU at SCHED_IDLE priority, so no CPU halts while idle. Any
    runnable task preempts such a loop at once, so it takes no CPU from the paths measured; what
    it removes is the cost of waking a halted CPU, which on a VM with halt polling off (this
    one: /sys/module/haltpoll/parameters/guest_halt_poll_ns = 0) is a hypervisor exit paid by
    every process a request passes through, relay or not. The 1-conn ping-pong is measured both
    ways so the table shows the hop's own cost and what an idle VM adds to it."""

    def __init__(self):
        self.pids = []
        for cpu in sorted(os.sched_getaffinity(0)):
            pid = os.fork()
            if pid == 0:
                try:
                    os.sched_setaffinity(0, {cpu})
                    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
                    while True:
                        pass
                finally:
                    os._exit(0)
            self.pids.append(pid)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for pid in self.pids:
            os.kill(pid, 9)
            os.waitpid(pid, 0)


def roundtrips(socks, trips):
    """Drives connected sockets from one thread with a selector, each doing `trips` round trips
    of 64 bytes back to back; returns every round trip's time in ns (the sockets stay open)."""
    msg = b"q" * 64
    sel = selectors.DefaultSelector()
    left, t0, got = {}, {}, {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        left[s], got[s] = trips, 0
    lat = []
    for s in left:
        t0[s] = time.perf_counter_ns()
        s.send(msg)
    while left:
        for key, _ in sel.select():
            s = key.fileobj
            d = s.recv(4096)
            if not d:
                raise RuntimeError("the path closed a connection")
            got[s] += len(d)
            if got[s] < 64:
                continue
            lat.append(time.perf_counter_ns() - t0[s])
            got[s] = 0
            left[s] -= 1
            if left[s] == 0:
                sel.unregister(s)
                del left[s]
                continue
            t0[s] = time.perf_counter_ns()
            s.send(msg)
    sel.close()
    return lat


def concurrent(port, conns, trips):
    """`conns` connections driven from one thread with epoll, each doing `trips` round trips of
    64 bytes back to back: p50/p99 in us of every round trip, round trips per second, and the
    share of the machine's CPUs busy meanwhile. One client thread, so no thread of the measuring
    side waits for another's lock; a sample includes the time the client takes to get to a ready
    connection, the same for every path."""
    socks = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    t0, b0 = time.perf_counter_ns(), busy_ticks()
    lat = roundtrips(socks, trips)
    wall = time.perf_counter_ns() - t0
    busy = (busy_ticks() - b0) * 1e9 / os.sysconf("SC_CLK_TCK")
    for s in socks:
        s.close()
    lat.sort()
    return pct(lat, 0.5), pct(lat, 0.99), len(lat) * 1e9 / wall, busy / wall / NCPU


def spread(vals, fmt=".0f"):
    return f"{statistics.median(vals):{fmt}} ({min(vals):{fmt}}..{max(vals):{fmt}})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bulk-mib", type=int, default=2048)
    ap.add_argument("--requests", type=int, default=200,
                    help="round trips per connection in the 64-connection measure")
    ap.add_argument("--trips", type=int, default=3000,
                    help="round trips of the one-connection ping-pong per round")
    ap.add_argument("--busy-poll-us", type=int, default=200,
                    help="BUSY_POLL_US of the busy-polling relay in the 1-conn measure")
    ap.add_argument("--no-proxy-mode", action="store_true",
                    help="skip part (2): proxy mode end to end (bench/proxy/proxymode.py)")
    a = ap.parse_args()
    sink_srv, sink_port = serve(sink)
    echo = EchoServer()
    kinds = ("direct", "proxy", "socat")
    pp_kinds = kinds + ("proxy-bp",)  # the 1-conn ping-pong also runs through a busy-polling relay
    res = {k: {"bulk": [], "pp50": [], "pp99": [], "aw50": [], "aw99": [], "c50": [], "c99": [],
               "cpu": [], "ctps": [], "cbusy": [], "ccpu": []} for k in pp_kinds}
    relays = {k: Relay(k, a.bin_dir, echo.port) for k in ("proxy", "socat")}
    relays["proxy-bp"] = Relay("proxy", a.bin_dir, echo.port, a.busy_poll_us)
    port = {"direct": echo.port, "proxy": relays["proxy"].port, "socat": relays["socat"].port,
            "proxy-bp": relays["proxy-bp"].port}
    try:
        for r in range(a.rounds):
            order = kinds if r % 2 == 0 else kinds[::-1]
            for kind in order:  # bulk: a fresh relay per run, like before
                if kind == "direct":
                    res[kind]["bulk"].append(bulk(sink_port, a.bulk_mib))
                else:
                    rb = Relay(kind, a.bin_dir, sink_port)
                    res[kind]["bulk"].append(bulk(rb.port, a.bulk_mib))
                    rb.close()
            # latency: the paths interleaved in short blocks, so a burst of other load on the
            # machine falls on all of them alike; added = relay - direct of the same round
            pp_order = pp_kinds if r % 2 == 0 else pp_kinds[::-1]
            for kind in pp_order:
                cpu0 = relays[kind].cpu_ns() if kind.startswith("proxy") else 0
                p50, p99 = pingpong(port[kind], a.trips)
                res[kind]["pp50"].append(p50)
                res[kind]["pp99"].append(p99)
                if kind.startswith("proxy"):  # warm-up trips included: CPU per trip run
                    res[kind]["cpu"].append((relays[kind].cpu_ns() - cpu0) / (a.trips + 50) / 1e3)
            with Awake():
                for kind in order:
                    p50, p99 = pingpong(port[kind], a.trips)
                    res[kind]["aw50"].append(p50)
                    res[kind]["aw99"].append(p99)
            for kind in order:
                cpu0 = relays[kind].cpu_ns() if kind == "proxy" else 0
                c50, c99, tps, busy = concurrent(port[kind], 64, a.requests)
                res[kind]["c50"].append(c50)
                res[kind]["c99"].append(c99)
                res[kind]["ctps"].append(tps)
                res[kind]["cbusy"].append(busy)
                if kind == "proxy":
                    res[kind]["ccpu"].append((relays[kind].cpu_ns() - cpu0) / (64 * a.requests) / 1e3)
            print(f"round {r + 1}/{a.rounds}: " + "  ".join(
                f"{k} pp {res[k]['pp50'][-1]:.0f}/{res[k]['pp99'][-1]:.0f} "
                f"awake {res[k]['aw50'][-1]:.0f}/{res[k]['aw99'][-1]:.0f} "
                f"c64 {res[k]['c50'][-1]:.0f}/{res[k]['c99'][-1]:.0f} us" for k in kinds) +
                f"  proxy-bp pp {res['proxy-bp']['pp50'][-1]:.0f}/"
                f"{res['proxy-bp']['pp99'][-1]:.0f} us", file=sys.stderr)
    finally:
        for rl in relays.values():
            rl.close()
        echo.close()
    med = {k: {m: statistics.median(v) for m, v in d.items() if v} for k, d in res.items()}

    def added(k, m):
        return [x - y for x, y in zip(res[k][m], res["direct"][m])]
    print(f"{'path':<8} {'bulk MB/s':>10} {'1-conn p50/p99 us':>18} {'added p50':>16} "
          f"{'added p99':>16} {'64-conn p50/p99 us':>19} {'added p50':>16} {'added p99':>16}")
    for k in kinds:
        m = med[k]
        if k == "direct":
            cols = ["-"] * 4
        else:
            cols = [spread(added(k, "pp50")), spread(added(k, "pp99")),
                    spread(added(k, "c50")), spread(added(k, "c99"))]
        print(f"{k:<8} {m['bulk']:>10.0f} {m['pp50']:>8.0f}/{m['pp99']:<9.0f} {cols[0]:>16} "
              f"{cols[1]:>16} {m['c50']:>9.0f}/{m['c99']:<9.0f} {cols[2]:>16} {cols[3]:>16}")
    print(f"({a.rounds} alternating rounds, medians; bulk {a.bulk_mib} MiB over one connection; "
          f"1-conn: {a.trips} sequential 64-byte round trips; 64-conn: 64 connections x "
          f"{a.requests} round trips from one epoll client thread; added = relay minus direct "
          f"of the same round, median (min..max over rounds); echo server: its own process)")
    print("1-conn again with the CPUs kept out of halt (a SCHED_IDLE busy loop per CPU, see Awake):")
    for k in kinds[1:]:
        print(f"{k:<8} p50/p99 {med[k]['aw50']:.0f}/{med[k]['aw99']:.0f} us (direct "
              f"{med['direct']['aw50']:.0f}/{med['direct']['aw99']:.0f}), added p50 "
              f"{spread(added(k, 'aw50'))}, added p99 {spread(added(k, 'aw99'))}")
    # Little's law for the closed 64-connection loop: mean round trip = 64 / round trips per
    # second, so what a relay adds to the mean is 64 x the time it adds per round trip at the
    # bottleneck. With the machine's CPUs saturated, that is its CPU per round trip / CPUs.
    dx = med["direct"]["ctps"]
    print(f"64-conn, closed loop: round trips/s direct {dx:,.0f}, proxy {med['proxy']['ctps']:,.0f},"
          f" socat {med['socat']['ctps']:,.0f}; CPUs busy direct {med['direct']['cbusy']:.0%}, proxy "
          f"{med['proxy']['cbusy']:.0%}, socat {med['socat']['cbusy']:.0%} of {NCPU}")
    ccpu = med["proxy"]["ccpu"]
    print(f"  Little's law: the mean a relay adds = 64/(its round trips/s) - 64/(direct's): proxy "
          f"{64e6 / med['proxy']['ctps'] - 64e6 / dx:.0f} us, socat "
          f"{64e6 / med['socat']['ctps'] - 64e6 / dx:.0f} us; nitro-enc-proxy's CPU "
          f"{spread(res['proxy']['ccpu'], '.1f')} us per round trip x 64 / {NCPU} CPUs = "
          f"{ccpu * 64 / NCPU:.0f} us. On saturated CPUs no relay adds less than 64 x its CPU per "
          f"round trip / {NCPU}: 50 us would take <= {50 * NCPU / 64:.1f} us per round trip")
    print(f"1-conn with the relay busy polling (proxy-bp: nitro-enc-proxy with BUSY_POLL_US="
          f"{a.busy_poll_us}), beside the plain relay of the same rounds; relay CPU = the relay "
          f"process's CPU time per round trip:")
    for k in ("proxy", "proxy-bp"):
        print(f"{k:<8} p50/p99 {med[k]['pp50']:.0f}/{med[k]['pp99']:.0f} us (direct "
              f"{med['direct']['pp50']:.0f}/{med['direct']['pp99']:.0f}), added p50 "
              f"{spread(added(k, 'pp50'))}, added p99 {spread(added(k, 'pp99'))}, relay CPU "
              f"{spread(res[k]['cpu'], '.1f')} us per round trip")
    sink_srv.close()
    if not a.no_proxy_mode:  # (2) proxy mode end to end vs direct (its own table)
        print()
        sys.stdout.flush()
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "proxymode.py"),
                        a.bin_dir, "--rounds", str(a.rounds)], check=False)


if __name__ == "__main__":
    main()
