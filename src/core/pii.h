/* pii.h - the PII automaton (DESIGN sections 4 and 6): what the JSON transform follows.
 *
 * One node per distinct schema position. Edges: an exact property name, name patterns (regular
 * expressions: patternProperties), a wildcard (any other key: additionalProperties), the items
 * of an array, and the content of a string that carries a JSON document (contentSchema). A node
 * marked `pii` is replaced whole by one token (objects and arrays too) and is not descended into.
 * The graph may have cycles (recursive schemas); the transform follows it one JSON level at a
 * time, so a cycle costs nothing. The schema module builds graphs; nothing here knows OpenAPI.
 *
 * Membership (fail closed, DESIGN section 6). A NULL child stands for "any value": nothing below
 * it is PII and every member below it is declared. A node's `members` says what happens to an
 * object member that no edge declares (no property, no matching pattern, no wildcard):
 * NES_MEMBERS_CLOSED refuses it (the transform fails with its JSON pointer), NES_MEMBERS_ANY
 * declares it as any value (a free-form object, `additionalProperties: true`), NES_MEMBERS_PASS
 * lets it pass and counts it (`x-pii-unknown-fields: pass`; also what a hand-built node that
 * nobody closed does). A node that is not an object schema (`type: string`) is closed and has no
 * edges, so any member of an object arriving there is refused; its `items` child is such a node
 * too unless arrays are allowed.
 *
 * Value types. `types` holds the JSON types a PII value may have (NES_JT_* bits; null is always
 * allowed and stays null); `type` says how its plaintext is encoded: NES_VT_STRING (only
 * strings allowed: the unescaped UTF-8 bytes), NES_VT_JSON (no strings allowed: the minified
 * JSON text), NES_VT_ANY (strings and non-strings allowed, or no type given: the minified JSON
 * text of every value, strings with their quotes). So decrypt restores every value with its
 * JSON type. */
#ifndef NES_PII_H
#define NES_PII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/** How the plaintext of a PII value is encoded (see the header comment): the unescaped bytes of
 * a string, the minified JSON text of a non-string, or the minified JSON text of any value
 * (strings with their quotes). */
typedef enum nes_value_type {
    NES_VT_ANY = 0,
    NES_VT_STRING,
    NES_VT_JSON,
} nes_value_type;

/** JSON types, as bits of nes_pii_node.types (null has none: it is always allowed). */
enum {
    NES_JT_STRING = 1,
    NES_JT_NUMBER = 2,
    NES_JT_BOOLEAN = 4,
    NES_JT_OBJECT = 8,
    NES_JT_ARRAY = 16,
    NES_JT_ALL = 31,
};

/** What happens to an object member that no edge of its node declares. */
typedef enum nes_members {
    NES_MEMBERS_PASS = 0, /**< it passes untouched and is counted */
    NES_MEMBERS_ANY,      /**< it is declared as any value (free-form object) */
    NES_MEMBERS_CLOSED,   /**< it is refused */
} nes_members;

/** Outcome of nes_pii_lookup. */
typedef enum nes_member_kind {
    NES_MEMBER_DECLARED = 0, /**< an edge or NES_MEMBERS_ANY declares it (child may be NULL) */
    NES_MEMBER_PASS,         /**< undeclared; the node lets it pass (NES_MEMBERS_PASS) */
    NES_MEMBER_UNKNOWN,      /**< undeclared; the node refuses it (NES_MEMBERS_CLOSED) */
} nes_member_kind;

typedef struct nes_pii_node nes_pii_node;
typedef struct nes_pii_graph nes_pii_graph;

/** A property edge. */
typedef struct nes_pii_edge {
    char *key; /**< property name, UTF-8, not NUL-terminated in general */
    size_t key_len;
    nes_pii_node *node;
    uint64_t head; /**< nes_pii_key_words' head and tail of key (set by nes_pii_node_set_prop) */
    uint64_t tail;
} nes_pii_edge;

/** A name pattern edge (patternProperties): a POSIX extended regular expression translated from
 * the spec's ECMA-262 pattern, or NULL when it could not be translated (then it matches every
 * name: encrypting too much is the safe side). */
typedef struct nes_pii_pattern {
    void *re; /**< regex_t *, or NULL: matches every name */
    nes_pii_node *node;
} nes_pii_pattern;

