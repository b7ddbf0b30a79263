/* Unit tests: transform.c (the JSON splice transform) with a fake codec and hand-built automata.
 *
 * Fake token: "T" + hex(plaintext) + "~" + context. Expected outputs are written with markers
 * <<ctx:plaintext>>, which expand to the quoted fake token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../fake_codec.h"
#include "core/json_scan.h"
#include "core/transform.h"

static fake_codec g_fake;
static const nes_codec g_codec = {.encrypt = fake_encrypt, .decrypt = fake_decrypt, .ud = &g_fake};

/* Expands <<ctx:plaintext>> markers into quoted fake tokens. Caller frees. */
static char *expand(const char *tmpl)
{
    static const char hex[] = "0123456789abcdef";
    size_t cap = strlen(tmpl) * 3 + 16, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    const char *p = tmpl;
    while (*p) {
        const char *m = strstr(p, "<<");
        if (m == NULL) {
            size_t k = strlen(p);
            memcpy(out + n, p, k);
            n += k;
            break;
        }
        memcpy(out + n, p, (size_t)(m - p));
        n += (size_t)(m - p);
        const char *colon = strchr(m, ':');
        const char *end = strstr(colon, ">>");
        assert_non_null(colon);
        assert_non_null(end);
        out[n++] = '"';
        out[n++] = 'T';
        for (const char *q = colon + 1; q < end; q++) {
            out[n++] = hex[(uint8_t)*q >> 4];
            out[n++] = hex[(uint8_t)*q & 15];
        }
        out[n++] = '~';
        memcpy(out + n, m + 2, (size_t)(colon - m - 2));
        n += (size_t)(colon - m - 2);
        out[n++] = '"';
        p = end + 2;
    }
    out[n] = '\0';
    return out;
}

/* ---- helpers --------------------------------------------------------------------------------- */

typedef struct result {
    nes_status st;
    char *out; /* NUL-terminated copy of the output (on success) */
    size_t len;
    size_t fields;
    nes_err err;
} result;

static result run_n(nes_direction dir, const nes_pii_node *root, const char *in, size_t in_len,
                    unsigned max_depth, size_t max_out)
{
    nes_transform_opts o = {.dir = dir, .root = root, .codec = &g_codec, .max_depth = max_depth};
    nes_buf b = {.max = max_out};
    nes_transform_stats stats = {.fields = 99};
    result r = {0};
    r.st = nes_transform(&o, (const uint8_t *)in, in_len, &b, &stats, &r.err);
    r.fields = stats.fields;
    if (r.st == NES_OK) {
        r.out = malloc(b.len + 1);
        assert_non_null(r.out);
        if (b.len)
            memcpy(r.out, b.data, b.len);
        r.out[b.len] = '\0';
        r.len = b.len;
    }
    nes_buf_free(&b);
    return r;
}

static result run(nes_direction dir, const nes_pii_node *root, const char *in)
{
    return run_n(dir, root, in, strlen(in), 0, 0);
}

/* Asserts that transforming `in` gives the expansion of `want` with `fields` fields. */
static void expect(nes_direction dir, const nes_pii_node *root, const char *in, const char *want,
                   size_t fields)
{
    char *w = expand(want);
    result r = run(dir, root, in);
    if (r.st != NES_OK)
        fail_msg("transform failed: %s at %zu (%s) for %s", nes_status_name(r.st), r.err.offset,
                 r.err.msg, in);
    if (strcmp(r.out, w) != 0)
        fail_msg("got  %s\nwant %s", r.out, w);
    assert_int_equal(r.fields, fields);
    free(r.out);
    free(w);
}

static void expect_enc(const nes_pii_node *root, const char *in, const char *want, size_t fields)
{
    expect(NES_ENCRYPT, root, in, want, fields);
}

/* Asserts that decrypting the expansion of `tmpl` gives `want`. */
static void expect_dec(const nes_pii_node *root, const char *tmpl, const char *want, size_t fields)
{
    char *in = expand(tmpl);
    expect(NES_DECRYPT, root, in, want, fields);
    free(in);
}

static void expect_err(nes_direction dir, const nes_pii_node *root, const char *in, nes_status st,
                       size_t offset)
{
    result r = run(dir, root, in);
    if (r.st != st || r.err.offset != offset)
        fail_msg("%s: got %s at %zu (%s), want %s at %zu", in, nes_status_name(r.st), r.err.offset,
                 r.err.msg, nes_status_name(st), offset);
    assert_int_equal(r.err.status, st);
    assert_true(r.err.msg[0] != '\0');
    assert_null(r.out);
}

/* ---- the schema used by most tests ----------------------------------------------------------- */

typedef struct schema {
    nes_pii_graph *g;
    nes_pii_node *root;
    nes_pii_node *any_root; /* the whole body is one PII value */
} schema;

static nes_pii_node *pii_node(nes_pii_graph *g, nes_value_type t, const char *ctx)
{
    nes_pii_node *n = nes_pii_node_new(g, NULL);
    assert_non_null(n);
    assert_int_equal(nes_pii_node_mark(g, n, t, ctx, ctx ? strlen(ctx) : 0), 0);
    return n;
}

