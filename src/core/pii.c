/* pii.c - the PII automaton: building, lookup, path enumeration and the open-place listing. */
#include "core/pii.h"

#include <regex.h>
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
    free(n->slots);
    for (size_t i = 0; i < n->npatterns; i++) {
        if (n->patterns[i].re != NULL)
            regfree(n->patterns[i].re);
        free(n->patterns[i].re);
    }
    free(n->patterns);
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
    uint64_t head, tail;
    nes_pii_key_words(key, key_len, &head, &tail);
    parent->props[n] =
        (nes_pii_edge){.key = k, .key_len = key_len, .node = child, .head = head, .tail = tail};
    parent->nprops = n + 1;
    free(parent->slots); /* stale until the next nes_pii_graph_finish */
    parent->slots = NULL;
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
    n->types = type == NES_VT_STRING ? NES_JT_STRING
               : type == NES_VT_JSON ? (uint8_t)(NES_JT_ALL & ~NES_JT_STRING)
                                     : NES_JT_ALL;
    n->context = ctx;
    n->context_len = ctx ? context_len : 0;
    return 0;
}

/* ---- name patterns ------------------------------------------------------------------------- */

/** Longest pattern translated (longer ones match every name). */
#define PII_MAX_PATTERN 1024

/** Largest bound of a `{m,n}` quantifier translated (glibc expands bounded repeats when it
 * compiles: `(a{1,1000}){1,1000}` took 41 s and 8 GB). */
#define PII_MAX_REPEAT 100

/* The length of a well-formed `{m}`, `{m,}` or `{m,n}` at p[0..len) and its largest bound in
 * *bound, or 0. */
static size_t brace_quantifier(const char *p, size_t len, unsigned long *bound)
{
    size_t i = 1;
    unsigned long m = 0, n = 0;
    bool digits = false, comma = false;
    for (; i < len && p[i] != '}'; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            unsigned long *v = comma ? &n : &m;
            *v = *v > 100000 ? *v : *v * 10 + (unsigned long)(p[i] - '0');
            digits = digits || !comma;
        } else if (p[i] == ',' && !comma) {
            comma = true;
        } else {
            return 0;
        }
    }
    if (i == len || !digits)
        return 0;
    *bound = m > n ? m : n;
    return i + 1;
}

/* Translates an ECMA-262 pattern into POSIX ERE text in `out` (NUL-terminated). False when it
 * uses something ERE has no equivalent for, or something glibc compiles in time or memory out of
 * proportion to the pattern (stacked quantifiers such as `a++++`: exponential; bounded repeats
 * over PII_MAX_REPEAT or nested in each other): then the pattern matches every name. */
static bool translate(const char *p, size_t len, char *out, size_t cap)
{
    bool group_braced[PII_MAX_PATTERN + 1] = {false}; /* per open group: holds a {m,n} */
    size_t depth = 0;
    bool last_quant = false, closed_braced = false; /* previous token: quantifier / braced group */
    static const struct {
        char c;
        const char *ere;
    } classes[] = {{'d', "[0-9]"},         {'D', "[^0-9]"},      {'w', "[A-Za-z0-9_]"},
                   {'W', "[^A-Za-z0-9_]"}, {'s', "[[:space:]]"}, {'S', "[^[:space:]]"}};
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        const char *put = NULL;
        char one[3] = {c, 0, 0};
        if (c == '\0')
            return false;
        if (c == '(' && i + 1 < len && p[i + 1] == '?')
            return false; /* groups with options, lookaround */
        bool quant = c == '*' || c == '+' || c == '?';
        unsigned long bound = 0;
        size_t blen = c == '{' ? brace_quantifier(p + i, len - i, &bound) : 0;
        if ((quant || blen) && last_quant)
            return false;
        if (blen && (bound > PII_MAX_REPEAT || closed_braced))
            return false;
        bool closing = c == ')' && depth > 0;
        closed_braced = closing && group_braced[depth];
        last_quant = quant || blen;
        if (blen) {
            group_braced[depth] = true;
            if (o + blen + 1 > cap)
                return false;
            memcpy(out + o, p + i, blen);
            o += blen;
            i += blen - 1;
            continue;
        }
        if (c == '(' && depth < PII_MAX_PATTERN)
            group_braced[++depth] = false;
        if (closing) {
            depth--;
            group_braced[depth] = group_braced[depth] || closed_braced;
        }
        if (c == '\\') {
            if (++i == len)
                return false;
            c = p[i];
            for (size_t k = 0; k < sizeof classes / sizeof classes[0] && put == NULL; k++)
                if (classes[k].c == c)
                    put = classes[k].ere;
            if (put == NULL) {
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    (unsigned char)c >= 0x80)
                    return false; /* \b, \u0041, \1 ...: no ERE equivalent */
                one[0] = '\\';
                one[1] = c;
            }
        } else if (c == '[') {
            size_t j = i + 1;
            if (j < len && p[j] == '^')
                j++;
            if (j < len && p[j] == ']')
                j++;
            while (j < len && p[j] != ']') {
                if (p[j] == '\\' || p[j] == '\0' || (p[j] == '[' && j + 1 < len && p[j + 1] == ':'))
                    return false;
                j++;
            }
            if (j == len)
                return false;
            size_t n = j + 1 - i;
            if (o + n + 1 > cap)
                return false;
            memcpy(out + o, p + i, n);
            o += n;
            i = j;
            continue;
        }
        if (put == NULL)
            put = one;
        size_t n = strlen(put);
        if (o + n + 1 > cap)
            return false;
        memcpy(out + o, put, n);
        o += n;
    }
    out[o] = '\0';
    return true;
}

