/* test_proxy_config.c - nitro-enc-proxy's configuration: defaults, overrides, and one problem
 * line per bad variable (a table of environments and the variables their problems name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy/config.h"

static void ingress_defaults_and_overrides(void **state)
{
    (void)state;
    nes_proxy_config c;
    nes_proxy_problems pr;
    char *env1[] = {"ENCLAVE_CID=16", "MAIN_APP_ADDR=127.0.0.1:8080", NULL};
    assert_int_equal(nes_proxy_config_load(&c, NES_PROXY_INGRESS, env1, &pr), 0);
    assert_int_equal(c.listen.kind, NES_EP_TCP);
    assert_int_equal(c.listen.port, 8443);
    assert_int_equal(c.enclave.kind, NES_EP_VSOCK);
    assert_int_equal(c.enclave.cid, 16);
    assert_int_equal(c.enclave.vport, 443);
    assert_int_equal(c.main_app.kind, NES_EP_TCP);
    assert_int_equal(c.main_app.port, 8080);
    assert_int_equal(c.ret_listen.kind, NES_EP_VSOCK);
    assert_int_equal(c.ret_listen.vport, 0);
    assert_int_equal(c.max_conns, 4096);
    assert_int_equal(c.idle_secs, 300);
    assert_int_equal(c.grace_secs, 20);
    assert_int_equal(c.buf_bytes, 65536);
    assert_int_equal(c.busy_poll_us, 0);
    assert_false(c.has_metrics);
    nes_proxy_config_free(&c);

    char *env2[] = {"LISTEN=unix:///run/in.sock",
                    "ENCLAVE=tcp://127.0.0.1:9443",
                    "ENCLAVE_CID=bogus-but-ignored",
                    "MAIN_APP_ADDR=unix:///run/app.sock",
                    "RETURN_LISTEN=tcp://127.0.0.1:0",
                    "RETURN_ADVERTISE=vsock://3:5001",
                    "METRICS_ADDR=127.0.0.1:9100",
                    "LOG_LEVEL=debug",
                    "WORKER_THREADS=3",
                    "BUSY_POLL_US=1000000",
                    NULL};
    assert_int_equal(nes_proxy_config_load(&c, NES_PROXY_INGRESS, env2, &pr), 0);
    assert_int_equal(c.listen.kind, NES_EP_UNIX);
    assert_int_equal(c.enclave.kind, NES_EP_TCP);
    assert_int_equal(c.main_app.kind, NES_EP_UNIX);
    assert_string_equal(c.ret_advertise, "vsock://3:5001");
    assert_true(c.has_metrics);
    assert_int_equal(c.metrics.port, 9100);
    assert_int_equal(c.log_level, NES_LOG_DEBUG);
    assert_int_equal(c.threads, 3);
    assert_int_equal(c.busy_poll_us, 1000000);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    nes_proxy_config_print(&c, f);
    fclose(f);
    assert_non_null(strstr(out, "ENCLAVE=tcp://127.0.0.1:9443\n"));
    assert_non_null(strstr(out, "RETURN_ADVERTISE=vsock://3:5001\n"));
    assert_non_null(strstr(out, "BUSY_POLL_US=1000000\n"));
    free(out);
    nes_proxy_config_free(&c);
}

static void egress_modes(void **state)
{
    (void)state;
    nes_proxy_config c;
    nes_proxy_problems pr;
    char *fixed[] = {"UPSTREAM=kms.eu-west-1.amazonaws.com:443", NULL};
    assert_int_equal(nes_proxy_config_load(&c, NES_PROXY_EGRESS, fixed, &pr), 0);
    assert_true(c.has_upstream);
    assert_int_equal(c.listen.kind, NES_EP_VSOCK);
    assert_int_equal(c.listen.vport, 8000);
    assert_string_equal(c.upstream.host, "kms.eu-west-1.amazonaws.com");
    nes_proxy_config_free(&c);

    char path[] = "/tmp/nes-allowXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char yaml[] = "allowlist:\n- {address: \"*.amazonaws.com\", port: 443}\n";
    assert_int_equal(write(fd, yaml, sizeof(yaml) - 1), (ssize_t)(sizeof(yaml) - 1));
    close(fd);
    char al[64];
    snprintf(al, sizeof(al), "ALLOWLIST=%s", path);
    char *connect[] = {al, "LISTEN=tcp://127.0.0.1:0", "HEAD_MAX_BYTES=4096", NULL};
    assert_int_equal(nes_proxy_config_load(&c, NES_PROXY_EGRESS, connect, &pr), 0);
    assert_false(c.has_upstream);
    assert_int_equal(c.allow.n, 1);
    assert_int_equal(c.head_max, 4096);
    nes_proxy_config_free(&c);
    unlink(path);
}

typedef struct bad_case {
    nes_proxy_mode mode;
    char *env[6];
    const char *names[4]; /* the variables the problem lines name, in order */
} bad_case;

