/* test_allowlist.c - the egress allowlist (parse, match) and the CONNECT head parser, as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/allowlist.h"
#include "proxy/connect.h"

static const char good[] = "allowlist:\n"
                           "- {address: kms.eu-west-1.amazonaws.com, port: 443}\n"
                           "- {address: \"*.s3.eu-west-1.amazonaws.com\", port: 443}\n"
                           "- address: 169.254.169.254\n"
                           "  port: 80\n";

static void parses_and_matches(void **state)
{
    (void)state;
    nes_allowlist al;
    char why[200];
    assert_int_equal(nes_allowlist_parse(good, strlen(good), &al, why, sizeof(why)), 0);
    assert_int_equal(al.n, 3);
    static const struct {
        const char *host;
        unsigned port;
        bool ok;
    } m[] = {
        {"kms.eu-west-1.amazonaws.com", 443, true},
        {"KMS.EU-WEST-1.amazonaws.com", 443, true},
        {"kms.eu-west-1.amazonaws.com", 80, false},
        {"kms.eu-west-2.amazonaws.com", 443, false},
        {"xkms.eu-west-1.amazonaws.com", 443, false},
        {"bucket.s3.eu-west-1.amazonaws.com", 443, true},
        {"a.b.s3.eu-west-1.amazonaws.com", 443, true},
        {"s3.eu-west-1.amazonaws.com", 443, false}, /* the suffix itself is not matched */
        {"evils3.eu-west-1.amazonaws.com", 443, false},
        {"169.254.169.254", 80, true},
        {"169.254.169.254", 443, false},
        {"", 443, false},
        {"kms.eu-west-1.amazonaws.com.", 443, false},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (nes_allowlist_match(&al, m[i].host, strlen(m[i].host), (uint16_t)m[i].port) != m[i].ok)
            fail_msg("%s:%u: want %d", m[i].host, m[i].port, m[i].ok);
    nes_allowlist_free(&al);
}

static void rejects_bad_files(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "allowlist: []\nother: 1\n",
        "allowlist: {address: a, port: 1}\n",
        "- {address: a, port: 1}\n",
        "allowlist:\n- {address: a}\n",
        "allowlist:\n- {port: 443}\n",
        "allowlist:\n- {address: a, port: 0}\n",
        "allowlist:\n- {address: a, port: 65536}\n",
        "allowlist:\n- {address: a, port: '4x'}\n",
        "allowlist:\n- {address: a, port: 1, extra: 2}\n",
        "allowlist:\n- {address: 'a b', port: 1}\n",
        "allowlist:\n- {address: '*.', port: 1}\n",
        "allowlist:\n- {address: '*', port: 1}\n",
        "allowlist:\n- {address: 'a.*.b', port: 1}\n",
        "allowlist:\n- {address: '-a.b', port: 1}\n",
        "allowlist:\n- {address: [a], port: 1}\n",
        "allowlist:\n- {address: a, address: b, port: 1}\n",
        "allowlist:\n- 42\n",
        "allowlist: [\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nes_allowlist al;
        char why[200] = "";
        if (nes_allowlist_parse(bad[i], strlen(bad[i]), &al, why, sizeof(why)) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_true(strlen(why) > 0);
        assert_null(al.e);
    }
}

typedef struct ccase {
    const char *in;
    nes_connect_result rc;
    int status; /* refusals */
    const char *host;
    unsigned port;
} ccase;

