"""`nitro-enc schema lint` on large and hostile specs (issue 10 section 3), as a real process:
a large generated spec lints quickly, bombs and overlong paths fail with their real reason, a
symbolic link out of the spec's directory is refused, messages stay free of machine paths."""
import subprocess
import sys
import time

from conftest import ROOT

GEN = ROOT / "bench" / "spec" / "gen_spec.py"


def lint(bin_dir, spec, *args):
    return subprocess.run([str(bin_dir / "nitro-enc"), "schema", "lint", str(spec), *args],
                          capture_output=True, text=True, timeout=120)


def test_large_spec_lints_in_linear_time(bin_dir, tmp_path):
    spec = tmp_path / "large.yaml"
    with open(spec, "w") as f:
        subprocess.run([sys.executable, str(GEN), "20000", "--reach", "all"], stdout=f, check=True)
    t0 = time.monotonic()
    p = lint(bin_dir, spec)
    took = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.splitlines()) == 20000
    assert took < 10, took  # ~0.5 s on a busy 2-core box; the quadratic loader took ~28 s


def test_merge_key_bomb_is_refused_at_once(bin_dir, tmp_path):
    m = ["openapi: 3.0.3", "x-pii-root: '#/components/schemas/R'", "x-defs:",
         "  m0: &m0 {p: {type: string, x-pii: true}}"]
    m += [f"  m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 10)}]}}" for i in range(1, 8)]
    m += ["components:", "  schemas:", "    R:", "      type: object", "      properties:",
          "        <<: [" + ", ".join(["*m7"] * 10) + "]"]
    spec = tmp_path / "bomb.yaml"
    spec.write_text("\n".join(m) + "\n")
    assert spec.stat().st_size < 1500
    t0 = time.monotonic()
    p = lint(bin_dir, spec)
    assert time.monotonic() - t0 < 5
    assert p.returncode == 1
    assert "aliases and merge keys expand to more than 4000000 nodes" in p.stderr


def test_overlong_path_gives_the_real_reason(bin_dir, tmp_path):
    lines = ["openapi: 3.0.3", "x-pii-root: '#/components/schemas/S0'", "components:",
             "  schemas:"]
    lines += [f"    S{i}: {{properties: {{a_long_property_name: {{$ref: '#/components/schemas/S{i + 1}'}}}}}}"
              for i in range(300)]
    lines.append("    S300: {x-pii: true}")
    spec = tmp_path / "long.yaml"
    spec.write_text("\n".join(lines) + "\n")
    p = lint(bin_dir, spec)
    assert p.returncode == 1
    assert "a PII path is longer than 4096 characters" in p.stderr
    assert "too many PII paths" not in p.stderr


def test_symlink_out_of_the_spec_directory_is_refused(bin_dir, tmp_path):
    (tmp_path / "outside.yaml").write_text("S: {type: string, x-pii: true}\n")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    spec = specs / "main.yaml"
    spec.write_text("openapi: 3.0.3\nx-pii-root: '#/components/schemas/R'\ncomponents:\n"
                    "  schemas:\n    R: {properties: {a: {$ref: 'link.yaml#/S'}}}\n")
    p = lint(bin_dir, spec)
    assert p.returncode == 1
    assert "symbolic link that leaves the spec's directory" in p.stderr
