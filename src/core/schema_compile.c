/* schema_compile.c - compiles sets of OpenAPI schemas into PII automaton nodes.
 *
 * A node stands for a SET of schema objects that may all describe the same JSON value. The set is
 * closed under `$ref`, `allOf`, `oneOf` and `anyOf` (for PII purposes merging and uniting are the
 * same: a property, wildcard or items schema from any member applies, and `x-pii` on any member
 * marks the value). Nodes are memoized by their closed set, so a recursive or shared schema
 * becomes one node and cycles cost nothing. Children are compiled from a worklist, never by
 * recursion, so neither deep nor recursive specs touch the C stack.
 *
 * The 3.1 conditionals `then`, `else` and `dependentSchemas` values join the set the same way, and
 * so do YAML merge keys (`<<: *base`), which libfyaml leaves unapplied.
 *
 * Children of a set: `properties` (one child per key, merged across members, `<<` merges inside
 * it applied), a wildcard child from `additionalProperties`, 3.1 `unevaluatedProperties` and
 * `patternProperties` schemas (every extra key; a pattern cannot be checked by the automaton, so
 * its values count for every key: encrypting too much is the safe side), and an items child from
 * `items` (a schema, or a list in old tuple form), `prefixItems`, `additionalItems`,
 * `unevaluatedItems` and `contains`. `additionalProperties: true` adds no wildcard: "anything,
 * nothing PII" and "no wildcard" are the same for the transform (nes_pii_child returns NULL). */
#include "core/schema_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/** Upper bound on schema references held by all node sets of one spec together. */
#define SC_MAX_WORK (1u << 21)
/** Longest x-pii-context label. */
#define SC_MAX_CONTEXT 255
/** Longest node name kept for diagnostics. */
#define SC_MAX_NAME 200

/* The keywords of one schema object that the compiler reads (aliases resolved). */
typedef struct skw {
    struct fy_node *ref_key, *ref, *all_of, *one_of, *any_of;
    struct fy_node *properties, *addl, *pattern, *items, *prefix_items;
    struct fy_node *type, *x_pii, *x_ctx;
    struct fy_node *merge, *then_, *else_, *dep_schemas;                 /* more members */
    struct fy_node *uneval_props, *uneval_items, *addl_items, *contains; /* more children */
} skw;

typedef struct sc_entry {
    uint64_t hash;
    size_t key_off; /* sorted node pointers in keys[] */
    size_t mem_off; /* the members in discovery order in mems[] */
    size_t n;
    nes_pii_node *node;
} sc_entry;

typedef struct stack_item {
    nes_sd_ref r;
    struct fy_node *from; /* the schema that led here (for error locations), or NULL */
    uint32_t from_doc;
    unsigned depth; /* $ref hops in a row */
} stack_item;

typedef struct prop_item {
    const char *key;
    size_t len;
    size_t seq;
    nes_sd_ref val;
} prop_item;

struct nes_sc {
    nes_sd_docs *ds;
    nes_pii_graph *g;
    /* memo: entries, and an open-addressing table of entry index + 1 */
    sc_entry *ents;
    size_t nents, cap_ents;
    uint32_t *table;
    size_t tcap;
    struct fy_node **keys;
    size_t nkeys, cap_keys;
    nes_sd_ref *mems;
    size_t nmems, cap_mems;
    size_t next; /* worklist: entries [next, nents) still to compile */
    /* visited set of the current closure (generation-stamped) */
    struct fy_node **vkeys;
    uint32_t *vgen;
    size_t vcap, vn;
    uint32_t gen;
    /* scratch */
    stack_item *stack;
    size_t nstack, cap_stack;
    nes_sd_ref *clo;
    size_t nclo, cap_clo;
    struct fy_node **sorted;
    size_t cap_sorted;
    prop_item *props;
    size_t nprops, cap_props;
    nes_sd_ref *group;
    size_t ngroup, cap_group;
    char name[SC_MAX_NAME + 1];
};

static bool grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

