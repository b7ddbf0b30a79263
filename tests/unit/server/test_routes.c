/* test_routes.c - the routes' first step (routes.h) as a table: for a request head (method,
 * target, headers, declared length, Expect), what the connection does next and, when the answer
 * is known without the body, its status, error code and headers. Also the codec refusals' JSON
 * errors and the in-flight count. No socket, no TLS: the routes only see a nes_request. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "enclave/config.h"
#include "enclave/routes.h"
#include "enclave/server.h"
#include "obs/log.h"

typedef struct hdrs {
    const char *ctype;
    const char *schema;
} hdrs;

static const char *lookup(const void *head, const char *name)
{
    const hdrs *h = head;
    if (strcasecmp(name, "Content-Type") == 0)
        return h->ctype;
    if (strcasecmp(name, "X-Schema-Name") == 0)
        return h->schema;
    return NULL;
}

#define J "application/json"

typedef struct row {
    const char *method, *target, *ctype, *schema;
    int64_t length; /* -1: chunked */
    bool expect;
    nes_routes_next next;
    unsigned status; /* the answer (0: decided by the body) */
    const char *code;
    bool close;
    const char *allow;
} row;

/* MAX_BODY_BYTES is 1024 in this table (the smallest allowed). */
static const row table[] = {
    /* read the body: the answer depends on it */
    {"POST", "/encrypt", J, "payments", 10, false, NES_ROUTES_READ_BODY, 0, NULL, false, NULL},
    {"POST", "/encrypt?x=1", J "; charset=utf-8", "p", -1, false, NES_ROUTES_READ_BODY, 0, NULL,
     false, NULL},
    {"POST", "/encrypt", J, "p", 1024, true, NES_ROUTES_READ_BODY, 0, NULL, false, NULL},
    {"POST", "/encrypt", J, NULL, 2, false, NES_ROUTES_READ_BODY, 0, NULL, false, NULL},
    /* known from the head: read and drop the body, answer, keep the connection */
    {"GET", "/nope", NULL, NULL, 0, false, NES_ROUTES_DISCARD_BODY, 404, "not_found", false, NULL},
    {"POST", "/nope", J, NULL, 5, false, NES_ROUTES_DISCARD_BODY, 404, "not_found", false, NULL},
    {"GET", "/encrypt", NULL, NULL, 0, false, NES_ROUTES_DISCARD_BODY, 405, "method_not_allowed",
     false, "POST"},
    {"POST", "/healthz", J, NULL, 2, false, NES_ROUTES_DISCARD_BODY, 405, "method_not_allowed",
     false, "GET"},
    {"GET", "/healthz", NULL, NULL, 0, false, NES_ROUTES_DISCARD_BODY, 200, NULL, false, NULL},
    {"HEAD", "/openapi.yaml", NULL, NULL, 0, false, NES_ROUTES_DISCARD_BODY, 200, NULL, false,
     NULL},
    {"POST", "/decrypt", J, "p", 2, false, NES_ROUTES_DISCARD_BODY, 403, "forbidden", false, NULL},
    {"POST", "/encrypt", "text/plain", "p", 2, false, NES_ROUTES_DISCARD_BODY, 415,
     "unsupported_media_type", false, NULL},
    {"POST", "/encrypt", J "; charset=latin1", "p", 2, false, NES_ROUTES_DISCARD_BODY, 415,
     "unsupported_media_type", false, NULL},
    {"POST", "/encrypt", NULL, "p", 2, false, NES_ROUTES_DISCARD_BODY, 415,
     "unsupported_media_type", false, NULL},
    /* over MAX_BODY_BYTES: 413 after the body (read and dropped), then close */
    {"POST", "/encrypt", J, "p", 1025, false, NES_ROUTES_DISCARD_BODY, 413, "body_too_large", true,
     NULL},
    {"POST", "/encrypt", J, "p", 4096, false, NES_ROUTES_DISCARD_BODY, 413, "body_too_large", true,
     NULL},
    /* far over: at once, then close */
    {"POST", "/encrypt", J, "p", 4097, false, NES_ROUTES_ANSWER_NOW, 413, "body_too_large", true,
     NULL},
    {"POST", "/encrypt", J, "p", INT64_MAX, false, NES_ROUTES_ANSWER_NOW, 413, "body_too_large",
     true, NULL},
    /* a client waiting for 100 Continue gets the known answer instead, then close */
    {"POST", "/encrypt", "text/plain", "p", 2, true, NES_ROUTES_ANSWER_NOW, 415,
     "unsupported_media_type", true, NULL},
    {"POST", "/nope", J, NULL, 5, true, NES_ROUTES_ANSWER_NOW, 404, "not_found", true, NULL},
    {"POST", "/encrypt", J, "p", 2048, true, NES_ROUTES_ANSWER_NOW, 413, "body_too_large", true,
     NULL},
    /* a known answer does not read a declared body far over the cap either */
    {"POST", "/nope", J, NULL, 4097, false, NES_ROUTES_ANSWER_NOW, 404, "not_found", true, NULL},
    {"POST", "/healthz", J, NULL, INT64_MAX, false, NES_ROUTES_ANSWER_NOW, 405,
     "method_not_allowed", true, "GET"},
    /* ... unless there is no body to wait for */
    {"GET", "/nope", NULL, NULL, 0, true, NES_ROUTES_DISCARD_BODY, 404, "not_found", false, NULL},
};

