/* ytree.c - the compact YAML tree (ytree.h): libfyaml's event parser feeds a builder that keeps
 * one frame per open collection; nodes, pair and item arrays and copied texts come from one
 * arena. */
#include "core/ytree.h"

#include <libfyaml.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_scan.h"

/** Smallest arena chunk. */
#define YT_CHUNK ((size_t)256 * 1024)

enum { YK_SCALAR = 1, YK_SEQ, YK_MAP, YK_ALIAS };
enum { YF_PLAIN = 1, YF_ANCHORED = 2 };

struct nes_yn {
    nes_yn *parent;
    union {
        const char *text;   /* YK_SCALAR ("" when empty) */
        nes_yn_pair *pairs; /* YK_MAP */
        nes_yn **items;     /* YK_SEQ */
        nes_yn *target;     /* YK_ALIAS (NULL: no such anchor) */
    } u;
    uint32_t n;    /* scalar bytes, or entries */
    uint32_t line; /* scalars: 1-based line, 0 unknown */
    uint8_t kind, flags;
};

typedef struct yt_chunk {
    struct yt_chunk *next;
    size_t used, cap;
    max_align_t data[];
} yt_chunk;

struct nes_ytree {
    yt_chunk *chunks;
    nes_yn *root;
    size_t nodes;
};

/* ---- arena ----------------------------------------------------------------------------------- */

/* `size` bytes from the arena, 8-aligned unless `bytes` (texts). */
static void *yt_alloc_in(nes_ytree *t, size_t size, bool bytes)
{
    yt_chunk *c = t->chunks;
    size_t off = c == NULL ? 0 : bytes ? c->used : (c->used + 7) & ~(size_t)7;
    if (c == NULL || off > c->cap || c->cap - off < size) {
        size_t cap = size > YT_CHUNK ? size : YT_CHUNK;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = t->chunks;
        t->chunks = c;
        off = 0;
    }
    c->used = off + size;
    return (char *)c->data + off;
}

static void *yt_alloc(nes_ytree *t, size_t size)
{
    return yt_alloc_in(t, size, false);
}

void nes_ytree_free(nes_ytree *t)
{
    if (t == NULL)
        return;
    for (yt_chunk *c = t->chunks, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(t);
}

/* ---- builder --------------------------------------------------------------------------------- */

typedef struct yt_frame {
    nes_yn *node;
    nes_yn **ent; /* entries so far (a mapping: key, value, key, value...) */
    size_t n, cap;
} yt_frame;

typedef struct yt_anchor {
    const char *name; /* NULL: free slot */
    size_t len;
    nes_yn *node;
} yt_anchor;

typedef struct yt_builder {
    nes_ytree *t;
    const char *data;
    size_t len;
    bool split, large;
    yt_frame *frames; /* max_depth entries */
    size_t depth, max_depth, max_nodes;
    yt_anchor *anchors;
    size_t acap, an;
} yt_builder;

static uint64_t yt_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static yt_anchor *anchor_slot(const yt_builder *b, const char *name, size_t len)
{
    size_t mask = b->acap - 1;
    for (size_t h = (size_t)yt_hash(name, len) & mask;; h = (h + 1) & mask) {
        yt_anchor *a = &b->anchors[h];
        if (a->name == NULL || (a->len == len && memcmp(a->name, name, len) == 0))
            return a;
    }
}

/* Text that stays valid as long as the tree: the input itself, or a copy in the arena. */
static const char *keep_text(yt_builder *b, const char *s, size_t len)
{
    if (len == 0 ||
        (s >= b->data && (size_t)(s - b->data) <= b->len && len <= b->len - (size_t)(s - b->data)))
        return len == 0 ? "" : s;
    char *copy = yt_alloc_in(b->t, len, true);
    if (copy != NULL)
        memcpy(copy, s, len);
    return copy;
}

static int add_anchor(yt_builder *b, struct fy_token *tok, nes_yn *n)
{
    size_t len = 0;
    const char *name = tok ? fy_token_get_text(tok, &len) : NULL;
    if (name == NULL)
        return 0;
    if ((b->an + 1) * 2 > b->acap) {
        size_t cap = b->acap ? 2 * b->acap : 64;
        yt_anchor *old = b->anchors;
        size_t oldcap = b->acap;
        b->anchors = calloc(cap, sizeof *b->anchors);
        if (b->anchors == NULL) {
            b->anchors = old;
            return -1;
        }
        b->acap = cap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].name != NULL)
                *anchor_slot(b, old[i].name, old[i].len) = old[i];
        free(old);
    }
    yt_anchor *a = anchor_slot(b, name, len);
    if (a->name == NULL) {
        a->name = keep_text(b, name, len);
        if (a->name == NULL)
            return -1;
        a->len = len;
        b->an++;
    }
    a->node = n; /* a later anchor of the same name replaces the earlier one */
    n->flags |= YF_ANCHORED;
    return 0;
}

