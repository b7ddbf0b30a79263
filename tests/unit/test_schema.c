/* Unit tests: schema.c, schema_doc.c, schema_compile.c (OpenAPI specs -> PII automata).
 *
 * Specs come from $NES_SOURCE_DIR/tests/data/specs, schemas/payments.yaml, and the public specs in
 * $NES_TESTDATA/openapi (whose load times are printed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <dirent.h>
#include <libfyaml.h>

#include "core/fileio.h"
#include "core/schema.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static const char *env_dir(const char *var)
{
    const char *d = getenv(var);
    return d != NULL && d[0] != '\0' ? d : NULL;
}

static void spec_file(char *out, size_t cap, const char *rel)
{
    const char *src = env_dir("NES_SOURCE_DIR");
    snprintf(out, cap, "%s/%s", src ? src : ".", rel);
}

/* The whole file at `path`, NUL-terminated; fails the test when it cannot be read. */
static char *read_text(const char *path)
{
    char *data = NULL;
    size_t len;
    nes_err err;
    if (nes_read_file(path, NES_SPEC_MAX_BYTES, &data, &len, &err) != NES_OK)
        fail_msg("%s", err.msg);
    return data;
}

static nes_spec *load_rel(const char *rel)
{
    char path[1024];
    spec_file(path, sizeof path, rel);
    nes_spec *spec = NULL;
    nes_err err;
    nes_status st = nes_spec_load_file(path, &spec, &err);
    if (st != NES_OK)
        fail_msg("%s: %s", rel, err.msg);
    return spec;
}

static nes_spec *load_test_spec(const char *name)
{
    char rel[512];
    snprintf(rel, sizeof rel, "tests/data/specs/%s", name);
    return load_rel(rel);
}

typedef struct lines {
    char buf[8192];
    size_t len;
    size_t n;
} lines;

static int collect(void *ud, const char *path)
{
    lines *l = ud;
    int w = snprintf(l->buf + l->len, sizeof l->buf - l->len, "%s\n", path);
    if (w < 0 || (size_t)w >= sizeof l->buf - l->len)
        return 1;
    l->len += (size_t)w;
    l->n++;
    return 0;
}

/* The PII paths below `root`, one per line. */
static const char *paths_of(const nes_pii_node *root, lines *l)
{
    memset(l, 0, sizeof *l);
    assert_int_equal(nes_pii_paths(root, collect, l), 0);
    return l->buf;
}

static const nes_pii_node *root_of(const nes_spec *spec, const char *op)
{
    const nes_pii_node *root = NULL;
    nes_err err;
    nes_status st = nes_spec_root(spec, op, &root, &err);
    if (st != NES_OK)
        fail_msg("root %s: %s", op ? op : "(default)", err.msg);
    assert_non_null(root);
    return root;
}

static const nes_pii_node *child(const nes_pii_node *n, const char *key)
{
    return nes_pii_child(n, key, strlen(key));
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* In-memory documents served by name; counts reads. */
typedef struct mem_docs {
    const char *names[8];
    const char *texts[8];
    size_t n;
    int reads[8];
    char last[128];
} mem_docs;

static nes_status mem_reader(void *ud, const char *name, char **data, size_t *len, nes_err *err)
{
    mem_docs *m = ud;
    snprintf(m->last, sizeof m->last, "%s", name);
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->names[i], name) == 0) {
            m->reads[i]++;
            *len = strlen(m->texts[i]);
            *data = malloc(*len + 1);
            if (*data == NULL)
                return NES_ERR_NOMEM;
            memcpy(*data, m->texts[i], *len + 1);
            return NES_OK;
        }
    }
    return nes_err_set(err, NES_ERR_IO, (size_t)-1, "no document %s here", name);
}

static nes_status load_text(const char *name, const char *text, mem_docs *docs, nes_spec **out,
                            nes_err *err)
{
    return nes_spec_load(name, text, strlen(text), docs ? mem_reader : NULL, docs, out, err);
}

/* ---- the example spec ---------------------------------------------------------------------- */

static const char payments_paths[] = "billing_address\n"
                                     "cards[].cvc\n"
                                     "cards[].holder_name\n"
                                     "cards[].number\n"
                                     "customer.address.line1\n"
                                     "customer.address.line2\n"
                                     "customer.address.postal_code\n"
                                     "customer.date_of_birth\n"
                                     "customer.email\n"
                                     "customer.name\n"
                                     "customer.phone\n"
                                     "customer.ssn\n"
                                     "labels.*\n"
                                     "payment_method.iban\n"
                                     "referrals[].email\n"
                                     "referrals[].name\n"
                                     "referrals[].referrals[] (recursive)\n"
                                     "tags[]\n";

static void payments_lint(void **state)
{
    (void)state;
    nes_spec *spec = load_rel("schemas/payments.yaml");
    lines l;
    const nes_pii_node *root = root_of(spec, NULL);
    assert_string_equal(paths_of(root, &l), payments_paths);
    assert_ptr_equal(root_of(spec, "createPayment"), root);
    assert_null(nes_spec_pii_root(spec));
    assert_int_equal(nes_spec_operation_count(spec), 2);
    nes_spec_free(spec);
}

static void payments_node_details(void **state)
{
    (void)state;
    nes_spec *spec = load_rel("schemas/payments.yaml");
    const nes_pii_node *root = root_of(spec, NULL);
    const nes_pii_node *customer = child(root, "customer");
    const nes_pii_node *ssn = child(customer, "ssn");
    assert_true(ssn->pii);
    assert_int_equal(ssn->type, NES_VT_STRING);
    assert_int_equal(ssn->context_len, 3);
    assert_memory_equal(ssn->context, "ssn", 3);
    assert_true(child(customer, "name")->pii); /* from the allOf member Person */
    assert_int_equal(child(customer, "name")->context_len, 0);
    assert_false(child(customer, "customer_id")->pii);
    assert_false(child(customer, "loyalty_points")->pii);

    const nes_pii_node *number = child(child(root, "cards")->items, "number");
    assert_true(number->pii);
    assert_memory_equal(number->context, "pan", 3);

    const nes_pii_node *billing = child(root, "billing_address");
    assert_true(billing->pii);
    assert_int_equal(billing->type, NES_VT_JSON);
    assert_memory_equal(billing->context, "address", 7);
    assert_int_equal(billing->nprops, 0); /* not descended into */

    const nes_pii_node *labels = child(root, "labels");
    assert_true(labels->wildcard->pii);
    assert_true(child(labels, "anything")->pii);
    assert_null(child(root, "metadata")->wildcard); /* additionalProperties: true */
    assert_false(child(root, "metadata")->has_pii_below);
    assert_false(child(root, "amount")->pii);
    assert_null(child(root, "no_such_field"));
    assert_true(child(root, "tags")->items->pii);

    /* the referral tree is one node, reached again through its own `referrals` */
    const nes_pii_node *ref = child(root, "referrals")->items;
    assert_ptr_equal(child(ref, "referrals")->items, ref);
    assert_true(child(child(root, "payment_method"), "iban")->pii);

    /* proxy mode */
    assert_ptr_equal(nes_spec_match(spec, "POST", "/payments", 9), root);
    assert_ptr_equal(nes_spec_match(spec, "POST", "/v1/payments", 12), root);
    nes_spec_op op;
    assert_true(nes_spec_find_op(spec, "GET", "/payments/abc", 13, &op));
    assert_string_equal(op.operation_id, "getPayment");
    assert_null(op.root);
    assert_null(nes_spec_match(spec, "GET", "/payments/abc", 13));
    assert_null(nes_spec_match(spec, "DELETE", "/payments", 9));
    nes_spec_free(spec);
}

