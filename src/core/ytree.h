/* ytree.h - a compact, read-only YAML/JSON tree built from libfyaml's event stream.
 *
 * libfyaml's own document tree costs about 430 bytes per node (a 100,000-schema spec: ~1.2 M
 * nodes, over 500 MB). This tree keeps what the spec loader reads and nothing else: a node is 32
 * bytes, a mapping holds an array of key/value pairs, a sequence an array of items, a scalar
 * points at its text in the input (or, when libfyaml had to build the text — escapes, folding —
 * at a copy in the tree's arena). Everything lives in one arena freed at once (no recursion).
 *
 * What it keeps from the YAML: kinds, scalar text and whether the scalar was plain, the 1-based
 * line of every scalar, parents, which collections carry an anchor, and aliases (resolved while
 * parsing to the most recent anchor of that name before them, as YAML says; an alias that names
 * no anchor before it is refused: libfyaml's tree would resolve a later anchor or none, and an
 * unresolved schema must never be read as an absent one). Tags are dropped; merge keys (`<<`) stay
 * ordinary keys (as in libfyaml's tree). Only the first document of a stream is read. Duplicate
 * keys are kept (the spec loader refuses them with one hash set per mapping; libfyaml's own check
 * is quadratic).
 *
 * Bounds: collections nested deeper than `max_depth` stop the parse (NES_YT_DEEP) before any
 * deeper node is built, and so does the node after `max_nodes` (NES_YT_LARGE); the builder needs no
 * recursion and holds per level only the entries of the collection being read. */
#ifndef NES_YTREE_H
#define NES_YTREE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct nes_yn nes_yn;
typedef struct nes_ytree nes_ytree;

/** One mapping entry. */
typedef struct nes_yn_pair {
    nes_yn *key;
    nes_yn *value;
} nes_yn_pair;

/** How a parse ended. */
typedef enum nes_yt_status {
    NES_YT_OK = 0,
    NES_YT_EMPTY,  /* the stream holds no document */
    NES_YT_SYNTAX, /* libfyaml refused the text, or an alias names no anchor before it: msg and
                      line say why and where */
    NES_YT_DEEP,   /* nested deeper than max_depth: line is where */
    NES_YT_LARGE,  /* more than max_nodes nodes: line is where */
    NES_YT_NOMEM,
} nes_yt_status;

/** Parse options. */
typedef struct nes_yt_opts {
    bool json;          /* parse as JSON (libfyaml's JSON mode) rather than YAML */
    unsigned max_depth; /* deepest collection nesting accepted (the root collection is 1) */
    size_t max_nodes;   /* most nodes built (0: no limit) */
    bool split;         /* the input has one line break added on its first line: lines after the
                           first are reported one lower */
} nes_yt_opts;

/** Parses the first document of data[0..len) (which must outlive the tree; at most 4 GiB - 1). On
 * NES_YT_OK sets *out; otherwise *out is NULL and, for NES_YT_SYNTAX / NES_YT_DEEP / NES_YT_LARGE,
 * msg (cap bytes) holds libfyaml's first error and *line its 1-based line (0 if unknown). Input
 * that is not UTF-8 or holds a NUL is NES_YT_SYNTAX, "not UTF-8 text (invalid byte|NUL at byte
 * N)", before libfyaml sees it. */
nes_yt_status nes_ytree_parse(const char *data, size_t len, const nes_yt_opts *opts,
                              nes_ytree **out, char *msg, size_t cap, int *line);

/** Checks that data[0..len) is UTF-8 text without NUL, what nes_ytree_parse accepts (libfyaml
 * 0.7.12's scanner can loop forever on other bytes). Returns len when it is; otherwise the offset
 * of the first bad byte, with msg (cap bytes) "not UTF-8 text (invalid byte|NUL at byte N)" and
 * *line its 1-based line. */
size_t nes_ytree_check_text(const char *data, size_t len, char *msg, size_t cap, int *line);

/** Frees a tree (NULL is fine). */
void nes_ytree_free(nes_ytree *t);

/** The document's root node. */
nes_yn *nes_ytree_root(const nes_ytree *t);

/** Nodes in the tree (aliases included). */
size_t nes_ytree_nodes(const nes_ytree *t);

/** Kind tests; false for NULL. */
bool nes_yn_is_map(const nes_yn *n);
bool nes_yn_is_seq(const nes_yn *n);
bool nes_yn_is_scalar(const nes_yn *n);
bool nes_yn_is_alias(const nes_yn *n);

/** The node an alias names; other nodes themselves. NULL for NULL. */
nes_yn *nes_yn_resolve(nes_yn *n);

/** The collection holding `n` (keys too), NULL for the root. */
nes_yn *nes_yn_parent(const nes_yn *n);

/** Entries of a mapping or sequence, 0 for anything else. */
int nes_yn_count(const nes_yn *n);

/** Iterates a mapping's pairs in document order: *it starts NULL; NULL at the end or for a
 * non-mapping. */
nes_yn_pair *nes_yn_map_iterate(nes_yn *map, void **it);

/** Iterates a sequence's items in document order, as nes_yn_map_iterate. */
nes_yn *nes_yn_seq_iterate(nes_yn *seq, void **it);

/** A pair's key / value (NULL for NULL). */
nes_yn *nes_yn_pair_key(const nes_yn_pair *p);
nes_yn *nes_yn_pair_value(const nes_yn_pair *p);

/** The value of the first entry of `map` whose key is a scalar with text key[0..len) (not
 * resolved); NULL when absent or `map` is not a mapping. Linear. */
nes_yn *nes_yn_map_get(nes_yn *map, const char *key, size_t len);

/** Item `i` of a sequence, NULL when out of range or not a sequence. */
nes_yn *nes_yn_seq_at(nes_yn *seq, int i);

/** A scalar's text (not NUL-terminated) and length ("" for an empty scalar such as the value of
 * `key:`); NULL for a non-scalar or an alias. */
const char *nes_yn_scalar(const nes_yn *n, size_t *len);

/** True for a scalar written plain (no quotes, not a block scalar). */
bool nes_yn_is_plain(const nes_yn *n);

/** A scalar's 1-based line; 0 for other nodes and for empty scalars. */
int nes_yn_line(const nes_yn *n);

/** True when a mapping or sequence carries an anchor (aliases may name it). */
bool nes_yn_anchored(const nes_yn *n);

#endif
