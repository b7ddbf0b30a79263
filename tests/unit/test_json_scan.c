/* Unit tests: json_scan.c (pull scanner, UTF-8 checks, unescape, string writer, minify). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/json_scan.h"

/* Scans `in` (n bytes) to the end with the given depth limit; returns the final status. */
static nes_status scan_all(const char *in, size_t n, unsigned max_depth, nes_err *err)
{
    nes_json_scanner s;
    nes_err_clear(err);
    assert_int_equal(nes_json_scanner_init(&s, (const uint8_t *)in, n, max_depth, err), NES_OK);
    nes_json_token t;
    nes_json_type k;
    do {
        k = nes_json_next(&s, &t);
    } while (k != NES_JSON_END && k != NES_JSON_ERROR);
    nes_json_scanner_free(&s);
    return k == NES_JSON_END ? NES_OK : err->status;
}

static nes_status scan_str(const char *in, nes_err *err)
{
    return scan_all(in, strlen(in), 128, err);
}

static void tokens_and_offsets(void **state)
{
    (void)state;
    const char *in = " {\"a\\n\" : [1, -2.5e3 ,true,false,null,\"x\"], \"b\":{}}\n";
    static const struct {
        nes_json_type type;
        size_t start, end;
        bool escaped;
        unsigned depth;
    } want[] = {
        {NES_JSON_OBJECT, 1, 2, false, 1},       {NES_JSON_KEY, 2, 7, true, 1},
        {NES_JSON_ARRAY, 10, 11, false, 2},      {NES_JSON_NUMBER, 11, 12, false, 2},
        {NES_JSON_NUMBER, 14, 20, false, 2},     {NES_JSON_TRUE, 22, 26, false, 2},
        {NES_JSON_FALSE, 27, 32, false, 2},      {NES_JSON_NULL, 33, 37, false, 2},
        {NES_JSON_STRING, 38, 41, false, 2},     {NES_JSON_ARRAY_END, 41, 42, false, 1},
        {NES_JSON_KEY, 44, 47, false, 1},        {NES_JSON_OBJECT, 48, 49, false, 2},
        {NES_JSON_OBJECT_END, 49, 50, false, 1}, {NES_JSON_OBJECT_END, 50, 51, false, 0},
        {NES_JSON_END, 52, 52, false, 0},
    };
    nes_json_scanner s;
    nes_err err;
    assert_int_equal(nes_json_scanner_init(&s, (const uint8_t *)in, strlen(in), 8, &err), NES_OK);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        nes_json_token t;
        assert_int_equal(nes_json_next(&s, &t), want[i].type);
        assert_int_equal(t.type, want[i].type);
        assert_int_equal(t.start, want[i].start);
        assert_int_equal(t.end, want[i].end);
        assert_int_equal(t.escaped, want[i].escaped);
        assert_int_equal(nes_json_depth(&s), want[i].depth);
        if (i == 3)
            assert_true(nes_json_in_array(&s));
        if (i == 1)
            assert_false(nes_json_in_array(&s));
    }
    nes_json_token t;
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_END); /* stays at the end */
    nes_json_scanner_free(&s);
}

static void accepts_valid_texts(void **state)
{
    (void)state;
    static const char *ok[] = {
        "1",
        "-0",
        "0.5e-7",
        "12E+3",
        "\"\"",
        "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u00e9\\uD83D\\uDE00\\uFFFF\"",
        " true ",
        "false",
        "\t\r\n null \t\r\n",
        "[]",
        "{}",
        "[[],{},[{}]]",
        "{\"\":\"\"}",
        "{\"a\":[1,{\"b\":null}],\"a\":2}",
        "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"",
        "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"",
        "[\"long ASCII string that crosses several 8-byte words ... 0123456789\"]",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        nes_err err;
        nes_status st = scan_str(ok[i], &err);
        if (st != NES_OK)
            fail_msg("rejected #%zu: %s at %zu", i, err.msg, err.offset);
    }
}

typedef struct bad_case {
    const char *in;
    size_t len; /* 0: strlen */
    nes_status status;
    size_t offset;
    const char *reason;
} bad_case;