static nes_yn *find_anchor(const yt_builder *b, struct fy_token *tok)
{
    size_t len = 0;
    const char *name = tok ? fy_token_get_text(tok, &len) : NULL;
    if (name == NULL || b->acap == 0)
        return NULL;
    return anchor_slot(b, name, len)->node;
}

static int yt_line(const yt_builder *b, const struct fy_mark *m)
{
    if (m == NULL)
        return 0;
    return b->split && m->line > 0 ? m->line : m->line + 1;
}

/* A new node of `kind` attached to the open collection (or made the root); NULL when out of
 * memory or over max_nodes (b->large set). */
static nes_yn *attach(yt_builder *b, uint8_t kind)
{
    if (b->max_nodes && b->t->nodes == b->max_nodes) {
        b->large = true;
        return NULL;
    }
    nes_yn *n = yt_alloc(b->t, sizeof *n);
    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof *n);
    n->kind = kind;
    b->t->nodes++;
    if (b->depth == 0) {
        b->t->root = n;
        return n;
    }
    yt_frame *f = &b->frames[b->depth - 1];
    n->parent = f->node;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        nes_yn **ent = realloc(f->ent, cap * sizeof *ent);
        if (ent == NULL)
            return NULL;
        f->ent = ent;
        f->cap = cap;
    }
    f->ent[f->n++] = n;
    return n;
}

/* Closes the innermost collection: its entries move into the arena. */
static int close_frame(yt_builder *b)
{
    yt_frame *f = &b->frames[--b->depth];
    nes_yn *n = f->node;
    if (n->kind == YK_MAP) {
        size_t pairs = f->n / 2;
        n->u.pairs = pairs ? yt_alloc(b->t, pairs * sizeof *n->u.pairs) : NULL;
        if (pairs && n->u.pairs == NULL)
            return -1;
        for (size_t i = 0; i < pairs; i++)
            n->u.pairs[i] = (nes_yn_pair){f->ent[2 * i], f->ent[2 * i + 1]};
        n->n = (uint32_t)pairs;
    } else {
        n->u.items = f->n ? yt_alloc(b->t, f->n * sizeof *n->u.items) : NULL;
        if (f->n && n->u.items == NULL)
            return -1;
        if (f->n)
            memcpy(n->u.items, f->ent, f->n * sizeof *n->u.items);
        n->n = (uint32_t)f->n;
    }
    f->n = 0;
    return 0;
}

/* Adds one node event. -1: no memory (or over max_nodes: b->large); 1: too deep; 2: an alias
 * that names no anchor before it. */
