/* test_metrics.c - counting on thread shards and the Prometheus text format. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "enclave/metrics.h"

static void *count_some(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        nes_metrics_request(NES_ROUTE_ENCRYPT, 200, 300, 10, 20);
    nes_metrics_fields(0, 6000);
    return NULL;
}

static void counts_across_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, count_some, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    nes_metrics_request(NES_ROUTE_READYZ, 503, 50, 0, 70);
    nes_metrics_request(NES_ROUTE_OTHER, 418, 2000000, 0, 0);
    nes_metrics_schema_lookup(1);
    nes_metrics_schema_lookup(0);
    nes_metrics_totals t0;
    nes_metrics_collect(&t0);
    assert_int_equal(t0.requests[NES_ROUTE_ENCRYPT][nes_metrics_status_index(200)], 4000);
    assert_int_equal(t0.requests[NES_ROUTE_READYZ][nes_metrics_status_index(503)], 1);
    assert_int_equal(t0.requests[NES_ROUTE_OTHER][NES_METRICS_NSTATUS - 1], 1);
    assert_int_equal(t0.fields_encrypted, 24000);
    assert_int_equal(t0.bytes_in, 40000);
    assert_int_equal(t0.schema_hits, 1);
    assert_int_equal(t0.schema_misses, 1);
    /* 300 us falls in the 300 us bucket (index 5); 2 s in the 2 s bucket */
    assert_int_equal(t0.latency_bucket[NES_ROUTE_ENCRYPT][5], 4000);
    assert_int_equal(t0.latency_bucket[NES_ROUTE_OTHER][nes_metrics_bucket_of(2000000)], 1);
}

static void formats_text(void **state)
{
    (void)state;
    nes_metrics_totals t;
    memset(&t, 0, sizeof(t));
    t.requests[NES_ROUTE_ENCRYPT][nes_metrics_status_index(200)] = 7;
    t.requests[NES_ROUTE_ENCRYPT][nes_metrics_status_index(413)] = 1;
    t.latency_bucket[NES_ROUTE_ENCRYPT][0] = 5;
    t.latency_bucket[NES_ROUTE_ENCRYPT][3] = 3;
    t.latency_sum_us[NES_ROUTE_ENCRYPT] = 2500;
    t.fields_encrypted = 42;
    nes_metrics_gauges g = {.open_connections = 3, .ready = 1, .dek_age_seconds = 12.5};
    nes_buf b = {0};
    assert_int_equal(nes_metrics_format(&t, &g, &b), 0);
    assert_int_equal(nes_buf_append(&b, "", 1), 0);
    const char *s = (const char *)b.data;
    assert_non_null(strstr(s, "nes_http_requests_total{route=\"encrypt\",status=\"200\"} 7\n"));
    assert_non_null(strstr(s, "nes_http_requests_total{route=\"encrypt\",status=\"413\"} 1\n"));
    assert_null(strstr(s, "route=\"decrypt\""));
    assert_non_null(strstr(s, "nes_http_request_duration_seconds_bucket{route=\"encrypt\","
                              "le=\"5e-05\"} 5\n"));
    assert_non_null(strstr(s, "nes_http_request_duration_seconds_bucket{route=\"encrypt\","
                              "le=\"0.0001\"} 5\n"));
    assert_non_null(strstr(s, "nes_http_request_duration_seconds_bucket{route=\"encrypt\","
                              "le=\"0.00015\"} 8\n"));
    assert_non_null(strstr(s, "le=\"+Inf\"} 8\n"));
    assert_non_null(
        strstr(s, "nes_http_request_duration_seconds_sum{route=\"encrypt\"} 0.002500\n"));
    assert_non_null(strstr(s, "nes_http_request_duration_seconds_count{route=\"encrypt\"} 8\n"));
    assert_non_null(
        strstr(s, "# TYPE nes_fields_encrypted_total counter\nnes_fields_encrypted_total 42\n"));
    assert_non_null(strstr(s, "nes_open_connections 3\n"));
    assert_non_null(strstr(s, "nes_ready 1\n"));
    assert_non_null(strstr(s, "nes_dek_age_seconds 12.5\n"));
    nes_buf_free(&b);

    g.dek_age_seconds = -1;
    assert_int_equal(nes_metrics_format(&t, &g, &b), 0);
    assert_int_equal(nes_buf_append(&b, "", 1), 0);
    assert_null(strstr((const char *)b.data, "nes_dek_age_seconds"));
    assert_null(strstr((const char *)b.data, "nes_dek_refresh")); /* local mode: no provider */
    nes_buf_free(&b);

    g.dek_provider = 1;
    g.dek_refreshes = 4;
    g.dek_refresh_errors = 2;
    g.dek_keys = 2;
    g.dek_attested = 1;
    g.nsm_test = 1;
    assert_int_equal(nes_metrics_format(&t, &g, &b), 0);
    assert_int_equal(nes_buf_append(&b, "", 1), 0);
    s = (const char *)b.data;
    assert_non_null(strstr(s, "nes_dek_refreshes_total 4\n"));
    assert_non_null(strstr(s, "nes_dek_refresh_errors_total 2\n"));
    assert_non_null(strstr(s, "nes_dek_keys 2\n"));
    assert_non_null(strstr(s, "nes_dek_attested 1\n"));
    assert_non_null(strstr(s, "nes_nsm_test 1\n"));
    nes_buf_free(&b);
}