/* A compiled pattern, or NULL when it matches every name (*oom set on allocation failure). */
static regex_t *compile_pattern(const char *pattern, size_t len, bool *oom)
{
    *oom = false;
    char ere[4 * PII_MAX_PATTERN + 1];
    if (len > PII_MAX_PATTERN || !translate(pattern, len, ere, sizeof ere))
        return NULL;
    regex_t *re = malloc(sizeof *re);
    if (re == NULL) {
        *oom = true;
        return NULL;
    }
    if (regcomp(re, ere, REG_EXTENDED | REG_NOSUB) != 0) {
        free(re);
        return NULL;
    }
    return re;
}

/* regexec wants a NUL-terminated string (sanitizers read it so even with REG_STARTEND): the key
 * is copied, and REG_STARTEND keeps a NUL byte inside it from ending the match early. */
static bool pattern_hit(const regex_t *re, const char *key, size_t key_len)
{
    if (re == NULL)
        return true;
    char small[256];
    char *copy = key_len < sizeof small ? small : malloc(key_len + 1);
    if (copy == NULL)
        return true; /* out of memory: the safe side, as for an untranslatable pattern */
    memcpy(copy, key, key_len);
    copy[key_len] = '\0';
    regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)key_len}};
    bool hit = regexec(re, copy, 1, m, REG_STARTEND) == 0;
    if (copy != small)
        free(copy);
    return hit;
}

int nes_pii_node_add_pattern(nes_pii_graph *g, nes_pii_node *n, const char *pattern, size_t len,
                             nes_pii_node *child)
{
    (void)g;
    bool oom;
    regex_t *re = compile_pattern(pattern, len, &oom);
    if (oom)
        return -1;
    nes_pii_pattern *p = realloc(n->patterns, (n->npatterns + 1) * sizeof *p);
    if (p == NULL) {
        if (re != NULL)
            regfree(re);
        free(re);
        return -1;
    }
    n->patterns = p;
    n->patterns[n->npatterns++] = (nes_pii_pattern){.re = re, .node = child};
    return 0;
}

bool nes_pii_pattern_matches(const char *pattern, size_t len, const char *key, size_t key_len)
{
    bool oom;
    regex_t *re = compile_pattern(pattern, len, &oom);
    bool m = pattern_hit(re, key, key_len);
    if (re != NULL)
        regfree(re);
    free(re);
    return m;
}

/* ---- finishing and lookup ------------------------------------------------------------------ */

static int edge_qsort_cmp(const void *x, const void *y)
{
    const nes_pii_edge *a = x, *b = y;
    return edge_cmp(a->key, a->key_len, b->key, b->key_len);
}

static bool interesting(const nes_pii_node *n)
{
    return n != NULL && (n->pii || n->has_pii_below);
}

/* ---- the property index ------------------------------------------------------------------- */

/** Nodes with fewer properties are searched by bisection. */
#define PII_HASH_MIN 1
/** Multipliers tried when building an index (the first one that places every key in its first
 * slot wins; else the one with the fewest displaced keys). */
#define PII_HASH_SEEDS 24

static inline uint64_t edge_mix(const nes_pii_edge *e)
{
    return nes_pii_key_mix(e->head, e->tail, e->key_len);
}

static inline uint32_t slot_of(uint64_t mix, uint64_t seed, uint32_t shift)
{
    return (uint32_t)((mix * seed) >> shift);
}