static int on_event(yt_builder *b, struct fy_event *ev)
{
    nes_yn *n;
    switch (ev->type) {
    case FYET_SCALAR: {
        n = attach(b, YK_SCALAR);
        if (n == NULL)
            return -1;
        struct fy_token *v = ev->scalar.value;
        n->flags = v == NULL || fy_token_scalar_style(v) == FYSS_PLAIN ? YF_PLAIN : 0;
        size_t len = 0;
        const char *s = v ? fy_token_get_text(v, &len) : NULL;
        n->u.text = ""; /* an empty scalar (no token): "", as libfyaml's tree gives it */
        if (s != NULL) {
            n->u.text = keep_text(b, s, len);
            if (n->u.text == NULL)
                return -1;
            n->n = (uint32_t)len;
            n->line = (uint32_t)yt_line(b, fy_token_start_mark(v));
        }
        return ev->scalar.anchor ? add_anchor(b, ev->scalar.anchor, n) : 0;
    }
    case FYET_ALIAS:
        n = attach(b, YK_ALIAS);
        if (n == NULL)
            return -1;
        n->u.target = find_anchor(b, ev->alias.anchor);
        return n->u.target == NULL ? 2 : 0;
    case FYET_SEQUENCE_START:
    case FYET_MAPPING_START: {
        bool map = ev->type == FYET_MAPPING_START;
        if (b->depth == b->max_depth)
            return 1;
        n = attach(b, map ? YK_MAP : YK_SEQ);
        if (n == NULL)
            return -1;
        b->frames[b->depth++].node = n;
        struct fy_token *anchor = map ? ev->mapping_start.anchor : ev->sequence_start.anchor;
        return anchor ? add_anchor(b, anchor, n) : 0;
    }
    case FYET_SEQUENCE_END:
    case FYET_MAPPING_END:
        return b->depth > 0 ? close_frame(b) : 0;
    default:
        return 0;
    }
}

/* ---- libfyaml 0.7.12's double recycle ------------------------------------------------------- */

/* libfyaml 0.7.12 (Debian bookworm) hands a simple key back to its recycle list twice when, in
 * a complex key's value, a tab comes before a block indicator ("? f:<TAB>-"): fy_fetch_value's
 * error path recycles it again (fixed upstream in 0bb4406). fy_parser_destroy then walks the
 * broken list: a segfault, or a corrupt heap. Such a parser stops at that error and is never
 * freed: it is kept here, reachable, a few KiB per refused document of that shape. */
typedef struct yt_kept {
    struct yt_kept *next;
    struct fy_parser *fyp;
} yt_kept;

static yt_kept *_Atomic yt_kept_parsers;

static bool recycled_twice(struct fy_diag *diag)
{
    void *it = NULL;
    struct fy_diag_error *e;
    while ((e = fy_diag_errors_iterate(diag, &it)) != NULL)
        if (e->msg != NULL && strstr(e->msg, "cannot use tab for indentation") != NULL)
            return true;
    return false;
}

/* Destroys fyp unless it may hold a key recycled twice; then keeps it (or, out of memory even
 * for that, leaves it). */
static void parser_destroy(struct fy_parser *fyp, struct fy_diag *diag)
{
    if (fyp == NULL || !recycled_twice(diag)) {
        fy_parser_destroy(fyp);
        return;
    }
    yt_kept *k = malloc(sizeof *k);
    if (k == NULL)
        return;
    k->fyp = fyp;
    k->next = atomic_load(&yt_kept_parsers);
    while (!atomic_compare_exchange_weak(&yt_kept_parsers, &k->next, k))
        ;
}

/* ---- parsing --------------------------------------------------------------------------------- */

