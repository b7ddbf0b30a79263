/* schema_compile.c - compiles sets of OpenAPI schemas into PII automaton nodes.
 *
 * A node stands for a SET of schema objects that may all describe the same JSON value, plus
 * whether `x-pii-unknown-fields: pass` is in force there. The set is closed under `$ref`,
 * `$dynamicRef` (to the same document's anchors), `allOf`, `oneOf`, `anyOf`, a discriminator's
 * subtypes (its mapping and the schemas that `allOf` the base), `if`/`then`/`else`,
 * `dependentSchemas` and YAML merge keys (for PII purposes merging and uniting are the same: a
 * property, pattern, wildcard or items schema from any member applies, and `x-pii` on any member
 * marks the value). Nodes are memoized by their closed set, so a recursive or shared schema
 * becomes one node and cycles cost nothing. Children are compiled from a worklist, never by
 * recursion, so neither deep nor recursive specs touch the C stack.
 *
 * Children of a set. Each member judges an object on its own (JSON Schema's rule): the child for
 * a property name unites every member's `properties` entry for it, every `patternProperties`
 * schema whose pattern matches it, and the `additionalProperties` (and `unevaluatedProperties`)
 * schema of every member that neither lists it nor matches it by a pattern. Names no member
 * lists go to the pattern edges (matched by the transform; a pattern that cannot be translated
 * to POSIX matches every name) or else to the wildcard. Items unite `items` (a schema, or a
 * list in old tuple form), `prefixItems`, `additionalItems`, `unevaluatedItems` and `contains`.
 * `contentSchema` becomes the content edge: a string whose JSON content can hold PII is
 * encrypted whole.
 *
 * Membership (fail closed, pii.h). An object member is declared by a property, a pattern or an
 * `additionalProperties` / `unevaluatedProperties` schema of any member (`true` or `{}` declares
 * every name: NES_MEMBERS_ANY). A set that declares no member at all and allows objects
 * (`type: object` alone, or no type) is a free-form object: NES_MEMBERS_ANY. Anything else is
 * NES_MEMBERS_CLOSED, or NES_MEMBERS_PASS where `x-pii-unknown-fields: pass` is in force (it
 * applies to the schema that says it and everything below; `reject` closes again). A set that
 * does not allow arrays gets a closed (or passing) leaf as its items child, so objects inside an
 * array that arrives where, say, a string is declared are refused too.
 *
 * Every keyword of a schema object is one of the table nes_schema_keywords returns (what the
 * compiler does with it, also checked against docs/openapi-support.md), an `x-` extension, or a
 * keyword with a scalar value; an unknown keyword whose value could hold a schema is refused. */
#include "core/schema_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Upper bound on schema references held by all node sets of one spec together. */
#define SC_MAX_WORK (1u << 21)
/** Longest x-pii-context label. */
#define SC_MAX_CONTEXT 255
/** Longest node name kept for diagnostics. */
#define SC_MAX_NAME 200

/** Upper bound on YAML nodes walked to index one document's anchors. */
#define SC_MAX_INDEX_NODES (1u << 24)

/* The keywords of one schema object that the compiler reads (aliases resolved). */
typedef struct skw {
    nes_yn *ref_key, *ref, *all_of, *one_of, *any_of;
    nes_yn *properties, *addl, *pattern, *items, *prefix_items;
    nes_yn *type, *x_pii, *x_ctx, *x_unknown;
    nes_yn *merge, *if_, *then_, *else_, *dep_schemas, *dependencies; /* more members */
    nes_yn *uneval_props, *uneval_items, *addl_items, *contains;      /* more children */
    nes_yn *dyn_ref, *discriminator, *content_schema;
} skw;

typedef struct sc_entry {
    uint64_t hash;
    size_t key_off; /* sorted node pointers in keys[] */
    size_t mem_off; /* the members in discovery order in mems[] */
    size_t n;
    bool pass; /* x-pii-unknown-fields: pass in force */
    nes_pii_node *node;
} sc_entry;

/* An anchor ($anchor or $dynamicAnchor) of an indexed document. */
typedef struct anchor {
    const char *name;
    size_t len;
    nes_sd_ref at;
} anchor;

/* A schema that `allOf`s a base (the inheritance pattern of discriminators). */
typedef struct subtype {
    nes_yn *base;
    nes_sd_ref sub;
} subtype;

/* Per member of the node being compiled: its wildcard schemas and its patterns. */
typedef struct mem_info {
    nes_yn *addl, *uneval; /* mappings, or NULL */
    size_t pat_off, npat;  /* its patterns in pats[] */
    size_t stamp;          /* last property group that it lists */
} mem_info;

typedef struct pat_item {
    const char *re;
    size_t len;
    nes_sd_ref schema;
    size_t member;
} pat_item;

typedef struct stack_item {
    nes_sd_ref r;
    nes_yn *from; /* the schema that led here (for error locations), or NULL */
    uint32_t from_doc;
    unsigned depth; /* $ref hops in a row */
} stack_item;

typedef struct prop_item {
    const char *key;
    size_t len;
    size_t seq;
    size_t member;
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
    nes_yn **keys;
    size_t nkeys, cap_keys;
    nes_sd_ref *mems;
    size_t nmems, cap_mems;
    size_t next; /* worklist: entries [next, nents) still to compile */
    /* visited set of the current closure (generation-stamped) */
    nes_yn **vkeys;
    uint32_t *vgen;
    size_t vcap, vn;
    uint32_t gen;
    /* scratch */
    stack_item *stack;
    size_t nstack, cap_stack;
    nes_sd_ref *clo;
    size_t nclo, cap_clo;
    nes_yn **sorted;
    size_t cap_sorted;
    prop_item *props;
    size_t nprops, cap_props;
    nes_sd_ref *group;
    size_t ngroup, cap_group;
    mem_info *minfo;
    size_t cap_minfo;
    pat_item *pats;
    size_t npats, cap_pats;
    bool pass; /* the closure's x-pii-unknown-fields outcome */
    char name[SC_MAX_NAME + 1];
    /* document indexes, built on first use */
    unsigned char *done; /* per document: DONE_ANCHORS | DONE_SUBTYPES */
    size_t cap_done;
    anchor *anchors;
    size_t nanchors, cap_anchors;
    subtype *subtypes;
    size_t nsubtypes, cap_subtypes;
    nes_yn **walk;
    size_t cap_walk;
    nes_pii_node *leaf[2]; /* items of non-array schemas: closed, passing */
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

enum { DONE_ANCHORS = 1, DONE_SUBTYPES = 2 };

/* Marks index `bit` of document `doc` built: 1 when it already was, 0 when newly marked, -1 when
 * out of memory. */
static int doc_once(nes_sc *c, uint32_t doc, unsigned char bit)
{
    if (doc >= c->cap_done) {
        size_t old = c->cap_done;
        if (!GROW(c->done, c->cap_done, (size_t)doc + 1))
            return -1;
        memset(c->done + old, 0, c->cap_done - old);
    }
    if (c->done[doc] & bit)
        return 1;
    c->done[doc] |= bit;
    return 0;
}

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
    free(c->minfo);
    free(c->pats);
    free(c->anchors);
    free(c->subtypes);
    free(c->done);
    free(c->walk);
    free(c);
}