static void prop(nes_pii_graph *g, nes_pii_node *parent, const char *key, nes_pii_node *child)
{
    assert_int_equal(nes_pii_node_set_prop(g, parent, key, strlen(key), child), 0);
}

/*  root: ssn (string, "ssn"), name (plain), flag (any), tags (json),
 *        profile{email (string), address (any, "addr")},
 *        orders[]{card (string, "card"), amount (any)},
 *        matrix[][] (any), labels{* (string), public (plain)},
 *        tree{ssn (string, "ssn"), children[] -> tree}   (recursive) */
static int setup(void **state)
{
    schema *s = calloc(1, sizeof *s);
    nes_pii_graph *g = s->g = nes_pii_graph_new();
    nes_pii_node *root = s->root = nes_pii_node_new(g, "Root");
    prop(g, root, "ssn", pii_node(g, NES_VT_STRING, "ssn"));
    prop(g, root, "name", nes_pii_node_new(g, "Name"));
    prop(g, root, "flag", pii_node(g, NES_VT_ANY, NULL));
    prop(g, root, "tags", pii_node(g, NES_VT_JSON, NULL));
    nes_pii_node *profile = nes_pii_node_new(g, "Profile");
    prop(g, root, "profile", profile);
    prop(g, profile, "email", pii_node(g, NES_VT_STRING, NULL));
    prop(g, profile, "address", pii_node(g, NES_VT_ANY, "addr"));
    nes_pii_node *orders = nes_pii_node_new(g, "Orders");
    nes_pii_node *order = nes_pii_node_new(g, "Order");
    prop(g, root, "orders", orders);
    orders->items = order;
    prop(g, order, "card", pii_node(g, NES_VT_STRING, "card"));
    prop(g, order, "amount", pii_node(g, NES_VT_ANY, NULL));
    nes_pii_node *matrix = nes_pii_node_new(g, "Matrix");
    nes_pii_node *row = nes_pii_node_new(g, "Row");
    prop(g, root, "matrix", matrix);
    matrix->items = row;
    row->items = pii_node(g, NES_VT_ANY, NULL);
    nes_pii_node *labels = nes_pii_node_new(g, "Labels");
    prop(g, root, "labels", labels);
    labels->wildcard = pii_node(g, NES_VT_STRING, NULL);
    prop(g, labels, "public", nes_pii_node_new(g, NULL));
    nes_pii_node *tree = nes_pii_node_new(g, "Tree");
    nes_pii_node *children = nes_pii_node_new(g, "Children");
    prop(g, root, "tree", tree);
    prop(g, tree, "ssn", pii_node(g, NES_VT_STRING, "ssn"));
    prop(g, tree, "children", children);
    children->items = tree;
    s->any_root = pii_node(g, NES_VT_ANY, NULL);
    assert_int_equal(nes_pii_graph_finish(g), 0);
    memset(&g_fake, 0, sizeof g_fake);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    schema *s = *state;
    nes_pii_graph_free(s->g);
    free(s);
    return 0;
}

static const nes_pii_node *root_of(void **state)
{
    return ((schema *)*state)->root;
}

/* ---- encrypt --------------------------------------------------------------------------------- */

static void flat_object_keeps_every_other_byte(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_enc(root, "{ \"name\" : \"Al\" ,\n \"ssn\" : \"123-45\"\t}\r\n",
               "{ \"name\" : \"Al\" ,\n \"ssn\" : <<ssn:123-45>>\t}\r\n", 1);
    expect_enc(root, "{}", "{}", 0);
    expect_enc(root, "[]", "[]", 0);
    expect_enc(root, " 42 ", " 42 ", 0);
    expect_enc(root, "{\"ssn\":\"\"}", "{\"ssn\":<<ssn:>>}", 1);
}

static void nested_objects(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_enc(root,
               "{\"profile\":{\"email\":\"a@b\",\"other\":{\"email\":\"x\"}},\"email\":\"y\"}",
               "{\"profile\":{\"email\":<<:a@b>>,\"other\":{\"email\":\"x\"}},\"email\":\"y\"}", 1);
    /* a schema object that holds the wrong kind of value is validated, not transformed */
    expect_enc(root, "{\"profile\":[{\"email\":\"a\"}],\"orders\":{\"card\":\"1\"}}",
               "{\"profile\":[{\"email\":\"a\"}],\"orders\":{\"card\":\"1\"}}", 0);
    expect_enc(root, "{\"profile\":\"str\",\"orders\":7}", "{\"profile\":\"str\",\"orders\":7}", 0);
}

static void arrays_of_objects(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_enc(root,
               "{\"orders\":[{\"card\":\"4111\",\"amount\":12.5},{\"amount\":null,\"card\":\"55\"},"
               "{}]}",
               "{\"orders\":[{\"card\":<<card:4111>>,\"amount\":<<:12.5>>},{\"amount\":null,"
               "\"card\":<<card:55>>},{}]}",
               3);
}

static void nested_arrays(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_enc(root, "{\"matrix\":[[1, 2],[],[3,[4, 5]],\"x\"]}",
               "{\"matrix\":[[<<:1>>, <<:2>>],[],[<<:3>>,<<:[4,5]>>],\"x\"]}", 4);
}