/* Builds n->slots (n->props sorted and free of duplicates). 0, or -1 on allocation failure. */
static int build_index(nes_pii_node *n)
{
    free(n->slots);
    n->slots = NULL;
    if (n->nprops < PII_HASH_MIN || n->nprops > UINT32_MAX / 4)
        return 0;
    uint32_t bits = 1;
    while (((size_t)1 << bits) < 2 * n->nprops)
        bits++;
    size_t cap = (size_t)1 << bits;
    uint32_t shift = 64 - bits;
    uint32_t *t = calloc(cap, sizeof *t);
    uint64_t *mix = malloc(n->nprops * sizeof *mix);
    if (t == NULL || mix == NULL) {
        free(t);
        free(mix);
        return -1;
    }
    for (size_t i = 0; i < n->nprops; i++)
        mix[i] = edge_mix(&n->props[i]);
    uint64_t best_seed = 0, seed = 0x9E3779B97F4A7C15ULL;
    size_t best = (size_t)-1;
    for (int s = 0; s < PII_HASH_SEEDS && best > 0;
         s++, seed = seed * 6364136223846793005ULL + 1442695040888963407ULL) {
        seed |= 1u;
        memset(t, 0, cap * sizeof *t);
        size_t displaced = 0;
        for (size_t i = 0; i < n->nprops; i++) {
            uint32_t h = slot_of(mix[i], seed, shift);
            if (t[h] != 0)
                displaced++;
            t[h] = 1;
        }
        if (displaced < best) {
            best = displaced;
            best_seed = seed;
        }
    }
    memset(t, 0, cap * sizeof *t);
    for (size_t i = 0; i < n->nprops; i++) {
        uint32_t h = slot_of(mix[i], best_seed, shift);
        while (t[h] != 0)
            h = (h + 1) & (uint32_t)(cap - 1);
        t[h] = (uint32_t)i + 1;
    }
    free(mix);
    n->slots = t;
    n->slot_shift = shift;
    n->slot_mask = (uint32_t)(cap - 1);
    n->slot_seed = best_seed;
    return 0;
}

int nes_pii_graph_finish(nes_pii_graph *g)
{
    for (size_t i = 0; i < g->n; i++) {
        nes_pii_node *n = g->nodes[i];
        if (n->nprops > 1)
            qsort(n->props, n->nprops, sizeof *n->props, edge_qsort_cmp);
        if (build_index(n) != 0)
            return -1;
        n->has_pii_below = false;
    }
    /* Least fixpoints: a node has PII below when a child is PII or has PII below; a string whose
     * JSON content can hold PII becomes PII itself (which may make more nodes have PII below).
     * Cycles settle because the flags only ever turn on. */
    bool marked = true;
    while (marked) {
        bool changed = true;
        while (changed) {
            changed = false;
            for (size_t i = 0; i < g->n; i++) {
                nes_pii_node *n = g->nodes[i];
                if (n->has_pii_below || n->pii)
                    continue;
                bool below = interesting(n->wildcard) || interesting(n->items) ||
                             interesting(n->pattern_any);
                for (size_t j = 0; !below && j < n->nprops; j++)
                    below = interesting(n->props[j].node);
                for (size_t j = 0; !below && j < n->npatterns; j++)
                    below = interesting(n->patterns[j].node);
                if (below) {
                    n->has_pii_below = true;
                    changed = true;
                }
            }
        }
        marked = false;
        for (size_t i = 0; i < g->n; i++) {
            nes_pii_node *n = g->nodes[i];
            if (!n->pii && interesting(n->content)) {
                n->pii = true;
                n->type = NES_VT_STRING;
                n->types = NES_JT_STRING;
                marked = true;
            }
        }
    }
    /* walk: the transform has to look inside (PII, or members to check, here or below) */
    for (size_t i = 0; i < g->n; i++)
        g->nodes[i]->walk = g->nodes[i]->pii || g->nodes[i]->members != NES_MEMBERS_ANY;
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t i = 0; i < g->n; i++) {
            nes_pii_node *n = g->nodes[i];
            if (n->walk)
                continue;
            bool w = (n->wildcard && n->wildcard->walk) || (n->items && n->items->walk) ||
                     (n->pattern_any && n->pattern_any->walk);
            for (size_t j = 0; !w && j < n->nprops; j++)
                w = n->props[j].node && n->props[j].node->walk;
            for (size_t j = 0; !w && j < n->npatterns; j++)
                w = n->patterns[j].node && n->patterns[j].node->walk;
            if (w) {
                n->walk = true;
                changed = true;
            }
        }
    }
    return 0;
}

