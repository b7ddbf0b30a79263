/* pii.h - the PII automaton (DESIGN section 6): what the JSON transform follows.
 *
 * One node per distinct schema position. Edges: an exact property name, a wildcard (any other
 * key: additionalProperties), and the items of an array. A node marked `pii` is replaced whole by
 * one token (objects and arrays too) and is not descended into. The graph may have cycles
 * (recursive schemas); the transform follows it one JSON level at a time, so a cycle costs
 * nothing. The schema module builds graphs; nothing here knows OpenAPI. */
#ifndef NES_PII_H
#define NES_PII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/** What the decrypted bytes of a PII value are: known string, known non-string JSON (number,
 * boolean, object, array: the token holds its minified JSON text), or unknown (decrypt then
 * restores non-string JSON when the plaintext is a valid JSON number/boolean/object/array, else a
 * string). */
typedef enum nes_value_type {
    NES_VT_ANY = 0,
    NES_VT_STRING,
    NES_VT_JSON,
} nes_value_type;

typedef struct nes_pii_node nes_pii_node;
typedef struct nes_pii_graph nes_pii_graph;

/** A property edge. */
typedef struct nes_pii_edge {
    char *key; /**< property name, UTF-8, not NUL-terminated in general */
    size_t key_len;
    nes_pii_node *node;
} nes_pii_edge;

struct nes_pii_node {
    nes_pii_edge *props; /**< sorted (by length, then bytes) after nes_pii_graph_finish */
    size_t nprops;
    nes_pii_node *wildcard; /**< child for any key not in props, or NULL */
    nes_pii_node *items;    /**< child for every array element, or NULL */
    bool pii;               /**< replace this value with a token */
    bool has_pii_below;     /**< some path from here reaches a pii node (set by finish) */
    nes_value_type type;
    uint8_t *context; /**< x-pii-context label bytes (NULL/0: empty context) */
    size_t context_len;
    char *name; /**< schema name or pointer for diagnostics and lint (may be NULL) */
};

/** Creates an empty graph. NULL on allocation failure. */
nes_pii_graph *nes_pii_graph_new(void);

/** Frees a graph and all its nodes and strings (NULL is fine). */
void nes_pii_graph_free(nes_pii_graph *g);

/** Adds a node owned by the graph; `name` (may be NULL) is copied. NULL on allocation failure. */
nes_pii_node *nes_pii_node_new(nes_pii_graph *g, const char *name);

/** Sets the child of `parent` for property `key` (copied); replaces an existing edge. 0 or -1. */
int nes_pii_node_set_prop(nes_pii_graph *g, nes_pii_node *parent, const char *key, size_t key_len,
                          nes_pii_node *child);

/** Marks `n` as PII with the given value type and context label (copied; NULL for none). 0/-1. */
int nes_pii_node_mark(nes_pii_graph *g, nes_pii_node *n, nes_value_type type, const char *context,
                      size_t context_len);

/** Sorts edges and computes has_pii_below for every node (cycles included). Call once after
 * building, before lookups. 0 or -1. */
int nes_pii_graph_finish(nes_pii_graph *g);

/** The child of object node `n` for key `key` (unescaped UTF-8): the exact property, else the
 * wildcard, else NULL. `n` may be NULL (then NULL). */
const nes_pii_node *nes_pii_child(const nes_pii_node *n, const char *key, size_t key_len);

/** Callback for nes_pii_paths: one PII path, NUL-terminated, e.g. "orders[].card_number",
 * "labels.*", "tree.children[].ssn (recursive)". Return non-zero to stop. */
typedef int (*nes_pii_path_fn)(void *ud, const char *path);

/** Enumerates the PII paths below `root` in sorted order, in the brief's notation: `.` between
 * keys, `[]` for array items, `*` for any key of a map. A path that re-enters a node already on
 * the path stops there; paths that reach PII after passing through such a re-entry are reported
 * once, up to the re-entry, suffixed " (recursive)". Returns 0, NES_PII_PATHS_NOMEM,
 * NES_PII_PATHS_TOO_MANY (more than NES_PII_MAX_PATHS), NES_PII_PATHS_TOO_LONG (a path longer
 * than NES_PII_MAX_PATH_LEN characters), or the callback's non-zero value (callbacks return
 * positive values). */
int nes_pii_paths(const nes_pii_node *root, nes_pii_path_fn fn, void *ud);

/** Upper bound on enumerated paths (a dense graph has exponentially many). */
#define NES_PII_MAX_PATHS 100000
/** Upper bound on one path's length in characters. */
#define NES_PII_MAX_PATH_LEN 4096
/** nes_pii_paths results. */
#define NES_PII_PATHS_NOMEM (-1)
#define NES_PII_PATHS_TOO_MANY (-2)
#define NES_PII_PATHS_TOO_LONG (-3)

#endif
