#!/usr/bin/env python3
"""bench/spec/bench.py BINDIR [SIZES...] - spec loading against spec size (`make bench-spec`).

For each size N (default 5000 20000 40000 100000) it generates specs with gen_spec.py (N
component schemas; `one`: the body references one of them, `all`: the body references every one)
plus the `one` spec as minified JSON (one line), and runs `nitro-enc schema lint` on each in a fresh process, printing wall seconds and the
process's peak RSS. Goals (issue 10): 100k schemas in <= 5 s and <= 300 MB; 20k schemas all
reached in <= 1 s. With `all`, N above ~50k exceeds the automaton's node limit (two nodes per
schema) and is refused by design; the row still shows how long reaching that verdict takes.
Figures, not a test: take them from a quiet machine."""
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent


def run(binary, spec):
    t0 = time.monotonic()
    proc = subprocess.Popen([str(binary), "schema", "lint", str(spec)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.monotonic() - t0
    err = proc.stderr.read().decode(errors="replace").strip()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return secs, usage.ru_maxrss / 1024.0, proc.returncode, err


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = pathlib.Path(sys.argv[1]) / "nitro-enc"
    sizes = [int(a) for a in sys.argv[2:]] or [5000, 20000, 40000, 100000]
    print(f"# spec loading: nitro-enc schema lint, {os.cpu_count()} cores")
    print(f"{'schemas':>8} {'reach':>5} {'format':>6} {'MB':>7} {'seconds':>8} {'peak MB':>8}  result")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for reach, fmt in (("one", "yaml"), ("one", "json"), ("all", "yaml")):
                spec = pathlib.Path(tmp) / f"scale-{n}-{reach}.{fmt}"
                with open(spec, "w") as f:
                    subprocess.run([sys.executable, str(HERE / "gen_spec.py"), str(n),
                                    "--reach", reach, "--format", fmt], stdout=f, check=True)
                secs, rss, rc, err = run(binary, spec)
                mb = spec.stat().st_size / 1e6
                if rc == 0:
                    result = "ok"
                elif "compiles to more than" in err:
                    result = "refused: over the automaton node limit (NES_SPEC_MAX_NODES)"
                else:
                    result = f"exit {rc}: {err[-100:]}"
                    failed = True
                print(f"{n:>8} {reach:>5} {fmt:>6} {mb:>7.1f} {secs:>8.2f} {rss:>8.0f}  {result}",
                      flush=True)
                spec.unlink()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
