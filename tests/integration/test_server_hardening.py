"""Clean edges (issue 9 section 2): the local-mode certificate passes a strict verifier, only the
X25519 / P-256 / P-384 key-exchange groups are offered, error messages name specs without
machine paths, charsets other than UTF-8 are refused, and log lines stay JSON whatever a client
sends. One service serves the whole module."""
import datetime
import ipaddress
import json
import shutil
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from svc import PAYMENT, Service, read_response


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    s = Service(tmp_path_factory.mktemp("hardening"))
    yield s
    s.stop()


def chain(s):
    pem = (s.dir / ".nitro-enc" / "tls.crt").read_bytes()
    return x509.load_pem_x509_certificates(pem)


# ---- certificate ---------------------------------------------------------------------------

def test_local_certificate_is_a_leaf_under_a_local_ca(svc):
    leaf, ca = chain(svc)
    bc = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca is False
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


@pytest.mark.parametrize("name", [x509.DNSName("localhost"),
                                  x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
def test_strict_verifier_accepts_the_served_chain(svc, name):
    """pyca/cryptography's verifier (the CA/Browser profile a real client applies), trusting only
    the local CA, on the chain the service actually presents."""
    _, ca = chain(svc)
    with svc.raw_tls() as t:
        served = x509.load_der_x509_certificate(t.getpeercert(binary_form=True))
    verifier = (PolicyBuilder().store(Store([ca]))
                .time(datetime.datetime.now(datetime.timezone.utc))
                .build_server_verifier(name))
    path = verifier.verify(served, [])
    assert path[-1] == ca


def test_strict_verifier_refused_the_old_certificate_shape(tmp_path):
    """The check can fail: a self-signed CA:TRUE certificate used as the server's own (the old
    local-mode certificate) is refused by the same verifier."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    old = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
           .public_key(key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(hours=1))
           .not_valid_after(now + datetime.timedelta(days=30))
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
           .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                          critical=False)
           .sign(key, hashes.SHA256()))
    verifier = PolicyBuilder().store(Store([old])).time(now).build_server_verifier(
        x509.DNSName("localhost"))
    with pytest.raises(Exception):
        verifier.verify(old, [])


# ---- key-exchange groups -------------------------------------------------------------------

def s_client(svc, *args):
    """One openssl s_client handshake; returns (handshake completed, output)."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{svc.port}",
                        "-servername", "localhost", *args],
                       input=b"", capture_output=True, timeout=20)
    out = (p.stdout + p.stderr).decode(errors="replace")
    return "Cipher is (NONE)" not in out and "New, " in out, out


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
@pytest.mark.parametrize("group,ok", [("X25519", True), ("P-256", True), ("P-384", True),
                                      ("X448", False), ("P-521", False), ("ffdhe2048", False)])
def test_only_three_key_exchange_groups(svc, group, ok):
    """TLS 1.3: a client offering only `group` completes the handshake exactly for the three."""
    done, out = s_client(svc, "-tls1_3", "-groups", group)
    assert done is ok, out[-600:]
    if ok:
        assert "Server Temp Key" in out


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
def test_tls12_prefers_x25519(svc):
    """TLS 1.2 clients must offer P-256 as well (the certificate's curve), so X448 first in the
    client's list is passed over for the server's first choice."""
    done, out = s_client(svc, "-tls1_2", "-groups", "X448:X25519:P-256")
    assert done, out[-600:]
    temp = [ln for ln in out.splitlines() if "Server Temp Key" in ln]
    assert temp and "X25519" in temp[0], temp


# ---- messages and media types --------------------------------------------------------------

def test_unknown_operation_names_the_spec_not_a_path(svc):
    status, _, body = svc.encrypt({"email": "x@example.org"}, schema="twoops",
                                  extra={"X-Schema-Operation": "Y"})
    assert status == 400
    err = json.loads(body)["error"]
    assert err["code"] == "unknown_operation"
    assert err["message"].startswith('twoops.yaml: unknown operationId "Y"')
    assert "createUser" in err["message"]
    assert str(svc.dir) not in err["message"] and "/schemas/" not in err["message"]


@pytest.mark.parametrize("ctype,status", [
    ("application/json", 200),
    ("application/json; charset=utf-8", 200),
    ("application/json;charset=\"UTF-8\"", 200),
    ("application/json; charset=latin-1", 415),
    ("application/json; charset=iso-8859-1", 415),
    ("application/json; charset=utf-16", 415),
    ("application/json; charset=", 415),
    ("text/plain", 415),
])
def test_only_utf8_json_is_accepted(svc, ctype, status):
    got, _, body = svc.request("POST", "/encrypt", PAYMENT,
                               {"Content-Type": ctype, "X-Schema-Name": "payments"})
    assert got == status, body
    if status == 415:
        assert json.loads(body)["error"]["code"] == "unsupported_media_type"


# ---- log lines -----------------------------------------------------------------------------

def test_hostile_requests_leave_json_log_lines(svc):
    hostile = [
        b"A" * 2000 + b" /encrypt HTTP/1.1\r\nHost: x\r\n\r\n",
        b'GE"T /x HTTP/1.1\r\nHost: x\r\n\r\n',
        b"POST /encrypt HTTP/1.1\r\nHost: x\r\nX-Schema-Name: " + b"\xff\"\\\x01" * 300 +
        b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    ]
    for raw in hostile:
        with svc.raw_tls() as t:
            t.sendall(raw)
            try:
                read_response(t)
            except (ConnectionError, OSError):
                pass
    assert svc.request("GET", "/healthz")[0] == 200  # the access lines above are flushed after
    lines = [ln for ln in svc.logs().splitlines() if ln.strip()]
    for line in lines:
        assert isinstance(json.loads(line), dict), line


# ---- spec loading limits -------------------------------------------------------------------

def test_spec_max_documents_is_a_setting(tmp_path):
    """SPEC_MAX_DOCUMENTS bounds the documents of one spec; the log names the setting."""
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    refs = "\n".join(f"        f{i}: {{$ref: 'd{i}.yaml#/S'}}" for i in range(3))
    (schemas / "split.yaml").write_text(
        "openapi: 3.0.3\nx-pii-root: '#/components/schemas/R'\ncomponents:\n  schemas:\n"
        f"    R:\n      properties:\n{refs}\n")
    for i in range(3):
        (schemas / f"d{i}.yaml").write_text("S: {type: string, x-pii: true}\n")
    s = Service(tmp_path, specs=None, wait_ready=False, env={"SPEC_MAX_DOCUMENTS": "3"})
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end and "spec failed to load" not in s.logs():
            time.sleep(0.05)
        errors = [ln for ln in s.log_lines() if ln.get("spec") == "split"]
        assert errors and "too many referenced documents (limit 3" in errors[0]["reason"]
        assert "SPEC_MAX_DOCUMENTS" in errors[0]["reason"]
    finally:
        s.stop()
    s = Service(tmp_path / "again", specs=None, wait_ready=False,
                env={"SPEC_MAX_DOCUMENTS": "4", "LOCAL_SCHEMA_DIR": str(schemas)})
    try:
        s.wait_ready()
        status, _, body = s.encrypt({"f0": "a", "f1": "b", "f2": "c"}, schema="split")
        assert status == 200 and json.loads(body)["f2"].startswith("v1."), body
    finally:
        s.stop()
