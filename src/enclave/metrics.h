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
        200, 400, 403, 404, 405, 408, 413, 415, 422, 431, 500, 502, 503, 504                       \
    }
#define NES_METRICS_NSTATUS 15 /* the list above plus "other" (502, 504: proxy mode) */
/** Latency histogram upper bounds in microseconds (then +Inf): 50 us to 5 s in steps of at most
 * 1.5x, so a quantile read from the buckets (histogram_quantile) is within half a step. */
#define NES_METRICS_BUCKETS_US                                                                     \
    {                                                                                              \
        50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 7500,       \
            10000, 15000, 20000, 30000, 40000, 50000, 75000, 100000, 150000, 200000, 300000,       \
            400000, 500000, 750000, 1000000, 1500000, 2000000, 3000000, 4000000, 5000000           \
    }
#define NES_METRICS_NBUCKET 37 /* the list above plus +Inf */

/** Most specs with their own series: one table of spec names (registered on load by
 * nes_metrics_spec_register, or at the first fail-closed count) serves the hit, refresh-error
 * and fail-closed (nes_unknown_members_total) series; later names count as "_other" there. */
#define NES_METRICS_MAX_SPECS 128

/** AWS services timed (index = nes_aws_service of src/aws/aws.h: kms, secretsmanager, s3). */
#define NES_METRICS_NAWS 3

/** Proxy mode's upstream failures by kind (nes_upstream_errors_total{kind}): connect refused or
 * failed, timeout, reset, closed before a complete response, invalid response, anything else
 * (no usable endpoint, a name that does not resolve, resources). */
typedef enum nes_upstream_err {
    NES_UPERR_CONNECT = 0,
    NES_UPERR_TIMEOUT,
    NES_UPERR_RESET,
    NES_UPERR_CLOSED,
    NES_UPERR_INVALID,
    NES_UPERR_OTHER,
    NES_UPERR_COUNT,
} nes_upstream_err;

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
    uint64_t aws_calls[NES_METRICS_NAWS];
    uint64_t aws_errors[NES_METRICS_NAWS];
    uint64_t aws_latency_bucket[NES_METRICS_NAWS][NES_METRICS_NBUCKET]; /**< not cumulative */
    uint64_t aws_latency_sum_us[NES_METRICS_NAWS];
    uint64_t upstream_conns[2];                /**< proxy mode: [0] new, [1] reused from the pool */
    uint64_t upstream_retries;                 /**< reused connections failed, tried again */
    uint64_t upstream_errors[NES_UPERR_COUNT]; /**< exchanges that failed, by kind */
    uint64_t upstream_head_bucket[NES_METRICS_NBUCKET]; /**< start to response head; not cumul. */
    uint64_t upstream_head_sum_us;
    size_t nspecs;                                       /**< registered spec names */
    char spec_name[NES_METRICS_MAX_SPECS][64];           /**< their names (cut at 63) */
    uint64_t spec_hits[NES_METRICS_MAX_SPECS];           /**< lookups that found the spec */
    uint64_t spec_refresh_errors[NES_METRICS_MAX_SPECS]; /**< loads of the spec that failed */
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
    /* enclave mode's DEK provider (printed only when dek_provider is 1) */
    int dek_provider;
    uint64_t dek_refreshes, dek_refresh_errors;
    uint64_t dek_keys;
    int dek_attested, nsm_test;
    double dek_rotation_secs;      /**< DEK_ROTATION_INTERVAL_SECS (0: not configured) */
    int64_t keyring_size;          /**< keys in the keyring (current + previous); < 0: unknown */
    uint64_t otel_spans_dropped;   /**< spans dropped on a full export queue */
    uint64_t otel_logs_dropped;    /**< log records dropped on a full export queue */
    uint64_t otel_export_failures; /**< OTLP requests that failed (their items are lost) */
    uint64_t otel_exported[3];     /**< spans, metric points, log records sent */
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

/** Counts body members that no schema of spec `schema` declares (fail closed, DESIGN section 6):
 * `rejected` requests refused for one, `passed` members let through (open schemas,
 * UNKNOWN_FIELDS=pass). Lock-free for a spec registered on load (a name seen first here is
 * registered under the table's mutex); a spec name (letters, digits, '.', '_', '-'; at most 64)
 * is a label value, anything else counts as "_other". */
void nes_metrics_unknown_members(const char *schema, uint64_t rejected, uint64_t passed);

/** Counts one AWS call (`svc` < NES_METRICS_NAWS; others are ignored) that took `latency_us`
 * over all its attempts and failed (`error`) or not. */
void nes_metrics_aws_call(int svc, uint64_t latency_us, int error);

/** Proxy mode: counts an upstream connection taken from the pool (`reused`) or opened. */
void nes_metrics_upstream_conn(int reused);

/** Proxy mode: counts a reused connection that failed before any response byte and was retried. */
void nes_metrics_upstream_retry(void);

/** Proxy mode: counts an exchange's response head arriving `latency_us` after the exchange
 * started (connect or pool take, request sent, the application's time). */
void nes_metrics_upstream_head(uint64_t latency_us);

/** Proxy mode: counts a failed exchange (`kind` < NES_UPERR_COUNT; others count as OTHER). */
void nes_metrics_upstream_error(nes_upstream_err kind);

/** The label value of `kind` ("connect", "timeout", ...). */
const char *nes_upstream_err_name(nes_upstream_err kind);

/** The latency bucket index for `us`. */
int nes_metrics_bucket_of(uint64_t us);

/** The upper bound of bucket `b` in microseconds (UINT64_MAX for +Inf). */
uint64_t nes_metrics_bucket_bound_us(int b);

/** Registers a spec name for per-spec series (background path: on load; idempotent). The first
 * NES_METRICS_MAX_SPECS names get series; later ones do not. Names are never removed. */
void nes_metrics_spec_register(const char *name);

/** Counts a lookup that found spec `name` (request path: a hash probe, no lock). */
void nes_metrics_spec_hit(const char *name);

/** Counts a failed load of spec `name` (registers it). */
void nes_metrics_spec_refresh_error(const char *name);

/** Sums all shards into `t` (relaxed reads: a scrape may miss in-flight increments). */
void nes_metrics_collect(nes_metrics_totals *t);

/** Appends the text exposition of `t` and `g` to `out`. Returns 0 or -1 (out of memory). */
int nes_metrics_format(const nes_metrics_totals *t, const nes_metrics_gauges *g, nes_buf *out);

#endif
