/* schema_scan.c - what keeps spec loading linear in the spec's size (see schema_int.h):
 *
 * - The post-parse check of a document. libfyaml 0.7.12 checks duplicate keys by scanning the
 *   mapping for every key it adds (quadratic: a 20k-entry `components/schemas` alone cost
 *   seconds), so documents are parsed with FYPCF_ALLOW_DUPLICATE_KEYS and this walk refuses
 *   duplicates with one hash set per mapping. The same walk counts how many nodes the document
 *   stands for once every alias is expanded (an alias counts the whole subtree it names) and
 *   refuses documents whose aliases expand beyond NES_SPEC_MAX_ALIAS_NODES: a 1.4 KB file of
 *   merge keys (`<<: [*m7, *m7, ...]`) or "billion laughs" aliases stands for 10^8+ nodes and is
 *   refused before the compiler sees it. The walk needs no recursion: documents are at most
 *   NES_SPEC_MAX_NESTING deep (schema_doc.c lifts libfyaml's limit only below that bound), so a
 *   fixed stack suffices.
 * - The mapping index: `$ref` resolution looks keys up in large mappings (`#/components/schemas/X`
 *   for every reference); libfyaml looks keys up by a linear scan. Mappings with more than
 *   SC_INDEX_MIN entries are indexed in one hash table on first lookup.
 *
 * Hashes are keyed by the mapping's address (different per process with ASLR), which makes
 * crafted collisions across runs hard; the worst case stays bounded by the spec size cap. */
#include <stdlib.h>
#include <string.h>

#include "core/schema_int.h"

/** Mappings up to this many entries are searched by libfyaml directly. */
#define SC_INDEX_MIN 16
/** Walk stack: deeper than libfyaml's own limit, so it never fills on a document libfyaml built. */
#define SC_MAX_STACK (NES_SPEC_MAX_NESTING + 16)

static uint64_t hash_bytes(uint64_t seed, const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (seed * 0x9e3779b97f4a7c15ULL);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

static uint64_t hash_ptr(const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 31);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n && c <= SIZE_MAX / 2)
        c *= 2;
    return c;
}

/* ---- the mapping index ------------------------------------------------------------------- */

typedef struct ix_entry {
    nes_yn *map;     /* NULL: free slot */
    const char *key; /* NULL: the "this mapping is indexed" marker */
    size_t len;
    nes_yn *value; /* aliases resolved */
    uint64_t hash;
} ix_entry;

struct nes_sd_index {
    ix_entry *e;
    size_t cap, n;
};

void nes_sd_index_free(nes_sd_index *ix)
{
    if (ix == NULL)
        return;
    free(ix->e);
    free(ix);
}

static void ix_put(nes_sd_index *ix, const ix_entry *in)
{
    size_t mask = ix->cap - 1;
    size_t h = (size_t)in->hash & mask;
    while (ix->e[h].map != NULL)
        h = (h + 1) & mask;
    ix->e[h] = *in;
    ix->n++;
}

static int ix_reserve(nes_sd_index *ix, size_t more)
{
    if ((ix->n + more) * 2 <= ix->cap)
        return 0;
    size_t cap = pow2_at_least((ix->n + more) * 2);
    ix_entry *old = ix->e;
    size_t oldcap = ix->cap;
    ix->e = calloc(cap, sizeof *ix->e);
    if (ix->e == NULL) {
        ix->e = old;
        return -1;
    }
    ix->cap = cap;
    ix->n = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].map != NULL)
            ix_put(ix, &old[i]);
    free(old);
    return 0;
}

static uint64_t ix_hash(nes_yn *map, const char *key, size_t len)
{
    return key == NULL ? hash_ptr(map) : hash_bytes((uint64_t)(uintptr_t)map, key, len);
}

static const ix_entry *ix_find(const nes_sd_index *ix, nes_yn *map, const char *key, size_t len)
{
    if (ix == NULL || ix->cap == 0)
        return NULL;
    uint64_t hash = ix_hash(map, key, len);
    size_t mask = ix->cap - 1;
    for (size_t h = (size_t)hash & mask; ix->e[h].map != NULL; h = (h + 1) & mask) {
        const ix_entry *e = &ix->e[h];
        if (e->hash == hash && e->map == map &&
            (key == NULL ? e->key == NULL
                         : (e->key != NULL && e->len == len && memcmp(e->key, key, len) == 0)))
            return e;
    }
    return NULL;
}

/* True when `map` has more than SC_INDEX_MIN entries (stops counting there). */
static bool is_large(nes_yn *map)
{
    void *it = NULL;
    for (int i = 0; i <= SC_INDEX_MIN; i++)
        if (nes_yn_map_iterate(map, &it) == NULL)
            return false;
    return true;
}

