"""Enclave mode end to end: the attested DEK path against real AWS-protocol peers.

moto serves Secrets Manager, S3 and KMS; the Recipient-aware KMS front (kmsfront.py) verifies each
attestation document of the test NSM (NSM_DEVICE=test:DIR) with pycose and cryptography and
answers CiphertextForRecipient made by `openssl cms`. Provisioning uses the real CLI
(`nitro-enc dek create|rotate`, `nitro-enc schema push`); the DEK that the tests use to open tokens
is fetched back from moto with boto3, never from the service."""
import base64
import json
import signal
import socket
import subprocess
import time

import pytest

import tokenref
from kmsfront import KmsFront
from svc import BIN, PAYMENT, Service, remember
from tlsutil import CA

SECRET = "nes/dek"
BUCKET = "nes-specs"


def nitro_enc(moto, *args, check=True):
    r = subprocess.run([str(BIN / "nitro-enc"), *args], env=moto.env(), capture_output=True,
                       text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def current_dek(moto, stage="AWSCURRENT") -> bytes:
    """The DEK as an operator with KMS rights would see it (boto3, straight to moto)."""
    blob = moto.client("secretsmanager").get_secret_value(SecretId=SECRET, VersionStage=stage)
    blob = blob.get("SecretBinary") or base64.b64decode(blob["SecretString"])
    return moto.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"]


def wait_for(cond, timeout=20, what="condition", svc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f":\n{svc.logs()}" if svc else ""))


class Enclave:
    """A provisioned moto, the KMS front and a way to start nitro-enc-svc in enclave mode."""

    def __init__(self, moto, tmp_path, pki):
        self.moto, self.dir, self.pki = moto, tmp_path, pki
        self.key_id = moto.client("kms").create_key()["KeyMetadata"]["KeyId"]
        nitro_enc(moto, "dek", "create", "--kms-key-id", self.key_id, "--secret-id", SECRET)
        moto.client("s3").create_bucket(Bucket=BUCKET)
        self.nsm_dir = tmp_path / "nsm"
        self.front = KmsFront(moto.url, str(self.nsm_dir / "ca.crt")).start()

    def push_specs(self, spec_dir):
        nitro_enc(self.moto, "schema", "push", str(spec_dir / "payments.yaml"), "--bucket", BUCKET,
                  "--prefix", "schemas/")

    def env(self, **extra):
        cert, key = self.pki[0], self.pki[1]
        e = self.moto.env(
            AWS_ENDPOINT_URL_KMS=self.front.url, AWS_EGRESS="direct", SECRET_ARN=SECRET,
            KMS_KEY_ID=self.key_id, S3_BUCKET=BUCKET, S3_PREFIX="schemas/",
            OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318",
            NSM_DEVICE=f"test:{self.nsm_dir}", TLS_CERT=cert, TLS_KEY=key,
            DEK_ROTATION_INTERVAL_SECS="1", DEK_RETRY_MAX_SECS="1",
            SCHEMA_REFRESH_INTERVAL_SECS="1", AWS_MAX_ATTEMPTS="1", AWS_TIMEOUT_MS="3000")
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def service(self, name="svc", wait_ready=True, **extra):
        s = Service(self.dir / name, env=self.env(**extra), args=(), specs=None,
                    wait_ready=False, cafile=self.pki[3])
        if wait_ready:
            try:
                s.wait_ready(timeout=20)
            except Exception:
                s.stop()  # never leave a service behind a failed start
                raise
        return s

    def close(self):
        self.front.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA()
    (d / "ca.pem").write_bytes(ca.pem())
    cert, key, _ = ca.write(d, "server", "localhost")
    client = ca.write(d, "client", "svc-a", client=True)
    return cert, key, client, str(d / "ca.pem")


@pytest.fixture
def enclave(moto, tmp_path, pki, root_dir):
    e = Enclave(moto, tmp_path, pki)
    e.push_specs(root_dir / "tests" / "integration" / "data" / "specs")
    yield e
    e.close()


def tokens_open_with(body: bytes, dek: bytes):
    doc = json.loads(body)
    assert tokenref.decrypt(dek, b"", doc["name"]) == PAYMENT["name"].encode()
    assert tokenref.decrypt(dek, b"ssn", doc["ssn"]) == PAYMENT["ssn"].encode()
    assert tokenref.decrypt(dek, b"pan", doc["card"]["number"]) == PAYMENT["card"]["number"].encode()
    assert doc["amount"] == PAYMENT["amount"] and doc["currency"] == PAYMENT["currency"]


