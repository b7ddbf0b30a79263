/* Unit tests: large and hostile specs (schema_scan.c, the loader's limits in schema_doc.c and
 * schema.c). Large specs are generated here; the time bounds are 10-30x what a linear loader
 * needs on a loaded 2-core box under ASan, and 3-30x less than the quadratic loader took. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/pii.h"
#include "core/schema.h"

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (t->s != NULL && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        t->cap = (t->cap + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
}

static double secs_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static nes_status load(const char *name, const text *t, nes_spec **spec, nes_err *err)
{
    return nes_spec_load(name, t->s, t->len, NULL, NULL, spec, err);
}

static nes_status load_str(const char *name, const char *s, nes_spec **spec, nes_err *err)
{
    return nes_spec_load(name, s, strlen(s), NULL, NULL, spec, err);
}

static int count_path(void *ud, const char *path)
{
    (void)path;
    (*(size_t *)ud)++;
    return 0;
}

/* ---- size: linear in the spec ---------------------------------------------------------------- */

/* `n` component schemas, every one referenced from the body (the shape of bench/spec). */
static void big_spec(text *t, int n, bool duplicate_last)
{
    add(t, "openapi: 3.0.3\npaths:\n  /x:\n    post:\n      requestBody:\n        content:\n"
           "          application/json:\n            schema:\n              properties:\n");
    for (int i = 0; i < n; i++)
        add(t, "                p%d: {$ref: '#/components/schemas/S%d'}\n", i, i);
    add(t, "components:\n  schemas:\n");
    for (int i = 0; i < n; i++)
        add(t, "    S%d: {properties: {email: {type: string, x-pii: true}}}\n", i);
    if (duplicate_last)
        add(t, "    \"S%d\": {}\n", n - 1); /* the same key, quoted */
}

static void large_specs_load_in_linear_time(void **state)
{
    (void)state;
    text t = {0};
    big_spec(&t, 20000, false);
    nes_spec *spec;
    nes_err err;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(load("big.yaml", &t, &spec, &err), NES_OK);
    double s = secs_since(&t0);
    print_message("  20k schemas, all reached: %.2f s\n", s);
    assert_true(s < 10.0); /* the quadratic loader: ~28 s */
    const nes_pii_node *root;
    assert_int_equal(nes_spec_root(spec, NULL, &root, &err), NES_OK);
    size_t paths = 0;
    assert_int_equal(nes_pii_paths(root, count_path, &paths), 0);
    assert_int_equal(paths, 20000);
    assert_non_null(nes_pii_child(nes_pii_child(root, "p19999", 6), "email", 5));
    nes_spec_free(spec);
    free(t.s);
}

static void duplicate_keys_are_found_in_large_maps(void **state)
{
    (void)state;
    text t = {0};
    big_spec(&t, 40000, true);
    nes_spec *spec;
    nes_err err;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(load("dup.yaml", &t, &spec, &err), NES_ERR_SPEC);
    assert_true(secs_since(&t0) < 10.0); /* libfyaml's own check: ~34 s */
    assert_non_null(strstr(err.msg, "dup.yaml:80012: invalid YAML: duplicate key \"S39999\""));
    free(t.s);

    /* plain, single- and double-quoted spellings of one key are the same key; JSON too */
    static const char *const dups[] = {
        "openapi: 3.0.3\npaths: {}\na: 1\n'a': 2\n",
        "openapi: 3.0.3\npaths: {}\nx: {\"k\\u0041\": 1, kA: 2}\n",
        "{\"openapi\": \"3.0.3\", \"paths\": {}, \"paths\": {}}",
    };
    for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
        assert_int_equal(load_str("d.yaml", dups[i], &spec, &err), NES_ERR_SPEC);
        assert_non_null(strstr(err.msg, "duplicate key"));
    }
    /* equal-looking but different keys are fine */
    assert_int_equal(
        load_str("ok.yaml",
                 "openapi: 3.0.3\npaths: {}\nx: {a: 1, A: 2, 'a ': 3, \"1\": 4, 01: 5}\n", &spec,
                 &err),
        NES_OK);
    nes_spec_free(spec);
}