/* ---- shapes -------------------------------------------------------------------------------- */

static void sibling_documents(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("siblings/main.yaml");
    lines l;
    assert_string_equal(paths_of(root_of(spec, NULL), &l), "email\n"
                                                           "home.street\n"
                                                           "name\n"
                                                           "owner.a/b~c\n"
                                                           "owner.contact_email\n");
    const nes_pii_node *root = root_of(spec, NULL);
    assert_memory_equal(child(root, "email")->context, "email", 5);
    /* Email reached from two documents is one node */
    assert_ptr_equal(child(child(root, "owner"), "contact_email"), child(root, "email"));
    nes_spec_free(spec);
}

static void sibling_documents_read_once_with_normalised_names(void **state)
{
    (void)state;
    char dir[1024], path[1200];
    spec_file(dir, sizeof dir, "tests/data/specs/siblings");
    const char *names[] = {"common.yaml", "address.yaml", "defs/ids.yaml"};
    char *texts[3];
    mem_docs docs = {.n = 3};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        texts[i] = read_text(path);
        docs.names[i] = names[i];
        docs.texts[i] = texts[i];
    }
    snprintf(path, sizeof path, "%s/main.yaml", dir);
    char *main_text = read_text(path);
    nes_spec *spec;
    nes_err err;
    assert_int_equal(load_text("specs/main.yaml", main_text, &docs, &spec, &err), NES_OK);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(docs.reads[i], 1);
    lines l;
    assert_int_equal(paths_of(root_of(spec, NULL), &l)[0], 'e');
    assert_int_equal(l.n, 5);
    nes_spec_free(spec);

    /* an error in a sibling names the sibling with the spec's directory prefix */
    docs.texts[2] = "Id: [unclosed\n";
    assert_int_equal(load_text("specs/main.yaml", main_text, &docs, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "specs/defs/ids.yaml:"));
    assert_non_null(strstr(err.msg, "invalid YAML"));
    for (size_t i = 0; i < 3; i++)
        free(texts[i]);
    free(main_text);
}

static void recursion(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("recursion.yaml");
    lines l;
    const nes_pii_node *root = root_of(spec, NULL);
    assert_string_equal(paths_of(root, &l), "children[] (recursive)\n"
                                            "index.* (recursive)\n"
                                            "label\n"
                                            "parent (recursive)\n"
                                            "ping.pong.ping (recursive)\n"
                                            "ping.secret\n");
    assert_ptr_equal(child(root, "children")->items, root);
    assert_ptr_equal(child(root, "parent"), root);
    assert_ptr_equal(child(root, "index")->wildcard, root);
    const nes_pii_node *ping = child(root, "ping");
    assert_ptr_equal(child(child(ping, "pong"), "ping"), ping);
    assert_string_equal(nes_spec_pii_root(spec), "#/components/schemas/Tree");
    nes_spec_free(spec);
}

static void combinators(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("combinators.yaml");
    lines l;
    const nes_pii_node *root = root_of(spec, NULL);
    assert_string_equal(paths_of(root, &l), "contact.email\n"
                                            "contact.phone\n"
                                            "either\n"
                                            "id\n"
                                            "nested.deep\n"
                                            "owner\n");
    assert_memory_equal(child(root, "id")->context, "thing-id", 8);
    assert_int_equal(child(root, "either")->type, NES_VT_ANY); /* string | integer */
    assert_false(child(root, "plain")->has_pii_below);
    nes_spec_free(spec);
}

static void additional_properties(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("additional.yaml");
    lines l;
    const nes_pii_node *root = root_of(spec, NULL);
    assert_string_equal(paths_of(root, &l), "closed.name\n"
                                            "people.*.email\n"
                                            "secrets.*\n"
                                            "whole_map\n");
    assert_null(child(root, "free")->wildcard);
    assert_null(child(root, "closed")->wildcard);
    const nes_pii_node *people = child(root, "people");
    assert_false(child(people, "admin")->pii);
    assert_true(child(child(people, "someone"), "email")->pii);
    assert_int_equal(child(root, "whole_map")->type, NES_VT_JSON);
    nes_spec_free(spec);
}

static void nested_arrays(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("arrays.yaml");
    lines l;
    const nes_pii_node *root = root_of(spec, NULL);
    assert_string_equal(paths_of(root, &l), "matrix[][]\n"
                                            "numbers[]\n"
                                            "rows[][].ssn\n"
                                            "whole\n");
    assert_int_equal(child(root, "whole")->type, NES_VT_JSON);
    assert_int_equal(child(root, "numbers")->items->type, NES_VT_JSON);
    assert_int_equal(child(root, "matrix")->items->items->type, NES_VT_STRING);
    nes_spec_free(spec);
}

static void openapi_31(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("openapi31.yaml");
    lines l;
    const nes_pii_node *root = root_of(spec, NULL);
    assert_string_equal(paths_of(root, &l), "age\n"
                                            "card\n"
                                            "name\n"
                                            "note\n"
                                            "point[]\n"
                                            "untyped\n");
    assert_int_equal(child(root, "name")->type, NES_VT_STRING); /* [string, "null"] */
    assert_int_equal(child(root, "age")->type, NES_VT_JSON);    /* [integer, "null"] */
    assert_int_equal(child(root, "note")->type, NES_VT_ANY);    /* [string, integer] */
    assert_int_equal(child(root, "untyped")->type, NES_VT_ANY);
    const nes_pii_node *card = child(root, "card");
    assert_int_equal(card->type, NES_VT_JSON);
    assert_memory_equal(card->context, "pan", 3);
    assert_null(child(root, "anything"));                 /* true: any value */
    const nes_pii_node *nothing = child(root, "nothing"); /* false: no member may pass in it */
    assert_non_null(nothing);
    assert_false(nothing->pii);
    assert_int_equal(nothing->members, NES_MEMBERS_CLOSED);
    nes_spec_free(spec);
}

