"""The TLS key lives in a PKCS#11 token (SoftHSM2, as ACM for Nitro Enclaves' p11ne would hold
it): generated inside the token, never exported; the service signs handshakes through GnuTLS and
p11-kit; SIGHUP switches to a new certificate for the same key without failing a request in
flight."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from svc import Service, read_response
from tlsutil import CA, load_public_key_pem, peer_serial

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "48151623"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(MODULE) and shutil.which("softhsm2-util") and shutil.which("p11tool")),
    reason="softhsm2 / gnutls-bin not installed")


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    d = tmp_path_factory.mktemp("hsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = dict(os.environ, SOFTHSM2_CONF=str(conf), GNUTLS_PIN=PIN)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "nes-tls", "--pin", PIN,
                    "--so-pin", "87654321"], env=env, check=True, capture_output=True)
    subprocess.run(["p11tool", "--provider", MODULE, "--login", "--generate-privkey=ecdsa",
                    "--curve=secp256r1", "--label", "tls", "--outfile", str(d / "pub.pem"),
                    "pkcs11:token=nes-tls"], env=env, check=True, capture_output=True)
    listing = subprocess.run(["p11tool", "--provider", MODULE, "--login", "--list-all-privkeys",
                              "--detailed-url", "pkcs11:token=nes-tls"], env=env, check=True,
                             capture_output=True, text=True).stdout
    assert "CKA_NEVER_EXTRACTABLE" in listing and "CKA_SENSITIVE" in listing
    return d, conf


def test_serves_tls_with_token_key_and_reloads(token, tmp_path):
    d, conf = token
    ca = CA("pkcs11 test CA")
    pub = load_public_key_pem((d / "pub.pem").read_bytes())
    cert1, _, serial1 = ca.issue("nes-hsm-1", public_key=pub)
    (tmp_path / "server.crt").write_bytes(cert1)
    (tmp_path / "ca.pem").write_bytes(ca.pem())
    key_uri = "pkcs11:token=nes-tls;object=tls;type=private"
    s = Service(tmp_path / "svc", wait_ready=False, cafile=tmp_path / "ca.pem",
                env={"TLS_CERT": str(tmp_path / "server.crt"), "TLS_KEY": key_uri,
                     "PKCS11_MODULE": MODULE, "PKCS11_PIN": PIN, "TLS_RELOAD_CHECK_SECS": "0",
                     "SOFTHSM2_CONF": str(conf)})
    try:
        assert PIN not in s.logs()
        ctx = s.context()
        for _ in range(5):  # several handshakes, each a C_Sign in the token
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port), timeout=5),
                                 server_hostname="localhost") as t:
                assert peer_serial(t) == serial1
                t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_response(t)[0] == 200

        inflight = ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port), timeout=5),
                                   server_hostname="localhost")
        inflight.sendall(b"POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"X-Schema-Name: payments\r\nContent-Length: 2\r\n\r\n{")
        cert2, _, serial2 = ca.issue("nes-hsm-2", public_key=pub)
        (tmp_path / "server.crt.new").write_bytes(cert2)
        (tmp_path / "server.crt.new").rename(tmp_path / "server.crt")
        s.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while True:
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.port), timeout=5),
                                 server_hostname="localhost") as t:
                if peer_serial(t) == serial2:
                    break
            assert time.monotonic() < deadline, "SIGHUP did not switch the certificate"
            time.sleep(0.1)
        inflight.sendall(b"}")
        assert read_response(inflight)[0] in (200, 503)
        inflight.close()
        assert s.metric("nes_tls_reloads_total") >= 1
    finally:
        assert s.stop() == 0
    assert PIN not in s.logs()
