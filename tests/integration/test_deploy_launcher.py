"""deploy/launcher/run-enclave.sh: starts the enclave, starts it again when it dies, terminates
it on SIGTERM.

nitro-cli needs /dev/nitro_enclaves, which no test machine has, so these tests put a stand-in
`nitro-cli` first on PATH: a small script that keeps the "running enclave" as a file and records
every call. Killing the enclave is removing that file. What is tested is the launcher's own
logic (arguments, restart, shutdown), not nitro-cli.
"""
import json
import os
import pathlib
import signal
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "deploy" / "launcher" / "run-enclave.sh"

FAKE = r"""#!/bin/sh
# stand-in nitro-cli: state in $FAKE_DIR/enclave (present = running), calls in $FAKE_DIR/calls
echo "$*" >>"$FAKE_DIR/calls"
case $1 in
  run-enclave)
    [ -f "$FAKE_DIR/refuse" ] && exit 1
    cid=$(echo "$*" | sed -n 's/.*--enclave-cid \([0-9]*\).*/\1/p'); echo "$cid" >"$FAKE_DIR/enclave"
    echo '{"EnclaveID": "i-0-enc", "EnclaveCID": '"$cid"'}' ;;
  describe-enclaves)
    if [ -f "$FAKE_DIR/enclave" ]; then
      printf '[\n  {\n    "EnclaveName": "nitro-enc-svc",\n    "EnclaveCID": %s,\n    "NumberOfCPUs": 2,\n    "CPUIDs": [1, 3],\n    "State": "RUNNING"\n  }\n]\n' "$(cat "$FAKE_DIR/enclave")"
    else
      echo '[]'
    fi ;;
  terminate-enclave) rm -f "$FAKE_DIR/enclave" ;;
esac
"""


def wait_for(pred, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def start(tmp_path, **extra):
    fake = tmp_path / "nitro-cli"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    eif = tmp_path / "x.eif"
    eif.write_bytes(b"eif")
    env = dict(os.environ, FAKE_DIR=str(tmp_path), NITRO_CLI=str(fake), EIF_PATH=str(eif),
               ENCLAVE_CID="21", ENCLAVE_CPU_COUNT="4", ENCLAVE_MEMORY_MIB="3072",
               CHECK_INTERVAL_SECS="1", RESTART_DELAY_SECS="1", **extra)
    log = open(tmp_path / "launcher.log", "w")
    p = subprocess.Popen([str(LAUNCHER)], env=env, stdout=log, stderr=subprocess.STDOUT)
    return p, tmp_path / "calls", tmp_path / "launcher.log"


def events(log):
    return [json.loads(ln) for ln in log.read_text().splitlines() if ln.startswith("{")]


def runs(calls):
    return [c for c in calls.read_text().splitlines() if c.startswith("run-enclave")] \
        if calls.exists() else []


def test_starts_restarts_after_death_and_terminates_on_sigterm(tmp_path):
    p, calls, log = start(tmp_path)
    try:
        assert wait_for(lambda: len(runs(calls)) == 1)
        assert runs(calls)[0].split() == [
            "run-enclave", "--eif-path", str(tmp_path / "x.eif"), "--enclave-cid", "21",
            "--cpu-count", "4", "--memory", "3072"]
        assert wait_for(lambda: any(e["msg"] == "enclave started" for e in events(log)))
        time.sleep(2.5)  # checks while it runs: no second start
        assert len(runs(calls)) == 1
        (tmp_path / "enclave").unlink()  # the enclave dies
        assert wait_for(lambda: len(runs(calls)) == 2)
        assert wait_for(lambda: (tmp_path / "enclave").exists())
        assert any(e["msg"].startswith("enclave not running") for e in events(log))
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
        assert not (tmp_path / "enclave").exists()
        assert calls.read_text().splitlines()[-1] == "terminate-enclave --all"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_failed_start_is_retried_and_debug_mode_passed(tmp_path):
    (tmp_path / "refuse").write_text("")
    p, calls, log = start(tmp_path, DEBUG_MODE="1")
    try:
        assert wait_for(lambda: len(runs(calls)) >= 2)
        assert any(e["level"] == "error" for e in events(log))
        (tmp_path / "refuse").unlink()
        assert wait_for(lambda: (tmp_path / "enclave").exists())
        assert runs(calls)[-1].endswith("--debug-mode")
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0


def test_missing_eif_is_an_error(tmp_path):
    env = dict(os.environ, EIF_PATH=str(tmp_path / "none.eif"), NITRO_CLI="/bin/false")
    r = subprocess.run([str(LAUNCHER)], env=env, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "no EIF" in r.stdout