#define GROW(arr, cap, need) grow_array((void **)&(arr), &(cap), (need), sizeof *(arr))

static nes_status oom(nes_err *err)
{
    return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
}

static uint64_t mix(uint64_t h, uintptr_t v)
{
    h ^= (uint64_t)v;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

nes_sc *nes_sc_new(nes_sd_docs *ds, nes_pii_graph *g)
{
    nes_sc *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->ds = ds;
    c->g = g;
    return c;
}

void nes_sc_free(nes_sc *c)
{
    if (c == NULL)
        return;
    free(c->ents);
    free(c->table);
    free(c->keys);
    free(c->mems);
    free(c->vkeys);
    free(c->vgen);
    free(c->stack);
    free(c->clo);
    free(c->sorted);
    free(c->props);
    free(c->group);
    free(c);
}

size_t nes_sc_node_count(const nes_sc *c)
{
    return c->nents;
}

/* ---- schema keywords ----------------------------------------------------------------------- */

static void scan(struct fy_node *m, skw *k)
{
    static const struct {
        const char *name;
        size_t off;
    } words[] = {
        {"$ref", offsetof(skw, ref)},
        {"allOf", offsetof(skw, all_of)},
        {"oneOf", offsetof(skw, one_of)},
        {"anyOf", offsetof(skw, any_of)},
        {"properties", offsetof(skw, properties)},
        {"additionalProperties", offsetof(skw, addl)},
        {"patternProperties", offsetof(skw, pattern)},
        {"items", offsetof(skw, items)},
        {"prefixItems", offsetof(skw, prefix_items)},
        {"type", offsetof(skw, type)},
        {"x-pii", offsetof(skw, x_pii)},
        {"x-pii-context", offsetof(skw, x_ctx)},
        {"<<", offsetof(skw, merge)},
        {"then", offsetof(skw, then_)},
        {"else", offsetof(skw, else_)},
        {"dependentSchemas", offsetof(skw, dep_schemas)},
        {"unevaluatedProperties", offsetof(skw, uneval_props)},
        {"unevaluatedItems", offsetof(skw, uneval_items)},
        {"additionalItems", offsetof(skw, addl_items)},
        {"contains", offsetof(skw, contains)},
    };
    memset(k, 0, sizeof *k);
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(m, &it)) != NULL) {
        const char *s;
        size_t len;
        struct fy_node *key = fy_node_pair_key(p);
        if (!nes_sd_str(key, &s, &len) || len < 2 || len > 21)
            continue;
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
            if (strlen(words[i].name) == len && memcmp(words[i].name, s, len) == 0) {
                struct fy_node **slot = (struct fy_node **)((char *)k + words[i].off);
                *slot = nes_sd_deref(fy_node_pair_value(p));
                if (i == 0)
                    k->ref_key = key;
                break;
            }
        }
    }
}

/* ---- closure ------------------------------------------------------------------------------- */

/* 1 when `n` was already visited by the current closure, 0 after marking it, -1 on OOM. */
static int visit(nes_sc *c, struct fy_node *n)
{
    if (2 * (c->vn + 1) > c->vcap) {
        size_t cap = c->vcap ? 2 * c->vcap : 256;
        struct fy_node **keys = calloc(cap, sizeof *keys);
        uint32_t *gens = calloc(cap, sizeof *gens);
        if (keys == NULL || gens == NULL) {
            free(keys);
            free(gens);
            return -1;
        }
        for (size_t i = 0; i < c->vcap; i++) {
            if (c->vkeys[i] == NULL)
                continue;
            size_t h = (size_t)mix(0, (uintptr_t)c->vkeys[i]) & (cap - 1);
            while (keys[h] != NULL)
                h = (h + 1) & (cap - 1);
            keys[h] = c->vkeys[i];
            gens[h] = c->vgen[i];
        }
        free(c->vkeys);
        free(c->vgen);
        c->vkeys = keys;
        c->vgen = gens;
        c->vcap = cap;
    }
    size_t h = (size_t)mix(0, (uintptr_t)n) & (c->vcap - 1);
    while (c->vkeys[h] != NULL) {
        if (c->vkeys[h] == n) {
            if (c->vgen[h] == c->gen)
                return 1;
            c->vgen[h] = c->gen;
            return 0;
        }
        h = (h + 1) & (c->vcap - 1);
    }
    c->vkeys[h] = n;
    c->vgen[h] = c->gen;
    c->vn++;
    return 0;
}

