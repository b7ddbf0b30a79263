"""docs/configuration.md against the programs (issue 13 item 5).

- drift: the checked-in file equals what scripts/config-reference.sh prints from the built
  programs' --print-config-reference ("run make docs" otherwise);
- coverage: every variable name the C sources read (getenv, the proxy's env(), the AWS and OTEL
  lookups, the service's table) is a row of the section of each program that reads it, and every
  getopt option of src/cli is a row of the CLI's section;
- defaults: the defaults the reference prints are the ones the programs use (--check-config).
"""
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("NES_BIN", ROOT / "build" / "bin"))
DOC = ROOT / "docs" / "configuration.md"
SRC = ROOT / "src"

# The calls through which a program reads a setting by a literal name.
READS = [
    r'getenv\("([A-Z][A-Z0-9_]*)"\)',
    r'\benv\(envp, "([A-Z][A-Z0-9_]*)"\)',
    r'\bget_uint\(envp, "([A-Z][A-Z0-9_]*)", mode,',
    r'\bget_ep\(envp, "([A-Z][A-Z0-9_]*)"',
    r'\bvar\(mode, "([A-Z][A-Z0-9_]*)"\)',
    r'\blookup\(ud, "([A-Z][A-Z0-9_]*)"\)',
    r'\bget\(lookup, ud, "([A-Z][A-Z0-9_]*)"\)',
    r'\bGET\("([A-Z][A-Z0-9_]*)"\)',
    r'\bnes_config_raw\([^,]+, "([A-Z][A-Z0-9_]*)"\)',
    r'\bfind_opt\("([A-Z][A-Z0-9_]*)", \d+\)',
    r'^\s*\{"([A-Z][A-Z0-9_]*)", T_[A-Z0-9]+,',          # the service's table
    r'"((?:AWS|OTEL)_[A-Z0-9_]+)"',                         # name tables of aws/ and otel/
]
# getenv with a computed name: only these lookup wrappers (they serve the tables above).
GETENV_WRAPPERS = {"src/cli/cli_aws.c", "src/enclave/main.c", "src/proxy/main.c"}
# Which program's section must list what a directory reads.
SECTIONS = [
    ("src/obs/", ("nitro-enc-svc", "nitro-enc-proxy")),
    ("src/enclave/", ("nitro-enc-svc",)),
    ("src/aws/", ("nitro-enc-svc", "nitro-enc")),
    ("src/proxy/", ("nitro-enc-proxy",)),
    ("src/cli/", ("nitro-enc",)),
]


