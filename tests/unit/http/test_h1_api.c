/* Unit tests: the codec's API beyond the case tables — parsed fields of requests and responses,
 * header lookup, limits, nes_h1_head_end, the chunked decoder called directly (in place, into a
 * small buffer, bytes after the body, repeated refusal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "http/chunked.h"
#include "http/request.h"
#include "http/response.h"

#define S(lit) lit, sizeof(lit) - 1

static nes_h1_request req;
static nes_h1_response res;

static int str_is(nes_h1_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void request_fields(void **state)
{
    (void)state;
    static const char in[] = "\r\nPOST /encrypt?x=1 HTTP/1.1\r\nHost: svc:8443\r\n"
                             "X-Schema-Name:  payments \r\nContent-Length: 4\r\n"
                             "content-type: application/json\r\n\r\nbodyGET";
    nes_h1_error e = {0};
    int n = nes_h1_parse_request(in, sizeof in - 1, NULL, &req, &e);
    assert_int_equal(n, (int)(strstr(in, "body") - in));
    assert_int_equal(req.head_len, (size_t)n);
    assert_int_equal(req.method, NES_H1_M_POST);
    assert_true(str_is(req.method_name, "POST"));
    assert_true(str_is(req.target, "/encrypt?x=1"));
    assert_int_equal(req.target_form, NES_H1_TARGET_ORIGIN);
    assert_int_equal(req.minor_version, 1);
    assert_int_equal(req.nheaders, 4);
    assert_true(str_is(req.host, "svc:8443"));
    assert_int_equal(req.framing, NES_H1_BODY_LENGTH);
    assert_int_equal(req.content_length, 4);
    assert_true(req.keep_alive);
    assert_false(req.expect_continue);
    const nes_h1_header *h = nes_h1_request_header(&req, "x-schema-name");
    assert_non_null(h);
    assert_true(str_is(h->value, "payments"));
    assert_true(str_is(h->name, "X-Schema-Name"));
    h = nes_h1_request_header(&req, "Content-Type");
    assert_non_null(h);
    assert_true(str_is(h->value, "application/json"));
    assert_null(nes_h1_request_header(&req, "X-Missing"));
    assert_null(nes_h1_request_header(&req, "Content-Typ"));
}

static void lookups(void **state)
{
    (void)state;
    nes_h1_str s = {"Content-LENGTH", 14};
    assert_true(nes_h1_str_eq_nocase(s, "content-length"));
    assert_true(nes_h1_str_eq_nocase(s, "CONTENT-length"));
    assert_false(nes_h1_str_eq_nocase(s, "content-lengt"));
    assert_false(nes_h1_str_eq_nocase(s, "content_length"));
    nes_h1_str empty = {"", 0};
    assert_true(nes_h1_str_eq_nocase(empty, ""));
    /* '@' and '`' differ from letters only in bit 0x20's neighbours: not equal */
    nes_h1_str at = {"@", 1};
    assert_false(nes_h1_str_eq_nocase(at, "`"));
    nes_h1_header hs[] = {{{"X-A", 3}, {"1", 1}}, {{"x-a", 3}, {"2", 1}}, {{"X-B", 3}, {"3", 1}}};
    assert_ptr_equal(nes_h1_header_find(hs, 3, "x-A"), &hs[0]);
    assert_ptr_equal(nes_h1_header_find(hs, 3, "X-b"), &hs[2]);
    assert_null(nes_h1_header_find(hs, 3, "X"));
    assert_null(nes_h1_header_find(hs, 0, "X-A"));
}