static nes_status push(nes_sc *c, nes_sd_ref r, struct fy_node *from, uint32_t from_doc,
                       unsigned depth, nes_err *err)
{
    if (r.node == NULL)
        return nes_sd_fail(c->ds, from_doc, from, NULL, NES_ERR_SPEC, err,
                           "empty schema (expected a schema object)");
    if (!GROW(c->stack, c->cap_stack, c->nstack + 1))
        return oom(err);
    c->stack[c->nstack++] =
        (stack_item){.r = r, .from = from, .from_doc = from_doc, .depth = depth};
    return NES_OK;
}

/* Pushes the members of an allOf/oneOf/anyOf list in reverse (so they pop in order). */
static nes_status push_list(nes_sc *c, const nes_sd_ref *m, struct fy_node *list, const char *kw,
                            unsigned depth, nes_err *err)
{
    if (!fy_node_is_sequence(list))
        return nes_sd_fail(c->ds, m->doc, m->node, list, NES_ERR_SPEC, err, "%s must be a list",
                           kw);
    for (int i = fy_node_sequence_item_count(list); i-- > 0;) {
        struct fy_node *item = nes_sd_deref(fy_node_sequence_get_by_index(list, i));
        nes_status st = push(c, (nes_sd_ref){item, m->doc}, m->node, m->doc, depth, err);
        if (st != NES_OK)
            return st;
    }
    return NES_OK;
}

/* Pushes the members that 3.1 conditionals (`then`, `else`, `dependentSchemas` values: PII in any
 * branch is PII) and YAML merge keys (`<<: *base`, which libfyaml leaves unapplied; taking the
 * merged mapping as one more member unites rather than overrides, which errs on the safe side)
 * add to a set. */
static nes_status push_more(nes_sc *c, const nes_sd_ref *m, const skw *k, unsigned depth,
                            nes_err *err)
{
    nes_status st = NES_OK;
    if (k->then_ != NULL)
        st = push(c, (nes_sd_ref){k->then_, m->doc}, m->node, m->doc, depth, err);
    if (st == NES_OK && k->else_ != NULL)
        st = push(c, (nes_sd_ref){k->else_, m->doc}, m->node, m->doc, depth, err);
    if (st == NES_OK && k->merge != NULL)
        st = fy_node_is_sequence(k->merge)
                 ? push_list(c, m, k->merge, "<<", depth, err)
                 : push(c, (nes_sd_ref){k->merge, m->doc}, m->node, m->doc, depth, err);
    if (st == NES_OK && k->dep_schemas != NULL) {
        if (!fy_node_is_mapping(k->dep_schemas))
            return nes_sd_fail(c->ds, m->doc, m->node, k->dep_schemas, NES_ERR_SPEC, err,
                               "dependentSchemas must be a mapping");
        void *it = NULL;
        struct fy_node_pair *p;
        while (st == NES_OK && (p = fy_node_mapping_iterate(k->dep_schemas, &it)) != NULL)
            st = push(c, (nes_sd_ref){nes_sd_deref(fy_node_pair_value(p)), m->doc}, m->node, m->doc,
                      depth, err);
    }
    return st;
}

/* Closes `in` under $ref/allOf/oneOf/anyOf into c->clo (discovery order, members with keywords of
 * their own only); names the set after the first reference followed. */
