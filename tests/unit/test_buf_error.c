/* Unit tests: buf.c and error.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"

static void buf_grows_and_keeps_content(void **state)
{
    (void)state;
    nes_buf b = {0};
    for (int i = 0; i < 1000; i++) {
        uint8_t c = (uint8_t)i;
        assert_int_equal(nes_buf_append(&b, &c, 1), 0);
    }
    assert_int_equal(b.len, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(b.data[i], (uint8_t)i);
    nes_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void buf_respects_cap(void **state)
{
    (void)state;
    nes_buf b = {.max = 10};
    assert_int_equal(nes_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(nes_buf_append(&b, "x", 1), -1);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "0123456789", 10);
    assert_int_equal(nes_buf_reserve(&b, SIZE_MAX), -1);
    nes_buf_free(&b);
}

static void buf_append_empty_is_noop(void **state)
{
    (void)state;
    nes_buf b = {0};
    assert_int_equal(nes_buf_append(&b, NULL, 0), 0);
    assert_null(b.data);
}

/* nes_buf_appendf: formatted text appended in place, whether it fits the room left or needs the
 * buffer to grow; the cap counts vsnprintf's NUL; a failure leaves `len` as it was. */
static void appendf_formats_in_place_and_grows(void **state)
{
    (void)state;
    static const struct {
        size_t prefill; /* bytes already in the buffer */
        size_t max;     /* cap; 0: none */
        size_t width;   /* "%*d" width of the appended number */
        int rc;
    } cases[] = {
        {0, 0, 3, 0},     /* empty buffer: no room at all */
        {5, 0, 10, 0},    /* fits the first allocation's room */
        {250, 0, 10, 0},  /* 256-byte first block too small: grows */
        {0, 0, 5000, 0},  /* longer than any stack line */
        {10, 21, 10, 0},  /* text and NUL just fit under the cap */
        {10, 20, 10, -1}, /* the text fits, its NUL does not: refused */
        {10, 15, 10, -1}, /* over the cap */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_buf b = {.max = cases[i].max};
        char *fill = calloc(1, cases[i].prefill + 1);
        assert_non_null(fill);
        memset(fill, 'p', cases[i].prefill);
        assert_int_equal(nes_buf_append(&b, fill, cases[i].prefill), 0);
        assert_int_equal(nes_buf_appendf(&b, "%*d", (int)cases[i].width, 42), cases[i].rc);
        if (cases[i].rc == 0) {
            assert_int_equal(b.len, cases[i].prefill + cases[i].width);
            assert_memory_equal(b.data, fill, cases[i].prefill);
            for (size_t k = 0; k < cases[i].width - 2; k++)
                assert_int_equal(b.data[cases[i].prefill + k], ' ');
            assert_memory_equal(b.data + b.len - 2, "42", 2);
        } else {
            assert_int_equal(b.len, cases[i].prefill);
        }
        free(fill);
        nes_buf_free(&b);
    }
    nes_buf b = {0};
    assert_int_equal(nes_buf_appendf(&b, "%s=%u;", "a", 1u), 0);
    assert_int_equal(nes_buf_appendf(&b, "%s", ""), 0);
    assert_int_equal(nes_buf_appendf(&b, "%s=%u;", "bc", 22u), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "a=1;bc=22;", 10);
    nes_buf_free(&b);
}

static void dup_bytes_copies_n_bytes_and_a_nul(void **state)
{
    (void)state;
    char *p = nes_dup_bytes("ab\0cd", 5);
    assert_non_null(p);
    assert_memory_equal(p, "ab\0cd", 6);
    free(p);
    p = nes_dup_bytes(NULL, 0);
    assert_non_null(p);
    assert_string_equal(p, "");
    free(p);
}

static void err_set_formats_and_clear_resets(void **state)
{
    (void)state;
    nes_err e;
    nes_err_clear(&e);
    assert_int_equal(e.status, NES_OK);
    assert_int_equal(e.offset, (size_t)-1);
    assert_int_equal(nes_err_set(&e, NES_ERR_JSON, 17, "bad %s at %d", "token", 3), NES_ERR_JSON);
    assert_int_equal(e.status, NES_ERR_JSON);
    assert_int_equal(e.offset, 17);
    assert_string_equal(e.msg, "bad token at 3");
    assert_int_equal(nes_err_set(NULL, NES_ERR_IO, 0, "ignored"), NES_ERR_IO);
    nes_err_clear(&e);
    assert_string_equal(e.msg, "");
}

static void msgf_formats_truncates_and_tolerates_null(void **state)
{
    (void)state;
    char buf[8];
    nes_msgf(buf, sizeof buf, "%s=%d", "port", 443);
    assert_string_equal(buf, "port=44"); /* truncated, NUL-terminated */
    nes_msgf(buf, sizeof buf, "ok");
    assert_string_equal(buf, "ok");
    memset(buf, 'x', sizeof buf);
    nes_msgf(buf, 0, "ignored");
    assert_int_equal(buf[0], 'x');
    nes_msgf(NULL, 10, "ignored");
}

static void status_names_are_distinct(void **state)
{
    (void)state;
    assert_string_equal(nes_status_name(NES_ERR_JSON), "invalid_json");
    assert_string_equal(nes_status_name(NES_ERR_ROOT), "ambiguous_root");
    for (int a = NES_OK; a <= NES_ERR_TYPE; a++)
        for (int b = a + 1; b <= NES_ERR_TYPE; b++)
            assert_string_not_equal(nes_status_name((nes_status)a), nes_status_name((nes_status)b));
    assert_string_equal(nes_status_name((nes_status)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_grows_and_keeps_content),
        cmocka_unit_test(buf_respects_cap),
        cmocka_unit_test(buf_append_empty_is_noop),
        cmocka_unit_test(appendf_formats_in_place_and_grows),
        cmocka_unit_test(dup_bytes_copies_n_bytes_and_a_nul),
        cmocka_unit_test(err_set_formats_and_clear_resets),
        cmocka_unit_test(msgf_formats_truncates_and_tolerates_null),
        cmocka_unit_test(status_names_are_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
