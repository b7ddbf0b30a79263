/* Unit tests: pii.c (automaton building, lookup, PII paths). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/pii.h"

typedef struct collected {
    char lines[64][128];
    size_t n;
} collected;

static int collect(void *ud, const char *path)
{
    collected *c = ud;
    if (c->n == 64)
        return 1;
    snprintf(c->lines[c->n++], sizeof c->lines[0], "%s", path);
    return 0;
}

static void child_lookup_exact_then_wildcard(void **state)
{
    (void)state;
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *root = nes_pii_node_new(g, "Root");
    nes_pii_node *ssn = nes_pii_node_new(g, NULL);
    nes_pii_node *any = nes_pii_node_new(g, NULL);
    nes_pii_node *name = nes_pii_node_new(g, NULL);
    assert_non_null(root);
    assert_int_equal(nes_pii_node_set_prop(g, root, "ssn", 3, ssn), 0);
    assert_int_equal(nes_pii_node_set_prop(g, root, "name", 4, name), 0);
    /* many keys so the binary search has work to do */
    char key[16];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(nes_pii_node_set_prop(g, root, key, (size_t)n, name), 0);
    }
    root->wildcard = any;
    assert_int_equal(nes_pii_node_mark(g, ssn, NES_VT_STRING, "ssn", 3), 0);
    assert_int_equal(nes_pii_graph_finish(g), 0);

    assert_ptr_equal(nes_pii_child(root, "ssn", 3), ssn);
    assert_ptr_equal(nes_pii_child(root, "name", 4), name);
    assert_ptr_equal(nes_pii_child(root, "k57", 3), name);
    assert_ptr_equal(nes_pii_child(root, "other", 5), any);
    assert_ptr_equal(nes_pii_child(root, "ss", 2), any);
    assert_null(nes_pii_child(NULL, "ssn", 3));
    assert_true(ssn->pii);
    assert_int_equal(ssn->context_len, 3);
    assert_memory_equal(ssn->context, "ssn", 3);
    assert_true(root->has_pii_below);
    assert_false(name->has_pii_below);
    nes_pii_graph_free(g);
}

static void set_prop_replaces_and_keys_may_hold_nul(void **state)
{
    (void)state;
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *root = nes_pii_node_new(g, NULL);
    nes_pii_node *a = nes_pii_node_new(g, NULL);
    nes_pii_node *b = nes_pii_node_new(g, NULL);
    assert_int_equal(nes_pii_node_set_prop(g, root, "x\0y", 3, a), 0);
    assert_int_equal(nes_pii_node_set_prop(g, root, "x\0y", 3, b), 0);
    assert_int_equal(root->nprops, 1);
    assert_int_equal(nes_pii_graph_finish(g), 0);
    assert_ptr_equal(nes_pii_child(root, "x\0y", 3), b);
    assert_null(nes_pii_child(root, "x", 1));
    nes_pii_graph_free(g);
}

static void mark_without_context(void **state)
{
    (void)state;
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *n = nes_pii_node_new(g, NULL);
    assert_int_equal(nes_pii_node_mark(g, n, NES_VT_JSON, NULL, 0), 0);
    assert_true(n->pii);
    assert_int_equal(n->type, NES_VT_JSON);
    assert_null(n->context);
    assert_int_equal(n->context_len, 0);
    nes_pii_graph_free(g);
}

/* Referral tree: {name(pii), ssn(pii ctx), address{zip}, referrals:[Referral], labels:{*:pii},
 * cards:[{number(pii)}], matrix:[[pii]]} */