static void yaml_merge_keys(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("yaml-merge.yaml");
    lines l;
    const nes_pii_node *root = root_of(spec, NULL);
    assert_string_equal(paths_of(root, &l), "audit_note\n"
                                            "email\n"
                                            "manager.email\n"
                                            "manager.name\n"
                                            "name\n");
    assert_false(child(root, "employee_no")->pii);
    nes_spec_free(spec);
}

static void conditionals_31(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("conditionals31.yaml");
    lines l;
    const nes_pii_node *root = root_of(spec, NULL);
    assert_string_equal(paths_of(root, &l), "extras.*\n"
                                            "history[].ip\n"
                                            "passport\n"
                                            "phone_ext\n"
                                            "rest[]\n"
                                            "vat_id\n");
    assert_false(child(root, "kind")->pii);
    nes_spec_free(spec);
}

static void json_spec(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("spec.json");
    lines l;
    assert_string_equal(paths_of(root_of(spec, NULL), &l), "buyer\n"
                                                           "items[].gift_note\n"
                                                           "quoted \"key\"\n");
    nes_spec_free(spec);

    /* JSON content under a name without .json */
    const char *text = "{\"openapi\": \"3.1.0\", \"x-pii-root\": \"#/$defs/A\", \"$defs\": {\"A\": "
                       "{\"properties\": {\"s\": {\"x-pii\": true}}}}}";
    nes_err err;
    assert_int_equal(load_text("inline", text, NULL, &spec, &err), NES_OK);
    assert_string_equal(paths_of(root_of(spec, NULL), &l), "s\n");
    nes_spec_free(spec);
}

