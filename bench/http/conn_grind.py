#!/usr/bin/env python3
"""bench/http/conn_grind.py: what a request costs the service at N open connections, steady
state (handshakes excluded), measured where hardware counters are missing (VMs) and the machine
is busy. Two measures, each over a window that starts only after wrk's N TLS handshakes are done
and ends before wrk stops, the request count taken from the service's own /metrics counter at
both ends of the window:

  grind: nitro-enc-svc under callgrind with its cache simulation (32 MiB last-level cache, as
         otel_grind.py): instructions, first- and last-level data misses per request. The
         simulated caches start empty when instrumentation starts, so the counters are zeroed
         WARM s later (the first touch of N connections' state would otherwise count as misses
         of the window), and requests are counted as callgrind's calls of nes_h1_parse_request
         (the /metrics snapshot lags the instrumentation switch by a queue of N requests);
  cpu:   the service natively: utime+stime from /proc per request over the window, and the CPU
         that N handshakes cost (a wrk run of 1 s minus the steady per-request cost times its
         requests), so the sweep's handshake share in bench.py can be stated, not guessed.

POST /encrypt with the payments body of bench.py (wrk -t2, post.lua). Compare -c32 with -c1000.

usage: bench/http/conn_grind.py BIN_DIR grind|cpu CONNS [SECS [WARM]]   (not a test)
       bench/http/conn_grind.py report GRIND_DIR    (the figures of an earlier grind again)
       NES_GRIND_LL=BYTES sets the simulated last-level cache (e.g. 2097152: a core's L2)
"""
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import cpu_ticks, start_service  # noqa: E402  pylint: disable=wrong-import-position


def requests_done(port, ctx):
    """The /encrypt requests answered so far, from the service's /metrics."""
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", context=ctx,
                                timeout=30) as r:
        text = r.read().decode()
    return sum(int(m.group(1)) for m in
               re.finditer(r'^nes_http_requests_total\{route="[^"]*encrypt[^"]*"[^}]*\} (\d+)',
                           text, re.M))


def start(bindir, grind, work):
    wrap = []
    if grind:
        wrap = ["valgrind", "--tool=callgrind", "--cache-sim=yes",
                f"--LL={os.environ.get('NES_GRIND_LL', '33554432')},16,64", "--instr-atstart=no",
                f"--callgrind-out-file={work / 'callgrind.out'}"]
    return start_service(bindir, work, wrap=wrap)


def wrk(port, conns, secs):
    env = dict(os.environ, NES_BENCH_BODY=str(HERE / "payments-1k.json"))
    return subprocess.Popen(["wrk", f"-t{min(2, conns)}", f"-c{conns}", f"-d{secs}s", "-s",
                             str(HERE / "post.lua"), f"https://127.0.0.1:{port}/encrypt"],
                            env=env, stdout=subprocess.PIPE, text=True)


def grind_totals(work, n):
    """Callgrind's totals, and the requests of its window (calls of nes_h1_parse_request; n if
    that cannot be found)."""
    events = totals = None
    out = sorted(work.glob("callgrind.out*"), key=lambda f: f.stat().st_mtime)[-1]
    with open(out, encoding="utf-8") as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("totals:"):
                totals = [int(x) for x in line.split()[1:]]
    # from "/": run inside the source tree, callgrind_annotate shortens the paths and drops
    # the caller lines of nes_h1_parse_request
    ann = subprocess.run(["callgrind_annotate", "--tree=caller", str(out.resolve())], cwd="/",
                         capture_output=True, text=True, check=True).stdout
    callers = 0  # the "< caller (Nx)" lines of a block precede its "* function" line
    for line in ann.splitlines():
        m = re.search(r"<\s+\S+ \(([\d,]+)x\)", line)
        if m:
            callers += int(m.group(1).replace(",", ""))
        elif re.search(r"\*\s+\S+:nes_h1_parse_request ", line):
            if callers:
                return callers, dict(zip(events, totals))
            break
        elif line.strip():
            callers = 0
    print(f"conn_grind: no calls of nes_h1_parse_request found, the /metrics count is used "
          f"(it lags; rerun: {sys.argv[0]} report {work})", file=sys.stderr)
    return n, dict(zip(events, totals))


def main():
    if sys.argv[1] == "report":  # the figures of an earlier grind's directory
        n, d = grind_totals(pathlib.Path(sys.argv[2]).resolve(), 1)
        print(f"{n} requests; per request: {d['Ir'] / n:.0f} instructions, "
              f"{(d['D1mr'] + d['D1mw']) / n:.1f} D1 misses, {d['DLmr'] / n:.2f} + "
              f"{d['DLmw'] / n:.2f} LL read + write misses (simulated)")
        return
    bindir, mode, conns = pathlib.Path(sys.argv[1]).resolve(), sys.argv[2], int(sys.argv[3])
    secs = int(sys.argv[4]) if len(sys.argv) > 4 else (20 if mode == "grind" else 8)
    warm = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    work = pathlib.Path(tempfile.mkdtemp(prefix="nes-conn-grind-"))
    p, port, ctx = start(bindir, mode == "grind", work)
    hz = os.sysconf("SC_CLK_TCK")
    # warm-up at the same count (first touch of every line and page outside the window)
    w = wrk(port, conns, 3 if mode == "cpu" else 8)
    w.communicate()
    time.sleep(1)
    settle = 4 if mode == "cpu" else 12  # the handshakes of the measured run happen in here
    out = {}
    if mode == "cpu":
        # the cost of a run of 1 s (N handshakes + its requests), for the handshake share
        n0, t0 = requests_done(port, ctx), cpu_ticks([p.pid])
        wrk(port, conns, 1).communicate()
        time.sleep(0.5)
        out["short"] = (requests_done(port, ctx) - n0, (cpu_ticks([p.pid]) - t0) / hz)
    # wrk outlives the window by far: its connections must not close while instrumentation is
    # on (callgrind_control acts seconds late under load; gnutls_deinit was in the window)
    w = wrk(port, conns, settle + secs + (warm + 30 if mode == "grind" else 2))
    time.sleep(settle)
    if mode == "grind":
        for op, pause in (("-i on", warm), ("-z", 0)):
            subprocess.run(["callgrind_control"] + op.split() + [str(p.pid)],
                           capture_output=True, check=True)
            time.sleep(pause)
    n0, t0 = requests_done(port, ctx), cpu_ticks([p.pid])
    time.sleep(secs)
    n1, t1 = requests_done(port, ctx), cpu_ticks([p.pid])
    if mode == "grind":
        subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], capture_output=True,
                       check=True)
    if mode == "grind":
        time.sleep(3)
        w.terminate()
    w.communicate()
    p.send_signal(signal.SIGTERM)
    p.wait(120)
    n = max(1, n1 - n0)
    if mode == "cpu":
        us = (t1 - t0) / hz * 1e6 / n
        sn, scpu = out["short"]
        hs_us = (scpu - sn * us / 1e6) * 1e6 / conns
        print(f"-c{conns}: {n} requests in the window, server CPU {us:.2f} us/request steady; "
              f"a 1 s run: {sn} requests, {scpu:.2f} s CPU -> {hs_us:.0f} us per handshake "
              f"(busy machine)  [{work}]")
        return
    n, d = grind_totals(work, n)
    print(f"-c{conns}: {n} requests in the window; per request: {d['Ir'] / n:.0f} instructions, "
          f"{(d['D1mr'] + d['D1mw']) / n:.1f} D1 misses, {(d['DLmr'] + d['DLmw']) / n:.1f} LL "
          f"misses (simulated)  [{work}]")


if __name__ == "__main__":
    main()
