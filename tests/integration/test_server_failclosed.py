"""Fail closed over the real service (DESIGN section 6): a member no schema declares is refused
with 422 and its JSON pointer (never its value), counted per spec in /metrics; UNKNOWN_FIELDS=pass
lets such members pass (counted); a PII value of a type its schema does not allow is 422 too."""
import json
import os
import re
import subprocess
import time

import pytest

from svc import BIN, PAYMENT, Service, remember

TOKEN = re.compile(r"^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$")
SECRET_SSN = "078-05-1120"
SECRET_NAME = "Augusta Ada King"
remember(SECRET_SSN, SECRET_NAME, "321-54-9876")


def unknown_series(svc, outcome, schema="payments"):
    _, _, body = svc.request("GET", "/metrics")
    want = f'nes_unknown_members_total{{schema="{schema}",outcome="{outcome}"}} '
    for line in body.decode().splitlines():
        if line.startswith(want):
            return int(line.rsplit(" ", 1)[1])
    return 0


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("closed"))
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def loose(tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("loose"), env={"UNKNOWN_FIELDS": "pass"})
    yield s
    assert s.stop() == 0


def error_of(body):
    return json.loads(body)["error"]


@pytest.mark.parametrize("body,pointer", [
    ({"Name": SECRET_NAME, "ssn": SECRET_SSN}, "/Name"),
    ({"card": {"number": "4111111111111111", "Cvv": SECRET_SSN}}, "/card/Cvv"),
    ({"note": {"ssn": SECRET_SSN}}, "/note/ssn"),
    ({"customer": {"name": SECRET_NAME}}, "/customer"),
])
def test_unknown_member_is_422_with_pointer_and_no_value(svc, body, pointer):
    before = unknown_series(svc, "rejected")
    status, headers, data = svc.encrypt(body)
    assert status == 422, data
    err = error_of(data)
    assert err["code"] == "unknown_member"
    assert f'"{pointer}"' in err["message"]
    assert SECRET_SSN not in data.decode() and SECRET_NAME not in data.decode()
    assert unknown_series(svc, "rejected") == before + 1
    # the access log names the error code (the log file check of the suite looks for values)
    end = time.monotonic() + 5
    while not any(x.get("route") == "encrypt" and x.get("error") == "unknown_member"
                  for x in svc.log_lines()):
        assert time.monotonic() < end, "no access log line for the 422"
        time.sleep(0.05)


def test_declared_body_still_encrypts(svc):
    status, _, data = svc.encrypt(PAYMENT)
    assert status == 200
    doc = json.loads(data)
    assert TOKEN.match(doc["ssn"]) and TOKEN.match(doc["card"]["number"])
    assert doc["card"]["expiry"] == PAYMENT["card"]["expiry"]


def test_pii_value_of_a_forbidden_type_is_422(svc):
    status, _, data = svc.encrypt({"ssn": 321549876})
    assert status == 422
    err = error_of(data)
    assert err["code"] == "pii_type"
    assert '"/ssn"' in err["message"] and "321549876" not in data.decode()


def test_unknown_fields_pass_lets_members_through_and_counts_them(loose):
    before = unknown_series(loose, "passed")
    body = {"name": SECRET_NAME, "Ssn": "321-54-9876", "extra": {"a": 1}}
    status, _, data = loose.encrypt(body)
    assert status == 200
    doc = json.loads(data)
    assert TOKEN.match(doc["name"])
    assert doc["Ssn"] == "321-54-9876" and doc["extra"] == {"a": 1}
    assert unknown_series(loose, "passed") == before + 2
    assert unknown_series(loose, "rejected") == 0


def test_unknown_fields_setting_is_checked(tmp_path):
    # Checked before logging starts: one plain line on stderr and exit 2 (as every config error;
    # run directly so the JSON-lines check of service logs does not see it).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LISTEN"))}
    env["UNKNOWN_FIELDS"] = "sometimes"
    r = subprocess.run([str(BIN / "nitro-enc-svc"), "--local-mode", "--check-config"], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "UNKNOWN_FIELDS: must be reject or pass" in r.stderr
    assert "sometimes" not in r.stderr
