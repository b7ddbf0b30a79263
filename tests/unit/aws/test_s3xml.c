/* test_s3xml.c - ListObjectsV2 pages and S3 error bodies: a table of documents, one runner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws/s3xml.h"

#define NS "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"

static const struct {
    const char *doc;
    size_t max;
    int rc;
    size_t n;
    bool truncated;
    const char *token;
    const char *why;  /* substring of the reason when rc == -1 */
    const char *key0; /* first key when n > 0 */
    const char *etag0;
} cases[] = {
    {NS "<IsTruncated>false</IsTruncated><Contents><Key>a b.yaml</Key><ETag>&quot;e1&quot;</ETag>"
        "<Size>12</Size></Contents><Contents><Key>c.json</Key></Contents></ListBucketResult>",
     10, 0, 2, false, NULL, NULL, "a b.yaml", "\"e1\""},
    {NS "<IsTruncated>true</IsTruncated><NextContinuationToken>tok/+=</NextContinuationToken>"
        "</ListBucketResult>",
     10, 0, 0, true, "tok/+=", NULL, NULL, NULL},
    {"<ListBucketResult><Contents><Key>k&amp;&#233;</Key></Contents></ListBucketResult>", 10, 0, 1,
     false, NULL, NULL, "k&\xc3\xa9", ""},
    {NS "<IsTruncated>true</IsTruncated></ListBucketResult>", 10, -1, 0, false, NULL,
     "without a NextContinuationToken", NULL, NULL},
    {"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
     "<ListBucketResult><Contents><Key>&b;</Key></Contents></ListBucketResult>",
     10, -1, 0, false, NULL, "DTD not allowed", NULL, NULL},
    {"<!DOCTYPE ListBucketResult SYSTEM \"http://example.com/x.dtd\"><ListBucketResult/>", 10, -1,
     0, false, NULL, "DTD not allowed", NULL, NULL},
    {"<Error><Code>AccessDenied</Code></Error>", 10, -1, 0, false, NULL, "not a ListBucketResult",
     NULL, NULL},
    {"{\"json\": true}", 10, -1, 0, false, NULL, "not well-formed", NULL, NULL},
    {"<ListBucketResult><Contents><Key>a</Key></Contents><Contents><Key>b</Key></Contents>"
     "</ListBucketResult>",
     1, -1, 0, false, NULL, "too many objects", NULL, NULL},
    {"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>", 10, -1, 0, false,
     NULL, "without a Key", NULL, NULL},
    {"<ListBucketResult><Contents><Key></Key></Contents></ListBucketResult>", 10, -1, 0, false,
     NULL, "bad Key", NULL, NULL},
    {"", 10, -1, 0, false, NULL, "not well-formed", NULL, NULL},
};

static void list_pages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_s3_list l = {0};
        nes_s3xml_page page;
        char why[128] = "";
        int rc = nes_s3xml_parse_list(cases[i].doc, strlen(cases[i].doc), cases[i].max, &l, &page,
                                      why, sizeof(why));
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d (%s)", i, rc, why);
        if (rc == 0) {
            assert_int_equal(l.n, cases[i].n);
            assert_int_equal(page.truncated, cases[i].truncated);
            if (cases[i].token)
                assert_string_equal(page.continuation_token, cases[i].token);
            else
                assert_null(page.continuation_token);
            if (cases[i].key0) {
                assert_string_equal(l.objects[0].key, cases[i].key0);
                assert_string_equal(l.objects[0].etag, cases[i].etag0);
            }
        } else if (strstr(why, cases[i].why) == NULL) {
            fail_msg("case %zu: reason '%s'", i, why);
        }
        free(page.continuation_token);
        nes_s3_list_free(&l);
    }
}

static void long_key_and_big_page(void **state)
{
    (void)state;
    size_t n = 10000;
    size_t cap = n * 64 + 256;
    char *doc = malloc(cap);
    size_t len = (size_t)snprintf(doc, cap, "%s", NS);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(doc + len, cap - len,
                                "<Contents><Key>k/%05zu.yaml</Key></Contents>", i);
    len += (size_t)snprintf(doc + len, cap - len, "</ListBucketResult>");
    nes_s3_list l = {0};
    nes_s3xml_page page;
    char why[128];
    assert_int_equal(nes_s3xml_parse_list(doc, len, n, &l, &page, why, sizeof(why)), 0);
    assert_int_equal(l.n, n);
    assert_string_equal(l.objects[n - 1].key, "k/09999.yaml");
    nes_s3_list_free(&l);
    free(doc);

    char *big = malloc(NES_S3_MAX_KEY + 200);
    int m = snprintf(big, 100, "<ListBucketResult><Contents><Key>");
    memset(big + m, 'k', NES_S3_MAX_KEY + 1);
    m += NES_S3_MAX_KEY + 1;
    m += snprintf(big + m, 60, "</Key></Contents></ListBucketResult>");
    assert_int_equal(nes_s3xml_parse_list(big, (size_t)m, 10, &l, &page, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "key too long"));
    nes_s3_list_free(&l);
    free(big);
}

static void error_bodies(void **state)
{
    (void)state;
    char code[64], msg[128];
    const char *e = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key \xc3\xa9 "
                    "does not exist</Message><Key>secret-ish</Key></Error>";
    assert_int_equal(nes_s3xml_parse_error(e, strlen(e), code, sizeof(code), msg, sizeof(msg)), 0);
    assert_string_equal(code, "NoSuchKey");
    assert_string_equal(msg, "The key ?? does not exist");
    const char *notxml = "<html>oops";
    assert_int_equal(
        nes_s3xml_parse_error(notxml, strlen(notxml), code, sizeof(code), msg, sizeof(msg)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_pages),
        cmocka_unit_test(long_key_and_big_page),
        cmocka_unit_test(error_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
