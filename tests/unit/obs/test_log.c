/* test_log.c - JSON escaping, log line building, level parsing, queued emission. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/transform.h"
#include "obs/log.h"

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
    /* every single byte: copied as it is exactly when printable ASCII other than " and \ */
    for (int c = 0; c < 256; c++) {
        char in = (char)c;
        size_t w = nes_json_escape(out, sizeof(out), &in, 1);
        bool as_is = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
        assert_int_equal(w == 1 && out[0] == in, as_is);
    }
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
    nes_logline_int(&l, "k\"ey\n", 1); /* a key with something to escape */
    nes_logline_end(&l);
    l.buf[l.len] = '\0';
    assert_non_null(strstr(l.buf, ",\"k\\\"ey\\n\":1}\n"));
    assert_non_null(strstr(l.buf, "\"level\":\"info\",\"msg\":\"hello \\\"x\\\"\""));
    assert_non_null(
        strstr(l.buf, ",\"route\":\"encrypt\",\"none\":null,\"status\":-5,\"ok\":true"));
    assert_non_null(strstr(l.buf, "\"schema\":\"pay\\nments\","));
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

/* A finished line (l->len bytes, "\n"-terminated) is one valid JSON object. */
static void assert_json_line(const nes_logline *l)
{
    assert_true(l->len >= 3 && l->len <= NES_LOGLINE_MAX);
    assert_int_equal(l->buf[l->len - 1], '\n');
    assert_int_equal(l->buf[l->len - 2], '}');
    nes_err err;
    if (nes_json_validate((const uint8_t *)l->buf, l->len - 1, 8, &err) != NES_OK)
        fail_msg("invalid JSON at %zu (%s): %.*s", err.offset, err.msg, (int)(l->len - 1), l->buf);
}

/* Hostile values of every length around the line's capacity, in every field position: each line
 * stays valid JSON, and a cut line says so. */
static void lines_stay_json_whatever_the_input(void **state)
{
    (void)state;
    static const struct {
        const char *unit; /* repeated to the length under test */
        size_t len;
    } units[] = {
        {"A", 1},
        {"\"", 1},
        {"\\", 1},
        {"\x01", 1},
        {"\n", 1},
        {"\xc3\xa9", 2},
        {"\xf0\x9f\x98\x80", 4},
        {"\xff", 1},
        {"\xe2\x82", 2},
        {"a\"\\\x7f\xc3", 5},
    };
    static char value[3000];
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        for (size_t n = 0; n < 2200; n += (n < 700 || n > 1100) ? 97 : 1) {
            size_t len = 0;
            while (len + units[u].len <= n && len + units[u].len < sizeof value) {
                memcpy(value + len, units[u].unit, units[u].len);
                len += units[u].len;
            }
            for (int where = 0; where < 3; where++) {
                nes_logline l;
                nes_logline_begin(&l, NES_LOG_INFO, "request");
                if (where == 0)
                    nes_logline_strn(&l, "method", value, len);
                nes_logline_str(&l, "route", "encrypt");
                if (where == 1)
                    nes_logline_strn(&l, "schema", value, len);
                nes_logline_int(&l, "status", 400);
                nes_logline_bool(&l, "ok", false);
                nes_logline_str(&l, "none", NULL);
                if (where == 2)
                    nes_logline_strn(&l, "last", value, len);
                nes_logline_int(&l, "bytes_in", 123456789);
                nes_logline_end(&l);
                assert_json_line(&l);
                if (l.truncated) {
                    assert_true(l.len > 20);
                    assert_memory_equal(l.buf + l.len - 19, ",\"truncated\":true}\n", 19);
                }
            }
        }
        /* the message itself */
        for (size_t n = 900; n < 1100; n++) {
            size_t len = 0;
            while (len + units[u].len <= n) {
                memcpy(value + len, units[u].unit, units[u].len);
                len += units[u].len;
            }
            value[len] = '\0';
            nes_logline l;
            nes_logline_begin(&l, NES_LOG_WARN, value);
            nes_logline_int(&l, "after", 1);
            nes_logline_end(&l);
            assert_json_line(&l);
        }
    }
}

static void a_2000_byte_method_gives_a_json_line(void **state)
{
    (void)state;
    char method[2001];
    memset(method, 'A', 2000);
    method[2000] = '\0';
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_INFO, "request");
    nes_logline_str(&l, "route", "other");
    nes_logline_str(&l, "method", method);
    nes_logline_int(&l, "status", 400);
    nes_logline_end(&l);
    assert_json_line(&l);
    assert_true(l.truncated);
    l.buf[l.len] = '\0';
    assert_non_null(strstr(l.buf, "AAAA\",\"truncated\":true}\n"));
    assert_null(strstr(l.buf, "\"status\"")); /* a field that did not fit is left out whole */
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

/* The log writer thread's voluntary context switches (its wake-ups), or -1 if not found. */
static long writer_wakeups(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    long n = -1;
    for (struct dirent *e = readdir(d); e != NULL && n < 0; e = readdir(d)) {
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "re");
        if (f == NULL)
            continue;
        int is_writer = fgets(line, sizeof line, f) != NULL && strcmp(line, "nes-log\n") == 0;
        fclose(f);
        if (!is_writer)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        f = fopen(path, "re");
        while (f != NULL && fgets(line, sizeof line, f) != NULL)
            if (strncmp(line, "voluntary_ctxt_switches:", 24) == 0)
                n = strtol(line + 24, NULL, 10);
        if (f != NULL)
            fclose(f);
    }
    closedir(d);
    return n;
}

static void idle_writer_backs_off_and_still_delivers(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    nes_log_configure(NES_LOG_INFO, p[1]);
    assert_int_equal(nes_log_start(), 0);
    struct timespec settle = {0, 300000000L}, idle = {0, 500000000L};
    nanosleep(&settle, NULL); /* the back-off reaches its longest period */
    long before = writer_wakeups();
    assert_true(before >= 0);
    nanosleep(&idle, NULL);
    long woke = writer_wakeups() - before;
    /* every 5 ms would be ~100 in 500 ms; backed off it is ~6 */
    assert_true(woke < 25);
    nes_log(NES_LOG_INFO, "after a quiet spell");
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1); /* delivered while the writer runs */
    char buf[512];
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"msg\":\"after a quiet spell\""));
    nes_log_stop();
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
        cmocka_unit_test(lines_stay_json_whatever_the_input),
        cmocka_unit_test(a_2000_byte_method_gives_a_json_line),
        cmocka_unit_test(emits_through_the_writer),
        cmocka_unit_test(idle_writer_backs_off_and_still_delivers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
