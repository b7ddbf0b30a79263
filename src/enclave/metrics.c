/* metrics.c - per-thread counter shards and the Prometheus text format (see metrics.h). */
#include "enclave/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 256

typedef struct shard {
    _Atomic uint64_t requests[NES_ROUTE_COUNT][NES_METRICS_NSTATUS];
    _Atomic uint64_t latency_bucket[NES_ROUTE_COUNT][NES_METRICS_NBUCKET];
    _Atomic uint64_t latency_sum_us[NES_ROUTE_COUNT];
    _Atomic uint64_t fields_encrypted, fields_decrypted, bytes_in, bytes_out;
    _Atomic uint64_t schema_hits, schema_misses;
    _Atomic uint64_t aws_calls[NES_METRICS_NAWS], aws_errors[NES_METRICS_NAWS];
    _Atomic uint64_t aws_latency_bucket[NES_METRICS_NAWS][NES_METRICS_NBUCKET];
    _Atomic uint64_t aws_latency_sum_us[NES_METRICS_NAWS];
    _Atomic uint64_t spec_hits[NES_METRICS_MAX_SPECS];
    _Atomic uint64_t upstream_conns[2], upstream_retries, upstream_errors[NES_UPERR_COUNT];
    _Atomic uint64_t upstream_head_bucket[NES_METRICS_NBUCKET], upstream_head_sum_us;
} shard;

/* Spec names: an append-only open-addressing table (written under a mutex on the background
 * path, read without one on the request path: a slot's index is stored before its name is
 * published with release order). */
#define SPEC_TAB 128
static _Atomic(const char *) g_spec_tab[SPEC_TAB];
static int g_spec_idx[SPEC_TAB];
static char g_spec_names[NES_METRICS_MAX_SPECS][64];
static _Atomic size_t g_nspecs;
static _Atomic uint64_t g_spec_errors[NES_METRICS_MAX_SPECS];
/* Fail-closed counters by spec (nes_unknown_members_total), indexed like the names; the last
 * entry is "_other" (a name that is no safe label value, or beyond NES_METRICS_MAX_SPECS). */
static _Atomic uint64_t g_unknown_rejected[NES_METRICS_MAX_SPECS + 1];
static _Atomic uint64_t g_unknown_passed[NES_METRICS_MAX_SPECS + 1];
static pthread_mutex_t g_spec_mu = PTHREAD_MUTEX_INITIALIZER;

static shard *g_shards[MAX_SHARDS];
static _Atomic int g_nshards;
static shard g_overflow; /* shared by threads beyond MAX_SHARDS: still correct, just contended */
static _Thread_local shard *t_shard;

static const unsigned statuses[] = NES_METRICS_STATUSES;
static const uint64_t buckets_us[] = NES_METRICS_BUCKETS_US;
static const char *const aws_names[NES_METRICS_NAWS] = {"kms", "secretsmanager", "s3"};
static const char *const route_names[NES_ROUTE_COUNT] = {"encrypt", "decrypt", "healthz", "readyz",
                                                         "metrics", "openapi", "proxy",   "other"};

const char *nes_route_name(nes_route r)
{
    return (r >= 0 && r < NES_ROUTE_COUNT) ? route_names[r] : "other";
}

int nes_metrics_status_index(unsigned status)
{
    for (int i = 0; i < (int)(sizeof(statuses) / sizeof(statuses[0])); i++)
        if (statuses[i] == status)
            return i;
    return NES_METRICS_NSTATUS - 1;
}

static shard *my_shard(void)
{
    if (t_shard != NULL)
        return t_shard;
    int i = atomic_fetch_add(&g_nshards, 1);
    shard *s = i < MAX_SHARDS ? calloc(1, sizeof(*s)) : NULL;
    if (s == NULL) {
        t_shard = &g_overflow;
        return t_shard;
    }
    g_shards[i] = s;
    t_shard = s;
    return s;
}

/* A shard is written by its own thread only: a plain load and store, no locked instruction
 * (readers load each counter whole). g_overflow, shared, takes atomic adds. */
