#!/usr/bin/env python3
"""gen_spec.py N [--reach all|one] [--format yaml|json] > spec

Writes an OpenAPI 3.0 spec with N component schemas (each a small object with one x-pii field),
the shape of large generated specs (Stripe, Plaid). With `--reach all` the request body's schema
has one property per component schema (a $ref each), so every schema is resolved and compiled;
with `--reach one` only the first is referenced (the rest are parsed and checked, not compiled).
Deterministic: the same arguments give the same bytes."""
import argparse
import json
import sys


def spec(n: int, reach: str) -> dict:
    schemas = {}
    for i in range(n):
        props = {"email": {"type": "string", "x-pii": True}}
        schemas[f"S{i}"] = {"type": "object", "properties": props}
    if reach == "all":
        root = {"type": "object",
                "properties": {f"p{i}": {"$ref": f"#/components/schemas/S{i}"} for i in range(n)}}
    else:
        root = {"$ref": "#/components/schemas/S0"}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"scale {n}", "version": "1"},
        "paths": {"/items": {"post": {
            "operationId": "create",
            "requestBody": {"content": {"application/json": {"schema": root}}},
            "responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": schemas},
    }


def to_yaml(doc, out, indent=0):
    """A small block-style YAML writer (PyYAML is far slower at 100k schemas)."""
    pad = "  " * indent
    for k, v in doc.items():
        key = json.dumps(k) if not k.replace("_", "").replace("-", "").isalnum() else k
        if isinstance(v, dict) and v:
            out.write(f"{pad}{key}:\n")
            to_yaml(v, out, indent + 1)
        else:
            out.write(f"{pad}{key}: {json.dumps(v)}\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("--reach", choices=("all", "one"), default="all")
    ap.add_argument("--format", choices=("yaml", "json"), default="yaml")
    a = ap.parse_args()
    doc = spec(a.n, a.reach)
    if a.format == "json":
        json.dump(doc, sys.stdout, separators=(",", ":"))
    else:
        to_yaml(doc, sys.stdout)


if __name__ == "__main__":
    main()