/* Indexes every scalar key of `map` (the first of equal keys wins, as libfyaml's lookup). */
static int ix_add_map(nes_sd_index *ix, nes_yn *map)
{
    size_t count = (size_t)nes_yn_count(map);
    if (ix_reserve(ix, count + 1) != 0)
        return -1;
    ix_entry mark = {.map = map, .hash = ix_hash(map, NULL, 0)};
    ix_put(ix, &mark);
    void *it = NULL;
    nes_yn_pair *p;
    while ((p = nes_yn_map_iterate(map, &it)) != NULL) {
        const char *k;
        size_t len;
        if (!nes_sd_str(nes_yn_pair_key(p), &k, &len) || ix_find(ix, map, k, len) != NULL)
            continue;
        ix_entry e = {.map = map,
                      .key = k,
                      .len = len,
                      .value = nes_sd_deref(nes_yn_pair_value(p)),
                      .hash = ix_hash(map, k, len)};
        ix_put(ix, &e);
    }
    return 0;
}

nes_yn *nes_sd_lookup(nes_sd_docs *ds, nes_yn *map, const char *key, size_t len)
{
    if (map == NULL || !nes_yn_is_map(map))
        return NULL;
    if (ix_find(ds->index, map, NULL, 0) == NULL) {
        if (!is_large(map))
            return nes_sd_deref(nes_yn_map_get(map, key, len));
        if (ds->index == NULL)
            ds->index = calloc(1, sizeof *ds->index);
        if (ds->index == NULL || ix_add_map(ds->index, map) != 0) /* no memory: scan instead */
            return nes_sd_deref(nes_yn_map_get(map, key, len));
    }
    const ix_entry *e = ix_find(ds->index, map, key, len);
    return e ? e->value : NULL;
}

/* ---- the document check ------------------------------------------------------------------ */

typedef struct key_slot {
    const char *key;
    size_t len;
    uint64_t hash;
} key_slot;

typedef struct size_slot {
    nes_yn *node;
    uint64_t size;
} size_slot;

typedef struct frame {
    nes_yn *node;
    void *it;
    nes_yn *pending; /* a mapping pair's value, visited after its key */
    uint64_t size;
} frame;

typedef struct checker {
    const nes_sd_docs *ds;
    uint32_t doc;
    nes_err *err;
    key_slot *keys; /* scratch set for one mapping's keys */
    size_t kcap;
    size_slot *sizes; /* expanded size of anchored collections */
    size_t scap, sn;
} checker;