static nes_pii_node *build_tree(nes_pii_graph *g)
{
    nes_pii_node *ref = nes_pii_node_new(g, "Referral");
    nes_pii_node *name = nes_pii_node_new(g, NULL);
    nes_pii_node *ssn = nes_pii_node_new(g, NULL);
    nes_pii_node *addr = nes_pii_node_new(g, "Address");
    nes_pii_node *zip = nes_pii_node_new(g, NULL);
    nes_pii_node *refs = nes_pii_node_new(g, NULL);
    nes_pii_node *labels = nes_pii_node_new(g, NULL);
    nes_pii_node *label = nes_pii_node_new(g, NULL);
    nes_pii_node *cards = nes_pii_node_new(g, NULL);
    nes_pii_node *card = nes_pii_node_new(g, "Card");
    nes_pii_node *number = nes_pii_node_new(g, NULL);
    nes_pii_node *matrix = nes_pii_node_new(g, NULL);
    nes_pii_node *row = nes_pii_node_new(g, NULL);
    nes_pii_node *cell = nes_pii_node_new(g, NULL);
    nes_pii_node_set_prop(g, ref, "name", 4, name);
    nes_pii_node_set_prop(g, ref, "ssn", 3, ssn);
    nes_pii_node_set_prop(g, ref, "address", 7, addr);
    nes_pii_node_set_prop(g, addr, "zip", 3, zip);
    nes_pii_node_set_prop(g, ref, "referrals", 9, refs);
    refs->items = ref;
    nes_pii_node_set_prop(g, ref, "labels", 6, labels);
    labels->wildcard = label;
    nes_pii_node_set_prop(g, ref, "cards", 5, cards);
    cards->items = card;
    nes_pii_node_set_prop(g, card, "number", 6, number);
    nes_pii_node_set_prop(g, ref, "matrix", 6, matrix);
    matrix->items = row;
    row->items = cell;
    nes_pii_node_mark(g, name, NES_VT_STRING, NULL, 0);
    nes_pii_node_mark(g, ssn, NES_VT_STRING, "ssn", 3);
    nes_pii_node_mark(g, label, NES_VT_ANY, NULL, 0);
    nes_pii_node_mark(g, number, NES_VT_STRING, NULL, 0);
    nes_pii_node_mark(g, cell, NES_VT_JSON, NULL, 0);
    nes_pii_graph_finish(g);
    return ref;
}

static void paths_sorted_with_recursion_marked(void **state)
{
    (void)state;
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *root = build_tree(g);
    assert_true(root->has_pii_below);
    collected c = {.n = 0};
    assert_int_equal(nes_pii_paths(root, collect, &c), 0);
    const char *want[] = {
        "cards[].number", "labels.*", "matrix[][]", "name", "referrals[] (recursive)", "ssn",
    };
    assert_int_equal(c.n, sizeof want / sizeof *want);
    for (size_t i = 0; i < c.n; i++)
        assert_string_equal(c.lines[i], want[i]);
    /* address has nothing below: pruned, and flagged so */
    assert_false(nes_pii_child(root, "address", 7)->has_pii_below);
    nes_pii_graph_free(g);
}

