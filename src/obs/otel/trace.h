/* trace.h - spans: one per request, children for its steps, background spans (DESIGN section 9).
 *
 * A span is a plain struct that lives where the work happens (on the stack, in the request's
 * routing state); nothing is allocated and no lock is taken. nes_trace_span_begin gives it ids
 * (a new trace id from a per-thread buffer filled by getrandom(2), the kernel's CSPRNG, as W3C
 * Trace Context level 2 asks; a span id from a per-thread SplitMix64 generator seeded from that
 * CSPRNG: span ids must be unique, not unpredictable) and a start time;
 * nes_trace_span_end stamps the end and, when the span is sampled and an exporter runs, packs
 * it into a span record (spanrec.h) for the exporter's bounded queue (export.h): a full queue
 * drops the record and counts its spans. A request gathers its spans into one record
 * (nes_trace_group_open).
 * Without an exporter a span still gets ids, so a trace id can be passed on upstream.
 *
 * Parenting: a child names its parent span; a request's root span may instead continue a remote
 * trace given by an incoming W3C `traceparent` header (nes_traceparent_parse). Sampling is
 * parent-based: a remote parent's sampled flag decides; a new trace is sampled when its id falls
 * under the ratio (OTEL_TRACES_SAMPLER_ARG, set with nes_trace_set_ratio), like the SDKs'
 * TraceIdRatioBased. Children follow their parent.
 *
 * Attributes are few, fixed keys (static strings) with short values copied in: callers put
 * names, sizes, counts and statuses there, never a body value, a key or a token.
 *
 * Proxy mode's upstream call, for example:
 *
 *     nes_span up;
 *     nes_trace_span_begin(&up, "upstream", NES_SPAN_CLIENT, ctx->span, NULL);
 *     char tp[NES_TRACEPARENT_LEN + 1];
 *     nes_traceparent_format(&up, tp);          // send as the upstream's `traceparent` header
 *     ... the call ...
 *     nes_trace_span_attr_int(&up, "http.response.status_code", status);
 *     if (failed) nes_trace_span_error(&up);
 *     nes_trace_span_end(&up);
 *
 * The current span of a thread (nes_trace_current) lets log lines carry trace and span ids. */
#ifndef NES_OBS_OTEL_TRACE_H
#define NES_OBS_OTEL_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Length of a version-00 traceparent value ("00-<32 hex>-<16 hex>-<2 hex>"). */
#define NES_TRACEPARENT_LEN 55
/** Attributes a span can hold (more are ignored). */
#define NES_SPAN_MAX_ATTRS 6
/** Longest string attribute value kept (longer values are cut). */
#define NES_SPAN_ATTR_STR 48

/** A remote parent, from a traceparent header. */
typedef struct nes_trace_ctx {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags; /**< bit 0: sampled */
} nes_trace_ctx;

/** OTLP span kinds. */
typedef enum nes_span_kind {
    NES_SPAN_INTERNAL = 1,
    NES_SPAN_SERVER = 2,
    NES_SPAN_CLIENT = 3,
} nes_span_kind;

/** One attribute: a static key and an integer or a short string (`len` bytes, NUL-terminated). */
typedef struct nes_span_attr {
    const char *key;
    bool is_int;
    uint8_t len; /**< the string's length */
    int64_t i;
    char s[NES_SPAN_ATTR_STR];
} nes_span_attr;

/** A span. Fill with nes_trace_span_begin; all fields readable. */
typedef struct nes_span {
    const char *name; /**< static string */
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8]; /**< all zero: a root span */
    bool sampled;
    bool error;
    uint8_t kind; /**< nes_span_kind */
    uint8_t nattr;
    uint64_t start_ns; /**< Unix time, nanoseconds; 0 when the span goes nowhere (not sampled or
                          no exporter when it began: the clock is not read) */
    uint64_t end_ns;
    nes_span_attr attr[NES_SPAN_MAX_ATTRS];
} nes_span;