def test_enclave_mode_end_to_end(enclave):
    s = enclave.service()
    try:
        status, _, body = s.request("GET", "/readyz")
        assert status == 200
        ready = json.loads(body)
        assert ready["specs"] == 1 and "TEST NSM" in ready["warning"]
        status, _, enc = s.encrypt(PAYMENT)
        assert status == 200, enc
        dek = current_dek(enclave.moto)
        tokens_open_with(enc, dek)
        assert enclave.front.verified >= 1 and enclave.front.refused == 0
        assert s.metric("nes_dek_attested") == 1 and s.metric("nes_nsm_test") == 1
        assert s.metric("nes_dek_refreshes_total") >= 1
        warn = [l for l in s.log_lines() if "TEST NSM" in l.get("msg", "")]
        assert warn and warn[0]["level"] == "warn"
        pcrs = [l for l in s.log_lines() if l.get("msg") == "NSM measurements"]
        assert pcrs and len(pcrs[0]["pcr0"]) == 96 and pcrs[0]["pcr0"] != "0" * 96
        logs = s.logs()
        for secret in (base64.b64encode(dek).decode(), dek.hex()):
            assert secret not in logs
    finally:
        assert s.stop() == 0


def test_rotation_new_tokens_use_new_key_and_old_ones_still_open(enclave, pki):
    client = pki[2]
    s = enclave.service(DECRYPT_ALLOWED_CLIENTS="svc-a", TLS_CLIENT_CA=pki[3])
    try:
        _, _, old = s.encrypt(PAYMENT)
        old_dek = current_dek(enclave.moto)
        tokens_open_with(old, old_dek)
        ctx = s.context(client[0], client[1])
        hdrs = {"Content-Type": "application/json", "X-Schema-Name": "payments"}
        # two rotations: the front cycles v0, v2 (-keyid) and BER (-stream) CMS answers
        prev = old  # tokens are deterministic per key: they change when the new key is in use
        for rotation in (1, 2):
            before = enclave.front.verified
            nitro_enc(enclave.moto, "dek", "rotate", "--kms-key-id", enclave.key_id,
                      "--secret-id", SECRET)
            wait_for(lambda b=before: enclave.front.verified > b, what="a rotation fetch", svc=s)
            wait_for(lambda p=prev: json.loads(s.encrypt(PAYMENT)[2])["name"] !=
                     json.loads(p)["name"], what="new tokens", svc=s)
            prev = s.encrypt(PAYMENT)[2]
            if rotation == 1:  # the key before the rotation is AWSPREVIOUS: old tokens open
                status, _, dec = s.request("POST", "/decrypt", old, hdrs, ctx=ctx)
                assert status == 200 and json.loads(dec) == PAYMENT
        new_dek = current_dek(enclave.moto)
        assert new_dek != old_dek
        _, _, new = s.encrypt(PAYMENT)
        tokens_open_with(new, new_dek)
        assert set(enclave.front.variants_used) == {"v0", "v2", "ber"}
        # DEK_KEEP_PREVIOUS=1 (default): current + AWSPREVIOUS; the first key is gone
        assert s.metric("nes_dek_keys") == 2
        status, _, dec = s.request("POST", "/decrypt", new, hdrs, ctx=ctx)
        assert status == 200 and json.loads(dec) == PAYMENT
        prev_dek = current_dek(enclave.moto, "AWSPREVIOUS")
        by_prev = json.dumps({**json.loads(new), "name": tokenref.encrypt(
            prev_dek, b"", PAYMENT["name"].encode())}).encode()
        status, _, dec = s.request("POST", "/decrypt", by_prev, hdrs, ctx=ctx)
        assert status == 200 and json.loads(dec) == PAYMENT
        status, _, _ = s.request("POST", "/decrypt", old, hdrs, ctx=ctx)
        assert status == 400  # two rotations ago: beyond DEK_KEEP_PREVIOUS=1
    finally:
        s.stop()


def test_peer_down_keeps_serving_then_recovers(enclave):
    s = enclave.service()
    try:
        _, _, before = s.encrypt(PAYMENT)
        enclave.moto.down()
        errors0 = s.metric("nes_dek_refresh_errors_total")
        wait_for(lambda: s.metric("nes_dek_refresh_errors_total") >= errors0 + 2,
                 what="counted refresh errors", svc=s)
        for _ in range(5):
            status, _, body = s.encrypt(PAYMENT)
            assert status == 200 and body == before  # the cached DEK, same tokens
        assert s.request("GET", "/readyz")[0] == 200
        failed = [l for l in s.log_lines() if l.get("msg", "").startswith("DEK fetch failed")]
        assert failed and failed[-1]["level"] == "error"
        enclave.moto.up()
        ok0 = s.metric("nes_dek_refreshes_total")
        wait_for(lambda: s.metric("nes_dek_refreshes_total") > ok0 + 1, what="recovery", svc=s)
        errs = s.metric("nes_dek_refresh_errors_total")
        time.sleep(2.5)
        assert s.metric("nes_dek_refresh_errors_total") == errs  # healthy again
        assert s.encrypt(PAYMENT)[2] == before
    finally:
        s.stop()


