"""The AWS client layer (src/aws) through tests/tools/aws_tool, against moto and against small
programmable peers for what moto cannot do (hostile answers, skew, slowness, IMDS, egress)."""
import base64
import json
import os
import subprocess
import time

import pytest

from awsfake import ConnectProxy, FakeAws, http_date
from awspeer import ACCESS_KEY, SECRET_KEY
from conftest import BIN

# AWS_TIMEOUT_MS: a loaded machine can make moto slow; tests that want timeouts set their own.
BASE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_TIMEOUT_MS": "60000"}
for _k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
    if _k in os.environ:
        BASE_ENV[_k] = os.environ[_k]


def tool(*args, env=None, stdin=None, timeout=180):
    e = dict(BASE_ENV)
    e.update({k: str(v) for k, v in (env or {}).items()})
    p = subprocess.run([str(BIN / "aws_tool"), *map(str, args)], env=e, input=stdin,
                       capture_output=True, text=True, timeout=timeout)
    logs = [json.loads(line) for line in p.stderr.splitlines() if line.startswith("{")]
    return p.returncode, p.stdout, logs


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split(" ")[1:] if "=" in kv)


# ---- against moto ---------------------------------------------------------------------------

def test_kms_secrets_s3_against_moto(moto):
    env = moto.env()
    kms = moto.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    rc, out, _ = tool("kms-generate", key, env=env)
    assert rc == 0, out
    blob = bytes.fromhex(fields(out.splitlines()[0])["hex"])
    assert len(kms.decrypt(CiphertextBlob=blob)["Plaintext"]) == 32
    rc, out, _ = tool("kms-decrypt", key, blob.hex(), env=env)
    assert rc == 0 and "ok plaintext=32" in out

    sm = moto.client("secretsmanager")
    sm.create_secret(Name="nes/dek", SecretBinary=b"\x01\x02\x03")
    sm.put_secret_value(SecretId="nes/dek", SecretString=base64.b64encode(b"new").decode())
    rc, out, _ = tool("sm-get", "nes/dek", env=env)
    assert rc == 0 and "binary=0 len=4" in out
    rc, out, _ = tool("sm-get", "nes/dek", "AWSPREVIOUS", env=env)
    assert rc == 0 and "binary=1 len=3" in out
    rc, out, logs = tool("sm-get", "nes/missing", env=env)
    assert rc == 1 and "kind=notfound" in out and "code=ResourceNotFoundException" in out
    assert "attempts=1" in out  # not retried
    assert any(r.get("aws_code") == "ResourceNotFoundException" for r in logs)

    s3 = moto.client("s3")
    s3.create_bucket(Bucket="specs")
    for k in ("schemas/a b+c~d.yaml", "schemas/é/ключ.json", "schemas/x%y=z&q.yml", "other/x"):
        s3.put_object(Bucket="specs", Key=k, Body=b"hello " + k.encode())
    rc, out, _ = tool("s3-list", "specs", "schemas/", 100, env=env)
    assert rc == 0, out
    lines = out.splitlines()
    assert lines[0] == "ok n=3"
    keys = sorted(line.rsplit(" ", 2)[0] for line in lines[1:4])
    assert keys == sorted(["schemas/a b+c~d.yaml", "schemas/é/ключ.json", "schemas/x%y=z&q.yml"])
    rc, out, _ = tool("s3-get", "specs", "schemas/é/ключ.json", 1000, env=env)
    assert rc == 0 and f"len={len(('hello schemas/é/ключ.json').encode())}" in out
    etag = fields(out.splitlines()[0])["etag"]
    rc, out, _ = tool("s3-get", "specs", "schemas/é/ключ.json", 1000, etag, env=env)
    assert rc == 0 and out.startswith("not-modified")
    rc, out, _ = tool("s3-get", "specs", "schemas/nope.yaml", 1000, env=env)
    assert rc == 1 and "kind=notfound" in out and "NoSuchKey" in out


def test_100_mib_object_refused_without_reading_it(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="big")
    s3.put_object(Bucket="big", Key="huge.yaml", Body=b"a" * (100 << 20))
    t0 = time.monotonic()
    rc, out, _ = tool("s3-get", "big", "huge.yaml", 8 << 20, env=moto.env())
    assert rc == 1 and "kind=limit" in out and "Content-Length" in out, out
    assert time.monotonic() - t0 < 20


