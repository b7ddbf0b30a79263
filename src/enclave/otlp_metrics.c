/* otlp_metrics.c - the service's metrics (metrics.h) as an OTLP metrics body (see
 * otlp_metrics.h). */
#include "enclave/otlp_metrics.h"

#include <stdio.h>
#include <string.h>

#include "obs/otel/otlp_int.h"

/* The state of a metrics body being written. */
typedef struct mctx {
    nes_buf *out;
    uint64_t start_ns, now_ns;
    int n; /* metrics written */
    int rc;
} mctx;

static void metric_open(mctx *m, const char *name, const char *desc, const char *unit,
                        const char *kind)
{
    m->rc |=
        nes_buf_appendf(m->out, "%s{\"name\":\"%s\",\"description\":", m->n++ ? "," : "", name);
    m->rc |= nes_otlp_str(m->out, desc, strlen(desc));
    m->rc |= nes_buf_appendf(m->out, ",\"unit\":\"%s\",\"%s\":{\"dataPoints\":[", unit, kind);
}

static void point_times(mctx *m)
{
    m->rc |= nes_buf_appendf(m->out, "\"startTimeUnixNano\":\"%llu\",\"timeUnixNano\":\"%llu\"",
                             (unsigned long long)m->start_ns, (unsigned long long)m->now_ns);
}

/* A monotonic cumulative sum with one unlabelled point. */
static void sum1(mctx *m, const char *name, const char *desc, const char *unit, uint64_t v)
{
    metric_open(m, name, desc, unit, "sum");
    m->rc |= nes_buf_appendf(m->out, "{");
    point_times(m);
    m->rc |= nes_buf_appendf(
        m->out, ",\"asInt\":\"%llu\"}],\"aggregationTemporality\":2,\"isMonotonic\":true}}",
        (unsigned long long)v);
}

/* A monotonic cumulative sum with one point per label value (every value, zeros included). */
static void sum_by(mctx *m, const char *name, const char *desc, const char *label,
                   const char *const *values, const uint64_t *v, int n)
{
    metric_open(m, name, desc, "1", "sum");
    for (int i = 0; i < n; i++) {
        m->rc |= nes_buf_appendf(m->out, "%s{\"attributes\":[", i ? "," : "");
        m->rc |= nes_otlp_kv_str(m->out, label, values[i]);
        m->rc |= nes_buf_appendf(m->out, "],");
        point_times(m);
        m->rc |= nes_buf_appendf(m->out, ",\"asInt\":\"%llu\"}", (unsigned long long)v[i]);
    }
    m->rc |= nes_buf_appendf(m->out, "],\"aggregationTemporality\":2,\"isMonotonic\":true}}");
}

static void gauge1(mctx *m, const char *name, const char *desc, const char *unit, double v)
{
    metric_open(m, name, desc, unit, "gauge");
    m->rc |= nes_buf_appendf(m->out, "{");
    point_times(m);
    m->rc |= nes_buf_appendf(m->out, ",\"asDouble\":%.17g}]}}", v);
}

static void hist_point(mctx *m, int *np, const char *label, const char *value,
                       const uint64_t *bucket, uint64_t sum_us)
{
    uint64_t count = 0;
    for (int b = 0; b < NES_METRICS_NBUCKET; b++)
        count += bucket[b];
    if (count == 0)
        return;
    m->rc |= nes_buf_appendf(m->out, "%s{", (*np)++ ? "," : "");
    if (label != NULL) {
        m->rc |= nes_buf_appendf(m->out, "\"attributes\":[");
        m->rc |= nes_otlp_kv_str(m->out, label, value);
        m->rc |= nes_buf_appendf(m->out, "],");
    }
    point_times(m);
    m->rc |= nes_buf_appendf(m->out, ",\"count\":\"%llu\",\"sum\":%.6f,\"bucketCounts\":[",
                             (unsigned long long)count, (double)sum_us / 1e6);
    for (int b = 0; b < NES_METRICS_NBUCKET; b++)
        m->rc |= nes_buf_appendf(m->out, "%s\"%llu\"", b ? "," : "", (unsigned long long)bucket[b]);
    m->rc |= nes_buf_appendf(m->out, "],\"explicitBounds\":[");
    for (int b = 0; b < NES_METRICS_NBUCKET - 1; b++)
        m->rc |= nes_buf_appendf(m->out, "%s%g", b ? "," : "",
                                 (double)nes_metrics_bucket_bound_us(b) / 1e6);
    m->rc |= nes_buf_appendf(m->out, "]}");
}

