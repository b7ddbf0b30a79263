/* Unit tests: the compact YAML tree (src/core/ytree.c). Documents are written back in a small
 * canonical form and compared with the expected text: `{k:v}` mappings, `[a,b]` sequences, plain
 * scalars as they are, other scalars in single quotes, `&` before an anchored collection, and an
 * alias as `*M` / `*S` / `*Q` (its target a mapping / sequence / scalar).
 * fuzz/fuzz_ytree.c compares the same tree with libfyaml's own document tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/schema.h"
#include "core/ytree.h"

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct out {
    char s[1024];
    size_t n;
} out;

static void put(out *o, const char *s, size_t len)
{
    assert_true(o->n + len < sizeof o->s);
    memcpy(o->s + o->n, s, len);
    o->n += len;
    o->s[o->n] = '\0';
}

static void dump(out *o, nes_yn *n)
{
    if (nes_yn_is_alias(n)) {
        nes_yn *t = nes_yn_resolve(n);
        assert_non_null(t);
        put(o, nes_yn_is_map(t) ? "*M" : nes_yn_is_seq(t) ? "*S" : "*Q", 2);
        return;
    }
    if (nes_yn_is_scalar(n)) {
        size_t len;
        const char *s = nes_yn_scalar(n, &len);
        assert_non_null(s);
        if (!nes_yn_is_plain(n))
            put(o, "'", 1);
        put(o, s, len);
        if (!nes_yn_is_plain(n))
            put(o, "'", 1);
        return;
    }
    if (nes_yn_anchored(n))
        put(o, "&", 1);
    void *it = NULL;
    bool first = true;
    if (nes_yn_is_map(n)) {
        put(o, "{", 1);
        nes_yn_pair *p;
        while ((p = nes_yn_map_iterate(n, &it)) != NULL) {
            if (!first)
                put(o, ",", 1);
            first = false;
            assert_ptr_equal(nes_yn_parent(nes_yn_pair_key(p)), n);
            assert_ptr_equal(nes_yn_parent(nes_yn_pair_value(p)), n);
            dump(o, nes_yn_pair_key(p));
            put(o, ":", 1);
            dump(o, nes_yn_pair_value(p));
        }
        put(o, "}", 1);
        return;
    }
    assert_true(nes_yn_is_seq(n));
    put(o, "[", 1);
    nes_yn *c;
    int i = 0;
    while ((c = nes_yn_seq_iterate(n, &it)) != NULL) {
        assert_ptr_equal(c, nes_yn_seq_at(n, i++));
        assert_ptr_equal(nes_yn_parent(c), n);
        if (!first)
            put(o, ",", 1);
        first = false;
        dump(o, c);
    }
    assert_int_equal(i, nes_yn_count(n));
    put(o, "]", 1);
}

static nes_yt_status parse(const char *s, bool json, unsigned depth, nes_ytree **t, char *msg,
                           int *line)
{
    nes_yt_opts o = {.json = json, .max_depth = depth ? depth : NES_SPEC_MAX_NESTING};
    return nes_ytree_parse(s, strlen(s), &o, t, msg, 160, line);
}

/* ---- documents ----------------------------------------------------------------------------- */

typedef struct tree_case {
    const char *name, *in;
    bool json;
    const char *want;
} tree_case;

