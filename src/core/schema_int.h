/* schema_int.h - internals shared by the schema modules; not a public interface.
 *
 * schema_doc.c      documents (parsed into compact trees, ytree.h), YAML helpers, $ref resolution,
 *                   error locations (document:line: JSON pointer)
 * schema_scan.c     post-parse document check (duplicate keys, alias expansion bound) and the
 *                   hash index of large mappings used by `$ref` resolution
 * schema_compile.c  schema sets -> PII automaton nodes (memoized by set, worklist, no recursion)
 * schema.c          the public API: load, operations, roots, proxy matching */
#ifndef NES_SCHEMA_INT_H
#define NES_SCHEMA_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/schema.h"
#include "core/ytree.h"

/** Characters in a document name after normalisation. */
#define NES_SD_MAX_NAME 512

/** One parsed document. */
typedef struct nes_sd_doc {
    char *rel;       /* name relative to the spec's directory: what the reader is asked for */
    char *shown;     /* name for messages: the spec's directory prefix + rel */
    char *owned;     /* the reader's buffer (the YAML tree points into it), or NULL */
    char *split;     /* the input with one line break added after a one-line JSON document's first
                        bracket (schema_doc.c: parse_doc), which the tree points into; or NULL */
    nes_ytree *tree; /* the compact tree (ytree.h); its scalars point into the input */
    nes_yn *root;
} nes_sd_doc;

typedef struct nes_sd_index nes_sd_index;

/** The documents of one spec being loaded. Document 0 is the spec itself. */
typedef struct nes_sd_docs {
    nes_sd_doc *docs; /* cap_docs entries, grown as siblings load */
    size_t n, cap_docs;
    size_t max_docs;     /* the spec itself plus at most max_docs - 1 siblings */
    nes_sd_index *index; /* hash index of large mappings (schema_scan.c), NULL until needed */
    size_t bytes;        /* total input bytes, bounded by NES_SPEC_MAX_BYTES */
    size_t nodes;        /* total YAML nodes, bounded by NES_SPEC_MAX_YAML_NODES */
    char *prefix;        /* directory part of the spec's name ("" or "dir/"), for messages */
    nes_doc_reader reader;
    void *reader_ud;
} nes_sd_docs;

/** A schema position: a YAML node and the document holding it. */
typedef struct nes_sd_ref {
    nes_yn *node;
    uint32_t doc;
} nes_sd_ref;

/* ---- schema_doc.c ------------------------------------------------------------------------ */

/** Starts a document set whose first document is `name` (`data` must outlive the set); at most
 * `max_docs` documents (0: NES_SPEC_DEFAULT_MAX_DOCS). */
nes_status nes_sd_open(nes_sd_docs *ds, const char *name, const char *data, size_t len,
                       nes_doc_reader reader, void *reader_ud, size_t max_docs, nes_err *err);

/** Frees every document of the set. */
void nes_sd_close(nes_sd_docs *ds);

/** `n` with aliases resolved (NULL for NULL or an alias cycle). */
nes_yn *nes_sd_deref(nes_yn *n);

/** The value for `key` in mapping `map`, aliases resolved; NULL when absent or not a mapping. */
nes_yn *nes_sd_get(nes_yn *map, const char *key);

/** True when `n` is a scalar that is not null-like; sets the text (not NUL-terminated). */
bool nes_sd_str(nes_yn *n, const char **s, size_t *len);

/** 1 for a plain `true`, 0 for a plain `false`, -1 for anything else. */
int nes_sd_bool(nes_yn *n);

/** The 1-based line where `n` starts (of its key when it is a mapping's value), 0 if unknown. */
int nes_sd_line(nes_yn *n);

/** Records an error located at `at` (document `doc`): "<doc>:<line>: <pointer>: <message>".
 * `line_at` (may be NULL) gives a more precise line than `at`. Returns `st`. */
nes_status nes_sd_fail(const nes_sd_docs *ds, uint32_t doc, nes_yn *at, nes_yn *line_at,
                       nes_status st, nes_err *err, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/** Resolves the reference text `ref` (len bytes: "#/a/b", "other.yaml#/a", "other.yaml")
 * written in document `from`, loading the named sibling on first use. `at` and `line_at` locate
 * errors. On success sets *out to the target (aliases resolved). */
nes_status nes_sd_resolve(nes_sd_docs *ds, uint32_t from, nes_yn *at, nes_yn *line_at,
                          const char *ref, size_t len, nes_sd_ref *out, nes_err *err);

/** Follows `$ref` entries from `in` until a mapping without `$ref` (at most
 * NES_SPEC_MAX_REF_DEPTH hops); used for requestBodies and path items. */
nes_status nes_sd_follow(nes_sd_docs *ds, nes_sd_ref in, nes_sd_ref *out, nes_err *err);

/* ---- schema_scan.c ----------------------------------------------------------------------- */

/** Checks document `doc` just parsed: no mapping has two equal scalar keys (libfyaml's own check
 * is quadratic and off), and its aliases expand to at most NES_SPEC_MAX_ALIAS_NODES nodes more
 * than the document holds. NES_ERR_SPEC / NES_ERR_LIMIT with the document's name. */
nes_status nes_sd_check(const nes_sd_docs *ds, uint32_t doc, nes_err *err);

/** The value for `key` (len bytes) in mapping `map`, aliases resolved, NULL when absent; large
 * mappings are indexed in ds->index on first use (constant time afterwards). */
nes_yn *nes_sd_lookup(nes_sd_docs *ds, nes_yn *map, const char *key, size_t len);

/** Frees an index (NULL is fine). */
void nes_sd_index_free(nes_sd_index *ix);

/* ---- schema_compile.c -------------------------------------------------------------------- */

typedef struct nes_sc nes_sc;

/** A compiler adding nodes to `g`, reading (and loading) documents from `ds`. NULL on OOM. */
nes_sc *nes_sc_new(nes_sd_docs *ds, nes_pii_graph *g);

/** Frees the compiler (the graph and its nodes stay). NULL is fine. */
void nes_sc_free(nes_sc *c);

/** The node for the union of the schemas `set` (n entries), compiling everything reachable from
 * it; `pass` says whether x-pii-unknown-fields: pass is in force there (the spec root's).
 * *out is NULL when the set constrains nothing (only `true` schemas, or empty). */
nes_status nes_sc_compile(nes_sc *c, const nes_sd_ref *set, size_t n, bool pass, nes_pii_node **out,
                          nes_err *err);

/** Automaton nodes created so far. */
size_t nes_sc_node_count(const nes_sc *c);

#endif
