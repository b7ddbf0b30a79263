"""h1_cases_dump: the codec's framing cases as JSON lines for the service's raw-socket suite.

Checks that the tool's output is what that suite relies on: one well-formed row per case, unique
names, known outcomes, inputs that decode, and the same outcome as docs/http-framing.md (which
test_h1_framing_doc checks against the code)."""
import json
import re
import subprocess


def test_dump_rows_match_the_framing_page(bin_dir, root_dir):
    out = subprocess.run([str(bin_dir / "h1_cases_dump")], check=True, capture_output=True,
                         text=True, timeout=30).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) > 100
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))
    page = (root_dir / "docs" / "http-framing.md").read_text()
    documented = dict(re.findall(r"^\| `([^`]+)` \| (\w+) \|", page, re.M))
    assert set(documented) == set(names)
    statuses = {"accept", "400", "414", "417", "431", "501", "502", "505"}
    for r in rows:
        assert r["side"] in ("request", "response")
        assert r["outcome"] in statuses, r
        assert r["outcome"] == documented[r["name"]], r["name"]
        data = bytes.fromhex(r["input_hex"])
        assert data, r["name"]
        if r["side"] == "request" and r["outcome"] == "accept":
            assert b"\n" in data
    # the smuggling cases are all there and refused
    for name in ("cl-conflict", "te-and-cl", "space-before-colon", "empty-name", "te-identity",
                 "te-xchunked", "te-gzip-chunked", "cl-negative", "cl-plus", "cl-hex", "cl-list",
                 "host-missing", "host-twice", "space-in-name", "nul-in-value",
                 "bare-cr-in-value"):
        assert next(r for r in rows if r["name"] == name)["outcome"] != "accept", name
