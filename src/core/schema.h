/* schema.h - OpenAPI 3.0 / 3.1 specs (YAML or JSON, via libfyaml) compiled into PII automata
 * (DESIGN section 6).
 *
 * `x-pii: true` marks a schema as PII wherever it stands: a property's schema, an `items` schema
 * (every element), an `additionalProperties` schema (every value), or beside a `$ref`.
 * `x-pii-context: "label"` sets the context label. `$ref` (local, and to sibling documents read
 * through the reader callback), `allOf` (merge), `oneOf`/`anyOf` (union), `properties`,
 * `additionalProperties` (a schema or `true`), `items` and recursive schemas are followed. A spec
 * is compiled once, at load; lookups afterwards are read-only and thread-safe.
 *
 * Decisions (DESIGN section 6 leaves them open; docs/openapi-support.md has the whole table,
 * nes_schema_keywords the same one in code):
 * - A node stands for the union of every schema that may describe a value: `allOf`, `oneOf`,
 *   `anyOf` and `$ref` (with its siblings, as in 3.1) all contribute, and `x-pii: true` on any of
 *   them marks the value; so do 3.1 `if`/`then`/`else`/`dependentSchemas`, a discriminator's
 *   subtypes (mapping and the schemas that `allOf` the base), `$dynamicRef` to same-document
 *   anchors, and YAML merge keys (`<<: *base`, united rather than overridden). Each member
 *   judges a property name on its own: properties, matching patternProperties, and the
 *   additionalProperties of the members that neither list nor match it. `prefixItems`,
 *   tuple-form `items`, `additionalItems`, `unevaluatedItems` and `contains` unite into the items
 *   child; `unevaluatedProperties` counts as additionalProperties (encrypting too much is the
 *   safe side). `not` and `propertyNames` declare nothing. A string whose `contentSchema` can
 *   hold PII is encrypted whole. Unknown keywords whose value could hold a schema refuse the spec.
 * - Fail closed (pii.h): `additionalProperties: true` or `{}`, and an object schema that declares
 *   no member, accept any member; otherwise a member nothing declares is refused, unless
 *   `x-pii-unknown-fields: pass` (spec root or any schema; `reject` closes again) is in force.
 * - Value type of a PII node from its `type` (3.1 lists; "null" ignored): only `string` ->
 *   NES_VT_STRING; no `string` -> NES_VT_JSON; both or absent -> NES_VT_ANY; `types` keeps the
 *   allowed JSON types (DESIGN section 4).
 * - `x-pii-context` needs `x-pii: true` in the same set; two different labels for one value, a
 *   non-boolean `x-pii` or a non-string label are load errors.
 * - Only JSON request bodies are roots: media types application/json, application/<x>+json and
 *   the any-type wildcard (parameters such as "; charset=utf-8" are ignored); several JSON media
 *   types of one body unite. A body with only non-JSON media types (forms, text, octet-stream)
 *   is not a root, even with a single media type: the service accepts JSON only, and counting
 *   form bodies would make specs such as Stripe's ambiguous for nothing.
 * - Only what the roots (every operation's JSON body, 3.1 `webhooks` operations and `x-pii-root`)
 *   reach is compiled and checked; a broken schema that nothing references does not fail the
 *   load. A Path Item `$ref` beside operations is merged (the item's own operations win).
 * - Documents are UTF-8 (checked before parsing; NUL bytes refused), YAML or JSON (names ending
 *   in .json, or content starting with '{' or '['). Aliases are followed, never expanded; a
 *   document whose aliases and merge keys would expand to more than NES_SPEC_MAX_ALIAS_NODES
 *   nodes, one with duplicate keys, or one nested deeper than NES_SPEC_MAX_NESTING is refused, and
 *   so are documents holding more than NES_SPEC_MAX_YAML_NODES nodes together.
 *   Loading is linear in the spec's size (schema_scan.c).
 *   Sibling names are resolved relative to the referring document and normalised; a name that
 *   leaves the spec's directory, an absolute path or a URL is a load error. */