def test_sighup_fetches_now_and_never_holds_up_sigterm(enclave):
    # S3 goes through the front too, so the test can make it slow
    s = enclave.service(DEK_ROTATION_INTERVAL_SECS=3600, SCHEMA_REFRESH_INTERVAL_SECS=3600,
                        AWS_MAX_ATTEMPTS=3, AWS_ENDPOINT_URL_S3=enclave.front.url)
    try:
        _, _, before = s.encrypt(PAYMENT)
        nitro_enc(enclave.moto, "dek", "rotate", "--kms-key-id", enclave.key_id,
                  "--secret-id", SECRET)
        time.sleep(1)
        assert s.encrypt(PAYMENT)[2] == before  # the next scheduled fetch is an hour away
        s.signal(signal.SIGHUP)
        wait_for(lambda: s.encrypt(PAYMENT)[2] != before, timeout=10, what="SIGHUP fetch", svc=s)
        tokens_open_with(s.encrypt(PAYMENT)[2], current_dek(enclave.moto))
        # S3 slow beyond AWS_TIMEOUT_MS: a SIGHUP's spec refresh takes three timeouts, and
        # SIGTERM still closes the listener at once
        enclave.front.delay_all = 5.0
        s.signal(signal.SIGHUP)
        time.sleep(0.5)
        assert s.encrypt(PAYMENT)[0] == 200
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)

        def refused():
            try:
                socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
                return False
            except OSError:
                return True
        wait_for(refused, timeout=5, what="the listener to close", svc=s)
        assert time.monotonic() - t0 < 3
        s.proc.wait(timeout=30)
    finally:
        enclave.front.delay_all = 0
        s.stop()


def test_slow_kms_times_out_without_blocking_requests(enclave):
    s = enclave.service()
    try:
        _, _, before = s.encrypt(PAYMENT)
        enclave.front.delay = 5.0  # beyond AWS_TIMEOUT_MS=3000
        nitro_enc(enclave.moto, "dek", "rotate", "--kms-key-id", enclave.key_id,
                  "--secret-id", SECRET)
        errors0 = s.metric("nes_dek_refresh_errors_total")
        end = time.monotonic() + 7
        while time.monotonic() < end:  # requests answer at once while the fetch waits on KMS
            t0 = time.monotonic()
            status, _, body = s.encrypt(PAYMENT)
            assert status == 200 and body == before
            assert time.monotonic() - t0 < 1.0
            time.sleep(0.2)
        assert s.metric("nes_dek_refresh_errors_total") > errors0
        timeouts = [l for l in s.log_lines() if l.get("step") == "KMS Decrypt"]
        assert timeouts and timeouts[-1]["error"] == "network"
        enclave.front.delay = 0
        wait_for(lambda: s.encrypt(PAYMENT)[2] != before, what="the rotated key", svc=s)
        tokens_open_with(s.encrypt(PAYMENT)[2], current_dek(enclave.moto))
    finally:
        s.stop()


def test_plaintext_answer_refused_in_attested_mode(enclave):
    enclave.front.mode = "plaintext"
    s = enclave.service(wait_ready=False)
    try:
        wait_for(lambda: s.metric("nes_dek_refresh_errors_total") >= 2, what="refusals", svc=s)
        assert s.request("GET", "/readyz")[0] == 503
        assert s.metric("nes_dek_keys") == 0
        assert "KMS answered Plaintext, refused" in s.logs()
    finally:
        s.stop()
    # the emulator escape hatch: accepted, loudly
    s = enclave.service(name="svc2", ALLOW_PLAINTEXT_DEK="1")
    try:
        assert s.metric("nes_dek_attested") == 0
        tokens_open_with(s.encrypt(PAYMENT)[2], current_dek(enclave.moto))
        warning = json.loads(s.request("GET", "/readyz")[2])["warning"]
        assert "TEST NSM" in warning and "ALLOW_PLAINTEXT_DEK=1" in warning
        assert any("ALLOW_PLAINTEXT_DEK=1" in l.get("msg", "") and l["level"] == "warn"
                   for l in s.log_lines())
    finally:
        s.stop()