size_t nes_sc_node_count(const nes_sc *c)
{
    return c->nents;
}

/* ---- schema keywords ----------------------------------------------------------------------- */

static void scan(nes_yn *m, skw *k)
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
        {"x-pii-unknown-fields", offsetof(skw, x_unknown)},
        {"<<", offsetof(skw, merge)},
        {"if", offsetof(skw, if_)},
        {"then", offsetof(skw, then_)},
        {"else", offsetof(skw, else_)},
        {"dependentSchemas", offsetof(skw, dep_schemas)},
        {"dependencies", offsetof(skw, dependencies)},
        {"unevaluatedProperties", offsetof(skw, uneval_props)},
        {"unevaluatedItems", offsetof(skw, uneval_items)},
        {"additionalItems", offsetof(skw, addl_items)},
        {"contains", offsetof(skw, contains)},
        {"$dynamicRef", offsetof(skw, dyn_ref)},
        {"discriminator", offsetof(skw, discriminator)},
        {"contentSchema", offsetof(skw, content_schema)},
    };
    memset(k, 0, sizeof *k);
    void *it = NULL;
    nes_yn_pair *p;
    while ((p = nes_yn_map_iterate(m, &it)) != NULL) {
        const char *s;
        size_t len;
        nes_yn *key = nes_yn_pair_key(p);
        if (!nes_sd_str(key, &s, &len) || len < 2 || len > 21)
            continue;
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
            if (strlen(words[i].name) == len && memcmp(words[i].name, s, len) == 0) {
                nes_yn **slot = (nes_yn **)((char *)k + words[i].off);
                *slot = nes_sd_deref(nes_yn_pair_value(p));
                if (i == 0)
                    k->ref_key = key;
                break;
            }
        }
    }
}

/* ---- the keyword table ------------------------------------------------------------------- */

/* What the compiler does with every keyword a schema object may hold; docs/openapi-support.md
 * shows the same table (a unit test compares them). Sorted by name (bsearch). */
static const nes_schema_keyword keywords[] = {
    {"$anchor", NES_KW_ANNOTATION, "names the schema for `$ref: '#name'` and `$dynamicRef`"},
    {"$comment", NES_KW_ANNOTATION, "no subschema"},
    {"$defs", NES_KW_HONOURED, "a container: its schemas count where a reference reaches them"},
    {"$dynamicAnchor", NES_KW_ANNOTATION, "the target of `$dynamicRef`"},
    {"$dynamicRef", NES_KW_HONOURED,
     "`#name` resolves to every schema of the same document with `$dynamicAnchor: name` (or "
     "`$anchor`), united: a superset of any dynamic scope; `#/pointer` as `$ref`; another "
     "document refuses the spec"},
    {"$id", NES_KW_ANNOTATION, "references resolve against the document; `$id` does not move them"},
    {"$recursiveAnchor", NES_KW_REFUSED, "draft 2019-09: refuses the spec (use $dynamicAnchor)"},
    {"$recursiveRef", NES_KW_REFUSED, "draft 2019-09: refuses the spec (use $dynamicRef)"},
    {"$ref", NES_KW_HONOURED,
     "local, sibling documents and `#name` anchors; siblings beside it join the set (3.1)"},
    {"$schema", NES_KW_ANNOTATION, "no subschema"},
    {"$vocabulary", NES_KW_ANNOTATION, "no subschema"},
    {"<<", NES_KW_OVER,
     "YAML merge key: the merged mapping joins the set (united, not overridden)"},
    {"additionalItems", NES_KW_OVER, "joins the items child"},
    {"additionalProperties", NES_KW_HONOURED,
     "every name its member does not list or match; `true` or `{}` declares any member"},
    {"allOf", NES_KW_HONOURED, "merged: every member joins the set"},
    {"anyOf", NES_KW_HONOURED, "united: PII in any branch is PII"},
    {"const", NES_KW_ANNOTATION, "a value, not a schema"},
    {"contains", NES_KW_OVER, "joins the items child: every element is judged by it"},
    {"contentEncoding", NES_KW_ANNOTATION, "no subschema"},
    {"contentMediaType", NES_KW_ANNOTATION, "no subschema"},
    {"contentSchema", NES_KW_HONOURED,
     "when the content can hold PII, the whole string is encrypted as one token"},
    {"default", NES_KW_ANNOTATION, "a value, not a schema"},
    {"definitions", NES_KW_HONOURED, "a container, as $defs"},
    {"dependencies", NES_KW_OVER, "its schema values join the set (draft 7)"},
    {"dependentRequired", NES_KW_ANNOTATION, "no subschema"},
    {"dependentSchemas", NES_KW_OVER, "every value joins the set"},
    {"deprecated", NES_KW_ANNOTATION, "no subschema"},
    {"description", NES_KW_ANNOTATION, "no subschema"},
    {"discriminator", NES_KW_OVER,
     "the mapping's schemas and every schema of the document's components that allOf the base "
     "join the set (a union over the subtypes)"},
    {"else", NES_KW_OVER, "joins the set"},
    {"enum", NES_KW_ANNOTATION, "values, not schemas"},
    {"example", NES_KW_ANNOTATION, "a value, not a schema"},
    {"examples", NES_KW_ANNOTATION, "values, not schemas"},
    {"exclusiveMaximum", NES_KW_ANNOTATION, "no subschema"},
    {"exclusiveMinimum", NES_KW_ANNOTATION, "no subschema"},
    {"externalDocs", NES_KW_ANNOTATION, "no subschema"},
    {"format", NES_KW_ANNOTATION, "no subschema"},
    {"if", NES_KW_OVER, "joins the set (its properties declare members, its x-pii marks)"},
    {"items", NES_KW_HONOURED, "the items child; the old tuple form unites its schemas"},
    {"maxContains", NES_KW_ANNOTATION, "no subschema"},
    {"maxItems", NES_KW_ANNOTATION, "no subschema"},
    {"maxLength", NES_KW_ANNOTATION, "no subschema"},
    {"maxProperties", NES_KW_ANNOTATION, "no subschema"},
    {"maximum", NES_KW_ANNOTATION, "no subschema"},
    {"minContains", NES_KW_ANNOTATION, "no subschema"},
    {"minItems", NES_KW_ANNOTATION, "no subschema"},
    {"minLength", NES_KW_ANNOTATION, "no subschema"},
    {"minProperties", NES_KW_ANNOTATION, "no subschema"},
    {"minimum", NES_KW_ANNOTATION, "no subschema"},
    {"multipleOf", NES_KW_ANNOTATION, "no subschema"},
    {"not", NES_KW_HONOURED,
     "describes values that are invalid: it declares no member and marks no PII"},
    {"nullable", NES_KW_ANNOTATION, "no subschema (null is always allowed and stays null)"},
    {"oneOf", NES_KW_HONOURED, "united: PII in any branch is PII"},
    {"pattern", NES_KW_ANNOTATION, "no subschema"},
    {"patternProperties", NES_KW_HONOURED,
     "applied with properties; ECMA-262 patterns run as POSIX ERE (\\d \\w \\s translated); one "
     "that cannot be translated matches every name"},
    {"prefixItems", NES_KW_OVER, "joins the items child"},
    {"properties", NES_KW_HONOURED, "merged by name across the set"},
    {"propertyNames", NES_KW_HONOURED,
     "constrains member names, which are never encrypted: declares nothing"},
    {"readOnly", NES_KW_ANNOTATION, "no subschema"},
    {"required", NES_KW_ANNOTATION, "no subschema"},
    {"then", NES_KW_OVER, "joins the set"},
    {"title", NES_KW_ANNOTATION, "no subschema"},
    {"type", NES_KW_HONOURED,
     "the JSON types a PII value may have; object and array shape fail-closed"},
    {"unevaluatedItems", NES_KW_OVER, "joins the items child"},
    {"unevaluatedProperties", NES_KW_OVER, "treated as additionalProperties"},
    {"uniqueItems", NES_KW_ANNOTATION, "no subschema"},
    {"writeOnly", NES_KW_ANNOTATION, "no subschema"},
    {"x-pii", NES_KW_HONOURED, "marks the value as PII"},
    {"x-pii-context", NES_KW_HONOURED, "the token's context label"},
    {"x-pii-unknown-fields", NES_KW_HONOURED,
     "`pass` lets undeclared members pass (counted) here and below; `reject` closes again"},
    {"xml", NES_KW_ANNOTATION, "no subschema"},
};

