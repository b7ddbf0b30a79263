#!/usr/bin/env python3
"""bench/http: nitro-enc-svc POST /encrypt vs nginx serving a static 1 KiB JSON, both over TLS
keep-alive on loopback, measured with wrk in one run, alternating. Prints one table.

  (a) nitro-enc-svc --local-mode, POST /encrypt, 1 KiB payments body with 6 PII fields
  (b) nginx (one worker per core, same certificate), GET of a static 1 KiB JSON file

Full load: wrk -c32 (two rounds each, alternating a b a b; the better round counts). Half load:
wrk has no fixed-rate mode; the wrk scripts' delay() hook paces each of the 32 connections so the
offered rate is half of (a)'s peak (wrk's timer has 1 ms steps: the pause is randomly rounded, so
the rate is right on average and somewhat bursty). A connection sweep (unpaced, -c1..-c16) is
printed as well. RSS: the service's VmRSS with 1,000 open TLS
connections that each made one request.

usage: bench/http/bench.py [BIN_DIR] [--secs N]   (not a test; about 90 s on 2 cores)
"""
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_wrk(out):
    def dur(s):
        v, unit = re.match(r"([\d.]+)(us|ms|s)", s).groups()
        return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = dur(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = dur(re.search(r"\s99%\s+(\S+)", out).group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx": errs, "sockerr": m.group(1) if m else ""}


def wrk(url, conns, secs, script=None, env=None):
    cmd = ["wrk", f"-t{min(2, conns)}", f"-c{conns}", f"-d{secs}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, env=env, timeout=secs + 30)
    return parse_wrk(out.stdout)


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    secs = 8
    if "--secs" in sys.argv:
        secs = int(sys.argv[sys.argv.index("--secs") + 1])
    bindir = pathlib.Path(args[0] if args else ROOT / "build" / "bin").resolve()
    ncpu = os.cpu_count() or 1
    work = pathlib.Path(tempfile.mkdtemp(prefix="nes-bench-"))
    procs = []
    try:
        (work / "schemas").mkdir()
        shutil.copy(HERE / "payments.yaml", work / "schemas" / "payments.yaml")
        port_a, port_b = free_port(), free_port()
        env = {"PATH": os.environ["PATH"], "LISTEN": f"tcp://127.0.0.1:{port_a}",
               "LOG_LEVEL": "warn", "MAX_CONNECTIONS": "4096"}
        svc = subprocess.Popen([str(bindir / "nitro-enc-svc"), "--local-mode"], cwd=work, env=env,
                               stderr=open(work / "svc.log", "wb"))
        procs.append(svc)
        ca = work / ".nitro-enc" / "tls.crt"
        ctx = ssl.create_default_context(cafile=None)
        for _ in range(200):
            if ca.exists():
                break
            time.sleep(0.02)
        ctx = ssl.create_default_context(cafile=str(ca))
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port_a}/readyz", context=ctx) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.05)
        else:
            sys.exit("bench: the service did not become ready (core built? see %s)" % (work / "svc.log"))

        (work / "www").mkdir()
        shutil.copy(HERE / "static-1k.json", work / "www" / "static.json")
        (work / "logs").mkdir()
        (work / "nginx.conf").write_text(f"""
worker_processes {ncpu};
daemon off;
pid {work}/nginx.pid;
error_log {work}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port_b} ssl;
    ssl_certificate {work}/.nitro-enc/tls.crt;
    ssl_certificate_key {work}/.nitro-enc/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /static.json {{ root {work}/www; default_type application/json; }}
  }}
}}
""")
        (work / "tmp").mkdir()
        nginx = subprocess.Popen(["nginx", "-p", str(work), "-c", str(work / "nginx.conf"),
                                  "-e", str(work / "logs" / "error.log")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(nginx)
        time.sleep(0.5)

        url_a = f"https://127.0.0.1:{port_a}/encrypt"
        url_b = f"https://127.0.0.1:{port_b}/static.json"
        wenv = dict(os.environ, NES_BENCH_BODY=str(HERE / "payments-1k.json"))
        run_a = lambda c, s, e=wenv: wrk(url_a, c, s, HERE / "post.lua", e)
        run_b = lambda c, s, e=None: wrk(url_b, c, s, HERE / "rate.lua", e)
        run_a(8, 2)  # warm-up
        run_b(8, 2)

        full = {"a": [], "b": []}
        for _ in range(2):
            full["a"].append(run_a(32, secs))
            full["b"].append(run_b(32, secs))
        best = {k: max(v, key=lambda r: r["rps"]) for k, v in full.items()}
        peak_a = best["a"]["rps"]

        sweep = {"a": {}, "b": {}}
        for c in (1, 2, 4, 8, 16):
            sweep["a"][c] = run_a(c, max(3, secs // 2))
            sweep["b"][c] = run_b(c, max(3, secs // 2))
        # pace 32 connections to half of (a)'s peak: each waits 32 / rate seconds between requests
        delay_ms = 32 * 1000.0 / (peak_a / 2)
        paced = dict(wenv, NES_BENCH_DELAY_MS=f"{delay_ms:.4f}")
        half = {"a": run_a(32, secs, paced), "b": run_b(32, secs, paced)}

        rss_idle = rss_kib(svc.pid)
        socks = []
        req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        for _ in range(1000):
            t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port_a)), server_hostname="localhost")
            t.sendall(req)
            t.recv(4096)
            socks.append(t)
        time.sleep(0.5)
        rss_1000 = rss_kib(svc.pid)
        for t in socks:
            t.close()

        print()
        print(f"nitro-enc-svc vs nginx, TLS keep-alive on loopback, {ncpu} cores, wrk -t2, {secs}s runs")
        print(f"(a) POST /encrypt, 1 KiB body, 6 PII fields   (b) nginx GET static 1 KiB JSON, {ncpu} workers")
        print()
        print(f"{'':28}{'(a) nitro-enc-svc':>20}{'(b) nginx':>14}{'a/b':>8}")
        print(f"{'full load (-c32) req/s':28}{best['a']['rps']:>20.0f}{best['b']['rps']:>14.0f}"
              f"{best['a']['rps'] / best['b']['rps']:>8.2f}")
        print(f"{'full load p50 / p99 ms':28}{best['a']['p50']:>9.2f} / {best['a']['p99']:<8.2f}"
              f"{best['b']['p50']:>5.2f} / {best['b']['p99']:<6.2f}")
        ra, rb = half["a"], half["b"]
        print(f"{'half load (paced -c32) req/s':28}{ra['rps']:>20.0f}{rb['rps']:>14.0f}")
        print(f"{'half load p50 / p99 ms':28}{ra['p50']:>9.2f} / {ra['p99']:<8.2f}"
              f"{rb['p50']:>5.2f} / {rb['p99']:<6.2f}")
        print(f"{'non-2xx responses (a)':28}{sum(r['non2xx'] for r in full['a']):>20}")
        print(f"{'service RSS idle / 1,000 conns':28}{rss_idle / 1024:>12.1f} / {rss_1000 / 1024:.1f} MiB")
        print()
        print("connection sweep (req/s, p50 ms, p99 ms):")
        for c in sorted(sweep["a"]):
            a, b = sweep["a"][c], sweep["b"][c]
            print(f"  -c{c:<3} (a) {a['rps']:>8.0f} {a['p50']:>6.2f} {a['p99']:>6.2f}"
                  f"    (b) {b['rps']:>8.0f} {b['p50']:>6.2f} {b['p99']:>6.2f}")
        goals = [("a/b >= 1.0", best["a"]["rps"] / best["b"]["rps"] >= 1.0),
                 ("p99 <= 2 ms at half load", ra["p99"] <= 2.0),
                 ("RSS <= 64 MiB with 1,000 connections", rss_1000 <= 64 * 1024)]
        print()
        print("goals: " + ", ".join(f"{g}: {'met' if ok else 'NOT met'}" for g, ok in goals))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