/* Bucket bounds as data: each value and the bucket it must land in. */
static void buckets_cover_50us_to_5s(void **state)
{
    (void)state;
    static const struct {
        uint64_t us;
        int bucket;
    } cases[] = {
        {0, 0},        {50, 0},       {51, 1},          {75, 1},    {76, 2},
        {1000, 9},     {1001, 10},    {5000, 14},       {5001, 15}, {1000000, 30},
        {5000000, 35}, {5000001, 36}, {UINT64_MAX, 36},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(nes_metrics_bucket_of(cases[i].us), cases[i].bucket);
    assert_int_equal(nes_metrics_bucket_bound_us(0), 50);
    assert_int_equal(nes_metrics_bucket_bound_us(NES_METRICS_NBUCKET - 2), 5000000);
    assert_true(nes_metrics_bucket_bound_us(NES_METRICS_NBUCKET - 1) == UINT64_MAX);
    /* neighbours at most 1.5x apart: a quantile read from the buckets is within half a step */
    for (int b = 1; b < NES_METRICS_NBUCKET - 1; b++)
        assert_true(nes_metrics_bucket_bound_us(b) * 2 <= nes_metrics_bucket_bound_us(b - 1) * 3);
}

/* The index of a spec's series in `t`, or -1. */
static int spec_index(const nes_metrics_totals *t, const char *name)
{
    for (size_t i = 0; i < t->nspecs; i++)
        if (strcmp(t->spec_name[i], name) == 0)
            return (int)i;
    return -1;
}

static void aws_calls_and_specs(void **state)
{
    (void)state;
    nes_metrics_aws_call(0, 1200, 0);
    nes_metrics_aws_call(0, 900, 1);
    nes_metrics_aws_call(2, 70, 0);
    nes_metrics_aws_call(7, 70, 0); /* unknown service: ignored */
    nes_metrics_spec_register("payments");
    nes_metrics_spec_register("pay\"ments");
    nes_metrics_spec_register("payments"); /* idempotent */
    nes_metrics_spec_hit("payments");
    nes_metrics_spec_hit("payments");
    nes_metrics_spec_hit("unregistered");
    nes_metrics_spec_refresh_error("broken");
    nes_metrics_totals t;
    nes_metrics_collect(&t);
    assert_int_equal(t.aws_calls[0], 2);
    assert_int_equal(t.aws_errors[0], 1);
    assert_int_equal(t.aws_calls[2], 1);
    assert_int_equal(t.aws_latency_sum_us[0], 2100);
    /* one table of spec names (shared with the fail-closed counters of an earlier case) */
    int pay = spec_index(&t, "payments"), broken = spec_index(&t, "broken");
    assert_true(pay >= 0 && broken >= 0 && spec_index(&t, "pay\"ments") >= 0);
    assert_int_equal(spec_index(&t, "unregistered"), -1);
    assert_int_equal(t.spec_hits[pay], 2);
    assert_int_equal(t.spec_refresh_errors[broken], 1);
    assert_int_equal(t.spec_refresh_errors[pay], 0);
    nes_metrics_gauges g = {.keyring_size = 2, .otel_spans_dropped = 4, .dek_age_seconds = -1};
    nes_buf b = {0};
    assert_int_equal(nes_metrics_format(&t, &g, &b), 0);
    assert_int_equal(nes_buf_append(&b, "", 1), 0);
    const char *s = (const char *)b.data;
    assert_non_null(strstr(s, "nes_aws_call_errors_total{service=\"kms\"} 1\n"));
    assert_non_null(strstr(s, "nes_aws_call_duration_seconds_count{service=\"kms\"} 2\n"));
    assert_non_null(strstr(s, "nes_aws_call_duration_seconds_count{service=\"s3\"} 1\n"));
    assert_null(strstr(s, "nes_aws_call_duration_seconds_count{service=\"secretsmanager\"}"));
    assert_non_null(strstr(s, "nes_schema_spec_hits_total{spec=\"payments\"} 2\n"));
    assert_non_null(strstr(s, "nes_schema_spec_hits_total{spec=\"pay\\\"ments\"} 0\n"));
    assert_non_null(strstr(s, "nes_schema_spec_refresh_errors_total{spec=\"broken\"} 1\n"));
    assert_non_null(strstr(s, "nes_keyring_keys 2\n"));
    assert_non_null(strstr(s, "nes_otel_spans_dropped_total 4\n"));
    nes_buf_free(&b);
}

/* proxy mode's upstream counters: summed, labelled by fixed names, out-of-range kinds -> other */
static void upstream_counters(void **state)
{
    (void)state;
    nes_metrics_totals t0;
    nes_metrics_collect(&t0); /* other tests of this process count too: compare differences */
    nes_metrics_upstream_conn(0);
    nes_metrics_upstream_conn(1);
    nes_metrics_upstream_conn(1);
    nes_metrics_upstream_retry();
    nes_metrics_upstream_head(120);
    nes_metrics_upstream_head(80000);
    nes_metrics_upstream_error(NES_UPERR_TIMEOUT);
    nes_metrics_upstream_error((nes_upstream_err)99);
    nes_metrics_totals t;
    nes_metrics_collect(&t);
    assert_int_equal(t.upstream_conns[0] - t0.upstream_conns[0], 1);
    assert_int_equal(t.upstream_conns[1] - t0.upstream_conns[1], 2);
    assert_int_equal(t.upstream_retries - t0.upstream_retries, 1);
    assert_int_equal(t.upstream_head_sum_us - t0.upstream_head_sum_us, 80120);
    assert_int_equal(t.upstream_head_bucket[nes_metrics_bucket_of(120)] -
                         t0.upstream_head_bucket[nes_metrics_bucket_of(120)],
                     1);
    assert_int_equal(t.upstream_errors[NES_UPERR_TIMEOUT] - t0.upstream_errors[NES_UPERR_TIMEOUT],
                     1);
    assert_int_equal(t.upstream_errors[NES_UPERR_OTHER] - t0.upstream_errors[NES_UPERR_OTHER], 1);
    assert_string_equal(nes_upstream_err_name(NES_UPERR_CONNECT), "connect");
    assert_string_equal(nes_upstream_err_name(NES_UPERR_INVALID), "invalid");
    assert_string_equal(nes_upstream_err_name((nes_upstream_err)-1), "other");
    nes_metrics_totals z = {0};
    z.upstream_conns[0] = 3;
    z.upstream_conns[1] = 40;
    z.upstream_errors[NES_UPERR_RESET] = 2;
    z.upstream_head_bucket[0] = 5;
    z.upstream_head_sum_us = 200;
    nes_metrics_gauges g = {.dek_age_seconds = -1};
    nes_buf b = {0};
    assert_int_equal(nes_metrics_format(&z, &g, &b), 0);
    assert_int_equal(nes_buf_append(&b, "", 1), 0);
    const char *txt = (const char *)b.data;
    assert_non_null(strstr(txt, "nes_upstream_connections_total{pool=\"new\"} 3\n"));
    assert_non_null(strstr(txt, "nes_upstream_connections_total{pool=\"reused\"} 40\n"));
    assert_non_null(strstr(txt, "nes_upstream_errors_total{kind=\"reset\"} 2\n"));
    assert_non_null(strstr(txt, "nes_upstream_errors_total{kind=\"timeout\"} 0\n"));
    assert_non_null(strstr(txt, "nes_upstream_retries_total 0\n"));
    assert_non_null(strstr(txt, "nes_upstream_response_head_seconds_count{upstream=\"app\"} 5\n"));
    assert_non_null(strstr(txt, "# TYPE nes_upstream_response_head_seconds histogram\n"));
    nes_buf_free(&b);
}

static void names_routes_and_statuses(void **state)
{
    (void)state;
    assert_string_equal(nes_route_name(NES_ROUTE_OPENAPI), "openapi");
    assert_string_equal(nes_route_name((nes_route)99), "other");
    assert_int_equal(nes_metrics_status_index(200), 0);
    assert_int_equal(nes_metrics_status_index(599), NES_METRICS_NSTATUS - 1);
}

static void counts_unknown_members_per_spec(void **state)
{
    (void)state;
    nes_metrics_unknown_members("payments", 1, 0);
    nes_metrics_unknown_members("payments", 0, 3);
    nes_metrics_unknown_members("orders", 0, 2);
    nes_metrics_unknown_members("bad\"name", 1, 0); /* not a safe label value */
    nes_metrics_unknown_members("orders", 0, 0);    /* nothing to count: no series */
    nes_metrics_totals t;
    memset(&t, 0, sizeof(t));
    nes_metrics_gauges g = {.dek_age_seconds = -1};
    nes_buf b = {0};
    assert_int_equal(nes_metrics_format(&t, &g, &b), 0);
    assert_int_equal(nes_buf_append(&b, "", 1), 0);
    const char *s = (const char *)b.data;
    assert_non_null(strstr(s, "# TYPE nes_unknown_members_total counter\n"));
    assert_non_null(
        strstr(s, "nes_unknown_members_total{schema=\"payments\",outcome=\"rejected\"} 1\n"));
    assert_non_null(
        strstr(s, "nes_unknown_members_total{schema=\"payments\",outcome=\"passed\"} 3\n"));
    assert_non_null(
        strstr(s, "nes_unknown_members_total{schema=\"orders\",outcome=\"passed\"} 2\n"));
    assert_non_null(
        strstr(s, "nes_unknown_members_total{schema=\"_other\",outcome=\"rejected\"} 1\n"));
    assert_null(strstr(s, "bad"));
    nes_buf_free(&b);
    /* the fail-closed counters name their specs in the one per-spec table */
    nes_metrics_collect(&t);
    assert_true(spec_index(&t, "orders") >= 0);
    assert_int_equal(spec_index(&t, "bad\"name"), -1);
    assert_int_not_equal(nes_metrics_status_index(422), NES_METRICS_NSTATUS - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_across_threads),
        cmocka_unit_test(formats_text),
        cmocka_unit_test(names_routes_and_statuses),
        cmocka_unit_test(counts_unknown_members_per_spec),
        cmocka_unit_test(buckets_cover_50us_to_5s),
        cmocka_unit_test(aws_calls_and_specs),
        cmocka_unit_test(upstream_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