static void rejects_with_offset_and_reason(void **state)
{
    (void)state;
    static const bad_case bad[] = {
        {"", 0, NES_ERR_JSON, 0, "empty input"},
        {" \n\t", 0, NES_ERR_JSON, 3, "empty input"},
        {"\xef\xbb\xbf{}", 0, NES_ERR_JSON, 0, "byte order mark not allowed"},
        {"[1,]", 0, NES_ERR_JSON, 3, "expected a value"},
        {"{\"a\" 1}", 0, NES_ERR_JSON, 5, "expected ':'"},
        {"{\"a\":1,}", 0, NES_ERR_JSON, 7, "expected '\"'"},
        {"{1:2}", 0, NES_ERR_JSON, 1, "expected '\"' or '}'"},
        {"[\"abc", 0, NES_ERR_JSON, 1, "unterminated string"},
        {"[\"a\x01\"]", 0, NES_ERR_JSON, 3, "control character in string"},
        {"[\"a\tb\"]", 0, NES_ERR_JSON, 3, "control character in string"},
        {"\"\xc0\xaf\"", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"\xc1\xbf\"", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"\xe0\x9f\xbf\"", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"\xf0\x8f\xbf\xbf\"", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"ab\xed\xa0\x80\"", 0, NES_ERR_JSON, 3, "invalid UTF-8"},
        {"\"\xed\xbf\xbf\"", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"\xf4\x90\x80\x80\"", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"\xf5\x80\x80\x80\"", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"\xe2\x82\"", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"\xe2\x82", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"\x80\"", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"\xff\"", 0, NES_ERR_JSON, 1, "invalid UTF-8"},
        {"\"x\\uD800\"", 0, NES_ERR_JSON, 2, "lone surrogate in \\u escape"},
        {"\"\\uDC00\"", 0, NES_ERR_JSON, 1, "lone surrogate in \\u escape"},
        {"\"\\uD800\\u0041\"", 0, NES_ERR_JSON, 1, "lone surrogate in \\u escape"},
        {"\"\\uD800\\uD800\"", 0, NES_ERR_JSON, 1, "lone surrogate in \\u escape"},
        {"\"\\uD800\\n\"", 0, NES_ERR_JSON, 1, "lone surrogate in \\u escape"},
        {"\"\\x\"", 0, NES_ERR_JSON, 1, "invalid escape"},
        {"\"\\'\"", 0, NES_ERR_JSON, 1, "invalid escape"},
        {"\"\\u12G4\"", 0, NES_ERR_JSON, 1, "invalid \\u escape"},
        {"\"\\u12\"", 0, NES_ERR_JSON, 1, "invalid \\u escape"},
        {"\"\\", 0, NES_ERR_JSON, 1, "invalid escape"},
        {"01", 0, NES_ERR_JSON, 1, "unexpected data after the JSON text"},
        {"-", 0, NES_ERR_JSON, 1, "invalid number"},
        {"-a", 0, NES_ERR_JSON, 1, "invalid number"},
        {"1.", 0, NES_ERR_JSON, 2, "invalid number"},
        {"1.e3", 0, NES_ERR_JSON, 2, "invalid number"},
        {"1e", 0, NES_ERR_JSON, 2, "invalid number"},
        {"1e+", 0, NES_ERR_JSON, 3, "invalid number"},
        {".5", 0, NES_ERR_JSON, 0, "expected a value"},
        {"+1", 0, NES_ERR_JSON, 0, "expected a value"},
        {"tru", 0, NES_ERR_JSON, 0, "invalid literal"},
        {"True", 0, NES_ERR_JSON, 0, "expected a value"},
        {"nulll", 0, NES_ERR_JSON, 4, "unexpected data after the JSON text"},
        {"[1 2]", 0, NES_ERR_JSON, 3, "expected ',' or ']'"},
        {"{\"a\":1]", 0, NES_ERR_JSON, 6, "expected ',' or '}'"},
        {"[1]x", 0, NES_ERR_JSON, 3, "unexpected data after the JSON text"},
        {"\"a\" \"b\"", 0, NES_ERR_JSON, 4, "unexpected data after the JSON text"},
        {"[\f]", 0, NES_ERR_JSON, 1, "expected a value"},
        {"[\xc2\xa0]", 0, NES_ERR_JSON, 1, "expected a value"},
        {"[1", 0, NES_ERR_JSON, 2, "unexpected end of input"},
        {"[", 0, NES_ERR_JSON, 1, "unexpected end of input"},
        {"{", 0, NES_ERR_JSON, 1, "unexpected end of input"},
        {"{\"a\"", 0, NES_ERR_JSON, 4, "expected ':'"},
        {"{\"a\":", 0, NES_ERR_JSON, 5, "unexpected end of input"},
        {"[1,", 0, NES_ERR_JSON, 3, "unexpected end of input"},
        {"[\"a\"\0]", 6, NES_ERR_JSON, 4, "expected ',' or ']'"},
        {"\0", 1, NES_ERR_JSON, 0, "expected a value"},
        {"1\0", 2, NES_ERR_JSON, 1, "unexpected data after the JSON text"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nes_err err;
        size_t n = bad[i].len ? bad[i].len : strlen(bad[i].in);
        nes_status st = scan_all(bad[i].in, n, 128, &err);
        if (st != bad[i].status || err.offset != bad[i].offset ||
            strcmp(err.msg, bad[i].reason) != 0)
            fail_msg("case #%zu: got %s at %zu (%s), want %s at %zu (%s)", i, nes_status_name(st),
                     err.offset, err.msg, nes_status_name(bad[i].status), bad[i].offset,
                     bad[i].reason);
    }
}

static void errors_are_sticky(void **state)
{
    (void)state;
    nes_json_scanner s;
    nes_err err;
    const char *in = "[1,]";
    assert_int_equal(nes_json_scanner_init(&s, (const uint8_t *)in, 4, 8, &err), NES_OK);
    nes_json_token t;
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_ARRAY);
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_NUMBER);
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_ERROR);
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_ERROR);
    assert_int_equal(nes_json_skip(&s, &t), NES_JSON_ERROR);
    assert_int_equal(err.offset, 3);
    nes_json_scanner_free(&s);
    nes_json_scanner_free(&s);
}

