"""Checks over the whole run (this file sorts last): no plaintext value sent to any service
appears in any service log, every line of every service log is one JSON object, and every
(method, route, status) the suite saw is documented in docs/openapi.yaml."""
import json
import pathlib

import pytest
import yaml

from svc import LOG_FILES, OBSERVED, PLAINTEXTS

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_logs_hold_no_plaintext():
    if not LOG_FILES:
        pytest.skip("no service ran in this session")
    for path in LOG_FILES:
        if not path.exists():
            continue
        text = path.read_text(errors="replace")
        for value in PLAINTEXTS:
            assert value not in text, f"{value!r} found in {path}"


def test_every_log_line_is_json():
    if not LOG_FILES:
        pytest.skip("no service ran in this session")
    bad, lines = [], 0
    for path in LOG_FILES:
        if not path.exists():
            continue
        for n, line in enumerate(path.read_bytes().splitlines(), 1):
            lines += 1
            try:
                if not isinstance(json.loads(line), dict):
                    raise ValueError("not an object")
            except ValueError:
                bad.append(f"{path}:{n}: {line[:200]!r}")
    assert lines > 0
    assert not bad, f"{len(bad)} of {lines} log lines are not JSON objects:\n" + "\n".join(bad[:20])


def test_openapi_documents_every_observed_status():
    if not OBSERVED:
        pytest.skip("no request was made in this session")
    doc = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    paths = doc["paths"]
    missing = []
    for method, path, status in sorted(OBSERVED):
        if path not in paths:
            # any other path: 404 in API mode, or proxy mode's own answers (x-proxy-mode)
            other = set(doc.get("x-any-path-responses", {})) & {"404"}
            other |= set(doc.get("x-proxy-mode", {}).get("responses", {}))
            if str(status) not in other:
                missing.append((method, path, status))
            continue
        op = paths[path].get(method.lower()) or (paths[path].get("get") if method == "HEAD" else None)
        if op is None:
            if status != 405:
                missing.append((method, path, status))
            continue
        if str(status) not in op["responses"]:
            missing.append((method, path, status))
    assert not missing, f"undocumented: {missing}"
