"""An independent PII-path walker: computes what `nitro-enc schema lint` should print as PII paths
for a spec, from the spec alone (PyYAML/json, no code of the project), following the rules that
DESIGN section 6 and docs/openapi-support.md state:

- a node is the set of schema objects that may describe one value (closed under $ref, $dynamicRef
  to same-document anchors, allOf/oneOf/anyOf, if/then/else, dependentSchemas, dependencies and a
  discriminator's subtypes: its mapping and the component schemas that allOf the base), and only
  schema objects with keywords of their own count as members;
- x-pii on any member marks the value; contentSchema with PII below marks the string;
- each member judges a property name on its own: properties, matching patternProperties, and the
  additionalProperties / unevaluatedProperties of members that neither list nor match it;
- paths use `.` between keys, `*` for patterns and additionalProperties, `[]` for items; a path
  that re-enters a node on it stops there with " (recursive)".

Limitation (same as the service's documented one): YAML merge keys are not modelled (PyYAML
applies them by overriding); the specs compared here have none.
"""
import json
import pathlib
import re
import urllib.parse

import yaml

OWN = ("properties", "additionalProperties", "patternProperties", "items", "prefixItems", "type",
       "x-pii", "x-pii-context", "unevaluatedProperties", "unevaluatedItems", "additionalItems",
       "contains", "contentSchema")
JSON_MEDIA = re.compile(r"^(application/json|\*/\*|application/[^;]*\+json)\s*(;.*)?$", re.I)


def load(path):
    text = pathlib.Path(path).read_text()
    if str(path).endswith(".json") or text.lstrip()[:1] in "{[":
        return json.loads(text)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class TooManyPaths(Exception):
    """The walk took more steps than its budget (a dense graph has exponentially many paths)."""


def translatable(pattern):
    """Whether the service runs `pattern` as a regular expression (else it matches every name)."""
    if "\0" in pattern or "(?" in pattern:
        return False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 == len(pattern):
                return False
            n = pattern[i + 1]
            if n not in "dDwWsS" and (n.isalnum() or ord(n) >= 0x80):
                return False
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                if pattern[j] == "\\" or (pattern[j] == "[" and pattern[j + 1:j + 2] == ":"):
                    return False
                j += 1
            if j == len(pattern):
                return False
            i = j + 1
            continue
        i += 1
    return True


def matches(pattern, name):
    if not translatable(pattern):
        return True
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return True


class Node:
    __slots__ = ("pii", "props", "patterns", "pattern_any", "wildcard", "items", "content",
                 "below")

    def __init__(self):
        self.pii = False
        self.props = {}
        self.patterns = []
        self.pattern_any = None
        self.wildcard = None
        self.items = None
        self.content = None
        self.below = False

    def children(self):
        for k, v in self.props.items():
            yield k, False, v
        for v in self.patterns:
            yield "*", False, v
        yield "*", False, self.pattern_any
        yield "*", False, self.wildcard
        yield "[]", True, self.items