static void yaml_aliases(void **state)
{
    (void)state;
    const char *text = "openapi: 3.0.3\n"
                       "x-pii-root: '#/components/schemas/Node'\n"
                       "components:\n"
                       "  schemas:\n"
                       "    Secret: &secret {type: string, x-pii: true}\n"
                       "    Node: &node\n"
                       "      type: object\n"
                       "      properties:\n"
                       "        a: *secret\n"
                       "        b: *secret\n"
                       "        self: *node\n";
    nes_spec *spec;
    nes_err err;
    lines l;
    assert_int_equal(load_text("alias.yaml", text, NULL, &spec, &err), NES_OK);
    const nes_pii_node *root = root_of(spec, NULL);
    assert_string_equal(paths_of(root, &l), "a\nb\nself (recursive)\n");
    assert_ptr_equal(child(root, "a"), child(root, "b"));
    nes_spec_free(spec);

    /* aliases are followed, never expanded: 6 levels of 10 aliases (a million nodes expanded,
     * under NES_SPEC_MAX_ALIAS_NODES) compile to 7 nodes; deeper bombs are refused
     * (test_schema_scale.c) */
    char big[4096];
    size_t o = (size_t)snprintf(big, sizeof big,
                                "openapi: 3.0.3\nx-pii-root: '#/components/schemas/L5'\n"
                                "components:\n  schemas:\n"
                                "    L0: &l0 {properties: {s: {x-pii: true}}}\n");
    for (int i = 1; i < 6; i++) {
        o += (size_t)snprintf(big + o, sizeof big - o, "    L%d: &l%d {properties: {", i, i);
        for (int j = 0; j < 10; j++)
            o += (size_t)snprintf(big + o, sizeof big - o, "%sp%d: *l%d", j ? ", " : "", j, i - 1);
        o += (size_t)snprintf(big + o, sizeof big - o, "}}\n");
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(load_text("lol.yaml", big, NULL, &spec, &err), NES_OK);
    assert_true(ms_since(&t0) < 1000);
    assert_int_equal(nes_spec_node_count(spec), 7); /* L0..L5 and the PII leaf */
    nes_spec_free(spec);
}

/* ---- roots --------------------------------------------------------------------------------- */

static void root_selection(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("ambiguous.yaml");
    const nes_pii_node *root = NULL;
    nes_err err;
    lines l;

    assert_int_equal(nes_spec_root(spec, NULL, &root, &err), NES_ERR_ROOT);
    assert_null(root);
    assert_non_null(strstr(err.msg, "4 operations"));
    assert_non_null(strstr(err.msg, "createA, patchB, post /c, postAnything"));
    assert_null(strstr(err.msg, "submitForm")); /* a form body is not JSON */
    assert_int_equal(nes_spec_root(spec, "", &root, &err), NES_ERR_ROOT);

    assert_string_equal(paths_of(root_of(spec, "patchB"), &l), "b\n"); /* +json */
    assert_string_equal(paths_of(root_of(spec, "createA"), &l), "a\n");
    assert_int_equal(paths_of(root_of(spec, "postAnything"), &l)[0], '\0'); /* no schema */

    assert_int_equal(nes_spec_root(spec, "nope", &root, &err), NES_ERR_ROOT);
    assert_non_null(strstr(err.msg, "unknown operationId \"nope\""));
    assert_non_null(strstr(err.msg, "createA"));
    assert_int_equal(nes_spec_root(spec, "listThings", &root, &err), NES_ERR_ROOT);
    assert_non_null(strstr(err.msg, "\"listThings\" has no JSON request body"));
    assert_int_equal(nes_spec_root(spec, "submitForm", &root, &err), NES_ERR_ROOT);
    assert_int_equal(nes_spec_root(spec, "bad\"\n\x01id", &root, &err), NES_ERR_ROOT);
    assert_non_null(strstr(err.msg, "\"bad???id\""));

    nes_spec_op op;
    assert_int_equal(nes_spec_operation_count(spec), 6);
    assert_true(nes_spec_operation(spec, 2, &op));
    assert_null(op.operation_id);
    assert_string_equal(op.method, "post");
    assert_string_equal(op.path, "/c");
    assert_non_null(op.root);
    assert_true(nes_spec_operation(spec, 3, &op));
    assert_null(op.root); /* form */
    assert_false(nes_spec_operation(spec, 6, &op));
    nes_spec_free(spec);

    /* x-pii-root wins over an operation */
    spec = load_test_spec("recursion.yaml");
    assert_ptr_equal(root_of(spec, "anything"), root_of(spec, NULL));
    nes_spec_free(spec);
}

static void root_errors_and_long_lists(void **state)
{
    (void)state;
    nes_spec *spec;
    nes_err err;
    const nes_pii_node *root;
    assert_int_equal(load_text("get.yaml",
                               "openapi: 3.0.0\npaths:\n  /x:\n    get:\n      operationId: getX\n",
                               NULL, &spec, &err),
                     NES_OK);
    assert_int_equal(nes_spec_root(spec, NULL, &root, &err), NES_ERR_ROOT);
    assert_non_null(strstr(err.msg, "no operation has a JSON request body"));
    assert_int_equal(nes_spec_root(spec, "other", &root, &err), NES_ERR_ROOT);
    assert_non_null(strstr(err.msg, "unknown operationId \"other\""));
    nes_spec_free(spec);

    char text[16384];
    size_t o = (size_t)snprintf(text, sizeof text, "openapi: 3.0.0\npaths:\n");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(text + o, sizeof text - o,
                              "  /op%d:\n    post:\n      operationId: aRatherLongOperationName%d\n"
                              "      requestBody: {content: {application/json: {schema: {}}}}\n",
                              i, i);
    assert_int_equal(load_text("many.yaml", text, NULL, &spec, &err), NES_OK);
    assert_int_equal(nes_spec_root(spec, NULL, &root, &err), NES_ERR_ROOT);
    assert_non_null(strstr(err.msg, "40 operations"));
    assert_non_null(strstr(err.msg, "aRatherLongOperationName0, "));
    assert_non_null(strstr(err.msg, "more)"));
    assert_true(strlen(err.msg) < sizeof err.msg - 1 || strstr(err.msg, "more)") != NULL);
    assert_int_equal(nes_spec_root(spec, "x", &root, &err), NES_ERR_ROOT);
    assert_non_null(strstr(err.msg, "more)"));
    assert_int_equal(nes_spec_root(spec, "aRatherLongOperationName39", &root, &err), NES_OK);
    nes_spec_free(spec);
}

/* ---- proxy matching ------------------------------------------------------------------------ */

static const char *matched(const nes_spec *spec, const char *method, const char *path)
{
    nes_spec_op op;
    if (!nes_spec_find_op(spec, method, path, strlen(path), &op))
        return "-";
    return op.operation_id;
}

static void match_paths(void **state)
{
    (void)state;
    nes_spec *spec = load_test_spec("match.yaml");
    assert_string_equal(matched(spec, "PUT", "/users/42"), "putUser");
    assert_string_equal(matched(spec, "put", "/users/me"), "putMe"); /* literal beats {id} */
    assert_string_equal(matched(spec, "PUT", "/users/mee"), "putUser");
    assert_string_equal(matched(spec, "GET", "/users/42"), "getUser");
    assert_string_equal(matched(spec, "PUT", "/users/42?x=/y"), "putUser");
    assert_string_equal(matched(spec, "POST", "/users/1/files/a.json"), "postFile");
    assert_string_equal(matched(spec, "POST", "/users/1/files/a.json.json"), "postFile");
    assert_string_equal(matched(spec, "POST", "/users/1/files/a.txt"), "postAnyFile");
    assert_string_equal(matched(spec, "POST", "/users/1/files/.json"), "postAnyFile");
    assert_string_equal(matched(spec, "POST", "/"), "postRoot");
    assert_string_equal(matched(spec, "PUT", "/api/v2/users/7"), "putUser"); /* servers path */
    assert_string_equal(matched(spec, "POST", "/api/v2"), "postRoot");
    assert_string_equal(matched(spec, "POST", "/api/v2/"), "postRoot");
    assert_string_equal(matched(spec, "PUT", "/api/v2x/users/7"), "-");
    assert_string_equal(matched(spec, "PUT", "/ignored/users/7"), "putUser"); /* literal path */
    assert_string_equal(matched(spec, "PUT", "/v3/users/7"), "-"); /* templated server path */
    assert_string_equal(matched(spec, "PUT", "/users/42/"), "-");
    assert_string_equal(matched(spec, "PUT", "/users/"), "-");
    assert_string_equal(matched(spec, "PUT", "/users"), "-");
    assert_string_equal(matched(spec, "PUT", "users/42"), "-");
    assert_string_equal(matched(spec, "PUT", ""), "-");
    assert_string_equal(matched(spec, "DELETE", "/users/42"), "-");
    assert_string_equal(matched(spec, "POST", "/users/1/files/a/b"), "-");

    lines l;
    const nes_pii_node *me = nes_spec_match(spec, "PUT", "/users/me", 9);
    assert_string_equal(paths_of(me, &l), "me\n");
    assert_null(nes_spec_match(spec, "GET", "/users/me", 9)); /* getUser has no body */
    /* path_len is honoured: "/users/me" cut to "/users/m" */
    assert_string_equal(paths_of(nes_spec_match(spec, "PUT", "/users/me", 8), &l), "user\n");
    nes_spec_free(spec);
}

static void match_pathological_template_is_fast(void **state)
{
    (void)state;
    char text[8192], path[4096];
    size_t o = (size_t)snprintf(text, sizeof text, "openapi: 3.0.0\npaths:\n  \"/");
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "{v%d}a", i);
    snprintf(text + o, sizeof text - o, "b\":\n    post:\n      operationId: slow\n");
    nes_spec *spec;
    nes_err err;
    assert_int_equal(load_text("slow.yaml", text, NULL, &spec, &err), NES_OK);
    path[0] = '/';
    memset(path + 1, 'a', sizeof path - 2);
    path[sizeof path - 1] = '\0';
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_string_equal(matched(spec, "POST", path), "-");
    path[sizeof path - 2] = 'b';
    assert_string_equal(matched(spec, "POST", path), "slow");
    assert_true(ms_since(&t0) < 2000);
    nes_spec_free(spec);
}

/* ---- errors -------------------------------------------------------------------------------- */

typedef struct broken_case {
    const char *file;
    nes_status status;
    const char *expect[3]; /* substrings of the message */
} broken_case;

