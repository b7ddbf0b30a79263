"""Cross-checks the C token code (through build/bin/token_tool) against tokenref.py, an
independent Python reference on `cryptography`: byte-for-byte equal tokens, decryption in both
directions, agreement on which malformed tokens are rejected, and key files end to end. Every test
runs once per implementation path (NES_CRYPTO_FALLBACK: SHA-NI or OpenSSL HMAC, AES-NI or OpenSSL
AES, PCLMULQDQ or portable POLYVAL), and the tool's "I" line confirms the path in use."""
from __future__ import annotations

import os
import random
import subprocess

import pytest

import tokenref
from conftest import cpu_flags

SEED = int(os.environ.get("NES_TOKEN_SEED", "20261125"))


# NES_CRYPTO_FALLBACK values: the fastest path, each part's fallback alone, and all fallbacks.
PATHS = ["", "hmac", "aes", "polyval", "all"]


@pytest.fixture(scope="module", params=PATHS, ids=["native", "hmac-fb", "aes-fb", "polyval-fb",
                                                     "all-fb"])
def tool(bin_dir, request):
    path = bin_dir / "token_tool"
    assert path.exists(), f"{path} not built (run make)"
    env = dict(os.environ, NES_CRYPTO_FALLBACK=request.param)
    forced = set(request.param.split(",")) if request.param else set()
    if "all" in forced:
        forced = {"hmac", "aes", "polyval"}
    flags = cpu_flags()
    fast = {"hmac": ("sha_ni", "shani"), "aes": ("aes", "aesni"), "polyval": ("pclmulqdq", "clmul")}
    slow = {"hmac": "openssl", "aes": "openssl", "polyval": "portable"}
    want = " ".join(f"{part}={fast[part][1] if part not in forced and fast[part][0] in flags else slow[part]}"
                    for part in ("hmac", "aes", "polyval"))
    got = subprocess.run([str(path)], input="I\n", capture_output=True, text=True, env=env,
                         timeout=60, check=True).stdout.strip()
    assert got == want

    def run(lines: list[str]) -> list[str]:
        proc = subprocess.run([str(path)], input="".join(l + "\n" for l in lines),
                              capture_output=True, text=True, timeout=300, check=True, env=env)
        out = proc.stdout.split("\n")
        assert out[-1] == ""
        assert len(out) - 1 == len(lines)
        return out[:-1]

    return run


def hx(b: bytes) -> str:
    return b.hex() if b else "-"


def unhx(s: str) -> bytes:
    return b"" if s == "-" else bytes.fromhex(s)


def random_case(rng: random.Random, deks: list[bytes]) -> tuple[bytes, bytes, bytes]:
    dek = rng.choice(deks) if rng.random() < 0.8 else rng.randbytes(32)
    kind = rng.random()
    if kind < 0.3:
        ctx = b""
    elif kind < 0.6:
        ctx = rng.choice(["ssn", "card-number", "email", "phone", "x"]).encode()
    elif kind < 0.8:
        ctx = rng.choice(["Straße", "名前", "ctx with spaces", "é"]).encode()
    else:
        ctx = rng.randbytes(rng.randrange(0, 80))
    r = rng.random()
    if r < 0.5:
        n = rng.randrange(0, 40)
    elif r < 0.8:
        n = rng.randrange(40, 300)
    elif r < 0.95:
        n = rng.choice([15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 255, 256, 257])
    else:
        n = rng.randrange(300, 5000)
    pt = rng.randbytes(n) if rng.random() < 0.5 else bytes(rng.choice(b"0123456789-@.abc ")
                                                         for _ in range(n))
    return dek, ctx, pt


def test_tokens_match_reference_both_directions(tool):
    rng = random.Random(SEED)
    deks = [rng.randbytes(32) for _ in range(20)]
    cases = [random_case(rng, deks) for _ in range(3000)]
    want = [tokenref.encrypt(d, c, p) for d, c, p in cases]

    got = tool([f"E {hx(d)} {hx(c)} {hx(p)}" for d, c, p in cases])
    for i, (case, w, g) in enumerate(zip(cases, want, got)):
        assert g == w, f"case {i} (seed {SEED}): C token differs from the reference"
        assert len(g) == tokenref.token_len(len(case[2]))

    # C decrypts the reference's tokens ...
    back = tool([f"D {hx(d)} {hx(c)} {t}" for (d, c, _), t in zip(cases, want)])
    for i, ((_, _, p), b) in enumerate(zip(cases, back)):
        assert unhx(b) == p, f"case {i} (seed {SEED})"
    # ... and the reference decrypts C's.
    for (d, c, p), t in zip(cases, got):
        assert tokenref.decrypt(d, c, t) == p


