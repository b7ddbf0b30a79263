"""Test PKI for the server suite: a CA, server and client certificates (Python cryptography)."""
import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class CA:
    def __init__(self, cn="nes test CA"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(hours=1))
                     .not_valid_after(now + datetime.timedelta(days=2))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                                    critical=True)
                     .sign(self.key, hashes.SHA256()))

    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, cn, client=False, sans=(), public_key=None):
        """Returns (cert PEM, key PEM or None when public_key is given, serial)."""
        key = None if public_key is not None else ec.generate_private_key(ec.SECP256R1())
        pub = public_key if public_key is not None else key.public_key()
        now = datetime.datetime.now(datetime.timezone.utc)
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        names += [x509.UniformResourceIdentifier(s) if ":" in s else x509.DNSName(s) for s in sans]
        serial = x509.random_serial_number()
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
                .public_key(pub).serial_number(serial)
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return (cert.public_bytes(serialization.Encoding.PEM),
                _pem_key(key) if key is not None else None, serial)

    def write(self, dir_, name, cn, client=False, sans=()):
        cert, key, serial = self.issue(cn, client, sans)
        (dir_ / f"{name}.crt").write_bytes(cert)
        (dir_ / f"{name}.key").write_bytes(key)
        return str(dir_ / f"{name}.crt"), str(dir_ / f"{name}.key"), serial


def peer_serial(sslsock):
    der = sslsock.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


def load_public_key_pem(pem):
    return serialization.load_pem_public_key(pem)