static void depth_limit(void **state)
{
    (void)state;
    nes_err err;
    assert_int_equal(scan_all("[[[1]]]", 7, 3, &err), NES_OK);
    assert_int_equal(scan_all("[[[[1]]]]", 9, 3, &err), NES_ERR_DEPTH);
    assert_int_equal(err.offset, 3);
    assert_string_equal(err.msg, "nesting too deep");
    assert_int_equal(scan_all("{\"a\":{\"b\":{}}}", 14, 3, &err), NES_OK);
    assert_int_equal(scan_all("{\"a\":{\"b\":{\"c\":1}}}", 19, 2, &err), NES_ERR_DEPTH);
    assert_int_equal(err.offset, 10);
    assert_int_equal(scan_all("7", 1, 0, &err), NES_OK);
    assert_int_equal(scan_all("[]", 2, 0, &err), NES_ERR_DEPTH);

    /* deep nesting beyond the inline stack: 1000 levels, mixed objects and arrays */
    size_t levels = 1000, n = 0;
    char *doc = malloc(levels * 6 + 8);
    assert_non_null(doc);
    for (size_t i = 0; i < levels; i++) {
        if (i % 2) {
            memcpy(doc + n, "{\"k\":", 5);
            n += 5;
        } else {
            doc[n++] = '[';
        }
    }
    doc[n++] = '0';
    for (size_t i = levels; i-- > 0;)
        doc[n++] = i % 2 ? '}' : ']';
    assert_int_equal(scan_all(doc, n, (unsigned)levels, &err), NES_OK);
    assert_int_equal(scan_all(doc, n, (unsigned)levels - 1, &err), NES_ERR_DEPTH);
    /* a huge limit does not allocate more than the input needs */
    assert_int_equal(scan_all(doc, n, 4000000000u, &err), NES_OK);
    free(doc);
}

static void skip_consumes_one_container(void **state)
{
    (void)state;
    const char *in = "[{\"a\":[1,{\"b\":\"]}\"}]}, 2]";
    nes_json_scanner s;
    nes_err err;
    assert_int_equal(nes_json_scanner_init(&s, (const uint8_t *)in, strlen(in), 8, &err), NES_OK);
    nes_json_token t;
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_ARRAY);
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_OBJECT);
    assert_int_equal(nes_json_skip(&s, &t), NES_JSON_OBJECT_END);
    assert_int_equal(t.start, 20);
    assert_int_equal(nes_json_depth(&s), 1);
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_NUMBER);
    assert_int_equal(t.start, 23);
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_ARRAY_END);
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_END);
    /* skip outside a just-opened container is refused */
    assert_int_equal(nes_json_skip(&s, &t), NES_JSON_ERROR);
    nes_json_scanner_free(&s);

    in = "[{\"a\":[1,}]";
    assert_int_equal(nes_json_scanner_init(&s, (const uint8_t *)in, strlen(in), 8, &err), NES_OK);
    assert_int_equal(nes_json_next(&s, &t), NES_JSON_ARRAY);
    assert_int_equal(nes_json_skip(&s, &t), NES_JSON_ERROR);
    assert_int_equal(err.offset, 9);
    nes_json_scanner_free(&s);
}