static const bad_case bad[] = {
    {NES_PROXY_INGRESS, {NULL}, {"ENCLAVE_CID", "MAIN_APP_ADDR"}},
    {NES_PROXY_INGRESS,
     {"ENCLAVE_CID=-1", "MAIN_APP_ADDR=x", NULL},
     {"ENCLAVE_CID", "MAIN_APP_ADDR"}},
    {NES_PROXY_INGRESS,
     {"ENCLAVE=ftp://x", "MAIN_APP_ADDR=a:1", "LISTEN_PORT=70000", NULL},
     {"LISTEN_PORT", "ENCLAVE"}},
    {NES_PROXY_INGRESS,
     {"ENCLAVE_CID=3", "MAIN_APP_ADDR=a:1", "RETURN_ADVERTISE=nope", "LOG_LEVEL=loud", NULL},
     {"LOG_LEVEL", "RETURN_ADVERTISE"}},
    {NES_PROXY_EGRESS, {NULL}, {"UPSTREAM, ALLOWLIST"}},
    {NES_PROXY_EGRESS, {"UPSTREAM=a:1", "ALLOWLIST=/x", NULL}, {"UPSTREAM, ALLOWLIST"}},
    {NES_PROXY_EGRESS, {"ALLOWLIST=/nonexistent/allow.yaml", NULL}, {"ALLOWLIST"}},
    {NES_PROXY_EGRESS,
     {"UPSTREAM=a:1", "MAX_CONNECTIONS=0", "RELAY_BUFFER_BYTES=1", "METRICS_ADDR=tcp://", NULL},
     {"MAX_CONNECTIONS", "RELAY_BUFFER_BYTES", "METRICS_ADDR"}},
    {NES_PROXY_EGRESS,
     {"UPSTREAM=a:1", "IDLE_TIMEOUT_SECS=1x", "WORKER_THREADS=+2", NULL},
     {"WORKER_THREADS", "IDLE_TIMEOUT_SECS"}},
    {NES_PROXY_EGRESS, {"UPSTREAM=a:1", "BUSY_POLL_US=1000001", NULL}, {"BUSY_POLL_US"}},
    {NES_PROXY_INGRESS,
     {"ENCLAVE_CID=3", "MAIN_APP_ADDR=a:1", "BUSY_POLL_US=-1", NULL},
     {"BUSY_POLL_US"}},
};

static void problems_name_the_variable(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nes_proxy_config c;
        nes_proxy_problems pr;
        assert_int_equal(nes_proxy_config_load(&c, bad[i].mode, bad[i].env, &pr), -1);
        int want = 0;
        while (want < 4 && bad[i].names[want] != NULL)
            want++;
        if (pr.n != want)
            fail_msg("case %zu: %d problems, want %d (first: %s)", i, pr.n, want, pr.line[0]);
        for (int k = 0; k < want; k++)
            if (strncmp(pr.line[k], bad[i].names[k], strlen(bad[i].names[k])) != 0)
                fail_msg("case %zu: line %d is '%s', want it to name %s", i, k, pr.line[k],
                         bad[i].names[k]);
        nes_proxy_config_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ingress_defaults_and_overrides),
        cmocka_unit_test(egress_modes),
        cmocka_unit_test(problems_name_the_variable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