static nes_status closure(nes_sc *c, const nes_sd_ref *in, size_t n, nes_err *err)
{
    c->nclo = 0;
    c->nstack = 0;
    c->name[0] = '\0';
    if (++c->gen == 0) { /* wrapped: forget every stamp */
        if (c->vgen != NULL)
            memset(c->vgen, 0, c->vcap * sizeof *c->vgen);
        c->gen = 1;
    }
    for (size_t i = n; i-- > 0;) {
        nes_status st = push(c, in[i], NULL, in[i].doc, 0, err);
        if (st != NES_OK)
            return st;
    }
    while (c->nstack > 0) {
        stack_item it = c->stack[--c->nstack];
        struct fy_node *node = nes_sd_deref(it.r.node);
        if (node == NULL)
            return nes_sd_fail(c->ds, it.r.doc, it.r.node, NULL, NES_ERR_SPEC, err, "alias cycle");
        if (!fy_node_is_mapping(node)) {
            if (nes_sd_bool(node) >= 0) /* 3.1 boolean schema: constrains nothing we track */
                continue;
            return nes_sd_fail(c->ds, it.r.doc, node, NULL, NES_ERR_SPEC, err,
                               "expected a schema object");
        }
        int seen = visit(c, node);
        if (seen < 0)
            return oom(err);
        if (seen)
            continue;
        if (c->nclo + c->nmems >= SC_MAX_WORK)
            return nes_sd_fail(c->ds, it.r.doc, node, NULL, NES_ERR_LIMIT, err,
                               "schema sets exceed %u entries", SC_MAX_WORK);
        if (!GROW(c->clo, c->cap_clo, c->nclo + 1))
            return oom(err);
        nes_sd_ref m = {node, it.r.doc};
        skw k;
        scan(node, &k);
        /* Only members with keywords of their own define the node: a wrapper such as
         * `{$ref: X, description: ...}` adds nothing beyond X, and leaving it out of the set makes
         * `items: {$ref: X}` here and there the same node (so recursion closes at once). */
        if (k.properties || k.addl || k.pattern || k.items || k.prefix_items || k.type || k.x_pii ||
            k.x_ctx || k.uneval_props || k.uneval_items || k.addl_items || k.contains)
            c->clo[c->nclo++] = m;
        nes_status st = NES_OK;
        if (k.any_of != NULL)
            st = push_list(c, &m, k.any_of, "anyOf", it.depth, err);
        if (st == NES_OK && k.one_of != NULL)
            st = push_list(c, &m, k.one_of, "oneOf", it.depth, err);
        if (st == NES_OK && k.all_of != NULL)
            st = push_list(c, &m, k.all_of, "allOf", it.depth, err);
        if (st == NES_OK)
            st = push_more(c, &m, &k, it.depth, err);
        if (st == NES_OK && k.ref_key != NULL) {
            const char *s;
            size_t len;
            nes_sd_ref target;
            if (!nes_sd_str(k.ref, &s, &len))
                return nes_sd_fail(c->ds, m.doc, node, k.ref_key, NES_ERR_SPEC, err,
                                   "$ref must be a string");
            if (it.depth >= NES_SPEC_MAX_REF_DEPTH)
                return nes_sd_fail(c->ds, m.doc, node, k.ref, NES_ERR_SPEC, err,
                                   "$ref chain longer than %d", NES_SPEC_MAX_REF_DEPTH);
            st = nes_sd_resolve(c->ds, m.doc, node, k.ref, s, len, &target, err);
            if (st == NES_OK)
                st = push(c, target, node, m.doc, it.depth + 1, err);
            if (st == NES_OK && c->name[0] == '\0') {
                size_t nl = len < SC_MAX_NAME ? len : SC_MAX_NAME;
                memcpy(c->name, s, nl);
                c->name[nl] = '\0';
            }
        }
        if (st != NES_OK)
            return st;
    }
    return NES_OK;
}

/* ---- memo ---------------------------------------------------------------------------------- */

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (struct fy_node *const *)a;
    uintptr_t y = (uintptr_t) * (struct fy_node *const *)b;
    return x < y ? -1 : x > y;
}

