/* otlp.c - OTLP/HTTP JSON encoding (see otlp.h). */
#include "enclave/otel/otlp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int put(nes_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int put(nes_buf *out, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is just above */
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    return nes_buf_append(out, tmp, (size_t)n);
}

/* A JSON string (quoted, escaped). */
static int str(nes_buf *out, const char *s, size_t n)
{
    char tmp[6 * NES_LOGLINE_MAX + 8];
    if (n > NES_LOGLINE_MAX)
        n = NES_LOGLINE_MAX;
    size_t k = nes_json_escape(tmp, sizeof(tmp), s, n);
    if (k == (size_t)-1)
        return -1;
    int rc = nes_buf_append(out, "\"", 1);
    rc |= nes_buf_append(out, tmp, k);
    rc |= nes_buf_append(out, "\"", 1);
    return rc;
}

static int hex(nes_buf *out, const uint8_t *id, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char tmp[40];
    tmp[0] = '"';
    for (size_t i = 0; i < n; i++) {
        tmp[1 + 2 * i] = hx[id[i] >> 4];
        tmp[2 + 2 * i] = hx[id[i] & 15];
    }
    tmp[1 + 2 * n] = '"';
    return nes_buf_append(out, tmp, 2 + 2 * n);
}

static int kv_str(nes_buf *out, const char *key, const char *value)
{
    int rc = put(out, "{\"key\":");
    rc |= str(out, key, strlen(key));
    rc |= put(out, ",\"value\":{\"stringValue\":");
    rc |= str(out, value, strlen(value));
    rc |= put(out, "}}");
    return rc;
}

static int resource_scope(nes_buf *out, const nes_otlp_resource *res, const char *list)
{
    int rc = put(out, "{\"resource\":{\"attributes\":[");
    for (size_t i = 0; i < res->nattrs; i++) {
        if (i > 0)
            rc |= put(out, ",");
        rc |= kv_str(out, res->attrs[i].key, res->attrs[i].value);
    }
    rc |= put(out, "]},\"%s\":[{\"scope\":{\"name\":\"%s\",\"version\":\"%s\"},", list,
              NES_OTLP_SCOPE, NES_VERSION);
    return rc;
}

int nes_otlp_traces(nes_buf *out, const nes_otlp_resource *res, const nes_span *spans, size_t n)
{
    int rc = put(out, "{\"resourceSpans\":[");
    rc |= resource_scope(out, res, "scopeSpans");
    rc |= put(out, "\"spans\":[");
    static const uint8_t zero[8] = {0};
    for (size_t i = 0; i < n; i++) {
        const nes_span *s = &spans[i];
        rc |= put(out, "%s{\"traceId\":", i ? "," : "");
        rc |= hex(out, s->trace_id, 16);
        rc |= put(out, ",\"spanId\":");
        rc |= hex(out, s->span_id, 8);
        if (memcmp(s->parent_id, zero, 8) != 0) {
            rc |= put(out, ",\"parentSpanId\":");
            rc |= hex(out, s->parent_id, 8);
        }
        rc |= put(out, ",\"name\":");
        rc |= str(out, s->name, strlen(s->name));
        rc |=
            put(out,
                ",\"kind\":%u,\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\","
                "\"attributes\":[",
                (unsigned)s->kind, (unsigned long long)s->start_ns, (unsigned long long)s->end_ns);
        for (unsigned a = 0; a < s->nattr && a < NES_SPAN_MAX_ATTRS; a++) {
            const nes_span_attr *at = &s->attr[a];
            if (a > 0)
                rc |= put(out, ",");
            if (at->is_int) {
                rc |= put(out, "{\"key\":");
                rc |= str(out, at->key, strlen(at->key));
                rc |= put(out, ",\"value\":{\"intValue\":\"%lld\"}}", (long long)at->i);
            } else {
                rc |= kv_str(out, at->key, at->s);
            }
        }
        rc |= put(out, "],\"status\":{\"code\":%d}}", s->error ? 2 : 0);
    }
    rc |= put(out, "]}]}]}");
    return rc == 0 ? 0 : -1;
}

static const char *severity_text(uint8_t sev)
{
    return sev >= 17 ? "ERROR" : sev >= 13 ? "WARN" : sev >= 9 ? "INFO" : "DEBUG";
}

