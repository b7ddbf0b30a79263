"""schemathesis (every check) against the live service's own GET /openapi.yaml, so that the API
description and the service cannot drift apart. A bounded number of examples per operation and a
fixed seed keep the run short and repeatable (SCHEMATHESIS_EXAMPLES, SCHEMATHESIS_SEED override
them). /decrypt is reached with an allowed mTLS client certificate."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

from svc import DATA, Service
from tlsutil import CA

ST = pathlib.Path(sys.executable).with_name("schemathesis")
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "100")
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261130")


@pytest.mark.skipif(not ST.exists(), reason="schemathesis is not in the venv")
def test_schemathesis_finds_no_drift(tmp_path):
    ca = CA()
    (tmp_path / "ca.pem").write_bytes(ca.pem())
    cert, key, _ = ca.write(tmp_path, "client", "st-client", client=True)
    s = Service(tmp_path / "svc", env={"DECRYPT_ALLOWED_CLIENTS": "st-client",
                                        "TLS_CLIENT_CA": str(tmp_path / "ca.pem")})
    try:
        cmd = [str(ST), "--config-file", str(DATA / "schemathesis" / "schemathesis.toml"),
               "run", f"https://127.0.0.1:{s.port}/openapi.yaml",
               "--checks", "all", "--max-examples", EXAMPLES, "--seed", SEED,
               "--generation-database", "none", "--workers", "1", "--no-color",
               "--tls-verify", s.cafile, "--request-cert", cert, "--request-cert-key", key,
               "--request-timeout", "20", "--header", "X-Schema-Name: payments",
               "--report", "junit", "--report-dir", str(tmp_path / "report")]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-8000:]
        sel = re.search(r"Selected: (\d+)/(\d+)", out)
        assert sel and sel.group(1) == sel.group(2) and int(sel.group(1)) >= 5, out[-3000:]
        assert re.search(r"Tested: [1-9]", out) and "No issues found" in out, out[-3000:]
        assert s.alive()
    finally:
        s.stop()