static nes_config cfg;
static nes_server srv;

static int setup(void **state)
{
    (void)state;
    char *env[] = {"MAX_BODY_BYTES=1024", NULL};
    nes_config_problems p;
    if (nes_config_load(&cfg, true, env, NULL, 1, &p) != 0)
        return -1;
    nes_log_configure(NES_LOG_ERROR, 2);
    memset(&srv, 0, sizeof(srv));
    srv.cfg = &cfg;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nes_config_free(&cfg);
    return 0;
}

static void check_error_body(const nes_response *resp, const char *code)
{
    char want[96];
    snprintf(want, sizeof(want), "{\"error\":{\"code\":\"%s\",", code);
    assert_true(resp->body.len > strlen(want));
    assert_memory_equal(resp->body.data, want, strlen(want));
    assert_string_equal(resp->content_type, "application/json");
}

static void head_decisions_follow_the_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const row *t = &table[i];
        hdrs h = {t->ctype, t->schema};
        nes_request req = {.method = t->method,
                           .target = t->target,
                           .header = lookup,
                           .head = &h,
                           .content_length = t->length};
        nes_route_ctx ctx;
        nes_response resp = {0};
        nes_routes_next next = nes_routes_begin(&srv, &req, t->expect, &ctx, &resp);
        if (next != t->next)
            fail_msg("row %zu: next %d, want %d", i, next, t->next);
        if (next == NES_ROUTES_READ_BODY) {
            assert_int_equal(nes_server_inflight(&srv), 1);
            nes_routes_aborted(&srv, &req, &ctx); /* the client went away */
        } else if (next == NES_ROUTES_DISCARD_BODY) {
            assert_int_equal(nes_server_inflight(&srv), 1);
            nes_routes_respond(&srv, &req, &ctx, false, &resp);
        }
        assert_int_equal(nes_server_inflight(&srv), 0);
        if (t->status == 0)
            continue;
        if (resp.status != t->status)
            fail_msg("row %zu: status %u, want %u", i, resp.status, t->status);
        if (t->code != NULL)
            check_error_body(&resp, t->code);
        assert_int_equal(resp.close, t->close);
        if (t->allow != NULL)
            assert_string_equal(resp.allow, t->allow);
        else
            assert_null(resp.allow);
        nes_buf_free(&resp.body);
    }
}

