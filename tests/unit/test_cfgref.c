/* test_cfgref.c - the configuration reference printer (core/cfgref.h), as tables of rows and
 * the exact Markdown they give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cfgref.h"

#define HDR "| Setting | Type | Default | Allowed | Description |\n|---|---|---|---|---|\n"

static void markdown_table(void **state)
{
    (void)state;
    static const nes_cfgref_var one[] = {
        {"Limits", "MAX_X", "integer", "10", false, "1 to 20", "the most x"},
    };
    static const nes_cfgref_var groups[] = {
        {"B", "B1", "string", NULL, false, NULL, "first of B"},
        {"A", "A1", "size", "1024", false, NULL, "first of A"},
        {"B", "B2", "string", "", false, NULL, "second of B"},
        {"B", "B1", "string", "dup", false, NULL, "a repeat in B: left out"},
        {"A", "B1", "string", "x", false, NULL, "the same name in A: printed"},
    };
    static const nes_cfgref_var cells[] = {
        {NULL, "P", "string", "a|b", false, "x | y", "one\nline"},
        {"", "D", "string", "from P", true, NULL, "derived default"},
    };
    static const struct {
        const nes_cfgref_var *v;
        size_t n;
        const char *intro, *want;
    } cases[] = {
        {one, 1, "Intro.",
         "## `prog`\n\nIntro.\n\n### Limits\n\n" HDR
         "| `MAX_X` | integer | `10` | 1 to 20 | the most x |\n"},
        {groups, 5, NULL,
         "## `prog`\n\n### B\n\n" HDR "| `B1` | string | unset |  | first of B |\n"
         "| `B2` | string | empty |  | second of B |\n"
         "\n### A\n\n" HDR "| `A1` | size | `1024` |  | first of A |\n"
         "| `B1` | string | `x` |  | the same name in A: printed |\n"},
        {cells, 2, NULL,
         "## `prog`\n\n### General\n\n" HDR "| `P` | string | `a\\|b` | x \\| y | one line |\n"
         "| `D` | string | from P |  | derived default |\n"},
        {NULL, 0, NULL, "## `prog`\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_buf b = {0};
        assert_int_equal(nes_cfgref_markdown(&b, "prog", cases[i].intro, cases[i].v, cases[i].n),
                         0);
        assert_int_equal(nes_buf_append(&b, "", 1), 0);
        assert_string_equal((const char *)b.data, cases[i].want);
        nes_buf_free(&b);
    }
}

/* Rows the reference refuses: every setting needs a name, a type and a description. */
static void markdown_refuses(void **state)
{
    (void)state;
    static const nes_cfgref_var bad[] = {
        {"G", "X", "string", NULL, false, NULL, ""},
        {"G", "X", "string", NULL, false, NULL, NULL},
        {"G", "", "string", NULL, false, NULL, "help"},
        {"G", NULL, "string", NULL, false, NULL, "help"},
        {"G", "X", NULL, NULL, false, NULL, "help"},
    };
    static const nes_cfgref_var good = {"G", "OK", "string", NULL, false, NULL, "fine"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nes_cfgref_var two[2] = {good, bad[i]};
        nes_buf b = {0};
        assert_int_equal(nes_cfgref_markdown(&b, "prog", NULL, two, 2), -1);
        assert_int_equal(b.len, 0); /* checked before anything is written */
        nes_buf_free(&b);
    }
    nes_buf capped = {.max = 20}; /* out of memory midway */
    assert_int_equal(nes_cfgref_markdown(&capped, "prog", "an intro", &good, 1), -1);
    nes_buf_free(&capped);
}

/* Shared rows go in whole or not at all. */
static void append_rows(void **state)
{
    (void)state;
    const nes_cfgref_var shared[2] = {{.name = "A_X", .type = "string", .help = "x"},
                                      {.name = "A_Y", .type = "string", .help = "y"}};
    nes_cfgref_var v[3] = {{.name = "OWN", .type = "string", .help = "own"}};
    size_t n = 1;
    assert_int_equal(nes_cfgref_append(v, &n, 3, shared, 2), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[2].name, "A_Y");
    n = 2;
    assert_int_equal(nes_cfgref_append(v, &n, 3, shared, 2), -1); /* one slot left: none taken */
    assert_int_equal(n, 2);
    assert_string_equal(v[1].name, "A_X");
    n = 4; /* a count past the capacity is refused, not wrapped */
    assert_int_equal(nes_cfgref_append(v, &n, 3, shared, 0), -1);
}

static void range_text(void **state)
{
    (void)state;
    static const struct {
        unsigned long min, max;
        bool size;
        size_t out_len;
        const char *want;
    } cases[] = {
        {1, 65535, false, 64, "1 to 65535"},
        {1024, 256ul << 20, false, 64, "1024 to 268435456"},
        {1024, 256ul << 20, true, 64, "1 KiB to 256 MiB"},
        {0, 3ul << 30, true, 64, "0 to 3 GiB"},
        {1000, 1536, true, 64, "1000 to 1536"},
        {4096, 1ul << 20, true, 64, "4 KiB to 1 MiB"},
        {1, 65535, false, 6, "1 to "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        assert_ptr_equal(
            nes_cfgref_range(cases[i].min, cases[i].max, cases[i].size, out, cases[i].out_len),
            out);
        assert_string_equal(out, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(markdown_table),
        cmocka_unit_test(markdown_refuses),
        cmocka_unit_test(range_text),
        cmocka_unit_test(append_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