static inline void add(const shard *s, _Atomic uint64_t *f, uint64_t n)
{
    if (s == &g_overflow)
        atomic_fetch_add_explicit(f, n, memory_order_relaxed);
    else
        atomic_store_explicit(f, atomic_load_explicit(f, memory_order_relaxed) + n,
                              memory_order_relaxed);
}

#define ADD(s, field, n) add((s), &(s)->field, (n))

void nes_metrics_request(nes_route route, unsigned status, uint64_t latency_us, uint64_t bytes_in,
                         uint64_t bytes_out)
{
    if (route < 0 || route >= NES_ROUTE_COUNT)
        route = NES_ROUTE_OTHER;
    shard *s = my_shard();
    ADD(s, requests[route][nes_metrics_status_index(status)], 1);
    ADD(s, latency_bucket[route][nes_metrics_bucket_of(latency_us)], 1);
    ADD(s, latency_sum_us[route], latency_us);
    ADD(s, bytes_in, bytes_in);
    ADD(s, bytes_out, bytes_out);
}

int nes_metrics_bucket_of(uint64_t us)
{
    int lo = 0, hi = NES_METRICS_NBUCKET - 1; /* first bucket whose bound is >= us */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (us <= buckets_us[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

uint64_t nes_metrics_bucket_bound_us(int b)
{
    return b >= 0 && b < NES_METRICS_NBUCKET - 1 ? buckets_us[b] : UINT64_MAX;
}

void nes_metrics_aws_call(int svc, uint64_t latency_us, int error)
{
    if (svc < 0 || svc >= NES_METRICS_NAWS)
        return;
    shard *s = my_shard();
    ADD(s, aws_calls[svc], 1);
    if (error)
        ADD(s, aws_errors[svc], 1);
    ADD(s, aws_latency_bucket[svc][nes_metrics_bucket_of(latency_us)], 1);
    ADD(s, aws_latency_sum_us[svc], latency_us);
}

static const char *const uperr_names[NES_UPERR_COUNT] = {"connect", "timeout", "reset",
                                                         "closed",  "invalid", "other"};

const char *nes_upstream_err_name(nes_upstream_err kind)
{
    return kind >= 0 && kind < NES_UPERR_COUNT ? uperr_names[kind] : "other";
}

void nes_metrics_upstream_conn(int reused)
{
    shard *s = my_shard();
    ADD(s, upstream_conns[reused ? 1 : 0], 1);
}

void nes_metrics_upstream_retry(void)
{
    shard *s = my_shard();
    ADD(s, upstream_retries, 1);
}

void nes_metrics_upstream_head(uint64_t latency_us)
{
    shard *s = my_shard();
    ADD(s, upstream_head_bucket[nes_metrics_bucket_of(latency_us)], 1);
    ADD(s, upstream_head_sum_us, latency_us);
}

void nes_metrics_upstream_error(nes_upstream_err kind)
{
    if (kind < 0 || kind >= NES_UPERR_COUNT)
        kind = NES_UPERR_OTHER;
    shard *s = my_shard();
    ADD(s, upstream_errors[kind], 1);
}

static unsigned spec_hash(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < 63 && name[i] != '\0'; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

/* The spec's index, or -1 when it has none. */
static int spec_find(const char *name)
{
    for (unsigned i = spec_hash(name), n = 0; n < SPEC_TAB; i++, n++) {
        const char *s = atomic_load_explicit(&g_spec_tab[i % SPEC_TAB], memory_order_acquire);
        if (s == NULL)
            return -1;
        if (strncmp(s, name, 63) == 0)
            return g_spec_idx[i % SPEC_TAB];
    }
    return -1;
}

static int spec_register(const char *name)
{
    pthread_mutex_lock(&g_spec_mu);
    int idx = spec_find(name);
    size_t n = atomic_load(&g_nspecs);
    if (idx < 0 && n < NES_METRICS_MAX_SPECS) {
        for (unsigned i = spec_hash(name);; i++) {
            if (atomic_load(&g_spec_tab[i % SPEC_TAB]) == NULL) {
                snprintf(g_spec_names[n], sizeof(g_spec_names[n]), "%s", name);
                g_spec_idx[i % SPEC_TAB] = (int)n;
                atomic_store_explicit(&g_spec_tab[i % SPEC_TAB], g_spec_names[n],
                                      memory_order_release);
                atomic_store(&g_nspecs, n + 1);
                idx = (int)n;
                break;
            }
        }
    }
    pthread_mutex_unlock(&g_spec_mu);
    return idx;
}

void nes_metrics_spec_register(const char *name)
{
    (void)spec_register(name);
}

void nes_metrics_spec_hit(const char *name)
{
    int idx = spec_find(name);
    if (idx >= 0) {
        shard *s = my_shard();
        ADD(s, spec_hits[idx], 1);
    }
}

void nes_metrics_spec_refresh_error(const char *name)
{
    int idx = spec_register(name);
    if (idx >= 0)
        atomic_fetch_add(&g_spec_errors[idx], 1);
}

void nes_metrics_fields(int decrypt, uint64_t n)
{
    shard *s = my_shard();
    if (decrypt)
        ADD(s, fields_decrypted, n);
    else
        ADD(s, fields_encrypted, n);
}

void nes_metrics_schema_lookup(int hit)
{
    shard *s = my_shard();
    if (hit)
        ADD(s, schema_hits, 1);
    else
        ADD(s, schema_misses, 1);
}

static int put(nes_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool label_safe(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (n == 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

void nes_metrics_unknown_members(const char *schema, uint64_t rejected, uint64_t passed)
{
    if (rejected == 0 && passed == 0)
        return;
    int idx = -1;
    if (schema != NULL && label_safe(schema)) { /* a spec loaded is registered already */
        idx = spec_find(schema);
        if (idx < 0)
            idx = spec_register(schema);
    }
    size_t i = idx >= 0 ? (size_t)idx : NES_METRICS_MAX_SPECS;
    if (rejected)
        atomic_fetch_add_explicit(&g_unknown_rejected[i], rejected, memory_order_relaxed);
    if (passed)
        atomic_fetch_add_explicit(&g_unknown_passed[i], passed, memory_order_relaxed);
}

#define GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

static void label_escape(const char *in, char *out, size_t cap);

/* The fail-closed series, one pair per spec name that counted something, then "_other". */
static int format_specs(nes_buf *out)
{
    int rc = put(out, "# HELP nes_unknown_members_total Body members that no schema of the spec "
                      "declares: requests rejected for one, members passed (open schemas, "
                      "UNKNOWN_FIELDS=pass).\n"
                      "# TYPE nes_unknown_members_total counter\n");
    size_t n = atomic_load(&g_nspecs);
    for (size_t i = 0; i <= NES_METRICS_MAX_SPECS; i++) {
        if (i >= n && i < NES_METRICS_MAX_SPECS)
            continue;
        uint64_t rej = GET(g_unknown_rejected[i]), pass = GET(g_unknown_passed[i]);
        if (rej == 0 && pass == 0)
            continue;
        char lbl[160];
        label_escape(i < NES_METRICS_MAX_SPECS ? g_spec_names[i] : "_other", lbl, sizeof(lbl));
        rc |= put(out, "nes_unknown_members_total{schema=\"%s\",outcome=\"rejected\"} %llu\n", lbl,
                  (unsigned long long)rej);
        rc |= put(out, "nes_unknown_members_total{schema=\"%s\",outcome=\"passed\"} %llu\n", lbl,
                  (unsigned long long)pass);
    }
    return rc;
}

static void add_shard(nes_metrics_totals *t, shard *s)
{
    for (int r = 0; r < NES_ROUTE_COUNT; r++) {
        for (int i = 0; i < NES_METRICS_NSTATUS; i++)
            t->requests[r][i] += GET(s->requests[r][i]);
        for (int b = 0; b < NES_METRICS_NBUCKET; b++)
            t->latency_bucket[r][b] += GET(s->latency_bucket[r][b]);
        t->latency_sum_us[r] += GET(s->latency_sum_us[r]);
    }
    t->fields_encrypted += GET(s->fields_encrypted);
    t->fields_decrypted += GET(s->fields_decrypted);
    t->bytes_in += GET(s->bytes_in);
    t->bytes_out += GET(s->bytes_out);
    t->schema_hits += GET(s->schema_hits);
    t->schema_misses += GET(s->schema_misses);
    for (int a = 0; a < NES_METRICS_NAWS; a++) {
        t->aws_calls[a] += GET(s->aws_calls[a]);
        t->aws_errors[a] += GET(s->aws_errors[a]);
        for (int b = 0; b < NES_METRICS_NBUCKET; b++)
            t->aws_latency_bucket[a][b] += GET(s->aws_latency_bucket[a][b]);
        t->aws_latency_sum_us[a] += GET(s->aws_latency_sum_us[a]);
    }
    for (int i = 0; i < NES_METRICS_MAX_SPECS; i++)
        t->spec_hits[i] += GET(s->spec_hits[i]);
    for (int i = 0; i < 2; i++)
        t->upstream_conns[i] += GET(s->upstream_conns[i]);
    t->upstream_retries += GET(s->upstream_retries);
    for (int k = 0; k < NES_UPERR_COUNT; k++)
        t->upstream_errors[k] += GET(s->upstream_errors[k]);
    for (int b = 0; b < NES_METRICS_NBUCKET; b++)
        t->upstream_head_bucket[b] += GET(s->upstream_head_bucket[b]);
    t->upstream_head_sum_us += GET(s->upstream_head_sum_us);
}

void nes_metrics_collect(nes_metrics_totals *t)
{
    memset(t, 0, sizeof(*t));
    int n = atomic_load(&g_nshards);
    if (n > MAX_SHARDS)
        n = MAX_SHARDS;
    for (int i = 0; i < n; i++)
        if (g_shards[i] != NULL)
            add_shard(t, g_shards[i]);
    add_shard(t, &g_overflow);
    t->nspecs = atomic_load(&g_nspecs);
    for (size_t i = 0; i < t->nspecs; i++) {
        memcpy(t->spec_name[i], g_spec_names[i], sizeof(t->spec_name[i]));
        t->spec_refresh_errors[i] = atomic_load(&g_spec_errors[i]);
    }
}

static int put(nes_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* nes_buf_appendf under a short name (the exposition below calls it on nearly every line). */
static int put(nes_buf *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = nes_buf_vappendf(out, fmt, ap);
    va_end(ap);
    return rc;
}

static int counter(nes_buf *out, const char *name, const char *help, uint64_t v)
{
    if (put(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
            (unsigned long long)v) != 0)
        return -1;
    return 0;
}

static int gauge(nes_buf *out, const char *name, const char *help, double v)
{
    return put(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

static void status_label(int i, char lbl[8])
{
    if (i == NES_METRICS_NSTATUS - 1)
        memcpy(lbl, "other", 6);
    else
        snprintf(lbl, 8, "%u", statuses[i]);
}

/* A label value: backslash, quote and newline escaped (Prometheus text format). */
static void label_escape(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; in[i] != '\0' && o + 3 < cap; i++) {
        char c = in[i];
        if (c == '\\' || c == '"' || c == '\n') {
            out[o++] = '\\';
            if (c == '\n')
                c = 'n';
        }
        out[o++] = c;
    }
    out[o] = '\0';
}

/* One labelled series of a histogram (nothing when it has no observations). */
static int histogram(nes_buf *out, const char *name, const char *label, const char *value,
                     const uint64_t *bucket, uint64_t sum_us)
{
    uint64_t cum = 0;
    for (int b = 0; b < NES_METRICS_NBUCKET; b++)
        cum += bucket[b];
    if (cum == 0)
        return 0;
    int rc = 0;
    cum = 0;
    for (int b = 0; b < NES_METRICS_NBUCKET; b++) {
        cum += bucket[b];
        if (b < NES_METRICS_NBUCKET - 1)
            rc |= put(out, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", name, label, value,
                      (double)buckets_us[b] / 1e6, (unsigned long long)cum);
        else
            rc |= put(out, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label, value,
                      (unsigned long long)cum);
    }
    rc |= put(out, "%s_sum{%s=\"%s\"} %.6f\n", name, label, value, (double)sum_us / 1e6);
    rc |= put(out, "%s_count{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)cum);
    return rc;
}

/* A counter with a series per spec name of `t` (label spec="NAME"), v[i] for spec i. */
static int spec_counter(nes_buf *out, const nes_metrics_totals *t, const char *name,
                        const char *help, const uint64_t *v)
{
    int rc = put(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; i < t->nspecs; i++) {
        char lbl[140];
        label_escape(t->spec_name[i], lbl, sizeof(lbl));
        rc |= put(out, "%s{spec=\"%s\"} %llu\n", name, lbl, (unsigned long long)v[i]);
    }
    return rc;
}

int nes_metrics_format(const nes_metrics_totals *t, const nes_metrics_gauges *g, nes_buf *out)
{
    int rc = 0;
    rc |= put(out, "# HELP nes_http_requests_total Requests by route and status.\n"
                   "# TYPE nes_http_requests_total counter\n");
    for (int r = 0; r < NES_ROUTE_COUNT; r++) {
        for (int i = 0; i < NES_METRICS_NSTATUS; i++) {
            if (t->requests[r][i] == 0)
                continue;
            char lbl[8];
            status_label(i, lbl);
            rc |= put(out, "nes_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                      route_names[r], lbl, (unsigned long long)t->requests[r][i]);
        }
    }
    rc |= put(out, "# HELP nes_http_request_duration_seconds Request latency, first byte of the "
                   "request handler to the queued response.\n"
                   "# TYPE nes_http_request_duration_seconds histogram\n");
    for (int r = 0; r < NES_ROUTE_COUNT; r++)
        rc |= histogram(out, "nes_http_request_duration_seconds", "route", route_names[r],
                        t->latency_bucket[r], t->latency_sum_us[r]);
    rc |= put(out, "# HELP nes_aws_call_duration_seconds AWS calls (all attempts) by service.\n"
                   "# TYPE nes_aws_call_duration_seconds histogram\n");
    for (int a = 0; a < NES_METRICS_NAWS; a++)
        rc |= histogram(out, "nes_aws_call_duration_seconds", "service", aws_names[a],
                        t->aws_latency_bucket[a], t->aws_latency_sum_us[a]);
    rc |= put(out, "# HELP nes_aws_call_errors_total AWS calls that failed after every retry.\n"
                   "# TYPE nes_aws_call_errors_total counter\n");
    for (int a = 0; a < NES_METRICS_NAWS; a++)
        rc |= put(out, "nes_aws_call_errors_total{service=\"%s\"} %llu\n", aws_names[a],
                  (unsigned long long)t->aws_errors[a]);
    rc |= put(out,
              "# HELP nes_upstream_connections_total Proxy mode: upstream connections used, "
              "new or reused from the keep-alive pool.\n"
              "# TYPE nes_upstream_connections_total counter\n"
              "nes_upstream_connections_total{pool=\"new\"} %llu\n"
              "nes_upstream_connections_total{pool=\"reused\"} %llu\n",
              (unsigned long long)t->upstream_conns[0], (unsigned long long)t->upstream_conns[1]);
    rc |= counter(out, "nes_upstream_retries_total",
                  "Proxy mode: reused connections that failed before any response byte and were "
                  "tried again on a new one.",
                  t->upstream_retries);
    rc |= put(out, "# HELP nes_upstream_errors_total Proxy mode: exchanges with the application "
                   "that failed, by kind.\n"
                   "# TYPE nes_upstream_errors_total counter\n");
    for (int k = 0; k < NES_UPERR_COUNT; k++)
        rc |= put(out, "nes_upstream_errors_total{kind=\"%s\"} %llu\n", uperr_names[k],
                  (unsigned long long)t->upstream_errors[k]);
    rc |= put(out, "# HELP nes_upstream_response_head_seconds Proxy mode: exchange start "
                   "(connect or pool) to the application's complete response head.\n"
                   "# TYPE nes_upstream_response_head_seconds histogram\n");
    rc |= histogram(out, "nes_upstream_response_head_seconds", "upstream", "app",
                    t->upstream_head_bucket, t->upstream_head_sum_us);
    rc |= counter(out, "nes_fields_encrypted_total", "PII fields encrypted.", t->fields_encrypted);
    rc |= counter(out, "nes_fields_decrypted_total", "PII fields decrypted.", t->fields_decrypted);
    rc |= counter(out, "nes_http_request_bytes_total", "Request body bytes received.", t->bytes_in);
    rc |= counter(out, "nes_http_response_bytes_total", "Response body bytes sent.", t->bytes_out);
    rc |= counter(out, "nes_schema_cache_hits_total", "Spec lookups that found the spec.",
                  t->schema_hits);
    rc |= counter(out, "nes_schema_cache_misses_total", "Spec lookups for an unknown spec name.",
                  t->schema_misses);
    rc |= counter(out, "nes_schema_refresh_errors_total", "Spec loads that failed.",
                  g->schema_refresh_errors);
    rc |= spec_counter(out, t, "nes_schema_spec_hits_total",
                       "Spec lookups that found the spec, by spec.", t->spec_hits);
    rc |= spec_counter(out, t, "nes_schema_spec_refresh_errors_total", "Failed loads, by spec.",
                       t->spec_refresh_errors);
    rc |= counter(out, "nes_tls_reloads_total", "Certificate and key reloads.", g->tls_reloads);
    rc |= counter(out, "nes_tls_reload_errors_total", "Certificate reloads that failed.",
                  g->tls_reload_errors);
    rc |= counter(out, "nes_connections_rejected_total", "Connections closed at the cap.",
                  g->connections_rejected);
    rc |= counter(out, "nes_log_lines_dropped_total", "Log lines dropped on full queues.",
                  g->log_lines_dropped);
    rc |= format_specs(out);
    rc |=
        gauge(out, "nes_open_connections", "Open client connections.", (double)g->open_connections);
    rc |= gauge(out, "nes_ready", "1 when keys and specs are loaded.", (double)g->ready);
    rc |= gauge(out, "nes_specs_loaded", "Specs loaded.", (double)g->specs_loaded);
    rc |= counter(out, "nes_otel_spans_dropped_total", "Spans dropped on a full export queue.",
                  g->otel_spans_dropped);
    rc |= counter(out, "nes_otel_log_records_dropped_total",
                  "Log records dropped on a full export queue.", g->otel_logs_dropped);
    rc |= counter(out, "nes_otel_export_failures_total",
                  "OTLP export requests that failed (their items are lost).",
                  g->otel_export_failures);
    rc |=
        counter(out, "nes_otel_spans_exported_total", "Spans sent over OTLP.", g->otel_exported[0]);
    rc |= counter(out, "nes_otel_log_records_exported_total", "Log records sent over OTLP.",
                  g->otel_exported[2]);
    if (g->dek_rotation_secs > 0)
        rc |= gauge(out, "nes_dek_rotation_interval_seconds",
                    "DEK_ROTATION_INTERVAL_SECS: how often the key is fetched again.",
                    g->dek_rotation_secs);
    if (g->keyring_size >= 0)
        rc |= gauge(out, "nes_keyring_keys", "Keys in the keyring (current and previous).",
                    (double)g->keyring_size);
    if (g->dek_age_seconds >= 0)
        rc |= gauge(out, "nes_dek_age_seconds", "Seconds since the current key was loaded.",
                    g->dek_age_seconds);
    if (g->dek_provider) { /* enclave mode: the DEK provider's fetches (providers/dek.h) */
        rc |= counter(out, "nes_dek_refreshes_total", "DEK fetches that succeeded.",
                      g->dek_refreshes);
        rc |= counter(out, "nes_dek_refresh_errors_total",
                      "DEK fetches that failed (the last good keyring stays).",
                      g->dek_refresh_errors);
        rc |= gauge(out, "nes_dek_keys", "Keys in the keyring (current and previous).",
                    (double)g->dek_keys);
        rc |= gauge(out, "nes_dek_attested",
                    "1 when the DEK came through an attested KMS Decrypt, 0 otherwise.",
                    (double)g->dek_attested);
        rc |= gauge(out, "nes_nsm_test", "1 when the test NSM (not AWS) signs attestations.",
                    (double)g->nsm_test);
    }
    return rc == 0 ? 0 : -1;
}