def test_list_pages_against_moto(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="many")
    for i in range(1005):
        s3.put_object(Bucket="many", Key=f"p/{i:05d}.yaml", Body=b"")
    rc, out, _ = tool("s3-list", "many", "p/", 5000, env=moto.env())
    assert rc == 0 and out.splitlines()[0] == "ok n=1005"
    rc, out, _ = tool("s3-list", "many", "p/", 1000, env=moto.env())
    assert rc == 1 and "kind=limit" in out


# ---- hostile and odd answers ----------------------------------------------------------------

def s3_env(fake, **extra):
    e = {"AWS_ENDPOINT_URL": fake.url, "AWS_MAX_ATTEMPTS": "3"}
    e.update({k: str(v) for k, v in extra.items()})
    return e


def listing(keys, truncated=False, token=None):
    items = "".join(f"<Contents><Key>{k}</Key><ETag>&quot;e{i}&quot;</ETag><Size>1</Size>"
                    f"</Contents>" for i, k in enumerate(keys))
    more = f"<NextContinuationToken>{token}</NextContinuationToken>" if token else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.'
            f'com/doc/2006-03-01/"><Name>b</Name><IsTruncated>{"true" if truncated else "false"}'
            f"</IsTruncated>{more}{items}</ListBucketResult>").encode()


def test_listing_follows_continuation_tokens():
    with FakeAws() as fake:
        def h(req):
            if "continuation-token=t%2F2" in req.path:
                return 200, {}, listing(["s/c.yaml"])
            if "continuation-token=t1" in req.path:
                return 200, {}, listing(["s/b.yaml"], True, "t/2")
            return 200, {}, listing(["s/a.yaml"], True, "t1")
        fake.handler = h
        rc, out, _ = tool("s3-list", "bkt", "s/", 100, env=s3_env(fake))
        assert rc == 0, out
        assert out.splitlines()[:4] == ["ok n=3", 's/a.yaml "e0" 1', 's/b.yaml "e0" 1',
                                        's/c.yaml "e0" 1']
        assert all(r.path.startswith("/bkt?") and "list-type=2" in r.path for r in fake.requests)
        # the three pages went over one kept-alive connection
        assert len({r.client for r in fake.requests}) == 1


def test_xml_bomb_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i else b"&lol;") * 10)
                       for i in range(1, 10))
            + b']><ListBucketResult><Contents><Key>&lol9;</Key></Contents></ListBucketResult>')
    with FakeAws() as fake:
        fake.handler = lambda req: (200, {}, bomb)
        t0 = time.monotonic()
        rc, out, logs = tool("s3-list", "bkt", "", 100, env=s3_env(fake))
        assert rc == 1 and "kind=response" in out and "DTD not allowed" in out
        assert time.monotonic() - t0 < 10
        assert len(fake.requests) == 1  # a malformed answer is not retried


def test_ten_thousand_key_page():
    keys = [f"k/{i:05d}.yaml" for i in range(10000)]
    with FakeAws() as fake:
        fake.handler = lambda req: (200, {}, listing(keys))
        rc, out, _ = tool("s3-list", "bkt", "k/", 20000, env=s3_env(fake))
        assert rc == 0 and out.splitlines()[0] == "ok n=10000"
        rc, out, _ = tool("s3-list", "bkt", "k/", 5000, env=s3_env(fake))
        assert rc == 1 and "kind=limit" in out and "too many objects" in out