static void wildcard_maps_and_exact_keys(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_enc(root, "{\"labels\":{\"a\":\"x\",\"public\":\"p\",\"b\":\"y\",\"c\":null}}",
               "{\"labels\":{\"a\":<<:x>>,\"public\":\"p\",\"b\":<<:y>>,\"c\":null}}", 2);
}

static void recursive_schema(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_enc(root,
               "{\"tree\":{\"ssn\":\"1\",\"children\":[{\"ssn\":\"2\",\"children\":[{\"ssn\":\"3\","
               "\"children\":[]}]},{\"children\":[{\"ssn\":\"4\"}]}]}}",
               "{\"tree\":{\"ssn\":<<ssn:1>>,\"children\":[{\"ssn\":<<ssn:2>>,\"children\":[{"
               "\"ssn\":<<ssn:3>>,\"children\":[]}]},{\"children\":[{\"ssn\":<<ssn:4>>}]}]}}",
               4);
}

static void pii_objects_and_arrays_are_minified(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_enc(root,
               "{\"profile\":{\"address\": { \"street\" : \"1  Main\" ,\n \"zip\" : [ 1 , 2 ] } }}",
               "{\"profile\":{\"address\": <<addr:{\"street\":\"1  Main\",\"zip\":[1,2]}>> }}", 1);
    expect_enc(root, "{\"tags\":[ \"a\\\"b\" , {} , [ ] ]}", "{\"tags\":<<:[\"a\\\"b\",{},[]]>>}",
               1);
}

static void numbers_booleans_and_null(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_enc(root, "{\"flag\":true}", "{\"flag\":<<:true>>}", 1);
    expect_enc(root, "{\"flag\":false}", "{\"flag\":<<:false>>}", 1);
    expect_enc(root, "{\"flag\":-1.5E+3}", "{\"flag\":<<:-1.5E+3>>}", 1);
    expect_enc(root, "{\"flag\":0}", "{\"flag\":<<:0>>}", 1);
    expect_enc(root, "{\"flag\":null}", "{\"flag\":null}", 0);
    expect_enc(root, "{\"ssn\":null,\"flag\" : null }", "{\"ssn\":null,\"flag\" : null }", 0);
}

static void escaped_keys_and_values(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_enc(root, "{\"s\\u0073n\":\"1\",\"\\u0073\\u0073\\u006e\":\"2\",\"ss\\n\":\"3\"}",
               "{\"s\\u0073n\":<<ssn:1>>,\"\\u0073\\u0073\\u006e\":<<ssn:2>>,\"ss\\n\":\"3\"}", 2);
    /* the plaintext of an escaped string is its unescaped UTF-8 */
    expect_enc(root, "{\"ssn\":\"a\\\"b\\u00e9\\n\\uD83D\\uDE00\"}",
               "{\"ssn\":<<ssn:a\"b\xc3\xa9\n\xf0\x9f\x98\x80>>}", 1);
    /* labels: escaped keys take the wildcard unless they unescape to an exact key */
    expect_enc(root, "{\"labels\":{\"pub\\u006cic\":\"p\",\"x\\ty\":\"q\"}}",
               "{\"labels\":{\"pub\\u006cic\":\"p\",\"x\\ty\":<<:q>>}}", 1);
}

static void duplicate_keys_all_transformed(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_enc(root, "{\"ssn\":\"1\",\"name\":\"n\",\"ssn\":\"2\",\"ssn\":\"3\"}",
               "{\"ssn\":<<ssn:1>>,\"name\":\"n\",\"ssn\":<<ssn:2>>,\"ssn\":<<ssn:3>>}", 3);
}

static void pii_root_and_no_root(void **state)
{
    const schema *s = *state;
    expect_enc(s->any_root, " {\"a\": [1, 2]} ", " <<:{\"a\":[1,2]}>> ", 1);
    /* NES_VT_ANY: a string encrypts as JSON text, with its quotes (escaped canonically) */
    expect_enc(s->any_root, "\"x\"", "<<:\"x\">>", 1);
    expect_enc(s->any_root, "\"\\u0041\\/\"", "<<:\"A/\">>", 1);
    expect_enc(s->any_root, "null", "null", 0);
    /* NULL root: validation and a verbatim copy */
    const char *doc = "{ \"ssn\" : \"1\", \"a\":[1,2,{\"b\":null}] }";
    expect_enc(NULL, doc, doc, 0);
    expect_err(NES_ENCRYPT, NULL, "{\"a\":[1,2}", NES_ERR_JSON, 9);
    /* a root without PII anywhere behaves as NULL, even without a codec */
    nes_pii_node *plain = nes_pii_node_new(s->g, NULL);
    assert_int_equal(nes_pii_graph_finish(s->g), 0);
    nes_transform_opts o = {.dir = NES_ENCRYPT, .root = plain};
    nes_buf b = {0};
    assert_int_equal(nes_transform(&o, (const uint8_t *)doc, strlen(doc), &b, NULL, NULL), NES_OK);
    assert_int_equal(b.len, strlen(doc));
    nes_buf_free(&b);
}

/* ---- decrypt --------------------------------------------------------------------------------- */