/* Reference UTF-8 check written from the definition (RFC 3629), independent of the scanner. */
static bool ref_utf8_valid(const uint8_t *p, size_t n)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < k)
            return false;
        for (size_t j = 1; j < k; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if (cp < min_cp[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k;
    }
    return true;
}

/* Checks nes_utf8_valid and the scanner (inside a string) against the reference. */
static void check_utf8(const uint8_t *seq, size_t n)
{
    bool want = ref_utf8_valid(seq, n);
    if (nes_utf8_valid(seq, n) != want)
        fail_msg("nes_utf8_valid disagrees on %02x %02x %02x %02x (len %zu)", seq[0],
                 n > 1 ? seq[1] : 0, n > 2 ? seq[2] : 0, n > 3 ? seq[3] : 0, n);
    /* Inside a string: only sequences without '"', '\\' or controls compare directly. */
    for (size_t i = 0; i < n; i++)
        if (seq[i] < 0x20 || seq[i] == '"' || seq[i] == '\\')
            return;
    char doc[16];
    doc[0] = '"';
    memcpy(doc + 1, seq, n);
    doc[n + 1] = '"';
    nes_err err;
    if ((scan_all(doc, n + 2, 1, &err) == NES_OK) != want)
        fail_msg("scanner disagrees on %02x %02x %02x %02x (len %zu)", seq[0], n > 1 ? seq[1] : 0,
                 n > 2 ? seq[2] : 0, n > 3 ? seq[3] : 0, n);
}

static void utf8_matches_reference(void **state)
{
    (void)state;
    static const uint8_t tails[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                    0xa0, 0xbf, 0xc0, 0xc2, 0xf4, 0xff};
    uint8_t seq[4];
    for (unsigned a = 0; a < 256; a++) {
        seq[0] = (uint8_t)a;
        check_utf8(seq, 1);
        for (unsigned b = 0; b < 256; b++) {
            seq[1] = (uint8_t)b;
            check_utf8(seq, 2);
            if (a < 0xc0)
                continue;
            for (size_t c = 0; c < sizeof tails; c++) {
                seq[2] = tails[c];
                check_utf8(seq, 3);
                for (size_t d = 0; a >= 0xf0 && d < sizeof tails; d++) {
                    seq[3] = tails[d];
                    check_utf8(seq, 4);
                }
            }
        }
    }
    /* the word-at-a-time path: an invalid byte at every position of a long ASCII run */
    uint8_t buf[40];
    for (size_t pos = 0; pos < sizeof buf; pos++) {
        memset(buf, 'a', sizeof buf);
        assert_true(nes_utf8_valid(buf, sizeof buf));
        buf[pos] = 0x80;
        assert_false(nes_utf8_valid(buf, sizeof buf));
        buf[pos] = 0xc3;
        assert_int_equal(nes_utf8_valid(buf, sizeof buf), false);
        if (pos + 1 < sizeof buf) {
            buf[pos + 1] = 0xa9;
            assert_true(nes_utf8_valid(buf, sizeof buf));
        }
    }
}

static void string_stops_at_every_position(void **state)
{
    (void)state;
    /* A special byte at every offset of a long string: quote, backslash, control, UTF-8. */
    char doc[64];
    for (size_t pos = 1; pos < 40; pos++) {
        nes_err err;
        memset(doc, 'x', sizeof doc);
        doc[0] = '"';
        doc[pos] = '"';
        assert_int_equal(scan_all(doc, pos + 1, 1, &err), NES_OK);
        doc[pos] = '\x1f';
        doc[48] = '"';
        assert_int_equal(scan_all(doc, 49, 1, &err), NES_ERR_JSON);
        assert_int_equal(err.offset, pos);
        doc[pos] = '\\';
        assert_int_equal(scan_all(doc, 49, 1, &err), NES_ERR_JSON);
        assert_int_equal(err.offset, pos);
        doc[pos + 1] = 'n';
        assert_int_equal(scan_all(doc, 49, 1, &err), NES_OK);
        doc[pos] = '\xc3';
        doc[pos + 1] = '\xa9';
        assert_int_equal(scan_all(doc, 49, 1, &err), NES_OK);
        doc[pos + 1] = 'x';
        assert_int_equal(scan_all(doc, 49, 1, &err), NES_ERR_JSON);
        assert_int_equal(err.offset, pos);
    }
}

static void unescape_to_utf8(void **state)
{
    (void)state;
    const char *esc = "a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u00e9\\u20AC\\uD83D\\uDE00z";
    const char want[] = "a\"\\/\b\f\n\r\t\0\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
    nes_buf b = {0};
    assert_int_equal(nes_json_unescape((const uint8_t *)esc, strlen(esc), &b), NES_OK);
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, sizeof want - 1);
    /* malformed escapes: rejected, nothing appended */
    static const char *bad[] = {"\\", "\\x", "\\u12", "\\uD800", "\\uDC00x", "\\uD800\\u0020"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t before = b.len;
        assert_int_equal(nes_json_unescape((const uint8_t *)bad[i], strlen(bad[i]), &b),
                         NES_ERR_JSON);
        assert_int_equal(b.len, before);
    }
    /* a capped buffer reports the limit */
    nes_buf capped = {.max = 4};
    assert_int_equal(nes_json_unescape((const uint8_t *)"abcdef", 6, &capped), NES_ERR_LIMIT);
    nes_buf_free(&capped);
    nes_buf_free(&b);
}