struct nes_pii_node {
    nes_pii_edge *props; /**< sorted (by length, then bytes) after nes_pii_graph_finish */
    size_t nprops;
    nes_pii_pattern *patterns; /**< tried, in order, for a key not in props */
    size_t npatterns;
    nes_pii_node *pattern_any; /**< child for a key that matches several patterns, or NULL */
    nes_pii_node *wildcard;    /**< child for a key no prop or pattern declares, or NULL */
    nes_pii_node *items;       /**< child for every array element, or NULL (any value) */
    nes_pii_node *content;     /**< a string value's JSON content; PII below it marks this node */
    bool pii;                  /**< replace this value with a token */
    bool has_pii_below;        /**< some path from here reaches a pii node (set by finish) */
    bool walk;       /**< the transform must look inside: PII below or members to check (finish) */
    uint8_t members; /**< nes_members: an undeclared member passes, is any value, or is refused */
    uint8_t types;   /**< NES_JT_* bits a PII value may have (set by nes_pii_node_mark) */
    nes_value_type type;
    uint8_t *context; /**< x-pii-context label bytes (NULL/0: empty context) */
    size_t context_len;
    char *name; /**< schema name or pointer for diagnostics and lint (may be NULL) */
    /** Hash index of props (set by nes_pii_graph_finish; NULL: binary search): 1 << (64 -
     * slot_shift) slots, each 0 (free) or 1 + the index of a prop. A slot is found from the
     * key's length and its first and last 8 bytes (nes_pii_key_mix) multiplied by slot_seed
     * (chosen at finish so that, as far as it can, every key sits in its first slot); linear
     * probing. The table is built from the spec, so no input makes a lookup probe longer. */
    uint32_t *slots;
    uint32_t slot_shift; /**< 64 - log2(slots) */
    uint32_t slot_mask;  /**< slots - 1 */
    uint64_t slot_seed;
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

/** Marks `n` as PII with the given value type and context label (copied; NULL for none); the
 * allowed types become what `type` can carry (string; every non-string; everything). 0/-1. */
int nes_pii_node_mark(nes_pii_graph *g, nes_pii_node *n, nes_value_type type, const char *context,
                      size_t context_len);

/** Adds a name pattern edge to `n`: `pattern` (len bytes, ECMA-262 as JSON Schema writes it) is
 * translated to a POSIX extended regular expression (`\d`, `\w`, `\s` and their negations
 * outside brackets); one that cannot be translated or compiled matches every name. 0 or -1. */
int nes_pii_node_add_pattern(nes_pii_graph *g, nes_pii_node *n, const char *pattern, size_t len,
                             nes_pii_node *child);

/** True when `pattern` (as for nes_pii_node_add_pattern) matches `key` (key_len bytes)
 * somewhere, as JSON Schema's patternProperties does (unanchored). A pattern that cannot be
 * compiled matches every key. Compiles the pattern on each call: for building, not lookups. */
bool nes_pii_pattern_matches(const char *pattern, size_t len, const char *key, size_t key_len);

/** Sorts edges and builds each node's hash index of them; marks as PII (a string encrypted whole)
 * every node whose `content` can hold PII; computes has_pii_below and walk for every node (cycles
 * included). Call once after building, before lookups. 0 or -1. */
int nes_pii_graph_finish(nes_pii_graph *g);

/** The child of object node `n` for key `key` (unescaped UTF-8): the exact property, else the
 * matching pattern's child (pattern_any when several match), else the wildcard, else NULL. `n`
 * may be NULL (then NULL). */
const nes_pii_node *nes_pii_child(const nes_pii_node *n, const char *key, size_t key_len);

/** The words a property lookup compares and hashes first: *head holds the first min(8, len)
 * bytes of `key` in memory order, the rest zero; *tail the last 8 bytes when len > 8, else 0.
 * (A caller that may read 8 bytes at `key` can load head as one word and mask it.) */
static inline void nes_pii_key_words(const char *key, size_t len, uint64_t *head, uint64_t *tail)
{
    *head = 0;
    *tail = 0;
    __builtin_memcpy(head, key, len < 8 ? len : 8);
    if (len > 8)
        __builtin_memcpy(tail, key + len - 8, 8);
}

/** The hash of a key from its first and last 8 bytes and its length (see nodes' `slots`); the
 * index build (pii.c) and nes_pii_find_prop must agree on it. */
static inline uint64_t nes_pii_key_mix(uint64_t head, uint64_t tail, size_t len)
{
    return (head * 0x9E3779B97F4A7C15ULL) ^ tail ^ len;
}

/** The property edge of `n` (whose slots index is not NULL) named `key` (len bytes, head and tail
 * as nes_pii_key_words gives them), or NULL. Inline: the transform calls it for every member. */
static inline const nes_pii_edge *nes_pii_find_prop(const nes_pii_node *n, const char *key,
                                                    size_t len, uint64_t head, uint64_t tail)
{
    uint32_t h = (uint32_t)((nes_pii_key_mix(head, tail, len) * n->slot_seed) >> n->slot_shift);
    for (uint32_t s; (s = n->slots[h]) != 0; h = (h + 1) & n->slot_mask) {
        const nes_pii_edge *e = &n->props[s - 1];
        /* head and tail cover every byte of a name of up to 16 bytes */
        if (e->head == head && e->tail == tail && e->key_len == len &&
            (len <= 16 || __builtin_memcmp(e->key + 8, key + 8, len - 16) == 0))
            return e;
    }
    return NULL;
}

/** Looks up a member whose name is not a property of `n` (patterns, wildcard, `members`): what
 * nes_pii_lookup answers after nes_pii_find_prop found nothing. */
nes_member_kind nes_pii_lookup_unlisted(const nes_pii_node *n, const char *key, size_t key_len,
                                        const nes_pii_node **child);

/** Looks up member `key` of object node `n` (not NULL): sets *child as nes_pii_child does and
 * says whether the member is declared, passes undeclared, or is refused (see nes_members). */
nes_member_kind nes_pii_lookup(const nes_pii_node *n, const char *key, size_t key_len,
                               const nes_pii_node **child);

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

/** Where an unknown member passes (nes_pii_open). */
typedef enum nes_open_kind {
    NES_OPEN_ANY_VALUE = 0, /**< a value of any schema (`{}`, `true`): anything below passes */
    NES_OPEN_ANY_MEMBER,    /**< an object whose undeclared members are any value */
    NES_OPEN_PASS,          /**< an object whose undeclared members pass (x-pii-unknown-fields) */
} nes_open_kind;

/** Callback for nes_pii_open: one open place, its shortest path in nes_pii_paths' notation
 * ("metadata.*": any member of metadata; "extra": any value), and what kind of place it is.
 * Return non-zero to stop. */
typedef int (*nes_pii_open_fn)(void *ud, const char *path, nes_open_kind kind);

/** Lists, in sorted order, the places below `root` where a member that the spec does not
 * declare passes: each open node once (at its shortest path) and each any-value child edge
 * once. PII values are not descended into. Returns 0, -1 on allocation failure or a path longer
 * than 4096 characters, or the callback's non-zero value. */
int nes_pii_open(const nes_pii_node *root, nes_pii_open_fn fn, void *ud);

#endif
