"""OpenAPI edge cases as data (tests/data/cases/*.yaml, format in its README.md), run through the
real `nitro-enc` CLI: `schema lint` output, the exact places of the tokens, decrypt back to the
same JSON with the same types, and the fail-closed / type errors with their JSON pointer and
without any value of the body."""
import json
import re
import subprocess

import pytest
import yaml

from conftest import ROOT

CASES = sorted((ROOT / "tests" / "data" / "cases").glob("*.yaml"))
TOKEN = re.compile(r"^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}$")
ERRORS = {"unknown_member": "is not declared by the spec",
          "pii_type": "has a JSON type that its schema does not allow"}


def run(bin_dir, *args, stdin=None):
    return subprocess.run([str(bin_dir / "nitro-enc"), *map(str, args)], input=stdin,
                          capture_output=True, timeout=60)


def pointer(parts):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def leaves(doc, parts=()):
    """(pointer, value) of every scalar, and of every value as a whole."""
    yield pointer(parts), doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from leaves(v, parts + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from leaves(v, parts + (i,))


def same(a, b):
    """JSON equality that also tells 1 from 1.0 from True and "1" from 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def token_places(enc, plain):
    """Pointers whose value became a token (present in the output as a token string, and not a
    token in the input)."""
    plain_at = dict(leaves(plain))
    return sorted(p for p, v in leaves(enc)
                  if isinstance(v, str) and TOKEN.match(v) and plain_at.get(p) != v)


def secrets_of(body):
    """String values of the body long enough to recognise in a message."""
    out = set()
    for _, v in leaves(body):
        if isinstance(v, str) and len(v) >= 4:
            out.add(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) >= 10000:
            out.add(json.dumps(v))
    return out


@pytest.fixture(scope="module")
def key(tmp_path_factory, bin_dir):
    path = tmp_path_factory.mktemp("key") / "k"
    path.write_bytes(run(bin_dir, "keygen").stdout)
    return path


def write_case(case, tmp_path):
    for name, text in (case.get("files") or {}).items():
        (tmp_path / name).write_text(yaml.safe_dump(text, sort_keys=False))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(case["spec"], sort_keys=False))
    return spec


def test_cases_exist():
    assert len(CASES) >= 15


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case(path, tmp_path, bin_dir, key):
    case = yaml.safe_load(path.read_text())
    spec = write_case(case, tmp_path)
    op = case.get("operation")
    lint = run(bin_dir, "schema", "lint", spec, *(["--operation", op] if op else []))
    if "lint_error" in case:
        assert lint.returncode == 1, lint.stdout
        assert case["lint_error"] in lint.stderr.decode(), lint.stderr
        return
    assert lint.returncode == 0, lint.stderr.decode()
    lines = lint.stdout.decode().splitlines()
    assert [x for x in lines if not x.startswith("open: ")] == case["lint"]
    assert [x for x in lines if x.startswith("open: ")] == case.get("open", [])

    for i, b in enumerate(case.get("bodies", [])):
        body = json.dumps(b["body"]).encode()
        args = ["--spec", spec, "--key", key]
        if b.get("operation", op):
            args += ["--operation", b.get("operation", op)]
        if b.get("unknown"):
            args += ["--unknown-fields", b["unknown"]]
        enc = run(bin_dir, "encrypt", *args, stdin=body)
        err = enc.stderr.decode()
        if "error" in b:
            assert enc.returncode == 1, (i, enc.stdout)
            assert ERRORS[b["error"]] in err, (i, err)
            assert f'"{b["pointer"]}"' in err, (i, err)
            for s in secrets_of(b["body"]):
                assert s not in err, (i, "value echoed", err)
            continue
        assert enc.returncode == 0, (i, err)
        out = json.loads(enc.stdout)
        assert token_places(out, b["body"]) == sorted(b["tokens"]), i
        if "passed" in b:
            assert f"nitro-enc: {b['passed']} member" in err, (i, err)
        else:
            assert "passed unchanged" not in err, (i, err)
        dec = run(bin_dir, "decrypt", *args, stdin=enc.stdout)
        assert dec.returncode == 0, (i, dec.stderr.decode())
        assert same(json.loads(dec.stdout), b["body"]), (i, dec.stdout)
        # decrypt then encrypt gives the same tokens again
        again = run(bin_dir, "encrypt", *args, stdin=dec.stdout)
        assert again.stdout == enc.stdout, i


def test_unknown_fields_flag_is_checked(bin_dir, key, tmp_path):
    spec = write_case(yaml.safe_load(CASES[0].read_text()), tmp_path)
    proc = run(bin_dir, "encrypt", "--spec", spec, "--key", key, "--unknown-fields", "maybe",
               stdin=b"{}")
    assert proc.returncode == 2
    assert b"--unknown-fields takes reject or pass" in proc.stderr
