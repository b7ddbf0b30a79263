#!/usr/bin/env python3
"""bench/http/otel_grind.py: what telemetry costs a request in instructions and data-cache
misses, measured where hardware counters are missing (VMs) and the machine is busy: nitro-enc-svc
under callgrind with its cache simulation (32 MiB last-level cache: callgrind's own guess of the
host's may be far off), POST /encrypt with the exporter settings of otel.py, telemetry on or off.
Instrumentation is on only for the load window (wrk -c4 for SECS s) and 2.5 s after it (the
exporter's drain of those items). Prints instructions, first- and last-level data misses per
request: compare on minus off, and binary A against binary B.

usage: bench/http/otel_grind.py BIN_DIR on|off SECS   (not a test; SECS >= 12, or the first
touch of every line dominates; a run takes about 3 x SECS)
"""
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import start_service  # noqa: E402  pylint: disable=wrong-import-position
from otel import start_sink, telemetry_env  # noqa: E402  pylint: disable=wrong-import-position


def wrk(port, conns, secs, env):
    return subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "-s", str(HERE / "post.lua"),
                           f"https://127.0.0.1:{port}/encrypt"], env=env, capture_output=True,
                          text=True, check=True).stdout


def main():
    bindir, mode, secs = pathlib.Path(sys.argv[1]).resolve(), sys.argv[2], int(sys.argv[3])
    sink = start_sink()
    work = pathlib.Path(tempfile.mkdtemp(prefix="nes-otel-grind-"))
    env = {"WORKER_THREADS": "2", **(telemetry_env(sink) if mode == "on" else {})}
    out = work / "callgrind.out"
    p, port, _ = start_service(bindir, work, env, wrap=[
        "valgrind", "--tool=callgrind", "--cache-sim=yes", "--LL=33554432,16,64",
        "--instr-atstart=no", f"--callgrind-out-file={out}"])
    wenv = dict(os.environ, NES_BENCH_BODY=str(HERE / "payments-1k.json"))
    wrk(port, 4, 2, wenv)  # warm-up
    time.sleep(2)
    subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], capture_output=True, check=True)
    n = int(re.search(r"(\d+) requests in", wrk(port, 4, secs, wenv)).group(1))
    time.sleep(2.5)
    subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], capture_output=True, check=True)
    p.send_signal(signal.SIGTERM)
    p.wait(120)
    events = totals = None
    with open(out, encoding="utf-8") as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith(("summary:", "totals:")):
                totals = [int(x) for x in line.split()[1:]]
    d = dict(zip(events, totals))
    print(f"{bindir} telemetry {mode}: {n} requests; per request: {d['Ir'] / n:.0f} instructions, "
          f"{(d['D1mr'] + d['D1mw']) / n:.1f} D1 misses, {(d['DLmr'] + d['DLmw']) / n:.1f} LL "
          f"misses (busy-machine safe: simulated)  [{work}]")


if __name__ == "__main__":
    main()
