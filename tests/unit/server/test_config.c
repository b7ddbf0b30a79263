/* test_config.c - defaults, environment, YAML overlay, validation lines, printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "enclave/config.h"

static bool has_problem(const nes_config_problems *p, const char *needle)
{
    for (int i = 0; i < p->n; i++)
        if (strstr(p->line[i], needle) != NULL)
            return true;
    return false;
}

static void local_defaults(void **state)
{
    (void)state;
    char *env[] = {"PATH=/bin", NULL};
    nes_config c;
    nes_config_problems p;
    assert_int_equal(nes_config_load(&c, true, env, NULL, 3, &p), 0);
    assert_string_equal(c.listen, "tcp://127.0.0.1:8443");
    assert_int_equal(c.listen_ep.kind, NES_EP_TCP);
    assert_int_equal(c.worker_threads, 3);
    assert_int_equal(c.max_body_bytes, 1048576);
    assert_int_equal(c.max_depth, 128);
    assert_string_equal(c.schema_header, "X-Schema-Name");
    assert_string_equal(c.local_schema_dir, "./schemas");
    assert_string_equal(c.local_key_file, "./.nitro-enc/dev.key");
    assert_int_equal(c.log_level, NES_LOG_INFO);
    assert_int_equal(c.shutdown_grace_secs, 20);
    assert_null(c.tls_cert);
    assert_int_equal(c.n_allowed_clients, 0);
    assert_false(c.unknown_fields_pass); /* fail closed by default */
    nes_config_free(&c);
}

static void unknown_fields_setting(void **state)
{
    (void)state;
    char *pass[] = {"UNKNOWN_FIELDS=pass", NULL};
    char *bad[] = {"UNKNOWN_FIELDS=sometimes", NULL};
    nes_config c;
    nes_config_problems p;
    assert_int_equal(nes_config_load(&c, true, pass, NULL, 2, &p), 0);
    assert_true(c.unknown_fields_pass);
    nes_config_free(&c);
    assert_int_equal(nes_config_load(&c, true, bad, NULL, 2, &p), -1);
    assert_true(has_problem(&p, "UNKNOWN_FIELDS: must be reject or pass"));
    nes_config_free(&c);
}

static void environment_wins_over_defaults(void **state)
{
    (void)state;
    char *env[] = {"LISTEN=unix:///tmp/s.sock", "MAX_BODY_BYTES=2MiB",
                   "WORKER_THREADS=4",          "LOG_LEVEL=debug",
                   "SCHEMA_HEADER_NAME=X-Spec", "LOCAL_STATE_DIR=/tmp/st",
                   "listen=ignored-lowercase",  "DECRYPT_ALLOWED_CLIENTS= a , b,,c ",
                   "TLS_CLIENT_CA=/dev/null",   NULL};
    nes_config c;
    nes_config_problems p;
    assert_int_equal(nes_config_load(&c, true, env, NULL, 2, &p), 0);
    assert_int_equal(c.listen_ep.kind, NES_EP_UNIX);
    assert_int_equal(c.max_body_bytes, 2 * 1048576);
    assert_int_equal(c.worker_threads, 4);
    assert_int_equal(c.log_level, NES_LOG_DEBUG);
    assert_string_equal(c.schema_header, "X-Spec");
    assert_string_equal(c.local_key_file, "/tmp/st/dev.key");
    assert_int_equal(c.n_allowed_clients, 3);
    assert_string_equal(c.allowed_client[0], "a");
    assert_string_equal(c.allowed_client[1], "b");
    assert_string_equal(c.allowed_client[2], "c");
    nes_config_free(&c);
}

static void one_line_per_problem(void **state)
{
    (void)state;
    char *env[] = {"LISTEN=tcp://nowhere",
                   "MAX_BODY_BYTES=lots",
                   "WORKER_THREADS=0",
                   "LOG_LEVEL=chatty",
                   "SCHEMA_HEADER_NAME=bad header",
                   "DECRYPT_ALLOWED_CLIENTS=svc-a",
                   "TLS_CERT=/nonexistent/cert.pem",
                   "PKCS11_PIN=1234",
                   "PKCS11_PIN_FILE=/dev/null",
                   NULL};
    nes_config c;
    nes_config_problems p;
    assert_int_equal(nes_config_load(&c, true, env, NULL, 2, &p), -1);
    assert_true(has_problem(&p, "LISTEN: tcp endpoint: missing port"));
    assert_true(has_problem(&p, "MAX_BODY_BYTES: must be a size"));
    assert_true(has_problem(&p, "WORKER_THREADS: must be a whole number from 1 to 256"));
    assert_true(has_problem(&p, "LOG_LEVEL"));
    assert_true(has_problem(&p, "SCHEMA_HEADER_NAME"));
    assert_true(has_problem(&p, "TLS_CLIENT_CA: required when DECRYPT_ALLOWED_CLIENTS"));
    assert_true(has_problem(&p, "TLS_CERT and TLS_KEY: set both or neither"));
    assert_true(has_problem(&p, "TLS_CERT: cannot read '/nonexistent/cert.pem'"));
    assert_true(has_problem(&p, "PKCS11_PIN and PKCS11_PIN_FILE"));
    for (int i = 0; i < p.n; i++)
        assert_null(strstr(p.line[i], "1234")); /* a secret is never echoed */
    nes_config_free(&c);
}