#ifndef NES_SCHEMA_H
#define NES_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/pii.h"

/** Upper bound on the bytes of a spec and all the documents it references together. */
#define NES_SPEC_MAX_BYTES (64u << 20)
/** Upper bound on `$ref` hops followed in a row (a chain of references to references). */
#define NES_SPEC_MAX_REF_DEPTH 64
/** Upper bound on the nodes YAML aliases and merge keys may add to a document when expanded
 * (each alias counts the subtree it names): bounds alias and merge-key bombs. */
#define NES_SPEC_MAX_ALIAS_NODES 4000000u
/** Deepest YAML/JSON nesting a spec document may have: a body MAX_DEPTH levels deep needs a
 * schema about 2 x MAX_DEPTH + 10 levels deep when written inline (`properties: {a: ...}` is two
 * levels per body level), so 512 covers MAX_DEPTH up to ~250. The document tree (ytree.h) stops
 * at this depth while it parses (no recursion anywhere); deeper documents are refused with a
 * message that says so. */
#define NES_SPEC_MAX_NESTING 512
/** Upper bound on the YAML nodes of a spec's documents together. A node costs about 40 bytes in
 * the document tree (ytree.h), so this bounds a load's memory (~350 MB) for documents made of tiny
 * nodes (`[a,a,a,...]`: one node per 2 bytes); a 64 MiB spec of the usual shape holds ~7 million
 * (the 100,000-schema benchmark spec: 11 MB, 1.2 million). */
#define NES_SPEC_MAX_YAML_NODES 8000000u
/** Default bound on the documents of a spec (the spec plus the sibling files its `$ref`s name);
 * large split specs (DigitalOcean's has 471 files) fit. */
#define NES_SPEC_DEFAULT_MAX_DOCS 1024
/** Upper bound on automaton nodes per spec (one per distinct set of schemas reached). */
#define NES_SPEC_MAX_NODES 100000

typedef struct nes_spec nes_spec;

/** One operation of a spec (strings owned by the spec). */
typedef struct nes_spec_op {
    const char *operation_id; /**< NULL when the operation has none */
    const char *method;       /**< lower case: "get", "post", ... */
    const char *path;         /**< path template, e.g. "/users/{id}" */
    const nes_pii_node *root; /**< root of its JSON request body; NULL when it has none */
    bool webhook;             /**< a 3.1 `webhooks` entry: `path` is its name, never matched */
} nes_spec_op;

/** Reads a document that a `$ref` names relative to the spec's directory (e.g. "common.yaml",
 * "defs/types.yaml"; normalised, never absolute, never containing ".."). On success sets *data to
 * a malloc'd buffer (the loader frees it) and *len. On failure returns an error status and fills
 * `err`; its message becomes part of the load error. */
typedef nes_status (*nes_doc_reader)(void *ud, const char *name, char **data, size_t *len,
                                     nes_err *err);

/** Loads and compiles the spec `data` (len bytes) named `name` (used in error messages; its
 * directory part, if any, also prefixes sibling names in messages). `reader` may be NULL when the
 * spec has no external references. Every operation's JSON request body and `x-pii-root` are
 * compiled here. Errors (NES_ERR_SPEC, NES_ERR_LIMIT, NES_ERR_NOMEM) carry one message with the
 * document, line and JSON pointer of the problem, e.g.
 * `payments.yaml:42: #/components/schemas/Card/properties/number: $ref target "#/x" not found`;
 * YAML/JSON syntax errors give libfyaml's diagnostic and line (nothing is printed). */
nes_status nes_spec_load(const char *name, const char *data, size_t len, nes_doc_reader reader,
                         void *reader_ud, nes_spec **out, nes_err *err);

/** Limits of one load (zero fields take the defaults). */
typedef struct nes_spec_limits {
    size_t max_docs; /**< documents per spec, the spec included (NES_SPEC_DEFAULT_MAX_DOCS); the
                          service's SPEC_MAX_DOCUMENTS setting */
} nes_spec_limits;

