/* test_aws_misc.c - the AWS layer's configuration, JSON 1.1 helpers and error-body reading, as
 * tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws/awsjson.h"
#include "aws/http.h"

static const char *table_lookup(void *ud, const char *name)
{
    const char *const *kv = ud;
    for (size_t i = 0; kv[i] != NULL; i += 2)
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}

static void config_table(void **state)
{
    (void)state;
    static const struct {
        const char *kv[12];
        const char *problem;
        const char *kms, *s3;
        int egress;
    } cases[] = {
        {{"AWS_REGION", "eu-west-1", NULL},
         NULL,
         "https://kms.eu-west-1.amazonaws.com",
         "https://s3.eu-west-1.amazonaws.com",
         NES_EGRESS_DIRECT},
        {{"AWS_DEFAULT_REGION", "us-east-2", "AWS_ENDPOINT_URL", "http://127.0.0.1:4566/", NULL},
         NULL,
         "http://127.0.0.1:4566",
         "http://127.0.0.1:4566",
         NES_EGRESS_DIRECT},
        {{"AWS_REGION", "r1", "AWS_ENDPOINT_URL", "http://a:1", "AWS_ENDPOINT_URL_S3",
          "https://s3.local/base", NULL},
         NULL,
         "http://a:1",
         "https://s3.local/base",
         NES_EGRESS_DIRECT},
        {{"AWS_REGION", "r1", "AWS_EGRESS", "tcp://10.0.0.1:3128", NULL},
         NULL,
         NULL,
         NULL,
         NES_EGRESS_PROXY},
        {{"AWS_REGION", "r1", "AWS_EGRESS", "vsock://3:8000", NULL},
         NULL,
         NULL,
         NULL,
         NES_EGRESS_VSOCK},
        {{"AWS_REGION", "r1", "VSOCK_PROXY_CID", "3", "VSOCK_PROXY_PORT", "9000", NULL},
         NULL,
         NULL,
         NULL,
         NES_EGRESS_VSOCK},
        {{NULL}, "AWS_REGION: required", NULL, NULL, 0},
        {{"AWS_REGION", "Bad Region", NULL}, "AWS_REGION: must be", NULL, NULL, 0},
        {{"AWS_REGION", "r", "AWS_ENDPOINT_URL_KMS", "kms.local", NULL},
         "AWS_ENDPOINT_URL_KMS",
         NULL,
         NULL,
         0},
        {{"AWS_REGION", "r", "AWS_EGRESS", "udp://x", NULL}, "AWS_EGRESS", NULL, NULL, 0},
        {{"AWS_REGION", "r", "AWS_ACCESS_KEY_ID", "a", NULL}, "set both or neither", NULL, NULL, 0},
        {{"AWS_REGION", "r", "AWS_CONNECT_TIMEOUT_MS", "5", NULL},
         "AWS_CONNECT_TIMEOUT_MS",
         NULL,
         NULL,
         0},
        {{"AWS_REGION", "r", "VSOCK_PROXY_CID", "x", NULL}, "VSOCK_PROXY_CID", NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_aws_config cfg;
        char why[256] = "";
        int rc = nes_aws_config_load(&cfg, table_lookup, (void *)(uintptr_t)cases[i].kv, why,
                                     sizeof(why));
        if (cases[i].problem != NULL) {
            if (rc != -1 || strstr(why, cases[i].problem) == NULL)
                fail_msg("case %zu: rc %d why '%s'", i, rc, why);
            continue;
        }
        if (rc != 0)
            fail_msg("case %zu: %s", i, why);
        if (cases[i].kms)
            assert_string_equal(cfg.endpoint[NES_AWS_KMS], cases[i].kms);
        if (cases[i].s3)
            assert_string_equal(cfg.endpoint[NES_AWS_S3], cases[i].s3);
        assert_int_equal(cfg.egress, cases[i].egress);
        assert_false(cfg.have_static_creds);
        assert_int_equal(cfg.max_attempts, 4);
        nes_aws_config_clear(&cfg);
    }
    const char *kv[] = {"AWS_REGION",
                        "r",
                        "AWS_ACCESS_KEY_ID",
                        "AK",
                        "AWS_SECRET_ACCESS_KEY",
                        "SK",
                        "AWS_SESSION_TOKEN",
                        "T",
                        "AWS_EGRESS",
                        "vsock://3:8000",
                        NULL};
    nes_aws_config cfg;
    char why[256];
    assert_int_equal(
        nes_aws_config_load(&cfg, table_lookup, (void *)(uintptr_t)kv, why, sizeof(why)), 0);
    assert_true(cfg.have_static_creds);
    assert_string_equal(cfg.creds.session_token, "T");
    assert_int_equal(cfg.vsock_cid, 3);
    assert_int_equal(cfg.vsock_port, 8000);
    assert_int_equal(nes_aws_config_set_bridge(&cfg, "@nes-egress"), 0);
    assert_string_equal(cfg.bridge_path, "@nes-egress");
    char longp[200];
    memset(longp, 'p', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(nes_aws_config_set_bridge(&cfg, longp), -1);
    nes_aws_config_clear(&cfg);
    assert_string_equal(cfg.creds.secret_key, "");
    assert_string_equal(nes_aws_service_name(NES_AWS_SECRETS), "secretsmanager");
    assert_string_equal(nes_aws_errkind_name(NES_AWS_ERR_LIMIT), "limit");
    assert_non_null(nes_aws_config_vars[0]);
}

static void json_members(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *name;
        int rc;
        const char *value;
    } cases[] = {
        {"{\"a\":\"x\",\"b\":\"y\"}", "b", 1, "y"},
        {"{\"a\":{\"b\":\"nested\"},\"b\":\"top\"}", "b", 1, "top"},
        {"{\"a\":[1,2,{\"b\":3}]}", "b", 0, NULL},
        {"{\"b\":null}", "b", 0, NULL},
        {"{\"b\":5}", "b", -1, NULL},
        {"{\"\\u0062\":\"esc\\n\"}", "b", 1, "esc\n"},
        {"{\"b\":\"x\",}", "b", -1, NULL},
        {"[\"b\"]", "b", -1, NULL},
        {"{\"b\":\"x\"} trailing", "b", -1, NULL},
        {"{\"a\":\"x\"} trailing", "b", -1, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_buf out = {0};
        int rc = nes_awsjson_string((const uint8_t *)cases[i].doc, strlen(cases[i].doc),
                                    cases[i].name, &out);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d", i, rc);
        if (rc == 1) {
            assert_int_equal(out.len, strlen(cases[i].value));
            assert_memory_equal(out.data, cases[i].value, out.len);
        }
        nes_buf_free(&out);
    }
    nes_buf b = {0};
    const char *d = "{\"P\":\"AAEC\",\"Q\":\"AAE\",\"R\":\"\"}";
    assert_int_equal(nes_awsjson_b64((const uint8_t *)d, strlen(d), "P", &b), 1);
    assert_int_equal(b.len, 3);
    assert_int_equal(nes_awsjson_b64((const uint8_t *)d, strlen(d), "Q", &b), -1);
    nes_buf_free(&b);

    nes_buf w = {0};
    assert_int_equal(nes_buf_append(&w, "{", 1), 0);
    assert_int_equal(nes_awsjson_put_str(&w, "K", "a\"b"), 0);
    assert_int_equal(nes_awsjson_put_b64(&w, "B", (const uint8_t *)"\x00\x01\x02", 3), 0);
    assert_int_equal(nes_awsjson_put_raw(&w, "C", "{\"x\":\"y\"}"), 0);
    assert_int_equal(nes_buf_append(&w, "}", 1), 0);
    assert_int_equal(w.len, strlen("{\"K\":\"a\\\"b\",\"B\":\"AAEC\",\"C\":{\"x\":\"y\"}}"));
    assert_memory_equal(w.data, "{\"K\":\"a\\\"b\",\"B\":\"AAEC\",\"C\":{\"x\":\"y\"}}", w.len);
    nes_buf_free(&w);

    assert_true(nes_awsjson_is_string_map("{\"a\":\"b\",\"c\":\"d\"}"));
    assert_true(nes_awsjson_is_string_map("{}"));
    assert_false(nes_awsjson_is_string_map("{\"a\":1}"));
    assert_false(nes_awsjson_is_string_map("{\"a\":{\"b\":\"c\"}}"));
    assert_false(nes_awsjson_is_string_map("[]"));
}

static void error_bodies(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        long status;
        const char *code, *message;
    } cases[] = {
        {"{\"__type\":\"com.amazonaws.kms#NotFoundException\",\"message\":\"Key gone\"}", 400,
         "NotFoundException", "Key gone"},
        {"{\"__type\":\"ThrottlingException\",\"Message\":\"Rate\"}", 400, "ThrottlingException",
         "Rate"},
        {"{\"code\":\"X:http://internal\",\"message\":\"m\"}", 400, "X", "m"},
        {"<Error><Code>SlowDown</Code><Message>Reduce</Message></Error>", 503, "SlowDown",
         "Reduce"},
        {"<html>Bad gateway</html>", 502, "HTTP502", "HTTP 502 with a non-JSON, non-XML body"},
        {"", 403, "HTTP403", "HTTP 403 with a empty body"},
        {"{broken", 400, "HTTP400", "HTTP 400 with a non-JSON"},
        {"{\"__type\":\"E\"}", 400, "E", "AWS error without a message"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_aws_error e = {0};
        nes_aws_parse_error((const uint8_t *)cases[i].body, strlen(cases[i].body), cases[i].status,
                            &e);
        if (strcmp(e.code, cases[i].code) != 0 || strstr(e.message, cases[i].message) == NULL)
            fail_msg("case %zu: %s / %s", i, e.code, e.message);
    }
    char out[8];
    nes_aws_sanitise("a\x01\xff"
                     "bcdefghij",
                     11, out, sizeof(out));
    assert_string_equal(out, "a??bcde");
    assert_true(nes_aws_bucket_dns_ok("my-bucket-1"));
    assert_false(nes_aws_bucket_dns_ok("my.bucket"));
    assert_false(nes_aws_bucket_dns_ok("ab"));
    assert_false(nes_aws_bucket_dns_ok("-ab"));
    assert_false(nes_aws_bucket_dns_ok("Upper"));
    nes_aws_error e;
    assert_int_equal(nes_aws_fail(&e, NES_AWS_ERR_NET, "C", "n=%d", 5), -1);
    assert_int_equal(e.kind, NES_AWS_ERR_NET);
    assert_string_equal(e.message, "n=5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_table),
        cmocka_unit_test(json_members),
        cmocka_unit_test(error_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
