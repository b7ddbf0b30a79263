/* spanrec.h - a span record: ended spans of one trace packed into bytes, as the exporter's
 * queue (queue.h) carries them.
 *
 * A request's spans (the server span, schema resolution, body traversal, encryption) end within
 * a few microseconds of each other; trace.c gathers them into one record, so a request costs
 * one queue reservation and writes its trace id once, and the exporter expands the record into
 * the same OTLP spans it would have got one by one. Layout (native byte order: the record never
 * leaves the process):
 *
 *     trace_id[16], then per span: span_id[8] parent_id[8] name(pointer) start_ns end_ns
 *     kind error nattr, then per attribute: key(pointer), a tag byte (NES_SPANREC_INT, or a
 *     string's length) and the integer's 8 bytes or the string's bytes
 *
 * Names and attribute keys are static strings (trace.h), so their pointers stay valid. A span
 * with all its attributes at full length takes NES_SPANREC_SPAN_MAX bytes; a request's four
 * spans take about 330. */
#ifndef NES_OBS_OTEL_SPANREC_H
#define NES_OBS_OTEL_SPANREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "obs/otel/trace.h"

/** The tag byte of an integer attribute. */
#define NES_SPANREC_INT 0xFFu
/** Bytes of the record's head (the trace id). */
#define NES_SPANREC_HEAD 16
/** The most bytes one span takes in a record. */
#define NES_SPANREC_SPAN_MAX                                                                       \
    (8 + 8 + sizeof(const char *) + 8 + 8 + 3 +                                                    \
     NES_SPAN_MAX_ATTRS * (sizeof(const char *) + 1 + NES_SPAN_ATTR_STR - 1))
/** The largest record trace.c makes (a record that would grow past it is handed over first). */
#define NES_SPANREC_MAX 512

/** Writes the record's head for `s`'s trace at `out` (NES_SPANREC_HEAD bytes). */
void nes_spanrec_head(uint8_t *out, const nes_span *s);

/** Appends `s` (of the head's trace) at `out`, which has `room` bytes: the bytes written, or 0
 * when they do not fit. */
size_t nes_spanrec_put(uint8_t *out, size_t room, const nes_span *s);

/** An attribute read from a record: its value points into the record. */
typedef struct nes_spanrec_attr {
    const char *key;
    bool is_int;
    int64_t i;
    const char *s; /**< the string's `len` bytes (no NUL) */
    size_t len;
} nes_spanrec_attr;

/** A span read from a record, in place: ids and strings point into the record (which must
 * outlive it). The fields mean what nes_span's do. */
typedef struct nes_spanrec_span {
    const uint8_t *trace_id, *span_id, *parent_id;
    const char *name;
    uint64_t start_ns, end_ns;
    uint8_t kind;
    bool error;
    unsigned nattr;
    nes_spanrec_attr attr[NES_SPAN_MAX_ATTRS];
} nes_spanrec_span;

/** Reads the span at *off in the record `rec` (`len` bytes; *off starts at NES_SPANREC_HEAD)
 * into `s` and moves *off past it: 1, or 0 at the record's end or when the bytes there are not
 * a whole span. */
int nes_spanrec_next(const uint8_t *rec, size_t len, size_t *off, nes_spanrec_span *s);

#endif