static void enclave_mode_requires_aws(void **state)
{
    (void)state;
    char *env[] = {NULL};
    nes_config c;
    nes_config_problems p;
    assert_int_equal(nes_config_load(&c, false, env, NULL, 2, &p), -1);
    assert_true(has_problem(&p, "SECRET_ARN: required"));
    assert_true(has_problem(&p, "KMS_KEY_ID: required"));
    assert_true(has_problem(&p, "S3_BUCKET: required"));
    assert_true(has_problem(&p, "VSOCK_PROXY_CID: required"));
    assert_true(has_problem(&p, "OTEL_EXPORTER_OTLP_ENDPOINT: required"));
    assert_true(has_problem(&p, "TLS_KEY: required"));
    assert_string_equal(c.listen, "vsock://any:443");
    nes_config_free(&c);

    char *env2[] = {"SECRET_ARN=arn:x",
                    "KMS_KEY_ID=k",
                    "S3_BUCKET=b",
                    "VSOCK_PROXY_CID=3",
                    "OTEL_EXPORTER_OTLP_ENDPOINT=vsock://3:4318",
                    "TLS_CERT=/dev/null",
                    "TLS_KEY=pkcs11:token=t;object=k;pin-value=9999",
                    "TLS_PORT=8443",
                    "AWS_REGION=eu-west-1",
                    NULL};
    assert_int_equal(nes_config_load(&c, false, env2, NULL, 2, &p), 0);
    assert_string_equal(c.listen, "vsock://any:8443");
    assert_int_equal(c.vsock_proxy_cid, 3);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    nes_config_print(&c, f);
    fclose(f);
    assert_null(strstr(buf, "9999"));
    assert_non_null(strstr(buf, "TLS_KEY=pkcs11:token=t;object=k;pin-value=<redacted>"));
    assert_non_null(strstr(buf, "SECRET_ARN=arn:x  # environment"));
    assert_non_null(strstr(buf, "MAX_BODY_BYTES=1048576  # default"));
    free(buf);
    nes_config_free(&c);
}

/* The AWS block: validated through aws.h outside local mode, secrets redacted, region taken
 * from an ARN when AWS_REGION is unset, AWS_EGRESS standing in for VSOCK_PROXY_CID. */
