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
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import ThreadingHTTPServer

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import free_port  # noqa: E402  pylint: disable=wrong-import-position
from otel import Sink  # noqa: E402  pylint: disable=wrong-import-position

OTEL_ON = {"OTEL_BSP_SCHEDULE_DELAY": "1000", "OTEL_METRIC_EXPORT_INTERVAL": "1000",
           "OTEL_BSP_MAX_QUEUE_SIZE": "65536", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4096"}


def wrk(port, conns, secs, env):
    return subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "-s", str(HERE / "post.lua"),
                           f"https://127.0.0.1:{port}/encrypt"], env=env, capture_output=True,
                          text=True, check=True).stdout


def main():
    bindir, mode, secs = pathlib.Path(sys.argv[1]).resolve(), sys.argv[2], int(sys.argv[3])
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    work = pathlib.Path(tempfile.mkdtemp(prefix="nes-otel-grind-"))
    (work / "schemas").mkdir()
    shutil.copy(HERE / "payments.yaml", work / "schemas" / "payments.yaml")
    port = free_port()
    env = {"PATH": os.environ["PATH"], "LISTEN": f"tcp://127.0.0.1:{port}", "LOG_LEVEL": "info",
           "MAX_CONNECTIONS": "4096", "WORKER_THREADS": "2"}
    if mode == "on":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink.server_address[1]}"
        env.update(OTEL_ON)
    out = work / "callgrind.out"
    with open(work / "svc.log", "wb") as log:
        p = subprocess.Popen(["valgrind", "--tool=callgrind", "--cache-sim=yes",
                              "--LL=33554432,16,64", "--instr-atstart=no",
                              f"--callgrind-out-file={out}", str(bindir / "nitro-enc-svc"),
                              "--local-mode"], cwd=work, env=env, stdout=subprocess.DEVNULL,
                             stderr=log)
    ctx = None
    for _ in range(600):
        try:
            ctx = ssl.create_default_context(cafile=str(work / ".nitro-enc" / "tls.crt"))
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx,
                                        timeout=5) as r:
                if r.status == 200:
                    break
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)
    else:
        sys.exit(f"otel_grind: the service did not become ready (see {work})")
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