static void request_methods_and_forms(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        nes_h1_method m;
        nes_h1_target_form f;
    } t[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_GET, NES_H1_TARGET_ORIGIN},
        {"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_HEAD, NES_H1_TARGET_ORIGIN},
        {"PUT / HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_PUT, NES_H1_TARGET_ORIGIN},
        {"DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_DELETE, NES_H1_TARGET_ORIGIN},
        {"PATCH / HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_PATCH, NES_H1_TARGET_ORIGIN},
        {"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_TRACE, NES_H1_TARGET_ORIGIN},
        {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_OPTIONS, NES_H1_TARGET_ASTERISK},
        {"OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_OPTIONS, NES_H1_TARGET_ORIGIN},
        {"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n", NES_H1_M_CONNECT, NES_H1_TARGET_AUTHORITY},
        {"GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_GET, NES_H1_TARGET_ABSOLUTE},
        {"GETS / HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_OTHER, NES_H1_TARGET_ORIGIN},
        {"GE / HTTP/1.1\r\nHost: a\r\n\r\n", NES_H1_M_OTHER, NES_H1_TARGET_ORIGIN},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int n = nes_h1_parse_request(t[i].in, strlen(t[i].in), NULL, &req, NULL);
        assert_int_equal(n, (int)strlen(t[i].in));
        assert_int_equal(req.method, t[i].m);
        assert_int_equal(req.target_form, t[i].f);
    }
    static const char *bad_connect[] = {
        "CONNECT a: HTTP/1.1\r\n\r\n", "CONNECT :1 HTTP/1.1\r\n\r\n",
        "CONNECT a:b HTTP/1.1\r\n\r\n", "CONNECT u@a:1 HTTP/1.1\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad_connect / sizeof bad_connect[0]; i++) {
        nes_h1_error e = {0};
        assert_int_equal(
            nes_h1_parse_request(bad_connect[i], strlen(bad_connect[i]), NULL, &req, &e), -1);
        assert_int_equal(e.status, 400);
    }
}

static void request_error_offsets(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        int status;
        size_t offset;
    } t[] = {
        {S("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\n"), 400, 39},
        {S("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), 400, 29},
        {S("GET / HTTP/2.0\r\n\r\n"), 505, 6},
        {S("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400, 25},
        {S("GET / HTTP/1.1\r\n\r\n"), 400, 18},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        nes_h1_error e = {0};
        assert_int_equal(nes_h1_parse_request(t[i].in, t[i].len, NULL, &req, &e), -1);
        assert_int_equal(e.status, t[i].status);
        assert_int_equal(e.offset, t[i].offset);
        assert_non_null(e.reason);
    }
    /* err may be NULL */
    assert_int_equal(nes_h1_parse_request(S("GET / HTTP/2.0\r\n\r\n"), NULL, &req, NULL), -1);
}

static void request_limits(void **state)
{
    (void)state;
    /* zero fields mean the defaults; max_headers is clamped to NES_H1_MAX_HEADERS */
    nes_h1_limits lim = {.max_headers = 100000};
    nes_buf b = {0};
    nes_buf_append(&b, "GET / HTTP/1.1\r\nHost: a\r\n", 25);
    for (int i = 0; i < NES_H1_MAX_HEADERS; i++)
        nes_buf_append(&b, "X: y\r\n", 6);
    nes_buf_append(&b, "\r\n", 2);
    nes_h1_error e = {0};
    assert_int_equal(nes_h1_parse_request((const char *)b.data, b.len, &lim, &req, &e), -1);
    assert_int_equal(e.status, 431);
    assert_int_equal(nes_h1_parse_request((const char *)b.data, b.len, NULL, &req, &e), -1);
    assert_int_equal(e.status, 431);
    nes_buf_free(&b);
    assert_int_equal(nes_h1_limits_default.max_head_bytes, 16384);
    /* a complete head that is exactly max_head_bytes long is accepted; one byte more is not */
    static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    nes_h1_limits exact = {.max_head_bytes = sizeof in - 1};
    assert_int_equal(nes_h1_parse_request(in, sizeof in - 1, &exact, &req, &e), (int)sizeof in - 1);
    exact.max_head_bytes--;
    assert_int_equal(nes_h1_parse_request(in, sizeof in - 1, &exact, &req, &e), -1);
    assert_int_equal(e.status, 431);
    /* an incomplete head shorter than the limit waits */
    assert_int_equal(nes_h1_parse_request(in, 10, NULL, &req, &e), 0);
}

static void head_end_incremental(void **state)
{
    (void)state;
    static const char *heads[] = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\nrest",
        "\r\n\n\r\nGET / HTTP/1.1\nHost: a\n\nrest",
        "GET / HTTP/1.0\n\rX\r\n\r\nrest", /* bare CR: found anyway, the parser refuses */
        "HTTP/1.1 200 OK\r\n\r\nrest",
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        const char *s = heads[i];
        size_t len = strlen(s), want = (size_t)(strstr(s, "rest") - s), scan = 0;
        assert_int_equal(nes_h1_head_end(s, len, &scan), want);
        /* fed byte by byte: found exactly when the last byte of the head arrives */
        scan = 0;
        for (size_t k = 1; k <= len; k++) {
            size_t got = nes_h1_head_end(s, k, &scan);
            if (k < want) {
                assert_int_equal(got, 0);
                assert_true(scan <= k);
            } else {
                assert_int_equal(got, want);
                break;
            }
        }
    }
    size_t scan = 0;
    assert_int_equal(nes_h1_head_end("\r\n\r\n\n", 5, &scan), 0);
    assert_int_equal(nes_h1_head_end("", 0, &scan), 0);
}

static void response_fields(void **state)
{
    (void)state;
    static const char in[] = "HTTP/1.1 201 Created \xe2\x9c\x93\r\nContent-Length: 2\r\n"
                             "ETag: \"x\"\r\n\r\nok";
    nes_h1_error e = {0};
    int n = nes_h1_parse_response(in, sizeof in - 1, NULL, NES_H1_M_POST, &res, &e);
    assert_int_equal(n, (int)sizeof in - 3);
    assert_int_equal(res.status, 201);
    assert_true(str_is(res.reason, "Created \xe2\x9c\x93"));
    assert_int_equal(res.minor_version, 1);
    assert_int_equal(res.framing, NES_H1_BODY_LENGTH);
    assert_int_equal(res.content_length, 2);
    assert_true(res.keep_alive);
    assert_int_equal(res.head_len, (size_t)n);
    const nes_h1_header *h = nes_h1_response_header(&res, "etag");
    assert_non_null(h);
    assert_true(str_is(h->value, "\"x\""));
    /* 101 never keeps the connection for HTTP; CONNECT 2xx has no body */
    assert_true(nes_h1_parse_response(S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"),
                                      NULL, NES_H1_M_GET, &res, &e) > 0);
    assert_false(res.keep_alive);
    assert_int_equal(res.framing, NES_H1_BODY_NONE);
    assert_true(
        nes_h1_parse_response(S("HTTP/1.1 200 OK\r\n\r\n"), NULL, NES_H1_M_CONNECT, &res, &e) > 0);
    assert_int_equal(res.framing, NES_H1_BODY_NONE);
    assert_false(res.keep_alive);
    assert_true(nes_h1_parse_response(S("HTTP/1.1 200 OK\r\n\r\n"), NULL, NES_H1_M_GET, &res, &e) >
                0);
    assert_int_equal(res.framing, NES_H1_BODY_CLOSE);
    assert_false(res.keep_alive);
    /* every refusal is 502 */
    assert_int_equal(
        nes_h1_parse_response(S("HTTP/1.1 200 OK\r\nX : y\r\n\r\n"), NULL, NES_H1_M_GET, &res, &e),
        -1);
    assert_int_equal(e.status, 502);
    assert_int_equal(e.offset, 18);
    assert_int_equal(nes_h1_parse_response(S("HTTP/1.1 200 O"), NULL, NES_H1_M_GET, &res, &e), 0);
}

static void chunked_in_place_and_after(void **state)
{
    (void)state;
    char in[] = "4;x=y\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nNEXT";
    size_t len = sizeof in - 1, used, out_len;
    nes_h1_chunked c;
    nes_h1_chunked_init(&c, NULL);
    nes_h1_error e = {0};
    assert_int_equal(nes_h1_chunked_decode(&c, in, len, &used, in, len, &out_len, &e), 1);
    assert_int_equal(out_len, 23);
    assert_memory_equal(in, "Wikipedia in\r\n\r\nchunks.", 23);
    assert_int_equal(used, len - 4);
    assert_memory_equal(in + used, "NEXT", 4);
    assert_true(nes_h1_chunked_done(&c));
    assert_int_equal(c.body_bytes, 23);
    assert_int_equal(c.consumed, used);
    /* once done, nothing more is consumed */
    assert_int_equal(nes_h1_chunked_decode(&c, "x", 1, &used, in, len, &out_len, &e), 1);
    assert_int_equal(used, 0);
}

static void chunked_small_output(void **state)
{
    (void)state;
    static const char in[] = "a\r\n0123456789\r\n0\r\n\r\n";
    nes_h1_chunked c;
    nes_h1_chunked_init(&c, NULL);
    char out[4], all[16];
    size_t pos = 0, got = 0, used, out_len;
    int rc = 0;
    while (rc == 0) {
        rc = nes_h1_chunked_decode(&c, in + pos, sizeof in - 1 - pos, &used, out, sizeof out,
                                   &out_len, NULL);
        assert_true(rc >= 0);
        assert_true(out_len <= sizeof out);
        memcpy(all + got, out, out_len);
        got += out_len;
        pos += used;
    }
    assert_int_equal(got, 10);
    assert_memory_equal(all, "0123456789", 10);
    assert_int_equal(pos, sizeof in - 1);
}

/* The issue's 32 KB chunk extension and a 17 KiB head, with the default limits. */
static void default_limits_big_inputs(void **state)
{
    (void)state;
    size_t n = 32 * 1024;
    char *ext = malloc(n + 16);
    assert_non_null(ext);
    memcpy(ext, "1;", 2);
    memset(ext + 2, 'a', n);
    memcpy(ext + 2 + n, "\r\nx\r\n", 6);
    nes_h1_chunked c;
    nes_h1_chunked_init(&c, NULL);
    size_t used, out_len;
    nes_h1_error e = {0};
    assert_int_equal(nes_h1_chunked_decode(&c, ext, n + 8, &used, ext, n + 8, &out_len, &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.reason, "chunk extension too long");
    assert_int_equal(e.offset, 2 + 1023); /* the 1025th extension byte */
    free(ext);

    size_t hn = 17 * 1024;
    char *head = malloc(hn);
    assert_non_null(head);
    memset(head, 'a', hn);
    memcpy(head, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", 32);
    assert_int_equal(nes_h1_parse_request(head, 16383, NULL, &req, &e), 0);
    assert_int_equal(nes_h1_parse_request(head, 16384, NULL, &req, &e), -1);
    assert_int_equal(e.status, 431);
    assert_int_equal(nes_h1_parse_request(head, hn, NULL, &req, &e), -1);
    assert_int_equal(e.status, 431);
    free(head);
}

static void chunked_zero_copy(void **state)
{
    (void)state;
    static const char in[] = "3\r\nabc\r\n4;e=1\r\ndefg\r\n0\r\n\r\nNEXT";
    size_t len = sizeof in - 1;
    nes_h1_chunked c;
    nes_h1_chunked_init(&c, NULL);
    char got[16];
    size_t pos = 0, n = 0;
    int rc = 0, slices = 0;
    while (rc == 0) {
        const char *data;
        size_t used, dlen;
        rc = nes_h1_chunked_next(&c, in + pos, len - pos, &used, &data, &dlen, NULL);
        assert_true(rc >= 0);
        if (dlen != 0) {
            /* a slice of the input itself, never a copy */
            assert_true(data >= in + pos && data + dlen <= in + pos + used);
            memcpy(got + n, data, dlen);
            n += dlen;
            slices++;
        }
        pos += used;
    }
    assert_int_equal(rc, 1);
    assert_int_equal(n, 7);
    assert_memory_equal(got, "abcdefg", 7);
    assert_int_equal(slices, 2);
    assert_int_equal(pos, len - 4);
    assert_int_equal(c.body_bytes, 7);
    /* a chunk split over two inputs gives two slices; the forms mix on one body */
    nes_h1_chunked_init(&c, NULL);
    const char *data;
    size_t used, dlen;
    assert_int_equal(nes_h1_chunked_next(&c, "5\r\nab", 5, &used, &data, &dlen, NULL), 0);
    assert_int_equal(used, 5);
    assert_int_equal(dlen, 2);
    char out[8];
    assert_int_equal(
        nes_h1_chunked_decode(&c, "cde\r\n0\r\n\r\n", 12, &used, out, sizeof out, &dlen, NULL), 1);
    assert_int_equal(dlen, 3);
    assert_memory_equal(out, "cde", 3);
}

static void chunked_refusal_repeats(void **state)
{
    (void)state;
    nes_h1_chunked c;
    nes_h1_limits lim = {.max_chunk_size_digits = 2};
    nes_h1_chunked_init(&c, &lim);
    char out[8];
    size_t used, out_len;
    nes_h1_error e = {0};
    assert_int_equal(
        nes_h1_chunked_decode(&c, "1\r\nx\r\n", 6, &used, out, sizeof out, &out_len, &e), 0);
    assert_int_equal(used, 6);
    assert_int_equal(nes_h1_chunked_decode(&c, "100\r\n", 5, &used, out, sizeof out, &out_len, &e),
                     -1);
    assert_int_equal(e.status, 400);
    assert_int_equal(e.offset, 8); /* from the body start: the third digit */
    assert_int_equal(used, 2);
    nes_h1_error e2 = {0};
    assert_int_equal(
        nes_h1_chunked_decode(&c, "0\r\n\r\n", 5, &used, out, sizeof out, &out_len, &e2), -1);
    assert_int_equal(e2.status, 400);
    assert_int_equal(e2.offset, 8);
    assert_string_equal(e2.reason, e.reason);
    assert_false(nes_h1_chunked_done(&c));
    /* a refusal on the very last byte is not an end */
    nes_h1_limits tl = {.max_trailer_bytes = 11};
    nes_h1_chunked_init(&c, &tl);
    assert_int_equal(
        nes_h1_chunked_decode(&c, "0\r\nX: 1234\r\n\r\n", 14, &used, out, sizeof out, &out_len, &e),
        -1);
    assert_int_equal(e.status, 431);
    assert_int_equal(e.offset, 13);
    assert_false(nes_h1_chunked_done(&c));
    /* a chunk size that cannot fit in 64 bits */
    nes_h1_limits wide = {.max_chunk_size_digits = 40};
    nes_h1_chunked_init(&c, &wide);
    assert_int_equal(nes_h1_chunked_decode(&c, "10000000000000000\r\n", 19, &used, out, sizeof out,
                                           &out_len, &e),
                     -1);
    assert_int_equal(e.status, 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_fields),
        cmocka_unit_test(lookups),
        cmocka_unit_test(request_methods_and_forms),
        cmocka_unit_test(request_error_offsets),
        cmocka_unit_test(request_limits),
        cmocka_unit_test(head_end_incremental),
        cmocka_unit_test(response_fields),
        cmocka_unit_test(chunked_in_place_and_after),
        cmocka_unit_test(chunked_small_output),
        cmocka_unit_test(default_limits_big_inputs),
        cmocka_unit_test(chunked_zero_copy),
        cmocka_unit_test(chunked_refusal_repeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
