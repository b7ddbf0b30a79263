/* schema.h - OpenAPI 3.0 / 3.1 specs (YAML or JSON, via libfyaml) compiled into PII automata
 * (DESIGN section 6).
 *
 * `x-pii: true` marks a schema as PII wherever it stands: a property's schema, an `items` schema
 * (every element), an `additionalProperties` schema (every value), or beside a `$ref`.
 * `x-pii-context: "label"` sets the context label. `$ref` (local, and to sibling documents read
 * through the reader callback), `allOf` (merge), `oneOf`/`anyOf` (union), `properties`,
 * `additionalProperties` (a schema or `true`), `items` and recursive schemas are followed. A spec
 * is compiled once, at load; lookups afterwards are read-only and thread-safe. */
#ifndef NES_SCHEMA_H
#define NES_SCHEMA_H

#include <stddef.h>

#include "core/error.h"
#include "core/pii.h"

/** Upper bound on a spec document (and each referenced document). */
#define NES_SPEC_MAX_BYTES (64u << 20)

typedef struct nes_spec nes_spec;

/** Reads a document that a `$ref` names relative to the spec (e.g. "common.yaml"). On success
 * sets *data to a malloc'd buffer (the caller frees it) and *len. */
typedef nes_status (*nes_doc_reader)(void *ud, const char *name, char **data, size_t *len,
                                     nes_err *err);

/** Loads and compiles the spec `data` (len bytes) named `name` (used in error messages and to
 * resolve relative references). `reader` may be NULL when the spec has no external references.
 * Errors give the document, line and JSON pointer of the problem. */
nes_status nes_spec_load(const char *name, const char *data, size_t len, nes_doc_reader reader,
                         void *reader_ud, nes_spec **out, nes_err *err);

/** Loads a spec file; sibling references are read from the same directory (never above it). */
nes_status nes_spec_load_file(const char *path, nes_spec **out, nes_err *err);

/** Frees a spec and its automaton (NULL is fine). */
void nes_spec_free(nes_spec *spec);

/** The root node for a request body: the spec's `x-pii-root` JSON pointer; else the JSON request
 * body of the operation whose operationId is `operation_id` (when not NULL); else the only JSON
 * requestBody in the spec. NES_ERR_ROOT when there is no single answer (the message names the
 * operationIds to choose from) or the operation is unknown. */
nes_status nes_spec_root(const nes_spec *spec, const char *operation_id, const nes_pii_node **root,
                         nes_err *err);

/** The root for a proxied request: the JSON request body of the operation whose method and path
 * template (`/users/{id}`) match `method` and `path` (no query string). NULL when none does. */
const nes_pii_node *nes_spec_match(const nes_spec *spec, const char *method, const char *path,
                                   size_t path_len);

#endif
