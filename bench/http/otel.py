#!/usr/bin/env python3
"""bench/http/otel.py: the cost of telemetry. nitro-enc-svc POST /encrypt (the 1 KiB payments
body of bench.py) with telemetry off and on, alternating rounds, wrk -t2 -c32 over TLS
keep-alive. "On" exports every span (ratio 1), every access line as a log record and metrics
each second, over OTLP/HTTP to a local receiver that accepts and discards (a thread of this
script on its own port). Prints median req/s and server CPU per request of each side and the
paired ratio; the goal is a cost of at most 5 % (ratio >= 0.95). Figures only from a quiet
machine: the "other work" column says how busy it was.

usage: bench/http/otel.py [BIN_DIR] [--secs N] [--rounds N]   (not a test; ~2 min by default)
"""
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import background_share, start_service, wrk  # noqa: E402  pylint: disable=wrong-import-position


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies = 0

    def log_message(self, *a):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Sink.bodies += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def start_sink():
    """A discarding OTLP/HTTP receiver (Sink) on a free loopback port, served by a thread."""
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    return sink


def telemetry_env(sink):
    """The service's variables for telemetry on, exporting to `sink`: 1 s batches and queues that
    do not drop at 100k req/s (the settings of every telemetry-on bench)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}",
            "OTEL_BSP_SCHEDULE_DELAY": "1000", "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_BSP_MAX_QUEUE_SIZE": "65536", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4096"}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    secs = int(sys.argv[sys.argv.index("--secs") + 1]) if "--secs" in sys.argv else 8
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 5
    args = [a for a in args if not a.isdigit()]
    bindir = pathlib.Path(args[0] if args else HERE.parents[1] / "build" / "bin").resolve()
    bg0 = background_share()
    sink = start_sink()
    work = pathlib.Path(tempfile.mkdtemp(prefix="nes-bench-otel-"))
    procs = []
    try:
        off, port_off, _ = start_service(bindir, work, log_name="svc-off.log")
        procs.append(off)
        on, port_on, ctx = start_service(bindir, work, telemetry_env(sink), log_name="svc-on.log")
        procs.append(on)
        wenv = dict(os.environ, NES_BENCH_BODY=str(HERE / "payments-1k.json"))
        run = {"off": lambda: wrk(f"https://127.0.0.1:{port_off}/encrypt", 32, secs,
                                  HERE / "post.lua", wenv, [off.pid]),
               "on": lambda: wrk(f"https://127.0.0.1:{port_on}/encrypt", 32, secs,
                                 HERE / "post.lua", wenv, [on.pid])}
        for k in run:  # warm-up and a 200 check
            r = wrk(f"https://127.0.0.1:{port_off if k == 'off' else port_on}/encrypt", 8, 2,
                    HERE / "post.lua", wenv)
            if r["non2xx"] or r["n"] == 0:
                sys.exit(f"bench: ({k}) answered non-2xx; see {work}")
        res = {"off": [], "on": []}
        for i in range(rounds):
            for k in (("off", "on") if i % 2 == 0 else ("on", "off")):
                res[k].append(run[k]())
        ratio = statistics.median(b["rps"] / a["rps"] for a, b in zip(res["off"], res["on"]))
        other = statistics.median(r["other"] for r in res["off"] + res["on"])
        print()
        print(f"telemetry off vs on, POST /encrypt 1 KiB, TLS keep-alive, wrk -t2 -c32, "
              f"{rounds} alternating rounds of {secs}s; OTLP bodies received: {Sink.bodies}")
        print(f"other work on the machine: {bg0:.0%} before, {other:.0%} during"
              + ("   (busy: rerun when quiet)" if max(bg0, other) > 0.05 else ""))
        print(f"{'':26}{'off':>12}{'on':>12}{'on/off':>9}")
        med = {k: statistics.median(r["rps"] for r in v) for k, v in res.items()}
        cpu = {k: statistics.median(r["srv_us"] for r in v) for k, v in res.items()}
        print(f"{'req/s (median)':26}{med['off']:>12.0f}{med['on']:>12.0f}{ratio:>9.3f}")
        print(f"{'server CPU us/request':26}{cpu['off']:>12.1f}{cpu['on']:>12.1f}"
              f"{cpu['on'] / cpu['off']:>9.3f}")
        for i, (a, b) in enumerate(zip(res["off"], res["on"])):
            print(f"  round {i + 1}: off {a['rps']:.0f} req/s, on {b['rps']:.0f} req/s")
        # "every span and log line exported" holds only when nothing was dropped: say so
        with urllib.request.urlopen(f"https://127.0.0.1:{port_on}/metrics", context=ctx) as r:
            m = {ln.split()[0]: ln.split()[1] for ln in r.read().decode().splitlines()
                 if ln.startswith("nes_otel_") and " " in ln}
        print("exporter (on): " + ", ".join(
            f"{k[len('nes_otel_'):-len('_total')]} {m.get(k, '?')}"
            for k in ("nes_otel_spans_exported_total", "nes_otel_spans_dropped_total",
                      "nes_otel_log_records_exported_total",
                      "nes_otel_log_records_dropped_total")))
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        sink.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