static nes_status check_oom(checker *c)
{
    return nes_err_set(c->err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
}

/* Refuses a mapping with two equal scalar keys (the text after unquoting, as libfyaml). */
static nes_status check_keys(checker *c, nes_yn *map)
{
    size_t count = (size_t)nes_yn_count(map);
    if (count < 2)
        return NES_OK;
    if (count > SIZE_MAX / 4 / sizeof *c->keys)
        return check_oom(c);
    size_t cap = pow2_at_least(2 * count);
    if (cap > c->kcap) {
        free(c->keys);
        c->keys = malloc(cap * sizeof *c->keys);
        c->kcap = c->keys ? cap : 0;
        if (c->keys == NULL)
            return check_oom(c);
    }
    if (c->keys == NULL)
        return check_oom(c);
    memset(c->keys, 0, cap * sizeof *c->keys);
    size_t mask = cap - 1;
    void *it = NULL;
    nes_yn_pair *p;
    while ((p = nes_yn_map_iterate(map, &it)) != NULL) {
        const char *k;
        size_t len;
        nes_yn *kn = nes_yn_pair_key(p);
        if (!nes_sd_str(kn, &k, &len))
            continue; /* complex and alias keys: not checked */
        uint64_t hash = hash_bytes((uint64_t)(uintptr_t)map, k, len);
        size_t h = (size_t)hash & mask;
        for (; c->keys[h].key != NULL; h = (h + 1) & mask) {
            const key_slot *s = &c->keys[h];
            if (s->hash == hash && s->len == len && memcmp(s->key, k, len) == 0)
                return nes_err_set(
                    c->err, NES_ERR_SPEC, (size_t)-1, "%s:%d: invalid YAML: duplicate key \"%.*s\"",
                    c->ds->docs[c->doc].shown, nes_sd_line(kn), len > 64 ? 64 : (int)len, k);
        }
        c->keys[h] = (key_slot){k, len, hash};
    }
    return NES_OK;
}

static uint64_t anchored_size(const checker *c, nes_yn *n)
{
    if (c->scap == 0)
        return 1;
    size_t mask = c->scap - 1;
    for (size_t h = (size_t)hash_ptr(n) & mask; c->sizes[h].node != NULL; h = (h + 1) & mask)
        if (c->sizes[h].node == n)
            return c->sizes[h].size;
    return 1; /* an alias to an ancestor (a cycle): the compiler refuses it; counts as one */
}

static int remember_size(checker *c, nes_yn *n, uint64_t size)
{
    if ((c->sn + 1) * 2 > c->scap) {
        size_t cap = pow2_at_least((c->sn + 1) * 4);
        size_slot *s = calloc(cap, sizeof *s);
        if (s == NULL)
            return -1;
        for (size_t i = 0; i < c->scap; i++) {
            if (c->sizes[i].node == NULL)
                continue;
            size_t h = (size_t)hash_ptr(c->sizes[i].node) & (cap - 1);
            while (s[h].node != NULL)
                h = (h + 1) & (cap - 1);
            s[h] = c->sizes[i];
        }
        free(c->sizes);
        c->sizes = s;
        c->scap = cap;
    }
    size_t h = (size_t)hash_ptr(n) & (c->scap - 1);
    while (c->sizes[h].node != NULL)
        h = (h + 1) & (c->scap - 1);
    c->sizes[h] = (size_slot){n, size};
    c->sn++;
    return 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static nes_status too_big(checker *c)
{
    return nes_err_set(c->err, NES_ERR_LIMIT, (size_t)-1,
                       "%s: its YAML aliases and merge keys expand to more than %u nodes "
                       "(refused: an alias bomb costs time and memory out of all proportion to "
                       "its size)",
                       c->ds->docs[c->doc].shown, NES_SPEC_MAX_ALIAS_NODES);
}

/* Pushes a collection (after checking its keys) or returns the size of a leaf in *leaf. */
static nes_status visit(checker *c, frame *stack, size_t *depth, nes_yn *n, uint64_t *leaf)
{
    *leaf = 0;
    if (n == NULL) {
        *leaf = 1;
        return NES_OK;
    }
    if (nes_yn_is_alias(n)) {
        nes_yn *t = nes_yn_resolve(n);
        *leaf = (t != NULL && !nes_yn_is_scalar(t)) ? anchored_size(c, t) : 1;
        return NES_OK;
    }
    if (nes_yn_is_scalar(n)) {
        *leaf = 1;
        return NES_OK;
    }
    if (*depth == SC_MAX_STACK)
        return nes_err_set(c->err, NES_ERR_LIMIT, (size_t)-1, "%s: nested too deeply",
                           c->ds->docs[c->doc].shown);
    if (nes_yn_is_map(n)) {
        nes_status st = check_keys(c, n);
        if (st != NES_OK)
            return st;
    }
    stack[(*depth)++] = (frame){.node = n, .size = 1};
    return NES_OK;
}

nes_status nes_sd_check(const nes_sd_docs *ds, uint32_t doc, nes_err *err)
{
    nes_yn *root = ds->docs[doc].root;
    if (root == NULL)
        return NES_OK;
    checker c = {.ds = ds, .doc = doc, .err = err};
    frame *stack = malloc(SC_MAX_STACK * sizeof *stack);
    if (stack == NULL)
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
    size_t depth = 0;
    uint64_t own = 0, leaf;
    nes_status st = visit(&c, stack, &depth, root, &leaf);
    uint64_t total = leaf;
    while (st == NES_OK && depth > 0) {
        frame *f = &stack[depth - 1];
        nes_yn *child = NULL;
        bool more;
        if (f->pending != NULL) {
            child = f->pending;
            f->pending = NULL;
            more = true;
        } else if (nes_yn_is_map(f->node)) {
            nes_yn_pair *p = nes_yn_map_iterate(f->node, &f->it);
            more = p != NULL;
            if (more) {
                child = nes_yn_pair_key(p);
                f->pending = nes_yn_pair_value(p);
                if (f->pending == NULL)
                    f->size = add_sat(f->size, 1); /* `key:` with no value */
            }
        } else {
            child = nes_yn_seq_iterate(f->node, &f->it);
            more = child != NULL;
        }
        if (more) {
            own++;
            st = visit(&c, stack, &depth, child, &leaf);
            if (st == NES_OK && leaf != 0)
                stack[depth - 1].size = add_sat(stack[depth - 1].size, leaf);
            /* stop at once when this collection alone stands for too much */
            if (st == NES_OK &&
                stack[depth - 1].size > (uint64_t)NES_SPEC_MAX_ALIAS_NODES + own + 1)
                st = too_big(&c);
            continue;
        }
        /* the collection is complete: remember its size if aliases can name it */
        uint64_t size = f->size;
        nes_yn *done = f->node;
        depth--;
        if (nes_yn_anchored(done) && remember_size(&c, done, size) != 0)
            st = check_oom(&c);
        if (depth > 0)
            stack[depth - 1].size = add_sat(stack[depth - 1].size, size);
        else
            total = size;
        if (st == NES_OK && size > (uint64_t)NES_SPEC_MAX_ALIAS_NODES + own + 1)
            st = too_big(&c);
    }
    if (st == NES_OK && total > (uint64_t)NES_SPEC_MAX_ALIAS_NODES + own + 1)
        st = too_big(&c);
    free(c.keys);
    free(c.sizes);
    free(stack);
    return st;
}