@pytest.mark.parametrize("status,body,kind,code,attempts", [
    (500, b"<html><body>Internal error</body></html>", "service", "HTTP500", 3),
    (502, b"Bad Gateway", "service", "HTTP502", 3),
    (400, b"not json at all \x00\xff", "service", "HTTP400", 1),
    (403, b"", "service", "HTTP403", 1),
    (400, b'{"__type":"com.amazonaws.kms#ThrottlingException","message":"Rate exceeded"}',
     "service", "ThrottlingException", 3),
    (400, b'{"__type":"ValidationException","message":"bad \\u0007 thing"}', "service",
     "ValidationException", 1),
    (400, b"{truncated json", "service", "HTTP400", 1),
])
def test_error_bodies_become_one_clear_error(status, body, kind, code, attempts):
    with FakeAws() as fake:
        fake.handler = lambda req: (status, {"Content-Type": "text/html"}, body)
        rc, out, logs = tool("kms-generate", "alias/k", env=s3_env(fake))
        assert rc == 1
        f = fields(out.splitlines()[0])
        assert f["kind"] == kind and f["code"] == code and f["attempts"] == str(attempts), out
        assert len(fake.requests) == attempts
        failed = [r for r in logs if r["msg"] == "AWS call failed"]
        assert len(failed) == 1 and failed[0]["aws_code"] == code
        assert "\x00" not in out and "<html>" not in json.dumps(logs)


def kms_ok():
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({
        "Plaintext": base64.b64encode(bytes(range(32))).decode(),
        "CiphertextBlob": base64.b64encode(b"blob").decode(), "KeyId": "arn:k"}).encode()


