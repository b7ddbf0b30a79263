/* pb.h - a protobuf wire-format writer: the few field types the OTLP messages need.
 *
 * The writer appends to a nes_buf and keeps the first failure (the buffer refusing to grow) in
 * `err`, so an encoder writes its fields without checking each one and looks at `err` once at
 * the end. A nested message is written in place: nes_pb_begin writes its tag and a one-byte
 * length, nes_pb_end fills the length in and, when the message is 128 bytes or more, moves it
 * up to make room for the longer varint. Field numbers must be 1..2^29-1; nothing else is
 * checked. Pure: no I/O, no globals.
 *
 *     nes_pb w = {.out = &buf};
 *     size_t kv = nes_pb_begin(&w, 1);       // KeyValue as field 1
 *     nes_pb_str(&w, 1, "service.name", 12); //   key
 *     nes_pb_end(&w, kv);
 *     if (w.err) ...                         // the buffer refused to grow
 */
#ifndef NES_ENCLAVE_OTEL_PB_H
#define NES_ENCLAVE_OTEL_PB_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/** A writer over `out`; `err` becomes -1 at the first append that fails. */
typedef struct nes_pb {
    nes_buf *out;
    int err;
} nes_pb;

/** Field `field` as a varint (uint32/64, int64 as its two's complement, bool, enum). */
void nes_pb_varint(nes_pb *w, unsigned field, uint64_t v);

/** Field `field` as 8 little-endian bytes (fixed64, sfixed64). */
void nes_pb_fixed64(nes_pb *w, unsigned field, uint64_t v);

/** Field `field` as a double (8 little-endian bytes of its IEEE 754 form). */
void nes_pb_double(nes_pb *w, unsigned field, double v);

/** Field `field` as length-delimited bytes (bytes, string: the caller gives valid UTF-8). */
void nes_pb_bytes(nes_pb *w, unsigned field, const void *p, size_t n);

/** The same for a NUL-terminated string. */
void nes_pb_str(nes_pb *w, unsigned field, const char *s);

/** Starts a nested message as field `field`; returns the mark nes_pb_end takes. */
size_t nes_pb_begin(nes_pb *w, unsigned field);

/** Ends the nested message started at `mark` (writes its length). */
void nes_pb_end(nes_pb *w, size_t mark);

/** A packed repeated fixed64 / double field of `n` values. */
void nes_pb_packed_fixed64(nes_pb *w, unsigned field, const uint64_t *v, size_t n);
void nes_pb_packed_double(nes_pb *w, unsigned field, const double *v, size_t n);

#endif