static void aws_settings(void **state)
{
    (void)state;
    static const struct {
        const char *extra[3];
        const char *problem; /* NULL: valid */
    } cases[] = {
        {{"AWS_REGION=us-east-1", "VSOCK_PROXY_CID=3", NULL}, NULL},
        {{"VSOCK_PROXY_CID=3", NULL}, NULL}, /* region from SECRET_ARN */
        {{"AWS_EGRESS=tcp://10.0.0.1:3128", NULL}, NULL},
        {{"AWS_EGRESS=vsock://3:8000", "AWS_EGRESS_MODE=forward", NULL}, NULL},
        {{NULL}, "VSOCK_PROXY_CID: required (or set AWS_EGRESS"},
        {{"AWS_EGRESS=unix:///x", NULL}, "AWS_EGRESS: must be direct"},
        {{"VSOCK_PROXY_CID=3", "AWS_ENDPOINT_URL=ftp://h", NULL}, "AWS_ENDPOINT_URL: must be"},
        {{"VSOCK_PROXY_CID=3", "AWS_TIMEOUT_MS=x", NULL}, "AWS_TIMEOUT_MS: must be"},
        {{"VSOCK_PROXY_CID=3", "AWS_SECRET_ACCESS_KEY=s3cr3t", NULL}, "set both or neither"},
        {{"VSOCK_PROXY_CID=3", "SCHEMA_MAX_BYTES=1", NULL}, "SCHEMA_MAX_BYTES: must be a size"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *env[16] = {"SECRET_ARN=arn:aws:secretsmanager:ap-south-1:1:secret:x",
                         "KMS_KEY_ID=k",
                         "S3_BUCKET=b",
                         "OTEL_EXPORTER_OTLP_ENDPOINT=vsock://3:4318",
                         "TLS_CERT=/dev/null",
                         "TLS_KEY=/dev/null"};
        size_t n = 6;
        for (size_t k = 0; k < 3 && cases[i].extra[k] != NULL; k++)
            env[n++] = (char *)(uintptr_t)cases[i].extra[k];
        env[n] = NULL;
        nes_config c;
        nes_config_problems p;
        int rc = nes_config_load(&c, false, env, NULL, 2, &p);
        if (cases[i].problem == NULL) {
            if (rc != 0)
                fail_msg("case %zu: %s", i, p.n ? p.line[0] : "?");
            nes_aws_config aws;
            char why[256];
            assert_int_equal(nes_config_aws(&c, &aws, why, sizeof(why)), 0);
            assert_string_equal(aws.region, i == 0 ? "us-east-1" : "ap-south-1");
            assert_int_equal(c.schema_max_bytes, 8u << 20);
            nes_aws_config_clear(&aws);
        } else {
            assert_int_equal(rc, -1);
            if (!has_problem(&p, cases[i].problem))
                fail_msg("case %zu: wanted '%s', got '%s'", i, cases[i].problem,
                         p.n ? p.line[0] : "");
            for (int k = 0; k < p.n; k++)
                assert_null(strstr(p.line[k], "s3cr3t"));
        }
        nes_config_free(&c);
    }
    char *env[] = {"AWS_SECRET_ACCESS_KEY=s3cr3t", "AWS_ACCESS_KEY_ID=AKID",
                   "AWS_SESSION_TOKEN=t0k3n", NULL};
    nes_config c;
    nes_config_problems p;
    assert_int_equal(nes_config_load(&c, true, env, NULL, 2, &p), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    nes_config_print(&c, f);
    fclose(f);
    assert_null(strstr(buf, "s3cr3t"));
    assert_null(strstr(buf, "t0k3n"));
    assert_non_null(strstr(buf, "AWS_SECRET_ACCESS_KEY=<redacted>  # environment"));
    assert_non_null(strstr(buf, "AWS_ACCESS_KEY_ID=AKID  # environment"));
    assert_non_null(strstr(buf, "SCHEMA_MAX_BYTES=8388608  # default"));
    assert_string_equal(nes_config_raw(&c, "AWS_ACCESS_KEY_ID"), "AKID");
    assert_null(nes_config_raw(&c, "AWS_EGRESS"));
    free(buf);
    nes_config_free(&c);
}

static void yaml_overlay(void **state)
{
    (void)state;
    char path[] = "/tmp/nes-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *yaml = "MAX_DEPTH: 64\nlisten: tcp://127.0.0.1:9443\nPKCS11_PIN: \"4321\"\n";
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    char *env[] = {"MAX_DEPTH=32", "LISTEN=tcp://127.0.0.1:1", NULL};
    nes_config c;
    nes_config_problems p;
    assert_int_equal(nes_config_load(&c, true, env, path, 2, &p), 0);
    assert_int_equal(c.max_depth, 64); /* the file overlays the environment */
    assert_string_equal(c.listen, "tcp://127.0.0.1:9443");
    assert_string_equal(c.pkcs11_pin, "4321");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    nes_config_print(&c, f);
    fclose(f);
    assert_null(strstr(buf, "4321"));
    assert_non_null(strstr(buf, "PKCS11_PIN=<redacted>  # config file"));
    assert_non_null(strstr(buf, "MAX_DEPTH=64  # config file"));
    free(buf);
    nes_config_free(&c);

    fd = open(path, O_WRONLY | O_TRUNC);
    const char *bad = "NOPE: 1\nMAX_DEPTH: [1, 2]\n";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    assert_int_equal(nes_config_load(&c, true, env, path, 2, &p), -1);
    assert_true(has_problem(&p, "unknown setting 'NOPE'"));
    assert_true(has_problem(&p, "MAX_DEPTH (from"));
    nes_config_free(&c);

    fd = open(path, O_WRONLY | O_TRUNC);
    const char *list = "- a\n- b\n";
    assert_int_equal(write(fd, list, strlen(list)), (ssize_t)strlen(list));
    close(fd);
    assert_int_equal(nes_config_load(&c, true, env, path, 2, &p), -1);
    assert_true(has_problem(&p, "top level must be a mapping"));
    nes_config_free(&c);

    /* refused with the reason: bytes that are not UTF-8 (libfyaml 0.7.12 can loop on them), and
     * the input that made libfyaml 0.7.12's tree builder crash the process */
    static const struct {
        const char *text, *problem;
    } refused[] = {{"MAX_DEPTH: \xff\n", "not UTF-8 text"},
                   {"? f:\t-", ":1: not valid YAML (cannot use tab"}};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        fd = open(path, O_WRONLY | O_TRUNC);
        assert_int_equal(write(fd, refused[i].text, strlen(refused[i].text)),
                         (ssize_t)strlen(refused[i].text));
        close(fd);
        assert_int_equal(nes_config_load(&c, true, env, path, 2, &p), -1);
        assert_true(has_problem(&p, refused[i].problem));
        nes_config_free(&c);
    }

    /* an alias stands for its anchor's scalar */
    fd = open(path, O_WRONLY | O_TRUNC);
    const char *alias = "MAX_DEPTH: &d 48\nMAX_CONNECTIONS: *d\n";
    assert_int_equal(write(fd, alias, strlen(alias)), (ssize_t)strlen(alias));
    close(fd);
    assert_int_equal(nes_config_load(&c, true, env, path, 2, &p), 0);
    assert_int_equal(c.max_depth, 48);
    assert_int_equal(c.max_connections, 48);
    nes_config_free(&c);
    unlink(path);

    assert_int_equal(nes_config_load(&c, true, env, "/nonexistent.yaml", 2, &p), -1);
    assert_true(has_problem(&p, "cannot be read"));
    nes_config_free(&c);
}

/* proxy mode's switches: on/off words, the timeout, a bad word is one problem line */
static void proxy_mode_settings(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int rc;
        bool on;
    } cases[] = {
        {"on", 0, true},  {"ON", 0, true},      {"true", 0, true},   {"1", 0, true},
        {"yes", 0, true}, {"off", 0, false},    {"false", 0, false}, {"0", 0, false},
        {"no", 0, false}, {"maybe", -1, false}, {"", -1, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char pp[64];
        snprintf(pp, sizeof(pp), "PROXY_PROTOCOL=%s", cases[i].value);
        char *env[] = {pp, "PROXY_PASS_UNMATCHED=on", "UPSTREAM_TIMEOUT_SECS=7", NULL};
        nes_config c;
        nes_config_problems p;
        int rc = nes_config_load(&c, true, env, NULL, 2, &p);
        if (rc != cases[i].rc)
            fail_msg("case %zu ('%s'): rc %d", i, cases[i].value, rc);
        if (rc == 0) {
            assert_int_equal(c.proxy_protocol, cases[i].on);
            assert_true(c.proxy_pass_unmatched);
            assert_int_equal(c.upstream_timeout_secs, 7);
        } else {
            assert_true(has_problem(&p, "PROXY_PROTOCOL: must be on or off"));
        }
        nes_config_free(&c);
    }
    char *env[] = {"PATH=/bin", NULL};
    nes_config c;
    nes_config_problems p;
    assert_int_equal(nes_config_load(&c, true, env, NULL, 2, &p), 0);
    assert_false(c.proxy_protocol);
    assert_false(c.proxy_pass_unmatched);
    assert_int_equal(c.upstream_timeout_secs, 30);
    assert_string_equal(c.proxy_return_allow, "peer"); /* the default */
    assert_int_equal(c.return_allow.n, 2);
    nes_config_free(&c);
}

/* PROXY_RETURN_ALLOW: parsed at load; a bad list is one problem line naming the setting */
static void proxy_return_allow_setting(void **state)
{
    (void)state;
    char *good[] = {"PROXY_RETURN_ALLOW=vsock://3:5000, tcp://10.0.0.5:*", NULL};
    nes_config c;
    nes_config_problems p;
    assert_int_equal(nes_config_load(&c, true, good, NULL, 2, &p), 0);
    assert_int_equal(c.return_allow.n, 2);
    assert_true(c.return_allow.e[1].any_port);
    nes_config_free(&c);
    char *bad[] = {"PROXY_RETURN_ALLOW=tcp://app.internal:80", NULL};
    assert_int_equal(nes_config_load(&c, true, bad, NULL, 2, &p), -1);
    assert_true(has_problem(&p, "PROXY_RETURN_ALLOW: a tcp entry needs an address"));
    nes_config_free(&c);
}

static void sizes_and_redaction(void **state)
{
    (void)state;
    size_t n;
    assert_int_equal(nes_config_parse_size("1024", &n), 0);
    assert_int_equal(n, 1024);
    assert_int_equal(nes_config_parse_size("64k", &n), 0);
    assert_int_equal(n, 65536);
    assert_int_equal(nes_config_parse_size("1MiB", &n), 0);
    assert_int_equal(n, 1048576);
    assert_int_equal(nes_config_parse_size("2G", &n), 0);
    assert_int_equal(n, (size_t)2 << 30);
    assert_int_equal(nes_config_parse_size("-1", &n), -1);
    assert_int_equal(nes_config_parse_size("1 MB", &n), -1);
    assert_int_equal(nes_config_parse_size("", &n), -1);
    assert_int_equal(nes_config_parse_size("99999999999999999999", &n), -1);

    char out[128];
    nes_config_redact_uri("pkcs11:token=a;pin-value=secret;object=k", out, sizeof(out));
    assert_string_equal(out, "pkcs11:token=a;pin-value=<redacted>;object=k");
    nes_config_redact_uri("pkcs11:token=a?pin-source=/etc/pin&module-name=x", out, sizeof(out));
    assert_string_equal(out, "pkcs11:token=a?pin-source=<redacted>&module-name=x");
    nes_config_redact_uri("/etc/tls/key.pem", out, sizeof(out));
    assert_string_equal(out, "/etc/tls/key.pem");
    nes_config_redact_uri("pkcs11:pin-value=12345678", out, 12);
    assert_string_equal(out, "pkcs11:pin-");
}

/* The DEK provider and NSM block: defaults, checks, and nes_config_raw. */
static void dek_settings(void **state)
{
    (void)state;
    char *env[] = {"PATH=/bin", NULL};
    nes_config c;
    nes_config_problems p;
    assert_int_equal(nes_config_load(&c, true, env, NULL, 2, &p), 0);
    assert_string_equal(c.nsm_device, "/dev/nsm");
    assert_null(c.dek_context);
    assert_int_equal(c.allow_plaintext_dek, 0);
    assert_int_equal(c.dek_retry_max_secs, 60);
    assert_int_equal(c.dek_keep_previous, 1);
    assert_string_equal(nes_config_raw(&c, "NSM_DEVICE"), "/dev/nsm");
    assert_null(nes_config_raw(&c, "DEK_ENCRYPTION_CONTEXT"));
    assert_null(nes_config_raw(&c, "NOT_A_SETTING"));
    nes_config_free(&c);

    char *good[] = {"NSM_DEVICE=test:/tmp/ca", "DEK_ENCRYPTION_CONTEXT={\"app\": \"nes\"}",
                    "ALLOW_PLAINTEXT_DEK=1", "DEK_RETRY_MAX_SECS=5", NULL};
    assert_int_equal(nes_config_load(&c, true, good, NULL, 2, &p), 0);
    assert_string_equal(c.nsm_device, "test:/tmp/ca");
    assert_string_equal(c.dek_context, "{\"app\": \"nes\"}");
    assert_int_equal(c.allow_plaintext_dek, 1);
    assert_int_equal(c.dek_retry_max_secs, 5);
    nes_config_free(&c);

    char *bad[] = {"NSM_DEVICE=test:", "DEK_ENCRYPTION_CONTEXT={\"n\": 1}", "ALLOW_PLAINTEXT_DEK=2",
                   "DEK_RETRY_MAX_SECS=0", NULL};
    assert_int_equal(nes_config_load(&c, true, bad, NULL, 2, &p), -1);
    assert_int_equal(p.n, 4);
    assert_true(has_problem(&p, "NSM_DEVICE: a device path (/dev/nsm) or test:DIR"));
    assert_true(has_problem(&p, "DEK_ENCRYPTION_CONTEXT: must be a JSON object of string values"));
    assert_true(has_problem(&p, "ALLOW_PLAINTEXT_DEK: must be a whole number from 0 to 1"));
    assert_true(has_problem(&p, "DEK_RETRY_MAX_SECS: must be a whole number from 1 to 3600"));
    nes_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(local_defaults),
        cmocka_unit_test(unknown_fields_setting),
        cmocka_unit_test(environment_wins_over_defaults),
        cmocka_unit_test(one_line_per_problem),
        cmocka_unit_test(enclave_mode_requires_aws),
        cmocka_unit_test(yaml_overlay),
        cmocka_unit_test(sizes_and_redaction),
        cmocka_unit_test(dek_settings),
        cmocka_unit_test(aws_settings),
        cmocka_unit_test(proxy_mode_settings),
        cmocka_unit_test(proxy_return_allow_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
