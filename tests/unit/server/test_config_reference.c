/* test_config_reference.c - the service's section of the configuration reference
 * (nes_config_reference) against its loader: every setting --check-config prints is a row, and
 * each default it loads is the default the row shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "enclave/config.h"

/* What `fn` writes to a FILE, into *text (malloc'd); fn's result. */
static int capture(int (*fn)(FILE *), char **text, size_t *len)
{
    FILE *f = open_memstream(text, len);
    assert_non_null(f);
    int rc = fn(f);
    fclose(f);
    return rc;
}

static int print_loaded(FILE *f)
{
    char *env[] = {"PATH=/bin", NULL};
    nes_config c;
    nes_config_problems p;
    int rc = nes_config_load(&c, true, env, NULL, 2, &p);
    if (rc == 0)
        nes_config_print(&c, f);
    nes_config_free(&c);
    return rc;
}

/* The row of `name` ("| `NAME` | ..."), NUL-terminated in `row`, or NULL. */
static const char *row_of(const char *ref, const char *name, char *row, size_t len)
{
    char key[96];
    snprintf(key, sizeof(key), "\n| `%s` |", name);
    const char *r = strstr(ref, key);
    if (r == NULL)
        return NULL;
    const char *e = strchr(r + 1, '\n');
    snprintf(row, len, "%.*s", (int)(e - r - 1), r + 1);
    return row;
}

static void every_setting_has_a_row_and_its_default(void **state)
{
    (void)state;
    char *ref = NULL, *eff = NULL;
    size_t rlen = 0, elen = 0;
    assert_int_equal(capture(nes_config_reference, &ref, &rlen), 0);
    assert_int_equal(capture(print_loaded, &eff, &elen), 0);
    size_t rows = 0, defaults = 0;
    for (char *line = strtok(eff, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        if (line[0] == '#' || eq == NULL)
            continue;
        *eq = '\0';
        char row[2048];
        if (row_of(ref, line, row, sizeof(row)) == NULL)
            fail_msg("%s is loaded but has no row in the reference", line);
        rows++;
        char *value = eq + 1, *src = strstr(value, "  # default");
        if (src == NULL || strncmp(line, "AWS_", 4) == 0)
            continue;
        *src = '\0';
        char want[1024];
        snprintf(want, sizeof(want), "| `%s` |", value);
        if (strstr(row, want) != NULL)
            defaults++;
        else if (strcmp(line, "LISTEN") != 0 && strcmp(line, "WORKER_THREADS") != 0 &&
                 strcmp(line, "LOCAL_KEY_FILE") != 0) /* derived: described in words */
            fail_msg("%s: loaded default %s, reference row %s", line, value, row);
    }
    assert_true(rows >= 60);
    assert_true(defaults >= 25);
    free(eff);
    free(ref);
}

static void groups_and_shared_rows(void **state)
{
    (void)state;
    char *ref = NULL;
    size_t rlen = 0;
    assert_int_equal(capture(nes_config_reference, &ref, &rlen), 0);
    static const char *const want[] = {
        "## `nitro-enc-svc`",
        "### TLS\n",
        "### AWS (endpoints, egress, credentials)\n",
        "### Logs and telemetry\n",
        "| `AWS_MAX_ATTEMPTS` | integer | `4` | 1 to 20 |", /* the AWS layer's row */
        "| `OTEL_BSP_MAX_QUEUE_SIZE` | integer | `2048` |", /* the exporter's row */
        "| `MAX_BODY_BYTES` | size | `1048576` | 1 KiB to 256 MiB |",
        "| `PROXY_PROTOCOL` | on/off | `off` | on, off",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(ref, want[i]) == NULL)
            fail_msg("missing: %s", want[i]);
    /* the OTLP endpoint is the service's own row (required outside local mode), once */
    const char *first = strstr(ref, "| `OTEL_EXPORTER_OTLP_ENDPOINT` |");
    assert_non_null(first);
    assert_null(strstr(first + 1, "| `OTEL_EXPORTER_OTLP_ENDPOINT` |"));
    assert_non_null(strstr(first, "required outside local mode"));
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_setting_has_a_row_and_its_default),
        cmocka_unit_test(groups_and_shared_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