static void decrypt_restores_types(void **state)
{
    const nes_pii_node *root = root_of(state);
    /* a round trip of values that are already in minified form gives the input back */
    const char *doc = "{\"ssn\":\"1 2\",\"flag\":true,\"tags\":[\"a\",1,{\"b\":null}],"
                      "\"orders\":[{\"amount\":-12.5e1,\"card\":\"x\\\"y\\u0001\"}],"
                      "\"profile\":{\"address\":{\"z\":1},\"email\":\"\xc3\xa9\"},"
                      "\"matrix\":[[false,{}],[\"s\"]],\"n\":{\"ssn\":1}}";
    result e = run(NES_ENCRYPT, root, doc);
    assert_int_equal(e.st, NES_OK);
    assert_int_equal(e.fields, 10);
    result d = run(NES_DECRYPT, root, e.out);
    assert_int_equal(d.st, NES_OK);
    assert_int_equal(d.fields, 10);
    assert_string_equal(d.out, doc);
    free(e.out);
    free(d.out);
}

/* Asserts that decrypting the expansion of `tmpl` fails with NES_ERR_TOKEN at `offset`. */
static void expect_dec_err(const nes_pii_node *root, const char *tmpl, size_t offset)
{
    char *in = expand(tmpl);
    expect_err(NES_DECRYPT, root, in, NES_ERR_TOKEN, offset);
    free(in);
}

static void decrypt_by_value_type(void **state)
{
    const nes_pii_node *root = root_of(state);
    /* NES_VT_STRING: always a string */
    expect_dec(root, "{\"ssn\":<<ssn:5>>}", "{\"ssn\":\"5\"}", 1);
    expect_dec(root, "{\"ssn\":<<ssn:{\"a\":1}>>}", "{\"ssn\":\"{\\\"a\\\":1}\"}", 1);
    expect_dec(root, "{\"ssn\":<<ssn:a\tb\x01>>}", "{\"ssn\":\"a\\tb\\u0001\"}", 1);
    /* NES_VT_ANY: minified JSON of any type comes back as it is, anything else is refused */
    expect_dec(root, "{\"flag\":<<:5>>}", "{\"flag\":5}", 1);
    expect_dec(root, "{\"flag\":<<:false>>}", "{\"flag\":false}", 1);
    expect_dec(root, "{\"flag\":<<:\"abc\">>}", "{\"flag\":\"abc\"}", 1);
    expect_dec(root, "{\"flag\":<<:\"12345\">>}", "{\"flag\":\"12345\"}", 1);
    expect_dec_err(root, "{\"flag\":<<:abc>>}", 8);
    expect_dec_err(root, "{\"flag\":<<: 1>>}", 8);
    expect_dec_err(root, "{\"flag\":<<:1 >>}", 8);
    expect_dec_err(root, "{\"flag\":<<:null>>}", 8);
    expect_dec_err(root, "{\"flag\":<<:>>}", 8);
    expect_dec_err(root, "{\"flag\":<<:01>>}", 8);
    /* NES_VT_JSON: minified non-string JSON only */
    expect_dec_err(root, "{\"tags\":<<:\"q\">>}", 8);
    expect_dec_err(root, "{\"tags\":<<:[1, 2]>>}", 8);
    expect_dec(root, "{\"tags\":<<:[1,2]>>}", "{\"tags\":[1,2]}", 1);
    expect_dec(root, "{\"tags\":<<:{\"a\":[1,{}],\"b\":\"x y\"}>>}",
               "{\"tags\":{\"a\":[1,{}],\"b\":\"x y\"}}", 1);
    expect_dec_err(root, "{\"tags\":<<:{\"a\" :1}>>}", 8);
    expect_dec_err(root, "{\"tags\":<<:[1,2]x>>}", 8);
    /* null stays null; escaped token text is unescaped first */
    expect_dec(root, "{\"ssn\":null,\"flag\":null}", "{\"ssn\":null,\"flag\":null}", 0);
    expect_dec(root, "{\"ssn\":\"\\u0054\\u0033\\u0031~ssn\"}", "{\"ssn\":\"1\"}", 1);
}

static void decrypt_rejects_non_tokens(void **state)
{
    const nes_pii_node *root = root_of(state);
    expect_err(NES_DECRYPT, root, "{\"ssn\":123}", NES_ERR_TOKEN, 7);
    expect_err(NES_DECRYPT, root, "{\"ssn\":true}", NES_ERR_TOKEN, 7);
    expect_err(NES_DECRYPT, root, "{\"a\":1, \"ssn\" : {\"x\":1}}", NES_ERR_TOKEN, 16);
    expect_err(NES_DECRYPT, root, "{\"tags\":[\"T31~\"]}", NES_ERR_TOKEN, 8);
    expect_err(NES_DECRYPT, root, "{\"ssn\":\"plain text\"}", NES_ERR_TOKEN, 7);
    /* a token under the wrong context does not open */
    char *in = expand("{\"ssn\":<<card:1>>}");
    expect_err(NES_DECRYPT, root, in, NES_ERR_TOKEN, 7);
    free(in);
    /* plaintext that must become a string but is not UTF-8 */
    expect_err(NES_DECRYPT, root, "{\"ssn\":\"Tff~ssn\"}", NES_ERR_TOKEN, 7);
    expect_err(NES_DECRYPT, root, "{\"flag\":\"Tc0af~\"}", NES_ERR_TOKEN, 8);
    /* invalid JSON is still a JSON error, not a token error */
    expect_err(NES_DECRYPT, root, "{\"ssn\":\"T31~ssn\",}", NES_ERR_JSON, 17);
}

