/* pii.c - the PII automaton: building, lookup and path enumeration. */
#include "core/pii.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define PII_MAX_PATHS NES_PII_MAX_PATHS
#define PII_MAX_PATH_LEN NES_PII_MAX_PATH_LEN

struct nes_pii_graph {
    nes_pii_node **nodes;
    size_t n, cap;
};

nes_pii_graph *nes_pii_graph_new(void)
{
    return calloc(1, sizeof(nes_pii_graph));
}

static void node_free(nes_pii_node *n)
{
    for (size_t i = 0; i < n->nprops; i++)
        free(n->props[i].key);
    free(n->props);
    free(n->context);
    free(n->name);
    free(n);
}

void nes_pii_graph_free(nes_pii_graph *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++)
        node_free(g->nodes[i]);
    free(g->nodes);
    free(g);
}

nes_pii_node *nes_pii_node_new(nes_pii_graph *g, const char *name)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        nes_pii_node **p = realloc(g->nodes, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        g->nodes = p;
        g->cap = cap;
    }
    nes_pii_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    if (name != NULL && (n->name = nes_dup_bytes(name, strlen(name))) == NULL) {
        free(n);
        return NULL;
    }
    g->nodes[g->n++] = n;
    return n;
}

static int edge_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

int nes_pii_node_set_prop(nes_pii_graph *g, nes_pii_node *parent, const char *key, size_t key_len,
                          nes_pii_node *child)
{
    (void)g;
    /* Keys that arrive in edge order (as the compiler adds them) cannot exist yet: no scan, so
     * a node with many properties is built in linear time. */
    size_t np = parent->nprops;
    bool after_last = np == 0 || edge_cmp(key, key_len, parent->props[np - 1].key,
                                          parent->props[np - 1].key_len) > 0;
    for (size_t i = 0; !after_last && i < np; i++) {
        nes_pii_edge *e = &parent->props[i];
        if (e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
            e->node = child;
            return 0;
        }
    }
    /* Grow by powers of two: nprops is the count, capacity the next power of two. */
    size_t n = parent->nprops;
    if ((n & (n - 1)) == 0) {
        size_t cap = n ? n * 2 : 4;
        nes_pii_edge *p = realloc(parent->props, cap * sizeof *p);
        if (p == NULL)
            return -1;
        parent->props = p;
    }
    char *k = nes_dup_bytes(key, key_len);
    if (k == NULL)
        return -1;
    parent->props[n] = (nes_pii_edge){.key = k, .key_len = key_len, .node = child};
    parent->nprops = n + 1;
    return 0;
}

int nes_pii_node_mark(nes_pii_graph *g, nes_pii_node *n, nes_value_type type, const char *context,
                      size_t context_len)
{
    (void)g;
    uint8_t *ctx = NULL;
    if (context != NULL && context_len > 0) {
        ctx = (uint8_t *)nes_dup_bytes(context, context_len);
        if (ctx == NULL)
            return -1;
    }
    free(n->context);
    n->pii = true;
    n->type = type;
    n->context = ctx;
    n->context_len = ctx ? context_len : 0;
    return 0;
}

static int edge_qsort_cmp(const void *x, const void *y)
{
    const nes_pii_edge *a = x, *b = y;
    return edge_cmp(a->key, a->key_len, b->key, b->key_len);
}

static bool interesting(const nes_pii_node *n)
{
    return n != NULL && (n->pii || n->has_pii_below);
}

int nes_pii_graph_finish(nes_pii_graph *g)
{
    for (size_t i = 0; i < g->n; i++) {
        nes_pii_node *n = g->nodes[i];
        if (n->nprops > 1)
            qsort(n->props, n->nprops, sizeof *n->props, edge_qsort_cmp);
        n->has_pii_below = false;
    }
    /* Least fixpoint: a node has PII below when a child is PII or has PII below. Cycles settle
     * because the flag only ever turns on. */
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t i = 0; i < g->n; i++) {
            nes_pii_node *n = g->nodes[i];
            if (n->has_pii_below || n->pii)
                continue;
            bool below = interesting(n->wildcard) || interesting(n->items);
            for (size_t j = 0; !below && j < n->nprops; j++)
                below = interesting(n->props[j].node);
            if (below) {
                n->has_pii_below = true;
                changed = true;
            }
        }
    }
    return 0;
}

