"""Cross-check of core/gcmsiv.c (through bin/gcmsiv_tool) with pyca/cryptography's AESGCMSIV.

10,000 seeded random cases: our seal must equal cryptography's encrypt byte for byte, our open must
recover the plaintext from cryptography's ciphertext, cryptography must open ours, and tampered
inputs (ciphertext/tag bit flips, changed AAD or nonce, truncation) must FAIL on our side (and on
cryptography's, as a check of the tampering itself). All lines go through one process per
implementation path: AES-NI or OpenSSL AES, each with PCLMULQDQ or portable POLYVAL (chosen with
NES_CRYPTO_FALLBACK; the tool's "impl" line confirms the path really in use).
"""
import os
import random
import subprocess

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from conftest import cpu_flags

N_CASES = 10_000
SEED = 8452


def _hex(b: bytes) -> str:
    return b.hex() if b else "-"


def _unhex(s: str) -> bytes:
    return b"" if s == "-" else bytes.fromhex(s)


def _tamper(rng: random.Random, key, nonce, aad, ct):
    """Returns (nonce, aad, ct) with exactly one kind of change that must make open fail."""
    kind = rng.randrange(5)
    if kind == 0 or (kind == 1 and len(ct) == 16):  # flip a bit in the tag
        i = len(ct) - 16 + rng.randrange(16)
        ct = ct[:i] + bytes([ct[i] ^ (1 << rng.randrange(8))]) + ct[i + 1:]
    elif kind == 1:  # flip a bit in the ciphertext proper
        i = rng.randrange(len(ct) - 16)
        ct = ct[:i] + bytes([ct[i] ^ (1 << rng.randrange(8))]) + ct[i + 1:]
    elif kind == 2:  # change the AAD (flip a bit, or append a byte when empty)
        if aad:
            i = rng.randrange(len(aad))
            aad = aad[:i] + bytes([aad[i] ^ (1 << rng.randrange(8))]) + aad[i + 1:]
        else:
            aad = bytes([rng.randrange(256)])
    elif kind == 3:  # flip a bit in the nonce
        i = rng.randrange(12)
        nonce = nonce[:i] + bytes([nonce[i] ^ (1 << rng.randrange(8))]) + nonce[i + 1:]
    else:  # drop the last byte (shifts the tag) or, when only a tag is left, append one
        ct = ct[:-1] if len(ct) > 16 else ct + b"\x00"
    return nonce, aad, ct


def _cases():
    rng = random.Random(SEED)
    cases = []
    for n in range(N_CASES):
        key = rng.randbytes(32)
        nonce = rng.randbytes(12)
        aad = rng.randbytes(rng.randint(0, 64))
        # Mostly small fields like the service sees, plus the full range up to 4 KiB.
        size = rng.randint(0, 4096) if n % 4 == 0 else rng.randint(0, 100)
        msg = rng.randbytes(size)
        cases.append((key, nonce, aad, msg))
    return rng, cases


# (NES_CRYPTO_FALLBACK, tool arguments, AES back end, POLYVAL back end when the CPU allows)
PATHS = [
    ("", [], "aesni", "clmul"),
    ("", ["--portable"], "aesni", "portable"),
    ("aes", [], "openssl", "clmul"),
    ("all", [], "openssl", "portable"),
]


@pytest.mark.parametrize("fallback,impl_args,aes,polyval", PATHS,
                         ids=["aesni+clmul", "aesni+portable", "openssl+clmul", "openssl+portable"])
def test_gcmsiv_matches_cryptography(bin_dir, fallback, impl_args, aes, polyval):
    tool = bin_dir / "gcmsiv_tool"
    assert tool.is_file(), f"{tool} not built"
    env = dict(os.environ, NES_CRYPTO_FALLBACK=fallback)
    flags = cpu_flags()
    want_aes = aes if "aes" in flags else "openssl"
    want_polyval = polyval if "pclmulqdq" in flags else "portable"
    got = subprocess.run([str(tool), *impl_args], input="impl\n", capture_output=True, text=True,
                         env=env, timeout=60, check=True).stdout.strip()
    assert got == f"aes={want_aes} polyval={want_polyval}"
    rng, cases = _cases()

    lines = []  # (kind, index or payload)
    expect = []
    for idx, (key, nonce, aad, msg) in enumerate(cases):
        theirs = AESGCMSIV(key).encrypt(nonce, msg, aad)
        # our seal == their encrypt
        lines.append(f"seal {key.hex()} {nonce.hex()} {_hex(aad)} {_hex(msg)}")
        expect.append(("seal", idx, theirs))
        # their ciphertext opens with ours
        lines.append(f"open {key.hex()} {nonce.hex()} {_hex(aad)} {theirs.hex()}")
        expect.append(("open", idx, msg))
        # every 4th case: a tampered variant must fail
        if idx % 4 == 1:
            t_nonce, t_aad, t_ct = _tamper(rng, key, nonce, aad, theirs)
            with pytest.raises(InvalidTag):
                AESGCMSIV(key).decrypt(t_nonce, t_ct, t_aad)
            lines.append(f"open {key.hex()} {t_nonce.hex()} {_hex(t_aad)} {t_ct.hex()}")
            expect.append(("tampered", idx, None))

    proc = subprocess.run(
        [str(tool), *impl_args],
        input="\n".join(lines) + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert len(out) == len(lines)

    counts = {"seal": 0, "open": 0, "tampered": 0}
    for got, (kind, idx, want) in zip(out, expect):
        key, nonce, aad, msg = cases[idx]
        if kind == "tampered":
            assert got == "FAIL", f"case {idx}: tampered input opened"
        else:
            assert got != "FAIL" and got != "ERROR", f"case {idx} {kind}: {got}"
            assert _unhex(got) == want, f"case {idx} {kind}: mismatch"
            if kind == "seal":
                # and cryptography opens ours
                assert AESGCMSIV(key).decrypt(nonce, _unhex(got), aad) == msg
        counts[kind] += 1

    print(f"gcmsiv vs cryptography ({got}): {counts}")
    assert counts["seal"] == N_CASES
    assert counts["open"] == N_CASES
    assert counts["tampered"] == N_CASES // 4