nes_member_kind nes_pii_lookup(const nes_pii_node *n, const char *key, size_t key_len,
                               const nes_pii_node **child)
{
    if (n->slots != NULL) {
        uint64_t head, tail;
        nes_pii_key_words(key, key_len, &head, &tail);
        const nes_pii_edge *e = nes_pii_find_prop(n, key, key_len, head, tail);
        if (e != NULL) {
            *child = e->node;
            return NES_MEMBER_DECLARED;
        }
        return nes_pii_lookup_unlisted(n, key, key_len, child);
    }
    size_t lo = 0, hi = n->nprops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const nes_pii_edge *e = &n->props[mid];
        int c = edge_cmp(key, key_len, e->key, e->key_len);
        if (c == 0) {
            *child = e->node;
            return NES_MEMBER_DECLARED;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return nes_pii_lookup_unlisted(n, key, key_len, child);
}

nes_member_kind nes_pii_lookup_unlisted(const nes_pii_node *n, const char *key, size_t key_len,
                                        const nes_pii_node **child)
{
    const nes_pii_node *match = NULL;
    size_t matches = 0;
    for (size_t i = 0; i < n->npatterns && matches < 2; i++) {
        if (pattern_hit(n->patterns[i].re, key, key_len)) {
            if (matches++ == 0)
                match = n->patterns[i].node;
        }
    }
    if (matches > 0) {
        *child = matches > 1 && n->pattern_any != NULL ? n->pattern_any : match;
        return NES_MEMBER_DECLARED;
    }
    *child = n->wildcard;
    if (n->wildcard != NULL || n->members == NES_MEMBERS_ANY)
        return NES_MEMBER_DECLARED;
    return n->members == NES_MEMBERS_CLOSED ? NES_MEMBER_UNKNOWN : NES_MEMBER_PASS;
}

const nes_pii_node *nes_pii_child(const nes_pii_node *n, const char *key, size_t key_len)
{
    if (n == NULL)
        return NULL;
    const nes_pii_node *c;
    (void)nes_pii_lookup(n, key, key_len, &c);
    return c;
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

static int walk(path_walk *w, const nes_pii_node *n);

/* A pattern edge's step: "*" (any key: the notation has no patterns). */
static int pattern_steps(path_walk *w, const nes_pii_node *n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n->npatterns; i++)
        rc = step(w, "*", 1, false, n->patterns[i].node);
    if (rc == 0)
        rc = step(w, "*", 1, false, n->pattern_any);
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
        rc = pattern_steps(w, n);
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

/* ---- open places --------------------------------------------------------------------------- */

typedef struct open_item {
    char *path;
    nes_open_kind kind;
} open_item;

typedef struct open_list {
    open_item *items;
    size_t n, cap;
} open_list;

/* "<base>.<seg>", "<base>[]" or, at the root, "<seg>" / "[]"; NULL on allocation failure or
 * when longer than PII_MAX_PATH_LEN. */
static char *join(const char *base, const char *seg, size_t seg_len, bool brackets)
{
    size_t bl = strlen(base);
    size_t need = bl + seg_len + 2;
    if (need > PII_MAX_PATH_LEN)
        return NULL;
    char *s = malloc(need);
    if (s == NULL)
        return NULL;
    memcpy(s, base, bl);
    size_t o = bl;
    if (!brackets && bl > 0)
        s[o++] = '.';
    memcpy(s + o, seg, seg_len);
    s[o + seg_len] = '\0';
    return s;
}

static int open_add(open_list *l, char *path, nes_open_kind kind)
{
    if (path == NULL)
        return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        open_item *p = realloc(l->items, cap * sizeof *p);
        if (p == NULL) {
            free(path);
            return -1;
        }
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = (open_item){path, kind};
    return 0;
}

static int open_cmp(const void *a, const void *b)
{
    return strcmp(((const open_item *)a)->path, ((const open_item *)b)->path);
}

typedef struct bfs_item {
    const nes_pii_node *node;
    char *path;
} bfs_item;

typedef struct bfs {
    bfs_item *q;
    size_t head, n, cap;
    const nes_pii_node **seen; /* open-addressing set of queued nodes */
    size_t nseen, seen_cap;
} bfs;

static size_t ptr_hash(const nes_pii_node *n, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)n * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 31)) & (cap - 1);
}