static bool table_insert(nes_sc *c, size_t index)
{
    if (2 * (c->nents + 1) > c->tcap) {
        size_t cap = c->tcap ? 2 * c->tcap : 256;
        uint32_t *t = calloc(cap, sizeof *t);
        if (t == NULL)
            return false;
        for (size_t i = 0; i < c->nents; i++) {
            if (i == index)
                continue;
            size_t h = (size_t)c->ents[i].hash & (cap - 1);
            while (t[h] != 0)
                h = (h + 1) & (cap - 1);
            t[h] = (uint32_t)(i + 1);
        }
        free(c->table);
        c->table = t;
        c->tcap = cap;
    }
    size_t h = (size_t)c->ents[index].hash & (c->tcap - 1);
    while (c->table[h] != 0)
        h = (h + 1) & (c->tcap - 1);
    c->table[h] = (uint32_t)(index + 1);
    return true;
}

/* The node for the union of `set`: an existing one with the same closed set, or a new one queued
 * for compilation. NULL when the set constrains nothing. */
static nes_status get_node(nes_sc *c, const nes_sd_ref *set, size_t n, nes_pii_node **out,
                           nes_err *err)
{
    *out = NULL;
    nes_status st = closure(c, set, n, err);
    if (st != NES_OK || c->nclo == 0)
        return st;
    if (!GROW(c->sorted, c->cap_sorted, c->nclo))
        return oom(err);
    for (size_t i = 0; i < c->nclo; i++)
        c->sorted[i] = c->clo[i].node;
    qsort(c->sorted, c->nclo, sizeof *c->sorted, ptr_cmp);
    uint64_t hash = c->nclo;
    for (size_t i = 0; i < c->nclo; i++)
        hash = mix(hash, (uintptr_t)c->sorted[i]);
    if (c->tcap > 0) {
        for (size_t h = (size_t)hash & (c->tcap - 1); c->table[h] != 0;
             h = (h + 1) & (c->tcap - 1)) {
            const sc_entry *e = &c->ents[c->table[h] - 1];
            if (e->hash == hash && e->n == c->nclo &&
                memcmp(c->keys + e->key_off, c->sorted, c->nclo * sizeof *c->sorted) == 0) {
                *out = e->node;
                return NES_OK;
            }
        }
    }
    if (c->nents == NES_SPEC_MAX_NODES)
        return nes_sd_fail(c->ds, c->clo[0].doc, c->clo[0].node, NULL, NES_ERR_LIMIT, err,
                           "the spec compiles to more than %d nodes", NES_SPEC_MAX_NODES);
    if (!GROW(c->ents, c->cap_ents, c->nents + 1) ||
        !GROW(c->keys, c->cap_keys, c->nkeys + c->nclo) ||
        !GROW(c->mems, c->cap_mems, c->nmems + c->nclo))
        return oom(err);
    nes_pii_node *node = nes_pii_node_new(c->g, c->name[0] ? c->name : NULL);
    if (node == NULL)
        return oom(err);
    sc_entry *e = &c->ents[c->nents];
    *e = (sc_entry){
        .hash = hash, .key_off = c->nkeys, .mem_off = c->nmems, .n = c->nclo, .node = node};
    memcpy(c->keys + c->nkeys, c->sorted, c->nclo * sizeof *c->sorted);
    memcpy(c->mems + c->nmems, c->clo, c->nclo * sizeof *c->clo);
    c->nkeys += c->nclo;
    c->nmems += c->nclo;
    if (!table_insert(c, c->nents))
        return oom(err);
    c->nents++;
    *out = node;
    return NES_OK;
}

/* ---- compiling one node -------------------------------------------------------------------- */

static unsigned type_word(const char *s, size_t len)
{
    static const char *const json[] = {"integer", "number", "boolean", "object", "array"};
    if (len == 6 && memcmp(s, "string", 6) == 0)
        return 1;
    if (len == 4 && memcmp(s, "null", 4) == 0)
        return 0;
    for (size_t i = 0; i < sizeof json / sizeof json[0]; i++)
        if (len == strlen(json[i]) && memcmp(s, json[i], len) == 0)
            return 2;
    return 4;
}

