/* Unit tests: the RFC 9112 case tables of h1_cases.h through the simulated connection of
 * tests/http_driver.h. Every case must give its expected events, and the same events (byte for
 * byte, offsets included) when fed split at every byte, byte by byte, gated by nes_h1_head_end,
 * with a chunk output buffer of 1 and 3 bytes, and with zero-copy chunk slices. Also: a pipeline of
 * 100 mixed requests. With NES_HTTP_WRITE_CORPUS=DIR it writes the cases as fuzz seeds into
 * DIR/http_request, DIR/http_response and DIR/http_chunked (the format of fuzz/fuzz_http_*.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "http_driver.h"
#include "testutil.h"
#include "unit/http/h1_cases.h"

/* Feeds `in` whole and in every other way; returns the number of disagreements (printed). */
static int check_splits(const char *name, const h1d_opts *base, const char *in, size_t len,
                        const char *whole, size_t step)
{
    int bad = 0;
    size_t *cuts = malloc((len ? len : 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    const size_t caps[] = {0, 1, 3, 0}; /* the last: zero-copy slices */
    for (int gate = 0; gate <= 1; gate++) {
        for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
            h1d_opts o = *base;
            o.gate = gate;
            o.out_cap = caps[ci];
            o.zero_copy = ci == 3;
            char *w = h1d_run_str(&o, in, len, NULL, 0);
            if (strcmp(w, whole) != 0) {
                print_message("%s: gate=%d cap=%zu whole differs:\n%s", name, gate, caps[ci], w);
                bad++;
            }
            free(w);
            char *b = h1d_run_str(&o, in, len, cuts, len ? len - 1 : 0);
            if (strcmp(b, whole) != 0) {
                print_message("%s: gate=%d cap=%zu byte by byte differs:\n%s", name, gate, caps[ci],
                              b);
                bad++;
            }
            free(b);
            if (ci != 0)
                continue;
            for (size_t k = 1; k < len; k += step) {
                char *s = h1d_run_str(&o, in, len, &k, 1);
                if (strcmp(s, whole) != 0) {
                    print_message("%s: gate=%d split at %zu differs:\n%s", name, gate, k, s);
                    bad++;
                }
                free(s);
            }
        }
    }
    free(cuts);
    return bad;
}

static int check_table(const h1_case *cases, size_t n, int responses)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const h1_case *c = &cases[i];
        h1d_opts o = {.lim = c->lim, .responses = responses, .req_method = c->method};
        char *whole = h1d_run_str(&o, c->in, c->len, NULL, 0);
        nes_buf tmp = {0};
        nes_buf_append(&tmp, whole, strlen(whole));
        char *norm = h1d_normalize(&tmp, c->headers);
        nes_buf_free(&tmp);
        if (strcmp(norm, c->want) != 0) {
            print_message("case %s:\n--- got\n%s--- want\n%s", c->name, norm, c->want);
            bad++;
        }
        bad += check_splits(c->name, &o, c->in, c->len, whole, 1);
        free(norm);
        free(whole);
    }
    return bad;
}

static void request_cases(void **state)
{
    (void)state;
    assert_int_equal(check_table(REQUEST_CASES, sizeof REQUEST_CASES / sizeof REQUEST_CASES[0], 0),
                     0);
}

static void response_cases(void **state)
{
    (void)state;
    assert_int_equal(
        check_table(RESPONSE_CASES, sizeof RESPONSE_CASES / sizeof RESPONSE_CASES[0], 1), 0);
}

static void case_names_unique(void **state)
{
    (void)state;
    const h1_case *t[] = {REQUEST_CASES, RESPONSE_CASES};
    size_t n[] = {sizeof REQUEST_CASES / sizeof REQUEST_CASES[0],
                  sizeof RESPONSE_CASES / sizeof RESPONSE_CASES[0]};
    for (int a = 0; a < 2; a++)
        for (size_t i = 0; i < n[a]; i++)
            for (int b = 0; b < 2; b++)
                for (size_t j = 0; j < n[b]; j++)
                    if ((a != b || i != j) && strcmp(t[a][i].name, t[b][j].name) == 0)
                        fail_msg("case name %s twice", t[a][i].name);
}

/* 100 pipelined requests of every framing (GET, Content-Length, chunked with random chunk
 * sizes and extensions, Expect, bare-LF lines), the last with Connection: close, then bytes
 * that must never be parsed. */