def test_fixed_nonce_derivation_spot_check(tool):
    """The nonce is the first 12 bytes of the HMAC, independently of the AEAD."""
    dek, ctx, pt = bytes(range(32)), b"ssn", b"123-45-6789"
    tok = tool([f"E {hx(dek)} {hx(ctx)} {hx(pt)}"])[0]
    _, k_nonce = tokenref.subkeys(dek)
    assert tokenref.parse(tok)[0] == tokenref.nonce(k_nonce, ctx, pt)


def test_wrong_context_or_key_is_rejected(tool):
    rng = random.Random(SEED + 1)
    lines, expect = [], []
    for _ in range(300):
        dek, other = rng.randbytes(32), rng.randbytes(32)
        ctx, pt = rng.choice([b"", b"ssn", b"card"]), rng.randbytes(rng.randrange(0, 64))
        tok = tokenref.encrypt(dek, ctx, pt)
        lines.append(f"D {hx(dek)} {hx(ctx + b'!')} {tok}")
        lines.append(f"D {hx(other)} {hx(ctx)} {tok}")
        lines.append(f"D {hx(dek)} {hx(ctx)} {tok}")
        expect += ["ERR", "ERR", hx(pt)]
    assert tool(lines) == expect


def test_token_len_formula(tool):
    sizes = list(range(0, 200)) + [1000, 1023, 1024, 1025, 65536, 1 << 20]
    got = tool([f"L {n}" for n in sizes])
    assert [int(g) for g in got] == [tokenref.token_len(n) for n in sizes]


def mutations(rng: random.Random, tok: str) -> list[str]:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. \n\t"
    out = []
    for _ in range(6):
        i = rng.randrange(len(tok))
        out.append(tok[:i] + rng.choice(alphabet) + tok[i + 1:])  # substitute
        out.append(tok[:i] + tok[i + 1:])  # delete
        out.append(tok[:i] + rng.choice(alphabet) + tok[i:])  # insert
    out += [tok + "=", tok + "A", tok[:-1], "v2" + tok[2:], "V1" + tok[2:], tok.replace(".", "", 1),
            tok + ".", tok[: tok.rindex(".") + 23]]
    return [m for m in out if m and "\n" not in m and " " not in m and "\t" not in m]


def test_malformed_tokens_agree_with_reference(tool):
    rng = random.Random(SEED + 2)
    lines, expect = [], []
    for _ in range(200):
        dek, ctx = rng.randbytes(32), rng.choice([b"", b"ssn"])
        pt = rng.randbytes(rng.randrange(0, 50))
        for m in mutations(rng, tokenref.encrypt(dek, ctx, pt)):
            try:
                want = hx(tokenref.decrypt(dek, ctx, m))
            except ValueError:
                want = "ERR"
            lines.append(f"D {hx(dek)} {hx(ctx)} {m}")
            expect.append(want)
    got = tool(lines)
    for line, g, w in zip(lines, got, expect):
        assert g == w, line
    assert expect.count("ERR") > len(expect) * 0.9  # the mutations really are mostly invalid


@pytest.fixture
def keyfile(tmp_path):
    def write(text: str, name: str = "keys") -> str:
        p = tmp_path / name
        p.write_bytes(text.encode())
        return str(p)

    return write


