"""`nitro-enc dek create|rotate` and `nitro-enc schema push` against moto, read back with boto3."""
import os
import subprocess

import pytest

from conftest import BIN, ROOT

SPECS = ROOT / "tests" / "integration" / "data" / "specs"


def cli(*args, env=None):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    # A loaded machine can make moto slow: no attempt may time out and be retried here.
    e["AWS_TIMEOUT_MS"] = "60000"
    e.update(env or {})
    return subprocess.run([str(BIN / "nitro-enc"), *map(str, args)], env=e, capture_output=True,
                          text=True, timeout=180)


def test_dek_create_rotate_and_stages(moto):
    kms = moto.client("kms")
    sm = moto.client("secretsmanager")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    p = cli("dek", "create", "--kms-key-id", key, "--secret-id", "nes/dek", env=moto.env())
    assert p.returncode == 0, p.stderr
    arn, v1 = p.stdout.split()
    assert arn.startswith("arn:aws:secretsmanager:") and ":secret:nes/dek" in arn
    first = sm.get_secret_value(SecretId="nes/dek")
    assert first["VersionId"] == v1
    dek1 = kms.decrypt(CiphertextBlob=first["SecretBinary"])["Plaintext"]
    assert len(dek1) == 32
    assert "generating a data key" in p.stderr and "creating secret" in p.stderr

    p = cli("dek", "rotate", "--kms-key-id", key, "--secret-id", arn, env=moto.env())
    assert p.returncode == 0, p.stderr
    _, v2 = p.stdout.split()
    cur = sm.get_secret_value(SecretId="nes/dek")
    prev = sm.get_secret_value(SecretId="nes/dek", VersionStage="AWSPREVIOUS")
    assert cur["VersionId"] == v2 != v1 and prev["VersionId"] == v1
    dek2 = kms.decrypt(CiphertextBlob=cur["SecretBinary"])["Plaintext"]
    assert len(dek2) == 32 and dek2 != dek1

    # create on an existing name adds a version, like rotate
    p = cli("dek", "create", "--kms-key-id", key, "--secret-id", "nes/dek", env=moto.env())
    assert p.returncode == 0 and "exists; adding a new version" in p.stderr
    assert sm.get_secret_value(SecretId="nes/dek", VersionStage="AWSPREVIOUS")["VersionId"] == v2

    # the plaintext key is never printed
    for out in (p.stdout, p.stderr):
        for d in (dek1, dek2):
            assert d.hex() not in out


def test_dek_errors(moto):
    p = cli("dek", "rotate", "--kms-key-id", "alias/none", "--secret-id", "x", env=moto.env())
    assert p.returncode == 1 and "KMS GenerateDataKey failed" in p.stderr
    key = moto.client("kms").create_key()["KeyMetadata"]["KeyId"]
    p = cli("dek", "rotate", "--kms-key-id", key, "--secret-id", "nes/none", env=moto.env())
    assert p.returncode == 1 and "ResourceNotFoundException" in p.stderr
    p = cli("dek", "create", "--kms-key-id", key, "--secret-id", "s",
            "--encryption-context", "[1]", env=moto.env())
    assert p.returncode == 1 and "encryption context" in p.stderr
    p = cli("dek", "create", "--kms-key-id", key, env=moto.env())
    assert p.returncode == 2 and "--secret-id" in p.stderr
    p = cli("dek", "create", "--kms-key-id", key, "--secret-id", "s", env={"AWS_REGION": ""})
    assert p.returncode == 2 and "AWS_REGION" in p.stderr
    p = cli("dek", "explode")
    assert p.returncode == 2


def test_schema_push_lints_then_uploads(moto, tmp_path):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="specs")
    p = cli("schema", "push", SPECS / "payments.yaml", SPECS / "twoops.yaml", "--bucket", "specs",
            "--prefix", "v1/", env=moto.env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["s3://specs/v1/payments.yaml", "s3://specs/v1/twoops.yaml"]
    body = s3.get_object(Bucket="specs", Key="v1/payments.yaml")
    assert body["Body"].read() == (SPECS / "payments.yaml").read_bytes()
    assert body["ContentType"] == "application/yaml"

    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.3\npaths:\n  /x:\n    post:\n      requestBody:\n"
                      "        content:\n          application/json:\n            schema:\n"
                      "              $ref: '#/components/schemas/Missing'\n")
    p = cli("schema", "push", SPECS / "twoops.yaml", broken, "--bucket", "specs", env=moto.env())
    assert p.returncode == 1 and "broken.yaml: refused" in p.stderr and "nothing uploaded" in p.stderr
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="specs").get("Contents", [])]
    assert keys == ["v1/payments.yaml", "v1/twoops.yaml"]  # nothing from the failed push

    p = cli("schema", "push", SPECS / "twoops.yaml", "--bucket", "nosuchbucket", env=moto.env())
    assert p.returncode == 1 and "NoSuchBucket" in p.stderr
    p = cli("schema", "push", SPECS / "twoops.yaml", env=moto.env())
    assert p.returncode == 2


@pytest.mark.parametrize("args", [("dek", "--help"), ("dek", "create", "--help"),
                                  ("schema", "push", "--help"), ("--help",)])
def test_help(args):
    p = cli(*args)
    assert p.returncode == 0 and "usage" in p.stdout.lower()
