/* Unit tests: pii.c (automaton building, lookup, PII paths). */
#include <setjmp.h>
#include <stdarg.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(child_lookup_exact_then_wildcard),
        cmocka_unit_test(set_prop_replaces_and_keys_may_hold_nul),
        cmocka_unit_test(mark_without_context),
        cmocka_unit_test(paths_sorted_with_recursion_marked),
        cmocka_unit_test(paths_root_pii_and_empty),
        cmocka_unit_test(cycle_without_pii_is_not_interesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
