/* codec_span.h - the encryption span of a request: a codec (core/codec.h) that wraps the real one
 * and times each field, so the one pass of the transform (body traversal and field encryption
 * interleaved) can report its crypto part as a child span.
 *
 * The transform walks the body once and calls the codec for each PII value, so encryption has no
 * single interval of its own. The span "crypto.encrypt" (or "crypto.decrypt") runs from the first
 * field's start to the last field's end, and carries the time spent inside the codec
 * (`nes.crypto.busy_ns`) and the number of fields; the parent "body.encrypt" span is the whole
 * pass. Timing costs two reads of the CPU's time-stamp counter per field (a few ns each; the
 * clock elsewhere) and two clock reads per request, which convert ticks to nanoseconds at the
 * rate of that request's own interval; routes use the wrapper only for a sampled request while
 * an exporter runs. */
#ifndef NES_OBS_OTEL_CODEC_SPAN_H
#define NES_OBS_OTEL_CODEC_SPAN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/codec.h"
#include "obs/otel/trace.h"

/** A timing wrapper around a codec. */
typedef struct nes_timed_codec {
    nes_codec codec;                     /**< give this one to the transform */
    const nes_codec *inner;              /**< the real codec */
    uint64_t busy_ns, first_ns, last_ns; /**< busy_ns, last_ns: set by nes_timed_codec_span */
    uint64_t now_ns; /**< the clock read by nes_timed_codec_span (0 before it, or without a field):
                        the pass's end, for the caller's enclosing span */
    uint64_t first_tick, last_tick, busy_ticks;
    unsigned calls;
} nes_timed_codec;

/** Wraps `inner` (which must outlive `t`). */
void nes_timed_codec_init(nes_timed_codec *t, const nes_codec *inner);

/** Records the crypto span as a child of `parent` (nothing when no field was processed); fills
 * in `busy_ns`, `last_ns` and `now_ns`. */
void nes_timed_codec_span(nes_timed_codec *t, const nes_span *parent, bool decrypt);

#endif