static void paths_root_pii_and_empty(void **state)
{
    (void)state;
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *r = nes_pii_node_new(g, NULL);
    nes_pii_node *plain = nes_pii_node_new(g, NULL);
    nes_pii_node_set_prop(g, plain, "a", 1, r);
    nes_pii_node_mark(g, r, NES_VT_ANY, NULL, 0);
    nes_pii_graph_finish(g);
    collected c = {.n = 0};
    assert_int_equal(nes_pii_paths(r, collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.lines[0], "$");
    c.n = 0;
    assert_int_equal(nes_pii_paths(NULL, collect, &c), 0);
    assert_int_equal(c.n, 0);
    /* callback may stop the walk */
    nes_pii_node *two = nes_pii_node_new(g, NULL);
    nes_pii_node_set_prop(g, two, "x", 1, r);
    nes_pii_node_set_prop(g, two, "y", 1, r);
    nes_pii_graph_finish(g);
    collected full = {.n = 64};
    assert_int_equal(nes_pii_paths(two, collect, &full), 1);
    nes_pii_graph_free(g);
}

static void cycle_without_pii_is_not_interesting(void **state)
{
    (void)state;
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *a = nes_pii_node_new(g, NULL);
    nes_pii_node *b = nes_pii_node_new(g, NULL);
    nes_pii_node_set_prop(g, a, "b", 1, b);
    nes_pii_node_set_prop(g, b, "a", 1, a);
    b->items = a;
    assert_int_equal(nes_pii_graph_finish(g), 0);
    assert_false(a->has_pii_below);
    assert_false(b->has_pii_below);
    collected c = {.n = 0};
    assert_int_equal(nes_pii_paths(a, collect, &c), 0);
    assert_int_equal(c.n, 0);
    nes_pii_graph_free(g);
}

/* ---- membership, patterns, open places ------------------------------------------------------ */

static void lookup_says_declared_pass_or_unknown(void **state)
{
    (void)state;
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *obj = nes_pii_node_new(g, NULL);
    nes_pii_node *leaf = nes_pii_node_new(g, NULL);
    assert_int_equal(nes_pii_node_set_prop(g, obj, "a", 1, leaf), 0);
    assert_int_equal(nes_pii_node_set_prop(g, obj, "free", 4, NULL), 0);
    assert_int_equal(nes_pii_graph_finish(g), 0);
    const nes_pii_node *c = obj;
    static const struct {
        uint8_t members;
        nes_member_kind other;
    } table[] = {{NES_MEMBERS_PASS, NES_MEMBER_PASS},
                 {NES_MEMBERS_ANY, NES_MEMBER_DECLARED},
                 {NES_MEMBERS_CLOSED, NES_MEMBER_UNKNOWN}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        obj->members = table[i].members;
        assert_int_equal(nes_pii_lookup(obj, "a", 1, &c), NES_MEMBER_DECLARED);
        assert_ptr_equal(c, leaf);
        assert_int_equal(nes_pii_lookup(obj, "free", 4, &c), NES_MEMBER_DECLARED);
        assert_null(c); /* declared as any value */
        assert_int_equal(nes_pii_lookup(obj, "b", 1, &c), table[i].other);
        assert_null(c);
    }
    /* a wildcard declares every other name, whatever members says */
    obj->members = NES_MEMBERS_CLOSED;
    obj->wildcard = leaf;
    assert_int_equal(nes_pii_lookup(obj, "b", 1, &c), NES_MEMBER_DECLARED);
    assert_ptr_equal(c, leaf);
    /* walk: closed or passing nodes are walked, a free-form node with nothing below is not */
    nes_pii_node *any = nes_pii_node_new(g, NULL);
    any->members = NES_MEMBERS_ANY;
    assert_int_equal(nes_pii_graph_finish(g), 0);
    assert_true(obj->walk);
    assert_false(any->walk);
    nes_pii_graph_free(g);
}

static void patterns_translate_and_match(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *key;
        bool match;
    } table[] = {
        {"^email", "email_work", true},
        {"^email", "my_email", false},
        {"mail", "my_email", true},
        {"^x-\\d+$", "x-12", true},
        {"^x-\\d+$", "x-1a", false},
        {"^\\w+$", "a_b9", true},
        {"^\\w+$", "a-b", false},
        {"^\\S+$", "a b", false},
        {"^[a-c]{2}$", "ab", true},
        {"^[a-c]{2}$", "ad", false},
        {"^a\\.b$", "a.b", true},
        {"^a\\.b$", "axb", false},
        {"\\bword", "anything", true}, /* \b: no POSIX equivalent, matches every name */
        {"(?i)abc", "xyz", true},
        {"[\\d]", "x", true},
        {"^(ab|cd)$", "cd", true},
        {"^(ab|cd)$", "abcd", false},
        /* what glibc compiles in exponential time or memory matches every name, at once */
        {"^email++++++++++++++++++++++++", "other", true},
        {"^e??????????????????????????????", "other", true},
        {"^(a{1,1000}){1,1000}$", "b", true},
        {"^((a){1,100}){1,100}$", "b", true},
        {"^a{1,30000}$", "b", true},
        {"^a{1,100}b{2}$", "aabb", true},
        {"^a{1,100}b{2}$", "aab", false},
        {"^(ab){2,}$", "abab", true},
        {"^(ab){2,}$", "ab", false},
        {"^(a{2})+$", "aaaa", true},
        {"^(a{2})+$", "aaa", false},
        {"^a{x}$", "anything", true}, /* not a quantifier: ERE refuses it, every name matches */
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        bool m = nes_pii_pattern_matches(table[i].pattern, strlen(table[i].pattern), table[i].key,
                                         strlen(table[i].key));
        if (m != table[i].match)
            fail_msg("pattern %s on %s: got %d", table[i].pattern, table[i].key, m);
    }
    /* lookups: one matching pattern gives its child, several give pattern_any */
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *obj = nes_pii_node_new(g, NULL);
    nes_pii_node *e = nes_pii_node_new(g, NULL), *x = nes_pii_node_new(g, NULL);
    nes_pii_node *both = nes_pii_node_new(g, NULL);
    obj->members = NES_MEMBERS_CLOSED;
    assert_int_equal(nes_pii_node_add_pattern(g, obj, "^email", 6, e), 0);
    assert_int_equal(nes_pii_node_add_pattern(g, obj, "_x$", 3, x), 0);
    obj->pattern_any = both;
    assert_int_equal(nes_pii_node_mark(g, e, NES_VT_STRING, NULL, 0), 0);
    assert_int_equal(nes_pii_graph_finish(g), 0);
    const nes_pii_node *c;
    assert_int_equal(nes_pii_lookup(obj, "email2", 6, &c), NES_MEMBER_DECLARED);
    assert_ptr_equal(c, e);
    assert_int_equal(nes_pii_lookup(obj, "email_x", 7, &c), NES_MEMBER_DECLARED);
    assert_ptr_equal(c, both);
    assert_int_equal(nes_pii_lookup(obj, "a_x", 3, &c), NES_MEMBER_DECLARED);
    assert_ptr_equal(c, x);
    assert_int_equal(nes_pii_lookup(obj, "zzz", 3, &c), NES_MEMBER_UNKNOWN);
    assert_ptr_equal(nes_pii_child(obj, "email", 5), e);
    assert_true(obj->has_pii_below);
    nes_pii_graph_free(g);
}

