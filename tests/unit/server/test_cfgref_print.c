/* test_cfgref_print.c - nes_cfgref_print (net/cfgref_print.h): a stream gets exactly what
 * nes_cfgref_markdown makes; a bad row or a stream that takes nothing is -1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/cfgref_print.h"

static const nes_cfgref_var good[] = {
    {"Limits", "MAX_X", "integer", "10", false, "1 to 20", "the most x"},
    {NULL, "P", "string", "a|b", true, NULL, "one\nline"},
};
static const nes_cfgref_var no_help[] = {
    {"Limits", "MAX_X", "integer", "10", false, NULL, NULL},
};

static void prints_what_markdown_makes(void **state)
{
    (void)state;
    static const struct {
        const nes_cfgref_var *v;
        size_t n;
        const char *intro;
    } cases[] = {{good, 2, "Intro."}, {good, 1, NULL}, {NULL, 0, NULL}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_buf want = {0};
        assert_int_equal(nes_cfgref_markdown(&want, "prog", cases[i].intro, cases[i].v, cases[i].n),
                         0);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_non_null(f);
        assert_int_equal(nes_cfgref_print(f, "prog", cases[i].intro, cases[i].v, cases[i].n), 0);
        fclose(f);
        assert_int_equal(len, want.len);
        assert_memory_equal(text, want.data, len);
        free(text);
        nes_buf_free(&want);
    }
}

static void failures_are_minus_one(void **state)
{
    (void)state;
    /* a row without help: nothing is written */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(nes_cfgref_print(f, "prog", NULL, no_help, 1), -1);
    fclose(f);
    assert_int_equal(len, 0);
    free(text);
    /* a stream opened for reading takes nothing */
    FILE *ro = fopen("/dev/null", "r");
    assert_non_null(ro);
    assert_int_equal(nes_cfgref_print(ro, "prog", NULL, good, 2), -1);
    fclose(ro);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prints_what_markdown_makes),
        cmocka_unit_test(failures_are_minus_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