def sections(text):
    """{program: {name: [row cells]...}} from the Markdown (first row of each name wins)."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^## `([^`]+)`$", line)
        if m:
            cur = out.setdefault(m.group(1), {})
            continue
        m = re.match(r"^\| `([^`]+)` \|(.*)\|$", line)
        if m and cur is not None:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
            cur.setdefault(m.group(1), cells)
    return out


def generated():
    r = subprocess.run([str(ROOT / "scripts" / "config-reference.sh"), str(BIN)],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def names_read():
    """{(relative file, name)} for every setting name the sources read."""
    found = set()
    for path in sorted(SRC.rglob("*.c")):
        rel = str(path.relative_to(ROOT))
        text = path.read_text()
        for pat in READS:
            for m in re.finditer(pat, text, re.M):
                found.add((rel, m.group(1)))
    return found


def test_reference_is_current():
    want = generated()
    have = DOC.read_text() if DOC.exists() else ""
    assert have == want, ("docs/configuration.md differs from what the programs print "
                          "(--print-config-reference): run make docs")


def test_every_section_and_description_present():
    secs = sections(DOC.read_text())
    assert set(secs) == {"nitro-enc-svc", "nitro-enc-proxy", "nitro-enc"}
    for prog, rows in secs.items():
        assert len(rows) >= 10, prog
        for name, cells in rows.items():
            assert len(cells) == 4 and cells[0] and cells[1] and cells[3], (prog, name, cells)


def test_every_variable_read_is_documented():
    secs = sections(DOC.read_text())
    found = names_read()
    # The scan must see the reads it is about (else a changed call shape would pass silently).
    names = {n for _, n in found}
    for probe in ("LISTEN", "MAIN_APP_ADDR", "ALLOWLIST", "AWS_CA_BUNDLE", "OTEL_SDK_DISABLED",
                  "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "SECRET_ARN", "UNKNOWN_FIELDS"):
        assert probe in names, probe
    missing = []
    for rel, name in sorted(found):
        for prefix, progs in SECTIONS:
            if rel.startswith(prefix):
                missing += [f"{rel}: {name} not in the {p} section" for p in progs
                            if name not in secs.get(p, {})]
                break
        else:
            missing.append(f"{rel}: reads {name}; say in SECTIONS which program's section "
                           "lists what this directory reads")
    assert not missing, "\n".join(missing) + "\nadd a row to the program's table, then make docs"


def test_getenv_only_literal_or_known_wrappers():
    for path in sorted(SRC.rglob("*.c")):
        rel = str(path.relative_to(ROOT))
        for m in re.finditer(r"\b(?:secure_)?getenv\(([^)]*)\)", path.read_text()):
            if not m.group(1).startswith('"'):
                assert rel in GETENV_WRAPPERS, (
                    f"{rel} calls getenv({m.group(1)}): read settings by a literal name (or "
                    "through a table) so the configuration reference can list them")


def test_every_cli_option_documented():
    rows = sections(DOC.read_text())["nitro-enc"]
    documented = {n.split()[0] for n in rows}
    opts = set()
    for path in sorted((SRC / "cli").glob("*.c")):
        opts |= set(re.findall(r'\{"([a-z][a-z0-9-]*)", (?:required|no|optional)_argument',
                               path.read_text()))
    assert {"spec", "bucket", "kms-key-id"} <= opts
    missing = sorted(o for o in opts - {"help"} if f"--{o}" not in documented)
    assert not missing, f"options not in docs/configuration.md: {missing}; run make docs"


def run(args, env):
    r = subprocess.run([str(BIN / args[0]), *args[1:]], env=env, capture_output=True,
                       text=True, timeout=30, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def check_config(args, env):
    vals = {}
    for line in run(args, env).splitlines():
        m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*?)(?:  # .*)?$", line)
        if m:
            vals[m.group(1)] = m.group(2)
    return vals


def code_default(cells):
    m = re.fullmatch(r"`(.*)`", cells[1])
    return m.group(1) if m else None


def test_service_defaults_are_what_check_config_uses(tmp_path):
    rows = sections(DOC.read_text())["nitro-enc-svc"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    eff = check_config(["nitro-enc-svc", "--local-mode", "--check-config"], env)
    compared = 0
    for name, cells in rows.items():
        d = code_default(cells)
        if name.startswith("AWS_") and eff.get(name) == "":
            continue  # applied by the AWS layer: tests/unit/aws/test_aws_config_ref.c
        if name in eff and d is not None:
            assert eff[name] == d, (name, eff[name], d)
            compared += 1
        elif name in eff and cells[1] == "unset":
            assert eff[name] == "", (name, eff[name])
            compared += 1
    assert compared >= 30
    # the derived ones, as the reference describes them
    assert eff["LISTEN"] == "tcp://127.0.0.1:8443"
    assert eff["LOCAL_KEY_FILE"] == code_default(rows["LOCAL_STATE_DIR"]) + "/dev.key"
    assert int(eff["WORKER_THREADS"]) == min(os.cpu_count() or 1, 256)


@pytest.mark.parametrize("mode,env", [
    ("ingress", {"ENCLAVE_CID": "16", "MAIN_APP_ADDR": "127.0.0.1:8080"}),
    ("egress", {"UPSTREAM": "127.0.0.1:9"}),
])
def test_proxy_defaults_are_what_check_config_uses(mode, env):
    text = DOC.read_text()
    # the proxy's rows of both modes, then this mode's group (LISTEN_PORT differs per mode)
    proxy = text.split("## `nitro-enc-proxy`")[1].split("\n## ")[0]
    rows = {}
    for part in re.split(r"^### ", proxy, flags=re.M)[1:]:
        title = part.splitlines()[0]
        if title.startswith("ingress" if mode == "egress" else "egress"):
            continue
        rows.update(sections("## `p`\n" + part)["p"])
    eff = check_config(["nitro-enc-proxy", mode, "--check-config"],
                       {"PATH": os.environ.get("PATH", ""), **env})
    compared = 0
    for name, cells in rows.items():
        d = code_default(cells)
        if name in eff and d is not None:
            got = eff[name].split(" (")[0]
            assert got == d, (name, got, d)
            compared += 1
    assert compared >= 6
    port = code_default(rows["LISTEN_PORT"])
    assert eff["LISTEN"].endswith(":" + port), (eff["LISTEN"], port)
