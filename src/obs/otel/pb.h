/* pb.h - a protobuf wire-format writer: the few field types the OTLP messages need.
 *
 * The writer appends to a nes_buf and keeps the first failure (the buffer refusing to grow) in
 * `err`, so an encoder writes its fields without checking each one and looks at `err` once at
 * the end. A nested message is written in place: nes_pb_begin writes its tag and a one-byte
 * length, nes_pb_end fills the length in and, when the message is 128 bytes or more, moves it
 * up to make room for the longer varint. A message whose length the encoder counts first
 * (nes_pb_varint_len, nes_pb_field_len) starts with nes_pb_begin_len instead and is never moved:
 * the hot encoders (spans, log records) do that. Field numbers must be 1..2^29-1; nothing else
 * is checked. Pure: no I/O, no globals.
 *
 *     nes_pb w = {.out = &buf};
 *     size_t kv = nes_pb_begin(&w, 1);       // KeyValue as field 1
 *     nes_pb_str(&w, 1, "service.name");     //   key
 *     nes_pb_end(&w, kv);
 *     if (w.err) ...                         // the buffer refused to grow
 */
#ifndef NES_OBS_OTEL_PB_H
#define NES_OBS_OTEL_PB_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/** A writer over `out`; `err` becomes -1 at the first append that fails. */
typedef struct nes_pb {
    nes_buf *out;
    int err;
} nes_pb;

/** Appends n raw bytes, growing the buffer (the writers' slow path; also usable directly). */
void nes_pb_put(nes_pb *w, const void *p, size_t n);

/** Ends the nested message started at `mark` (writes its length). */
void nes_pb_end(nes_pb *w, size_t mark);

/* The writers below are inline: an encoder's field numbers and wire types are constants, so a
 * tag becomes a constant byte and a field a few stores while the buffer has room. */

/** (internal) A varint at p; its length. */
static inline size_t nes_pb_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/** (internal) A tag (`key` = field << 3 | wire type) and, when `with_value`, a varint. */
static inline void nes_pb_tag(nes_pb *w, uint64_t key, uint64_t v, int with_value)
{
    nes_buf *b = w->out;
    uint8_t tmp[20];
    uint8_t *d = w->err == 0 && b->cap - b->len >= sizeof(tmp) ? b->data + b->len : tmp;
    size_t n = nes_pb_put_varint(d, key);
    if (with_value)
        n += nes_pb_put_varint(d + n, v);
    if (d == tmp)
        nes_pb_put(w, tmp, n);
    else
        b->len += n;
}

/** (internal) n raw bytes: short ones inline while the buffer has room, else nes_pb_put. */
static inline void nes_pb_raw(nes_pb *w, const void *p, size_t n)
{
    nes_buf *b = w->out;
    if (w->err == 0 && n <= 16 && b->cap - b->len >= 16) {
        uint8_t *d = b->data + b->len;
        const uint8_t *src = p;
        if (n >= 8) { /* two overlapping fixed-size moves */
            __builtin_memcpy(d, src, 8);
            __builtin_memcpy(d + n - 8, src + n - 8, 8);
        } else {
            for (size_t i = 0; i < n; i++)
                d[i] = src[i];
        }
        b->len += n;
        return;
    }
    nes_pb_put(w, p, n);
}

/** Field `field` as a varint (uint32/64, int64 as its two's complement, bool, enum). */
static inline void nes_pb_varint(nes_pb *w, unsigned field, uint64_t v)
{
    nes_pb_tag(w, (uint64_t)field << 3, v, 1);
}

/** Field `field` as 8 little-endian bytes (fixed64, sfixed64). */
static inline void nes_pb_fixed64(nes_pb *w, unsigned field, uint64_t v)
{
    uint8_t le[8];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    __builtin_memcpy(le, &v, 8); /* one move (GCC 12 at -O2 keeps the loop below) */
#else
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(v >> (8 * i));
#endif
    nes_pb_tag(w, (uint64_t)field << 3 | 1, 0, 0);
    nes_pb_raw(w, le, 8);
}

/** Field `field` as a double (8 little-endian bytes of its IEEE 754 form). */
static inline void nes_pb_double(nes_pb *w, unsigned field, double v)
{
    uint64_t u;
    __builtin_memcpy(&u, &v, sizeof(u));
    nes_pb_fixed64(w, field, u);
}

/** Field `field` as length-delimited bytes (bytes, string: the caller gives valid UTF-8). */
static inline void nes_pb_bytes(nes_pb *w, unsigned field, const void *p, size_t n)
{
    nes_pb_tag(w, (uint64_t)field << 3 | 2, n, 1);
    if (n > 0)
        nes_pb_raw(w, p, n);
}

/** The same for a NUL-terminated string. */
static inline void nes_pb_str(nes_pb *w, unsigned field, const char *s)
{
    nes_pb_bytes(w, field, s, __builtin_strlen(s));
}

/** The length of `v` as a varint (1 to 10 bytes). */
static inline size_t nes_pb_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/** Length of a length-delimited field of `n` bytes, field number below 16 (a one-byte tag). */
static inline size_t nes_pb_field_len(size_t n)
{
    return 1 + nes_pb_varint_len(n) + n;
}

/** Starts a nested message of a known length `len` as field `field` (no nes_pb_end: the
 * caller writes exactly `len` bytes of fields next). */
static inline void nes_pb_begin_len(nes_pb *w, unsigned field, size_t len)
{
    nes_pb_tag(w, (uint64_t)field << 3 | 2, len, 1);
}

/** Starts a nested message as field `field`; returns the mark nes_pb_end takes. */
static inline size_t nes_pb_begin(nes_pb *w, unsigned field)
{
    nes_pb_tag(w, (uint64_t)field << 3 | 2, 0, 1); /* the length byte, filled in by nes_pb_end */
    return w->out->len;
}

#endif