/* $ref lookups through the index find escaped and quoted keys as libfyaml's scan did. */
static void indexed_lookups_match_the_scan(void **state)
{
    (void)state;
    text t = {0};
    add(&t, "openapi: 3.0.3\nx-pii-root: '#/components/schemas/Root'\ncomponents:\n  schemas:\n");
    for (int i = 0; i < 100; i++)
        add(&t, "    F%d: {type: string}\n", i);
    add(&t, "    \"a/b\": {type: string, x-pii: true}\n"
            "    'c~d': {type: string, x-pii: true}\n"
            "    \"sp ace\": {type: string, x-pii: true}\n"
            "    Root:\n      properties:\n"
            "        x: {$ref: '#/components/schemas/a~1b'}\n"
            "        y: {$ref: '#/components/schemas/c~0d'}\n"
            "        z: {$ref: '#/components/schemas/sp%%20ace'}\n"
            "        w: {$ref: '#/components/schemas/F99'}\n");
    nes_spec *spec;
    nes_err err;
    assert_int_equal(load("ix.yaml", &t, &spec, &err), NES_OK);
    const nes_pii_node *root;
    assert_int_equal(nes_spec_root(spec, NULL, &root, &err), NES_OK);
    size_t paths = 0;
    assert_int_equal(nes_pii_paths(root, count_path, &paths), 0);
    assert_int_equal(paths, 3);
    nes_spec_free(spec);
    /* a missing key in an indexed map is still "not found" */
    add(&t, "        v: {$ref: '#/components/schemas/F100'}\n");
    assert_int_equal(load("ix.yaml", &t, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "$ref target \"#/components/schemas/F100\" not found"));
    free(t.s);
}

/* ---- hostile specs: refused at once ---------------------------------------------------------- */

/* The 1.4 KB merge-key bomb: 10 merges of 10 merges ... inside `properties`. */
static void merge_key_bomb(text *t, int levels)
{
    add(t, "openapi: 3.0.3\nx-pii-root: '#/components/schemas/R'\nx-defs:\n"
           "  m0: &m0 {p: {type: string, x-pii: true}}\n");
    for (int i = 1; i < levels; i++) {
        add(t, "  m%d: &m%d {<<: [", i, i);
        for (int j = 0; j < 10; j++)
            add(t, "%s*m%d", j ? ", " : "", i - 1);
        add(t, "]}\n");
    }
    add(t, "components:\n  schemas:\n    R:\n      type: object\n      properties:\n        <<: [");
    for (int j = 0; j < 10; j++)
        add(t, "%s*m%d", j ? ", " : "", levels - 1);
    add(t, "]\n");
}