/* ---- fail closed and value types ---------------------------------------------------------- */

/* closed: {ssn (string), "a/b~c": {x (integer, closed leaf)}, list: [closed {n}], num (number PII),
 *          any (any value)} */
static const nes_pii_node *closed_schema(nes_pii_graph *g)
{
    nes_pii_node *root = nes_pii_node_new(g, "Closed");
    nes_pii_node *obj = nes_pii_node_new(g, NULL), *leaf = nes_pii_node_new(g, NULL);
    nes_pii_node *list = nes_pii_node_new(g, NULL), *item = nes_pii_node_new(g, NULL);
    root->members = obj->members = leaf->members = list->members = item->members =
        NES_MEMBERS_CLOSED;
    leaf->items = leaf;
    prop(g, root, "ssn", pii_node(g, NES_VT_STRING, "ssn"));
    prop(g, root, "a/b~c", obj);
    prop(g, obj, "x", leaf);
    prop(g, root, "list", list);
    list->items = item;
    prop(g, item, "n", leaf);
    nes_pii_node *num = pii_node(g, NES_VT_JSON, NULL);
    num->types = NES_JT_NUMBER;
    prop(g, root, "num", num);
    prop(g, root, "any", NULL);
    assert_int_equal(nes_pii_graph_finish(g), 0);
    return root;
}

static void unknown_members_are_refused_with_their_pointer(void **state)
{
    schema *s = *state;
    const nes_pii_node *root = closed_schema(s->g);
    static const struct {
        const char *in;
        size_t offset;
        const char *pointer;
    } bad[] = {
        {"{\"Ssn\":\"SECRET\"}", 1, "\"/Ssn\""},
        {"{\"a/b~c\":{\"x\":1,\"y\":\"SECRET\"}}", 16, "\"/a~1b~0c/y\""},
        {"{\"a/b~c\":{\"x\":{\"k\":\"SECRET\"}}}", 15, "\"/a~1b~0c/x/k\""},
        {"{\"list\":[{\"n\":1},{\"n\":[{\"q\":\"SECRET\"}]}]}", 24, "\"/list/1/n/0/q\""},
        {"{\"any\":{\"free\":1},\"\\u0001\\/\":\"SECRET\"}", 18, "\"/\\u0001~1\""},
        /* scalars passed over still count in array pointers; names checked in the
         * validate-and-check mode (no PII below) and past 16 bytes */
        {"{\"list\":[1,\"x\",true,{\"n\":1},null,{\"z\":1}]}", 34, "\"/list/5/z\""},
        {"{\"any\":[1,{\"q\":2}],\"ssn\":null,\"Q\":1}", 30, "\"/Q\""},
        {"{\"a/b~c\":{\"x\":[1,2,{\"k\":3}]}}", 20, "\"/a~1b~0c/x/2/k\""},
        {"{\"a/b~c\":{\"x\":1,\"a_rather_long_member_name_here\":2}}", 16,
         "\"/a~1b~0c/a_rather_long_member_name_here\""},
        {"{\"a/b~c\":{\"\\u0078\":1,\"xx\":2}}", 21, "\"/a~1b~0c/xx\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int dir = 0; dir < 2; dir++) {
            result r = run(dir ? NES_DECRYPT : NES_ENCRYPT, root, bad[i].in);
            if (r.st != NES_ERR_UNKNOWN_MEMBER || r.err.offset != bad[i].offset ||
                strstr(r.err.msg, bad[i].pointer) == NULL)
                fail_msg("%s: got %s at %zu: %s", bad[i].in, nes_status_name(r.st), r.err.offset,
                         r.err.msg);
            assert_null(strstr(r.err.msg, "SECRET"));
        }
    }
    /* a long pointer is cut, never overflowing the message */
    char big[2048];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"");
    memset(big + n, 'k', 1000);
    n += 1000;
    snprintf(big + n, sizeof big - n, "\":1}");
    result r = run(NES_ENCRYPT, root, big);
    assert_int_equal(r.st, NES_ERR_UNKNOWN_MEMBER);
    assert_non_null(strstr(r.err.msg, "...\""));
}

static void unknown_members_pass_when_told_and_are_counted(void **state)
{
    schema *s = *state;
    const nes_pii_node *root = closed_schema(s->g);
    const char *in =
        "{\"ssn\":\"1\",\"Ssn\":{\"deep\":[1]},\"a/b~c\":{\"y\":2},\"list\":[{\"m\":3}]}";
    nes_transform_opts o = {
        .dir = NES_ENCRYPT, .root = root, .codec = &g_codec, .unknown = NES_UNKNOWN_PASS};
    nes_buf b = {0};
    nes_transform_stats st;
    nes_err err;
    assert_int_equal(nes_transform(&o, (const uint8_t *)in, strlen(in), &b, &st, &err), NES_OK);
    assert_int_equal(st.fields, 1);
    assert_int_equal(st.unknown_passed, 3);
    nes_buf_free(&b);
    /* the hand-built nodes of the other tests let undeclared members pass, counted */
    o.root = root_of(state);
    o.unknown = NES_UNKNOWN_REJECT;
    assert_int_equal(nes_transform(&o, (const uint8_t *)"{\"zz\":1,\"yy\":{}}", 16, &b, &st, &err),
                     NES_OK);
    assert_int_equal(st.unknown_passed, 2);
    nes_buf_free(&b);
}