static void content_with_pii_marks_the_string(void **state)
{
    (void)state;
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *root = nes_pii_node_new(g, NULL);
    nes_pii_node *str = nes_pii_node_new(g, NULL), *inner = nes_pii_node_new(g, NULL);
    nes_pii_node *ssn = nes_pii_node_new(g, NULL);
    assert_int_equal(nes_pii_node_set_prop(g, root, "payload", 7, str), 0);
    str->content = inner;
    assert_int_equal(nes_pii_node_set_prop(g, inner, "ssn", 3, ssn), 0);
    assert_int_equal(nes_pii_node_mark(g, ssn, NES_VT_STRING, NULL, 0), 0);
    assert_int_equal(nes_pii_graph_finish(g), 0);
    assert_true(str->pii);
    assert_int_equal(str->type, NES_VT_STRING);
    assert_int_equal(str->types, NES_JT_STRING);
    assert_true(root->has_pii_below);
    nes_pii_graph_free(g);
}

typedef struct open_seen {
    char lines[16][128];
    size_t n;
} open_seen;

static int collect_open(void *ud, const char *path, nes_open_kind kind)
{
    open_seen *o = ud;
    if (o->n == 16)
        return 1;
    snprintf(o->lines[o->n++], sizeof o->lines[0], "%s %d", path, (int)kind);
    return 0;
}

static void open_places_listed_once_at_their_shortest_path(void **state)
{
    (void)state;
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *root = nes_pii_node_new(g, NULL);
    nes_pii_node *meta = nes_pii_node_new(g, NULL), *loose = nes_pii_node_new(g, NULL);
    nes_pii_node *list = nes_pii_node_new(g, NULL), *ssn = nes_pii_node_new(g, NULL);
    root->members = NES_MEMBERS_CLOSED;
    meta->members = NES_MEMBERS_ANY;
    loose->members = NES_MEMBERS_PASS;
    list->members = NES_MEMBERS_CLOSED;
    assert_int_equal(nes_pii_node_set_prop(g, root, "meta", 4, meta), 0);
    assert_int_equal(nes_pii_node_set_prop(g, root, "loose", 5, loose), 0);
    assert_int_equal(nes_pii_node_set_prop(g, loose, "k", 1, list), 0);
    assert_int_equal(nes_pii_node_set_prop(g, root, "list", 4, list), 0);
    assert_int_equal(nes_pii_node_set_prop(g, root, "any", 3, NULL), 0);
    assert_int_equal(nes_pii_node_set_prop(g, root, "ssn", 3, ssn), 0);
    list->items = root; /* a cycle: listed once */
    ssn->members = NES_MEMBERS_PASS;
    assert_int_equal(nes_pii_node_mark(g, ssn, NES_VT_STRING, NULL, 0), 0);
    assert_int_equal(nes_pii_graph_finish(g), 0);
    open_seen o = {0};
    assert_int_equal(nes_pii_open(root, collect_open, &o), 0);
    assert_int_equal(o.n, 3);
    assert_string_equal(o.lines[0], "any 0");
    assert_string_equal(o.lines[1], "loose.* 2");
    assert_string_equal(o.lines[2], "meta.* 1");
    memset(&o, 0, sizeof o);
    assert_int_equal(nes_pii_open(NULL, collect_open, &o), 0);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.lines[0], "$ 0");
    nes_pii_graph_free(g);
}

/* The property index (built by finish) answers as bisection does for names of every length class
 * (empty, under 8, 8, 9 to 16, over 16 bytes; equal first or last 8 bytes; a NUL inside), found or
 * not; nes_pii_find_prop and nes_pii_lookup_unlisted split nes_pii_lookup between them. */
