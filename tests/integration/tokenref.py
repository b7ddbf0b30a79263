"""Independent reference of the v1 field-token scheme (DESIGN section 4), built only on
`cryptography`'s HKDF, HMAC and AESGCMSIV and Python's base64 module.

    K_enc   = HKDF-SHA256(DEK, salt = "", info = "nitro-enc/v1/enc",   32 bytes)
    K_nonce = HKDF-SHA256(DEK, salt = "", info = "nitro-enc/v1/nonce", 32 bytes)
    N       = HMAC-SHA256(K_nonce, u32be(len(ctx)) || ctx || plaintext)[0..12]
    CT      = AES-256-GCM-SIV(K_enc, N, aad = ctx, plaintext)
    token   = "v1." b64url(N) "." b64url(CT)   (no padding, canonical only)

Needs cryptography >= 48 (requirements-test.txt): 44.0.0 refused to seal an empty plaintext with
empty AAD (pyca/cryptography#10808), and its decrypt was seen here to accept an all-zero tag for
an empty ciphertext; test_tokens_python.py checks AESGCMSIV on RFC 8452's empty-message vector.
"""
from __future__ import annotations

import base64
import binascii
import re
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1."
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def subkeys(dek: bytes) -> tuple[bytes, bytes]:
    """(K_enc, K_nonce) of a 32-byte DEK."""
    if len(dek) != 32:
        raise ValueError("DEK must be 32 bytes")

    def derive(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=info).derive(dek)

    return derive(b"nitro-enc/v1/enc"), derive(b"nitro-enc/v1/nonce")


def nonce(k_nonce: bytes, ctx: bytes, plaintext: bytes) -> bytes:
    h = hmac.HMAC(k_nonce, hashes.SHA256())
    h.update(struct.pack(">I", len(ctx)) + ctx + plaintext)
    return h.finalize()[:12]


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Canonical unpadded base64url only: alphabet, length and zero trailing bits."""
    if len(text) % 4 == 1 or not _B64URL.fullmatch(text):
        raise ValueError("not canonical base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("not canonical base64url (trailing bits)")
    return data


def token_len(pt_len: int) -> int:
    return len(PREFIX) + 16 + 1 + len(b64url_encode(bytes(pt_len + 16)))


def encrypt(dek: bytes, ctx: bytes, plaintext: bytes) -> str:
    k_enc, k_nonce = subkeys(dek)
    n = nonce(k_nonce, ctx, plaintext)
    ct = AESGCMSIV(k_enc).encrypt(n, plaintext, ctx)
    return PREFIX + b64url_encode(n) + "." + b64url_encode(ct)


def parse(token: str) -> tuple[bytes, bytes]:
    """(nonce, ciphertext || tag); ValueError for anything that is not a canonical v1 token."""
    if not token.startswith(PREFIX):
        raise ValueError("unknown token version")
    parts = token[len(PREFIX):].split(".")
    if len(parts) != 2:
        raise ValueError("a v1 token has two parts")
    n, ct = b64url_decode(parts[0]), b64url_decode(parts[1])
    if len(n) != 12 or len(ct) < 16:
        raise ValueError("bad part length")
    return n, ct


def decrypt(dek: bytes, ctx: bytes, token: str) -> bytes:
    """The plaintext; ValueError when the token is malformed or does not authenticate."""
    n, ct = parse(token)
    k_enc, _ = subkeys(dek)
    try:
        return AESGCMSIV(k_enc).decrypt(n, ct, ctx)
    except InvalidTag as e:
        raise ValueError("token does not authenticate") from e


def key_line(dek: bytes) -> str:
    """The key-file line of a DEK: padded standard base64, 44 characters."""
    return binascii.b2a_base64(dek, newline=False).decode("ascii")
