"""Our SigV4 signer (src/aws/sigv4.c through tests/tools/aws_sigv4_tool) against botocore's.

Each case describes one request with raw (unencoded) path and query values; the tool prints our
Authorization header and the path and query it would send; botocore signs the same request
(SigV4Auth, or S3SigV4Auth for S3) with the same fixed time and credentials, from the path as
botocore's own serializers encode it and the raw query parameters. Both must agree exactly.

AWS's published SigV4 test suite (aws-sig-v4-test-suite) is not shipped by any Debian or PyPI
package reachable here, so botocore is the reference.
"""
import datetime
import hashlib
import subprocess
from unittest import mock
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import BIN

T = 1764500000  # 2025-11-30T10:53:20Z
AK = "AKIDEXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token/with=chars"

KMS_HDRS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Decrypt"}
SM_HDRS = {"Content-Type": "application/x-amz-json-1.1",
           "X-Amz-Target": "secretsmanager.GetSecretValue"}

# (id, service, method, host, raw path, [(name, value|None)], headers, body, session token)
CASES = [
    ("kms-decrypt", "kms", "POST", "kms.us-east-1.amazonaws.com", "/", [], KMS_HDRS,
     b'{"CiphertextBlob":"AQID"}', None),
    ("kms-token", "kms", "POST", "kms.eu-west-1.amazonaws.com", "/", [], KMS_HDRS,
     b'{"KeyId":"alias/x"}', TOKEN),
    ("kms-port", "kms", "POST", "127.0.0.1:4566", "/", [], KMS_HDRS, b"{}", None),
    ("sm-get", "secretsmanager", "POST", "secretsmanager.us-east-1.amazonaws.com", "/", [],
     SM_HDRS, b'{"SecretId":"nes/dek","VersionStage":"AWSPREVIOUS"}', TOKEN),
    ("sm-awkward-path", "secretsmanager", "POST", "h.example", "/a b/./c/../d%e/é", [], SM_HDRS,
     b"", None),
    ("sm-spaced-header", "secretsmanager", "POST", "h.example", "/", [],
     {"X-Amz-Target": "  secretsmanager.Put   Secret  ", "Content-Type": "a/b"}, b"x", None),
    ("s3-get-plain", "s3", "GET", "s3.us-east-1.amazonaws.com", "/bucket/schemas/payments.yaml",
     [], {}, b"", None),
    ("s3-get-awkward", "s3", "GET", "127.0.0.1:9000",
     "/bkt/spécs/a b+c~d%e/f=g&h?i#j//k/./l", [], {"If-None-Match": '"abc"'}, b"", TOKEN),
    ("s3-get-unicode", "s3", "GET", "bkt.s3.eu-central-1.amazonaws.com", "/日本語/ключ.yaml", [],
     {}, b"", None),
    ("s3-put", "s3", "PUT", "127.0.0.1:9000", "/bkt/schemas/new spec+1.yaml", [],
     {"Content-Type": "application/yaml"}, b"openapi: 3.0.3\n" * 50, None),
    ("s3-list", "s3", "GET", "127.0.0.1:9000", "/bkt",
     [("list-type", "2"), ("prefix", "schemas/sub dir/é+~"), ("max-keys", "1000"),
      ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")], {}, b"", None),
    ("s3-list-sorting", "s3", "GET", "127.0.0.1:9000", "/bkt",
     [("b", "2"), ("a", "z"), ("a", "y"), ("A", "1"), ("a-b", "%/ +")], {}, b"", None),
    ("s3-empty-value", "s3", "GET", "127.0.0.1:9000", "/bkt", [("uploads", None), ("x", "")],
     {}, b"", None),
    ("kms-query", "kms", "GET", "h.example", "/",
     [("Param2", "value2"), ("Param1", "value 1/ä")], {}, b"", None),
]


def ours(service, method, host, path, query, headers, body, token):
    lines = [f"method {method}", f"service {service}", "region REGION", f"host {host}",
             f"path {path.encode().hex() or '-'}", f"time {T}", f"access {AK}",
             f"secret {SK.encode().hex()}", f"payload {body.hex() or '-'}"]
    for name, value in query:
        lines.append(f"query {name.encode().hex()} "
                     f"{'novalue' if value is None else (value.encode().hex() or '-')}")
    for name, value in headers.items():
        lines.append(f"header {name} {value.encode().hex() or '-'}")
    if token:
        lines.append(f"token {token.encode().hex()}")
    text = "\n".join(lines).replace("region REGION", f"region {region_of(host)}") + "\n"
    p = subprocess.run([str(BIN / "aws_sigv4_tool")], input=text.encode(), capture_output=True,
                       check=True, timeout=30)
    return dict(line.split(" ", 1) for line in p.stdout.decode().splitlines())


def region_of(host):
    for r in ("eu-west-1", "eu-central-1"):
        if r in host:
            return r
    return "us-east-1"


def theirs(service, method, host, path, query, headers, body, token):
    scheme = "http" if host.startswith("127.") else "https"
    # botocore's serializers: S3 keys via percent_encode(safe='/~'); other paths as given.
    url = f"{scheme}://{host}{quote(path, safe='/~')}"
    params = [(n, "" if v is None else v) for n, v in query]
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers), params=params)
    req.headers["Host"] = host
    creds = Credentials(AK, SK, token)
    auth = (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, region_of(host))
    fixed = datetime.datetime.fromtimestamp(T, datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
        auth.add_auth(req)
    return req, url


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_signature_equals_botocore(case):
    _, service, method, host, path, query, headers, body, token = case
    got = ours(service, method, host, path, query, headers, body, token)
    req, url = theirs(service, method, host, path, query, headers, body, token)
    assert got["amz_date"] == req.headers["X-Amz-Date"]
    assert got["authorization"] == req.headers["Authorization"]
    assert got["path"] == url.split("://", 1)[1][len(host):]
    assert got["payload_hash"] == hashlib.sha256(body).hexdigest()


def test_signature_changes_with_every_input():
    base = CASES[0][1:]
    sig = ours(*base)["authorization"]
    assert ours(base[0], base[1], base[2], base[3], base[4], base[5], base[6] + b" ",
                base[7])["authorization"] != sig
    assert ours(base[0], base[1], base[2], "/x", base[4], base[5], base[6],
                base[7])["authorization"] != sig


def test_malformed_header_name_is_refused():
    p = subprocess.run([str(BIN / "aws_sigv4_tool")],
                       input=(f"method GET\nservice kms\nregion r\nhost h\npath {b'/'.hex()}\n"
                              f"access a\nsecret {b's'.hex()}\nheader bad:name {b'v'.hex()}\n")
                       .encode(), capture_output=True, timeout=30)
    assert p.returncode == 1