/** Parses a W3C traceparent value (version 00, or a later version's first four fields). 0, or
 * -1 when it is malformed or has an all-zero id (the caller then starts a new trace). */
int nes_traceparent_parse(const char *value, nes_trace_ctx *out);

/** Writes the traceparent value naming `s` as the parent (NES_TRACEPARENT_LEN chars + NUL). */
void nes_traceparent_format(const nes_span *s, char out[NES_TRACEPARENT_LEN + 1]);

/** Sets the ratio of new traces sampled (0..1; default 1). */
void nes_trace_set_ratio(double ratio);

/** True when a new trace with this id is sampled at `ratio` (the SDKs' TraceIdRatioBased: the
 * id's last 8 bytes as a big-endian number below ratio * 2^64). */
bool nes_trace_ratio_samples(const uint8_t trace_id[16], double ratio);

/** Starts `s`: a child of `parent` when given, else of `remote` when given, else a new trace.
 * `name` must be a static string. */
void nes_trace_span_begin(nes_span *s, const char *name, nes_span_kind kind, const nes_span *parent,
                          const nes_trace_ctx *remote);

/** Starts `s` as a child of `parent` (like nes_trace_span_begin) at `start_ns`, a time the caller
 * has read already (the end of the step before, say), instead of reading the clock; a span
 * given 0 goes nowhere, as one begun without an exporter. */
void nes_trace_span_begin_at(nes_span *s, const char *name, nes_span_kind kind,
                             const nes_span *parent, uint64_t start_ns);

/** Adds a string attribute (cut at NES_SPAN_ATTR_STR - 1 bytes, back to a UTF-8 character
 * boundary); `key` must be static. */
void nes_trace_span_attr_str(nes_span *s, const char *key, const char *value);

/** Adds an integer attribute; `key` must be static. */
void nes_trace_span_attr_int(nes_span *s, const char *key, int64_t value);

/** Marks the span failed (OTLP status ERROR). */
void nes_trace_span_error(nes_span *s);

/** Ends `s` and hands it to the exporter when sampled, one runs and ran when `s` began (a
 * span not timed at its begin is not timed at its end either). */
void nes_trace_span_end(nes_span *s);

/** Ends `s` at `end_ns` (Unix ns) instead of now: for a span measured after the fact. */
void nes_trace_span_end_at(nes_span *s, uint64_t end_ns);

/** Sets the calling thread's current span (NULL: none); log lines carry its ids. */
void nes_trace_set_current(const nes_span *s);

/** The calling thread's current span, or NULL. */
const nes_span *nes_trace_current(void);

/** Fills `out` with n bytes from the per-thread CSPRNG buffer (getrandom(2)). */
void nes_trace_random(uint8_t *out, size_t n);

/** Nanoseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t nes_trace_now_ns(void);

/** Gathers the calling thread's spans of `root`'s trace from now on: each one that ends is
 * packed into one record (spanrec.h) instead of going to the sink alone, and `root`'s own end
 * hands the record over. For a request's spans, which all end on one thread within one call:
 * one queue record per request. A group still open is handed over first; nothing happens when
 * `root` goes nowhere (not sampled, or no exporter when it began). A group that would outgrow
 * NES_SPANREC_MAX is handed over in parts. */
void nes_trace_group_open(const nes_span *root);

/** Hands over what the calling thread's open group holds and closes it (for a root that ends
 * later, elsewhere: proxy mode's forwarded requests). Nothing when no group is open. */
void nes_trace_group_close(void);

/** Where ended spans go: set by the exporter (export.h); NULL: nowhere. The sink gets a span
 * record (spanrec.h) of `len` bytes holding `nspans` spans, and counts what it drops. */
typedef void (*nes_trace_sink_fn)(const void *rec, size_t len, unsigned nspans);
void nes_trace_set_sink(nes_trace_sink_fn fn);

#endif