static void pipeline_of_100(void **state)
{
    (void)state;
    nes_buf in = {0}, want = {0};
    uint64_t rng = 42;
    char line[256];
    for (int i = 0; i < 100; i++) {
        int kind = (int)(tu_rng_next(&rng) % 4);
        const char *eol = tu_rng_next(&rng) % 3 == 0 ? "\n" : "\r\n";
        const char *last = i == 99 ? "Connection: close" : "X-Seq: ok";
        int ka = i != 99;
        size_t blen = (size_t)(tu_rng_next(&rng) % 40);
        char body[64];
        for (size_t k = 0; k < blen; k++)
            body[k] = (char)('a' + tu_rng_next(&rng) % 26);
        if (kind == 0) {
            snprintf(line, sizeof line, "GET /r%d HTTP/1.1%sHost: h%s%s%s%s", i, eol, eol, last,
                     eol, eol);
            nes_buf_append(&in, line, strlen(line));
            snprintf(line, sizeof line, "req GET /r%d 1.1 host=h none ka=%d\nbody 0\n", i, ka);
            nes_buf_append(&want, line, strlen(line));
            if (!ka)
                nes_buf_append(&want, "close\n", 6);
            continue;
        }
        int chunked = kind == 3;
        char clen[24];
        snprintf(clen, sizeof clen, "%zu", blen);
        snprintf(line, sizeof line, "POST /r%d HTTP/1.1%sHost: h%s%s%s%s: %s%s%s%s", i, eol, eol,
                 kind == 2 ? "Expect: 100-continue" : "X-A: b", eol,
                 chunked ? "Transfer-Encoding" : "Content-Length", chunked ? "chunked" : clen, eol,
                 last, eol);
        nes_buf_append(&in, line, strlen(line));
        nes_buf_append(&in, eol, strlen(eol));
        if (chunked) {
            size_t k = 0;
            while (k < blen) {
                size_t c = 1 + (size_t)(tu_rng_next(&rng) % 9);
                if (c > blen - k)
                    c = blen - k;
                snprintf(line, sizeof line, "%zx%s%s", c, k % 2 ? ";ext=\"v\"" : "", eol);
                nes_buf_append(&in, line, strlen(line));
                nes_buf_append(&in, body + k, c);
                nes_buf_append(&in, eol, strlen(eol));
                k += c;
            }
            snprintf(line, sizeof line, "0%sX-Trailer: t%s%s", eol, eol, eol);
            nes_buf_append(&in, line, strlen(line));
        } else {
            nes_buf_append(&in, body, blen);
        }
        if (chunked)
            snprintf(line, sizeof line, "req POST /r%d 1.1 host=h chunked ka=%d%s\n", i, ka,
                     kind == 2 ? " continue" : "");
        else
            snprintf(line, sizeof line, "req POST /r%d 1.1 host=h len=%zu ka=%d%s\n", i, blen, ka,
                     kind == 2 ? " continue" : "");
        nes_buf_append(&want, line, strlen(line));
        snprintf(line, sizeof line, blen ? "body %zu =%.*s\n" : "body %zu\n", blen, (int)blen,
                 body);
        if (blen > 16)
            snprintf(line, sizeof line, "body %zu\n", blen);
        nes_buf_append(&want, line, strlen(line));
        if (!ka)
            nes_buf_append(&want, "close\n", 6);
    }
    nes_buf_append(&in, "GET /never HTTP/1.1\r\n\r\n", 23);
    nes_buf_append(&want, "", 1);

    h1d_opts o = {0};
    char *whole = h1d_run_str(&o, (const char *)in.data, in.len, NULL, 0);
    nes_buf tmp = {0};
    nes_buf_append(&tmp, whole, strlen(whole));
    char *norm = h1d_normalize(&tmp, 0);
    nes_buf_free(&tmp);
    if (strcmp(norm, (const char *)want.data) != 0)
        fail_msg("pipeline:\n--- got\n%s--- want\n%s", norm, (const char *)want.data);
    assert_int_equal(check_splits("pipeline", &o, (const char *)in.data, in.len, whole, 7), 0);
    free(norm);
    free(whole);
    nes_buf_free(&in);
    nes_buf_free(&want);
}

/* 100 pipelined responses (to GET) of every framing: Content-Length, chunked, 204 and 304
 * without a body, an interim 100 before some, bare-LF lines; the last closes the connection. */