#define H "Host: a:1\r\n"
static const ccase ccases[] = {
    {"CONNECT kms.eu-west-1.amazonaws.com:443 HTTP/1.1\r\nHost: kms.eu-west-1.amazonaws.com:443\r\n"
     "User-Agent: curl\r\nProxy-Connection: Keep-Alive\r\n\r\n",
     NES_CONNECT_OK, 0, "kms.eu-west-1.amazonaws.com", 443},
    {"CONNECT 10.0.0.1:8443 HTTP/1.0\r\n\r\n", NES_CONNECT_OK, 0, "10.0.0.1", 8443},
    {"CONNECT a:1 HTTP/1.1\r\n" H "X:\t v \r\n\r\n", NES_CONNECT_OK, 0, "a", 1},
    {"CONNECT a:1 HTTP/1.1\n" H "\n", NES_CONNECT_OK, 0, "a", 1}, /* bare LF: RFC 9112 2.2 */
    {"CONNECT a:1 HTTP/1.1\r\n" H, NES_CONNECT_MORE, 0, NULL, 0},
    {"CONNECT a:1 HTTP/1.1\r", NES_CONNECT_MORE, 0, NULL, 0},
    {"CONN", NES_CONNECT_MORE, 0, NULL, 0},
    {"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", NES_CONNECT_METHOD, 405, NULL, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", NES_CONNECT_METHOD, 405, NULL, 0},
    {"CONNECT a:1 HTTP/1.1\r\n\r\n", NES_CONNECT_BAD, 400, NULL, 0}, /* no Host */
    {"CONNECT a:1 HTTP/2.0\r\n" H "\r\n", NES_CONNECT_BAD, 505, NULL, 0},
    {"CONNECT a:1 HTTP/1.1 \r\n" H "\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT  a:1 HTTP/1.1\r\n" H "\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a HTTP/1.1\r\n" H "\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a:0 HTTP/1.1\r\n" H "\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a:65536 HTTP/1.1\r\n" H "\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a:99999999999999999999 HTTP/1.1\r\n" H "\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT http://a:1 HTTP/1.1\r\n" H "\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a_b:1 HTTP/1.1\r\nHost: a_b:1\r\n\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a:1 HTTP/1.1\r\n" H "X: y\r\n folded\r\n\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a:1 HTTP/1.1\r\n" H "X y\r\n\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a:1 HTTP/1.1\r\n" H ": y\r\n\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a:1 HTTP/1.1\r\n" H "X: \x01\r\n\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a:1 HTTP/1.1\rX\r\n\r\n", NES_CONNECT_BAD, 400, NULL, 0},
    {"CONNECT a:1 HTTP/1.1\r\n" H "Expect: magic\r\n\r\n", NES_CONNECT_BAD, 417, NULL, 0},
    {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", NES_CONNECT_BAD, 400, NULL, 0},
};

static void connect_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++) {
        const ccase *c = &ccases[i];
        nes_connect_req r;
        nes_connect_result rc = nes_connect_parse((const uint8_t *)c->in, strlen(c->in), 8192, &r);
        if (rc != c->rc || (rc < 0 && r.status != c->status))
            fail_msg("case %zu: result %d status %d, want %d %d (%s)", i, rc, r.status, c->rc,
                     c->status, r.why ? r.why : "");
        if (rc == NES_CONNECT_OK) {
            assert_string_equal(r.host, c->host);
            assert_int_equal(r.port, c->port);
            assert_int_equal(r.head_len, strlen(c->in));
        } else if (rc != NES_CONNECT_MORE) {
            assert_non_null(r.why);
        }
    }
}

static void connect_limits(void **state)
{
    (void)state;
    char big[9000];
    memset(big, 'a', sizeof(big));
    memcpy(big, "CONNECT a:1 HTTP/1.1\r\nX: ", 25);
    nes_connect_req r;
    assert_int_equal(nes_connect_parse((const uint8_t *)big, sizeof(big), 8192, &r),
                     NES_CONNECT_TOO_LARGE);
    assert_int_equal(r.status, 431);
    assert_int_equal(nes_connect_parse((const uint8_t *)big, 8191, 8192, &r), NES_CONNECT_MORE);
    /* too many fields */
    static char many[4096] = "CONNECT a:1 HTTP/1.1\r\n" H;
    for (int i = 0; i <= 100; i++)
        strcat(many, "A: b\r\n");
    strcat(many, "\r\n");
    assert_int_equal(nes_connect_parse((const uint8_t *)many, strlen(many), 8192, &r),
                     NES_CONNECT_TOO_LARGE);
    /* bytes after the head are not part of it */
    const char *withdata = "CONNECT a:1 HTTP/1.1\r\n" H "\r\n\x16\x03\x01";
    assert_int_equal(nes_connect_parse((const uint8_t *)withdata, strlen(withdata), 8192, &r),
                     NES_CONNECT_OK);
    assert_int_equal(r.head_len, strlen(withdata) - 3);
    /* a bad request line is refused before the head is complete */
    assert_int_equal(
        nes_connect_parse((const uint8_t *)"CONNECT a:1 HTTP/1.1 x\r\nHo", 26, 8192, &r),
        NES_CONNECT_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_and_matches),
        cmocka_unit_test(rejects_bad_files),
        cmocka_unit_test(connect_table),
        cmocka_unit_test(connect_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
