/* otlp_metrics.h - the service's metrics (metrics.h) as an OTLP metrics body, the encoder the
 * service hands the exporter (obs/otel/export.h, nes_otel_metrics_fn).
 *
 * The same series as /metrics, in OTLP's JSON form (obs/otel/otlp.h says why JSON for metrics),
 * written with the JSON pieces of obs/otel/otlp_int.h. It lives with the service because it
 * reads the service's counters; nitro-enc-proxy exports its relay counters through
 * nes_otlp_from_prometheus instead. */
#ifndef NES_ENCLAVE_OTLP_METRICS_H
#define NES_ENCLAVE_OTLP_METRICS_H

#include <stdint.h>

#include "core/buf.h"
#include "enclave/metrics.h"
#include "obs/otel/otlp.h"

/** ExportMetricsServiceRequest with the same series as /metrics (cumulative since
 * `start_ns`, observed at `now_ns`; counters without Prometheus' `_total` suffix, histograms
 * in seconds with the buckets of metrics.h). 0, or -1 when the buffer refuses to grow. */
int nes_otlp_metrics(nes_buf *out, const nes_otlp_resource *res, const nes_metrics_totals *t,
                     const nes_metrics_gauges *g, uint64_t start_ns, uint64_t now_ns);

#endif
