#!/usr/bin/env python3
"""bench/proxy/proxymode.py [BIN_DIR] [--secs N] [--rounds N] [--hold]

Proxy mode end to end beside the client calling the application directly, both over TLS 1.3
keep-alive on loopback, measured with wrk (-t2 -c32) in alternating rounds. Prints one table:

  (p) proxy mode: wrk -> nitro-enc-proxy ingress -> nitro-enc-svc (PROXY_PROTOCOL=on, local mode)
      -> the sidecar's return port -> the application; POST /payments, the 1 KiB payments body
      with 6 PII fields (bench/http/payments-1k.json), every PII field encrypted on the way;
  (d) direct: wrk -> the application over TLS (same certificate), the same POST;
  (e) the service's own POST /encrypt of the same body through the same sidecar (the goal:
      proxy mode >= 50 % of it).
The application is nginx (one worker per core) answering every request with a fixed 11-byte
JSON (`return 200`), on plain HTTP for (p) and on TLS for (d). req/s and p50/p99 latency are the
medians over the rounds; every round is printed on stderr. The goal's ratio is the median of the
rounds' own p/e ratios (each round's p and e saw the same machine; bench/http pairs its sides the
same way), printed with its spread and beside the ratio of the medians. CPU per request of the
service, the sidecar, the application and wrk shows where a proxied request's cost goes.

--hold sets the chain up, prints its URLs and process ids, and waits (for perf, strace...).

A figure, not a test: run it on a quiet machine (the shared CI box is not one).
"""
import os
import pathlib
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench" / "http"))
from bench import cpu_ticks, free_port, nginx_pids, wrk  # noqa: E402  (bench/http/bench.py)

BODY = ROOT / "bench" / "http" / "payments-1k.json"
POST_LUA = ROOT / "bench" / "http" / "post.lua"


