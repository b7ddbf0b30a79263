/* fuzz_transform: libFuzzer target for the JSON splice transform.
 *
 * Input: byte 0 chooses the mode (bit 0: 0 = encrypt round trip, 1 = decrypt arbitrary input)
 * and the depth limit (bits 1..7: 0 = the default, else that many levels); the rest is the body.
 * A fixed hand-built automaton puts PII at several shapes; a fake codec makes tokens
 * "T" + hex(plaintext) + "~" + context.
 *
 * Invariants: no crash, leak or undefined behaviour; the transform accepts exactly what
 * nes_json_validate accepts (decrypt may stop at a bad token first); a body without PII is
 * copied verbatim; when encrypt succeeds its output validates, decrypts with the same number of
 * fields, and encrypting the decrypted text gives the same bytes again; when decrypt succeeds
 * its output validates; and every result equals that of a reference twin of each automaton
 * with the transform's fast paths taken away (property index, validate-and-check mode). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/fake_codec.h"
#include "core/transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const nes_codec codec = {.encrypt = fake_encrypt, .decrypt = fake_decrypt};

static nes_pii_node *pii(nes_pii_graph *g, nes_value_type t, const char *ctx)
{
    nes_pii_node *n = nes_pii_node_new(g, NULL);
    if (n == NULL || nes_pii_node_mark(g, n, t, ctx, ctx ? strlen(ctx) : 0) != 0)
        abort();
    return n;
}

static void prop(nes_pii_graph *g, nes_pii_node *parent, const char *key, nes_pii_node *child)
{
    if (nes_pii_node_set_prop(g, parent, key, strlen(key), child) != 0)
        abort();
}

/* root (also every element of a top-level array): ssn, flag (any), tags (json), name (plain),
 * profile{email, address (any)}, orders[]{card, amount}, matrix[][], labels{*, public (plain)},
 * tree{ssn, children[] -> tree}. */
static nes_pii_node *build_schema(nes_pii_graph *g)
{
    nes_pii_node *root = nes_pii_node_new(g, "Root");
    root->items = root;
    prop(g, root, "ssn", pii(g, NES_VT_STRING, "ssn"));
    prop(g, root, "flag", pii(g, NES_VT_ANY, NULL));
    prop(g, root, "tags", pii(g, NES_VT_JSON, "tags"));
    prop(g, root, "name", nes_pii_node_new(g, NULL));
    nes_pii_node *profile = nes_pii_node_new(g, NULL);
    prop(g, root, "profile", profile);
    prop(g, profile, "email", pii(g, NES_VT_STRING, NULL));
    prop(g, profile, "address", pii(g, NES_VT_ANY, "addr"));
    nes_pii_node *orders = nes_pii_node_new(g, NULL), *order = nes_pii_node_new(g, NULL);
    prop(g, root, "orders", orders);
    orders->items = order;
    prop(g, order, "card", pii(g, NES_VT_STRING, "card"));
    prop(g, order, "amount", pii(g, NES_VT_ANY, NULL));
    nes_pii_node *matrix = nes_pii_node_new(g, NULL), *row = nes_pii_node_new(g, NULL);
    prop(g, root, "matrix", matrix);
    matrix->items = row;
    row->items = pii(g, NES_VT_ANY, NULL);
    nes_pii_node *labels = nes_pii_node_new(g, NULL);
    prop(g, root, "labels", labels);
    labels->wildcard = pii(g, NES_VT_STRING, NULL);
    prop(g, labels, "public", nes_pii_node_new(g, NULL));
    nes_pii_node *tree = nes_pii_node_new(g, NULL), *children = nes_pii_node_new(g, NULL);
    prop(g, root, "tree", tree);
    prop(g, tree, "ssn", pii(g, NES_VT_STRING, "ssn"));
    prop(g, tree, "children", children);
    children->items = tree;
    return root;
}