@pytest.mark.parametrize("mode,reason", [
    ("wrong-recipient", "no recipient info opens with this key"),
    ("truncated", "CMS: not a DER/BER ContentInfo"),
    ("malformed", "CMS: not a DER/BER ContentInfo"),
    ("dek16", "the content is 16 bytes, a DEK is exactly 32"),
    ("dek64", "the content is 64 bytes, a DEK is exactly 32"),
])
def test_hostile_cms_refused(enclave, mode, reason):
    enclave.front.mode = mode
    s = enclave.service(wait_ready=False)
    try:
        wait_for(lambda: s.metric("nes_dek_refresh_errors_total") >= 2, what="refusals", svc=s)
        assert s.alive()
        assert s.request("GET", "/readyz")[0] == 503
        refused = [l for l in s.log_lines() if l.get("msg", "").startswith("DEK refused")]
        assert refused, s.logs()
        assert reason in refused[0]["reason"]
        # the faulty front goes away: the next fetch loads the key
        enclave.front.mode = "recipient"
        s.wait_ready(timeout=20)
        tokens_open_with(s.encrypt(PAYMENT)[2], current_dek(enclave.moto))
    finally:
        s.stop()


def test_secret_string_base64_and_encryption_context(moto, tmp_path, pki, root_dir):
    """A secret written by other tooling: SecretString holding base64, with an encryption
    context that must match DEK_ENCRYPTION_CONTEXT (AWSPREVIOUS, made without one, is left out
    with DEK_KEEP_PREVIOUS=0: a version that does not unwrap fails the whole fetch)."""
    e = Enclave(moto, tmp_path, pki)
    try:
        e.push_specs(root_dir / "tests" / "integration" / "data" / "specs")
        kms = moto.client("kms")
        ctx = {"service": "nitro-enc", "env": "test"}
        dk = kms.generate_data_key(KeyId=e.key_id, KeySpec="AES_256", EncryptionContext=ctx)
        remember(base64.b64encode(dk["Plaintext"]).decode())
        moto.client("secretsmanager").put_secret_value(
            SecretId=SECRET, SecretString=base64.b64encode(dk["CiphertextBlob"]).decode())
        s = e.service(DEK_ENCRYPTION_CONTEXT=json.dumps(ctx), DEK_KEEP_PREVIOUS=0)
        try:
            tokens_open_with(s.encrypt(PAYMENT)[2], dk["Plaintext"])
            assert s.metric("nes_dek_keys") == 1
        finally:
            s.stop()
    finally:
        e.close()


def test_enclave_config_errors(tmp_path, pki):
    """Bad enclave settings are one line each and exit 2, before any AWS call."""
    env = {"PATH": "/usr/bin:/bin", "SECRET_ARN": "s", "KMS_KEY_ID": "k", "S3_BUCKET": "b",
           "AWS_EGRESS": "direct", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
           "TLS_CERT": pki[0], "TLS_KEY": pki[1], "AWS_REGION": "us-east-1",
           "DEK_ENCRYPTION_CONTEXT": '{"a": 1}', "NSM_DEVICE": "test:"}
    r = subprocess.run([str(BIN / "nitro-enc-svc"), "--check-config"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "DEK_ENCRYPTION_CONTEXT: must be a JSON object of string values" in r.stderr
    assert "NSM_DEVICE: a device path (/dev/nsm) or test:DIR" in r.stderr
    env.update(DEK_ENCRYPTION_CONTEXT='{"a": "b"}', NSM_DEVICE=str(tmp_path / "no-nsm"),
               AWS_EGRESS="direct", LISTEN="tcp://127.0.0.1:0")
    r = subprocess.run([str(BIN / "nitro-enc-svc"), "--check-config"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "NSM_DEVICE=" in r.stdout and "ALLOW_PLAINTEXT_DEK=0" in r.stdout
    r = subprocess.run([str(BIN / "nitro-enc-svc")], env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2
    assert "cannot open" in r.stderr and "no-nsm" in r.stderr


def test_vsock_egress_goes_through_the_bridge_and_fails_closed(enclave):
    # No vsock loopback here: the bridge starts, its vsock connect to the parent fails, and the
    # service stays up but never becomes ready (no key, no spec) instead of refusing to start.
    s = enclave.service(wait_ready=False, AWS_EGRESS="vsock://3:8000")
    try:
        wait_for(lambda: any(l.get("msg", "").startswith("DEK fetch failed")
                             for l in s.log_lines()), what="a failed DEK fetch", svc=s)
        assert s.alive()
        assert s.request("GET", "/healthz")[0] == 200
        assert s.request("GET", "/readyz")[0] == 503
        assert s.metric("nes_dek_refresh_errors_total") >= 1
    finally:
        assert s.stop() == 0
