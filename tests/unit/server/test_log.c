/* test_log.c - JSON escaping, log line building, level parsing, queued emission. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "enclave/log.h"

static void escapes_json(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(nes_json_escape(out, sizeof(out), "a\"b\\c", 5), 7);
    assert_string_equal(out, "a\\\"b\\\\c");
    assert_int_not_equal(nes_json_escape(out, sizeof(out), "\n\t\r\x01\x7f", 5), (size_t)-1);
    assert_string_equal(out, "\\n\\t\\r\\u0001\\u007f");
    /* valid UTF-8 passes, invalid becomes U+FFFD */
    assert_int_not_equal(nes_json_escape(out, sizeof(out), "\xc3\xa9", 2), (size_t)-1);
    assert_string_equal(out, "\xc3\xa9");
    assert_int_not_equal(nes_json_escape(out, sizeof(out), "\xc3(\xff\xed\xa0\x80", 6), (size_t)-1);
    assert_string_equal(out, "\\ufffd(\\ufffd\\ufffd\\ufffd\\ufffd");
    assert_int_not_equal(nes_json_escape(out, sizeof(out), "\xf0\x9f\x98\x80", 4), (size_t)-1);
    assert_string_equal(out, "\xf0\x9f\x98\x80");
    /* embedded NUL */
    assert_int_equal(nes_json_escape(out, sizeof(out), "a\0b", 3), 8);
    assert_string_equal(out, "a\\u0000b");
}

static void escape_overflow_keeps_whole_escapes(void **state)
{
    (void)state;
    char out[6];
    assert_int_equal(nes_json_escape(out, sizeof(out), "ab\"cd", 5), (size_t)-1);
    assert_string_equal(out, "ab\\\"c");
    assert_int_equal(nes_json_escape(out, 0, "a", 1), (size_t)-1);
}

static void parses_levels(void **state)
{
    (void)state;
    nes_log_level l;
    assert_int_equal(nes_log_level_parse("DEBUG", &l), 0);
    assert_int_equal(l, NES_LOG_DEBUG);
    assert_int_equal(nes_log_level_parse("warning", &l), 0);
    assert_int_equal(l, NES_LOG_WARN);
    assert_int_equal(nes_log_level_parse("off", &l), 0);
    assert_int_equal(l, NES_LOG_OFF);
    assert_int_equal(nes_log_level_parse("loud", &l), -1);
    assert_int_equal(nes_log_level_parse(NULL, &l), -1);
    assert_string_equal(nes_log_level_name(NES_LOG_ERROR), "error");
}

static void builds_lines(void **state)
{
    (void)state;
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_INFO, "hello \"x\"");
    nes_logline_str(&l, "route", "encrypt");
    nes_logline_str(&l, "none", NULL);
    nes_logline_int(&l, "status", -5);
    nes_logline_bool(&l, "ok", true);
    nes_logline_strn(&l, "schema", "pay\nments", 9);
    nes_logline_end(&l);
    l.buf[l.len] = '\0';
    assert_non_null(strstr(l.buf, "\"level\":\"info\",\"msg\":\"hello \\\"x\\\"\""));
    assert_non_null(
        strstr(l.buf, ",\"route\":\"encrypt\",\"none\":null,\"status\":-5,\"ok\":true"));
    assert_non_null(strstr(l.buf, "\"schema\":\"pay\\nments\"}\n"));
    assert_int_equal(strncmp(l.buf, "{\"ts\":\"", 7), 0);
}

static void truncates_long_lines(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_WARN, "m");
    nes_logline_str(&l, "big", big);
    nes_logline_int(&l, "after", 1);
    nes_logline_end(&l);
    assert_true(l.len <= NES_LOGLINE_MAX);
    l.buf[l.len - 1] = '\0';
    assert_non_null(strstr(l.buf, ",\"truncated\":true}"));
}

static void emits_through_the_writer(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    nes_log_configure(NES_LOG_INFO, p[1]);
    assert_false(nes_log_enabled(NES_LOG_DEBUG));
    assert_true(nes_log_enabled(NES_LOG_ERROR));
    nes_log(NES_LOG_DEBUG, "hidden");
    assert_int_equal(nes_log_start(), 0);
    nes_log(NES_LOG_INFO, "queued %d", 42);
    nes_log_stop();
    nes_log(NES_LOG_ERROR, "direct");
    char buf[1024];
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_null(strstr(buf, "hidden"));
    assert_non_null(strstr(buf, "\"msg\":\"queued 42\""));
    assert_non_null(strstr(buf, "\"msg\":\"direct\""));
    assert_int_equal(nes_log_dropped(), 0);
    close(p[0]);
    close(p[1]);
    nes_log_configure(NES_LOG_INFO, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_json),
        cmocka_unit_test(escape_overflow_keeps_whole_escapes),
        cmocka_unit_test(parses_levels),
        cmocka_unit_test(builds_lines),
        cmocka_unit_test(truncates_long_lines),
        cmocka_unit_test(emits_through_the_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