static void property_index_agrees_with_bisection(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        size_t len;
    } names[] = {{"", 0},
                 {"a", 1},
                 {"ip", 2},
                 {"email", 5},
                 {"k1234567", 8},
                 {"k1234568", 8},
                 {"k12345678", 9},
                 {"address_line1", 13},
                 {"address_line2", 13},
                 {"sixteen_bytes_16", 16},
                 {"sixteen_bytes_17", 16},
                 {"a_rather_long_member_name", 25},
                 {"a_rather_lung_member_name", 25},
                 {"nul\0inside", 10}};
    static const struct {
        const char *key;
        size_t len;
    } absent[] = {{"b", 1},
                  {"emai", 4},
                  {"k1234569", 8},
                  {"k123456789", 10},
                  {"address_line3", 13},
                  {"sixteen_bytes_18", 16},
                  {"a_rather_long_member_namf", 25},
                  {"nul\0insidf", 10},
                  {"nul", 3},
                  {"ip\0", 3}};
    size_t n = sizeof names / sizeof names[0];
    for (size_t used = 1; used <= n; used++) {
        nes_pii_graph *g = nes_pii_graph_new();
        nes_pii_node *obj = nes_pii_node_new(g, NULL), *kids[16], *wild = nes_pii_node_new(g, NULL);
        obj->members = NES_MEMBERS_CLOSED;
        for (size_t i = 0; i < used; i++) {
            kids[i] = nes_pii_node_new(g, NULL);
            assert_int_equal(nes_pii_node_set_prop(g, obj, names[i].key, names[i].len, kids[i]), 0);
        }
        assert_int_equal(nes_pii_graph_finish(g), 0);
        assert_non_null(obj->slots);
        for (size_t i = 0; i < n; i++) {
            const nes_pii_node *c = NULL;
            uint64_t head, tail;
            nes_pii_key_words(names[i].key, names[i].len, &head, &tail);
            const nes_pii_edge *e = nes_pii_find_prop(obj, names[i].key, names[i].len, head, tail);
            nes_member_kind k = nes_pii_lookup(obj, names[i].key, names[i].len, &c);
            if (i < used) {
                assert_non_null(e);
                assert_ptr_equal(e->node, kids[i]);
                assert_int_equal(k, NES_MEMBER_DECLARED);
                assert_ptr_equal(c, kids[i]);
            } else {
                assert_null(e);
                assert_int_equal(k, NES_MEMBER_UNKNOWN);
            }
        }
        for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
            const nes_pii_node *c = obj;
            uint64_t head, tail;
            nes_pii_key_words(absent[i].key, absent[i].len, &head, &tail);
            assert_null(nes_pii_find_prop(obj, absent[i].key, absent[i].len, head, tail));
            assert_int_equal(nes_pii_lookup(obj, absent[i].key, absent[i].len, &c),
                             NES_MEMBER_UNKNOWN);
            assert_null(c);
        }
        /* what the index does not hold goes to nes_pii_lookup_unlisted: the wildcard here */
        obj->wildcard = wild;
        const nes_pii_node *c = NULL;
        assert_int_equal(nes_pii_lookup_unlisted(obj, "zz", 2, &c), NES_MEMBER_DECLARED);
        assert_ptr_equal(c, wild);
        assert_int_equal(nes_pii_lookup(obj, "zz", 2, &c), NES_MEMBER_DECLARED);
        assert_ptr_equal(c, wild);
        /* a property added after finish is found (the stale index is dropped) */
        nes_pii_node *late = nes_pii_node_new(g, NULL);
        assert_int_equal(nes_pii_node_set_prop(g, obj, "zzzz_late", 9, late), 0);
        assert_null(obj->slots);
        assert_int_equal(nes_pii_graph_finish(g), 0);
        assert_int_equal(nes_pii_lookup(obj, "zzzz_late", 9, &c), NES_MEMBER_DECLARED);
        assert_ptr_equal(c, late);
        nes_pii_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(child_lookup_exact_then_wildcard),
        cmocka_unit_test(set_prop_replaces_and_keys_may_hold_nul),
        cmocka_unit_test(mark_without_context),
        cmocka_unit_test(paths_sorted_with_recursion_marked),
        cmocka_unit_test(paths_root_pii_and_empty),
        cmocka_unit_test(cycle_without_pii_is_not_interesting),
        cmocka_unit_test(lookup_says_declared_pass_or_unknown),
        cmocka_unit_test(property_index_agrees_with_bisection),
        cmocka_unit_test(patterns_translate_and_match),
        cmocka_unit_test(content_with_pii_marks_the_string),
        cmocka_unit_test(open_places_listed_once_at_their_shortest_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