/* Bits: 1 string, 2 other JSON, 4 unknown. */
static unsigned type_bits(struct fy_node *t)
{
    const char *s;
    size_t len;
    if (nes_sd_str(t, &s, &len))
        return type_word(s, len);
    if (t == NULL || !fy_node_is_sequence(t))
        return 4;
    unsigned bits = 0;
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(t, &it)) != NULL)
        bits |= nes_sd_str(nes_sd_deref(item), &s, &len) ? type_word(s, len) : 4;
    return bits;
}

static nes_status group_add(nes_sc *c, nes_sd_ref r, nes_err *err)
{
    if (!GROW(c->group, c->cap_group, c->ngroup + 1))
        return oom(err);
    c->group[c->ngroup++] = r;
    return NES_OK;
}

/* Adds a schema-or-boolean value (additionalProperties, items) to the group. */
static nes_status group_schema(nes_sc *c, const nes_sd_ref *m, struct fy_node *v, const char *kw,
                               nes_err *err)
{
    if (v != NULL && fy_node_is_mapping(v))
        return group_add(c, (nes_sd_ref){v, m->doc}, err);
    if (nes_sd_bool(v) >= 0)
        return NES_OK;
    return nes_sd_fail(c->ds, m->doc, m->node, v, NES_ERR_SPEC, err,
                       "%s must be a schema or a boolean", kw);
}

static nes_status group_list(nes_sc *c, const nes_sd_ref *m, struct fy_node *list, const char *kw,
                             nes_err *err)
{
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(list, &it)) != NULL) {
        nes_status st = group_schema(c, m, nes_sd_deref(item), kw, err);
        if (st != NES_OK)
            return st;
    }
    return NES_OK;
}

static int prop_cmp(const void *a, const void *b)
{
    const prop_item *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int d = memcmp(x->key, y->key, x->len);
    if (d != 0)
        return d;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Adds the pairs of a `properties` mapping; `<<: *common` inside it merges (unites) the aliased
 * mapping(s), up to a few levels deep. */
static nes_status gather_props(nes_sc *c, const nes_sd_ref *m, struct fy_node *props, int depth,
                               nes_err *err)
{
    if (!fy_node_is_mapping(props))
        return nes_sd_fail(c->ds, m->doc, m->node, props, NES_ERR_SPEC, err,
                           "properties must be a mapping");
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(props, &it)) != NULL) {
        const char *key;
        size_t len;
        struct fy_node *k = nes_sd_deref(fy_node_pair_key(p));
        struct fy_node *v = nes_sd_deref(fy_node_pair_value(p));
        if (!nes_sd_str(k, &key, &len))
            return nes_sd_fail(c->ds, m->doc, props, NULL, NES_ERR_SPEC, err,
                               "property names must be strings");
        if (v == NULL)
            return nes_sd_fail(c->ds, m->doc, props, k, NES_ERR_SPEC, err,
                               "property \"%.*s\" has no schema", len > 64 ? 64 : (int)len, key);
        if (len == 2 && memcmp(key, "<<", 2) == 0 && fy_node_get_style(k) == FYNS_PLAIN &&
            (fy_node_is_mapping(v) || fy_node_is_sequence(v))) {
            if (depth == 8)
                return nes_sd_fail(c->ds, m->doc, props, k, NES_ERR_SPEC, err,
                                   "merge keys nested too deeply");
            nes_status st = NES_OK;
            if (fy_node_is_mapping(v)) {
                st = gather_props(c, m, v, depth + 1, err);
            } else {
                void *jt = NULL;
                struct fy_node *item;
                while (st == NES_OK && (item = fy_node_sequence_iterate(v, &jt)) != NULL)
                    st = gather_props(c, m, nes_sd_deref(item), depth + 1, err);
            }
            if (st != NES_OK)
                return st;
            continue;
        }
        if (!GROW(c->props, c->cap_props, c->nprops + 1))
            return oom(err);
        c->props[c->nprops] = (prop_item){key, len, c->nprops, {v, m->doc}};
        c->nprops++;
    }
    return NES_OK;
}

