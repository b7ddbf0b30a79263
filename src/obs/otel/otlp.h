/* otlp.h - OTLP/HTTP bodies for spans, log records and metrics (the exporter's encoder).
 *
 * Spans and log records, one of each per request or more, are encoded as protobuf (the
 * opentelemetry-proto ExportTraceServiceRequest and ExportLogsServiceRequest messages, with the
 * pb.h writer): ids are raw bytes, times fixed64, nothing is escaped, so a span costs a few
 * hundred instructions. Metrics, sent once per export interval, are OTLP's JSON form
 * (ExportMetricsServiceRequest in proto3 JSON; 64-bit integers as strings): cheap enough at that
 * rate, and shared with the Prometheus-text conversion nitro-enc-proxy uses. Every OTLP/HTTP
 * receiver takes both (Content-Type application/x-protobuf or application/json), and the test
 * receiver decodes both with the official opentelemetry-proto classes.
 *
 * Pure functions over caller data: they append to a nes_buf and return 0, or -1 when the buffer
 * refuses to grow (its `max`). JSON strings are escaped; protobuf strings must be UTF-8 (log
 * lines are, log.h; span attribute values are cut on a character boundary, trace.h). Attribute
 * keys are fixed names. */
#ifndef NES_OBS_OTEL_OTLP_H
#define NES_OBS_OTEL_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "obs/log.h"
#include "obs/otel/pb.h"
#include "obs/otel/spanrec.h"
#include "obs/otel/trace.h"

/** One resource attribute (string value). */
typedef struct nes_otlp_kv {
    char key[64];
    char value[256];
} nes_otlp_kv;

/** The resource every export names: service.name plus attributes. */
typedef struct nes_otlp_resource {
    const nes_otlp_kv *attrs;
    size_t nattrs;
} nes_otlp_resource;

/** A log record as queued: when, the ids of the span current at the time, the JSON line. */
typedef struct nes_otlp_log {
    uint64_t time_ns;
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t has_span;
    uint8_t severity; /**< OTLP SeverityNumber (5 debug, 9 info, 13 warn, 17 error) */
    uint16_t len;
    char line[NES_LOGLINE_MAX];
} nes_otlp_log;

/** Scope name and version of everything the service exports. */
#define NES_OTLP_SCOPE "nitro-enc-svc"

/** A protobuf body being written item by item (the exporter encodes straight from its queue):
 * nes_otlp_batch_begin, nes_otlp_add_span or nes_otlp_add_log per item (one kind per body), then
 * nes_otlp_end. */
typedef struct nes_otlp_batch {
    nes_pb w;
    size_t top, list; /* marks of the ResourceSpans/Logs and ScopeSpans/Logs messages */
    size_t base;      /* where the body began in its buffer */
    size_t start;     /**< where the body starts after nes_otlp_end */
} nes_otlp_batch;

/** Starts an ExportTraceServiceRequest or ExportLogsServiceRequest (protobuf) in `out`: both open
 * with field 1 (ResourceSpans / ResourceLogs) holding the resource and the scope; the first item
 * added decides which. */
void nes_otlp_batch_begin(nes_otlp_batch *b, nes_buf *out, const nes_otlp_resource *res);

/** Adds one span (read from a span record, spanrec.h) to a body from nes_otlp_batch_begin. */
void nes_otlp_add_span(nes_otlp_batch *b, const nes_spanrec_span *s);

/** Adds one record (its first `len` line bytes are read) to a body from nes_otlp_batch_begin. */
void nes_otlp_add_log(nes_otlp_batch *b, const nes_otlp_log *l);

/** Ends the body: 0, or -1 when the buffer refused to grow. The body is then the bytes from
 * b->start to the buffer's end: the two outer messages' lengths are written into room left in
 * front (b->start is at most 8 bytes past where the body began), so the items are never moved. */
int nes_otlp_end(nes_otlp_batch *b);

/** ExportMetricsServiceRequest from a Prometheus text exposition (`text`, `len` bytes): each
 * counter family becomes a monotonic cumulative sum (named without `_total`), each gauge or
 * untyped family a gauge, labels become attributes; histograms and summaries are left out.
 * nitro-enc-proxy exports its relay counters this way. 0, or -1 when the text is malformed or
 * the buffer refuses to grow. */
int nes_otlp_from_prometheus(nes_buf *out, const nes_otlp_resource *res, const char *text,
                             size_t len, uint64_t start_ns, uint64_t now_ns);

/** The OTLP severity number of a JSON log line's "level" (9, info, when absent). */
uint8_t nes_otlp_severity_of(const char *line, size_t len);

#endif
