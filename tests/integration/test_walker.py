"""`nitro-enc schema lint` against an independent walker (piiwalk.py): the PII paths of every
public spec under ../shared/testdata/openapi (with x-pii marks sprinkled in by a seeded choice,
and a root that reaches every component schema), and of generated specs mixing allOf, oneOf,
anyOf, $ref, additionalProperties, patternProperties, discriminators and recursion."""
import json
import random
import subprocess

import pytest

from conftest import TESTDATA
from piiwalk import TooManyPaths, Walker, load

PUBLIC = sorted(p for p in (TESTDATA / "openapi").glob("*") if p.suffix in (".yaml", ".json"))


def lint(bin_dir, spec, operation=None):
    args = [str(bin_dir / "nitro-enc"), "schema", "lint", str(spec)]
    if operation:
        args += ["--operation", operation]
    proc = subprocess.run(args, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    return [x for x in proc.stdout.decode().splitlines() if not x.startswith("open: ")]


def property_schemas(spec):
    """Every property schema object of the spec (inline or a $ref wrapper), in document order."""
    found, ids, stack, seen = [], set(), [spec], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                for v in props.values():
                    if isinstance(v, dict) and id(v) not in ids:
                        ids.add(id(v))
                        found.append(v)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def ref_to(name):
    return "#/components/schemas/" + name.replace("~", "~0").replace("/", "~1")


@pytest.mark.parametrize("path", PUBLIC, ids=lambda p: p.name)
def test_public_spec_agrees_with_walker(path, tmp_path, bin_dir):
    """A seeded 4% (at least 3) of the property schemas get x-pii: true, and the root reaches
    every component schema. Where everything reaches everything (Stripe: exponentially many
    paths), the root is instead one component schema after another (seeded) until one lists at
    most a budget's worth of paths."""
    spec = load(path)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    found = property_schemas(spec)
    rng = random.Random(path.name)
    for v in rng.sample(found, min(len(found), max(3, len(found) // 25))):
        v["x-pii"] = True
    names = list(schemas)
    schemas["ZZAll"] = {"type": "object", "properties": {f"p{i}": {"$ref": ref_to(n)}
                                                         for i, n in enumerate(names)}}
    out = tmp_path / "spec.json"
    roots = ["ZZAll"] + rng.sample(names, min(len(names), 40))
    for root in roots:
        spec["x-pii-root"] = ref_to(root)
        out.write_text(json.dumps(spec))
        try:
            want = Walker.paths(Walker(out).root(), budget=100000)
        except TooManyPaths:
            continue
        if want:
            break
    else:
        pytest.fail("no root with a listable number of paths")
    assert lint(bin_dir, out) == want


def generate(seed):
    """A random spec: components built from a fixed vocabulary of constructs."""
    rng = random.Random(seed)
    names = [f"S{i}" for i in range(rng.randint(3, 9))]
    keys = ["id", "name", "email", "note", "kind", "tags", "extra_1", "email_2", "x"]

    def ref():
        return {"$ref": "#/components/schemas/" + rng.choice(names)}

    def leaf():
        s = {"type": rng.choice(["string", "integer", ["string", "integer"]])}
        if rng.random() < 0.3:
            s["x-pii"] = True
        return s

    def schema(depth):
        r = rng.random()
        if depth > 2 or r < 0.25:
            return ref() if rng.random() < 0.5 else leaf()
        if r < 0.35:
            return {rng.choice(["allOf", "oneOf", "anyOf"]): [schema(depth + 1)
                                                            for _ in range(rng.randint(1, 3))]}
        if r < 0.45:
            return {"type": "array", "items": schema(depth + 1)}
        s = {"type": "object",
             "properties": {k: schema(depth + 1) for k in rng.sample(keys, rng.randint(0, 4))}}
        if rng.random() < 0.3:
            s["additionalProperties"] = rng.choice([True, False, schema(depth + 1)])
        if rng.random() < 0.2:
            s["patternProperties"] = {"^" + rng.choice(["email", "extra", "x"]): schema(depth + 1)}
        if rng.random() < 0.15:
            s["x-pii"] = True
        if rng.random() < 0.1:
            s["allOf"] = [ref()]
        return s

    comps = {n: schema(0) for n in names}
    for n in names:  # discriminators: a base and subtypes that allOf it, or a mapping
        if rng.random() < 0.2 and isinstance(comps[n], dict) and "properties" in comps[n]:
            comps[n]["discriminator"] = {"propertyName": "kind"}
            if rng.random() < 0.5:
                comps[n]["discriminator"]["mapping"] = {"a": rng.choice(names)}
            sub = rng.choice(names)
            if sub != n:
                comps[sub] = {"allOf": [{"$ref": "#/components/schemas/" + n},
                                        {"properties": {"secret": leaf()}}]}
    return {"openapi": "3.1.0", "info": {"title": f"generated {seed}", "version": "1"},
            "x-pii-root": "#/components/schemas/" + names[0],
            "components": {"schemas": comps}}


@pytest.mark.parametrize("seed", range(300))
def test_generated_spec_agrees_with_walker(seed, tmp_path, bin_dir):
    """A seed whose spec has too many paths to list (a dense graph) is replaced by seed + 1000."""
    out = tmp_path / "spec.json"
    for s in range(seed, seed + 10000, 1000):
        out.write_text(json.dumps(generate(s)))
        try:
            want = Walker.paths(Walker(out).root(), budget=50000)
            break
        except TooManyPaths:
            continue
    assert lint(bin_dir, out) == want


def test_operations_of_example_and_case_specs_agree(bin_dir, root_dir, tmp_path):
    import yaml
    specs = [root_dir / "schemas" / "payments.yaml"]
    for case in sorted((root_dir / "tests" / "data" / "cases").glob("*.yaml")):
        doc = yaml.safe_load(case.read_text())
        if "lint_error" in doc or any("<<" in json.dumps(doc) for _ in [0]):
            continue
        p = tmp_path / (case.stem + ".json")
        p.write_text(json.dumps(doc["spec"]))
        specs.append(p)
    checked = 0
    for spec in specs:
        doc = load(spec)
        ops = [op.get("operationId") for sec in ("paths", "webhooks")
               for item in (doc.get(sec) or {}).values() if isinstance(item, dict)
               for m, op in item.items() if isinstance(op, dict) and "requestBody" in op]
        for op in (ops if "x-pii-root" not in doc else [None]) or [None]:
            assert lint(bin_dir, spec, op) == Walker.paths(Walker(spec).root(op)), (spec, op)
            checked += 1
    assert checked >= 15