static const broken_case broken[] = {
    {"bad-yaml.yaml", NES_ERR_SPEC, {"bad-yaml.yaml:7: invalid YAML", "closing bracket", NULL}},
    {"bad-json.json", NES_ERR_SPEC, {"bad-json.json:4: invalid JSON", "trailing comma", NULL}},
    {"duplicate-key.yaml", NES_ERR_SPEC, {"duplicate-key.yaml:4: invalid YAML: duplicate key"}},
    {"alias-without-anchor.yaml",
     NES_ERR_SPEC,
     {"alias-without-anchor.yaml:7: invalid YAML: alias *pii names no anchor before it"}},
    {"missing-ref.yaml",
     NES_ERR_SPEC,
     {"missing-ref.yaml:16: #/components/schemas/Card/properties/number: $ref target "
      "\"#/components/schemas/Nope\" not found"}},
    {"escape-ref.yaml",
     NES_ERR_SPEC,
     {"escape-ref.yaml:11: #/components/schemas/A/properties/secret:",
      "\"../recursion.yaml\" leaves the spec's directory"}},
    {"absolute-ref.yaml",
     NES_ERR_SPEC,
     {"absolute-ref.yaml:3: #/x-pii-root:", "only relative references"}},
    {"url-ref.yaml", NES_ERR_SPEC, {"url-ref.yaml:3: #/x-pii-root:", "only relative references"}},
    {"missing-sibling.yaml",
     NES_ERR_SPEC,
     {"missing-sibling.yaml:3: #/x-pii-root: cannot read \"no-such-file.yaml\"", "No such file"}},
    {"conflicting-context.yaml",
     NES_ERR_SPEC,
     {"conflicting-context.yaml:14: #/components/schemas/Person/properties/id/allOf/1:",
      "conflicting x-pii-context \"tax-id\" and \"ssn\"", "conflicting-context.yaml:18"}},
    {"context-without-pii.yaml",
     NES_ERR_SPEC,
     {"context-without-pii.yaml:12: #/components/schemas/Person/properties/ssn:",
      "x-pii-context without x-pii: true"}},
    {"pii-not-bool.yaml",
     NES_ERR_SPEC,
     {"pii-not-bool.yaml:12: #/components/schemas/Person/properties/ssn:",
      "x-pii must be true or false"}},
    {"not-mapping.yaml", NES_ERR_SPEC, {"not-mapping.yaml:1: #: the document is not a mapping"}},
    {"swagger2.yaml", NES_ERR_SPEC, {"swagger2.yaml:1:", "Swagger 2.0 is not supported"}},
    {"bad-pointer.yaml",
     NES_ERR_SPEC,
     {"bad-pointer.yaml:3: #/x-pii-root:", "\"#/components/schemas/A~2B\" not found"}},
    {"duplicate-operation.yaml",
     NES_ERR_SPEC,
     {"duplicate-operation.yaml:10: #/paths/~1b/post/operationId:", "duplicate operationId"}},
    {"bad-schema.yaml",
     NES_ERR_SPEC,
     {"bad-schema.yaml:13: "
      "#/paths/~1a/post/requestBody/content/application~1json/schema/properties/name:",
      "expected a schema object"}},
};

static void broken_specs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        char path[1024];
        char rel[256];
        snprintf(rel, sizeof rel, "tests/data/specs/broken/%s", broken[i].file);
        spec_file(path, sizeof path, rel);
        nes_spec *spec = (nes_spec *)&spec; /* must be reset to NULL */
        nes_err err;
        nes_status st = nes_spec_load_file(path, &spec, &err);
        assert_null(spec);
        if (st != broken[i].status)
            fail_msg("%s: status %s: %s", broken[i].file, nes_status_name(st), err.msg);
        for (size_t j = 0; j < 3 && broken[i].expect[j]; j++)
            if (strstr(err.msg, broken[i].expect[j]) == NULL)
                fail_msg("%s: \"%s\" lacks \"%s\"", broken[i].file, err.msg, broken[i].expect[j]);
    }
}