/* 1 when `n` was already in the set, 0 after adding it, -1 on allocation failure. */
static int seen_add(bfs *b, const nes_pii_node *n)
{
    if (2 * (b->nseen + 1) > b->seen_cap) {
        size_t cap = b->seen_cap ? 2 * b->seen_cap : 256;
        const nes_pii_node **t = calloc(cap, sizeof *t);
        if (t == NULL)
            return -1;
        for (size_t i = 0; i < b->seen_cap; i++) {
            if (b->seen[i] == NULL)
                continue;
            size_t h = ptr_hash(b->seen[i], cap);
            while (t[h] != NULL)
                h = (h + 1) & (cap - 1);
            t[h] = b->seen[i];
        }
        free(b->seen);
        b->seen = t;
        b->seen_cap = cap;
    }
    size_t h = ptr_hash(n, b->seen_cap);
    while (b->seen[h] != NULL) {
        if (b->seen[h] == n)
            return 1;
        h = (h + 1) & (b->seen_cap - 1);
    }
    b->seen[h] = n;
    b->nseen++;
    return 0;
}

/* Queues `child` at `path` (taken) unless already seen; frees path when not queued. */
static int bfs_push(bfs *b, const nes_pii_node *child, char *path)
{
    if (path == NULL)
        return -1;
    int seen = child->pii ? 1 : seen_add(b, child);
    if (seen != 0) {
        free(path);
        return seen < 0 ? -1 : 0;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        bfs_item *p = realloc(b->q, cap * sizeof *p);
        if (p == NULL) {
            free(path);
            return -1;
        }
        b->q = p;
        b->cap = cap;
    }
    b->q[b->n++] = (bfs_item){child, path};
    return 0;
}

/* One edge from the node at `path`: queue its child, or record an any-value place. */
static int open_edge(bfs *b, open_list *l, const char *path, const char *seg, size_t seg_len,
                     bool brackets, const nes_pii_node *child)
{
    char *p = join(path, seg, seg_len, brackets);
    if (child == NULL)
        return open_add(l, p, NES_OPEN_ANY_VALUE);
    return bfs_push(b, child, p);
}

/* Open places of one node. A node that declares no member is not an object schema (or a leaf for
 * what arrives where it does not belong): its passing members are its parent's story. */
static int open_node(bfs *b, open_list *l, const nes_pii_node *n, const char *path)
{
    int rc = 0;
    bool declares = n->nprops > 0 || n->npatterns > 0;
    if (n->members == NES_MEMBERS_ANY && n->wildcard == NULL)
        rc = open_add(l, join(path, "*", 1, false), NES_OPEN_ANY_MEMBER);
    else if (n->members == NES_MEMBERS_PASS && n->wildcard == NULL && declares)
        rc = open_add(l, join(path, "*", 1, false), NES_OPEN_PASS);
    for (size_t i = 0; rc == 0 && i < n->nprops; i++)
        rc = open_edge(b, l, path, n->props[i].key, n->props[i].key_len, false, n->props[i].node);
    for (size_t i = 0; rc == 0 && i < n->npatterns; i++)
        if (n->patterns[i].node != NULL)
            rc = bfs_push(b, n->patterns[i].node, join(path, "*", 1, false));
    if (rc == 0 && n->pattern_any != NULL)
        rc = bfs_push(b, n->pattern_any, join(path, "*", 1, false));
    if (rc == 0 && n->wildcard != NULL)
        rc = bfs_push(b, n->wildcard, join(path, "*", 1, false));
    if (rc == 0 && n->items != NULL)
        rc = bfs_push(b, n->items, join(path, "[]", 2, true));
    return rc;
}

int nes_pii_open(const nes_pii_node *root, nes_pii_open_fn fn, void *ud)
{
    open_list l = {0};
    bfs b = {0};
    int rc = 0;
    if (root == NULL)
        rc = open_add(&l, join("", "$", 1, false), NES_OPEN_ANY_VALUE);
    else
        rc = bfs_push(&b, root, join("", "", 0, false));
    while (rc == 0 && b.head < b.n) {
        bfs_item it = b.q[b.head++];
        rc = open_node(&b, &l, it.node, it.path);
    }
    if (rc == 0 && l.n > 1)
        qsort(l.items, l.n, sizeof *l.items, open_cmp);
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if (i == 0 || strcmp(l.items[i].path, l.items[i - 1].path) != 0)
            rc = fn(ud, l.items[i].path, l.items[i].kind);
    for (size_t i = 0; i < l.n; i++)
        free(l.items[i].path);
    free(l.items);
    for (size_t i = 0; i < b.n; i++)
        free(b.q[i].path);
    free(b.q);
    free(b.seen);
    return rc;
}