static void write_string_escapes(void **state)
{
    (void)state;
    const char raw[] = "q\"b\\s/\x01\x1f\x7f\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80";
    nes_buf b = {0};
    assert_int_equal(nes_json_write_string(&b, (const uint8_t *)raw, sizeof raw - 1), NES_OK);
    const char want[] = "\"q\\\"b\\\\s/\\u0001\\u001f\x7f\\b\\f\\n\\r\\t\xc3\xa9\xf0\x9f\x98\x80\"";
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, sizeof want - 1);
    /* it scans, and unescapes back to the input */
    nes_err err;
    assert_int_equal(scan_all((const char *)b.data, b.len, 1, &err), NES_OK);
    nes_buf back = {0};
    assert_int_equal(nes_json_unescape(b.data + 1, b.len - 2, &back), NES_OK);
    assert_int_equal(back.len, sizeof raw - 1);
    assert_memory_equal(back.data, raw, sizeof raw - 1);
    /* every byte value below 0x80 round-trips */
    uint8_t all[128];
    for (int i = 0; i < 128; i++)
        all[i] = (uint8_t)i;
    b.len = back.len = 0;
    assert_int_equal(nes_json_write_string(&b, all, sizeof all), NES_OK);
    assert_int_equal(scan_all((const char *)b.data, b.len, 1, &err), NES_OK);
    assert_int_equal(nes_json_unescape(b.data + 1, b.len - 2, &back), NES_OK);
    assert_int_equal(back.len, sizeof all);
    assert_memory_equal(back.data, all, sizeof all);
    /* one character to escape at every position of a long run (the word-at-a-time path) */
    static const char specials[] = {'"', '\\', '\n', 0x01, 0x1f};
    for (size_t k = 0; k < sizeof specials; k++) {
        for (size_t pos = 0; pos < 24; pos++) {
            uint8_t run[24];
            memset(run, 'a', sizeof run);
            run[pos] = (uint8_t)specials[k];
            if (pos + 3 < sizeof run) { /* a two-byte character nearby */
                run[pos + 2] = 0xc3;
                run[pos + 3] = 0xa9;
            }
            b.len = back.len = 0;
            assert_int_equal(nes_json_write_string(&b, run, sizeof run), NES_OK);
            assert_int_equal(scan_all((const char *)b.data, b.len, 1, &err), NES_OK);
            assert_int_equal(nes_json_unescape(b.data + 1, b.len - 2, &back), NES_OK);
            assert_int_equal(back.len, sizeof run);
            assert_memory_equal(back.data, run, sizeof run);
        }
    }
    /* invalid UTF-8 is refused and nothing is written */
    size_t before = b.len;
    assert_int_equal(nes_json_write_string(&b, (const uint8_t *)"a\xff", 2), NES_ERR_JSON);
    assert_int_equal(nes_json_write_string(&b, (const uint8_t *)"\xed\xa0\x80", 3), NES_ERR_JSON);
    assert_int_equal(b.len, before);
    /* empty string */
    b.len = 0;
    assert_int_equal(nes_json_write_string(&b, (const uint8_t *)"", 0), NES_OK);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "\"\"", 2);
    /* limit: exactly enough fits, one byte less does not */
    nes_buf capped = {.max = 5};
    assert_int_equal(nes_json_write_string(&capped, (const uint8_t *)"ab\n", 3), NES_ERR_LIMIT);
    assert_int_equal(capped.len, 0);
    capped.max = 6;
    assert_int_equal(nes_json_write_string(&capped, (const uint8_t *)"ab\n", 3), NES_OK);
    assert_int_equal(capped.len, 6);
    nes_buf_free(&capped);
    nes_buf_free(&back);
    nes_buf_free(&b);
}