const nes_schema_keyword *nes_schema_keywords(size_t *n)
{
    *n = sizeof keywords / sizeof keywords[0];
    return keywords;
}

static const nes_schema_keyword *keyword(const char *s, size_t len)
{
    size_t lo = 0, hi = sizeof keywords / sizeof keywords[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = keywords[mid].name;
        int d = strncmp(s, k, len);
        if (d == 0 && k[len] != '\0')
            d = -1;
        if (d == 0)
            return &keywords[mid];
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Refuses keywords the table refuses, and unknown ones whose value could hold a schema. */
static nes_status check_keywords(nes_sc *c, const nes_sd_ref *m, nes_err *err)
{
    void *it = NULL;
    nes_yn_pair *p;
    while ((p = nes_yn_map_iterate(m->node, &it)) != NULL) {
        const char *s;
        size_t len;
        nes_yn *key = nes_yn_pair_key(p);
        if (!nes_sd_str(key, &s, &len) || (len >= 2 && s[0] == 'x' && s[1] == '-'))
            continue;
        const nes_schema_keyword *k = memchr(s, '\0', len) ? NULL : keyword(s, len);
        if (k != NULL && k->decision == NES_KW_REFUSED)
            return nes_sd_fail(c->ds, m->doc, m->node, key, NES_ERR_SPEC, err,
                               "keyword %s is not supported: %s", k->name, k->how);
        nes_yn *v = nes_sd_deref(nes_yn_pair_value(p));
        if (k == NULL && v != NULL && (nes_yn_is_map(v) || nes_yn_is_seq(v)))
            return nes_sd_fail(c->ds, m->doc, m->node, key, NES_ERR_SPEC, err,
                               "unknown keyword \"%.*s\" holds a mapping or a list: it may hold a "
                               "schema that marks PII (see docs/openapi-support.md)",
                               len > 64 ? 64 : (int)len, s);
    }
    return NES_OK;
}

/* ---- document indexes: anchors and subtypes ---------------------------------------------------
 */

/* Indexes every `$anchor` / `$dynamicAnchor` of document `doc` (aliases are not followed). */
static nes_status index_anchors(nes_sc *c, uint32_t doc, nes_err *err)
{
    int once = doc_once(c, doc, DONE_ANCHORS);
    if (once != 0)
        return once < 0 ? oom(err) : NES_OK;
    size_t n = 0, visited = 0;
    nes_yn *root = c->ds->docs[doc].root;
    if (root == NULL)
        return NES_OK;
    if (!GROW(c->walk, c->cap_walk, 1))
        return oom(err);
    c->walk[n++] = root;
    while (n > 0) {
        nes_yn *node = c->walk[--n];
        if (++visited > SC_MAX_INDEX_NODES)
            return nes_sd_fail(c->ds, doc, root, NULL, NES_ERR_LIMIT, err,
                               "document too large to index its anchors");
        if (nes_yn_is_seq(node)) {
            void *it = NULL;
            nes_yn *item;
            while ((item = nes_yn_seq_iterate(node, &it)) != NULL) {
                if (nes_yn_is_alias(item) || nes_yn_is_scalar(item))
                    continue;
                if (!GROW(c->walk, c->cap_walk, n + 1))
                    return oom(err);
                c->walk[n++] = item;
            }
            continue;
        }
        if (!nes_yn_is_map(node))
            continue;
        void *it = NULL;
        nes_yn_pair *p;
        while ((p = nes_yn_map_iterate(node, &it)) != NULL) {
            const char *k, *v;
            size_t kl, vl;
            nes_yn *val = nes_yn_pair_value(p);
            if (nes_sd_str(nes_yn_pair_key(p), &k, &kl) &&
                ((kl == 7 && memcmp(k, "$anchor", 7) == 0) ||
                 (kl == 14 && memcmp(k, "$dynamicAnchor", 14) == 0)) &&
                nes_sd_str(val, &v, &vl)) {
                if (!GROW(c->anchors, c->cap_anchors, c->nanchors + 1))
                    return oom(err);
                c->anchors[c->nanchors++] = (anchor){v, vl, {node, doc}};
            }
            if (val == NULL || nes_yn_is_alias(val) || nes_yn_is_scalar(val))
                continue;
            if (!GROW(c->walk, c->cap_walk, n + 1))
                return oom(err);
            c->walk[n++] = val;
        }
    }
    return NES_OK;
}

/* Pushes every schema of document `doc` anchored as `name` (len bytes). */
static nes_status push(nes_sc *c, nes_sd_ref r, nes_yn *from, uint32_t from_doc, unsigned depth,
                       nes_err *err);

static nes_status push_anchor(nes_sc *c, const nes_sd_ref *m, nes_yn *at, const char *name,
                              size_t len, unsigned depth, nes_err *err)
{
    nes_status st = index_anchors(c, m->doc, err);
    size_t found = 0;
    for (size_t i = 0; st == NES_OK && i < c->nanchors; i++) {
        const anchor *a = &c->anchors[i];
        if (a->at.doc != m->doc || a->len != len || memcmp(a->name, name, len) != 0)
            continue;
        found++;
        st = push(c, a->at, m->node, m->doc, depth + 1, err);
    }
    if (st == NES_OK && found == 0)
        return nes_sd_fail(c->ds, m->doc, m->node, at, NES_ERR_SPEC, err,
                           "no $anchor or $dynamicAnchor \"%.*s\" in this document",
                           len > 64 ? 64 : (int)len, name);
    return st;
}

/* Indexes the schemas under components/schemas of `doc` whose allOf has a local $ref. */
static nes_status index_subtypes(nes_sc *c, uint32_t doc, nes_err *err)
{
    int once = doc_once(c, doc, DONE_SUBTYPES);
    if (once != 0)
        return once < 0 ? oom(err) : NES_OK;
    nes_yn *schemas = nes_sd_get(nes_sd_get(c->ds->docs[doc].root, "components"), "schemas");
    if (schemas == NULL || !nes_yn_is_map(schemas))
        return NES_OK;
    void *it = NULL;
    nes_yn_pair *p;
    while ((p = nes_yn_map_iterate(schemas, &it)) != NULL) {
        nes_yn *sub = nes_sd_deref(nes_yn_pair_value(p));
        nes_yn *all = nes_sd_get(sub, "allOf");
        if (all == NULL || !nes_yn_is_seq(all))
            continue;
        void *jt = NULL;
        nes_yn *item;
        while ((item = nes_yn_seq_iterate(all, &jt)) != NULL) {
            const char *s;
            size_t len;
            if (!nes_sd_str(nes_sd_get(nes_sd_deref(item), "$ref"), &s, &len) || len < 2 ||
                s[0] != '#' || s[1] != '/')
                continue;
            nes_err scratch;
            nes_sd_ref target;
            if (nes_sd_resolve(c->ds, doc, sub, NULL, s, len, &target, &scratch) != NES_OK)
                continue; /* a broken schema nothing reaches does not fail the load */
            if (!GROW(c->subtypes, c->cap_subtypes, c->nsubtypes + 1))
                return oom(err);
            c->subtypes[c->nsubtypes++] = (subtype){target.node, {sub, doc}};
        }
    }
    return NES_OK;
}

/* Pushes a discriminator's subtypes: its mapping's targets (schema names or references) and
 * every schema of the document's components that allOf the base `m`. */
static nes_status push_discriminator(nes_sc *c, const nes_sd_ref *m, nes_yn *d, unsigned depth,
                                     nes_err *err)
{
    if (!nes_yn_is_map(d))
        return nes_sd_fail(c->ds, m->doc, m->node, d, NES_ERR_SPEC, err,
                           "discriminator must be a mapping");
    nes_status st = NES_OK;
    nes_yn *mapping = nes_sd_get(d, "mapping");
    if (mapping != NULL && !nes_yn_is_map(mapping))
        return nes_sd_fail(c->ds, m->doc, m->node, mapping, NES_ERR_SPEC, err,
                           "discriminator mapping must be a mapping");
    void *it = NULL;
    nes_yn_pair *p;
    while (st == NES_OK && mapping != NULL && (p = nes_yn_map_iterate(mapping, &it)) != NULL) {
        nes_yn *v = nes_sd_deref(nes_yn_pair_value(p));
        const char *s;
        size_t len;
        if (!nes_sd_str(v, &s, &len) || len == 0 || len > 400)
            return nes_sd_fail(c->ds, m->doc, m->node, v, NES_ERR_SPEC, err,
                               "discriminator mapping values must be schema names or references");
        char ref[1400];
        bool is_ref = memchr(s, '#', len) != NULL || memchr(s, '/', len) != NULL ||
                      (len > 5 && (memcmp(s + len - 5, ".yaml", 5) == 0 ||
                                   memcmp(s + len - 5, ".json", 5) == 0)) ||
                      (len > 4 && memcmp(s + len - 4, ".yml", 4) == 0);
        size_t rl = 0;
        if (is_ref) {
            memcpy(ref, s, len);
            rl = len;
        } else {
            rl = (size_t)snprintf(ref, sizeof ref, "#/components/schemas/");
            for (size_t i = 0; i < len; i++) {
                const char *esc = s[i] == '~'   ? "~0"
                                  : s[i] == '/' ? "~1"
                                  : s[i] == '%' ? "%25"
                                                : NULL;
                if (esc != NULL) {
                    for (; *esc != '\0'; esc++)
                        ref[rl++] = *esc;
                } else {
                    ref[rl++] = s[i];
                }
            }
        }
        nes_sd_ref target;
        st = nes_sd_resolve(c->ds, m->doc, m->node, v, ref, rl, &target, err);
        if (st == NES_OK)
            st = push(c, target, m->node, m->doc, depth + 1, err);
    }
    if (st == NES_OK)
        st = index_subtypes(c, m->doc, err);
    for (size_t i = 0; st == NES_OK && i < c->nsubtypes; i++)
        if (c->subtypes[i].base == m->node)
            st = push(c, c->subtypes[i].sub, m->node, m->doc, depth + 1, err);
    return st;
}

/* ---- closure ------------------------------------------------------------------------------- */

/* 1 when `n` was already visited by the current closure, 0 after marking it, -1 on OOM. */
static int visit(nes_sc *c, nes_yn *n)
{
    if (2 * (c->vn + 1) > c->vcap) {
        size_t cap = c->vcap ? 2 * c->vcap : 256;
        nes_yn **keys = calloc(cap, sizeof *keys);
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

static nes_status push(nes_sc *c, nes_sd_ref r, nes_yn *from, uint32_t from_doc, unsigned depth,
                       nes_err *err)
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
static nes_status push_list(nes_sc *c, const nes_sd_ref *m, nes_yn *list, const char *kw,
                            unsigned depth, nes_err *err)
{
    if (!nes_yn_is_seq(list))
        return nes_sd_fail(c->ds, m->doc, m->node, list, NES_ERR_SPEC, err, "%s must be a list",
                           kw);
    for (int i = nes_yn_count(list); i-- > 0;) {
        nes_yn *item = nes_sd_deref(nes_yn_seq_at(list, i));
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
    if (k->if_ != NULL)
        st = push(c, (nes_sd_ref){k->if_, m->doc}, m->node, m->doc, depth, err);
    if (st == NES_OK && k->then_ != NULL)
        st = push(c, (nes_sd_ref){k->then_, m->doc}, m->node, m->doc, depth, err);
    if (st == NES_OK && k->else_ != NULL)
        st = push(c, (nes_sd_ref){k->else_, m->doc}, m->node, m->doc, depth, err);
    if (st == NES_OK && k->merge != NULL)
        st = nes_yn_is_seq(k->merge)
                 ? push_list(c, m, k->merge, "<<", depth, err)
                 : push(c, (nes_sd_ref){k->merge, m->doc}, m->node, m->doc, depth, err);
    if (st == NES_OK && k->dep_schemas != NULL) {
        if (!nes_yn_is_map(k->dep_schemas))
            return nes_sd_fail(c->ds, m->doc, m->node, k->dep_schemas, NES_ERR_SPEC, err,
                               "dependentSchemas must be a mapping");
        void *it = NULL;
        nes_yn_pair *p;
        while (st == NES_OK && (p = nes_yn_map_iterate(k->dep_schemas, &it)) != NULL)
            st = push(c, (nes_sd_ref){nes_sd_deref(nes_yn_pair_value(p)), m->doc}, m->node, m->doc,
                      depth, err);
    }
    if (st == NES_OK && k->dependencies != NULL && nes_yn_is_map(k->dependencies)) {
        void *it = NULL;
        nes_yn_pair *p;
        while (st == NES_OK && (p = nes_yn_map_iterate(k->dependencies, &it)) != NULL) {
            nes_yn *v = nes_sd_deref(nes_yn_pair_value(p));
            if (v != NULL && nes_yn_is_map(v)) /* lists name required properties */
                st = push(c, (nes_sd_ref){v, m->doc}, m->node, m->doc, depth, err);
        }
    }
    if (st == NES_OK && k->discriminator != NULL)
        st = push_discriminator(c, m, k->discriminator, depth, err);
    return st;
}

/* Reads x-pii-unknown-fields: 1 pass, 0 reject, -1 absent; NES_ERR_SPEC for other values. */
static nes_status unknown_fields(nes_sc *c, const nes_sd_ref *m, nes_yn *v, int *out, nes_err *err)
{
    const char *s;
    size_t len;
    *out = -1;
    if (v == NULL)
        return NES_OK;
    if (nes_sd_str(v, &s, &len) && len == 4 && memcmp(s, "pass", 4) == 0)
        *out = 1;
    else if (nes_sd_str(v, &s, &len) && len == 6 && memcmp(s, "reject", 6) == 0)
        *out = 0;
    else
        return nes_sd_fail(c->ds, m->doc, m->node, v, NES_ERR_SPEC, err,
                           "x-pii-unknown-fields must be \"pass\" or \"reject\"");
    return NES_OK;
}

/* Follows a `$ref` (or a `$dynamicRef` when `dynamic`): JSON pointers and sibling documents
 * through nes_sd_resolve, `#name` to the document's anchors. */
static nes_status follow_ref(nes_sc *c, const nes_sd_ref *m, nes_yn *key, nes_yn *val, bool dynamic,
                             unsigned depth, nes_err *err)
{
    const char *kw = dynamic ? "$dynamicRef" : "$ref";
    const char *s;
    size_t len;
    if (!nes_sd_str(val, &s, &len))
        return nes_sd_fail(c->ds, m->doc, m->node, key, NES_ERR_SPEC, err, "%s must be a string",
                           kw);
    if (depth >= NES_SPEC_MAX_REF_DEPTH)
        return nes_sd_fail(c->ds, m->doc, m->node, val, NES_ERR_SPEC, err,
                           "$ref chain longer than %d", NES_SPEC_MAX_REF_DEPTH);
    const char *hash = memchr(s, '#', len);
    bool anchor_form = hash != NULL && (size_t)(hash - s) + 1 < len && hash[1] != '/';
    nes_status st;
    if (anchor_form && hash != s)
        return nes_sd_fail(c->ds, m->doc, m->node, val, NES_ERR_SPEC, err,
                           "%s \"%.*s\": anchors in other documents are not supported", kw,
                           len > 80 ? 80 : (int)len, s);
    if (dynamic && !anchor_form && (hash != s))
        return nes_sd_fail(c->ds, m->doc, m->node, val, NES_ERR_SPEC, err,
                           "$dynamicRef \"%.*s\": only same-document references are supported",
                           len > 80 ? 80 : (int)len, s);
    if (anchor_form) {
        st = push_anchor(c, m, val, s + 1, len - 1, depth, err);
    } else {
        nes_sd_ref target;
        st = nes_sd_resolve(c->ds, m->doc, m->node, val, s, len, &target, err);
        if (st == NES_OK)
            st = push(c, target, m->node, m->doc, depth + 1, err);
    }
    if (st == NES_OK && c->name[0] == '\0') {
        size_t nl = len < SC_MAX_NAME ? len : SC_MAX_NAME;
        memcpy(c->name, s, nl);
        c->name[nl] = '\0';
    }
    return st;
}

/* Closes `in` under the applicators that join a set (file comment) into c->clo (discovery
 * order, members with keywords of their own only); names the set after the first reference
 * followed; sets c->pass: `pass_in` unless a member says x-pii-unknown-fields (reject wins). */
static nes_status closure(nes_sc *c, const nes_sd_ref *in, size_t n, bool pass_in, nes_err *err)
{
    c->nclo = 0;
    c->nstack = 0;
    c->name[0] = '\0';
    int said = -1;
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
        nes_yn *node = nes_sd_deref(it.r.node);
        if (node == NULL)
            return nes_sd_fail(c->ds, it.r.doc, it.r.node, NULL, NES_ERR_SPEC, err, "alias cycle");
        if (!nes_yn_is_map(node)) {
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
        nes_status st = check_keywords(c, &m, err);
        int says = -1;
        if (st == NES_OK)
            st = unknown_fields(c, &m, k.x_unknown, &says, err);
        if (st != NES_OK)
            return st;
        if (says == 0 || (says == 1 && said < 0))
            said = says;
        /* Only members with keywords of their own define the node: a wrapper such as
         * `{$ref: X, description: ...}` adds nothing beyond X, and leaving it out of the set makes
         * `items: {$ref: X}` here and there the same node (so recursion closes at once). */
        if (k.properties || k.addl || k.pattern || k.items || k.prefix_items || k.type || k.x_pii ||
            k.x_ctx || k.uneval_props || k.uneval_items || k.addl_items || k.contains ||
            k.content_schema)
            c->clo[c->nclo++] = m;
        if (k.any_of != NULL)
            st = push_list(c, &m, k.any_of, "anyOf", it.depth, err);
        if (st == NES_OK && k.one_of != NULL)
            st = push_list(c, &m, k.one_of, "oneOf", it.depth, err);
        if (st == NES_OK && k.all_of != NULL)
            st = push_list(c, &m, k.all_of, "allOf", it.depth, err);
        if (st == NES_OK)
            st = push_more(c, &m, &k, it.depth, err);
        if (st == NES_OK && k.ref_key != NULL)
            st = follow_ref(c, &m, k.ref_key, k.ref, false, it.depth, err);
        if (st == NES_OK && k.dyn_ref != NULL)
            st = follow_ref(c, &m, k.dyn_ref, k.dyn_ref, true, it.depth, err);
        if (st != NES_OK)
            return st;
    }
    c->pass = said < 0 ? pass_in : said == 1;
    return NES_OK;
}

/* ---- memo ---------------------------------------------------------------------------------- */

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (nes_yn *const *)a;
    uintptr_t y = (uintptr_t) * (nes_yn *const *)b;
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
static nes_status get_node(nes_sc *c, const nes_sd_ref *set, size_t n, bool pass,
                           nes_pii_node **out, nes_err *err)
{
    *out = NULL;
    nes_status st = closure(c, set, n, pass, err);
    if (st != NES_OK || c->nclo == 0)
        return st;
    pass = c->pass;
    if (!GROW(c->sorted, c->cap_sorted, c->nclo))
        return oom(err);
    for (size_t i = 0; i < c->nclo; i++)
        c->sorted[i] = c->clo[i].node;
    qsort(c->sorted, c->nclo, sizeof *c->sorted, ptr_cmp);
    uint64_t hash = c->nclo * 2 + pass;
    for (size_t i = 0; i < c->nclo; i++)
        hash = mix(hash, (uintptr_t)c->sorted[i]);
    if (c->tcap > 0) {
        for (size_t h = (size_t)hash & (c->tcap - 1); c->table[h] != 0;
             h = (h + 1) & (c->tcap - 1)) {
            const sc_entry *e = &c->ents[c->table[h] - 1];
            if (e->hash == hash && e->n == c->nclo && e->pass == pass &&
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
    *e = (sc_entry){.hash = hash,
                    .key_off = c->nkeys,
                    .mem_off = c->nmems,
                    .n = c->nclo,
                    .pass = pass,
                    .node = node};
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
    static const struct {
        const char *name;
        unsigned bits;
    } words[] = {{"string", NES_JT_STRING},
                 {"integer", NES_JT_NUMBER},
                 {"number", NES_JT_NUMBER},
                 {"boolean", NES_JT_BOOLEAN},
                 {"object", NES_JT_OBJECT},
                 {"array", NES_JT_ARRAY},
                 {"null", 0}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (len == strlen(words[i].name) && memcmp(s, words[i].name, len) == 0)
            return words[i].bits;
    return NES_JT_ALL; /* an unknown type word: anything */
}

/* NES_JT_* bits of a `type` value (a word or a 3.1 list); "null" adds nothing. */
static unsigned type_bits(nes_yn *t)
{
    const char *s;
    size_t len;
    if (nes_sd_str(t, &s, &len))
        return type_word(s, len);
    if (t == NULL || !nes_yn_is_seq(t))
        return NES_JT_ALL;
    unsigned bits = 0;
    void *it = NULL;
    nes_yn *item;
    while ((item = nes_yn_seq_iterate(t, &it)) != NULL)
        bits |= nes_sd_str(nes_sd_deref(item), &s, &len) ? type_word(s, len) : NES_JT_ALL;
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
static nes_status group_schema(nes_sc *c, const nes_sd_ref *m, nes_yn *v, const char *kw,
                               nes_err *err)
{
    if (v != NULL && nes_yn_is_map(v))
        return group_add(c, (nes_sd_ref){v, m->doc}, err);
    if (nes_sd_bool(v) >= 0)
        return NES_OK;
    return nes_sd_fail(c->ds, m->doc, m->node, v, NES_ERR_SPEC, err,
                       "%s must be a schema or a boolean", kw);
}

static nes_status group_list(nes_sc *c, const nes_sd_ref *m, nes_yn *list, const char *kw,
                             nes_err *err)
{
    void *it = NULL;
    nes_yn *item;
    while ((item = nes_yn_seq_iterate(list, &it)) != NULL) {
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

/* Adds the pairs of a `properties` mapping of member `mi`; `<<: *common` inside it merges
 * (unites) the aliased mapping(s), up to a few levels deep. */
static nes_status gather_props(nes_sc *c, const nes_sd_ref *m, size_t mi, nes_yn *props, int depth,
                               nes_err *err)
{
    if (!nes_yn_is_map(props))
        return nes_sd_fail(c->ds, m->doc, m->node, props, NES_ERR_SPEC, err,
                           "properties must be a mapping");
    void *it = NULL;
    nes_yn_pair *p;
    while ((p = nes_yn_map_iterate(props, &it)) != NULL) {
        const char *key;
        size_t len;
        nes_yn *k = nes_sd_deref(nes_yn_pair_key(p));
        nes_yn *v = nes_sd_deref(nes_yn_pair_value(p));
        if (!nes_sd_str(k, &key, &len))
            return nes_sd_fail(c->ds, m->doc, props, NULL, NES_ERR_SPEC, err,
                               "property names must be strings");
        if (v == NULL)
            return nes_sd_fail(c->ds, m->doc, props, k, NES_ERR_SPEC, err,
                               "property \"%.*s\" has no schema", len > 64 ? 64 : (int)len, key);
        if (len == 2 && memcmp(key, "<<", 2) == 0 && nes_yn_is_plain(k) &&
            (nes_yn_is_map(v) || nes_yn_is_seq(v))) {
            if (depth == 8)
                return nes_sd_fail(c->ds, m->doc, props, k, NES_ERR_SPEC, err,
                                   "merge keys nested too deeply");
            nes_status st = NES_OK;
            if (nes_yn_is_map(v)) {
                st = gather_props(c, m, mi, v, depth + 1, err);
            } else {
                void *jt = NULL;
                nes_yn *item;
                while (st == NES_OK && (item = nes_yn_seq_iterate(v, &jt)) != NULL)
                    st = gather_props(c, m, mi, nes_sd_deref(item), depth + 1, err);
            }
            if (st != NES_OK)
                return st;
            continue;
        }
        if (!GROW(c->props, c->cap_props, c->nprops + 1))
            return oom(err);
        c->props[c->nprops] = (prop_item){key, len, c->nprops, mi, {v, m->doc}};
        c->nprops++;
    }
    return NES_OK;
}

/* Reads x-pii, x-pii-context and type over the members; marks the node when PII. Sets *bits to
 * the NES_JT_* types the members name (0: no `type` at all). */
static nes_status classify(nes_sc *c, const sc_entry *e, bool *pii, unsigned *bits, nes_err *err)
{
    *pii = false;
    *bits = 0;
    const char *ctx = NULL;
    size_t ctxlen = 0;
    nes_sd_ref ctx_at = {0};
    nes_yn *ctx_node = NULL;
    bool typed = false;
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
        if (k.type != NULL) {
            *bits |= type_bits(k.type);
            typed = true;
        }
    }
    if (ctx != NULL && !*pii)
        return nes_sd_fail(c->ds, ctx_at.doc, ctx_at.node, ctx_node, NES_ERR_SPEC, err,
                           "x-pii-context without x-pii: true");
    if (typed && *bits == 0)
        *bits = NES_JT_ALL; /* type: "null" alone: nothing else to go by */
    if (!*pii)
        return NES_OK;
    unsigned allowed = *bits != 0 ? *bits : NES_JT_ALL;
    nes_value_type vt = NES_VT_ANY;
    if (allowed == NES_JT_STRING)
        vt = NES_VT_STRING;
    else if ((allowed & NES_JT_STRING) == 0)
        vt = NES_VT_JSON;
    if (nes_pii_node_mark(c->g, e->node, vt, ctx, ctxlen) != 0)
        return oom(err);
    e->node->types = (uint8_t)allowed;
    return NES_OK;
}

/* A leaf for values that must hold no object member: closed, or passing under
 * x-pii-unknown-fields: pass; its own items are itself. */
static nes_pii_node *leaf(nes_sc *c, bool pass)
{
    if (c->leaf[pass] == NULL) {
        nes_pii_node *n = nes_pii_node_new(c->g, pass ? "(no members: pass)" : "(no members)");
        if (n == NULL)
            return NULL;
        n->members = pass ? NES_MEMBERS_PASS : NES_MEMBERS_CLOSED;
        n->items = n;
        c->leaf[pass] = n;
    }
    return c->leaf[pass];
}

/* Reads each member's wildcard schemas and patterns into c->minfo / c->pats. Sets *declares
 * (some member declares members) and *any_member (an additionalProperties or
 * unevaluatedProperties of `true` or a schema). */
static nes_status gather_members(nes_sc *c, const sc_entry *e, bool *declares, bool *any_member,
                                 bool *arrays, nes_err *err)
{
    *declares = *any_member = *arrays = false;
    c->nprops = 0;
    c->npats = 0;
    if (!GROW(c->minfo, c->cap_minfo, e->n))
        return oom(err);
    nes_status st = NES_OK;
    for (size_t i = 0; st == NES_OK && i < e->n; i++) {
        nes_sd_ref m = c->mems[e->mem_off + i];
        mem_info *mi = &c->minfo[i];
        *mi = (mem_info){.pat_off = c->npats, .stamp = (size_t)-1};
        skw k;
        scan(m.node, &k);
        *arrays =
            *arrays || k.items || k.prefix_items || k.uneval_items || k.addl_items || k.contains;
        if (k.properties != NULL) {
            *declares = true;
            st = gather_props(c, &m, i, k.properties, 0, err);
        }
        nes_yn *const wild[2] = {k.addl, k.uneval_props};
        static const char *const wild_kw[2] = {"additionalProperties", "unevaluatedProperties"};
        for (int w = 0; st == NES_OK && w < 2; w++) {
            if (wild[w] == NULL)
                continue;
            if (wild[w] != NULL && nes_yn_is_map(wild[w])) {
                *declares = *any_member = true;
                if (w == 0)
                    mi->addl = wild[w];
                else
                    mi->uneval = wild[w];
            } else if (nes_sd_bool(wild[w]) == 1) {
                *declares = *any_member = true;
            } else if (nes_sd_bool(wild[w]) == 0) {
                *declares = true;
            } else {
                st = nes_sd_fail(c->ds, m.doc, m.node, wild[w], NES_ERR_SPEC, err,
                                 "%s must be a schema or a boolean", wild_kw[w]);
            }
        }
        if (st == NES_OK && k.pattern != NULL) {
            if (!nes_yn_is_map(k.pattern))
                return nes_sd_fail(c->ds, m.doc, m.node, k.pattern, NES_ERR_SPEC, err,
                                   "patternProperties must be a mapping");
            *declares = true;
            void *it = NULL;
            nes_yn_pair *p;
            while ((p = nes_yn_map_iterate(k.pattern, &it)) != NULL) {
                const char *re;
                size_t len;
                nes_yn *v = nes_sd_deref(nes_yn_pair_value(p));
                if (!nes_sd_str(nes_sd_deref(nes_yn_pair_key(p)), &re, &len))
                    return nes_sd_fail(c->ds, m.doc, m.node, k.pattern, NES_ERR_SPEC, err,
                                       "patterns must be strings");
                if (v == NULL || (!nes_yn_is_map(v) && nes_sd_bool(v) < 0))
                    return nes_sd_fail(c->ds, m.doc, m.node, v ? v : k.pattern, NES_ERR_SPEC, err,
                                       "patternProperties values must be schemas");
                if (!GROW(c->pats, c->cap_pats, c->npats + 1))
                    return oom(err);
                c->pats[c->npats++] = (pat_item){re, len, {v, m.doc}, i};
                mi->npat++;
            }
        }
    }
    return st;
}

static nes_status compile_entry(nes_sc *c, size_t index, nes_err *err)
{
    sc_entry e = c->ents[index]; /* a copy: get_node may move the array */
    bool pii;
    unsigned bits;
    nes_status st = classify(c, &e, &pii, &bits, err);
    if (st != NES_OK || pii)
        return st; /* a PII value is one token: nothing below it matters */
    bool declares, any_member, arrays;
    if ((st = gather_members(c, &e, &declares, &any_member, &arrays, err)) != NES_OK)
        return st;
        /* c->mems moves when get_node grows it: always index it afresh */
#define MEM(i) (c->mems[e.mem_off + (i)])

    /* properties, merged across the members by name; each member judges the name on its own */
    if (c->nprops > 1)
        qsort(c->props, c->nprops, sizeof *c->props, prop_cmp);
    for (size_t i = 0, group_no = 0; i < c->nprops; group_no++) {
        size_t j = i;
        c->ngroup = 0;
        while (j < c->nprops && c->props[j].len == c->props[i].len &&
               memcmp(c->props[j].key, c->props[i].key, c->props[i].len) == 0) {
            if ((st = group_add(c, c->props[j].val, err)) != NES_OK)
                return st;
            c->minfo[c->props[j].member].stamp = group_no;
            j++;
        }
        const char *key = c->props[i].key;
        size_t klen = c->props[i].len;
        for (size_t mi = 0; mi < e.n; mi++) {
            const mem_info *inf = &c->minfo[mi];
            bool matched = false;
            for (size_t q = inf->pat_off; q < inf->pat_off + inf->npat; q++) {
                if (!nes_pii_pattern_matches(c->pats[q].re, c->pats[q].len, key, klen))
                    continue;
                matched = true;
                if (nes_yn_is_map(c->pats[q].schema.node) &&
                    (st = group_add(c, c->pats[q].schema, err)) != NES_OK)
                    return st;
            }
            if (inf->stamp == group_no || matched)
                continue;
            if (inf->addl != NULL &&
                (st = group_add(c, (nes_sd_ref){inf->addl, MEM(mi).doc}, err)) != NES_OK)
                return st;
            if (inf->uneval != NULL &&
                (st = group_add(c, (nes_sd_ref){inf->uneval, MEM(mi).doc}, err)) != NES_OK)
                return st;
        }
        bool never = true; /* every schema of the name is `false`: no value is valid */
        for (size_t q = 0; q < c->ngroup && never; q++)
            never = nes_sd_bool(nes_sd_deref(c->group[q].node)) == 0;
        nes_pii_node *child;
        if ((st = get_node(c, c->group, c->ngroup, e.pass, &child, err)) != NES_OK)
            return st;
        if (child == NULL && never && (child = leaf(c, e.pass)) == NULL)
            return oom(err);
        if (nes_pii_node_set_prop(c->g, e.node, key, klen, child) != 0)
            return oom(err);
        i = j;
    }

    /* name patterns: each with every other member's wildcard; several matching: all of them */
    for (size_t q = 0; q < c->npats; q++) {
        c->ngroup = 0;
        if (nes_yn_is_map(c->pats[q].schema.node))
            st = group_add(c, c->pats[q].schema, err);
        for (size_t mi = 0; st == NES_OK && mi < e.n; mi++) {
            if (mi == c->pats[q].member)
                continue;
            if (c->minfo[mi].addl != NULL)
                st = group_add(c, (nes_sd_ref){c->minfo[mi].addl, MEM(mi).doc}, err);
            if (st == NES_OK && c->minfo[mi].uneval != NULL)
                st = group_add(c, (nes_sd_ref){c->minfo[mi].uneval, MEM(mi).doc}, err);
        }
        nes_pii_node *child = NULL;
        if (st == NES_OK)
            st = get_node(c, c->group, c->ngroup, e.pass, &child, err);
        if (st == NES_OK &&
            nes_pii_node_add_pattern(c->g, e.node, c->pats[q].re, c->pats[q].len, child) != 0)
            st = oom(err);
        if (st != NES_OK)
            return st;
    }
    if (c->npats > 1) {
        c->ngroup = 0;
        for (size_t q = 0; st == NES_OK && q < c->npats; q++)
            if (nes_yn_is_map(c->pats[q].schema.node))
                st = group_add(c, c->pats[q].schema, err);
        for (size_t mi = 0; st == NES_OK && mi < e.n; mi++) {
            if (c->minfo[mi].addl != NULL)
                st = group_add(c, (nes_sd_ref){c->minfo[mi].addl, MEM(mi).doc}, err);
            if (st == NES_OK && c->minfo[mi].uneval != NULL)
                st = group_add(c, (nes_sd_ref){c->minfo[mi].uneval, MEM(mi).doc}, err);
        }
        if (st == NES_OK)
            st = get_node(c, c->group, c->ngroup, e.pass, &e.node->pattern_any, err);
        if (st != NES_OK)
            return st;
    }

    /* wildcard: every member's additionalProperties and unevaluatedProperties schemas */
    c->ngroup = 0;
    for (size_t mi = 0; st == NES_OK && mi < e.n; mi++) {
        if (c->minfo[mi].addl != NULL)
            st = group_add(c, (nes_sd_ref){c->minfo[mi].addl, MEM(mi).doc}, err);
        if (st == NES_OK && c->minfo[mi].uneval != NULL)
            st = group_add(c, (nes_sd_ref){c->minfo[mi].uneval, MEM(mi).doc}, err);
    }
    if (st == NES_OK && c->ngroup > 0)
        st = get_node(c, c->group, c->ngroup, e.pass, &e.node->wildcard, err);
    if (st != NES_OK)
        return st;

    /* membership: see the file comment */
    bool objects = bits == 0 || (bits & NES_JT_OBJECT) != 0;
    if (any_member || (!declares && objects && !(bits == 0 && arrays)))
        e.node->members = NES_MEMBERS_ANY;
    else
        e.node->members = e.pass ? NES_MEMBERS_PASS : NES_MEMBERS_CLOSED;

    /* items: items (a schema, or a list in tuple form), prefixItems and friends */
    c->ngroup = 0;
    for (size_t i = 0; st == NES_OK && i < e.n; i++) {
        nes_sd_ref m = MEM(i);
        skw k;
        scan(m.node, &k);
        if (k.items != NULL)
            st = nes_yn_is_seq(k.items) ? group_list(c, &m, k.items, "items", err)
                                        : group_schema(c, &m, k.items, "items", err);
        if (st == NES_OK && k.uneval_items != NULL)
            st = group_schema(c, &m, k.uneval_items, "unevaluatedItems", err);
        if (st == NES_OK && k.addl_items != NULL)
            st = group_schema(c, &m, k.addl_items, "additionalItems", err);
        if (st == NES_OK && k.contains != NULL)
            st = group_schema(c, &m, k.contains, "contains", err);
        if (st == NES_OK && k.prefix_items != NULL) {
            if (!nes_yn_is_seq(k.prefix_items))
                return nes_sd_fail(c->ds, m.doc, m.node, k.prefix_items, NES_ERR_SPEC, err,
                                   "prefixItems must be a list");
            st = group_list(c, &m, k.prefix_items, "prefixItems", err);
        }
    }
    if (st == NES_OK && c->ngroup > 0)
        st = get_node(c, c->group, c->ngroup, e.pass, &e.node->items, err);
    if (st != NES_OK)
        return st;
    bool array_ok = (bits & NES_JT_ARRAY) != 0 || (bits == 0 && !declares) || arrays;
    if (c->ngroup == 0 && !array_ok && (e.node->items = leaf(c, e.pass)) == NULL)
        return oom(err);

    /* contentSchema: a string that carries a JSON document */
    c->ngroup = 0;
    for (size_t i = 0; st == NES_OK && i < e.n; i++) {
        skw k;
        scan(MEM(i).node, &k);
        if (k.content_schema != NULL)
            st = group_schema(c, &MEM(i), k.content_schema, "contentSchema", err);
    }
    if (st == NES_OK && c->ngroup > 0)
        st = get_node(c, c->group, c->ngroup, false, &e.node->content, err);
    return st;
#undef MEM
}

nes_status nes_sc_compile(nes_sc *c, const nes_sd_ref *set, size_t n, bool pass, nes_pii_node **out,
                          nes_err *err)
{
    nes_status st = get_node(c, set, n, pass, out, err);
    while (st == NES_OK && c->next < c->nents)
        st = compile_entry(c, c->next++, err);
    return st;
}