/* A diagnostics sink that collects errors and prints nothing. */
static void diag_sink(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

static struct fy_diag *quiet_diag(void)
{
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = diag_sink;
    dc.user = NULL;
    dc.level = FYET_ERROR;
    dc.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (diag != NULL)
        fy_diag_set_collect_errors(diag, true);
    return diag;
}

size_t nes_ytree_check_text(const char *data, size_t len, char *msg, size_t cap, int *line)
{
    size_t ok = nes_utf8_valid_prefix((const uint8_t *)data, len);
    const char *nul = memchr(data, '\0', ok);
    ok = nul != NULL ? (size_t)(nul - data) : ok;
    if (ok < len) {
        *line = 1;
        for (size_t i = 0; i < ok; i++)
            *line += data[i] == '\n';
        snprintf(msg, cap, "not UTF-8 text (%s at byte %zu)", data[ok] ? "invalid byte" : "NUL",
                 ok);
    }
    return ok;
}

nes_yt_status nes_ytree_parse(const char *data, size_t len, const nes_yt_opts *opts,
                              nes_ytree **out, char *msg, size_t cap, int *line)
{
    *out = NULL;
    if (cap > 0)
        msg[0] = '\0';
    *line = 0;
    if (nes_ytree_check_text(data, len, msg, cap, line) < len)
        return NES_YT_SYNTAX;
    yt_builder b = {.data = data, .len = len, .split = opts->split, .max_nodes = opts->max_nodes};
    b.max_depth = opts->max_depth ? opts->max_depth : 1;
    b.t = calloc(1, sizeof *b.t);
    b.frames = calloc(b.max_depth, sizeof *b.frames);
    struct fy_diag *diag = quiet_diag();
    struct fy_parse_cfg pc = {
        .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DISABLE_DEPTH_LIMIT |
                 (opts->json ? FYPCF_JSON_FORCE : FYPCF_JSON_NONE),
        .diag = diag,
    };
    /* texts, counts and lines are 32-bit: larger inputs are refused as if memory ran out */
    struct fy_parser *fyp =
        diag && b.t && b.frames && len <= UINT32_MAX ? fy_parser_create(&pc) : NULL;
    nes_yt_status st = NES_YT_NOMEM;
    if (fyp != NULL && fy_parser_set_string(fyp, data, len) == 0) {
        st = NES_YT_EMPTY;
        bool in_doc = false;
        struct fy_event *ev;
        while ((ev = fy_parser_parse(fyp)) != NULL) {
            enum fy_event_type type = ev->type;
            int rc = 0;
            if (type == FYET_DOCUMENT_START)
                in_doc = true;
            else if (in_doc)
                rc = on_event(&b, ev);
            if (rc > 0)
                *line = yt_line(&b, fy_event_start_mark(ev));
            if (rc == 1) {
                st = NES_YT_DEEP;
                snprintf(msg, cap, "nested deeper than %zu levels", b.max_depth);
            } else if (rc == 2) {
                st = NES_YT_SYNTAX;
                size_t alen = 0;
                const char *a = fy_token_get_text(ev->alias.anchor, &alen);
                snprintf(msg, cap, "alias *%.*s names no anchor before it",
                         alen > 64 ? 64 : (int)alen, a ? a : "");
            }
            if (rc < 0 && b.large) {
                st = NES_YT_LARGE;
                *line = yt_line(&b, fy_event_start_mark(ev));
                snprintf(msg, cap, "more than %zu nodes", b.max_nodes);
            } else if (rc < 0) {
                st = NES_YT_NOMEM;
            }
            fy_parser_event_free(fyp, ev);
            if (rc != 0)
                break;
            if (type == FYET_DOCUMENT_END || type == FYET_STREAM_END) {
                st = in_doc && b.t->root != NULL ? NES_YT_OK : NES_YT_EMPTY;
                break;
            }
        }
        if (ev == NULL && (in_doc || fy_parser_get_stream_error(fyp))) {
            st = NES_YT_SYNTAX;
            void *it = NULL;
            struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);
            if (e != NULL && e->msg != NULL) {
                snprintf(msg, cap, "%s", e->msg);
                *line = opts->split && e->line > 1 ? e->line - 1 : e->line;
            } else {
                snprintf(msg, cap, "%s", "unexpected end of input");
            }
        }
    }
    parser_destroy(fyp, diag);
    fy_diag_destroy(diag);
    for (size_t i = 0; b.frames != NULL && i < b.max_depth; i++)
        free(b.frames[i].ent);
    free(b.frames);
    free(b.anchors);
    if (st == NES_YT_OK)
        *out = b.t;
    else
        nes_ytree_free(b.t);
    return st;
}