static void pii_values_of_a_forbidden_type_are_refused(void **state)
{
    schema *s = *state;
    const nes_pii_node *root = closed_schema(s->g);
    expect_enc(root, "{\"num\":12.5,\"ssn\":null,\"num\":null}",
               "{\"num\":<<:12.5>>,\"ssn\":null,\"num\":null}", 1);
    static const struct {
        const char *in;
        size_t offset;
        const char *pointer;
    } bad[] = {
        {"{\"ssn\":12345}", 7, "\"/ssn\""},      {"{\"ssn\":{\"a\":\"SECRET\"}}", 7, "\"/ssn\""},
        {"{\"num\":\"SECRET\"}", 7, "\"/num\""}, {"{\"num\":true}", 7, "\"/num\""},
        {"{\"num\":[1]}", 7, "\"/num\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        result r = run(NES_ENCRYPT, root, bad[i].in);
        if (r.st != NES_ERR_TYPE || r.err.offset != bad[i].offset ||
            strstr(r.err.msg, bad[i].pointer) == NULL)
            fail_msg("%s: got %s at %zu: %s", bad[i].in, nes_status_name(r.st), r.err.offset,
                     r.err.msg);
        assert_null(strstr(r.err.msg, "SECRET"));
        assert_null(strstr(r.err.msg, "12345"));
    }
    /* decrypt: a token whose plaintext has another type does not come back */
    expect_dec_err(root, "{\"num\":<<:\"5\">>}", 7);
    expect_dec_err(root, "{\"num\":<<:true>>}", 7);
    expect_dec(root, "{\"num\":<<:5>>}", "{\"num\":5}", 1);
}

/* ---- limits and errors ----------------------------------------------------------------------- */

static char *nested(unsigned levels, const char *open, const char *mid, const char *close)
{
    size_t n = 0, cap = levels * (strlen(open) + strlen(close)) + strlen(mid) + 1;
    char *s = malloc(cap);
    assert_non_null(s);
    for (unsigned i = 0; i < levels; i++)
        n += (size_t)sprintf(s + n, "%s", open);
    n += (size_t)sprintf(s + n, "%s", mid);
    for (unsigned i = 0; i < levels; i++)
        n += (size_t)sprintf(s + n, "%s", close);
    return s;
}

static void depth_limit_exact(void **state)
{
    const nes_pii_node *root = root_of(state);
    /* on the PII path (tree/children recursion): depth counts every container */
    const char *ok3 = "{\"tree\":{\"ssn\":\"1\"}}";
    result r = run_n(NES_ENCRYPT, root, ok3, strlen(ok3), 2, 0);
    assert_int_equal(r.st, NES_OK);
    free(r.out);
    const char *deep = "{\"tree\":{\"children\":[{\"ssn\":\"1\"}]}}";
    r = run_n(NES_ENCRYPT, root, deep, strlen(deep), 4, 0);
    assert_int_equal(r.st, NES_OK);
    assert_int_equal(r.fields, 1);
    free(r.out);
    r = run_n(NES_ENCRYPT, root, deep, strlen(deep), 3, 0);
    assert_int_equal(r.st, NES_ERR_DEPTH);
    assert_int_equal(r.err.offset, 21);
    /* in a skipped subtree and inside a PII value */
    const char *skip = "{\"x\":[[1]],\"tags\":[[2]]}";
    r = run_n(NES_ENCRYPT, root, skip, strlen(skip), 3, 0);
    assert_int_equal(r.st, NES_OK);
    free(r.out);
    r = run_n(NES_ENCRYPT, root, skip, strlen(skip), 2, 0);
    assert_int_equal(r.st, NES_ERR_DEPTH);
    assert_int_equal(r.err.offset, 6);
    const char *pii = "{\"tags\":[[2]]}";
    r = run_n(NES_ENCRYPT, root, pii, strlen(pii), 2, 0);
    assert_int_equal(r.st, NES_ERR_DEPTH);
    assert_int_equal(r.err.offset, 9);
    /* the default limit: 128 levels pass, 129 do not */
    char *a128 = nested(NES_DEFAULT_MAX_DEPTH, "[", "1", "]");
    char *a129 = nested(NES_DEFAULT_MAX_DEPTH + 1, "[", "1", "]");
    r = run(NES_ENCRYPT, root, a128);
    assert_int_equal(r.st, NES_OK);
    free(r.out);
    r = run(NES_ENCRYPT, root, a129);
    assert_int_equal(r.st, NES_ERR_DEPTH);
    assert_int_equal(r.err.offset, NES_DEFAULT_MAX_DEPTH);
    assert_int_equal(nes_json_validate((const uint8_t *)a128, strlen(a128), 0, NULL), NES_OK);
    assert_int_equal(nes_json_validate((const uint8_t *)a129, strlen(a129), 0, NULL),
                     NES_ERR_DEPTH);
    free(a128);
    free(a129);
    /* a deep recursive document that is PII all the way down (past the inline frame stack) */
    char *t200 = nested(200, "{\"ssn\":\"s\",\"children\":[", "", "]}");
    char *doc = malloc(strlen(t200) + 16);
    assert_non_null(doc);
    sprintf(doc, "{\"tree\":%s}", t200); /* 401 levels */
    nes_err err;
    assert_int_equal(nes_json_validate((const uint8_t *)doc, strlen(doc), 1000, &err), NES_OK);
    r = run_n(NES_ENCRYPT, root, doc, strlen(doc), 1000, 0);
    assert_int_equal(r.st, NES_OK);
    assert_int_equal(r.fields, 200);
    free(r.out);
    r = run_n(NES_ENCRYPT, root, doc, strlen(doc), 401, 0);
    assert_int_equal(r.st, NES_OK);
    free(r.out);
    r = run_n(NES_ENCRYPT, root, doc, strlen(doc), 400, 0);
    assert_int_equal(r.st, NES_ERR_DEPTH);
    free(doc);
    free(t200);
}

static void decrypted_json_respects_remaining_depth(void **state)
{
    const nes_pii_node *root = root_of(state);
    char *in = expand("{\"tags\":<<:[[1]]>>,\"flag\":<<:[1]>>}");
    /* deeper than the limit allows there: refused rather than turned into a string */
    result r = run_n(NES_DECRYPT, root, in, strlen(in), 2, 0);
    assert_int_equal(r.st, NES_ERR_TOKEN);
    assert_int_equal(r.err.offset, 8);
    r = run_n(NES_DECRYPT, root, in, strlen(in), 3, 0);
    assert_int_equal(r.st, NES_OK);
    assert_string_equal(r.out, "{\"tags\":[[1]],\"flag\":[1]}");
    free(r.out);
    free(in);
}

static void output_cap(void **state)
{
    const nes_pii_node *root = root_of(state);
    const char *doc = "{\"ssn\":\"123\",\"name\":\"x\",\"orders\":[{\"card\":\"4\"}]}";
    result full = run(NES_ENCRYPT, root, doc);
    assert_int_equal(full.st, NES_OK);
    for (size_t cap = 1; cap < full.len; cap++) {
        result r = run_n(NES_ENCRYPT, root, doc, strlen(doc), 0, cap);
        assert_int_equal(r.st, NES_ERR_LIMIT);
        assert_int_equal(r.err.status, NES_ERR_LIMIT);
    }
    result r = run_n(NES_ENCRYPT, root, doc, strlen(doc), 0, full.len);
    assert_int_equal(r.st, NES_OK);
    assert_string_equal(r.out, full.out);
    free(r.out);
    /* decrypt and plain copies are capped too */
    r = run_n(NES_DECRYPT, root, full.out, full.len, 0, strlen(doc) - 1);
    assert_int_equal(r.st, NES_ERR_LIMIT);
    r = run_n(NES_ENCRYPT, NULL, doc, strlen(doc), 0, strlen(doc) - 1);
    assert_int_equal(r.st, NES_ERR_LIMIT);
    r = run_n(NES_ENCRYPT, NULL, doc, strlen(doc), 0, strlen(doc));
    assert_int_equal(r.st, NES_OK);
    free(r.out);
    free(full.out);
    /* output is appended to what the buffer holds */
    nes_transform_opts o = {.dir = NES_ENCRYPT, .root = root, .codec = &g_codec};
    nes_buf b = {0};
    assert_int_equal(nes_buf_append(&b, "HDR", 3), 0);
    assert_int_equal(nes_transform(&o, (const uint8_t *)"{\"ssn\":\"1\"}", 11, &b, NULL, NULL),
                     NES_OK);
    char *want = expand("HDR{\"ssn\":<<ssn:1>>}");
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    free(want);
    nes_buf_free(&b);
}

static void codec_failures(void **state)
{
    const nes_pii_node *root = root_of(state);
    g_fake.fail_encrypt = true;
    expect_err(NES_ENCRYPT, root, "{\"name\":1,\"ssn\":\"1\"}", NES_ERR_CRYPTO, 16);
    g_fake.fail_encrypt = false;
    g_fake.bad_token = true;
    expect_err(NES_ENCRYPT, root, "{\"ssn\":\"1\"}", NES_ERR_CRYPTO, 7);
    g_fake.bad_token = false;
    /* PII in the schema but no codec */
    nes_transform_opts o = {.dir = NES_ENCRYPT, .root = root};
    nes_buf b = {0};
    nes_err err;
    assert_int_equal(nes_transform(&o, (const uint8_t *)"{}", 2, &b, NULL, &err), NES_ERR_CRYPTO);
    nes_buf_free(&b);
}

/* Builds the expected output by splicing fake tokens over the marked spans of the input, so the
 * comparison checks that every byte outside PII values is the input's own byte. */
static void non_pii_bytes_are_verbatim(void **state)
{
    const nes_pii_node *root = root_of(state);
    /* PII values are the unique strings "P0".."P9"; everything else is varied non-PII JSON. */
    const char *doc =
        "\n\t{ \"name\" :\"\\u00e9\\n\xe2\x82\xac \\\"quoted\\\" \\\\ \" ,\r\n"
        "  \"ssn\"\t:\t\"P0\" , \"junk\" : [ 1.5e-3 , -0 , true , false , null , { } , [ ] ,"
        " {\"ssn\":\"not pii here\",\"deep\":[[[{\"a\":\"\xf0\x9f\x98\x80\"}]]]} ] ,\n"
        "  \"orders\" : [ { \"note\" : \"x\" , \"card\" : \"P1\" } ,{\"card\":\"P2\"}],\n"
        "  \"labels\" : { \"public\" : \"pub\" , \"k\\u0031\" : \"P3\" },\n"
        "  \"tree\" : {\"children\":[ {\"ssn\" : \"P4\", \"children\" : [ ] } ] },\n"
        "  \"matrix\" : [ [ \"P5\" ] , [ \"P6\", \"P7\" ] ] ,\n"
        "  \"profile\" : { \"email\" : \"P8\" , \"phone\" : \"555\" } , \"ssn\" : \"P9\"\n}  \n";
    static const char *ctx_of[10] = {"ssn", "card", "card", "", "ssn", "", "", "", "", "ssn"};
    static const bool quoted[10] = {[5] = true, [6] = true, [7] = true}; /* NES_VT_ANY */
    size_t cap = strlen(doc) * 2 + 256, n = 0;
    char *want = malloc(cap);
    assert_non_null(want);
    const char *p = doc;
    for (int i = 0; i < 10; i++) {
        char mark[8];
        snprintf(mark, sizeof mark, "\"P%d\"", i);
        const char *at = strstr(p, mark);
        assert_non_null(at);
        memcpy(want + n, p, (size_t)(at - p));
        n += (size_t)(at - p);
        n +=
            (size_t)snprintf(want + n, cap - n, quoted[i] ? "\"T2250%02x22~%s\"" : "\"T50%02x~%s\"",
                             '0' + i, ctx_of[i]);
        p = at + strlen(mark);
    }
    n += (size_t)snprintf(want + n, cap - n, "%s", p);
    result r = run(NES_ENCRYPT, root, doc);
    if (r.st != NES_OK)
        fail_msg("%s at %zu", r.err.msg, r.err.offset);
    assert_int_equal(r.fields, 10);
    assert_string_equal(r.out, want);
    free(r.out);
    free(want);
}

static void errors_never_echo_content(void **state)
{
    const nes_pii_node *root = root_of(state);
    static const char *bad[] = {
        "{\"ssn\":\"SECRET\"",
        "{\"ssn\":\"SECRET\" \"x\"}",
        "{\"SECRET\" 1}",
        "[\"SECRET\x01\"]",
        "[\"SECRET\xff\"]",
        "[\"SECRET\\q\"]",
        "[\"SECRET\\uD800\"]",
        "[SECRET]",
        "{\"ssn\":\"SECRET\"} SECRET",
        "{\"ssn\":-SECRET}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int dir = 0; dir < 2; dir++) {
            result r = run(dir ? NES_DECRYPT : NES_ENCRYPT, root, bad[i]);
            assert_int_not_equal(r.st, NES_OK);
            assert_true(r.err.offset <= strlen(bad[i]));
            if (strstr(r.err.msg, "SECRET") != NULL || strstr(r.err.msg, "ECR") != NULL)
                fail_msg("error echoes content: %s", r.err.msg);
        }
    }
    /* token errors neither */
    result r = run(NES_DECRYPT, root, "{\"ssn\":\"SECRET\"}");
    assert_int_equal(r.st, NES_ERR_TOKEN);
    assert_null(strstr(r.err.msg, "ECR"));
}

