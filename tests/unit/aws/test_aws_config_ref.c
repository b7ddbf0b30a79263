/* test_aws_config_ref.c - the AWS_* rows of the configuration reference (aws/config_ref.h)
 * against nes_aws_config_load: the same names, the defaults it applies, the bounds it enforces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws/aws.h"
#include "aws/config_ref.h"

/* Settings for one load: AWS_REGION plus at most one more NAME=value. */
typedef struct one {
    const char *name, *value;
} one;

static const char *lookup(void *ud, const char *name)
{
    const one *o = ud;
    if (strcmp(name, "AWS_REGION") == 0)
        return "eu-west-1";
    return (o->name != NULL && strcmp(name, o->name) == 0) ? o->value : NULL;
}

static int load(const char *name, const char *value, nes_aws_config *cfg)
{
    one o = {name, value};
    char why[256];
    return nes_aws_config_load(cfg, lookup, &o, why, sizeof(why));
}

static void same_names(void **state)
{
    (void)state;
    size_t n = 0;
    while (nes_aws_config_vars[n] != NULL) {
        assert_true(n < nes_aws_config_ref_n);
        assert_string_equal(nes_aws_config_ref[n].name, nes_aws_config_vars[n]);
        assert_ptr_equal(nes_aws_config_ref_find(nes_aws_config_vars[n]), &nes_aws_config_ref[n]);
        assert_non_null(nes_aws_config_ref[n].help);
        n++;
    }
    assert_int_equal(n, nes_aws_config_ref_n);
    assert_null(nes_aws_config_ref_find("NOT_A_SETTING"));
}

/* What an unset setting leaves in the configuration is the row's default. */
static void defaults_applied(void **state)
{
    (void)state;
    nes_aws_config cfg;
    assert_int_equal(load(NULL, NULL, &cfg), 0);
    static const struct {
        const char *name;
        size_t off;
    } nums[] = {
        {"AWS_CONNECT_TIMEOUT_MS", offsetof(nes_aws_config, connect_timeout_ms)},
        {"AWS_TIMEOUT_MS", offsetof(nes_aws_config, timeout_ms)},
        {"AWS_MAX_ATTEMPTS", offsetof(nes_aws_config, max_attempts)},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        const nes_cfgref_var *r = nes_aws_config_ref_find(nums[i].name);
        assert_non_null(r);
        assert_int_equal(strtoul(r->def, NULL, 10), *(unsigned *)((char *)&cfg + nums[i].off));
    }
    assert_string_equal(nes_aws_config_ref_find("AWS_EC2_METADATA_SERVICE_ENDPOINT")->def,
                        cfg.imds_endpoint);
    assert_string_equal(nes_aws_config_ref_find("AWS_EGRESS")->def, "direct");
    assert_int_equal(cfg.egress, NES_EGRESS_DIRECT);
    assert_string_equal(nes_aws_config_ref_find("AWS_EGRESS_MODE")->def, "connect");
    assert_false(cfg.egress_forward);
    assert_string_equal(cfg.endpoint[NES_AWS_KMS], "https://kms.eu-west-1.amazonaws.com");
    assert_true(nes_aws_config_ref_find("AWS_ENDPOINT_URL")->def_derived);
    nes_aws_config_clear(&cfg);
    /* VSOCK_PROXY_PORT's default goes with VSOCK_PROXY_CID */
    one o = {"VSOCK_PROXY_CID", "3"};
    char why[256];
    assert_int_equal(nes_aws_config_load(&cfg, lookup, &o, why, sizeof(why)), 0);
    assert_int_equal(cfg.vsock_port,
                     strtoul(nes_aws_config_ref_find("VSOCK_PROXY_PORT")->def, NULL, 10));
    nes_aws_config_clear(&cfg);
}

/* Every "MIN to MAX" row: MIN and MAX load, MIN-1 and MAX+1 are refused. */
static void ranges_enforced(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < nes_aws_config_ref_n; i++) {
        const nes_cfgref_var *r = &nes_aws_config_ref[i];
        unsigned long lo, hi;
        if (r->allowed == NULL || sscanf(r->allowed, "%lu to %lu", &lo, &hi) != 2)
            continue;
        if (strcmp(r->name, "VSOCK_PROXY_CID") == 0 || strcmp(r->name, "VSOCK_PROXY_PORT") == 0)
            continue; /* read only beside each other: below */
        char v[32];
        nes_aws_config cfg;
        snprintf(v, sizeof(v), "%lu", lo);
        assert_int_equal(load(r->name, v, &cfg), 0);
        nes_aws_config_clear(&cfg);
        snprintf(v, sizeof(v), "%lu", hi);
        assert_int_equal(load(r->name, v, &cfg), 0);
        nes_aws_config_clear(&cfg);
        snprintf(v, sizeof(v), "%lu", hi + 1);
        assert_int_equal(load(r->name, v, &cfg), -1);
        if (lo > 0) {
            snprintf(v, sizeof(v), "%lu", lo - 1);
            assert_int_equal(load(r->name, v, &cfg), -1);
        }
        checked++;
    }
    assert_int_equal(checked, 3);
}

/* The allowed values listed for AWS_EGRESS_MODE load; another word does not. */
static void values_enforced(void **state)
{
    (void)state;
    nes_aws_config cfg;
    assert_string_equal(nes_aws_config_ref_find("AWS_EGRESS_MODE")->allowed, "connect, forward");
    assert_int_equal(load("AWS_EGRESS_MODE", "connect", &cfg), 0);
    assert_int_equal(load("AWS_EGRESS_MODE", "forward", &cfg), 0);
    assert_true(cfg.egress_forward);
    assert_int_equal(load("AWS_EGRESS_MODE", "tunnel", &cfg), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_names),
        cmocka_unit_test(defaults_applied),
        cmocka_unit_test(ranges_enforced),
        cmocka_unit_test(values_enforced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