static void load_errors_in_memory(void **state)
{
    (void)state;
    nes_spec *spec;
    nes_err err;
    const char *ext = "openapi: 3.0.0\nx-pii-root: 'other.yaml#/A'\n";
    assert_int_equal(load_text("a.yaml", ext, NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(
        strstr(err.msg, "a.yaml:2: #/x-pii-root: $ref to \"other.yaml\" but no reader"));

    mem_docs docs = {.n = 0};
    assert_int_equal(load_text("a.yaml", ext, &docs, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "cannot read \"other.yaml\": no document other.yaml here"));

    assert_int_equal(load_text("empty.yaml", "", NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "empty.yaml: empty document"));
    assert_int_equal(load_text("c.yaml", "# a comment\n", NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "c.yaml: empty document"));
    assert_int_equal(load_text("c.json", " ", NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "c.json:"));
    assert_int_equal(load_text("v.yaml", "openapi: 2.5\n", NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "unsupported OpenAPI version"));
    assert_int_equal(load_text("n.yaml", "info: {}\n", NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "no \"openapi\" field"));
    assert_int_equal(load_text("dir/", "openapi: 3.0.0\n", NULL, &spec, &err), NES_ERR_SPEC);

    const char latin1[] = "openapi: 3.0.0\ninfo: {title: \"caf\xe9\"}\n";
    assert_int_equal(load_text("l.yaml", latin1, NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "l.yaml:2: not UTF-8 text (invalid byte at byte 33)"));
    assert_int_equal(err.offset, 33);
    const char *bad_utf8[] = {"\xc0\x80", "\xed\xa0\x80",     "\xf4\x90\x80\x80",
                              "\xe2\x82", "\xf0\x8f\xbf\xbf", "\x80"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        char t[64];
        snprintf(t, sizeof t, "openapi: '3.0.0%s'\n", bad_utf8[i]);
        assert_int_equal(load_text("u.yaml", t, NULL, &spec, &err), NES_ERR_SPEC);
        assert_non_null(strstr(err.msg, "not UTF-8"));
    }
    assert_int_equal(nes_spec_load("z.yaml", "openapi: 3.0.0\0\n", 16, NULL, NULL, &spec, &err),
                     NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "z.yaml:1: not UTF-8 text (NUL at byte 14)"));
    const char good[] = "openapi: '3.0.0'\ninfo: {title: \"caf\xc3\xa9 \xe2\x82\xac "
                        "\xf0\x9f\x92\xb3 \xed\x9f\xbf \xef\xbf\xbf\"}\n";
    assert_int_equal(load_text("g.yaml", good, NULL, &spec, &err), NES_OK);
    nes_spec_free(spec);

    static const char big[1] = {0};
    assert_int_equal(
        nes_spec_load("huge.yaml", big, (size_t)NES_SPEC_MAX_BYTES + 1, NULL, NULL, &spec, &err),
        NES_ERR_LIMIT);
    assert_null(spec);

    assert_int_equal(nes_spec_load_file("/nonexistent/dir/x.yaml", &spec, &err), NES_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/x.yaml"));

    const char *nonstring = "openapi: 3.0.0\nx-pii-root: {a: 1}\n";
    assert_int_equal(load_text("x.yaml", nonstring, NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "x-pii-root must be a reference"));
    const char *anchor = "openapi: 3.1.0\nx-pii-root: '#anchor'\n";
    assert_int_equal(load_text("x.yaml", anchor, NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "only JSON pointer fragments"));
    const char *pct = "openapi: 3.1.0\nx-pii-root: '#/a%2'\n";
    assert_int_equal(load_text("x.yaml", pct, NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "malformed %-escape"));
}

static void pointer_decoding(void **state)
{
    (void)state;
    /* %-escapes, ~0 ~1, array indexes */
    const char *text = "openapi: 3.1.0\n"
                       "x-pii-root: '#/$defs/a%20b~1c~0d/allOf/1'\n"
                       "$defs:\n"
                       "  a b/c~d:\n"
                       "    allOf:\n"
                       "      - {}\n"
                       "      - {properties: {s: {x-pii: true}}}\n";
    nes_spec *spec;
    nes_err err;
    lines l;
    assert_int_equal(load_text("p.yaml", text, NULL, &spec, &err), NES_OK);
    assert_string_equal(paths_of(root_of(spec, NULL), &l), "s\n");
    nes_spec_free(spec);
    const char *bad[] = {"'#/$defs/x/allOf/01'", "'#/$defs/x/allOf/2'", "'#/$defs/x/allOf/-1'",
                         "'#/$defs/x/allOf/a'", "'#/$defs/x/allOf/1/properties/s/x-pii/q'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char t[512];
        snprintf(t, sizeof t,
                 "openapi: 3.1.0\nx-pii-root: %s\n$defs:\n  x:\n    allOf: [{}, "
                 "{properties: {s: {x-pii: true}}}]\n",
                 bad[i]);
        assert_int_equal(load_text("p.yaml", t, NULL, &spec, &err), NES_ERR_SPEC);
        assert_non_null(strstr(err.msg, "not found"));
    }
}

static void ref_chain_depth(void **state)
{
    (void)state;
    for (int n = 60; n <= 70; n += 10) {
        char text[8192];
        size_t o = (size_t)snprintf(text, sizeof text,
                                    "openapi: 3.0.0\nx-pii-root: '#/components/schemas/S0'\n"
                                    "components:\n  schemas:\n");
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(text + o, sizeof text - o,
                                  "    S%d: {$ref: '#/components/schemas/S%d'}\n", i, i + 1);
        snprintf(text + o, sizeof text - o, "    S%d: {type: string, x-pii: true}\n", n);
        nes_spec *spec;
        nes_err err;
        nes_status st = load_text("chain.yaml", text, NULL, &spec, &err);
        if (n <= NES_SPEC_MAX_REF_DEPTH) {
            assert_int_equal(st, NES_OK);
            assert_true(root_of(spec, NULL)->pii);
            nes_spec_free(spec);
        } else {
            assert_int_equal(st, NES_ERR_SPEC);
            assert_non_null(strstr(err.msg, "$ref chain longer than 64"));
        }
    }
    /* a $ref cycle with nothing else is a value that constrains nothing */
    const char *loop = "openapi: 3.0.0\nx-pii-root: '#/components/schemas/A'\ncomponents:\n"
                       "  schemas:\n    A: {$ref: '#/components/schemas/B'}\n"
                       "    B: {$ref: '#/components/schemas/A'}\n";
    nes_spec *spec;
    nes_err err;
    lines l;
    assert_int_equal(load_text("loop.yaml", loop, NULL, &spec, &err), NES_OK);
    assert_int_equal(paths_of(root_of(spec, NULL), &l)[0], '\0');
    nes_spec_free(spec);
}

static nes_status gen_reader(void *ud, const char *name, char **data, size_t *len, nes_err *err)
{
    (void)ud;
    (void)err;
    *data = strdup("type: object\n");
    if (*data == NULL)
        return NES_ERR_NOMEM;
    *len = strlen(*data);
    (void)name;
    return NES_OK;
}

static void too_many_documents(void **state)
{
    (void)state;
    char text[8192];
    size_t o = (size_t)snprintf(text, sizeof text,
                                "openapi: 3.0.0\nx-pii-root: '#/components/schemas/A'\n"
                                "components:\n  schemas:\n    A:\n      allOf:\n");
    for (int i = 0; i < 70; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "        - $ref: 'd%d.yaml'\n", i);
    nes_spec *spec;
    nes_err err;
    /* 71 documents: within the default, over a limit of 64 (the message names the setting) */
    assert_int_equal(nes_spec_load("many.yaml", text, strlen(text), gen_reader, NULL, &spec, &err),
                     NES_OK);
    nes_spec_free(spec);
    nes_spec_limits lim = {.max_docs = 64};
    assert_int_equal(
        nes_spec_load_limits("many.yaml", text, strlen(text), gen_reader, NULL, &lim, &spec, &err),
        NES_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "too many referenced documents (limit 64"));
    assert_non_null(strstr(err.msg, "SPEC_MAX_DOCUMENTS"));
}

/* The automaton is a subset construction, so a small spec can ask for exponentially many nodes:
 * "the n-th key from the end is `a`" needs 2^n sets. The node limit stops it. */
static char *blowup_spec(int n)
{
    size_t cap = 4096 + (size_t)n * 256, o = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    o += (size_t)snprintf(t, cap,
                          "openapi: 3.0.0\nx-pii-root: '#/$defs/S0'\n$defs:\n"
                          "  S0:\n    properties:\n"
                          "      a: {anyOf: [{$ref: '#/$defs/S0'}, {$ref: '#/$defs/S1'}]}\n"
                          "      b: {$ref: '#/$defs/S0'}\n");
    for (int i = 1; i < n; i++)
        o += (size_t)snprintf(t + o, cap - o,
                              "  S%d:\n    properties:\n      a: {$ref: '#/$defs/S%d'}\n"
                              "      b: {$ref: '#/$defs/S%d'}\n",
                              i, i + 1, i + 1);
    snprintf(t + o, cap - o, "  S%d: {x-pii: true}\n", n);
    return t;
}

static void node_limit(void **state)
{
    (void)state;
    nes_spec *spec;
    nes_err err;
    char *text = blowup_spec(8);
    assert_int_equal(load_text("b8.yaml", text, NULL, &spec, &err), NES_OK);
    assert_true(nes_spec_node_count(spec) >= 256);
    nes_spec_free(spec);
    free(text);
    text = blowup_spec(17);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(load_text("b17.yaml", text, NULL, &spec, &err), NES_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "b17.yaml:"));
    assert_non_null(strstr(err.msg, "more than 100000 nodes"));
    print_message("  node limit reached after %.0f ms\n", ms_since(&t0));
    free(text);
}