static void validate_top_level(void **state)
{
    (void)state;
    static const char *ok[] = {"0", "\"\"", "true", " [ ] ", "{\"a\":{}}"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(nes_json_validate((const uint8_t *)ok[i], strlen(ok[i]), 0, NULL), NES_OK);
    nes_err err;
    assert_int_equal(nes_json_validate((const uint8_t *)"", 0, 0, &err), NES_ERR_JSON);
    assert_int_equal(err.offset, 0);
    assert_int_equal(nes_json_validate((const uint8_t *)"[1] [2]", 7, 0, &err), NES_ERR_JSON);
    assert_int_equal(err.offset, 4);
    assert_int_equal(nes_json_validate((const uint8_t *)"{}", 2, 0, &err), NES_OK);
    assert_int_equal(err.status, NES_OK);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(flat_object_keeps_every_other_byte),
        T(nested_objects),
        T(arrays_of_objects),
        T(nested_arrays),
        T(wildcard_maps_and_exact_keys),
        T(recursive_schema),
        T(pii_objects_and_arrays_are_minified),
        T(numbers_booleans_and_null),
        T(escaped_keys_and_values),
        T(duplicate_keys_all_transformed),
        T(pii_root_and_no_root),
        T(decrypt_restores_types),
        T(decrypt_by_value_type),
        T(unknown_members_are_refused_with_their_pointer),
        T(unknown_members_pass_when_told_and_are_counted),
        T(pii_values_of_a_forbidden_type_are_refused),
        T(decrypt_rejects_non_tokens),
        T(depth_limit_exact),
        T(decrypted_json_respects_remaining_depth),
        T(output_cap),
        T(codec_failures),
        T(non_pii_bytes_are_verbatim),
        T(errors_never_echo_content),
        T(validate_top_level),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