static const tree_case tree_cases[] = {
    {"block mapping", "a: 1\nb: [x, 'y']\nc: {d: \"e\"}\n", false, "{a:1,b:[x,'y'],c:{d:'e'}}"},
    {"JSON", "{\"a\": [1, {\"b\": null}], \"c\": true}", true, "{'a':[1,{'b':null}],'c':true}"},
    {"JSON read as YAML", "{\"a\": [1, 2.5]}", false, "{'a':[1,2.5]}"},
    {"anchors and aliases", "a: &x {b: 1}\nc: *x\ne: &s [1]\nf: *s\ng: &q v\nh: *q\n", false,
     "{a:&{b:1},c:*M,e:&[1],f:*S,g:v,h:*Q}"},
    {"an alias names the latest anchor before it", "a: &x [1]\nb: *x\nc: &x {k: v}\nd: *x\n", false,
     "{a:&[1],b:*S,c:&{k:v},d:*M}"},
    {"alias to an ancestor", "&a [*a, {k: *a}]\n", false, "&[*S,{k:*S}]"},
    {"merge keys stay keys", "base: &b {x: 1}\nt:\n  <<: *b\n  y: 2\n", false,
     "{base:&{x:1},t:{<<:*M,y:2}}"},
    {"empty values are empty plain scalars", "a:\nb: ~\nc: ''\n", false, "{a:,b:~,c:''}"},
    {"escapes", "a: \"x\\ty\\u00e9\"\nb: 'it''s'\n", false, "{a:'x\ty\xc3\xa9',b:'it's'}"},
    {"block scalars", "a: |\n  l1\n  l2\nb: >\n  f1\n  f2\n", false, "{a:'l1\nl2\n',b:'f1 f2\n'}"},
    {"plain multi-line scalar", "a: one\n  two\n", false, "{a:one two}"},
    {"first document only", "--- a\n--- b\n", false, "a"},
    {"trailing error after the first document", "--- a\n--- [b\n", false, "a"},
    {"complex keys", "? [a, b]\n: c\n? {d: e}\n: f\n", false, "{[a,b]:c,{d:e}:f}"},
    {"duplicate keys are kept", "a: 1\na: 2\n", false, "{a:1,a:2}"},
    {"tags are dropped", "!!map {a: !!str 1, b: !custom [x]}\n", false, "{a:1,b:[x]}"},
    {"empty collections", "a: {}\nb: []\n", false, "{a:{},b:[]}"},
    {"empty document", "---\n...\n", false, ""},
    {"scalar root", "just text\n", false, "just text"},
};

static void trees_are_built_as_written(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tree_cases / sizeof tree_cases[0]; i++) {
        const tree_case *tc = &tree_cases[i];
        nes_ytree *t;
        char msg[160];
        int line;
        nes_yt_status st = parse(tc->in, tc->json, 0, &t, msg, &line);
        if (st != NES_YT_OK)
            fail_msg("%s: status %d (%s)", tc->name, (int)st, msg);
        out o = {.n = 0};
        o.s[0] = '\0';
        dump(&o, nes_ytree_root(t));
        if (strcmp(o.s, tc->want) != 0)
            fail_msg("%s: got %s, want %s", tc->name, o.s, tc->want);
        assert_null(nes_yn_parent(nes_ytree_root(t)));
        nes_ytree_free(t);
    }
}

/* ---- failures ------------------------------------------------------------------------------ */

typedef struct fail_case {
    const char *name, *in;
    bool json;
    nes_yt_status want;
    int line;        /* expected line, -1: not checked */
    const char *msg; /* substring of the message, or NULL */
} fail_case;

static const fail_case fail_cases[] = {
    {"unclosed flow sequence", "a: [1, 2\nb: 3\n", false, NES_YT_SYNTAX, -1, NULL},
    {"bad indentation", "a:\n  b: 1\n c: 2\n", false, NES_YT_SYNTAX, 3, NULL},
    {"JSON trailing comma", "{\"a\": 1,\n}", true, NES_YT_SYNTAX, -1, "trailing comma"},
    {"nothing", "", false, NES_YT_EMPTY, 0, NULL},
    {"only a comment", "# nothing here\n", false, NES_YT_EMPTY, 0, NULL},
    {"alias with an anchor name that is not one", "a: *\n", false, NES_YT_SYNTAX, 1, NULL},
    {"alias to no anchor", "a: 1\nb: {c: *nope}\n", false, NES_YT_SYNTAX, 2,
     "alias *nope names no anchor before it"},
    {"alias to a later anchor", "a: *x\nb: &x [1]\n", false, NES_YT_SYNTAX, 1,
     "alias *x names no anchor"},
    /* checked before libfyaml, whose scanner can loop on such bytes */
    {"a byte that is not UTF-8", "a: 1\nb: \xc3(\n", false, NES_YT_SYNTAX, 2,
     "not UTF-8 text (invalid byte at byte 8)"},
    /* libfyaml 0.7.12 recycles a simple key twice on these; freeing that parser crashed */
    {"a tab before a block entry after a complex key's value", "? f:\t-", false, NES_YT_SYNTAX, 1,
     "cannot use tab for indentation of block entry"},
    {"the same, nested, before a literal", "k:\n  ? x: \t|\n", false, NES_YT_SYNTAX, 2,
     "cannot use tab"},
};