/* ---- public specs -------------------------------------------------------------------------- */

typedef struct dir_ud {
    const char *dir;
} dir_ud;

static nes_status file_reader(void *ud, const char *name, char **data, size_t *len, nes_err *err)
{
    const dir_ud *d = ud;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    return nes_read_file(path, NES_SPEC_MAX_BYTES, data, len, err);
}

/* Appends s to out as a JSON string body with JSON-pointer escaping (~0, ~1) and %-escapes for
 * characters a URI fragment cannot hold. */
static size_t put_ref_name(char *out, size_t o, size_t cap, const char *s)
{
    for (; *s && o + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '~')
            o += (size_t)snprintf(out + o, cap - o, "~0");
        else if (c == '/')
            o += (size_t)snprintf(out + o, cap - o, "~1");
        else if (c == '"' || c == '\\' || c == '%' || c == '#' || c < 0x21 || c > 0x7e)
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
        else
            out[o++] = (char)c;
    }
    return o;
}

/* A wrapper spec whose x-pii-root has one property per component schema of `file`, so that
 * loading it compiles every component schema of the public spec. */
static char *wrapper_for(const char *dir, const char *file, size_t *count)
{
    char path[2304];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};
    struct fy_document *fyd = fy_document_build_from_file(&cfg, path);
    assert_non_null(fyd);
    struct fy_node *schemas = fy_node_by_path(fy_document_root(fyd), "/components/schemas", -1, 0);
    size_t cap = 1 << 22, o = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    o += (size_t)snprintf(out, cap,
                          "{\"openapi\": \"3.0.0\", \"x-pii-root\": \"#/components/schemas/All\", "
                          "\"components\": {\"schemas\": {\"All\": {\"properties\": {");
    *count = 0;
    void *it = NULL;
    struct fy_node_pair *p;
    while (schemas != NULL && (p = fy_node_mapping_iterate(schemas, &it)) != NULL) {
        const char *name = fy_node_get_scalar0(fy_node_pair_key(p));
        assert_non_null(name);
        o += (size_t)snprintf(out + o, cap - o, "%s\"p%zu\": {\"$ref\": \"%s#/components/schemas/",
                              *count ? ", " : "", *count, file);
        o = put_ref_name(out, o, cap, name);
        o += (size_t)snprintf(out + o, cap - o, "\"}");
        (*count)++;
    }
    snprintf(out + o, cap - o, "}}}}}");
    fy_document_destroy(fyd);
    return out;
}

static int is_spec_name(const char *n)
{
    size_t l = strlen(n);
    return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) || (l > 5 && strcmp(n + l - 5, ".json") == 0);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void public_specs_load_and_mark_nothing(void **state)
{
    (void)state;
    const char *testdata = env_dir("NES_TESTDATA");
    if (testdata == NULL)
        skip();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/openapi", testdata);
    DIR *d = opendir(dir);
    if (d == NULL)
        skip();
    char *names[64] = {0};
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && nn < 64)
        if (is_spec_name(de->d_name))
            names[nn++] = strdup(de->d_name);
    closedir(d);
    qsort(names, nn, sizeof *names, name_cmp);
    assert_true(nn >= 5);
    for (size_t i = 0; i < nn; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        nes_spec *spec;
        nes_err err;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        nes_status st = nes_spec_load_file(path, &spec, &err);
        double load_ms = ms_since(&t0);
        if (st != NES_OK)
            fail_msg("%s: %s", names[i], err.msg);
        size_t bodies = 0;
        lines l;
        for (size_t j = 0; j < nes_spec_operation_count(spec); j++) {
            nes_spec_op op;
            assert_true(nes_spec_operation(spec, j, &op));
            if (op.root == NULL)
                continue;
            bodies++;
            assert_int_equal(paths_of(op.root, &l)[0], '\0');
            assert_false(op.root->pii);
            assert_false(op.root->has_pii_below);
        }
        size_t ops = nes_spec_operation_count(spec), nodes = nes_spec_node_count(spec);
        nes_spec_free(spec);

        /* every component schema compiled, through a wrapper that references them all */
        size_t count;
        char *wrapper = wrapper_for(dir, names[i], &count);
        dir_ud ud = {dir};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        st = nes_spec_load("wrapper.json", wrapper, strlen(wrapper), file_reader, &ud, &spec, &err);
        double all_ms = ms_since(&t0);
        free(wrapper);
        if (st != NES_OK)
            fail_msg("%s (all components): %s", names[i], err.msg);
        const nes_pii_node *root = root_of(spec, NULL);
        assert_int_equal(paths_of(root, &l)[0], '\0');
        print_message("  %-32s load %7.1f ms: %3zu operations, %2zu JSON bodies, %4zu nodes; "
                      "all %3zu component schemas: %7.1f ms, %5zu nodes\n",
                      names[i], load_ms, ops, bodies, nodes, count, all_ms,
                      nes_spec_node_count(spec));
        nes_spec_free(spec);
        free(names[i]);
    }
}

/* ---- fail closed, keywords, webhooks -------------------------------------------------------- */