static void body_over_the_limit_while_reading(void **state)
{
    (void)state;
    hdrs h = {J, "payments"};
    nes_request req = {
        .method = "POST", .target = "/encrypt", .header = lookup, .head = &h, .content_length = -1};
    nes_route_ctx ctx;
    nes_response resp = {0};
    assert_int_equal(nes_routes_begin(&srv, &req, false, &ctx, &resp), NES_ROUTES_READ_BODY);
    nes_routes_respond(&srv, &req, &ctx, true, &resp);
    assert_int_equal(resp.status, 413);
    assert_true(resp.close);
    check_error_body(&resp, "body_too_large");
    nes_buf_free(&resp.body);
    assert_int_equal(nes_server_inflight(&srv), 0);
}

static void draining_closes_every_answer(void **state)
{
    (void)state;
    hdrs h = {NULL, NULL};
    nes_request req = {.method = "GET", .target = "/healthz", .header = lookup, .head = &h};
    nes_route_ctx ctx;
    nes_response resp = {0};
    atomic_store(&srv.draining, true);
    assert_int_equal(nes_routes_begin(&srv, &req, false, &ctx, &resp), NES_ROUTES_DISCARD_BODY);
    nes_routes_respond(&srv, &req, &ctx, false, &resp);
    atomic_store(&srv.draining, false);
    assert_int_equal(resp.status, 200);
    assert_true(resp.close);
    assert_int_equal(resp.body.len, 16);
    assert_memory_equal(resp.body.data, "{\"status\":\"ok\"}\n", 16);
    nes_buf_free(&resp.body);
}

static void refusals_are_json_errors(void **state)
{
    (void)state;
    static const struct {
        unsigned status;
        const char *code;
    } refusals[] = {
        {400, "bad_request"},       {414, "uri_too_long"},    {417, "expectation_failed"},
        {431, "headers_too_large"}, {501, "not_implemented"}, {505, "http_version_not_supported"},
    };
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        nes_response resp = {0};
        nes_routes_refused(&srv, NULL, NULL, refusals[i].status, "a fixed reason", 17, &resp);
        assert_int_equal(resp.status, refusals[i].status);
        assert_true(resp.close);
        check_error_body(&resp, refusals[i].code);
        const char *tail = ",\"offset\":17}}\n";
        assert_memory_equal(resp.body.data + resp.body.len - strlen(tail), tail, strlen(tail));
        nes_buf_free(&resp.body);
    }
    /* a refused chunked body of an accepted head ends that request */
    hdrs h = {J, "p"};
    nes_request req = {
        .method = "POST", .target = "/encrypt", .header = lookup, .head = &h, .content_length = -1};
    nes_route_ctx ctx;
    nes_response resp = {0};
    assert_int_equal(nes_routes_begin(&srv, &req, false, &ctx, &resp), NES_ROUTES_READ_BODY);
    nes_routes_refused(&srv, &req, &ctx, 400, "bad chunk", (size_t)-1, &resp);
    assert_int_equal(nes_server_inflight(&srv), 0);
    assert_int_equal(resp.status, 400);
    nes_buf_free(&resp.body);
}

/* The in-flight count is kept per thread: the sum is exact with more threads than slots too. */
static void *inflight_worker(void *arg)
{
    nes_server *s = arg;
    for (int i = 0; i < 100000; i++)
        nes_server_inflight_add(s, 1);
    for (int i = 0; i < 60000; i++)
        nes_server_inflight_add(s, -1);
    return NULL;
}

static void inflight_sums_the_threads(void **state)
{
    (void)state;
    static nes_server s;
    enum { NT = NES_SERVER_INFLIGHT_SLOTS + 4 };
    pthread_t t[NT];
    for (int i = 0; i < NT; i++)
        assert_int_equal(pthread_create(&t[i], NULL, inflight_worker, &s), 0);
    for (int i = 0; i < NT; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(nes_server_inflight(&s), NT * 40000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(head_decisions_follow_the_table),
        cmocka_unit_test(body_over_the_limit_while_reading),
        cmocka_unit_test(draining_closes_every_answer),
        cmocka_unit_test(refusals_are_json_errors),
        cmocka_unit_test(inflight_sums_the_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
