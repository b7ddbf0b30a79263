/* export.h - the OTLP/HTTP exporter: spans, log records and metrics, batched on one background
 * thread (DESIGN section 9).
 *
 * Configuration is the standard OTEL_* variables (nes_otel_config_load):
 *   OTEL_EXPORTER_OTLP_ENDPOINT   base URL; /v1/traces, /v1/metrics, /v1/logs are appended.
 *                                 Unset (and no per-signal endpoint): nothing is exported,
 *                                 nothing is queued, spans and log lines cost no copy.
 *   OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT   full URL of one signal.
 *   OTEL_EXPORTER_OTLP_HEADERS    k=v,k=v sent with every request (values %-decoded).
 *   OTEL_EXPORTER_OTLP_TIMEOUT    per request, ms (default 10000).
 *   OTEL_EXPORTER_OTLP_CERTIFICATE  CA bundle (PEM) for an https:// endpoint (default: the
 *                                 system's, or AWS_CA_BUNDLE through the egress settings).
 *   OTEL_EXPORTER_OTLP_PROTOCOL   http/protobuf or http/json, both accepted (spans and logs are
 *                                 sent as protobuf, metrics as JSON, each request with its
 *                                 Content-Type); grpc is refused.
 *   OTEL_SERVICE_NAME             service.name (default nitro-enc-svc).
 *   OTEL_RESOURCE_ATTRIBUTES      k=v,k=v resource attributes.
 *   OTEL_BSP_SCHEDULE_DELAY       ms between span and log batches (default 5000).
 *   OTEL_BSP_MAX_QUEUE_SIZE       spans (and log records) queued at most (default 2048), as
 *                                 bytes: N x 96 of spans, N x 256 of log records (records
 *                                 take what they need: a request's four spans ~330 bytes, an
 *                                 access line's record ~240), in 4 shards any thread may fill.
 *   OTEL_BSP_MAX_EXPORT_BATCH_SIZE  items per request (default 512).
 *   OTEL_METRIC_EXPORT_INTERVAL   ms between metric exports (default 60000).
 *   OTEL_TRACES_SAMPLER           parentbased_traceidratio (default), parentbased_always_on,
 *                                 parentbased_always_off, always_on, always_off, traceidratio
 *                                 (the non-parent-based ones are treated as parent-based).
 *   OTEL_TRACES_SAMPLER_ARG       the ratio, 0..1 (default 1).
 *   OTEL_SDK_DISABLED             true: no export.
 * Bodies: spans and log records as protobuf, metrics as OTLP JSON (otlp.h says why). OTLP/HTTP
 * rather than the brief's OTLP/gRPC: it is the other standard OTLP transport, every collector
 * accepts it, and it keeps gRPC and HTTP/2 out of the enclave.
 *
 * Transport: libcurl, through the AWS layer's egress settings (nes_aws_curl_egress: the CONNECT
 * proxy, or the vsock bridge) when an egress configuration is given, else straight to the
 * endpoint (local mode, AWS_EGRESS=direct).
 *
 * Never blocking a request: spans and log records go through bounded queues (queue.h) that drop
 * and count when full (a request's spans as one record, spanrec.h); the thread drains a queue at
 * its period, or sooner once it holds a full batch (it looks every 50 ms; producers never wake it);
 * metrics are read from the per-thread shards at export time. A failed or slow request costs only
 * the exporter thread (its items are counted as lost). nes_otel_stop joins the thread (which
 * sends no further batch of a backlog once stop is asked) and sends what is queued, each request
 * of at most a second, until one fails. */
#ifndef NES_OBS_OTEL_EXPORT_H
#define NES_OBS_OTEL_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "obs/otel/otlp.h"

/** Most resource attributes kept (service.name and PCR0 included). */
#define NES_OTEL_MAX_ATTRS 24

/** The exporter's settings. */
typedef struct nes_otel_config {
    bool enabled;
    char url[3][1024];  /**< traces, metrics, logs ("" for a signal not exported) */
    char headers[2048]; /**< "Name: value\n" lines */
    char ca_file[512];  /**< OTEL_EXPORTER_OTLP_CERTIFICATE ("" = default) */
    nes_otlp_kv attrs[NES_OTEL_MAX_ATTRS];
    size_t nattrs;
    unsigned timeout_ms, bsp_delay_ms, metric_interval_ms;
    size_t max_queue, max_batch;
    double ratio;
} nes_otel_config;

/** Looks a variable up (NULL: unset). */
typedef const char *(*nes_otel_lookup_fn)(void *ud, const char *name);

/** Fills `cfg` from the OTEL_* variables `lookup` returns. 0, or -1 with one line in `why`
 * naming the variable (never a header's value). `service` is the default service.name. */
int nes_otel_config_load(nes_otel_config *cfg, const char *service, nes_otel_lookup_fn lookup,
                         void *ud, char *why, size_t why_len);

/** Adds (or replaces) a resource attribute, e.g. the enclave's PCR0 ("aws.nitro.pcr0", hex)
 * read from the NSM: call before nes_otel_start. 0, or -1 when full. */
int nes_otel_config_set_attr(nes_otel_config *cfg, const char *key, const char *value);

/** Writes one metrics export body (an ExportMetricsServiceRequest, e.g. with the service's
 * nes_otlp_metrics, enclave/otlp_metrics.h, or nes_otlp_from_prometheus) for `res`, cumulative
 * since `start_ns`. 0 or -1. */
typedef int (*nes_otel_metrics_fn)(void *ud, nes_buf *out, const nes_otlp_resource *res,
                                   uint64_t start_ns, uint64_t now_ns);

/** Starts exporting (a no-op returning 0 when `cfg->enabled` is false). `egress` (copied; NULL:
 * direct) routes requests like the AWS clients. `metrics` (NULL: none) writes the metrics body
 * every OTEL_METRIC_EXPORT_INTERVAL. Installs the span sink and the log tap. Call nes_otel_stop
 * only after the threads that end spans or log have stopped. 0, or -1 with a reason. */
int nes_otel_start(const nes_otel_config *cfg, const nes_aws_config *egress,
                   nes_otel_metrics_fn metrics, void *ud, char *why, size_t why_len);

/** Sends what is queued, one metrics export, and stops the thread. Safe without a start. */
void nes_otel_stop(void);

/** True between nes_otel_start (enabled) and nes_otel_stop. */
bool nes_otel_running(void);

/** The exporter's own counters, cumulative since nes_otel_start. A program copies them into
 * what it reports (the service's /metrics gauges, enclave/metrics.h). */
typedef struct nes_otel_stats {
    uint64_t spans_dropped;   /**< spans dropped on a full export queue */
    uint64_t logs_dropped;    /**< log records dropped on a full export queue */
    uint64_t export_failures; /**< OTLP requests that failed (their items are lost) */
    uint64_t exported[3];     /**< spans, metric points, log records sent */
} nes_otel_stats;

/** Fills `s` with the exporter's counters (all zero when it is not running). */
void nes_otel_counters(nes_otel_stats *s);

#endif