/** nes_spec_load with limits (`lim` may be NULL: defaults). */
nes_status nes_spec_load_limits(const char *name, const char *data, size_t len,
                                nes_doc_reader reader, void *reader_ud, const nes_spec_limits *lim,
                                nes_spec **out, nes_err *err);

/** Loads a spec file; sibling references are read from the same directory (never above it, and
 * never through a symbolic link that leaves it). NES_ERR_IO when the file cannot be read, else as
 * nes_spec_load. */
nes_status nes_spec_load_file(const char *path, nes_spec **out, nes_err *err);

/** nes_spec_load_file with limits (`lim` may be NULL: defaults). */
nes_status nes_spec_load_file_limits(const char *path, const nes_spec_limits *lim, nes_spec **out,
                                     nes_err *err);

/** Frees a spec and its automaton (NULL is fine). */
void nes_spec_free(nes_spec *spec);

/** The root node for a request body: the spec's `x-pii-root` JSON pointer (which then wins over
 * `operation_id`); else the JSON request body of the operation whose operationId is
 * `operation_id` (when not NULL or empty); else the only JSON requestBody in the spec.
 * NES_ERR_ROOT when there is no single answer (the message names the operationIds to choose
 * from, or "method /path" for operations without one; long lists are cut), the operation is
 * unknown (the message names it, made printable and bounded) or has no JSON request body. These
 * messages go to API clients: they name the spec by its file name ("payments.yaml"), never by
 * the directory it was loaded from.
 * Read-only: safe from any number of threads. */
nes_status nes_spec_root(const nes_spec *spec, const char *operation_id, const nes_pii_node **root,
                         nes_err *err);

/** The root for a proxied request: the JSON request body of the operation whose method and path
 * template (`/users/{id}`) match `method` and `path` (no query string). NULL when none does. */
const nes_pii_node *nes_spec_match(const nes_spec *spec, const char *method, const char *path,
                                   size_t path_len);

/** The operation for a proxied request (as nes_spec_match, but it also tells "no operation" from
 * "an operation without a JSON body"). `method` is compared case-insensitively; a query string in
 * `path` is ignored. A `{name}` matches one or more characters other than '/', also inside a
 * segment ("/files/{name}.json"); among several matches the first segment that differs decides:
 * literal beats mixed beats a whole-segment variable ("/users/me" beats "/users/{id}"). When
 * nothing matches, the path is tried again without each `servers[].url` path prefix ("/v1").
 * True, with *out filled, when an operation matches. */
bool nes_spec_find_op(const nes_spec *spec, const char *method, const char *path, size_t path_len,
                      nes_spec_op *out);

/** Number of operations (every method under `paths`, in document order). */
size_t nes_spec_operation_count(const nes_spec *spec);

/** Operation `i` (0-based, document order); false when out of range. */
bool nes_spec_operation(const nes_spec *spec, size_t i, nes_spec_op *out);

/** The spec's `x-pii-root` reference text, or NULL when it has none. */
const char *nes_spec_pii_root(const nes_spec *spec);

/** Automaton nodes the spec compiled to (for statistics and tests). */
size_t nes_spec_node_count(const nes_spec *spec);

/** What the compiler does with a schema keyword (docs/openapi-support.md shows the table). */
typedef enum nes_kw_decision {
    NES_KW_HONOURED = 0, /**< followed as JSON Schema / OpenAPI define it */
    NES_KW_OVER,         /**< over-approximated: its schemas join the union (encrypt more) */
    NES_KW_ANNOTATION,   /**< holds no schema: nothing to follow */
    NES_KW_REFUSED,      /**< a spec whose reached schemas use it does not load */
} nes_kw_decision;

/** One row of the keyword table. */
typedef struct nes_schema_keyword {
    const char *name;
    nes_kw_decision decision;
    const char *how; /**< one line, Markdown */
} nes_schema_keyword;

/** The keyword table the compiler uses, sorted by name; *n gets its length. A keyword that is
 * not in it, not an `x-` extension, and whose value is a mapping or a list (it could hold a
 * schema) refuses the spec. */
const nes_schema_keyword *nes_schema_keywords(size_t *n);

#endif