/* Reads x-pii, x-pii-context and type over the members; marks the node when PII. */
static nes_status classify(nes_sc *c, const sc_entry *e, bool *pii, nes_err *err)
{
    *pii = false;
    const char *ctx = NULL;
    size_t ctxlen = 0;
    nes_sd_ref ctx_at = {0};
    struct fy_node *ctx_node = NULL;
    unsigned bits = 0;
    bool structural = false;
    for (size_t i = 0; i < e->n; i++) {
        nes_sd_ref m = c->mems[e->mem_off + i];
        skw k;
        scan(m.node, &k);
        if (k.x_pii != NULL) {
            int b = nes_sd_bool(k.x_pii);
            if (b < 0)
                return nes_sd_fail(c->ds, m.doc, m.node, k.x_pii, NES_ERR_SPEC, err,
                                   "x-pii must be true or false");
            *pii = *pii || b == 1;
        }
        if (k.x_ctx != NULL) {
            const char *s;
            size_t len;
            if (!nes_sd_str(k.x_ctx, &s, &len))
                return nes_sd_fail(c->ds, m.doc, m.node, k.x_ctx, NES_ERR_SPEC, err,
                                   "x-pii-context must be a string");
            if (len > SC_MAX_CONTEXT)
                return nes_sd_fail(c->ds, m.doc, m.node, k.x_ctx, NES_ERR_SPEC, err,
                                   "x-pii-context longer than %d bytes", SC_MAX_CONTEXT);
            if (len > 0 && ctx != NULL && (len != ctxlen || memcmp(s, ctx, len) != 0))
                return nes_sd_fail(c->ds, m.doc, m.node, k.x_ctx, NES_ERR_SPEC, err,
                                   "conflicting x-pii-context \"%.*s\" and \"%.*s\" (%s:%d) for "
                                   "one value",
                                   len > 40 ? 40 : (int)len, s, ctxlen > 40 ? 40 : (int)ctxlen, ctx,
                                   c->ds->docs[ctx_at.doc].shown, nes_sd_line(ctx_node));
            if (len > 0 && ctx == NULL) {
                ctx = s;
                ctxlen = len;
                ctx_at = m;
                ctx_node = k.x_ctx;
            }
        }
        if (k.type != NULL)
            bits |= type_bits(k.type);
        structural = structural || k.properties || k.addl || k.items || k.prefix_items ||
                     k.uneval_props || k.uneval_items || k.addl_items || k.contains;
    }
    if (ctx != NULL && !*pii)
        return nes_sd_fail(c->ds, ctx_at.doc, ctx_at.node, ctx_node, NES_ERR_SPEC, err,
                           "x-pii-context without x-pii: true");
    if (!*pii)
        return NES_OK;
    nes_value_type vt = NES_VT_ANY;
    if (bits == 1)
        vt = NES_VT_STRING;
    else if (bits == 2 || (bits == 0 && structural))
        vt = NES_VT_JSON;
    if (nes_pii_node_mark(c->g, e->node, vt, ctx, ctxlen) != 0)
        return oom(err);
    return NES_OK;
}