@pytest.mark.parametrize("service", ["kms", "s3"])
def test_clock_ten_minutes_off_is_corrected(service):
    offset = 600
    with FakeAws() as fake:
        def h(req):
            server_now = time.time() + offset
            sent = time.mktime(time.strptime(req.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) \
                - time.timezone
            date = {"Date": http_date(server_now)}
            if abs(sent - server_now) > 300:
                if service == "kms":
                    return 400, date, json.dumps({
                        "__type": "InvalidSignatureException",
                        "message": "Signature expired: 20251130T100000Z is now earlier than "
                                   "20251130T100500Z (20251130T101000Z - 5 min.)"}).encode()
                return 403, date, (b"<?xml version='1.0'?><Error><Code>RequestTimeTooSkewed</Code>"
                                   b"<Message>The difference between the request time and the "
                                   b"current time is too large.</Message></Error>")
            return kms_ok() if service == "kms" else (200, date, listing(["a.yaml"]))
        fake.handler = h
        args = ("kms-generate", "alias/k") if service == "kms" else ("s3-list", "bkt", "", 10)
        rc, out, logs = tool(*args, env=s3_env(fake, AWS_MAX_ATTEMPTS=1))
        assert rc == 0, out
        skew = int(out.strip().splitlines()[-1].split("=")[1])
        assert abs(skew - offset) <= 3
        assert len(fake.requests) == 2
        fixed = [r for r in logs if r["msg"].startswith("clock skew corrected")]
        assert len(fixed) == 1 and abs(fixed[0]["clock_offset_secs"] - offset) <= 3


def test_slow_kms_is_retried_after_the_timeout():
    with FakeAws() as fake:
        calls = []

        def h(req):
            calls.append(time.monotonic())
            if len(calls) == 1:
                time.sleep(10)  # far beyond AWS_TIMEOUT_MS
            return kms_ok()
        fake.handler = h
        t0 = time.monotonic()
        rc, out, logs = tool("kms-generate", "alias/k",
                             env=s3_env(fake, AWS_TIMEOUT_MS=700, AWS_MAX_ATTEMPTS=3))
        assert rc == 0, out
        # answered by the retry, long before the first attempt's answer would have come
        assert len(calls) == 2 and time.monotonic() - t0 < 8
        retried = [r for r in logs if r["msg"] == "AWS call retried"]
        assert len(retried) == 1 and retried[0]["aws_code"] == "NetworkError"


def test_object_over_the_cap_without_content_length_is_cut():
    with FakeAws() as fake:
        def h(req):
            w = req.handler
            w.send_response(200)
            w.send_header("Transfer-Encoding", "chunked")
            w.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(1600):  # 100 MiB if nobody stops us
                    w.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    fake.bytes_sent += len(chunk)
                w.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            return None
        fake.handler = h
        rc, out, _ = tool("s3-get", "bkt", "big.yaml", 1 << 20, env=s3_env(fake))
        assert rc == 1 and "kind=limit" in out
        time.sleep(0.5)
        assert fake.bytes_sent < (16 << 20)


# ---- credentials and egress -----------------------------------------------------------------

def test_imds_v2_credentials():
    with FakeAws() as imds, FakeAws() as kms:
        def h(req):
            if req.method == "PUT" and req.path == "/latest/api/token":
                assert req.headers["X-aws-ec2-metadata-token-ttl-seconds"] == "21600"
                return 200, {}, b"TOKEN123"
            if req.headers.get("X-aws-ec2-metadata-token") != "TOKEN123":
                return 401, {}, b""
            if req.path == "/latest/meta-data/iam/security-credentials/":
                return 200, {}, b"nes-role\n"
            if req.path == "/latest/meta-data/iam/security-credentials/nes-role":
                exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                return 200, {}, json.dumps({"Code": "Success", "AccessKeyId": "ASIAIMDSROLE",
                                            "SecretAccessKey": "imds/secret",
                                            "Token": "imds-session-token",
                                            "Expiration": exp}).encode()
            return 404, {}, b""
        imds.handler = h
        kms.handler = lambda req: kms_ok()
        env = dict(BASE_ENV)
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        p = subprocess.run([str(BIN / "aws_tool"), "kms-generate", "alias/k"],
                           env={**env, "AWS_ENDPOINT_URL": kms.url,
                                "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url},
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert [r.method for r in imds.requests] == ["PUT", "GET", "GET"]
        sent = kms.requests[0].headers
        assert "Credential=ASIAIMDSROLE/" in sent["Authorization"]
        assert sent["X-Amz-Security-Token"] == "imds-session-token"
        assert "imds/secret" not in p.stderr and "imds-session-token" not in p.stderr


def imds_handler(expires_in, log):
    def h(req):
        log.append(req.path)
        if req.method == "PUT":
            return 200, {}, b"TOK"
        if req.path.endswith("/security-credentials/"):
            return 200, {}, b"role"
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expires_in))
        return 200, {}, json.dumps({"AccessKeyId": f"ASIA{len(log)}", "SecretAccessKey": "s",
                                    "Token": "t", "Expiration": exp}).encode()
    return h


def test_imds_credentials_refreshed_before_expiry():
    """Three S3 calls in one process: credentials that expire within five minutes are fetched
    again before each call; credentials valid for hours are fetched once."""
    for expires_in, fetches in ((120, 3), (7200, 1)):
        with FakeAws() as imds, FakeAws() as s3:
            log = []
            imds.handler = imds_handler(expires_in, log)
            s3.handler = lambda req: (200, {}, listing([]))
            env = {k: v for k, v in BASE_ENV.items() if not k.startswith("AWS_ACCESS")
                   and not k.startswith("AWS_SECRET")}
            env.update({"AWS_ENDPOINT_URL": s3.url, "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url})
            p = subprocess.run([str(BIN / "aws_tool"), "specs", "bkt", "", "1000"], env=env,
                               input="refresh\nrefresh\nrefresh\n", capture_output=True,
                               text=True, timeout=60)
            assert p.stdout.count("refresh rc=0") == 3, p.stdout + p.stderr
            assert sum(path.endswith("/role") for path in log) == fetches
            assert len(s3.requests) == 3


def test_no_credentials_is_a_clear_error():
    with FakeAws() as imds:
        imds.handler = lambda req: (404, {}, b"")
        env = dict(BASE_ENV)
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        p = subprocess.run([str(BIN / "aws_tool"), "kms-generate", "alias/k"],
                           env={**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                                "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url},
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and "kind=credentials" in p.stdout


def test_egress_through_a_connect_proxy(moto):
    proxy = ConnectProxy()
    try:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="egr")
        s3.put_object(Bucket="egr", Key="a.yaml", Body=b"x")
        rc, out, _ = tool("s3-list", "egr", "", 10,
                          env={**moto.env(), "AWS_EGRESS": f"tcp://127.0.0.1:{proxy.port}"})
        assert rc == 0 and "ok n=1" in out
        assert proxy.targets == [f"127.0.0.1:{moto.port}"]
    finally:
        proxy.close()


@pytest.mark.parametrize("mode", ["connect", "forward"])
def test_egress_through_a_unix_socket_bridge(moto, tmp_path, mode):
    """The vsock egress as the service wires it: libcurl talks to a Unix socket (the bridge to
    vsock); the far end is a CONNECT proxy or a fixed port forward."""
    path = str(tmp_path / "egress.sock")
    proxy = ConnectProxy(unix_path=path,
                         forward_to=("127.0.0.1", moto.port) if mode == "forward" else None)
    try:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="vsk")
        rc, out, _ = tool("s3-list", "vsk", "", 10,
                          env={**moto.env(), "AWS_EGRESS": "vsock://3:8000",
                               "AWS_EGRESS_MODE": mode, "AWS_TEST_BRIDGE": path})
        assert rc == 0 and "ok n=0" in out, out
        assert proxy.targets == ([f"127.0.0.1:{moto.port}"] if mode == "connect" else ["forward"])
    finally:
        proxy.close()


def test_https_endpoint_verified_against_the_ca_bundle(tmp_path):
    from tlsutil import CA  # pylint: disable=import-outside-toplevel
    ca = CA()
    (tmp_path / "ca.pem").write_bytes(ca.pem())
    cert, key, _ = ca.write(tmp_path, "kms", "localhost")
    with FakeAws(tls=(cert, key)) as fake:
        fake.handler = lambda req: kms_ok()
        rc, out, _ = tool("kms-generate", "alias/k",
                          env={"AWS_ENDPOINT_URL": fake.url, "AWS_CA_BUNDLE": tmp_path / "ca.pem"})
        assert rc == 0 and "ok blob=4" in out, out
        # through a CONNECT proxy: TLS runs end to end and is still verified
        proxy = ConnectProxy()
        try:
            rc, out, _ = tool("kms-generate", "alias/k",
                              env={"AWS_ENDPOINT_URL": fake.url,
                                   "AWS_CA_BUNDLE": tmp_path / "ca.pem",
                                   "AWS_EGRESS": f"tcp://127.0.0.1:{proxy.port}"})
            assert rc == 0 and proxy.targets == [f"127.0.0.1:{fake.port}"], out
        finally:
            proxy.close()
        # an unknown CA: refused, not retried
        other = CA()
        (tmp_path / "other.pem").write_bytes(other.pem())
        n = len(fake.requests)
        rc, out, _ = tool("kms-generate", "alias/k",
                          env={"AWS_ENDPOINT_URL": fake.url, "AWS_CA_BUNDLE": tmp_path / "other.pem"})
        assert rc == 1 and "kind=network" in out and "attempts=1" in out, out
        assert len(fake.requests) == n


def test_vsock_egress_without_its_bridge_is_refused():
    rc, out, logs = tool("kms-generate", "alias/k", env={"AWS_EGRESS": "vsock://3:8000"})
    assert rc == 1 and "code=NoEgressBridge" in out and "kind=config" in out


def test_peer_down_then_up(moto):
    moto.client("secretsmanager").create_secret(Name="s", SecretBinary=b"abc")
    moto.down()
    rc, out, logs = tool("sm-get", "s", env={**moto.env(), "AWS_MAX_ATTEMPTS": "2",
                                               "AWS_CONNECT_TIMEOUT_MS": "500"})
    assert rc == 1 and "kind=network" in out and "attempts=2" in out
    moto.up()
    rc, out, _ = tool("sm-get", "s", env=moto.env())
    assert rc == 0 and "len=3" in out


@pytest.mark.parametrize("env,message", [
    ({"AWS_REGION": ""}, "AWS_REGION: required"),
    ({"AWS_ENDPOINT_URL": "ftp://x"}, "AWS_ENDPOINT_URL: must be an http"),
    ({"AWS_ENDPOINT_URL_S3": "http://user@h"}, "AWS_ENDPOINT_URL_S3: must be a plain URL"),
    ({"AWS_EGRESS": "unix:///x"}, "AWS_EGRESS: must be direct"),
    ({"AWS_EGRESS_MODE": "tunnel"}, "AWS_EGRESS_MODE"),
    ({"AWS_SECRET_ACCESS_KEY": ""}, "set both or neither"),
    ({"AWS_MAX_ATTEMPTS": "0"}, "AWS_MAX_ATTEMPTS: must be a whole number"),
])
def test_bad_settings_are_one_clear_line(env, message):
    rc, out, _ = tool("kms-generate", "k", env=env)
    assert rc == 2 and message in out
    assert SECRET_KEY not in out
