#!/usr/bin/env python3
"""bench/http: nitro-enc-svc POST /encrypt vs nginx serving a static 1 KiB JSON, both over TLS
keep-alive on loopback, measured with wrk in one run, alternating. Prints one table.

  (a) nitro-enc-svc --local-mode, POST /encrypt, 1 KiB payments body with 6 PII fields
  (b) nginx (one worker per core, same certificate), GET of a static 1 KiB JSON file

Full load: wrk -t2 -c32 (two threads: one per core; wrk shares the cores with the server under
test, equally for both sides), ROUNDS rounds (default 5), each round runs (a) and (b) back to back
and alternates which goes first (a b, b a, a b, ...) so a burst of background load hits both
sides alike. The table shows the median round of each side and the median of the per-round
ratios a/b (the paired ratio: both halves of a round saw the same machine); every round is
printed too. CPU per request is measured as well (server: utime+stime from /proc, nginx master
and workers summed; wrk: its rusage): it moves far less with background load than req/s does and
tells where a gap comes from. The share of the CPUs used by anything else (before the runs,
and during each round: machine busy time minus server and wrk) is printed: above 5%, rerun.

Connection sweep: -c1, -c32, -c256 and -c1000 (unpaced, both sides, p50/p99, CPU per request of
the server and of wrk); the goal is that no connection count falls below 90 % of the -c32 req/s.
wrk's own CPU per request grows with the connection count too (on 2 shared cores it takes
throughput from the server), so the sweep also prints how each side's server CPU per request
and wrk's grow from -c32 to -c1000: the server's growth is the server's own share of the drop.
With both cores busy, req/s is cores / (server + wrk CPU per request), so the sweep also prints
the -c1000/-c32 ratio that model predicts and the one a server whose cost did not grow at all
would reach beside wrk's measured growth: the ceiling the -c1000 point has on these cores. Pinned: both servers pinned to CPU 0
(every thread), wrk to CPU 1 (one thread), -c32: wrk's own cost no longer shares the servers'
core, so the ratio measures the servers alone (goal >= 1.0).

Half load: wrk has no fixed-rate mode; the wrk scripts' delay() hook paces each of the 32
connections so the offered rate is half of (a)'s median peak (wrk's timer has 1 ms steps: the
pause is randomly rounded, so the rate is right on average and somewhat bursty). RSS: the
service's VmRSS with 1,000 open TLS connections that each made one request.

Parity (nothing here favours (a)):
  - both log every request: the service at its default LOG_LEVEL=info writes one JSON access
    line per request (stderr, to a file); nginx writes its combined access log to a file with
    `buffer=64k flush=1s`, which is how the service writes too (lines queued, one write per batch
    by a writer thread);
  - same certificate and key (ECDSA P-256), TLS 1.3 with TLS_AES_128_GCM_SHA256 and P-256 key
    exchange on both (nginx would otherwise pick AES-256-GCM and X25519 for wrk);
  - nginx: one worker per core, keep-alive without a request cap, session cache and tickets on;
    the service: one worker thread per core (its default), no request cap either.
  - nginx "strict" (the default): open_file_cache on, so nginx does not open, stat and close
    static.json on every request (the usual tuning for static files; ~30% less CPU per
    request). --nginx-old runs the older comparison without the cache.
  - the workloads differ by definition of the goal: (a) is a POST with a 1 KiB body that is
    parsed and has 6 fields encrypted, (b) a GET of a static 1 KiB file.

usage: bench/http/bench.py [BIN_DIR] [--secs N] [--rounds N] [--no-sweep] [--no-pinned]
                          [--nginx-old]
       (not a test; about 4 minutes on 2 cores with the defaults)
"""
import os
import pathlib
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
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


def start_service(bindir, work, env=None, wrap=(), log_name="svc.log", wait_s=120):
    """Starts `nitro-enc-svc --local-mode` in `work` on a free loopback port (the bench's payments
    schema copied into work/schemas first) and waits until /readyz answers 200. `env` adds to the
    benches' settings (LOG_LEVEL=info, MAX_CONNECTIONS=4096); `wrap` prefixes the command
    (valgrind). Returns (process, port, an SSL context trusting its generated certificate); exits
    naming the service's log when it does not become ready."""
    schemas = work / "schemas"
    if not schemas.exists():
        schemas.mkdir()
        shutil.copy(HERE / "payments.yaml", schemas / "payments.yaml")
    port = free_port()
    full = {"PATH": os.environ["PATH"], "LISTEN": f"tcp://127.0.0.1:{port}", "LOG_LEVEL": "info",
            "MAX_CONNECTIONS": "4096", **(env or {})}
    with open(work / log_name, "wb") as log:
        p = subprocess.Popen([*wrap, str(bindir / "nitro-enc-svc"), "--local-mode"], cwd=work,
                             env=full, stdout=subprocess.DEVNULL, stderr=log)
    end = time.monotonic() + wait_s
    while time.monotonic() < end and p.poll() is None:
        try:
            ctx = ssl.create_default_context(cafile=str(work / ".nitro-enc" / "tls.crt"))
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx,
                                        timeout=5) as r:
                if r.status == 200:
                    return p, port, ctx
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.05)
    p.kill()
    sys.exit(f"bench: the service did not become ready (core built? see {work / log_name})")


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
    sockerr = m.group(1) if m else ""
    n = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "n": n, "p50": p50, "p99": p99, "non2xx": errs, "sockerr": sockerr}