static void membership_of_compiled_nodes(void **state)
{
    (void)state;
    const char *text =
        "openapi: 3.1.0\n"
        "x-pii-root: '#/$defs/A'\n"
        "$defs:\n"
        "  A:\n"
        "    type: object\n"
        "    properties:\n"
        "      s: {type: string}\n"
        "      free: {type: object}\n"
        "      open: {additionalProperties: true, properties: {a: {type: integer}}}\n"
        "      anything: {}\n"
        "      loose: {x-pii-unknown-fields: pass, properties: {b: {type: object,"
        " properties: {c: {type: string}}}}}\n"
        "      list: {type: array, items: {type: string}}\n";
    nes_spec *spec;
    nes_err err;
    assert_int_equal(load_text("m.yaml", text, NULL, &spec, &err), NES_OK);
    const nes_pii_node *root = root_of(spec, NULL), *c;
    assert_int_equal(root->members, NES_MEMBERS_CLOSED);
    assert_int_equal(nes_pii_lookup(root, "zz", 2, &c), NES_MEMBER_UNKNOWN);
    const nes_pii_node *str = child(root, "s");
    assert_int_equal(str->members, NES_MEMBERS_CLOSED); /* a string holds no member */
    assert_non_null(str->items);                        /* nor do its "items" */
    assert_int_equal(str->items->members, NES_MEMBERS_CLOSED);
    assert_int_equal(child(root, "free")->members, NES_MEMBERS_ANY);
    assert_int_equal(child(root, "open")->members, NES_MEMBERS_ANY);
    assert_int_equal(nes_pii_lookup(root, "anything", 8, &c), NES_MEMBER_DECLARED);
    assert_null(c);
    const nes_pii_node *loose = child(root, "loose");
    assert_int_equal(loose->members, NES_MEMBERS_PASS);
    assert_int_equal(child(loose, "b")->members, NES_MEMBERS_PASS); /* applies below */
    assert_int_equal(child(root, "list")->members, NES_MEMBERS_CLOSED);
    nes_spec_free(spec);

    /* the spec root's x-pii-unknown-fields, and a bad value */
    const char *loose_spec = "openapi: 3.1.0\nx-pii-unknown-fields: pass\nx-pii-root: '#/$defs/A'\n"
                             "$defs: {A: {properties: {a: {type: string}}}}\n";
    assert_int_equal(load_text("l.yaml", loose_spec, NULL, &spec, &err), NES_OK);
    assert_int_equal(root_of(spec, NULL)->members, NES_MEMBERS_PASS);
    nes_spec_free(spec);
    const char *bad = "openapi: 3.1.0\nx-pii-unknown-fields: maybe\npaths: {}\n";
    assert_int_equal(load_text("b.yaml", bad, NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "x-pii-unknown-fields must be"));
}

static void webhooks_are_roots_but_never_matched(void **state)
{
    (void)state;
    const char *text =
        "openapi: 3.1.0\n"
        "webhooks:\n"
        "  /created:\n"
        "    post:\n"
        "      operationId: onCreated\n"
        "      requestBody: {content: {application/json: {schema: {properties: {e: {x-pii: "
        "true}}}}}}\n";
    nes_spec *spec;
    nes_err err;
    lines l;
    assert_int_equal(load_text("w.yaml", text, NULL, &spec, &err), NES_OK);
    assert_int_equal(nes_spec_operation_count(spec), 1);
    nes_spec_op op;
    assert_true(nes_spec_operation(spec, 0, &op));
    assert_true(op.webhook);
    assert_string_equal(paths_of(root_of(spec, "onCreated"), &l), "e\n");
    assert_false(nes_spec_find_op(spec, "post", "/created", 8, &op));
    nes_spec_free(spec);
}

/* Every row of docs/openapi-support.md's table names a keyword of nes_schema_keywords with the
 * same decision, in the same (sorted) order, and none is missing. */
static void keyword_table_matches_the_docs(void **state)
{
    (void)state;
    static const char *const names[] = {"honoured", "over-approximated", "no subschema", "refused"};
    size_t n;
    const nes_schema_keyword *kw = nes_schema_keywords(&n);
    assert_true(n >= 60);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(kw[i - 1].name, kw[i].name) < 0);
    char path[1024];
    spec_file(path, sizeof path, "docs/openapi-support.md");
    char *doc = read_text(path);
    size_t row = 0;
    for (char *line = strtok(doc, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        char name[64], decision[64];
        if (sscanf(line, "| `%63[^`]` | %63[^|]|", name, decision) != 2)
            fail_msg("bad row: %s", line);
        size_t dl = strlen(decision);
        while (dl > 0 && decision[dl - 1] == ' ')
            decision[--dl] = '\0';
        if (row >= n)
            fail_msg("docs list %s, which the code does not", name);
        assert_string_equal(name, kw[row].name);
        assert_string_equal(decision, names[kw[row].decision]);
        row++;
    }
    assert_int_equal(row, n);
    free(doc);
}

static void unknown_keywords_with_schemas_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *schema, *msg;
    } table[] = {
        {"{propertiez: {a: {x-pii: true}}}", "unknown keyword \"propertiez\""},
        {"{myItems: [{x-pii: true}]}", "unknown keyword \"myItems\""},
        {"{$recursiveRef: '#'}", "keyword $recursiveRef is not supported"},
        {"{$ref: '#nowhere'}", "no $anchor or $dynamicAnchor \"nowhere\""},
        {"{discriminator: yes}", "discriminator must be a mapping"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "openapi: 3.1.0\nx-pii-root: '#/$defs/A'\n$defs:\n  A: %s\n",
                 table[i].schema);
        nes_spec *spec = NULL;
        nes_err err;
        assert_int_equal(load_text("k.yaml", text, NULL, &spec, &err), NES_ERR_SPEC);
        if (strstr(err.msg, table[i].msg) == NULL)
            fail_msg("%s: %s", table[i].schema, err.msg);
    }
    /* scalar unknown keywords and x- extensions are fine */
    nes_spec *spec;
    nes_err err;
    assert_int_equal(load_text("ok.yaml",
                               "openapi: 3.1.0\nx-pii-root: '#/$defs/A'\n$defs:\n  A: {foo: 1, "
                               "x-vendor: {a: [1]}, properties: {s: {x-pii: true}}}\n",
                               NULL, &spec, &err),
                     NES_OK);
    nes_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(payments_lint),
        cmocka_unit_test(payments_node_details),
        cmocka_unit_test(sibling_documents),
        cmocka_unit_test(sibling_documents_read_once_with_normalised_names),
        cmocka_unit_test(recursion),
        cmocka_unit_test(combinators),
        cmocka_unit_test(additional_properties),
        cmocka_unit_test(nested_arrays),
        cmocka_unit_test(openapi_31),
        cmocka_unit_test(yaml_merge_keys),
        cmocka_unit_test(conditionals_31),
        cmocka_unit_test(json_spec),
        cmocka_unit_test(yaml_aliases),
        cmocka_unit_test(root_selection),
        cmocka_unit_test(root_errors_and_long_lists),
        cmocka_unit_test(match_paths),
        cmocka_unit_test(match_pathological_template_is_fast),
        cmocka_unit_test(broken_specs),
        cmocka_unit_test(load_errors_in_memory),
        cmocka_unit_test(pointer_decoding),
        cmocka_unit_test(ref_chain_depth),
        cmocka_unit_test(too_many_documents),
        cmocka_unit_test(node_limit),
        cmocka_unit_test(public_specs_load_and_mark_nothing),
        cmocka_unit_test(membership_of_compiled_nodes),
        cmocka_unit_test(webhooks_are_roots_but_never_matched),
        cmocka_unit_test(keyword_table_matches_the_docs),
        cmocka_unit_test(unknown_keywords_with_schemas_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
