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
 * its output validates. */
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
static const nes_pii_node *schema(void)
{
    static nes_pii_graph *g;
    static nes_pii_node *root;
    if (g != NULL)
        return root;
    g = nes_pii_graph_new();
    root = nes_pii_node_new(g, "Root");
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
    if (nes_pii_graph_finish(g) != 0)
        abort();
    return root;
}

/* The automaton above with every non-PII node closed (undeclared members refused). */
static const nes_pii_node *closed_schema(void)
{
    static nes_pii_graph *g;
    static nes_pii_node *root;
    if (g != NULL)
        return root;
    g = nes_pii_graph_new();
    root = nes_pii_node_new(g, "Closed");
    nes_pii_node *leaf = nes_pii_node_new(g, NULL), *orders = nes_pii_node_new(g, NULL);
    nes_pii_node *order = nes_pii_node_new(g, NULL);
    root->members = leaf->members = orders->members = order->members = NES_MEMBERS_CLOSED;
    root->items = root;
    leaf->items = leaf;
    prop(g, root, "ssn", pii(g, NES_VT_STRING, "ssn"));
    prop(g, root, "name", leaf);
    prop(g, root, "orders", orders);
    orders->items = order;
    prop(g, order, "card", pii(g, NES_VT_STRING, "card"));
    prop(g, order, "note", NULL);
    if (nes_pii_graph_finish(g) != 0)
        abort();
    return root;
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
