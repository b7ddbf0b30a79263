"""The moto fixture itself: it serves the three services, survives down()/up(), and restarts."""
import urllib.error
import urllib.request

import pytest


def test_moto_serves_kms_secrets_s3_and_gate_goes_down_and_up(moto):
    kms = moto.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    dk = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert len(dk["Plaintext"]) == 32
    sm = moto.client("secretsmanager")
    sm.create_secret(Name="s", SecretBinary=dk["CiphertextBlob"])
    assert sm.get_secret_value(SecretId="s")["SecretBinary"] == dk["CiphertextBlob"]
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="k", Body=b"x")
    assert moto.env()["AWS_ENDPOINT_URL"] == moto.url
    with urllib.request.urlopen(moto.url + "/moto-api/data.json", timeout=5) as r:
        assert b"secretsmanager" in r.read()
    moto.down()
    with pytest.raises(OSError):
        urllib.request.urlopen(moto.url + "/moto-api/data.json", timeout=5)
    moto.up()
    assert sm.get_secret_value(SecretId="s")["SecretBinary"] == dk["CiphertextBlob"]
    with urllib.request.urlopen(moto.url + "/moto-api/data.json", timeout=5) as r:
        assert r.status == 200
    moto.stop()
    moto.start()
    with pytest.raises(Exception):
        sm.get_secret_value(SecretId="s")  # fresh state after a restart