static const nes_pii_node *schema(void)
{
    static nes_pii_graph *g;
    static nes_pii_node *root;
    if (g != NULL)
        return root;
    g = nes_pii_graph_new();
    root = build_schema(g);
    if (nes_pii_graph_finish(g) != 0)
        abort();
    return root;
}

/* The automaton above with every non-PII node closed (undeclared members refused), plus a closed
 * subtree without PII ("meta": the transform's validate-and-check mode) whose names exercise the
 * property index: short, exactly 8 and 16 bytes, longer, equal first 8 bytes, empty. */
static nes_pii_node *build_closed(nes_pii_graph *g)
{
    nes_pii_node *root = nes_pii_node_new(g, "Closed");
    nes_pii_node *leaf = nes_pii_node_new(g, NULL), *orders = nes_pii_node_new(g, NULL);
    nes_pii_node *order = nes_pii_node_new(g, NULL), *meta = nes_pii_node_new(g, NULL);
    root->members = leaf->members = orders->members = order->members = NES_MEMBERS_CLOSED;
    meta->members = NES_MEMBERS_CLOSED;
    root->items = root;
    leaf->items = leaf;
    prop(g, root, "ssn", pii(g, NES_VT_STRING, "ssn"));
    prop(g, root, "name", leaf);
    prop(g, root, "orders", orders);
    orders->items = order;
    prop(g, order, "card", pii(g, NES_VT_STRING, "card"));
    prop(g, order, "note", NULL);
    prop(g, root, "meta", meta);
    meta->items = meta;
    static const char *const names[] = {"ip",
                                        "agent",
                                        "k1234567",
                                        "k12345678",
                                        "address_line1",
                                        "address_line2",
                                        "sixteen_bytes_16",
                                        "a_rather_long_member_name",
                                        ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        prop(g, meta, names[i], i % 2 ? leaf : NULL);
    prop(g, meta, "deep", meta);
    return root;
}

static const nes_pii_node *closed_schema(void)
{
    static nes_pii_graph *g;
    static nes_pii_node *root;
    if (g != NULL)
        return root;
    g = nes_pii_graph_new();
    root = build_closed(g);
    if (nes_pii_graph_finish(g) != 0)
        abort();
    return root;
}

/* Reference twins: the same automata with the transform's fast paths taken away (no property
 * index: bisection; has_pii_below set everywhere: no validate-and-check mode), which is how the
 * transform walked before those existed. Every verdict, error and output byte must agree. */
static void slow_down(nes_pii_node *n, nes_pii_node **seen, size_t *nseen)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < *nseen; i++)
        if (seen[i] == n)
            return;
    if (*nseen == 64)
        abort();
    seen[(*nseen)++] = n;
    free(n->slots);
    n->slots = NULL;
    n->has_pii_below = true;
    for (size_t i = 0; i < n->nprops; i++)
        slow_down(n->props[i].node, seen, nseen);
    slow_down(n->wildcard, seen, nseen);
    slow_down(n->items, seen, nseen);
}

static const nes_pii_node *reference(bool closed)
{
    static nes_pii_graph *g[2];
    static nes_pii_node *root[2];
    if (g[closed] != NULL)
        return root[closed];
    g[closed] = nes_pii_graph_new();
    root[closed] = closed ? build_closed(g[closed]) : build_schema(g[closed]);
    if (nes_pii_graph_finish(g[closed]) != 0)
        abort();
    nes_pii_node *seen[64];
    size_t nseen = 0;
    slow_down(root[closed], seen, &nseen);
    return root[closed];
}