class Walker:
    def __init__(self, path):
        self.dir = pathlib.Path(path).resolve().parent
        self.docs = {pathlib.Path(path).name: load(path)}
        self.main = pathlib.Path(path).name
        self.memo = {}
        self.nodes = []
        self.todo = []
        self.subtypes = {}
        self.anchors = {}

    # ---- references ----------------------------------------------------------------------
    def doc(self, name):
        if name not in self.docs:
            self.docs[name] = load(self.dir / name)
        return self.docs[name]

    def resolve(self, ref, docname):
        file, _, frag = ref.partition("#")
        if file:
            docname = str(pathlib.PurePosixPath(docname).parent / file)
            docname = str(pathlib.PurePosixPath(*[p for p in docname.split("/") if p != "."]))
        node = self.doc(docname)
        frag = urllib.parse.unquote(frag)
        if frag and not frag.startswith("/"):
            return [(a, docname) for a in self.anchors_of(docname).get(frag, [])]
        for tok in frag.split("/")[1:]:
            tok = tok.replace("~1", "/").replace("~0", "~")
            node = node[int(tok)] if isinstance(node, list) else node[tok]
        return [(node, docname)]

    def anchors_of(self, docname):
        if docname not in self.anchors:
            found, stack = {}, [self.doc(docname)]
            while stack:
                n = stack.pop()
                if isinstance(n, dict):
                    for k in ("$anchor", "$dynamicAnchor"):
                        if isinstance(n.get(k), str):
                            found.setdefault(n[k], []).append(n)
                    stack.extend(n.values())
                elif isinstance(n, list):
                    stack.extend(n)
            self.anchors[docname] = found
        return self.anchors[docname]

    def subtypes_of(self, base, docname):
        if docname not in self.subtypes:
            pairs = []
            schemas = ((self.doc(docname).get("components") or {}).get("schemas") or {})
            for sub in schemas.values():
                if not isinstance(sub, dict) or not isinstance(sub.get("allOf"), list):
                    continue
                for item in sub["allOf"]:
                    ref = item.get("$ref") if isinstance(item, dict) else None
                    if isinstance(ref, str) and ref.startswith("#/"):
                        try:
                            target = self.resolve(ref, docname)[0][0]
                        except (KeyError, IndexError, ValueError, TypeError):
                            continue
                        pairs.append((target, sub))
            self.subtypes[docname] = pairs
        return [(sub, docname) for t, sub in self.subtypes[docname] if t is base]

    # ---- nodes ---------------------------------------------------------------------------
    def closure(self, schemas, passing):
        seen, members, said, stack = set(), [], None, list(schemas)
        while stack:
            s, d = stack.pop()
            if not isinstance(s, dict) or id(s) in seen:
                continue
            seen.add(id(s))
            if any(k in s for k in OWN):
                members.append((s, d))
            says = s.get("x-pii-unknown-fields")
            if says == "reject":
                said = False
            elif says == "pass" and said is None:
                said = True
            for kw in ("anyOf", "oneOf", "allOf"):
                stack.extend((x, d) for x in s.get(kw) or [])
            for kw in ("if", "then", "else"):
                if kw in s:
                    stack.append((s[kw], d))
            for v in (s.get("dependentSchemas") or {}).values():
                stack.append((v, d))
            for v in (s.get("dependencies") or {}).values():
                if isinstance(v, dict):
                    stack.append((v, d))
            disc = s.get("discriminator")
            if isinstance(disc, dict):
                for v in (disc.get("mapping") or {}).values():
                    ref = v if ("#" in v or "/" in v or v.endswith((".yaml", ".yml", ".json"))) \
                        else "#/components/schemas/" + v.replace("~", "~0").replace("/", "~1")
                    stack.extend(self.resolve(ref, d))
                stack.extend(self.subtypes_of(s, d))
            for kw in ("$ref", "$dynamicRef"):
                if isinstance(s.get(kw), str):
                    stack.extend(self.resolve(s[kw], d))
        return members, (passing if said is None else said)

    def node(self, schemas, passing=False):
        members, passing = self.closure(schemas, passing)
        if not members:
            return None
        key = (frozenset(id(s) for s, _ in members), passing)
        if key not in self.memo:
            n = Node()
            self.memo[key] = n
            self.nodes.append(n)
            self.todo.append((n, members, passing))
        return self.memo[key]

    def compile(self, schemas, passing=False):
        root = self.node(schemas, passing)
        while self.todo:
            self.build(*self.todo.pop())
        self.finish()
        return root

    def build(self, n, members, passing):
        if any(s.get("x-pii") is True for s, _ in members):
            n.pii = True
            return

        def wild(s):
            return [w for w in (s.get("additionalProperties"), s.get("unevaluatedProperties"))
                    if isinstance(w, dict)]
        pats = [(p, v, i, d) for i, (s, d) in enumerate(members)
                for p, v in (s.get("patternProperties") or {}).items()]
        names = {}
        for i, (s, d) in enumerate(members):
            for k, v in (s.get("properties") or {}).items():
                names.setdefault(k, []).append((i, v, d))
        for k, lst in names.items():
            group = [(v, d) for _, v, d in lst]
            listing = {i for i, _, _ in lst}
            for i, (s, d) in enumerate(members):
                hit = False
                for p, v, j, pd in pats:
                    if j == i and matches(p, k):
                        hit = True
                        if isinstance(v, dict):
                            group.append((v, pd))
                if i not in listing and not hit:
                    group.extend((w, d) for w in wild(s))
            n.props[k] = self.node(group, passing)
        for p, v, j, pd in pats:
            group = [(v, pd)] if isinstance(v, dict) else []
            group += [(w, d) for i, (s, d) in enumerate(members) if i != j for w in wild(s)]
            n.patterns.append(self.node(group, passing))
        if len(pats) > 1:
            group = [(v, pd) for _, v, _, pd in pats if isinstance(v, dict)]
            group += [(w, d) for s, d in members for w in wild(s)]
            n.pattern_any = self.node(group, passing)
        group = [(w, d) for s, d in members for w in wild(s)]
        if group:
            n.wildcard = self.node(group, passing)
        group = []
        for s, d in members:
            it = s.get("items")
            for x in (it if isinstance(it, list) else [it]):
                if isinstance(x, dict):
                    group.append((x, d))
            for kw in ("unevaluatedItems", "additionalItems", "contains"):
                if isinstance(s.get(kw), dict):
                    group.append((s[kw], d))
            group.extend((x, d) for x in s.get("prefixItems") or [] if isinstance(x, dict))
        if group:
            n.items = self.node(group, passing)
        group = [(s["contentSchema"], d) for s, d in members
                 if isinstance(s.get("contentSchema"), dict)]
        if group:
            n.content = self.node(group, False)

    def finish(self):
        def interesting(c):
            return c is not None and (c.pii or c.below)
        marked = True
        while marked:
            changed = True
            while changed:
                changed = False
                for n in self.nodes:
                    if not n.pii and not n.below and any(interesting(c)
                                                         for _, _, c in n.children()):
                        n.below = changed = True
            marked = False
            for n in self.nodes:
                if not n.pii and interesting(n.content):
                    n.pii = marked = True

    # ---- roots and paths -----------------------------------------------------------------
    def root(self, operation_id=None):
        spec = self.docs[self.main]
        passing = spec.get("x-pii-unknown-fields") == "pass"
        if "x-pii-root" in spec:
            return self.compile(self.resolve(spec["x-pii-root"], self.main), passing)
        bodies = []
        for section in ("paths", "webhooks"):
            for item in (spec.get(section) or {}).values():
                for op in self.operations(item, self.main):
                    bodies.append(op)
        for op, d in bodies:
            if operation_id is None or op.get("operationId") == operation_id:
                rb, rd = op.get("requestBody"), d
                while isinstance(rb, dict) and "$ref" in rb:
                    rb, rd = self.resolve(rb["$ref"], rd)[0]
                content = (rb or {}).get("content") or {}
                schemas = [(m["schema"], rd) for t, m in content.items()
                           if JSON_MEDIA.match(t) and isinstance(m, dict) and "schema" in m]
                return self.compile(schemas, passing)
        raise KeyError(operation_id)

    def operations(self, item, d):
        methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
        done = set()
        while isinstance(item, dict):
            for m in methods:
                if m in item and m not in done:
                    done.add(m)
                    yield item[m], d
            if "$ref" not in item:
                return
            item, d = self.resolve(item["$ref"], d)[0]

    @staticmethod
    def paths(root, budget=None):
        out = set()
        steps = [0]

        def walk(n, path, onpath):
            onpath = onpath + [n]
            for seg, brackets, c in n.children():
                if c is None or not (c.pii or c.below):
                    continue
                steps[0] += 1
                if budget is not None and steps[0] > budget:
                    raise TooManyPaths()
                p = path + seg if brackets else (path + "." + seg if path else seg)
                if c.pii:
                    out.add(p)
                elif any(c is x for x in onpath):
                    out.add(p + " (recursive)")
                else:
                    walk(c, p, onpath)
        if root is not None:
            if root.pii:
                out.add("$")
            else:
                walk(root, "", [])
        return sorted(out, key=lambda s: s.encode())