def wait_ready(url, ctx, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered 200")


def main():
    secs = int(sys.argv[sys.argv.index("--secs") + 1]) if "--secs" in sys.argv else 8
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    pos = [a for i, a in enumerate(sys.argv[1:], 1)
           if not a.startswith("--") and sys.argv[i - 1] not in ("--secs", "--rounds")]
    bindir = pathlib.Path(pos[0] if pos else ROOT / "build" / "bin").resolve()
    ncpu = os.cpu_count() or 1
    work = pathlib.Path(tempfile.mkdtemp(prefix="nes-bench-pm-"))
    procs = []
    try:
        (work / "schemas").mkdir()
        shutil.copy(ROOT / "bench" / "http" / "payments.yaml", work / "schemas")
        svc_port, app_port, app_tls_port = free_port(), free_port(), free_port()
        svc = subprocess.Popen(
            [str(bindir / "nitro-enc-svc"), "--local-mode"], cwd=work,
            env={"PATH": os.environ["PATH"], "LISTEN": f"tcp://127.0.0.1:{svc_port}",
                 "PROXY_PROTOCOL": "on", "LOG_LEVEL": "info", "MAX_CONNECTIONS": "4096"},
            stderr=open(work / "svc.log", "wb"))
        procs.append(svc)
        ca = work / ".nitro-enc" / "tls.crt"
        for _ in range(500):
            if ca.exists() and (work / ".nitro-enc" / "tls.key").exists():
                break
            time.sleep(0.02)
        ingress = subprocess.Popen(
            [str(bindir / "nitro-enc-proxy"), "ingress"],
            env={"PATH": os.environ["PATH"], "LISTEN": "tcp://127.0.0.1:0",
                 "ENCLAVE": f"tcp://127.0.0.1:{svc_port}",
                 "MAIN_APP_ADDR": f"127.0.0.1:{app_port}", "RETURN_LISTEN": "tcp://127.0.0.1:0",
                 "LOG_LEVEL": "info"},
            stderr=open(work / "ingress.log", "wb"))
        procs.append(ingress)
        ing_port = None
        for _ in range(500):
            for line in (work / "ingress.log").read_text(errors="replace").splitlines():
                if '"listener":"ingress"' in line and '"endpoint"' in line:
                    ing_port = int(line.split('"endpoint":"')[1].split('"')[0].rsplit(":", 1)[1])
            if ing_port:
                break
            time.sleep(0.02)
        os.chmod(work, 0o755)
        (work / "logs").mkdir()
        (work / "tmp").mkdir()
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
  keepalive_timeout 75s;
  server {{
    listen 127.0.0.1:{app_port};
    listen 127.0.0.1:{app_tls_port} ssl;
    ssl_certificate {work}/.nitro-enc/tls.crt;
    ssl_certificate_key {work}/.nitro-enc/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
    ssl_ecdh_curve prime256v1:X25519;
    ssl_session_cache shared:SSL:10m;
    location / {{ default_type application/json; return 200 '{{"ok":true}}'; }}
  }}
}}
""")
        nginx = subprocess.Popen(["nginx", "-p", str(work), "-c", str(work / "nginx.conf"),
                                  "-e", str(work / "logs" / "error.log")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(nginx)
        ctx = ssl.create_default_context(cafile=str(ca))
        wait_ready(f"https://127.0.0.1:{ing_port}/readyz", ctx)
        wait_ready(f"https://127.0.0.1:{app_tls_port}/", ctx)

        if "--hold" in sys.argv:  # profiling aid: print the chain and wait until interrupted
            print(f"proxy https://127.0.0.1:{ing_port}/payments  direct "
                  f"https://127.0.0.1:{app_tls_port}/payments  encrypt "
                  f"https://127.0.0.1:{ing_port}/encrypt  svc pid {svc.pid}  ingress pid "
                  f"{ingress.pid}  nginx pids {nginx_pids(nginx.pid)}  body {BODY}", flush=True)
            try:
                while svc.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
            return
        wenv = dict(os.environ, NES_BENCH_BODY=str(BODY))
        chain = [svc.pid, ingress.pid] + nginx_pids(nginx.pid)
        sides = {
            "p": (f"https://127.0.0.1:{ing_port}/payments", chain),
            "d": (f"https://127.0.0.1:{app_tls_port}/payments", nginx_pids(nginx.pid)),
            "e": (f"https://127.0.0.1:{ing_port}/encrypt", [svc.pid, ingress.pid]),
        }
        for k, (url, pids) in sides.items():  # warm-up, and every side must answer 2xx
            r = wrk(url, 8, 2, POST_LUA, wenv, pids)
            if r["non2xx"] or r["n"] == 0:
                sys.exit(f"bench: side {k} does not answer 2xx ({r}); logs in {work}")
        # CPU per request of each process of the chain (all their threads, user + kernel)
        groups = {"service": [svc.pid], "sidecar": [ingress.pid], "app": nginx_pids(nginx.pid)}
        tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
        res = {k: [] for k in sides}
        order = list(sides)
        for i in range(rounds):
            for k in (order if i % 2 == 0 else order[::-1]):
                url, pids = sides[k]
                t0 = {g: cpu_ticks(gp) for g, gp in groups.items()}
                r = wrk(url, 32, secs, POST_LUA, wenv, pids)
                r["cpu"] = {g: (cpu_ticks(gp) - t0[g]) * tick_us / max(1, r["n"])
                            for g, gp in groups.items()}
                res[k].append(r)
                print(f"round {i + 1} {k}: {r['rps']:.0f} req/s p50 {r['p50']:.2f} ms "
                      f"p99 {r['p99']:.2f} ms non2xx {r['non2xx']}", file=sys.stderr)
        med = {k: {f: statistics.median(r[f] for r in v) for f in ("rps", "p50", "p99")}
               for k, v in res.items()}
        print(f"proxy mode end to end vs direct, TLS keep-alive on loopback, {ncpu} cores, "
              f"wrk -t2 -c32, {rounds} alternating rounds of {secs} s, medians")
        print(f"{'':44}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
        names = {"p": "(p) proxy mode: sidecar+service+sidecar+app",
                 "d": "(d) client -> app directly over TLS",
                 "e": "(e) POST /encrypt through the sidecar"}
        for k in ("p", "d", "e"):
            m = med[k]
            print(f"{names[k]:44}{m['rps']:>10.0f}{m['p50']:>9.2f}{m['p99']:>9.2f}")
        print("CPU us per request by process (medians over the rounds; wrk runs on the same cores):")
        for k in ("p", "d", "e"):
            parts = [f"{g} {statistics.median(r['cpu'][g] for r in res[k]):.1f}" for g in groups]
            parts.append(f"wrk {statistics.median(r['wrk_us'] for r in res[k]):.1f}")
            print(f"  ({k}) " + ", ".join(parts))
        pe = [p["rps"] / e["rps"] for p, e in zip(res["p"], res["e"])]
        print(f"proxy mode / direct: {med['p']['rps'] / med['d']['rps']:.2f}   "
              f"proxy mode / /encrypt: {statistics.median(pe):.2f} (rounds {min(pe):.2f}.."
              f"{max(pe):.2f}; ratio of the medians {med['p']['rps'] / med['e']['rps']:.2f}; "
              f"goal >= 0.50)   added p99: {med['p']['p99'] - med['d']['p99']:.2f} ms")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
