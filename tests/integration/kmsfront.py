"""A Recipient-aware KMS in front of moto, for the attested DEK path (DESIGN section 5).

moto ignores `Recipient` in KMS Decrypt and answers `Plaintext`. This front does what real KMS
does with an attested Decrypt, with independent tools:

  1. verifies the attestation document: COSE_Sign1 ES384 signature with `pycose` under the leaf
     certificate it carries, the leaf issued by the test CA (DIR/ca.crt of NSM_DEVICE=test:DIR)
     and valid now, checked with `cryptography`, digest SHA384 and 16 PCRs of 48 bytes;
  2. takes the RSA public key out of the document and asks moto (without the Recipient) for the
     plaintext;
  3. answers `CiphertextForRecipient`: a CMS EnvelopedData made by the `openssl cms` command
     (RSAES-OAEP SHA-256, AES-256-CBC), cycling through recipient info v0, v2 (`-keyid`) and
     indefinite-length BER (`-stream`), and no Plaintext.

`mode` changes the answer for fault tests: "recipient" (the default, above), "plaintext" (moto's
own answer, Plaintext and no CiphertextForRecipient), "wrong-recipient" (CMS for another key),
"truncated" and "malformed" CMS, "dek16"/"dek64" (a CMS holding 16 or 64 bytes instead of the
DEK). Every other request is proxied to moto unchanged. `verified` counts documents that passed;
`refused` the ones that did not (answered 400 like KMS)."""
import base64
import http.client
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pycose.keys.curves import P384
from pycose.keys.ec2 import EC2Key
from pycose.messages import Sign1Message

VARIANTS = ("v0", "v2", "ber")


def verify_attestation(doc: bytes, ca_pem: bytes) -> dict:
    """The attestation payload when `doc` is a valid document under `ca_pem`; ValueError else."""
    # The NSM sends the COSE_Sign1 untagged (pycose's decode() wants tag 18, and the cbor2 here
    # turns tagged arrays into tuples), so the array goes to pycose directly.
    obj = cbor2.loads(doc)
    if not isinstance(obj, list) or len(obj) != 4:
        raise ValueError("not a COSE_Sign1 array")
    msg = Sign1Message.from_cose_obj(list(obj), True)
    payload = cbor2.loads(msg.payload)
    for field in ("module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle",
                  "public_key", "user_data", "nonce"):
        if field not in payload:
            raise ValueError(f"attestation document lacks {field}")
    if payload["digest"] != "SHA384":
        raise ValueError("digest is not SHA384")
    pcrs = payload["pcrs"]
    if sorted(pcrs) != list(range(16)) or any(len(v) != 48 for v in pcrs.values()):
        raise ValueError("PCRs are not 0..15 of 48 bytes")
    ca = x509.load_pem_x509_certificate(ca_pem)
    if payload["cabundle"][0] != ca.public_bytes(serialization.Encoding.DER):
        raise ValueError("cabundle does not start with the trusted CA")
    leaf = x509.load_der_x509_certificate(payload["certificate"])
    leaf.verify_directly_issued_by(ca)  # raises InvalidSignature / ValueError
    now = datetime.now(timezone.utc)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise ValueError("leaf certificate not valid now")
    nums = leaf.public_key().public_numbers()
    msg.key = EC2Key(crv=P384, x=nums.x.to_bytes(48, "big"), y=nums.y.to_bytes(48, "big"))
    if not msg.verify_signature():
        raise ValueError("COSE signature does not verify")
    if payload["public_key"] is None:
        raise ValueError("no public key in the attestation document")
    return payload


def recipient_cert(spki_der: bytes) -> bytes:
    """A throwaway certificate carrying the recipient's RSA key (openssl cms -recip wants one)."""
    pub = serialization.load_der_public_key(spki_der)
    if not isinstance(pub, rsa.RSAPublicKey):
        raise ValueError("public key is not RSA")
    signer = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kms-front recipient")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .sign(signer, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def openssl_cms(plaintext: bytes, cert_pem: bytes, variant: str) -> bytes:
    """`openssl cms -encrypt` as KMS makes CiphertextForRecipient (notes/aws-curl-cms.md)."""
    with tempfile.TemporaryDirectory() as d:
        cert = os.path.join(d, "r.pem")
        with open(cert, "wb") as f:
            f.write(cert_pem)
        cmd = ["openssl", "cms", "-encrypt", "-binary", "-aes-256-cbc", "-outform", "DER"]
        if variant == "v2":
            cmd.append("-keyid")
        if variant == "ber":
            cmd.append("-stream")
        cmd += ["-recip", cert, "-keyopt", "rsa_padding_mode:oaep", "-keyopt",
                "rsa_oaep_md:sha256", "-keyopt", "rsa_mgf1_md:sha256"]
        return subprocess.run(cmd, input=plaintext, capture_output=True, check=True).stdout