/* The text check on its own: a NUL stops it as an invalid byte does, at its offset and line. */
static void text_check_finds_the_first_bad_byte(void **state)
{
    (void)state;
    char msg[160];
    int line = 0;
    static const char good[] = "a: \xc3\xa9\n";
    assert_int_equal(nes_ytree_check_text(good, sizeof good - 1, msg, sizeof msg, &line),
                     sizeof good - 1);
    static const char nul[] = "a: 1\nb: x\0y\n";
    assert_int_equal(nes_ytree_check_text(nul, sizeof nul - 1, msg, sizeof msg, &line), 9);
    assert_string_equal(msg, "not UTF-8 text (NUL at byte 9)");
    assert_int_equal(line, 2);
    static const char bad[] = "\xff";
    assert_int_equal(nes_ytree_check_text(bad, 1, msg, sizeof msg, &line), 0);
    assert_string_equal(msg, "not UTF-8 text (invalid byte at byte 0)");
    assert_int_equal(line, 1);
}

static void failures_say_why_and_where(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fail_cases / sizeof fail_cases[0]; i++) {
        const fail_case *fc = &fail_cases[i];
        nes_ytree *t = (nes_ytree *)&t; /* must be reset */
        char msg[160];
        int line;
        nes_yt_status st = parse(fc->in, fc->json, 0, &t, msg, &line);
        if (st != fc->want)
            fail_msg("%s: status %d, want %d (%s)", fc->name, (int)st, (int)fc->want, msg);
        assert_null(t);
        if (fc->line >= 0 && line != fc->line)
            fail_msg("%s: line %d, want %d (%s)", fc->name, line, fc->line, msg);
        if (st == NES_YT_SYNTAX)
            assert_true(msg[0] != '\0');
        if (fc->msg != NULL && strstr(msg, fc->msg) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", fc->name, msg, fc->msg);
    }
}

/* Nesting up to max_depth builds; one level more stops at the line where it starts. */
static void nesting_is_bounded(void **state)
{
    (void)state;
    for (unsigned depth = 1; depth <= NES_SPEC_MAX_NESTING + 1; depth += NES_SPEC_MAX_NESTING) {
        size_t n = depth;
        char *s = malloc(2 * n + 8);
        assert_non_null(s);
        memcpy(s, "#\n", 2); /* the brackets start on line 2 */
        memset(s + 2, '[', n);
        memset(s + 2 + n, ']', n);
        s[2 + 2 * n] = '\0';
        nes_ytree *t;
        char msg[160];
        int line;
        nes_yt_status st = parse(s, false, NES_SPEC_MAX_NESTING, &t, msg, &line);
        if (depth <= NES_SPEC_MAX_NESTING) {
            assert_int_equal(st, NES_YT_OK);
            nes_yn *n2 = nes_ytree_root(t);
            for (unsigned i = 1; i < depth; i++)
                n2 = nes_yn_seq_at(n2, 0);
            assert_true(nes_yn_is_seq(n2));
            assert_int_equal(nes_yn_count(n2), 0);
            assert_int_equal(nes_ytree_nodes(t), depth);
            nes_ytree_free(t);
        } else {
            assert_int_equal(st, NES_YT_DEEP);
            assert_null(t);
            assert_int_equal(line, 2);
            assert_non_null(strstr(msg, "nested deeper"));
        }
        free(s);
    }
    /* 100,000 brackets: refused at once, no recursion anywhere */
    size_t n = 100000;
    char *s = malloc(2 * n + 1);
    assert_non_null(s);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    nes_ytree *t;
    char msg[160];
    int line;
    assert_int_equal(parse(s, false, 0, &t, msg, &line), NES_YT_DEEP);
    assert_int_equal(parse(s, true, 0, &t, msg, &line), NES_YT_DEEP);
    free(s);
}

