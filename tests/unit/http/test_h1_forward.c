/* Unit tests: forward.c (the heads of a forwarding intermediary), as a table of cases: a request
 * or response as received, the head that must go out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/forward.h"

static const struct {
    const char *in;
    const char *client;
    uint64_t body_len;
    const char *out;
} REQ[] = {
    /* end-to-end fields copied in order; XFF and Proto added; length recomputed */
    {"POST /orders/1?x=1 HTTP/1.1\r\nHost: app\r\nContent-Type: application/json\r\n"
     "Content-Length: 10\r\nX-Schema-Name: payments\r\n\r\n",
     "203.0.113.7", 42,
     "POST /orders/1?x=1 HTTP/1.1\r\nHost: app\r\nContent-Type: application/json\r\n"
     "X-Schema-Name: payments\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"
     "Content-Length: 42\r\n\r\n"},
    /* hop-by-hop, Connection-named fields, Expect, chunked framing dropped */
    {"PUT /a HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: 5\r\n"
     "X-Secret: s\r\nTE: trailers\r\nUpgrade: h2c\r\nExpect: 100-continue\r\n"
     "Transfer-Encoding: chunked\r\nProxy-Authorization: b\r\nAccept: */*\r\n\r\n",
     "10.0.0.1", 0,
     "PUT /a HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.1\r\n"
     "X-Forwarded-Proto: https\r\nContent-Length: 0\r\n\r\n"},
    /* an existing X-Forwarded-For is extended; a client's X-Forwarded-Proto is replaced */
    {"GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-Proto: http\r\n\r\n",
     "2001:db8::1", 0,
     "GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1, 2001:db8::1\r\n"
     "X-Forwarded-Proto: https\r\n\r\n"},
    /* no client address: the prior list goes through unchanged */
    {"GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n", NULL, 0,
     "GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-Proto: https\r\n\r\n"},
};

static void request_heads(void **state)
{
    (void)state;
    static nes_h1_request req;
    for (size_t i = 0; i < sizeof REQ / sizeof REQ[0]; i++) {
        int n = nes_h1_parse_request(REQ[i].in, strlen(REQ[i].in), NULL, &req, NULL);
        assert_true(n > 0);
        nes_buf b = {0};
        assert_int_equal(nes_h1_forward_request_head(&b, &req, REQ[i].client, REQ[i].body_len), 0);
        if (b.len != strlen(REQ[i].out) || memcmp(b.data, REQ[i].out, b.len) != 0)
            fail_msg("case %zu: got\n%.*s", i, (int)b.len, (const char *)b.data);
        nes_buf_free(&b);
    }
}

/* with a traceparent of the intermediary's own: the client's is replaced, tracestate stays */
static const struct {
    const char *in, *tp, *out;
} REQ_TP[] = {
    {"GET /t HTTP/1.1\r\nHost: h\r\ntraceparent: 00-aa-bb-01\r\ntracestate: k=v\r\n"
     "TraceParent: 00-cc-dd-00\r\n\r\n",
     "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
     "GET /t HTTP/1.1\r\nHost: h\r\ntracestate: k=v\r\nX-Forwarded-Proto: https\r\n"
     "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"},
    {"GET /t HTTP/1.1\r\nHost: h\r\n\r\n", "00-1-2-00",
     "GET /t HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\ntraceparent: 00-1-2-00\r\n\r\n"},
    /* NULL: the client's goes through as any end-to-end field */
    {"GET /t HTTP/1.1\r\nHost: h\r\ntraceparent: 00-aa-bb-01\r\n\r\n", NULL,
     "GET /t HTTP/1.1\r\nHost: h\r\ntraceparent: 00-aa-bb-01\r\nX-Forwarded-Proto: https\r\n"
     "\r\n"},
};

