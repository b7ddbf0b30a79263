/* test_otel_vars.c - the OTEL_* rows of the configuration reference (otel/vars.h) against
 * nes_otel_config_load: every name it reads is a row, the defaults are the ones it applies, the
 * numeric bounds are the ones it enforces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "obs/otel/export.h"
#include "obs/otel/vars.h"

typedef struct probe {
    const char *name, *value; /* the one setting given (NULL: none) */
    char seen[64][48];        /* names looked up */
    size_t nseen;
} probe;

static const char *lookup(void *ud, const char *name)
{
    probe *p = ud;
    if (p->nseen < 64)
        snprintf(p->seen[p->nseen++], sizeof(p->seen[0]), "%s", name);
    return (p->name != NULL && strcmp(p->name, name) == 0) ? p->value : NULL;
}

static const nes_cfgref_var *row(const char *name)
{
    for (size_t i = 0; i < nes_otel_vars_n; i++)
        if (strcmp(nes_otel_vars[i].name, name) == 0)
            return &nes_otel_vars[i];
    return NULL;
}

static int load(const char *name, const char *value, nes_otel_config *cfg)
{
    probe p = {.name = name, .value = value};
    char why[256];
    return nes_otel_config_load(cfg, "svc", lookup, &p, why, sizeof(why));
}

static void every_name_read_is_a_row(void **state)
{
    (void)state;
    nes_otel_config cfg;
    probe p = {0};
    char why[256];
    assert_int_equal(nes_otel_config_load(&cfg, "svc", lookup, &p, why, sizeof(why)), 0);
    assert_true(p.nseen >= 15);
    for (size_t i = 0; i < p.nseen; i++)
        if (row(p.seen[i]) == NULL)
            fail_msg("%s is read but has no row in otel/vars.c", p.seen[i]);
}

static void defaults_applied(void **state)
{
    (void)state;
    nes_otel_config cfg;
    assert_int_equal(load(NULL, NULL, &cfg), 0);
    static const char *const names[] = {
        "OTEL_EXPORTER_OTLP_TIMEOUT",     "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_METRIC_EXPORT_INTERVAL",    "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    };
    const unsigned long got[] = {cfg.timeout_ms, cfg.bsp_delay_ms, cfg.metric_interval_ms,
                                 cfg.max_queue, cfg.max_batch};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_non_null(row(names[i]));
        assert_int_equal(strtoul(row(names[i])->def, NULL, 10), got[i]);
    }
    assert_true(cfg.ratio == strtod(row("OTEL_TRACES_SAMPLER_ARG")->def, NULL));
    assert_false(cfg.enabled);
    assert_null(row("OTEL_EXPORTER_OTLP_ENDPOINT")->def); /* unset: no export */
    assert_string_equal(cfg.attrs[0].key, "service.name");
    assert_string_equal(cfg.attrs[0].value, "svc"); /* "the program's name" */
    assert_true(row("OTEL_SERVICE_NAME")->def_derived);
    /* the documented defaults of the word settings are accepted values */
    assert_int_equal(
        load("OTEL_EXPORTER_OTLP_PROTOCOL", row("OTEL_EXPORTER_OTLP_PROTOCOL")->def, &cfg), 0);
    assert_int_equal(load("OTEL_TRACES_SAMPLER", row("OTEL_TRACES_SAMPLER")->def, &cfg), 0);
    assert_int_equal(load("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", &cfg), -1);
}

/* Every integer "MIN to MAX" row: MIN and MAX load, MAX+1 (and MIN-1 when MIN > 0) do not. */
static void ranges_enforced(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < nes_otel_vars_n; i++) {
        const nes_cfgref_var *r = &nes_otel_vars[i];
        unsigned long lo, hi;
        if (strncmp(r->type, "integer", 7) != 0 || r->allowed == NULL ||
            sscanf(r->allowed, "%lu to %lu", &lo, &hi) != 2)
            continue;
        char v[32];
        nes_otel_config cfg;
        snprintf(v, sizeof(v), "%lu", lo);
        assert_int_equal(load(r->name, v, &cfg), 0);
        snprintf(v, sizeof(v), "%lu", hi);
        assert_int_equal(load(r->name, v, &cfg), 0);
        snprintf(v, sizeof(v), "%lu", hi + 1);
        if (load(r->name, v, &cfg) != -1)
            fail_msg("%s accepts %s", r->name, v);
        if (lo > 0) {
            snprintf(v, sizeof(v), "%lu", lo - 1);
            if (load(r->name, v, &cfg) != -1)
                fail_msg("%s accepts %s", r->name, v);
        }
        checked++;
    }
    assert_int_equal(checked, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_name_read_is_a_row),
        cmocka_unit_test(defaults_applied),
        cmocka_unit_test(ranges_enforced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