/* Building stops at the node after max_nodes, where it is. */
static void node_count_is_bounded(void **state)
{
    (void)state;
    const char *in = "# four nodes\n[a, b,\n c]\n";
    nes_ytree *t;
    char msg[160];
    int line;
    nes_yt_opts o = {.max_depth = 4, .max_nodes = 4};
    assert_int_equal(nes_ytree_parse(in, strlen(in), &o, &t, msg, sizeof msg, &line), NES_YT_OK);
    assert_int_equal(nes_ytree_nodes(t), 4);
    nes_ytree_free(t);
    o.max_nodes = 3;
    assert_int_equal(nes_ytree_parse(in, strlen(in), &o, &t, msg, sizeof msg, &line), NES_YT_LARGE);
    assert_null(t);
    assert_int_equal(line, 3);
    assert_non_null(strstr(msg, "more than 3 nodes"));
}

/* ---- locations and texts ------------------------------------------------------------------- */

static void scalars_know_their_lines(void **state)
{
    (void)state;
    const char *in = "a: 1\n\nb:\n  c: x\n  d: [y,\n    z]\n";
    nes_ytree *t;
    char msg[160];
    int line;
    assert_int_equal(parse(in, false, 0, &t, msg, &line), NES_YT_OK);
    nes_yn *root = nes_ytree_root(t);
    nes_yn *b = nes_yn_map_get(root, "b", 1);
    assert_int_equal(nes_yn_line(nes_yn_map_get(root, "a", 1)), 1);
    assert_int_equal(nes_yn_line(nes_yn_map_get(b, "c", 1)), 4);
    nes_yn *d = nes_yn_map_get(b, "d", 1);
    assert_int_equal(nes_yn_line(d), 0); /* collections: no line of their own */
    assert_int_equal(nes_yn_line(nes_yn_seq_at(d, 0)), 5);
    assert_int_equal(nes_yn_line(nes_yn_seq_at(d, 1)), 6);
    assert_int_equal(nes_yn_line(nes_yn_map_get(root, "a:", 2)), 0); /* absent: NULL */
    nes_ytree_free(t);

    /* a split input (one line break added on line 1) reports the original lines */
    const char *whole = "{\n\"a\": 1, \"b\":\n 2,\n\"c\": [3]}";
    nes_yt_opts o = {.json = true, .max_depth = 8, .split = true};
    assert_int_equal(nes_ytree_parse(whole, strlen(whole), &o, &t, msg, sizeof msg, &line),
                     NES_YT_OK);
    root = nes_ytree_root(t);
    assert_int_equal(nes_yn_line(nes_yn_map_get(root, "a", 1)), 1);
    assert_int_equal(nes_yn_line(nes_yn_map_get(root, "b", 1)), 2);
    assert_int_equal(nes_yn_line(nes_yn_seq_at(nes_yn_map_get(root, "c", 1), 0)), 3);
    nes_ytree_free(t);
    /* the same error line as the unsplit text's */
    const char *bad = "{\n\"a\": 1,\n\n :}";
    o.json = true;
    assert_int_equal(nes_ytree_parse(bad, strlen(bad), &o, &t, msg, sizeof msg, &line),
                     NES_YT_SYNTAX);
    int split_line = line;
    o.split = false;
    assert_int_equal(nes_ytree_parse(bad, strlen(bad), &o, &t, msg, sizeof msg, &line),
                     NES_YT_SYNTAX);
    assert_int_equal(split_line + 1, line);
}

/* Texts libfyaml reads straight from the input point into it; texts it had to build are copied
 * into the tree. */
static void texts_outlive_the_parser(void **state)
{
    (void)state;
    const char *in = "{plain: text, esc: \"a\\nb\"}\n";
    nes_ytree *t;
    char msg[160];
    int line;
    assert_int_equal(parse(in, false, 0, &t, msg, &line), NES_YT_OK);
    nes_yn *root = nes_ytree_root(t);
    size_t len;
    const char *p = nes_yn_scalar(nes_yn_map_get(root, "plain", 5), &len);
    assert_true(p >= in && p < in + strlen(in));
    assert_int_equal(len, 4);
    const char *e = nes_yn_scalar(nes_yn_map_get(root, "esc", 3), &len);
    assert_true(e < in || e >= in + strlen(in));
    assert_int_equal(len, 3);
    assert_memory_equal(e, "a\nb", 3);
    nes_ytree_free(t);
}

/* ---- accessors ----------------------------------------------------------------------------- */