static void alias_bombs_are_refused_at_once(void **state)
{
    (void)state;
    nes_spec *spec;
    nes_err err;
    struct timespec t0;

    text mk = {0};
    merge_key_bomb(&mk, 8); /* 10^8 entries */
    assert_true(mk.len < 2048);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(load("merge.yaml", &mk, &spec, &err), NES_ERR_LIMIT);
    assert_true(secs_since(&t0) < 2.0);
    assert_non_null(strstr(err.msg, "merge.yaml: its YAML aliases and merge keys expand to more "
                                    "than 4000000 nodes"));
    free(mk.s);

    /* a small fan-out is fine and still merges */
    text small = {0};
    merge_key_bomb(&small, 3);
    assert_int_equal(load("merge.yaml", &small, &spec, &err), NES_OK);
    const nes_pii_node *root;
    assert_int_equal(nes_spec_root(spec, NULL, &root, &err), NES_OK);
    assert_non_null(nes_pii_child(root, "p", 1));
    nes_spec_free(spec);
    free(small.s);

    /* billion laughs through plain aliases (10^10 nodes expanded), in a sequence and a map */
    for (int shape = 0; shape < 2; shape++) {
        text lol = {0};
        add(&lol, "openapi: 3.0.3\npaths: {}\nx-lol:\n  l0: &l0 lol\n");
        for (int i = 1; i <= 10; i++) {
            add(&lol, "  l%d: &l%d %c", i, i, shape ? '{' : '[');
            for (int j = 0; j < 10; j++) {
                if (shape)
                    add(&lol, "%sk%d: *l%d", j ? ", " : "", j, i - 1);
                else
                    add(&lol, "%s*l%d", j ? ", " : "", i - 1);
            }
            add(&lol, "%c\n", shape ? '}' : ']');
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(load("lol.yaml", &lol, &spec, &err), NES_ERR_LIMIT);
        assert_true(secs_since(&t0) < 2.0);
        assert_non_null(strstr(err.msg, "expand to more than"));
        free(lol.s);
    }
}

/* Inline schemas nested deeper than libfyaml's 64 levels load (up to NES_SPEC_MAX_NESTING, the
 * depth an event pass measures first); deeper documents are refused with the reason, hostile
 * ones without a crash or a wait. */
static void deep_specs_load_up_to_the_nesting_limit(void **state)
{
    (void)state;
    nes_spec *spec;
    nes_err err;
    for (int levels = 40; levels <= 300; levels += 260) {
        text t = {0};
        add(&t, "openapi: 3.0.3\nx-pii-root: '#/components/schemas/D'\ncomponents:\n  schemas:\n"
                "    D: ");
        for (int i = 0; i < levels; i++)
            add(&t, "{properties: {a: ");
        add(&t, "{x-pii: true}");
        for (int i = 0; i < levels; i++)
            add(&t, "}}");
        add(&t, "\n");
        nes_status st = load("deep.yaml", &t, &spec, &err);
        if (levels == 40) { /* 84 YAML levels */
            assert_int_equal(st, NES_OK);
            const nes_pii_node *n;
            assert_int_equal(nes_spec_root(spec, NULL, &n, &err), NES_OK);
            for (int i = 0; i < levels; i++)
                n = nes_pii_child(n, "a", 1);
            assert_non_null(n);
            assert_true(n->pii);
            nes_spec_free(spec);
        } else { /* 604 levels */
            assert_int_equal(st, NES_ERR_LIMIT);
            char want[96];
            snprintf(want, sizeof want, "deep.yaml:5: nested deeper than %d levels",
                     NES_SPEC_MAX_NESTING);
            assert_non_null(strstr(err.msg, want));
            assert_non_null(strstr(err.msg, "$ref"));
        }
        free(t.s);
    }
    /* block style, 100 properties deep (204 levels, 400 columns of indentation) */
    text b = {0};
    add(&b, "openapi: 3.0.3\nx-pii-root: '#/components/schemas/D'\ncomponents:\n  schemas:\n"
            "    D:\n");
    int ind = 6;
    for (int i = 0; i < 100; i++, ind += 4)
        add(&b, "%*sproperties:\n%*sa:\n", ind, "", ind + 2, "");
    add(&b, "%*sx-pii: true\n", ind, "");
    assert_int_equal(load("block.yaml", &b, &spec, &err), NES_OK);
    nes_spec_free(spec);
    free(b.s);
    /* hostile: 100k open brackets, some behind quotes that are not quoted scalars */
    static const char *const heads[] = {"x: ", "x: [a'b, ", "x: [a:'b, \"c\", "};
    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
        text d = {0};
        add(&d, "openapi: 3.0.3\npaths: {}\n%s", heads[h]);
        for (int i = 0; i < 100000; i++)
            add(&d, "[");
        for (int i = 0; i < 100000; i++)
            add(&d, "]");
        add(&d, "%s\n", h ? ", c'd]" : "");
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(load("hostile.yaml", &d, &spec, &err), NES_ERR_LIMIT);
        assert_true(secs_since(&t0) < 20.0);
        assert_non_null(strstr(err.msg, "nested deeper than"));
        free(d.s);
    }
}

/* A chain of $refs whose PII path is longer than nes_pii_paths lists: the reason is the length. */
static void overlong_paths_report_their_length(void **state)
{
    (void)state;
    text t = {0};
    add(&t, "openapi: 3.0.3\nx-pii-root: '#/components/schemas/S0'\ncomponents:\n  schemas:\n");
    for (int i = 0; i < 500; i++)
        add(&t,
            "    S%d: {properties: {a_long_property_name: {$ref: '#/components/schemas/S%d'}}}\n",
            i, i + 1);
    add(&t, "    S500: {x-pii: true}\n");
    nes_spec *spec;
    nes_err err;
    assert_int_equal(load("long.yaml", &t, &spec, &err), NES_OK);
    const nes_pii_node *root;
    assert_int_equal(nes_spec_root(spec, NULL, &root, &err), NES_OK);
    size_t paths = 0;
    assert_int_equal(nes_pii_paths(root, count_path, &paths), NES_PII_PATHS_TOO_LONG);
    nes_spec_free(spec);
    free(t.s);
}

/* A one-line (minified) JSON spec is parsed from a copy with one added line break; messages
 * still give the lines of the original. */
