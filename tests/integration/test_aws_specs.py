"""The S3 spec provider (src/enclave/providers/s3specs.c) against moto, through aws_tool's
`specs` command: each `refresh` line runs one refresh and prints the published set."""
import json
import os
import pathlib
import subprocess
import time

from awspeer import ACCESS_KEY, SECRET_KEY
from conftest import BIN, ROOT

SPECS = ROOT / "tests" / "integration" / "data" / "specs"
SIBLINGS = ROOT / "tests" / "data" / "specs" / "siblings"


class Provider:
    """aws_tool specs BUCKET PREFIX MAXBYTES, driven line by line."""

    def __init__(self, env, bucket="specs", prefix="schemas/", max_bytes=8 << 20):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_TIMEOUT_MS": "60000"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                e[k] = os.environ[k]
        e.update(env)
        self.p = subprocess.Popen([str(BIN / "aws_tool"), "specs", bucket, prefix, str(max_bytes)],
                                  env=e, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def command(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def refresh(self, cmd="refresh"):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().strip()
        assert line.startswith("refresh "), line
        f = dict(kv.split("=", 1) for kv in line.split(" ")[1:])
        f["specs"] = dict((s.split(":")[0], tuple(map(int, s.split(":")[1:])))
                          for s in f["specs"].split(",") if s)
        return f

    def close(self):
        self.p.stdin.close()
        self.p.wait(30)
        return [json.loads(line) for line in self.p.stderr.read().splitlines()
                if line.startswith("{")]


def put(s3, key, path_or_bytes):
    body = path_or_bytes if isinstance(path_or_bytes, bytes) else pathlib.Path(
        path_or_bytes).read_bytes()
    s3.put_object(Bucket="specs", Key=key, Body=body)


def test_refresh_change_broken_deleted(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="specs")
    put(s3, "schemas/payments.yaml", SPECS / "payments.yaml")
    put(s3, "schemas/twoops.yml", SPECS / "twoops.yaml")
    put(s3, "schemas/notes.txt", b"not a spec")
    put(s3, "schemas/sub/deeper.yaml", SPECS / "payments.yaml")  # not top level: not a spec
    put(s3, "elsewhere/a.yaml", SPECS / "payments.yaml")
    prov = Provider(moto.env())
    try:
        r1 = prov.refresh()
        assert r1["rc"] == "0" and r1["total"] == "2", r1
        assert set(r1["specs"]) == {"payments", "twoops"}
        pay1 = r1["specs"]["payments"]

        r2 = prov.refresh()  # nothing changed: every object answers 304
        assert r2["specs"] == r1["specs"] and int(r2["not_modified"]) >= 2

        # changed spec: payments gets twoops' content
        put(s3, "schemas/payments.yaml", SPECS / "twoops.yaml")
        r3 = prov.refresh()
        assert r3["specs"]["payments"] == r1["specs"]["twoops"] != pay1

        # broken spec: last good version stays, error counted
        put(s3, "schemas/payments.yaml", b"openapi: 3.0.3\npaths: [oops\n")
        r4 = prov.refresh()
        assert r4["rc"] == "1" and r4["specs"]["payments"] == r3["specs"]["payments"]
        assert int(r4["errors"]) == 1

        # deleted spec: gone on the next refresh
        s3.delete_object(Bucket="specs", Key="schemas/twoops.yml")
        r5 = prov.refresh()
        assert "twoops" not in r5["specs"] and "payments" in r5["specs"]

        # S3 away: the listing fails, nothing changes, the error is counted
        moto.down()
        r6 = prov.refresh()
        assert r6["rc"] == "-1" and r6["specs"] == r5["specs"]
        assert int(r6["errors"]) == int(r5["errors"]) + 1
        moto.up()
        put(s3, "schemas/payments.yaml", SPECS / "payments.yaml")
        r7 = prov.refresh()
        assert r7["rc"] == "0" and r7["specs"]["payments"] == pay1
    finally:
        logs = prov.close()
    failed = [r for r in logs if r["msg"] == "spec failed to load; its last good version stays"]
    assert len(failed) == 1 and failed[0]["spec"] == "payments"
    assert "payments.yaml:" in failed[0]["reason"]  # the loader's location
    assert any(r["msg"] == "spec listing failed; the current specs stay in use" for r in logs)


def test_sibling_refs_resolve_to_objects_under_the_prefix(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="specs")
    for f in SIBLINGS.rglob("*.yaml"):
        put(s3, "p/" + str(f.relative_to(SIBLINGS)), f)
    prov = Provider(moto.env(), prefix="p/")
    try:
        r1 = prov.refresh()
        assert "main" in r1["specs"], r1
        # a change in a sibling recompiles the spec that uses it
        common = (SIBLINGS / "common.yaml").read_text()
        put(s3, "p/common.yaml", common.encode() + b"\n# touched\n")
        r2 = prov.refresh()
        assert "main" in r2["specs"]
        s3.delete_object(Bucket="specs", Key="p/defs/ids.yaml")
        r3 = prov.refresh()  # main's sibling is gone: main keeps its last good version
        assert r3["specs"]["main"] == r2["specs"]["main"] and int(r3["errors"]) > int(r2["errors"])
    finally:
        logs = prov.close()
    # compiled at the start and again after its sibling changed; then failed once
    assert sum(r["msg"] == "spec loaded" and r["spec"] == "main" for r in logs) == 2
    fail = [r for r in logs if r.get("spec") == "main" and "failed" in r["msg"]]
    assert len(fail) == 1 and "defs/ids.yaml" in fail[0]["reason"]


def test_oversized_object_is_refused_and_others_load(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="specs")
    put(s3, "schemas/payments.yaml", SPECS / "payments.yaml")
    put(s3, "schemas/big.yaml", b"#" * (100 << 20))
    prov = Provider(moto.env(), max_bytes=1 << 20)
    try:
        t0 = time.monotonic()
        r = prov.refresh()
        assert time.monotonic() - t0 < 20
        assert r["rc"] == "1" and set(r["specs"]) == {"payments"} and r["errors"] == "1"
    finally:
        logs = prov.close()
    assert any(r.get("aws_code") == "ResponseTooLarge" for r in logs)


def test_background_refresh(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="specs")
    put(s3, "schemas/payments.yaml", SPECS / "payments.yaml")
    prov = Provider({**moto.env(), "AWS_TEST_REFRESH_SECS": "1"})
    try:
        assert prov.command("start") == "start rc=0 ready=1"
        assert set(prov.refresh("show")["specs"]) == {"payments"}
        put(s3, "schemas/twoops.yml", (SPECS / "twoops.yaml").read_bytes())
        deadline = time.monotonic() + 15
        while "twoops" not in prov.refresh("show")["specs"]:
            assert time.monotonic() < deadline, "the background refresh did not pick it up"
            time.sleep(0.2)
    finally:
        prov.close()
