/* test_proxy_config_reference.c - the proxy's section of the configuration reference
 * (nes_proxy_config_reference) against its loader: every setting --check-config prints is a
 * row, and the numeric defaults loaded are the ones shown (per mode where they differ). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/config.h"

static char *reference(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(nes_proxy_config_reference(f), 0);
    fclose(f);
    return text;
}

/* The part of the reference from `### heading` to the next heading. */
static char *section(const char *ref, const char *heading)
{
    const char *s = strstr(ref, heading);
    assert_non_null(s);
    const char *e = strstr(s + 1, "\n### ");
    return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

static void defaults_per_mode(void **state)
{
    (void)state;
    char *ref = reference();
    static const struct {
        nes_proxy_mode mode;
        char *env[3];
        const char *group;
    } modes[] = {
        {NES_PROXY_INGRESS, {"ENCLAVE_CID=16", "MAIN_APP_ADDR=127.0.0.1:1"}, "### ingress"},
        {NES_PROXY_EGRESS, {"UPSTREAM=127.0.0.1:1", NULL}, "### egress"},
    };
    for (size_t m = 0; m < 2; m++) {
        nes_proxy_config c;
        nes_proxy_problems pr;
        assert_int_equal(nes_proxy_config_load(&c, modes[m].mode, modes[m].env, &pr), 0);
        char *both = section(ref, "### Both modes"), *own = section(ref, modes[m].group);
        char *logs = section(ref, "### Logs and telemetry");
        char *eg = section(ref, "### egress");
        const struct {
            const char *where, *name;
            unsigned long got;
        } rows[] = {
            {both, "WORKER_THREADS", c.threads},
            {both, "MAX_CONNECTIONS", c.max_conns},
            {both, "IDLE_TIMEOUT_SECS", c.idle_secs},
            {both, "CONNECT_TIMEOUT_SECS", c.connect_secs},
            {both, "SHUTDOWN_GRACE_SECS", c.grace_secs},
            {both, "RELAY_BUFFER_BYTES", c.buf_bytes},
            {both, "BUSY_POLL_US", c.busy_poll_us},
            {eg, "HEAD_MAX_BYTES", c.head_max},
            {eg, "HEAD_TIMEOUT_SECS", c.head_secs},
            {own, "LISTEN_PORT",
             modes[m].mode == NES_PROXY_INGRESS ? c.listen.port : c.listen.vport},
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
            char want[128];
            snprintf(want, sizeof(want), "| `%s` | integer | `%lu` |", rows[i].name, rows[i].got);
            if (strstr(rows[i].where, want) == NULL)
                fail_msg("mode %zu: %s loads %lu, not what the reference shows", m, rows[i].name,
                         rows[i].got);
        }
        assert_int_equal(c.log_level, NES_LOG_INFO);
        assert_non_null(strstr(logs, "| `LOG_LEVEL` | level | `info` |"));
        free(both);
        free(own);
        free(eg);
        free(logs);
        nes_proxy_config_free(&c);
    }
    free(ref);
}

/* Every NAME the --check-config print shows is a row (MODE is the argument, not a setting). */
static void every_printed_setting_is_a_row(void **state)
{
    (void)state;
    char *ref = reference();
    char *env[] = {"ALLOWLIST=/nonexistent", NULL};
    nes_proxy_config c;
    nes_proxy_problems pr;
    nes_proxy_config_load(&c, NES_PROXY_EGRESS, env, &pr);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    nes_proxy_config_print(&c, f);
    fclose(f);
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        if (eq == NULL || strncmp(line, "MODE=", 5) == 0)
            continue;
        *eq = '\0';
        char want[96];
        snprintf(want, sizeof(want), "| `%s` |", line);
        if (strstr(ref, want) == NULL)
            fail_msg("%s is printed but has no row", line);
        n++;
    }
    assert_true(n >= 10);
    free(text);
    nes_proxy_config_free(&c);
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_per_mode),
        cmocka_unit_test(every_printed_setting_is_a_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