static void accessors_refuse_the_wrong_kind(void **state)
{
    (void)state;
    nes_ytree *t;
    char msg[160];
    int line;
    assert_int_equal(parse("m: {k: v}\ns: [1]\nq: x\n", false, 0, &t, msg, &line), NES_YT_OK);
    nes_yn *root = nes_ytree_root(t);
    nes_yn *m = nes_yn_map_get(root, "m", 1), *s = nes_yn_map_get(root, "s", 1),
           *q = nes_yn_map_get(root, "q", 1);
    void *it = NULL;
    size_t len = 99;
    assert_null(nes_yn_map_iterate(s, &it));
    assert_null(nes_yn_seq_iterate(m, &it));
    assert_null(nes_yn_map_iterate(NULL, &it));
    assert_null(nes_yn_map_get(s, "k", 1));
    assert_null(nes_yn_map_get(m, "kk", 2));
    assert_null(nes_yn_seq_at(s, 1));
    assert_null(nes_yn_seq_at(s, -1));
    assert_null(nes_yn_seq_at(m, 0));
    assert_null(nes_yn_scalar(m, &len));
    assert_int_equal(len, 0);
    assert_int_equal(nes_yn_count(q), 0);
    assert_int_equal(nes_yn_count(m), 1);
    assert_false(nes_yn_is_plain(m));
    assert_false(nes_yn_anchored(m));
    assert_false(nes_yn_is_map(NULL) || nes_yn_is_seq(NULL) || nes_yn_is_scalar(NULL) ||
                 nes_yn_is_alias(NULL));
    assert_null(nes_yn_resolve(NULL));
    assert_ptr_equal(nes_yn_resolve(q), q);
    assert_null(nes_yn_parent(NULL));
    assert_null(nes_yn_pair_key(NULL));
    assert_null(nes_yn_pair_value(NULL));
    assert_int_equal(nes_yn_line(NULL), 0);
    assert_int_equal(nes_ytree_nodes(t), 10);
    assert_null(nes_ytree_root(NULL));
    assert_int_equal(nes_ytree_nodes(NULL), 0);
    nes_ytree_free(t);
    nes_ytree_free(NULL);
}

/* A large mapping: entries in order, the last one found, about 32 bytes per node. */
static void large_mappings_stay_in_order(void **state)
{
    (void)state;
    size_t n = 100000;
    char *s = malloc(n * 24);
    assert_non_null(s);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "k%zu: {v: %zu}\n", i, i);
    nes_ytree *t;
    nes_yt_opts opt = {.max_depth = 4};
    char msg[160];
    int line;
    assert_int_equal(nes_ytree_parse(s, o, &opt, &t, msg, sizeof msg, &line), NES_YT_OK);
    nes_yn *root = nes_ytree_root(t);
    assert_int_equal(nes_yn_count(root), (int)n);
    void *it = NULL;
    nes_yn_pair *p;
    size_t i = 0;
    char want[32];
    while ((p = nes_yn_map_iterate(root, &it)) != NULL) {
        size_t len;
        const char *k = nes_yn_scalar(nes_yn_pair_key(p), &len);
        int wl = snprintf(want, sizeof want, "k%zu", i++);
        assert_int_equal(len, (size_t)wl);
        assert_memory_equal(k, want, len);
    }
    assert_int_equal(i, n);
    nes_yn *last = nes_yn_map_get(nes_yn_map_get(root, "k99999", 6), "v", 1);
    size_t len;
    assert_memory_equal(nes_yn_scalar(last, &len), "99999", 5);
    assert_int_equal(nes_yn_line(last), (int)n);
    assert_int_equal(nes_ytree_nodes(t), 4 * n + 1);
    nes_ytree_free(t);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trees_are_built_as_written),
        cmocka_unit_test(text_check_finds_the_first_bad_byte),
        cmocka_unit_test(failures_say_why_and_where),
        cmocka_unit_test(nesting_is_bounded),
        cmocka_unit_test(node_count_is_bounded),
        cmocka_unit_test(scalars_know_their_lines),
        cmocka_unit_test(texts_outlive_the_parser),
        cmocka_unit_test(accessors_refuse_the_wrong_kind),
        cmocka_unit_test(large_mappings_stay_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
