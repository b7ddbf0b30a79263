/* test_reqhead.c - the codec as the connection code uses it (reqhead.h): heads fed whole and in
 * every split give the same result, their strings are terminated in place and found by name,
 * refusals carry the codec's status; chunked bodies decode in place across any split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "enclave/reqhead.h"

typedef struct hcase {
    const char *in;
    long want; /* head length, 0: incomplete, -1: refused */
    unsigned status;
    const char *method, *target, *schema;
    bool chunked, keep_alive, expect;
    uint64_t length;
} hcase;

static const hcase heads[] = {
    {"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 34, 0, "GET", "/healthz", NULL, false, true, false,
     0},
    {"POST /encrypt?a=b HTTP/1.1\r\nHost: x\r\nX-Schema-Name:  pay \r\nContent-Length: 12\r\n\r\n",
     81, 0, "POST", "/encrypt?a=b", "pay", false, true, false, 12},
    {"POST /e HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\nExpect: 100-continue\n\n", 74, 0,
     "POST", "/e", NULL, true, true, true, 0},
    {"GET / HTTP/1.0\r\n\r\n", 18, 0, "GET", "/", NULL, false, false, false, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 46, 0, "GET", "/", NULL, false,
     false, false, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\n", 0, 0, NULL, NULL, NULL, false, false, false, 0},
    {"GET / HTTP/1.1\r\n\r\n", -1, 400, NULL, NULL, NULL, false, false, false, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -1, 400, NULL,
     NULL, NULL, false, false, false, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", -1, 501, NULL, NULL, NULL,
     false, false, false, 0},
    {"GET / HTTP/3.0\r\nHost: x\r\n\r\n", -1, 505, NULL, NULL, NULL, false, false, false, 0},
};

static long parse_split(const hcase *t, size_t split, nes_reqhead *h, char *buf, nes_refusal *why)
{
    size_t n = strlen(t->in);
    memcpy(buf, t->in, n);
    memset(h, 0, sizeof(*h));
    long r = nes_reqhead_parse(h, buf, split, why); /* the first part arrives */
    if (r != 0 || split == n)
        return r;
    return nes_reqhead_parse(h, buf, n, why); /* then the rest */
}

static void heads_whole_and_split(void **state)
{
    (void)state;
    static nes_reqhead h;
    char buf[512];
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        const hcase *t = &heads[i];
        size_t n = strlen(t->in);
        for (size_t split = 0; split <= n; split++) {
            nes_refusal why = {0};
            long r = parse_split(t, split, &h, buf, &why);
            if (r > 0 && t->want < 0 && split < n)
                fail_msg("case %zu split %zu: accepted", i, split);
            if (t->want < 0 && r < 0) {
                assert_int_equal(why.status, t->status);
                assert_non_null(why.reason);
                continue;
            }
            if (r != t->want)
                fail_msg("case %zu split %zu: %ld, want %ld", i, split, r, t->want);
            if (r <= 0)
                continue;
            assert_string_equal(h.method, t->method);
            assert_string_equal(h.target, t->target);
            const char *schema = nes_reqhead_header(&h, "x-schema-name");
            if (t->schema == NULL)
                assert_null(schema);
            else
                assert_string_equal(schema, t->schema);
            assert_int_equal(h.chunked, t->chunked);
            assert_int_equal(h.keep_alive, t->keep_alive);
            assert_int_equal(h.expect_continue, t->expect);
            assert_int_equal(h.content_length, t->length);
            assert_int_equal(h.is_head_method, strcmp(t->method, "HEAD") == 0);
            assert_null(nes_reqhead_header(&h, "X-Absent"));
        }
    }
}

static void pipelined_head_leaves_the_rest(void **state)
{
    (void)state;
    static nes_reqhead h;
    char buf[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    nes_refusal why;
    long r = nes_reqhead_parse(&h, buf, sizeof(buf) - 1, &why);
    assert_int_equal(r, 28);
    assert_string_equal(h.target, "/a");
    assert_memory_equal(buf + r, "GET /b", 6); /* untouched */
}

static void chunks_decode_in_place_across_splits(void **state)
{
    (void)state;
    const char *body = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: t\r\n\r\nNEXT";
    size_t n = strlen(body);
    size_t end = n - 4;
    for (size_t split = 1; split <= n; split++) {
        uint8_t buf[128];
        memcpy(buf, body, n);
        nes_chunks c;
        nes_chunks_init(&c);
        char out[64];
        size_t out_len = 0, off = 0, stop = split;
        int r = 0;
        while (r == 0 && off < n) {
            size_t used = 0, dlen = 0;
            nes_refusal why;
            r = nes_chunks_step(&c, buf + off, stop - off, &used, &dlen, &why);
            assert_true(r >= 0);
            memcpy(out + out_len, buf + off, dlen); /* the data moved to the front */
            out_len += dlen;
            off += used;
            if (off == stop)
                stop = n;
        }
        assert_int_equal(r, 1);
        assert_int_equal(off, end);
        assert_int_equal(out_len, 11);
        assert_memory_equal(out, "hello world", 11);
    }
    /* refused: not hex */
    uint8_t bad[] = "zz\r\n";
    nes_chunks c;
    nes_chunks_init(&c);
    size_t used, dlen;
    nes_refusal why;
    assert_int_equal(nes_chunks_step(&c, bad, 4, &used, &dlen, &why), -1);
    assert_int_equal(why.status, 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(heads_whole_and_split),
        cmocka_unit_test(pipelined_head_leaves_the_rest),
        cmocka_unit_test(chunks_decode_in_place_across_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