static void request_heads_with_traceparent(void **state)
{
    (void)state;
    static nes_h1_request req;
    for (size_t i = 0; i < sizeof REQ_TP / sizeof REQ_TP[0]; i++) {
        int n = nes_h1_parse_request(REQ_TP[i].in, strlen(REQ_TP[i].in), NULL, &req, NULL);
        assert_true(n > 0);
        nes_buf b = {0};
        assert_int_equal(nes_h1_forward_request_head_tp(&b, &req, NULL, 0, REQ_TP[i].tp), 0);
        if (b.len != strlen(REQ_TP[i].out) || memcmp(b.data, REQ_TP[i].out, b.len) != 0)
            fail_msg("case %zu: got\n%.*s", i, (int)b.len, (const char *)b.data);
        nes_buf_free(&b);
    }
}

static const struct {
    const char *in;
    bool keep_framing, close;
    int minor;
    const char *out;
} RES[] = {
    {"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
     "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n",
     true, false, 1,
     "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: X-Hop\r\nX-Hop: 1\r\n"
     "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
     true, true, 1,
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
     "Connection: close\r\n\r\n"},
    /* an HTTP/1.0 client of a chunked answer: framing dropped, close */
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, true, 0,
     "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"},
    /* a reason phrase with obs-text goes through unchanged */
    {"HTTP/1.1 200 \xe9t\xe9\r\nContent-Length: 0\r\n\r\n", true, false, 1,
     "HTTP/1.1 200 \xe9t\xe9\r\nContent-Length: 0\r\n\r\n"},
    /* an HTTP/1.0 client kept alive is told so; the reason phrase is kept */
    {"HTTP/1.0 404 Nope\r\nContent-Length: 0\r\n\r\n", true, false, 0,
     "HTTP/1.1 404 Nope\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
};

static void response_heads(void **state)
{
    (void)state;
    static nes_h1_response res;
    for (size_t i = 0; i < sizeof RES / sizeof RES[0]; i++) {
        int n = nes_h1_parse_response(RES[i].in, strlen(RES[i].in), NULL, NES_H1_M_GET, &res, NULL);
        assert_true(n > 0);
        nes_buf b = {0};
        assert_int_equal(
            nes_h1_forward_response_head(&b, &res, RES[i].keep_framing, RES[i].close, RES[i].minor),
            0);
        if (b.len != strlen(RES[i].out) || memcmp(b.data, RES[i].out, b.len) != 0)
            fail_msg("case %zu: got\n%.*s", i, (int)b.len, (const char *)b.data);
        nes_buf_free(&b);
    }
}

static void hop_by_hop_names(void **state)
{
    (void)state;
    assert_true(nes_h1_is_hop_by_hop((nes_h1_str){"Keep-Alive", 10}));
    assert_true(nes_h1_is_hop_by_hop((nes_h1_str){"te", 2}));
    assert_false(nes_h1_is_hop_by_hop((nes_h1_str){"Content-Type", 12}));
    nes_h1_header h[] = {{{"Connection", 10}, {"close, X-A ,x-b", 15}}};
    assert_true(nes_h1_connection_names(h, 1, (nes_h1_str){"x-a", 3}));
    assert_true(nes_h1_connection_names(h, 1, (nes_h1_str){"X-B", 3}));
    assert_false(nes_h1_connection_names(h, 1, (nes_h1_str){"X", 1}));
}

static void buffer_limit_appends_nothing(void **state)
{
    (void)state;
    static nes_h1_request req;
    const char *in = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_true(nes_h1_parse_request(in, strlen(in), NULL, &req, NULL) > 0);
    nes_buf b = {.max = 20};
    assert_int_equal(nes_h1_forward_request_head(&b, &req, "1.2.3.4", 0), -1);
    assert_int_equal(b.len, 0);
    nes_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_heads),
        cmocka_unit_test(request_heads_with_traceparent),
        cmocka_unit_test(response_heads),
        cmocka_unit_test(hop_by_hop_names),
        cmocka_unit_test(buffer_limit_appends_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
