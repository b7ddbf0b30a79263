"""The `nitro-enc` CLI, run as a real process: keygen, encrypt, decrypt, schema lint.

Examples live in examples/<schema-name>/*.json and are encrypted with schemas/<schema-name>.yaml.
"""
import base64
import json
import re
import subprocess

import pytest

from conftest import ROOT

TOKEN = re.compile(rb'"v1\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})"')
SCHEMAS = ROOT / "schemas"
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*/*.json"))


def run(bin_dir, *args, stdin=None, check=None):
    proc = subprocess.run([str(bin_dir / "nitro-enc"), *map(str, args)], input=stdin,
                          capture_output=True, timeout=60)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


@pytest.fixture()
def keyfile(tmp_path, bin_dir):
    line = run(bin_dir, "keygen", check=0).stdout
    path = tmp_path / "dev.key"
    path.write_bytes(line)
    return path


def spec_for(example):
    spec = SCHEMAS / f"{example.parent.name}.yaml"
    assert spec.exists(), f"no spec for {example}"
    return spec


def non_pii_matches(plain: bytes, enc: bytes) -> list:
    """Checks that every byte of `enc` outside its tokens equals the input's, in order, and
    returns the input spans that the tokens replaced."""
    parts = TOKEN.split(enc)
    literal = parts[0::3]
    pattern = b"(.+?)".join(re.escape(p) for p in literal)
    m = re.fullmatch(pattern, plain, re.S)
    assert m is not None, "non-PII bytes differ from the input"
    return list(m.groups())


def test_examples_exist():
    assert len(EXAMPLES) >= 3
    assert (SCHEMAS / "payments.yaml").exists()


def test_keygen_prints_one_fresh_key_line(bin_dir):
    a = run(bin_dir, "keygen", check=0).stdout
    b = run(bin_dir, "keygen", check=0).stdout
    assert a != b
    for line in (a, b):
        assert line.endswith(b"\n") and len(line) == 45
        assert len(base64.b64decode(line.strip(), validate=True)) == 32


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_round_trips_and_keeps_non_pii_bytes(bin_dir, keyfile, example):
    spec = spec_for(example)
    plain = example.read_bytes()
    enc = run(bin_dir, "encrypt", "--spec", spec, "--key", keyfile, example, check=0).stdout
    tokens = TOKEN.findall(enc)
    assert tokens, "the example has no PII field"
    replaced = non_pii_matches(plain, enc)
    assert len(replaced) == len(tokens)
    for value in replaced:  # each replaced span is one JSON value
        json.loads(value)
    # the same input and key give the same bytes (deterministic tokens), via stdin too
    again = run(bin_dir, "encrypt", "--spec", spec, "--key", keyfile, stdin=plain, check=0).stdout
    assert again == enc
    dec = run(bin_dir, "decrypt", "--spec", spec, "--key", keyfile, stdin=enc, check=0).stdout
    assert json.loads(dec) == json.loads(plain)
    assert not TOKEN.search(dec)


def test_lint_payments_lists_sorted_paths(bin_dir):
    out = run(bin_dir, "schema", "lint", SCHEMAS / "payments.yaml", check=0).stdout.decode()
    lines = out.splitlines()
    paths = [p for p in lines if not p.startswith("open: ")]
    # then the open places (fail closed): only the free-form metadata map
    assert lines[len(paths):] == ["open: metadata.* (free-form object)"]
    assert paths == sorted(paths) and len(paths) == len(set(paths))
    assert any(p.endswith("(recursive)") for p in paths)
    assert any("[]" in p for p in paths)
    assert any(p.endswith(".*") for p in paths)


def test_decrypt_with_previous_key(bin_dir, tmp_path, keyfile):
    example = EXAMPLES[0]
    spec = spec_for(example)
    enc = run(bin_dir, "encrypt", "--spec", spec, "--key", keyfile, example, check=0).stdout
    rotated = tmp_path / "rotated.key"
    new = run(bin_dir, "keygen", check=0).stdout
    rotated.write_bytes(new + keyfile.read_bytes())
    dec = run(bin_dir, "decrypt", "--spec", spec, "--key", rotated, stdin=enc, check=0).stdout
    assert json.loads(dec) == json.loads(example.read_bytes())
    # the rotated ring encrypts with its new current key: other tokens
    enc2 = run(bin_dir, "encrypt", "--spec", spec, "--key", rotated, example, check=0).stdout
    assert enc2 != enc
    # a ring without the old key cannot open the old tokens
    only_new = tmp_path / "new.key"
    only_new.write_bytes(new)
    proc = run(bin_dir, "decrypt", "--spec", spec, "--key", only_new, stdin=enc, check=1)
    assert b"at byte" in proc.stderr


def test_tokens_depend_on_key(bin_dir, tmp_path, keyfile):
    example = EXAMPLES[0]
    spec = spec_for(example)
    other = tmp_path / "other.key"
    other.write_bytes(run(bin_dir, "keygen", check=0).stdout)
    a = run(bin_dir, "encrypt", "--spec", spec, "--key", keyfile, example, check=0).stdout
    b = run(bin_dir, "encrypt", "--spec", spec, "--key", other, example, check=0).stdout
    assert set(TOKEN.findall(a)).isdisjoint(TOKEN.findall(b))


SECRET = "Zebediah-4111111111111111"


@pytest.mark.parametrize("body", [
    '{"x": "%s"' % SECRET,              # truncated
    '{"x": "%s"}}' % SECRET,            # trailing garbage
    '{"x": "%s\x01"}' % SECRET,         # control character in a string
    '["%s", 01]' % SECRET,              # leading zero
])
def test_invalid_json_names_offset_not_content(bin_dir, keyfile, body):
    proc = run(bin_dir, "encrypt", "--spec", SCHEMAS / "payments.yaml", "--key", keyfile,
               stdin=body.encode(), check=1)
    err = proc.stderr.decode()
    assert "at byte" in err
    assert SECRET not in err and "Zebediah" not in err
    assert proc.stdout == b""


def test_invalid_utf8_rejected(bin_dir, keyfile):
    proc = run(bin_dir, "encrypt", "--spec", SCHEMAS / "payments.yaml", "--key", keyfile,
               stdin=b'{"name": "\xc3\x28"}', check=1)
    assert b"at byte" in proc.stderr


def test_decrypt_rejects_non_token_in_pii_field(bin_dir, keyfile):
    example = EXAMPLES[0]
    spec = spec_for(example)
    # the original plaintext is not a token: decrypting it must fail, naming only the offset
    proc = run(bin_dir, "decrypt", "--spec", spec, "--key", keyfile, example, check=1)
    assert b"at byte" in proc.stderr


def test_bad_key_file_and_spec(bin_dir, tmp_path, keyfile):
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("not-base64!\n")
    proc = run(bin_dir, "encrypt", "--spec", SCHEMAS / "payments.yaml", "--key", bad_key,
               stdin=b"{}", check=1)
    assert b"line 1" in proc.stderr and b"not-base64" not in proc.stderr
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("openapi: 3.0.3\ninfo: [unclosed\n")
    proc = run(bin_dir, "encrypt", "--spec", bad_spec, "--key", keyfile, stdin=b"{}", check=1)
    assert b"bad.yaml" in proc.stderr
    proc = run(bin_dir, "encrypt", "--spec", tmp_path / "missing.yaml", "--key", keyfile,
               stdin=b"{}", check=1)
    assert b"missing.yaml" in proc.stderr


def test_unknown_operation_is_an_error(bin_dir, keyfile):
    proc = run(bin_dir, "encrypt", "--spec", SCHEMAS / "payments.yaml", "--key", keyfile,
               "--operation", "noSuchOperation", stdin=b"{}", check=1)
    assert b"noSuchOperation" in proc.stderr


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["encrypt"],
    ["encrypt", "--key", "k"],
    ["encrypt", "--spec", "s"],
    ["encrypt", "--spec", "s", "--key", "k", "a", "b"],
    ["decrypt", "--bogus"],
    ["encrypt", "--spec", "s", "--key", "k", "--max-depth", "0"],
    ["keygen", "extra"],
    ["schema"],
    ["schema", "check", "x"],
    ["schema", "lint"],
])
def test_usage_errors_exit_2(bin_dir, args):
    proc = run(bin_dir, *args, check=2)
    assert proc.stderr


@pytest.mark.parametrize("args", [
    ["--help"], ["keygen", "--help"], ["encrypt", "--help"], ["decrypt", "--help"],
    ["schema", "--help"], ["schema", "lint", "--help"],
])
def test_help_on_every_command(bin_dir, args):
    proc = run(bin_dir, *args, check=0)
    assert proc.stdout.startswith(b"usage: nitro-enc")


def test_max_depth_limit(bin_dir, keyfile):
    spec = SCHEMAS / "payments.yaml"
    deep = b"[" * 10 + b"]" * 10
    run(bin_dir, "encrypt", "--spec", spec, "--key", keyfile, "--max-depth", "10", stdin=deep,
        check=0)
    proc = run(bin_dir, "encrypt", "--spec", spec, "--key", keyfile, "--max-depth", "9",
               stdin=deep, check=1)
    assert b"at byte 9" in proc.stderr


def test_benchmark_body_fits_its_spec(bin_dir, keyfile):
    # bench/http (and bench/proxy, bench-otel) post this body under this spec: if the spec stops
    # declaring a member, the service fails closed and the benchmark measures 422s instead.
    bench = ROOT / "bench" / "http"
    out = run(bin_dir, "encrypt", "--spec", bench / "payments.yaml", "--key", keyfile,
              bench / "payments-1k.json", check=0).stdout
    doc = json.loads(out)
    pii = [doc["payer"][k] for k in ("name", "ssn", "email", "phone")]
    pii += [doc["card"]["number"], doc["iban"]]
    assert all(v.startswith("v1.") for v in pii)
    assert doc["merchant"]["name"] == "Corner Grocer"