static void minified_json_keeps_its_line_numbers(void **state)
{
    (void)state;
    text t = {0};
    add(&t, "{\"openapi\":\"3.0.3\",\"x-pii-root\":\"#/components/schemas/R\",\"components\":"
            "{\"schemas\":{");
    for (int i = 0; i < 400; i++)
        add(&t, "\"F%d\":{\"type\":\"string\"},", i);
    add(&t, "\"R\":{\"properties\":{\"a\":{\"x-pii\":\"yes\"}}}}}}");
    assert_true(t.len > 8192);
    nes_spec *spec;
    nes_err err;
    assert_int_equal(nes_spec_load("min.json", t.s, t.len, NULL, NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "min.json:1: #/components/schemas/R/properties/a: "));
    t.len -= 4; /* "...\"yes\"}}}}}}" -> a syntax error on line 3 */
    add(&t, "}}}\n\n:}");
    assert_int_equal(nes_spec_load("min.json", t.s, t.len, NULL, NULL, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "min.json:3: invalid JSON"));
    free(t.s);
}

/* ---- files: symbolic links ------------------------------------------------------------------- */

static void write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(s, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void symlinks_leaving_the_directory_are_refused(void **state)
{
    (void)state;
    char top[] = "/tmp/nes-spec-links-XXXXXX";
    assert_non_null(mkdtemp(top));
    char dir[256], path[512], outside[512], inside[512];
    snprintf(dir, sizeof dir, "%s/specs", top);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(outside, sizeof outside, "%s/secret.yaml", top);
    write_file(outside, "components: {schemas: {S: {type: string, x-pii: true}}}\n");
    snprintf(inside, sizeof inside, "%s/real.yaml", dir);
    write_file(inside, "components: {schemas: {S: {type: string, x-pii: true}}}\n");
    snprintf(path, sizeof path, "%s/out.yaml", dir);
    assert_int_equal(symlink(outside, path), 0);
    snprintf(path, sizeof path, "%s/in.yaml", dir);
    assert_int_equal(symlink("real.yaml", path), 0);

    snprintf(path, sizeof path, "%s/main.yaml", dir);
    write_file(path,
               "openapi: 3.0.3\nx-pii-root: '#/components/schemas/R'\ncomponents:\n"
               "  schemas:\n    R: {properties: {a: {$ref: 'in.yaml#/components/schemas/S'}}}\n");
    nes_spec *spec;
    nes_err err;
    assert_int_equal(nes_spec_load_file(path, &spec, &err), NES_OK); /* a link inside: fine */
    nes_spec_free(spec);
    write_file(path,
               "openapi: 3.0.3\nx-pii-root: '#/components/schemas/R'\ncomponents:\n"
               "  schemas:\n    R: {properties: {a: {$ref: 'out.yaml#/components/schemas/S'}}}\n");
    assert_int_equal(nes_spec_load_file(path, &spec, &err), NES_ERR_SPEC);
    assert_non_null(strstr(err.msg, "symbolic link that leaves the spec's directory"));

    unlink(path);
    snprintf(path, sizeof path, "%s/out.yaml", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/in.yaml", dir);
    unlink(path);
    unlink(inside);
    unlink(outside);
    rmdir(dir);
    rmdir(top);
}

/* ---- messages for API clients ---------------------------------------------------------------- */

static void root_errors_name_the_spec_not_its_path(void **state)
{
    (void)state;
    const char *src = getenv("NES_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/integration/data/specs/twoops.yaml", src ? src : ".");
    nes_spec *spec;
    nes_err err;
    assert_int_equal(nes_spec_load_file(path, &spec, &err), NES_OK);
    const nes_pii_node *root;
    static const char *const ops[] = {"Y", NULL, "\x01/etc/passwd"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        assert_int_equal(nes_spec_root(spec, ops[i], &root, &err), NES_ERR_ROOT);
        assert_int_equal(strncmp(err.msg, "twoops.yaml: ", 13), 0);
        assert_null(strstr(err.msg, "/tests/"));
    }
    assert_non_null(strstr(err.msg, "unknown operationId \"?/etc/passwd\""));
    nes_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(large_specs_load_in_linear_time),
        cmocka_unit_test(duplicate_keys_are_found_in_large_maps),
        cmocka_unit_test(indexed_lookups_match_the_scan),
        cmocka_unit_test(alias_bombs_are_refused_at_once),
        cmocka_unit_test(deep_specs_load_up_to_the_nesting_limit),
        cmocka_unit_test(overlong_paths_report_their_length),
        cmocka_unit_test(minified_json_keeps_its_line_numbers),
        cmocka_unit_test(symlinks_leaving_the_directory_are_refused),
        cmocka_unit_test(root_errors_name_the_spec_not_its_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
