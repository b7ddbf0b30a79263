/* metrics.h - request metrics without shared writes on the request path (DESIGN section 9).
 *
 * Each thread counts into its own shard (claimed on first use); a scrape sums the shards. The
 * text exposition (Prometheus 0.0.4) is produced by nes_metrics_format from a totals snapshot,
 * so the formatting is testable on its own. Labels are fixed route and status names only. */
#ifndef NES_ENCLAVE_METRICS_H
#define NES_ENCLAVE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/** Routes as counted (anything else is "other"). */
typedef enum nes_route {
    NES_ROUTE_ENCRYPT = 0,
    NES_ROUTE_DECRYPT,
    NES_ROUTE_HEALTHZ,
    NES_ROUTE_READYZ,
    NES_ROUTE_METRICS,
    NES_ROUTE_OPENAPI,
    NES_ROUTE_PROXY, /* proxy mode: forwarded to the application */
    NES_ROUTE_OTHER,
    NES_ROUTE_COUNT,
} nes_route;

/** Statuses with their own series; anything else counts as "other". */
#define NES_METRICS_STATUSES                                                                       \
    {                                                                                              \
        200, 400, 403, 404, 405, 408, 413, 415, 431, 500, 502, 503, 504                            \
    }
#define NES_METRICS_NSTATUS 14 /* the list above plus "other" (502, 504: proxy mode) */
/** Latency histogram upper bounds in microseconds (then +Inf). */
#define NES_METRICS_BUCKETS_US                                                                     \
    {                                                                                              \
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000                             \
    }
#define NES_METRICS_NBUCKET 11 /* the list above plus +Inf */

/** Summed counters of all threads. */
typedef struct nes_metrics_totals {
    uint64_t requests[NES_ROUTE_COUNT][NES_METRICS_NSTATUS];
    uint64_t latency_bucket[NES_ROUTE_COUNT][NES_METRICS_NBUCKET]; /**< not cumulative */
    uint64_t latency_sum_us[NES_ROUTE_COUNT];
    uint64_t fields_encrypted;
    uint64_t fields_decrypted;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t schema_hits;
    uint64_t schema_misses;
} nes_metrics_totals;

/** Gauges and service-level counters supplied by the caller at scrape time. */
typedef struct nes_metrics_gauges {
    int64_t open_connections;
    int ready;              /**< 1 when keys and specs are loaded */
    double dek_age_seconds; /**< < 0: no key loaded */
    uint64_t specs_loaded;
    uint64_t schema_refresh_errors;
    uint64_t tls_reloads;
    uint64_t tls_reload_errors;
    uint64_t connections_rejected;
    uint64_t log_lines_dropped;
} nes_metrics_gauges;

/** The route's label value ("encrypt", "decrypt", "healthz", ...). */
const char *nes_route_name(nes_route r);

/** Index of `status` in NES_METRICS_STATUSES, or the "other" index. */
int nes_metrics_status_index(unsigned status);

/** Counts one finished request on the calling thread's shard. */
void nes_metrics_request(nes_route route, unsigned status, uint64_t latency_us, uint64_t bytes_in,
                         uint64_t bytes_out);

/** Counts encrypted (or decrypted, dir 1) fields. */
void nes_metrics_fields(int decrypt, uint64_t n);

/** Counts a spec lookup hit (1) or miss (0). */
void nes_metrics_schema_lookup(int hit);

/** Sums all shards into `t` (relaxed reads: a scrape may miss in-flight increments). */
void nes_metrics_collect(nes_metrics_totals *t);

/** Appends the text exposition of `t` and `g` to `out`. Returns 0 or -1 (out of memory). */
int nes_metrics_format(const nes_metrics_totals *t, const nes_metrics_gauges *g, nes_buf *out);

#endif