int nes_otlp_metrics(nes_buf *out, const nes_otlp_resource *res, const nes_metrics_totals *t,
                     const nes_metrics_gauges *g, uint64_t start_ns, uint64_t now_ns)
{
    static const unsigned statuses[] = NES_METRICS_STATUSES;
    static const char *const aws[NES_METRICS_NAWS] = {"kms", "secretsmanager", "s3"};
    mctx m = {.out = out, .start_ns = start_ns, .now_ns = now_ns};
    m.rc |= nes_buf_appendf(out, "{\"resourceMetrics\":[");
    m.rc |= nes_otlp_resource_scope(out, res, "scopeMetrics");
    m.rc |= nes_buf_appendf(out, "\"metrics\":[");

    metric_open(&m, "nes_http_requests", "Requests by route and status.", "1", "sum");
    int np = 0;
    for (int r = 0; r < NES_ROUTE_COUNT; r++) {
        for (int i = 0; i < NES_METRICS_NSTATUS; i++) {
            if (t->requests[r][i] == 0)
                continue;
            char st[8];
            if (i == NES_METRICS_NSTATUS - 1)
                memcpy(st, "other", 6);
            else
                snprintf(st, sizeof(st), "%u", statuses[i]);
            m.rc |= nes_buf_appendf(out, "%s{\"attributes\":[", np++ ? "," : "");
            m.rc |= nes_otlp_kv_str(out, "route", nes_route_name((nes_route)r));
            m.rc |= nes_buf_appendf(out, ",");
            m.rc |= nes_otlp_kv_str(out, "status", st);
            m.rc |= nes_buf_appendf(out, "],");
            point_times(&m);
            m.rc |=
                nes_buf_appendf(out, ",\"asInt\":\"%llu\"}", (unsigned long long)t->requests[r][i]);
        }
    }
    m.rc |= nes_buf_appendf(out, "],\"aggregationTemporality\":2,\"isMonotonic\":true}}");

    metric_open(&m, "nes_http_request_duration_seconds", "Request latency.", "s", "histogram");
    np = 0;
    for (int r = 0; r < NES_ROUTE_COUNT; r++)
        hist_point(&m, &np, "route", nes_route_name((nes_route)r), t->latency_bucket[r],
                   t->latency_sum_us[r]);
    m.rc |= nes_buf_appendf(out, "],\"aggregationTemporality\":2}}");

    metric_open(&m, "nes_aws_call_duration_seconds", "AWS calls by service.", "s", "histogram");
    np = 0;
    for (int a = 0; a < NES_METRICS_NAWS; a++)
        hist_point(&m, &np, "service", aws[a], t->aws_latency_bucket[a], t->aws_latency_sum_us[a]);
    m.rc |= nes_buf_appendf(out, "],\"aggregationTemporality\":2}}");

    sum_by(&m, "nes_aws_call_errors", "AWS calls that failed after every retry.", "service", aws,
           t->aws_errors, NES_METRICS_NAWS);

    static const char *const pool[2] = {"new", "reused"};
    sum_by(&m, "nes_upstream_connections", "Proxy mode: upstream connections used, by pool.",
           "pool", pool, t->upstream_conns, 2);
    const char *uperr[NES_UPERR_COUNT];
    for (int k = 0; k < NES_UPERR_COUNT; k++)
        uperr[k] = nes_upstream_err_name((nes_upstream_err)k);
    sum_by(&m, "nes_upstream_errors", "Proxy mode: exchanges with the application that failed.",
           "kind", uperr, t->upstream_errors, NES_UPERR_COUNT);
    sum1(&m, "nes_upstream_retries", "Proxy mode: reused connections that failed, tried again.",
         "1", t->upstream_retries);
    metric_open(&m, "nes_upstream_response_head_seconds",
                "Proxy mode: exchange start to the application's response head.", "s", "histogram");
    np = 0;
    hist_point(&m, &np, NULL, NULL, t->upstream_head_bucket, t->upstream_head_sum_us);
    m.rc |= nes_buf_appendf(out, "],\"aggregationTemporality\":2}}");

    static const char *const spec_metric[2] = {"nes_schema_spec_hits",
                                               "nes_schema_spec_refresh_errors"};
    for (int k = 0; k < 2; k++) {
        metric_open(&m, spec_metric[k], k ? "Failed loads, by spec." : "Spec lookups, by spec.",
                    "1", "sum");
        for (size_t i = 0; i < t->nspecs; i++) {
            m.rc |= nes_buf_appendf(out, "%s{\"attributes\":[", i ? "," : "");
            m.rc |= nes_otlp_kv_str(out, "spec", t->spec_name[i]);
            m.rc |= nes_buf_appendf(out, "],");
            point_times(&m);
            m.rc |= nes_buf_appendf(
                out, ",\"asInt\":\"%llu\"}",
                (unsigned long long)(k ? t->spec_refresh_errors[i] : t->spec_hits[i]));
        }
        m.rc |= nes_buf_appendf(out, "],\"aggregationTemporality\":2,\"isMonotonic\":true}}");
    }
    sum1(&m, "nes_fields_encrypted", "PII fields encrypted.", "1", t->fields_encrypted);
    sum1(&m, "nes_fields_decrypted", "PII fields decrypted.", "1", t->fields_decrypted);
    sum1(&m, "nes_http_request_bytes", "Request body bytes received.", "By", t->bytes_in);
    sum1(&m, "nes_http_response_bytes", "Response body bytes sent.", "By", t->bytes_out);
    sum1(&m, "nes_schema_cache_hits", "Spec lookups that found the spec.", "1", t->schema_hits);
    sum1(&m, "nes_schema_cache_misses", "Spec lookups for an unknown spec name.", "1",
         t->schema_misses);
    sum1(&m, "nes_schema_refresh_errors", "Spec loads that failed.", "1", g->schema_refresh_errors);
    sum1(&m, "nes_connections_rejected", "Connections closed at the cap.", "1",
         g->connections_rejected);
    sum1(&m, "nes_log_lines_dropped", "Log lines dropped on full queues.", "1",
         g->log_lines_dropped);
    sum1(&m, "nes_otel_spans_dropped", "Spans dropped on a full export queue.", "1",
         g->otel_spans_dropped);
    sum1(&m, "nes_otel_log_records_dropped", "Log records dropped on a full export queue.", "1",
         g->otel_logs_dropped);
    sum1(&m, "nes_otel_export_failures", "OTLP export requests that failed.", "1",
         g->otel_export_failures);
    gauge1(&m, "nes_open_connections", "Open client connections.", "1",
           (double)g->open_connections);
    gauge1(&m, "nes_ready", "1 when keys and specs are loaded.", "1", (double)g->ready);
    gauge1(&m, "nes_specs_loaded", "Specs loaded.", "1", (double)g->specs_loaded);
    if (g->dek_rotation_secs > 0)
        gauge1(&m, "nes_dek_rotation_interval_seconds", "DEK_ROTATION_INTERVAL_SECS.", "s",
               g->dek_rotation_secs);
    if (g->keyring_size >= 0)
        gauge1(&m, "nes_keyring_keys", "Keys in the keyring.", "1", (double)g->keyring_size);
    if (g->dek_age_seconds >= 0)
        gauge1(&m, "nes_dek_age_seconds", "Seconds since the current key was loaded.", "s",
               g->dek_age_seconds);
    m.rc |= nes_buf_appendf(out, "]}]}]}");
    return m.rc == 0 ? 0 : -1;
}
