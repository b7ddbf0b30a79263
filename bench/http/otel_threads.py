#!/usr/bin/env python3
"""bench/http/otel_threads.py: where telemetry's CPU goes, by thread. nitro-enc-svc (telemetry on,
the exporter settings of otel.py, sending to otel.py's discarding receiver) under a fixed wrk run
of POST /encrypt; prints each thread's user and kernel CPU per request from
/proc/PID/task/TID/stat (the exporter thread is named nes-otel), so the exporter's encoding (user)
and its sends over loopback (kernel) are told apart from the request threads' work. Busy-machine
figures: compare two binaries or on/off in the same minute.

usage: bench/http/otel_threads.py BIN_DIR on|off [SECS]   (not a test)
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import start_service  # noqa: E402  pylint: disable=wrong-import-position
from otel import start_sink, telemetry_env  # noqa: E402  pylint: disable=wrong-import-position


def threads(pid):
    """{tid: (name, utime, stime)} in clock ticks."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = pathlib.Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        f = stat[stat.rindex(")") + 2:].split()
        out[int(tid)] = (name, int(f[11]), int(f[12]))
    return out


def main():
    bindir, mode = pathlib.Path(sys.argv[1]).resolve(), sys.argv[2]
    secs = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    sink = start_sink()
    work = pathlib.Path(tempfile.mkdtemp(prefix="nes-otel-threads-"))
    env = {"WORKER_THREADS": "2", **(telemetry_env(sink) if mode == "on" else {})}
    p, port, _ = start_service(bindir, work, env)
    wenv = dict(os.environ, NES_BENCH_BODY=str(HERE / "payments-1k.json"))
    url = f"https://127.0.0.1:{port}/encrypt"
    cmd = ["wrk", "-t2", "-c32", "-s", str(HERE / "post.lua"), url]
    subprocess.run(cmd[:1] + ["-d1s"] + cmd[1:], env=wenv, capture_output=True, check=True)
    time.sleep(1.5)  # the warm-up's batches are out
    t0 = threads(p.pid)
    out = subprocess.run(cmd[:1] + [f"-d{secs}s"] + cmd[1:], env=wenv, capture_output=True,
                         text=True, check=True).stdout
    time.sleep(1.5)  # and the run's (the exporter's share of them)
    t1 = threads(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(60)
    n = int(re.search(r"(\d+) requests in", out).group(1))
    us = 1e6 / os.sysconf("SC_CLK_TCK") / n
    tot_u = tot_s = 0
    print(f"{bindir} telemetry {mode}: {n} requests; CPU us/request by thread (user + kernel):")
    for tid, (name, u1, s1) in sorted(t1.items()):
        _, u0, s0 = t0.get(tid, (name, 0, 0))
        du, ds = (u1 - u0) * us, (s1 - s0) * us
        tot_u, tot_s = tot_u + du, tot_s + ds
        if du + ds > 0:
            print(f"  {name:16} {tid:8}  user {du:6.2f}  kernel {ds:6.2f}")
    print(f"  {'all':25}  user {tot_u:6.2f}  kernel {tot_s:6.2f}  total {tot_u + tot_s:6.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