static void response_pipeline_of_100(void **state)
{
    (void)state;
    nes_buf in = {0}, want = {0};
    uint64_t rng = 7;
    char line[256];
    for (int i = 0; i < 100; i++) {
        int kind = (int)(tu_rng_next(&rng) % 4);
        const char *eol = tu_rng_next(&rng) % 3 == 0 ? "\n" : "\r\n";
        int ka = i != 99;
        const char *conn = ka ? "X-Seq: ok" : "Connection: close";
        if (tu_rng_next(&rng) % 5 == 0) {
            snprintf(line, sizeof line, "HTTP/1.1 100 Continue%s%s", eol, eol);
            nes_buf_append(&in, line, strlen(line));
            nes_buf_append(&want, "res 100 1.1 none ka=1 reason=Continue\n", 38);
        }
        if (kind == 2) {
            int st = tu_rng_next(&rng) % 2 ? 204 : 304;
            snprintf(line, sizeof line, "HTTP/1.1 %d X%s%s%sContent-Length: 9%s%s", st, eol, conn,
                     eol, eol, eol);
            nes_buf_append(&in, line, strlen(line));
            snprintf(line, sizeof line, "res %d 1.1 none ka=%d reason=X\nbody 0\n%s", st, ka,
                     ka ? "" : "close\n");
            nes_buf_append(&want, line, strlen(line));
            continue;
        }
        size_t blen = 1 + (size_t)(tu_rng_next(&rng) % 15);
        char body[16];
        for (size_t k = 0; k < blen; k++)
            body[k] = (char)('A' + tu_rng_next(&rng) % 26);
        if (kind == 3) {
            snprintf(line, sizeof line, "HTTP/1.1 200 OK%sTransfer-Encoding: chunked%s%s%s%s", eol,
                     eol, conn, eol, eol);
            nes_buf_append(&in, line, strlen(line));
            for (size_t k = 0; k < blen; k += 4) {
                size_t c = blen - k < 4 ? blen - k : 4;
                snprintf(line, sizeof line, "%zx%s", c, eol);
                nes_buf_append(&in, line, strlen(line));
                nes_buf_append(&in, body + k, c);
                nes_buf_append(&in, eol, strlen(eol));
            }
            snprintf(line, sizeof line, "0%s%s", eol, eol);
            nes_buf_append(&in, line, strlen(line));
            snprintf(line, sizeof line, "res 200 1.1 chunked ka=%d reason=OK\n", ka);
        } else {
            snprintf(line, sizeof line, "HTTP/1.%d 200 OK%sContent-Length: %zu%s%s%s%s", 1, eol,
                     blen, eol, conn, eol, eol);
            nes_buf_append(&in, line, strlen(line));
            nes_buf_append(&in, body, blen);
            snprintf(line, sizeof line, "res 200 1.1 len=%zu ka=%d reason=OK\n", blen, ka);
        }
        nes_buf_append(&want, line, strlen(line));
        snprintf(line, sizeof line, "body %zu =%.*s\n%s", blen, (int)blen, body,
                 ka ? "" : "close\n");
        nes_buf_append(&want, line, strlen(line));
    }
    nes_buf_append(&in, "HTTP/1.1 200 OK\r\n\r\nnever", 25);
    nes_buf_append(&want, "", 1);

    h1d_opts o = {.responses = 1, .req_method = NES_H1_M_GET};
    char *whole = h1d_run_str(&o, (const char *)in.data, in.len, NULL, 0);
    nes_buf tmp = {0};
    nes_buf_append(&tmp, whole, strlen(whole));
    char *norm = h1d_normalize(&tmp, 0);
    nes_buf_free(&tmp);
    if (strcmp(norm, (const char *)want.data) != 0)
        fail_msg("response pipeline:\n--- got\n%s--- want\n%s", norm, (const char *)want.data);
    assert_int_equal(check_splits("response pipeline", &o, (const char *)in.data, in.len, whole, 5),
                     0);
    free(norm);
    free(whole);
    nes_buf_free(&in);
    nes_buf_free(&want);
}

/* Seeds for the fuzzers: a 3-byte prefix (flags, split point) and the stream; for http_chunked
 * the bodies of the chunked request cases. */
static void write_seed(const char *dir, const char *sub, const char *name, unsigned char flags,
                       const char *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char pre[3] = {flags, (unsigned char)(n / 2), (unsigned char)(n / 512)};
    fwrite(pre, 1, 3, f);
    fwrite(p, 1, n, f);
    fclose(f);
}

static void write_corpus(void **state)
{
    (void)state;
    const char *dir = getenv("NES_HTTP_WRITE_CORPUS");
    if (dir == NULL)
        skip();
    for (size_t i = 0; i < sizeof REQUEST_CASES / sizeof REQUEST_CASES[0]; i++) {
        const h1_case *c = &REQUEST_CASES[i];
        write_seed(dir, "http_request", c->name, 0, c->in, c->len);
        static nes_h1_request req;
        int r = nes_h1_parse_request(c->in, c->len, NULL, &req, NULL);
        if (r > 0 && req.framing == NES_H1_BODY_CHUNKED)
            write_seed(dir, "http_chunked", c->name, 0, c->in + r, c->len - (size_t)r);
    }
    for (size_t i = 0; i < sizeof RESPONSE_CASES / sizeof RESPONSE_CASES[0]; i++) {
        const h1_case *c = &RESPONSE_CASES[i];
        unsigned char m = c->method == NES_H1_M_HEAD ? 1 : c->method == NES_H1_M_CONNECT ? 2 : 0;
        write_seed(dir, "http_response", c->name, (unsigned char)(m << 6), c->in, c->len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case_names_unique),        cmocka_unit_test(request_cases),
        cmocka_unit_test(response_cases),           cmocka_unit_test(pipeline_of_100),
        cmocka_unit_test(response_pipeline_of_100), cmocka_unit_test(write_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