const nes_pii_node *nes_pii_child(const nes_pii_node *n, const char *key, size_t key_len)
{
    if (n == NULL)
        return NULL;
    size_t lo = 0, hi = n->nprops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const nes_pii_edge *e = &n->props[mid];
        int c = edge_cmp(key, key_len, e->key, e->key_len);
        if (c == 0)
            return e->node;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return n->wildcard;
}

/* ---- path enumeration ---------------------------------------------------------------------- */

typedef struct path_walk {
    char path[PII_MAX_PATH_LEN + 16];
    size_t len;
    const nes_pii_node **onpath; /* nodes on the current path, for re-entry detection */
    size_t depth, depth_cap;
    char **out;
    size_t nout, out_cap;
} path_walk;

static int emit(path_walk *w, const char *suffix)
{
    if (w->nout == PII_MAX_PATHS)
        return NES_PII_PATHS_TOO_MANY;
    if (w->nout == w->out_cap) {
        size_t cap = w->out_cap ? w->out_cap * 2 : 32;
        char **p = realloc(w->out, cap * sizeof *p);
        if (p == NULL)
            return -1;
        w->out = p;
        w->out_cap = cap;
    }
    size_t slen = strlen(suffix);
    const char *base = w->len ? w->path : "$";
    size_t blen = w->len ? w->len : 1;
    char *s = malloc(blen + slen + 1);
    if (s == NULL)
        return -1;
    memcpy(s, base, blen);
    memcpy(s + blen, suffix, slen + 1);
    w->out[w->nout++] = s;
    return 0;
}

static bool on_path(const path_walk *w, const nes_pii_node *n)
{
    for (size_t i = 0; i < w->depth; i++)
        if (w->onpath[i] == n)
            return true;
    return false;
}

static int walk(path_walk *w, const nes_pii_node *n);

/* Appends one step ("key", "*" or "[]") to the path, visits `child`, and restores the path. */
static int step(path_walk *w, const char *seg, size_t seg_len, bool brackets,
                const nes_pii_node *child)
{
    if (!interesting(child))
        return 0;
    size_t saved = w->len;
    size_t need = seg_len + (brackets ? 0 : 1);
    if (w->len + need > PII_MAX_PATH_LEN)
        return NES_PII_PATHS_TOO_LONG;
    if (!brackets && w->len > 0)
        w->path[w->len++] = '.';
    memcpy(w->path + w->len, seg, seg_len);
    w->len += seg_len;
    w->path[w->len] = '\0';
    int rc;
    if (child->pii)
        rc = emit(w, "");
    else if (on_path(w, child))
        rc = emit(w, " (recursive)");
    else
        rc = walk(w, child);
    w->len = saved;
    w->path[w->len] = '\0';
    return rc;
}

static int walk(path_walk *w, const nes_pii_node *n)
{
    if (w->depth == w->depth_cap) {
        size_t cap = w->depth_cap ? w->depth_cap * 2 : 32;
        const nes_pii_node **p = realloc(w->onpath, cap * sizeof *p);
        if (p == NULL)
            return -1;
        w->onpath = p;
        w->depth_cap = cap;
    }
    w->onpath[w->depth++] = n;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n->nprops; i++)
        rc = step(w, n->props[i].key, n->props[i].key_len, false, n->props[i].node);
    if (rc == 0)
        rc = step(w, "*", 1, false, n->wildcard);
    if (rc == 0)
        rc = step(w, "[]", 2, true, n->items);
    w->depth--;
    return rc;
}

static int str_qsort_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int nes_pii_paths(const nes_pii_node *root, nes_pii_path_fn fn, void *ud)
{
    if (root == NULL)
        return 0;
    path_walk w = {.len = 0};
    int rc = root->pii ? emit(&w, "") : walk(&w, root);
    if (rc == 0 && w.nout > 1)
        qsort(w.out, w.nout, sizeof *w.out, str_qsort_cmp);
    for (size_t i = 0; rc == 0 && i < w.nout; i++)
        if (i == 0 || strcmp(w.out[i], w.out[i - 1]) != 0)
            rc = fn(ud, w.out[i]);
    for (size_t i = 0; i < w.nout; i++)
        free(w.out[i]);
    free(w.out);
    free(w.onpath);
    return rc;
}
