/* metrics.c - per-thread counter shards and the Prometheus text format (see metrics.h). */
#include "enclave/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
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
} shard;

static shard *g_shards[MAX_SHARDS];
static _Atomic int g_nshards;
static shard g_overflow; /* shared by threads beyond MAX_SHARDS: still correct, just contended */
static _Thread_local shard *t_shard;

static const unsigned statuses[] = NES_METRICS_STATUSES;
static const uint64_t buckets_us[] = NES_METRICS_BUCKETS_US;
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

#define ADD(field, n) atomic_fetch_add_explicit(&(field), (n), memory_order_relaxed)

void nes_metrics_request(nes_route route, unsigned status, uint64_t latency_us, uint64_t bytes_in,
                         uint64_t bytes_out)
{
    if (route < 0 || route >= NES_ROUTE_COUNT)
        route = NES_ROUTE_OTHER;
    shard *s = my_shard();
    ADD(s->requests[route][nes_metrics_status_index(status)], 1);
    int b = 0;
    while (b < NES_METRICS_NBUCKET - 1 && latency_us > buckets_us[b])
        b++;
    ADD(s->latency_bucket[route][b], 1);
    ADD(s->latency_sum_us[route], latency_us);
    ADD(s->bytes_in, bytes_in);
    ADD(s->bytes_out, bytes_out);
}

void nes_metrics_fields(int decrypt, uint64_t n)
{
    shard *s = my_shard();
    if (decrypt)
        ADD(s->fields_decrypted, n);
    else
        ADD(s->fields_encrypted, n);
}

void nes_metrics_schema_lookup(int hit)
{
    shard *s = my_shard();
    if (hit)
        ADD(s->schema_hits, 1);
    else
        ADD(s->schema_misses, 1);
}

#define GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

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
}

static int put(nes_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int put(nes_buf *out, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is just above */
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -1;
    return nes_buf_append(out, line, (size_t)n);
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
    for (int r = 0; r < NES_ROUTE_COUNT; r++) {
        uint64_t cum = 0;
        for (int b = 0; b < NES_METRICS_NBUCKET; b++)
            cum += t->latency_bucket[r][b];
        if (cum == 0)
            continue;
        cum = 0;
        for (int b = 0; b < NES_METRICS_NBUCKET; b++) {
            cum += t->latency_bucket[r][b];
            if (b < NES_METRICS_NBUCKET - 1)
                rc |= put(out,
                          "nes_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                          route_names[r], (double)buckets_us[b] / 1e6, (unsigned long long)cum);
            else
                rc |= put(out,
                          "nes_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                          "%llu\n",
                          route_names[r], (unsigned long long)cum);
        }
        rc |= put(out, "nes_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_names[r],
                  (double)t->latency_sum_us[r] / 1e6);
        rc |= put(out, "nes_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                  route_names[r], (unsigned long long)cum);
    }
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
    rc |= counter(out, "nes_tls_reloads_total", "Certificate and key reloads.", g->tls_reloads);
    rc |= counter(out, "nes_tls_reload_errors_total", "Certificate reloads that failed.",
                  g->tls_reload_errors);
    rc |= counter(out, "nes_connections_rejected_total", "Connections closed at the cap.",
                  g->connections_rejected);
    rc |= counter(out, "nes_log_lines_dropped_total", "Log lines dropped on full queues.",
                  g->log_lines_dropped);
    rc |=
        gauge(out, "nes_open_connections", "Open client connections.", (double)g->open_connections);
    rc |= gauge(out, "nes_ready", "1 when keys and specs are loaded.", (double)g->ready);
    rc |= gauge(out, "nes_specs_loaded", "Specs loaded.", (double)g->specs_loaded);
    if (g->dek_age_seconds >= 0)
        rc |= gauge(out, "nes_dek_age_seconds", "Seconds since the current key was loaded.",
                    g->dek_age_seconds);
    return rc == 0 ? 0 : -1;
}