def test_keyring_encrypts_with_current_and_decrypts_previous(tool, keyfile):
    rng = random.Random(SEED + 3)
    deks = [rng.randbytes(32) for _ in range(4)]
    text = "# dev keys\r\n" + "".join(f"{tokenref.key_line(d)}  \r\n" for d in deks) + "\n"
    path = keyfile(text)
    stranger = rng.randbytes(32)
    lines, expect = [f"KL {path}"], ["OK 4"]
    for i in range(40):
        ctx, pt = rng.choice([b"", b"email"]), rng.randbytes(rng.randrange(0, 100))
        lines.append(f"KE {path} {hx(ctx)} {hx(pt)}")
        expect.append(tokenref.encrypt(deks[0], ctx, pt))
        k = i % 4
        lines.append(f"KD {path} {hx(ctx)} {tokenref.encrypt(deks[k], ctx, pt)}")
        expect.append(f"{k} {hx(pt)}")
        lines.append(f"KD {path} {hx(ctx)} {tokenref.encrypt(stranger, ctx, pt)}")
        expect.append("ERR invalid_token")
    assert tool(lines) == expect


def test_key_file_errors_name_the_line_not_the_content(tool, keyfile, tmp_path):
    good = tokenref.key_line(bytes(range(32)))
    short = tokenref.key_line(bytes(range(31)))  # 44 characters, 31 bytes
    secretish = good[:-2] + "B="  # right length, trailing bits set: not canonical
    cases = {
        keyfile(f"{good}\n\n{good[:-1]}\n", "a"): ("invalid_key", "line 3"),
        keyfile(f"# c\n{short}\n", "b"): ("invalid_key", "line 2"),
        keyfile(f"{good}\n{secretish}\n", "c"): ("invalid_key", "line 2"),
        keyfile("# only a comment\n\n", "d"): ("invalid_key", "no key"),
        keyfile("", "e"): ("invalid_key", "no key"),
        keyfile(f"{good}\n" * 17, "f"): ("limit_exceeded", "line 17"),
        keyfile("#" * 70000, "g"): ("limit_exceeded", "larger than"),
        str(tmp_path / "missing"): ("io_error", "missing"),
        str(tmp_path): ("io_error", "not a regular file"),
    }
    got = tool([f"KL {p}" for p in cases])
    for (path, (status, words)), g in zip(cases.items(), got):
        assert g.startswith(f"ERR {status} "), (path, g)
        assert words in g, (path, g)
        for secret in (good, good[:20], short[:20], secretish[:20]):
            assert secret not in g
    assert tool([f"KL {keyfile(good + chr(10) * 3, 'ok')}"]) == ["OK 1"]


# ---- the reference's foundation ------------------------------------------------------------------

RFC8452_C2 = [  # AES-256 vectors of RFC 8452 appendix C.2: key, nonce, aad, plaintext, result
    ("0100000000000000000000000000000000000000000000000000000000000000",
     "030000000000000000000000", "", "", "07f5f4169bbf55a8400cd47ea6fd400f"),
    ("0100000000000000000000000000000000000000000000000000000000000000",
     "030000000000000000000000", "", "0100000000000000",
     "c2ef328e5c71c83b843122130f7364b761e0b97427e3df28"),
    ("0100000000000000000000000000000000000000000000000000000000000000",
     "030000000000000000000000", "01", "0200000000000000",
     "1de22967237a813291213f267e3b452f02d01ae33e4ec854"),
]


@pytest.mark.parametrize("key,nonce,aad,pt,want", RFC8452_C2)
def test_cryptography_gcmsiv_matches_rfc8452(key, nonce, aad, pt, want):
    """The reference stands on AESGCMSIV; old versions got the empty message wrong."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
    key, nonce, aad, pt = (bytes.fromhex(x) for x in (key, nonce, aad, pt))
    assert AESGCMSIV(key).encrypt(nonce, pt, aad).hex() == want
    assert AESGCMSIV(key).decrypt(nonce, bytes.fromhex(want), aad) == pt


def test_empty_plaintext_zero_tag_is_rejected(tool):
    """A token whose ciphertext is 16 zero bytes (empty plaintext, zero tag) must not open; an
    older AESGCMSIV was seen to accept exactly that."""
    dek = bytes(range(32))
    forged = "v1." + tokenref.b64url_encode(bytes(12)) + "." + tokenref.b64url_encode(bytes(16))
    with pytest.raises(ValueError):
        tokenref.decrypt(dek, b"", forged)
    good = tokenref.encrypt(dek, b"", b"")
    assert tool([f"D {dek.hex()} - {forged}", f"D {dek.hex()} - {good}",
                 f"E {dek.hex()} - -"]) == ["ERR", "-", good]
