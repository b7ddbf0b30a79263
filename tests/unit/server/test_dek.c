/* Unit tests: providers/dek.c without AWS peers - start and stop, the NSM refusal, counting
 * failed fetches (AWS on a closed loopback port refuses at once), the /readyz warning, waking
 * the thread, and the gauges. The full path runs against moto in test_enclave_dek.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "enclave/providers/dek.h"
#include "enclave/state.h"
#include "obs/log.h"

static const char *lookup(void *ud, const char *name)
{
    (void)ud;
    static const char *const kv[][2] = {
        {"AWS_REGION", "us-east-1"},
        {"AWS_ENDPOINT_URL", "http://127.0.0.1:1"}, /* nothing listens on port 1 */
        {"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
        {"AWS_SECRET_ACCESS_KEY", "secret"},
        {"AWS_MAX_ATTEMPTS", "1"},
        {"AWS_EGRESS", "direct"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (strcmp(kv[i][0], name) == 0)
            return kv[i][1];
    return NULL;
}

static void test_provider_without_peers(void **state)
{
    (void)state;
    nes_log_configure(NES_LOG_OFF, 2);
    char dir[] = "/tmp/nes-test-dek-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char dev[64];
    snprintf(dev, sizeof(dev), "test:%s/nsm", dir);

    nes_aws_config aws;
    char why[300];
    assert_int_equal(nes_aws_config_load(&aws, lookup, NULL, why, sizeof(why)), 0);
    assert_int_equal(nes_aws_global_init(), 0);
    nes_aws_credsrc *creds = nes_aws_credsrc_new(&aws);
    assert_non_null(creds);
    nes_dek_settings s = {.secret_id = "nes/dek",
                          .kms_key_id = "k",
                          .nsm_device = "/nonexistent/nsm",
                          .keep_previous = 1,
                          .rotation_secs = 3600,
                          .retry_max_secs = 1,
                          .aws = &aws,
                          .creds = creds};

    /* not started: no gauges, no warning; stop is harmless */
    nes_metrics_gauges g = {0};
    nes_dek_fill_gauges(&g);
    assert_int_equal(g.dek_provider, 0);
    assert_null(nes_dek_warning());
    nes_dek_stop();

    /* an NSM that cannot be opened stops the start with its reason */
    assert_int_equal(nes_dek_start(&s, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "cannot open /nonexistent/nsm"));
    nes_dek_stop();

    /* the test NSM: started, warned; every fetch fails fast and is counted, never published */
    s.nsm_device = dev;
    assert_int_equal(nes_dek_start(&s, why, sizeof(why)), 0);
    assert_non_null(strstr(nes_dek_warning(), "TEST NSM"));
    assert_false(nes_dek_wait_first(300));
    for (int i = 0; i < 100; i++) {
        memset(&g, 0, sizeof(g));
        nes_dek_fill_gauges(&g);
        if (g.dek_refresh_errors >= 2)
            break;
        nes_dek_refresh_soon();
        usleep(50000);
    }
    assert_int_equal(g.dek_provider, 1);
    assert_true(g.dek_refresh_errors >= 2);
    assert_int_equal(g.dek_refreshes, 0);
    assert_int_equal(g.dek_keys, 0);
    assert_int_equal(g.nsm_test, 1);
    const nes_snapshot *snap = nes_state_enter();
    assert_int_equal(nes_snapshot_keys_time(snap), 0);
    nes_state_leave();

    /* stop interrupts the backoff wait at once */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    nes_dek_stop();
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true(b.tv_sec - a.tv_sec < 3);
    assert_null(nes_dek_warning());

    nes_aws_credsrc_free(creds);
    nes_aws_config_clear(&aws);
    nes_aws_global_cleanup();
    nes_state_shutdown();
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provider_without_peers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