static nes_status xform(nes_direction dir, const nes_pii_node *root, unsigned depth,
                        const uint8_t *in, size_t len, nes_buf *out, size_t *fields)
{
    nes_transform_opts o = {.dir = dir, .root = root, .codec = &codec, .max_depth = depth};
    nes_transform_stats st;
    nes_err err;
    out->len = 0;
    nes_status s = nes_transform(&o, in, len, out, &st, &err);
    if (s != NES_OK && (err.status != s || err.msg[0] == '\0'))
        abort();
    if (s == NES_OK && fields != NULL)
        *fields = st.fields;
    return s;
}

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Runs `root` and its reference twin on the same input: same status, error, output, counts. */
static void same_as_reference(nes_direction dir, const nes_pii_node *root, bool closed,
                              unsigned depth, const uint8_t *in, size_t len)
{
    const nes_pii_node *ref = reference(closed);
    nes_buf x = {0}, y = {0};
    nes_transform_stats sx, sy;
    nes_err ex, ey;
    for (int pass = 0; pass < 2; pass++) {
        nes_transform_opts o = {.dir = dir, .codec = &codec, .max_depth = depth};
        o.unknown = pass ? NES_UNKNOWN_PASS : NES_UNKNOWN_REJECT;
        o.root = root;
        x.len = y.len = 0;
        nes_status a = nes_transform(&o, in, len, &x, &sx, &ex);
        o.root = ref;
        nes_status b = nes_transform(&o, in, len, &y, &sy, &ey);
        check(a == b && sx.fields == sy.fields && sx.unknown_passed == sy.unknown_passed);
        if (a != NES_OK)
            check(ex.offset == ey.offset && strcmp(ex.msg, ey.msg) == 0);
        else
            check(x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0));
    }
    nes_buf_free(&x);
    nes_buf_free(&y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const nes_pii_node *root = schema();
    bool decrypt = data[0] & 1;
    unsigned depth = data[0] >> 1;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    nes_buf a = {0}, b = {0}, c = {0};
    size_t fa = 0, fb = 0;

    nes_status valid = nes_json_validate(in, len, depth, NULL);
    same_as_reference(decrypt ? NES_DECRYPT : NES_ENCRYPT, root, false, depth, in, len);
    same_as_reference(decrypt ? NES_DECRYPT : NES_ENCRYPT, closed_schema(), true, depth, in, len);
    nes_status plain = xform(NES_ENCRYPT, NULL, depth, in, len, &a, NULL);
    check(plain == valid);
    if (plain == NES_OK)
        check(a.len == len && (len == 0 || memcmp(a.data, in, len) == 0));

    if (decrypt) {
        nes_status s = xform(NES_DECRYPT, root, depth, in, len, &a, NULL);
        /* single pass: a token error may come before a later syntax error */
        if (valid != NES_OK)
            check(s == valid || s == NES_ERR_TOKEN);
        if (s == NES_ERR_JSON || s == NES_ERR_DEPTH)
            check(s == valid);
        if (s == NES_OK)
            check(nes_json_validate(a.data, a.len, depth, NULL) == NES_OK);
    } else {
        nes_status s = xform(NES_ENCRYPT, root, depth, in, len, &a, &fa);
        /* a PII value of a type its node forbids stops the pass where it stands */
        check(s == valid || s == NES_ERR_TYPE);
        /* fail closed: the same shapes with every node closed refuse undeclared members */
        nes_status sc = xform(NES_ENCRYPT, closed_schema(), depth, in, len, &c, NULL);
        check(sc == valid || sc == NES_ERR_TYPE || sc == NES_ERR_UNKNOWN_MEMBER);
        if (s == NES_OK) {
            check(nes_json_validate(a.data, a.len, depth, NULL) == NES_OK);
            check(xform(NES_DECRYPT, root, depth, a.data, a.len, &b, &fb) == NES_OK);
            check(fb == fa);
            check(nes_json_validate(b.data, b.len, depth, NULL) == NES_OK);
            check(xform(NES_ENCRYPT, root, depth, b.data, b.len, &c, NULL) == NES_OK);
            check(c.len == a.len && memcmp(c.data, a.data, a.len) == 0);
        }
    }
    nes_buf_free(&a);
    nes_buf_free(&b);
    nes_buf_free(&c);
    return 0;
}