uint8_t nes_otlp_severity_of(const char *line, size_t len)
{
    static const struct {
        const char *tag;
        uint8_t sev;
    } tags[] = {{"\"level\":\"debug\"", 5},
                {"\"level\":\"info\"", 9},
                {"\"level\":\"warn\"", 13},
                {"\"level\":\"error\"", 17}};
    size_t scan = len < 96 ? len : 96; /* the level is among the first fields */
    for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++)
        if (memmem(line, scan, tags[t].tag, strlen(tags[t].tag)) != NULL)
            return tags[t].sev;
    return 9;
}

int nes_otlp_logs(nes_buf *out, const nes_otlp_resource *res, const nes_otlp_log *logs, size_t n)
{
    int rc = put(out, "{\"resourceLogs\":[");
    rc |= resource_scope(out, res, "scopeLogs");
    rc |= put(out, "\"logRecords\":[");
    for (size_t i = 0; i < n; i++) {
        const nes_otlp_log *l = &logs[i];
        size_t len = l->len;
        while (len > 0 && (l->line[len - 1] == '\n' || l->line[len - 1] == '\r'))
            len--;
        rc |= put(out,
                  "%s{\"timeUnixNano\":\"%llu\",\"observedTimeUnixNano\":\"%llu\","
                  "\"severityNumber\":%u,\"severityText\":\"%s\",\"body\":{\"stringValue\":",
                  i ? "," : "", (unsigned long long)l->time_ns, (unsigned long long)l->time_ns,
                  (unsigned)l->severity, severity_text(l->severity));
        rc |= str(out, l->line, len);
        rc |= put(out, "}");
        if (l->has_span) {
            rc |= put(out, ",\"traceId\":");
            rc |= hex(out, l->trace_id, 16);
            rc |= put(out, ",\"spanId\":");
            rc |= hex(out, l->span_id, 8);
        }
        rc |= put(out, "}");
    }
    rc |= put(out, "]}]}]}");
    return rc == 0 ? 0 : -1;
}

/* ---- metrics ------------------------------------------------------------------------------ */

typedef struct mctx {
    nes_buf *out;
    uint64_t start_ns, now_ns;
    int n; /* metrics written */
    int rc;
} mctx;

static void metric_open(mctx *m, const char *name, const char *desc, const char *unit,
                        const char *kind)
{
    m->rc |= put(m->out, "%s{\"name\":\"%s\",\"description\":", m->n++ ? "," : "", name);
    m->rc |= str(m->out, desc, strlen(desc));
    m->rc |= put(m->out, ",\"unit\":\"%s\",\"%s\":{\"dataPoints\":[", unit, kind);
}

static void point_times(mctx *m)
{
    m->rc |= put(m->out, "\"startTimeUnixNano\":\"%llu\",\"timeUnixNano\":\"%llu\"",
                 (unsigned long long)m->start_ns, (unsigned long long)m->now_ns);
}

/* A monotonic cumulative sum with one unlabelled point. */
static void sum1(mctx *m, const char *name, const char *desc, const char *unit, uint64_t v)
{
    metric_open(m, name, desc, unit, "sum");
    m->rc |= put(m->out, "{");
    point_times(m);
    m->rc |=
        put(m->out, ",\"asInt\":\"%llu\"}],\"aggregationTemporality\":2,\"isMonotonic\":true}}",
            (unsigned long long)v);
}

static void gauge1(mctx *m, const char *name, const char *desc, const char *unit, double v)
{
    metric_open(m, name, desc, unit, "gauge");
    m->rc |= put(m->out, "{");
    point_times(m);
    m->rc |= put(m->out, ",\"asDouble\":%.17g}]}}", v);
}

static void hist_point(mctx *m, int *np, const char *label, const char *value,
                       const uint64_t *bucket, uint64_t sum_us)
{
    uint64_t count = 0;
    for (int b = 0; b < NES_METRICS_NBUCKET; b++)
        count += bucket[b];
    if (count == 0)
        return;
    m->rc |= put(m->out, "%s{\"attributes\":[", (*np)++ ? "," : "");
    m->rc |= kv_str(m->out, label, value);
    m->rc |= put(m->out, "],");
    point_times(m);
    m->rc |= put(m->out, ",\"count\":\"%llu\",\"sum\":%.6f,\"bucketCounts\":[",
                 (unsigned long long)count, (double)sum_us / 1e6);
    for (int b = 0; b < NES_METRICS_NBUCKET; b++)
        m->rc |= put(m->out, "%s\"%llu\"", b ? "," : "", (unsigned long long)bucket[b]);
    m->rc |= put(m->out, "],\"explicitBounds\":[");
    for (int b = 0; b < NES_METRICS_NBUCKET - 1; b++)
        m->rc |= put(m->out, "%s%g", b ? "," : "", (double)nes_metrics_bucket_bound_us(b) / 1e6);
    m->rc |= put(m->out, "]}");
}