static nes_status compile_entry(nes_sc *c, size_t index, nes_err *err)
{
    sc_entry e = c->ents[index]; /* a copy: get_node may move the array */
    bool pii;
    nes_status st = classify(c, &e, &pii, err);
    if (st != NES_OK || pii)
        return st; /* a PII value is one token: nothing below it matters */

    /* properties, merged across the members by key */
    c->nprops = 0;
    for (size_t i = 0; st == NES_OK && i < e.n; i++) {
        nes_sd_ref m = c->mems[e.mem_off + i];
        skw k;
        scan(m.node, &k);
        if (k.properties != NULL)
            st = gather_props(c, &m, k.properties, 0, err);
    }
    if (st != NES_OK)
        return st;
    if (c->nprops > 1)
        qsort(c->props, c->nprops, sizeof *c->props, prop_cmp);
    for (size_t i = 0; i < c->nprops;) {
        size_t j = i;
        c->ngroup = 0;
        while (j < c->nprops && c->props[j].len == c->props[i].len &&
               memcmp(c->props[j].key, c->props[i].key, c->props[i].len) == 0) {
            if ((st = group_add(c, c->props[j].val, err)) != NES_OK)
                return st;
            j++;
        }
        nes_pii_node *child;
        if ((st = get_node(c, c->group, c->ngroup, &child, err)) != NES_OK)
            return st;
        if (child != NULL &&
            nes_pii_node_set_prop(c->g, e.node, c->props[i].key, c->props[i].len, child) != 0)
            return oom(err);
        i = j;
    }

    /* wildcard: additionalProperties and patternProperties schemas */
    c->ngroup = 0;
    for (size_t i = 0; st == NES_OK && i < e.n; i++) {
        nes_sd_ref m = c->mems[e.mem_off + i];
        skw k;
        scan(m.node, &k);
        if (k.addl != NULL)
            st = group_schema(c, &m, k.addl, "additionalProperties", err);
        if (st == NES_OK && k.uneval_props != NULL)
            st = group_schema(c, &m, k.uneval_props, "unevaluatedProperties", err);
        if (st == NES_OK && k.pattern != NULL) {
            if (!fy_node_is_mapping(k.pattern))
                return nes_sd_fail(c->ds, m.doc, m.node, k.pattern, NES_ERR_SPEC, err,
                                   "patternProperties must be a mapping");
            void *it = NULL;
            struct fy_node_pair *p;
            while (st == NES_OK && (p = fy_node_mapping_iterate(k.pattern, &it)) != NULL)
                st = group_schema(c, &m, nes_sd_deref(fy_node_pair_value(p)), "patternProperties",
                                  err);
        }
    }
    if (st == NES_OK && c->ngroup > 0)
        st = get_node(c, c->group, c->ngroup, &e.node->wildcard, err);

    /* items: items (a schema, or a list in tuple form) and prefixItems */
    c->ngroup = 0;
    for (size_t i = 0; st == NES_OK && i < e.n; i++) {
        nes_sd_ref m = c->mems[e.mem_off + i];
        skw k;
        scan(m.node, &k);
        if (k.items != NULL)
            st = fy_node_is_sequence(k.items) ? group_list(c, &m, k.items, "items", err)
                                              : group_schema(c, &m, k.items, "items", err);
        if (st == NES_OK && k.uneval_items != NULL)
            st = group_schema(c, &m, k.uneval_items, "unevaluatedItems", err);
        if (st == NES_OK && k.addl_items != NULL)
            st = group_schema(c, &m, k.addl_items, "additionalItems", err);
        if (st == NES_OK && k.contains != NULL)
            st = group_schema(c, &m, k.contains, "contains", err);
        if (st == NES_OK && k.prefix_items != NULL) {
            if (!fy_node_is_sequence(k.prefix_items))
                return nes_sd_fail(c->ds, m.doc, m.node, k.prefix_items, NES_ERR_SPEC, err,
                                   "prefixItems must be a list");
            st = group_list(c, &m, k.prefix_items, "prefixItems", err);
        }
    }
    if (st == NES_OK && c->ngroup > 0)
        st = get_node(c, c->group, c->ngroup, &e.node->items, err);
    return st;
}

nes_status nes_sc_compile(nes_sc *c, const nes_sd_ref *set, size_t n, nes_pii_node **out,
                          nes_err *err)
{
    nes_status st = get_node(c, set, n, out, err);
    while (st == NES_OK && c->next < c->nents)
        st = compile_entry(c, c->next++, err);
    return st;
}