static void minify_removes_whitespace_outside_strings(void **state)
{
    (void)state;
    const char *in = " {\n  \"a b\" : [ 1 ,\t\"x \\\" \\\\\" , {} ] ,\r\n \"c\":true } ";
    const char *want = "{\"a b\":[1,\"x \\\" \\\\\",{}],\"c\":true}";
    nes_buf b = {0};
    assert_int_equal(nes_json_minify((const uint8_t *)in, strlen(in), &b), NES_OK);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    b.len = 0;
    assert_int_equal(nes_json_minify((const uint8_t *)"[1,2]", 5, &b), NES_OK);
    assert_memory_equal(b.data, "[1,2]", 5);
    nes_buf capped = {.max = 3};
    assert_int_equal(nes_json_minify((const uint8_t *)"[ 1 , 2 ]", 9, &capped), NES_ERR_LIMIT);
    nes_buf_free(&capped);
    nes_buf_free(&b);
}

static void buf_fail_status(void **state)
{
    (void)state;
    nes_buf b = {.len = 10, .max = 12};
    assert_int_equal(nes_buf_fail_status(&b, 3), NES_ERR_LIMIT);
    assert_int_equal(nes_buf_fail_status(&b, SIZE_MAX), NES_ERR_LIMIT);
    assert_int_equal(nes_buf_fail_status(&b, 2), NES_ERR_NOMEM);
    b.max = 0;
    assert_int_equal(nes_buf_fail_status(&b, 3), NES_ERR_NOMEM);
}

static void utf8_valid_prefix_stops_at_first_bad_byte(void **state)
{
    (void)state;
    static const uint8_t ok[] = "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
    assert_int_equal(nes_utf8_valid_prefix(ok, sizeof ok - 1), sizeof ok - 1);
    static const uint8_t overlong[] = "abcdefghij\xc0\xafk"; /* long ASCII run, then overlong */
    assert_int_equal(nes_utf8_valid_prefix(overlong, sizeof overlong - 1), 10);
    static const uint8_t surrogate[] = "x\xed\xa0\x80";
    assert_int_equal(nes_utf8_valid_prefix(surrogate, sizeof surrogate - 1), 1);
    static const uint8_t truncated[] = "xy\xe2\x82"; /* sequence cut by the end */
    assert_int_equal(nes_utf8_valid_prefix(truncated, sizeof truncated - 1), 2);
    assert_int_equal(nes_utf8_valid_prefix(ok, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_valid_prefix_stops_at_first_bad_byte),
        cmocka_unit_test(tokens_and_offsets),
        cmocka_unit_test(accepts_valid_texts),
        cmocka_unit_test(rejects_with_offset_and_reason),
        cmocka_unit_test(errors_are_sticky),
        cmocka_unit_test(depth_limit),
        cmocka_unit_test(skip_consumes_one_container),
        cmocka_unit_test(utf8_matches_reference),
        cmocka_unit_test(string_stops_at_every_position),
        cmocka_unit_test(unescape_to_utf8),
        cmocka_unit_test(write_string_escapes),
        cmocka_unit_test(minify_removes_whitespace_outside_strings),
        cmocka_unit_test(buf_fail_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