/* ---- reading --------------------------------------------------------------------------------- */

nes_yn *nes_ytree_root(const nes_ytree *t)
{
    return t ? t->root : NULL;
}

size_t nes_ytree_nodes(const nes_ytree *t)
{
    return t ? t->nodes : 0;
}

bool nes_yn_is_map(const nes_yn *n)
{
    return n != NULL && n->kind == YK_MAP;
}

bool nes_yn_is_seq(const nes_yn *n)
{
    return n != NULL && n->kind == YK_SEQ;
}

bool nes_yn_is_scalar(const nes_yn *n)
{
    return n != NULL && n->kind == YK_SCALAR;
}

bool nes_yn_is_alias(const nes_yn *n)
{
    return n != NULL && n->kind == YK_ALIAS;
}

nes_yn *nes_yn_resolve(nes_yn *n)
{
    return n != NULL && n->kind == YK_ALIAS ? n->u.target : n;
}

nes_yn *nes_yn_parent(const nes_yn *n)
{
    return n ? n->parent : NULL;
}

int nes_yn_count(const nes_yn *n)
{
    return n != NULL && (n->kind == YK_MAP || n->kind == YK_SEQ) ? (int)n->n : 0;
}

nes_yn_pair *nes_yn_map_iterate(nes_yn *map, void **it)
{
    if (map == NULL || map->kind != YK_MAP || map->n == 0)
        return NULL;
    nes_yn_pair *p = *it == NULL ? map->u.pairs : (nes_yn_pair *)*it + 1;
    if (p == map->u.pairs + map->n)
        return NULL;
    *it = p;
    return p;
}

nes_yn *nes_yn_seq_iterate(nes_yn *seq, void **it)
{
    if (seq == NULL || seq->kind != YK_SEQ || seq->n == 0)
        return NULL;
    nes_yn **p = *it == NULL ? seq->u.items : (nes_yn **)*it + 1;
    if (p == seq->u.items + seq->n)
        return NULL;
    *it = p;
    return *p;
}

nes_yn *nes_yn_pair_key(const nes_yn_pair *p)
{
    return p ? p->key : NULL;
}

nes_yn *nes_yn_pair_value(const nes_yn_pair *p)
{
    return p ? p->value : NULL;
}

nes_yn *nes_yn_map_get(nes_yn *map, const char *key, size_t len)
{
    if (map == NULL || map->kind != YK_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->n; i++) {
        const nes_yn *k = map->u.pairs[i].key;
        if (k->kind == YK_SCALAR && k->u.text != NULL && k->n == len &&
            memcmp(k->u.text, key, len) == 0)
            return map->u.pairs[i].value;
    }
    return NULL;
}

nes_yn *nes_yn_seq_at(nes_yn *seq, int i)
{
    if (seq == NULL || seq->kind != YK_SEQ || i < 0 || (uint32_t)i >= seq->n)
        return NULL;
    return seq->u.items[i];
}

const char *nes_yn_scalar(const nes_yn *n, size_t *len)
{
    if (n == NULL || n->kind != YK_SCALAR || n->u.text == NULL) {
        *len = 0;
        return NULL;
    }
    *len = n->n;
    return n->u.text;
}

bool nes_yn_is_plain(const nes_yn *n)
{
    return n != NULL && n->kind == YK_SCALAR && (n->flags & YF_PLAIN);
}

int nes_yn_line(const nes_yn *n)
{
    return n != NULL && n->kind == YK_SCALAR ? (int)n->line : 0;
}

bool nes_yn_anchored(const nes_yn *n)
{
    return n != NULL && (n->flags & YF_ANCHORED);
}