class KmsFront:
    """The front: start() on a free loopback port, .url for AWS_ENDPOINT_URL_KMS."""

    def __init__(self, backend_url: str, ca_pem_path: str, mode: str = "recipient"):
        self.backend = urlsplit(backend_url)
        self.ca_pem_path = ca_pem_path
        self.mode = mode
        self.verified = 0
        self.refused = 0
        self.decrypts = 0
        self.variants_used = []
        self.delay = 0.0  # seconds before answering an attested Decrypt
        self.delay_all = 0.0  # seconds before answering anything
        self._n = 0
        self._server = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                front.handle(self)

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def close(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- the proxy ---------------------------------------------------------------------------
    def _forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.backend.hostname, self.backend.port, timeout=10)
        try:
            hdrs = {k: v for k, v in headers.items()
                    if k.lower() not in ("host", "content-length", "connection")}
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            conn.close()

    def _reply(self, h, status, headers, body):
        h.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "date",
                                 "server"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _kms_error(self, h, code, message):
        self.refused += 1
        body = json.dumps({"__type": code, "message": message}).encode()
        self._reply(h, 400, [("Content-Type", "application/x-amz-json-1.1")], body)

    def handle(self, h):
        body = h.rfile.read(int(h.headers.get("Content-Length", "0") or 0))
        if self.delay_all:
            time.sleep(self.delay_all)
        headers = dict(h.headers.items())
        target = h.headers.get("X-Amz-Target", "")
        try:
            if target == "TrentService.Decrypt":
                req = json.loads(body)
                if "Recipient" in req:
                    return self._attested_decrypt(h, req, headers)
            status, rh, rb = self._forward(h.command, h.path, headers, body)
            self._reply(h, status, rh, rb)
        except OSError:
            # moto unreachable (the gate is down): like a dead endpoint, close without answer
            h.close_connection = True

    def _attested_decrypt(self, h, req, headers):
        self.decrypts += 1
        if self.delay:
            time.sleep(self.delay)
        rcp = req.pop("Recipient")
        if rcp.get("KeyEncryptionAlgorithm") != "RSAES_OAEP_SHA_256":
            return self._kms_error(h, "ValidationException", "KeyEncryptionAlgorithm")
        try:
            with open(self.ca_pem_path, "rb") as f:
                payload = verify_attestation(base64.b64decode(rcp["AttestationDocument"]), f.read())
            cert = recipient_cert(payload["public_key"])
        except Exception as e:  # pylint: disable=broad-except
            return self._kms_error(h, "ValidationException", f"attestation refused: {e}")
        self.verified += 1
        status, rh, rb = self._forward("POST", "/", headers, json.dumps(req).encode())
        if status != 200 or self.mode == "plaintext":
            return self._reply(h, status, rh, rb)
        answer = json.loads(rb)
        plaintext = base64.b64decode(answer.pop("Plaintext"))
        variant = VARIANTS[self._n % len(VARIANTS)]
        self._n += 1
        if self.mode == "dek16":
            plaintext = os.urandom(16)
        elif self.mode == "dek64":
            plaintext = os.urandom(64)
        elif self.mode == "wrong-recipient":
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            cert = recipient_cert(other.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        cms = openssl_cms(plaintext, cert, variant)
        if self.mode == "truncated":
            cms = cms[: len(cms) - 40]
        elif self.mode == "malformed":
            cms = b"\x30\x82\x01\x00" + os.urandom(60)
        self.variants_used.append(variant)
        answer["CiphertextForRecipient"] = base64.b64encode(cms).decode()
        self._reply(h, 200, [("Content-Type", "application/x-amz-json-1.1")],
                    json.dumps(answer).encode())


def main():
    """`python tests/integration/kmsfront.py --backend URL --ca DIR/ca.crt --port N`: the front as
    a stand-alone process, for trying enclave mode by hand (README, "Enclave mode")."""
    import argparse  # pylint: disable=import-outside-toplevel
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--backend", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--ca", required=True, help="the test NSM's CA certificate (DIR/ca.crt)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", default="recipient")
    a = ap.parse_args()
    front = KmsFront(a.backend, a.ca, a.mode)
    front.port = a.port
    front.start()
    print(f"KMS front on {front.url} -> {a.backend} (CA {a.ca})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        front.close()


if __name__ == "__main__":
    main()