int nes_otlp_metrics(nes_buf *out, const nes_otlp_resource *res, const nes_metrics_totals *t,
                     const nes_metrics_gauges *g, uint64_t start_ns, uint64_t now_ns)
{
    static const unsigned statuses[] = NES_METRICS_STATUSES;
    static const char *const aws[NES_METRICS_NAWS] = {"kms", "secretsmanager", "s3"};
    mctx m = {.out = out, .start_ns = start_ns, .now_ns = now_ns};
    m.rc |= put(out, "{\"resourceMetrics\":[");
    m.rc |= resource_scope(out, res, "scopeMetrics");
    m.rc |= put(out, "\"metrics\":[");

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
            m.rc |= put(out, "%s{\"attributes\":[", np++ ? "," : "");
            m.rc |= kv_str(out, "route", nes_route_name((nes_route)r));
            m.rc |= put(out, ",");
            m.rc |= kv_str(out, "status", st);
            m.rc |= put(out, "],");
            point_times(&m);
            m.rc |= put(out, ",\"asInt\":\"%llu\"}", (unsigned long long)t->requests[r][i]);
        }
    }
    m.rc |= put(out, "],\"aggregationTemporality\":2,\"isMonotonic\":true}}");

    metric_open(&m, "nes_http_request_duration_seconds", "Request latency.", "s", "histogram");
    np = 0;
    for (int r = 0; r < NES_ROUTE_COUNT; r++)
        hist_point(&m, &np, "route", nes_route_name((nes_route)r), t->latency_bucket[r],
                   t->latency_sum_us[r]);
    m.rc |= put(out, "],\"aggregationTemporality\":2}}");

    metric_open(&m, "nes_aws_call_duration_seconds", "AWS calls by service.", "s", "histogram");
    np = 0;
    for (int a = 0; a < NES_METRICS_NAWS; a++)
        hist_point(&m, &np, "service", aws[a], t->aws_latency_bucket[a], t->aws_latency_sum_us[a]);
    m.rc |= put(out, "],\"aggregationTemporality\":2}}");

    metric_open(&m, "nes_aws_call_errors", "AWS calls that failed after every retry.", "1", "sum");
    for (int a = 0; a < NES_METRICS_NAWS; a++) {
        m.rc |= put(out, "%s{\"attributes\":[", a ? "," : "");
        m.rc |= kv_str(out, "service", aws[a]);
        m.rc |= put(out, "],");
        point_times(&m);
        m.rc |= put(out, ",\"asInt\":\"%llu\"}", (unsigned long long)t->aws_errors[a]);
    }
    m.rc |= put(out, "],\"aggregationTemporality\":2,\"isMonotonic\":true}}");

    static const char *const spec_metric[2] = {"nes_schema_spec_hits",
                                               "nes_schema_spec_refresh_errors"};
    for (int k = 0; k < 2; k++) {
        metric_open(&m, spec_metric[k], k ? "Failed loads, by spec." : "Spec lookups, by spec.",
                    "1", "sum");
        for (size_t i = 0; i < t->nspecs; i++) {
            m.rc |= put(out, "%s{\"attributes\":[", i ? "," : "");
            m.rc |= kv_str(out, "spec", t->spec_name[i]);
            m.rc |= put(out, "],");
            point_times(&m);
            m.rc |= put(out, ",\"asInt\":\"%llu\"}",
                        (unsigned long long)(k ? t->spec_refresh_errors[i] : t->spec_hits[i]));
        }
        m.rc |= put(out, "],\"aggregationTemporality\":2,\"isMonotonic\":true}}");
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
    m.rc |= put(out, "]}]}]}");
    return m.rc == 0 ? 0 : -1;
}
