"""Independent reference of the v1 field-token scheme (DESIGN section 4), built only on
`cryptography`'s HKDF, HMAC and AESGCMSIV and Python's base64 module.

    K_enc   = HKDF-SHA256(DEK, salt = "", info = "nitro-enc/v1/enc",   32 bytes)
    K_nonce = HKDF-SHA256(DEK, salt = "", info = "nitro-enc/v1/nonce", 32 bytes)
    N       = HMAC-SHA256(K_nonce, u32be(len(ctx)) || ctx || plaintext)[0..12]
    CT      = AES-256-GCM-SIV(K_enc, N, aad = ctx, plaintext)
    token   = "v1." b64url(N) "." b64url(CT)   (no padding, canonical only)

Empty plaintexts: cryptography's AESGCMSIV refuses to encrypt them (pyca/cryptography#10808), and
with cryptography 44.0.0 (bundled OpenSSL 3.4.0) its decrypt *accepts an all-zero tag* for an
empty ciphertext under any key, nonce and AAD. So for empty plaintexts this module uses
`gcmsiv_seal` / `gcmsiv_open` below: RFC 8452 written out in Python over cryptography's raw
AES-256 block (ECB), checked in the tests against RFC 8452 appendix C.2 and against AESGCMSIV on
non-empty inputs.
"""
from __future__ import annotations

import base64
import binascii
import hmac as py_hmac
import re
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1."
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


# ---- RFC 8452 AES-256-GCM-SIV, for the cases AESGCMSIV gets wrong ------------------------------

_POLY = (1 << 128) | (1 << 127) | (1 << 126) | (1 << 121) | 1


def _aes(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def _dot(a: int, b: int) -> int:
    """a * b * x^-128 in POLYVAL's field (little-endian bit order)."""
    c = 0
    for i in range(128):
        if (b >> i) & 1:
            c ^= a << i
    for _ in range(128):  # divide by x, 128 times
        if c & 1:
            c ^= _POLY
        c >>= 1
    return c


def polyval(h: bytes, data: bytes) -> bytes:
    """POLYVAL over whole 16-byte blocks."""
    assert len(data) % 16 == 0
    hi, s = int.from_bytes(h, "little"), 0
    for i in range(0, len(data), 16):
        s = _dot(s ^ int.from_bytes(data[i:i + 16], "little"), hi)
    return s.to_bytes(16, "little")


def _pad16(b: bytes) -> bytes:
    return b + bytes(-len(b) % 16)


def _gcmsiv_keys(key: bytes, nonce: bytes) -> tuple[bytes, bytes]:
    blocks = [_aes(key, struct.pack("<I", i) + nonce)[:8] for i in range(6)]
    return b"".join(blocks[:2]), b"".join(blocks[2:])


def _gcmsiv_tag(auth: bytes, enc: bytes, nonce: bytes, aad: bytes, pt: bytes) -> bytes:
    lengths = struct.pack("<QQ", len(aad) * 8, len(pt) * 8)
    s = bytearray(polyval(auth, _pad16(aad) + _pad16(pt) + lengths))
    for i in range(12):
        s[i] ^= nonce[i]
    s[15] &= 0x7F
    return _aes(enc, bytes(s))


def _gcmsiv_ctr(enc: bytes, tag: bytes, data: bytes) -> bytes:
    ctr = bytearray(tag)
    ctr[15] |= 0x80
    out = bytearray()
    for i in range(0, len(data), 16):
        counter = (int.from_bytes(ctr[:4], "little") + i // 16) & 0xFFFFFFFF
        ks = _aes(enc, counter.to_bytes(4, "little") + bytes(ctr[4:]))
        out += bytes(x ^ y for x, y in zip(data[i:i + 16], ks))
    return bytes(out)


def gcmsiv_seal(key: bytes, nonce: bytes, pt: bytes, aad: bytes) -> bytes:
    auth, enc = _gcmsiv_keys(key, nonce)
    tag = _gcmsiv_tag(auth, enc, nonce, aad, pt)
    return _gcmsiv_ctr(enc, tag, pt) + tag


def gcmsiv_open(key: bytes, nonce: bytes, ct: bytes, aad: bytes) -> bytes:
    if len(ct) < 16:
        raise ValueError("ciphertext shorter than the tag")
    auth, enc = _gcmsiv_keys(key, nonce)
    tag = ct[-16:]
    pt = _gcmsiv_ctr(enc, tag, ct[:-16])
    if not py_hmac.compare_digest(_gcmsiv_tag(auth, enc, nonce, aad, pt), tag):
        raise ValueError("token does not authenticate")
    return pt


# ---- the token scheme -----------------------------------------------------------------------


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
    if plaintext:
        ct = AESGCMSIV(k_enc).encrypt(n, plaintext, ctx)
    else:
        ct = gcmsiv_seal(k_enc, n, plaintext, ctx)
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
    if len(ct) == 16:
        return gcmsiv_open(k_enc, n, ct, ctx)
    try:
        return AESGCMSIV(k_enc).decrypt(n, ct, ctx)
    except InvalidTag as e:
        raise ValueError("token does not authenticate") from e


def key_line(dek: bytes) -> str:
    """The key-file line of a DEK: padded standard base64, 44 characters."""
    return binascii.b2a_base64(dek, newline=False).decode("ascii")
