/* test_sigv4.c - the SigV4 signer: AWS's documented example, encoding and canonical-request
 * rules as tables (botocore comparisons are in tests/integration/test_aws_sigv4.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "aws/sigv4.h"

static const char *const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/* AWS documentation, "Create a signed AWS API request" (IAM ListUsers, 2015-08-30). */
static void aws_documented_example(void **state)
{
    (void)state;
    nes_sigv4_pair q[] = {{"Version", "2010-05-08"}, {"Action", "ListUsers"}};
    nes_sigv4_pair h[] = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    char hash[65];
    nes_sigv4_sha256_hex("", 0, hash);
    nes_sigv4_request r = {.method = "GET",
                           .service = "iam",
                           .region = "us-east-1",
                           .host = "iam.amazonaws.com",
                           .path = "/",
                           .query = q,
                           .nquery = 2,
                           .headers = h,
                           .nheaders = 1,
                           .payload_hash = hash,
                           .now = 1440938160,
                           .access_key = "AKIDEXAMPLE",
                           .secret_key = SECRET};
    nes_sigv4_result out = {0};
    assert_int_equal(nes_sigv4_sign(&r, &out), 0);
    assert_string_equal(out.amz_date, "20150830T123600Z");
    assert_string_equal(
        out.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/"
        "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    assert_string_equal((char *)out.wire_query.data, "Action=ListUsers&Version=2010-05-08");
    assert_string_equal(hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    nes_sigv4_result_free(&out);
}

static void uri_encoding(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool slash;
        const char *out;
    } cases[] = {
        {"AZaz09-_.~", false, "AZaz09-_.~"},
        {"a b+c", false, "a%20b%2Bc"},
        {"/x/y", true, "/x/y"},
        {"/x/y", false, "%2Fx%2Fy"},
        {"%", true, "%25"},
        {"\xc3\xa9", true, "%C3%A9"},
        {"=&?#", true, "%3D%26%3F%23"},
        {"", true, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_buf b = {0};
        assert_int_equal(nes_sigv4_uri_encode(cases[i].in, strlen(cases[i].in), cases[i].slash, &b),
                         0);
        assert_int_equal(b.len, strlen(cases[i].out));
        assert_memory_equal(b.data ? (const char *)b.data : "", cases[i].out, b.len);
        nes_buf_free(&b);
    }
}

/* The canonical request's path and header lines for each case. */
static void canonical_rules(void **state)
{
    (void)state;
    static const struct {
        const char *service, *path, *hname, *hvalue;
        const char *want_path_line; /* second line of the canonical request */
        const char *want_wire;      /* wire path */
        const char *want_header;    /* a line the canonical request must contain */
    } cases[] = {
        {"kms", "/a/./b/../c//d", NULL, NULL, "/a/c/d", "/a/./b/../c//d", "host:h\n"},
        {"s3", "/a/./b/../c//d", NULL, NULL, "/a/./b/../c//d", "/a/./b/../c//d", "host:h\n"},
        {"kms", "/a b", NULL, NULL, "/a%2520b", "/a%20b", "x-amz-date:"},
        {"s3", "/a b", NULL, NULL, "/a%20b", "/a%20b", "x-amz-content-sha256:"},
        {"kms", "/", "X-Amz-Meta-A-B", "  two   spaces  ", "/", "/", "x-amz-meta-a-b:two spaces\n"},
        {"kms", "/dir/", NULL, NULL, "/dir/", "/dir/", "host:h\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_sigv4_pair h[1] = {{cases[i].hname, cases[i].hvalue}};
        nes_sigv4_request r = {.method = "GET",
                               .service = cases[i].service,
                               .region = "r",
                               .host = "h",
                               .path = cases[i].path,
                               .headers = h,
                               .nheaders = cases[i].hname ? 1 : 0,
                               .payload_hash = "UNSIGNED-PAYLOAD",
                               .now = 0,
                               .access_key = "a",
                               .secret_key = "s",
                               .session_token = "tok"};
        nes_sigv4_result out = {0};
        assert_int_equal(nes_sigv4_sign(&r, &out), 0);
        const char *c = (const char *)out.canonical.data;
        const char *nl = strchr(c, '\n');
        assert_non_null(nl);
        size_t plen = strcspn(nl + 1, "\n");
        if (plen != strlen(cases[i].want_path_line) ||
            memcmp(nl + 1, cases[i].want_path_line, plen) != 0)
            fail_msg("case %zu: canonical path %.*s", i, (int)plen, nl + 1);
        assert_string_equal((char *)out.wire_path.data, cases[i].want_wire);
        assert_non_null(strstr(c, cases[i].want_header));
        assert_non_null(strstr(c, "x-amz-security-token:tok\n"));
        assert_non_null(strstr((char *)out.string_to_sign.data, "19700101/r/"));
        nes_sigv4_result_free(&out);
    }
}

static void refusals(void **state)
{
    (void)state;
    nes_sigv4_pair bad[] = {{"bad name", "v"}};
    nes_sigv4_pair ctl[] = {{"x-a", "line\nbreak"}};
    nes_sigv4_pair many[NES_SIGV4_MAX_HEADERS + 1];
    for (size_t i = 0; i < NES_SIGV4_MAX_HEADERS + 1; i++)
        many[i] = (nes_sigv4_pair){"x-a", "v"};
    nes_sigv4_request base = {.method = "GET",
                              .service = "kms",
                              .region = "r",
                              .host = "h",
                              .path = "/",
                              .payload_hash = "UNSIGNED-PAYLOAD",
                              .access_key = "a",
                              .secret_key = "s"};
    nes_sigv4_request cases[6];
    for (size_t i = 0; i < 6; i++)
        cases[i] = base;
    cases[0].headers = bad, cases[0].nheaders = 1;
    cases[1].headers = ctl, cases[1].nheaders = 1;
    cases[2].headers = many, cases[2].nheaders = NES_SIGV4_MAX_HEADERS + 1;
    cases[3].path = "no-slash";
    cases[4].secret_key = NULL;
    cases[5].host = NULL;
    for (size_t i = 0; i < 6; i++) {
        nes_sigv4_result out = {0};
        if (nes_sigv4_sign(&cases[i], &out) != -1)
            fail_msg("case %zu signed", i);
        nes_sigv4_result_free(&out);
    }
}

static void amz_date(void **state)
{
    (void)state;
    char d[17];
    nes_sigv4_amz_date(0, d);
    assert_string_equal(d, "19700101T000000Z");
    nes_sigv4_amz_date(1764500000, d);
    assert_string_equal(d, "20251130T105320Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aws_documented_example),
        cmocka_unit_test(uri_encoding),
        cmocka_unit_test(canonical_rules),
        cmocka_unit_test(refusals),
        cmocka_unit_test(amz_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