def cpu_ticks(pids):
    """utime + stime of the processes (all their threads), in clock ticks."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def wrk(url, conns, secs, script=None, env=None, server_pids=(), threads=2, cpus=None):
    cmd = ["wrk", f"-t{min(threads, conns)}", f"-c{conns}", f"-d{secs}s", "--latency"]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus] + cmd
    if script:
        cmd += ["-s", str(script)]
    t0, m0 = cpu_ticks(server_pids), busy_ticks()
    with tempfile.TemporaryFile(mode="w+") as out:
        p = subprocess.Popen(cmd + [url], stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        r = parse_wrk(out.read())
    t1, m1 = cpu_ticks(server_pids), busy_ticks()
    n = max(1, r["n"])
    hz = os.sysconf("SC_CLK_TCK")
    r["srv_us"] = (t1 - t0) / hz * 1e6 / n
    r["wrk_us"] = (ru.ru_utime + ru.ru_stime) * 1e6 / n
    # what else ran meanwhile (other builds, the kernel's own threads): the noise indicator
    other = (m1 - m0) / hz - (t1 - t0) / hz - (ru.ru_utime + ru.ru_stime)
    r["other"] = max(0.0, other) / (secs * (os.cpu_count() or 1))
    return r


def nginx_pids(master):
    try:
        with open(f"/proc/{master}/task/{master}/children") as f:
            return [master] + [int(x) for x in f.read().split()]
    except OSError:
        return [master]


def busy_ticks():
    """CPU ticks the whole machine spent busy (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # minus idle and iowait


def background_share(secs=2.0):
    """Share of the machine busy with other work, sampled while nothing of ours runs."""
    t0, b0 = time.monotonic(), busy_ticks()
    time.sleep(secs)
    ncpu = os.cpu_count() or 1
    return (busy_ticks() - b0) / os.sysconf("SC_CLK_TCK") / ((time.monotonic() - t0) * ncpu)


def pin(pids, cpus):
    """Sets the CPU affinity of every thread of the processes."""
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:
                pass


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    secs, rounds = 8, 5
    if "--secs" in sys.argv:
        secs = int(sys.argv[sys.argv.index("--secs") + 1])
    if "--rounds" in sys.argv:
        rounds = max(1, int(sys.argv[sys.argv.index("--rounds") + 1]))
    args = [a for a in args if not re.fullmatch(r"\d+", a)]
    do_sweep = "--no-sweep" not in sys.argv
    do_pinned = "--no-pinned" not in sys.argv
    ofc = "--nginx-old" not in sys.argv
    bg0 = background_share()
    bindir = pathlib.Path(args[0] if args else ROOT / "build" / "bin").resolve()
    ncpu = os.cpu_count() or 1
    work = pathlib.Path(tempfile.mkdtemp(prefix="nes-bench-"))
    procs = []
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16384)), hard))
        svc, port_a, ctx = start_service(bindir, work)
        procs.append(svc)
        port_b = free_port()

        # nginx's workers drop root for an unprivileged user: the document root must be
        # reachable for them (mkdtemp makes `work` 0700; the key directory stays 0700).
        os.chmod(work, 0o755)
        (work / "www").mkdir(mode=0o755)
        shutil.copy(HERE / "static-1k.json", work / "www" / "static.json")
        os.chmod(work / "www" / "static.json", 0o644)
        (work / "logs").mkdir()
        (work / "nginx.conf").write_text(f"""
worker_processes {ncpu};
daemon off;
pid {work}/nginx.pid;
error_log {work}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log {work}/logs/access.log combined buffer=64k flush=1s;
  client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
  keepalive_requests 1000000;
  {"open_file_cache max=64 inactive=60s; open_file_cache_valid 60s;" if ofc else ""}
  server {{
    listen 127.0.0.1:{port_b} ssl;
    ssl_certificate {work}/.nitro-enc/tls.crt;
    ssl_certificate_key {work}/.nitro-enc/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
    ssl_ecdh_curve prime256v1:X25519;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
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
        pids_a, pids_b = [svc.pid], nginx_pids(nginx.pid)
        run_a = lambda c, s, e=wenv, **kw: wrk(url_a, c, s, HERE / "post.lua", e, pids_a, **kw)
        run_b = lambda c, s, e=None, **kw: wrk(url_b, c, s, HERE / "rate.lua", e, pids_b, **kw)
        # warm-up, and a check that both sides answer 200 (a 403 page is no benchmark)
        for side, r in (("a", run_a(8, 2)), ("b", run_b(8, 2))):
            if r["non2xx"] or r["n"] == 0:
                sys.exit(f"bench: ({side}) answered {r['non2xx']} of {r['n']} requests with "
                         f"non-2xx (see {work}/logs/error.log and {work}/svc.log)")

        full = {"a": [], "b": []}
        for i in range(rounds):
            order = ("a", "b") if i % 2 == 0 else ("b", "a")
            for k in order:
                full[k].append(run_a(32, secs) if k == "a" else run_b(32, secs))
        ratios = [ra["rps"] / rb["rps"] for ra, rb in zip(full["a"], full["b"])]
        ratio = statistics.median(ratios)

        def median_run(runs):
            return sorted(runs, key=lambda r: r["rps"])[(len(runs) - 1) // 2]

        med = {k: median_run(v) for k, v in full.items()}
        cpu = {k: {f: statistics.median(r[f] for r in v) for f in ("srv_us", "wrk_us")}
               for k, v in full.items()}
        peak_a = med["a"]["rps"]

        sweep = {"a": {}, "b": {}}
        for c in (1, 32, 256, 1000) if do_sweep else ():
            # many connections: the whole round, so the handshakes at its start weigh less
            d = secs if c >= 256 else max(3, secs // 2)
            sweep["a"][c] = run_a(c, d)
            sweep["b"][c] = run_b(c, d)
        pinned = {}
        if do_pinned and ncpu >= 2:
            allcpus = set(range(ncpu))
            pin(pids_a + pids_b, {0})
            for k in ("a", "b", "b", "a"):  # alternating, two each
                r = (run_a if k == "a" else run_b)(32, secs, threads=1, cpus="1")
                pinned.setdefault(k, []).append(r)
            pin(pids_a + pids_b, allcpus)
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

        other = statistics.median(r["other"] for r in full["a"] + full["b"])
        print()
        print(f"nitro-enc-svc vs nginx, TLS 1.3 keep-alive on loopback, {ncpu} cores, wrk -t2, "
              f"{rounds} alternating rounds of {secs}s")
        print(f"(a) POST /encrypt, 1 KiB body, 6 PII fields   (b) nginx GET static 1 KiB JSON, "
              f"{ncpu} workers, open_file_cache {'on' if ofc else 'off'}; both write an access log")
        print(f"other work on the machine: {bg0:.0%} of the CPUs before, {other:.0%} during the "
              f"full-load rounds (median)"
              + ("   (busy: rerun when quiet)" if max(bg0, other) > 0.05 else ""))
        print()
        print(f"{'':28}{'(a) nitro-enc-svc':>20}{'(b) nginx':>14}{'a/b':>8}")
        print(f"{'full load (-c32) req/s':28}{med['a']['rps']:>20.0f}{med['b']['rps']:>14.0f}"
              f"{ratio:>8.2f}")
        print(f"{'full load p50 / p99 ms':28}{med['a']['p50']:>9.2f} / {med['a']['p99']:<8.2f}"
              f"{med['b']['p50']:>5.2f} / {med['b']['p99']:<6.2f}")
        print(f"{'CPU us/request server':28}{cpu['a']['srv_us']:>20.1f}{cpu['b']['srv_us']:>14.1f}")
        print(f"{'CPU us/request wrk':28}{cpu['a']['wrk_us']:>20.1f}{cpu['b']['wrk_us']:>14.1f}")
        ra, rb = half["a"], half["b"]
        print(f"{'half load (paced -c32) req/s':28}{ra['rps']:>20.0f}{rb['rps']:>14.0f}")
        print(f"{'half load p50 / p99 ms':28}{ra['p50']:>9.2f} / {ra['p99']:<8.2f}"
              f"{rb['p50']:>5.2f} / {rb['p99']:<6.2f}")
        print(f"{'non-2xx responses':28}{sum(r['non2xx'] for r in full['a']):>20}"
              f"{sum(r['non2xx'] for r in full['b']):>14}")
        print(f"{'service RSS idle / 1,000 conns':28}{rss_idle / 1024:>12.1f} / {rss_1000 / 1024:.1f} MiB")
        print()
        print("rounds (req/s (a), req/s (b), a/b; server us/req (a), (b); other work (a), (b)):")
        for i, (fa, fb) in enumerate(zip(full["a"], full["b"])):
            print(f"  {i + 1}: {fa['rps']:>8.0f} {fb['rps']:>8.0f} {ratios[i]:>6.2f}"
                  f"    {fa['srv_us']:>5.1f} {fb['srv_us']:>5.1f}"
                  f"    {fa['other']:>4.0%} {fb['other']:>4.0%}")
        if sweep["a"]:
            print()
            print("connection sweep (req/s, p50 ms, p99 ms; CPU us/request server + wrk, handshakes "
                  "included):")
        for c in sorted(sweep["a"]):
            a, b = sweep["a"][c], sweep["b"][c]
            print(f"  -c{c:<4} (a) {a['rps']:>8.0f} {a['p50']:>6.2f} {a['p99']:>6.2f}"
                  f" {a['srv_us']:>5.1f} + {a['wrk_us']:<5.1f}"
                  f"  (b) {b['rps']:>8.0f} {b['p50']:>6.2f} {b['p99']:>6.2f}"
                  f" {b['srv_us']:>5.1f} + {b['wrk_us']:<5.1f}"
                  f"  non-2xx/socket errors (a) {a['non2xx']}/{a['sockerr'] or '-'}")
        if 32 in sweep["a"] and 1000 in sweep["a"]:
            # wrk shares the two cores: its own cost per request grows with the connection count
            # as the servers' does, so the req/s ratio mixes both; the server's CPU per request
            # is its own share
            def growth(k, f):
                return sweep[k][1000][f] / sweep[k][32][f]
            print(f"  -c1000 vs -c32 CPU per request: server (a) x{growth('a', 'srv_us'):.2f} "
                  f"(b) x{growth('b', 'srv_us'):.2f}, wrk (a) x{growth('a', 'wrk_us'):.2f} "
                  f"(b) x{growth('b', 'wrk_us'):.2f}")

            # Both cores saturated: req/s = cores / (server + wrk CPU per request). So the ratio
            # the CPU figures predict is (s32 + w32) / (s1000 + w1000), and a server whose own
            # cost did not grow at all would still reach only (s32 + w32) / (s32 + w1000):
            # the most the -c1000 point can show on these shared cores, whatever the server.
            def ceiling(k, server_grows):
                lo, hi = sweep[k][32], sweep[k][1000]
                s = hi["srv_us"] if server_grows else lo["srv_us"]
                return (lo["srv_us"] + lo["wrk_us"]) / (s + hi["wrk_us"])
            print(f"  -c1000 / -c32 req/s: (a) {sweep['a'][1000]['rps'] / sweep['a'][32]['rps']:.2f}"
                  f" (CPU figures predict {ceiling('a', True):.2f}), (b) "
                  f"{sweep['b'][1000]['rps'] / sweep['b'][32]['rps']:.2f} (predict "
                  f"{ceiling('b', True):.2f}); with the server's cost flat and wrk's as measured: "
                  f"(a) {ceiling('a', False):.2f}, (b) {ceiling('b', False):.2f}")
        pin_ratio = None
        if pinned:
            pa = statistics.median(r["rps"] for r in pinned["a"])
            pb = statistics.median(r["rps"] for r in pinned["b"])
            pin_ratio = pa / pb
            print()
            print(f"pinned (servers on CPU 0, wrk -t1 on CPU 1, -c32): (a) {pa:.0f} req/s, "
                  f"(b) {pb:.0f} req/s, a/b {pin_ratio:.2f}; server us/request "
                  f"(a) {statistics.median(r['srv_us'] for r in pinned['a']):.1f} "
                  f"(b) {statistics.median(r['srv_us'] for r in pinned['b']):.1f}")
        goals = [("a/b >= 1.0", ratio >= 1.0),
                 ("server CPU/request <= nginx's", cpu["a"]["srv_us"] <= cpu["b"]["srv_us"]),
                 ("p99 <= 2 ms at half load", ra["p99"] <= 2.0),
                 ("RSS <= 64 MiB with 1,000 connections", rss_1000 <= 64 * 1024)]
        if sweep["a"] and 32 in sweep["a"]:
            floor = 0.9 * sweep["a"][32]["rps"]
            goals.append(("no connection count below 90% of -c32",
                          all(r["rps"] >= floor for c, r in sweep["a"].items() if c > 1)))
        if pin_ratio is not None:
            goals.append(("pinned a/b >= 1.0", pin_ratio >= 1.0))
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
