/* buf.h - a growable byte buffer with an optional hard cap, and byte-string copies. */
#ifndef NES_BUF_H
#define NES_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/** Growable byte buffer. Zero-initialise (`nes_buf b = {0};`) before use. `max` = 0: no cap. */
typedef struct nes_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
} nes_buf;

/** Ensures room for `extra` more bytes; returns 0, or -1 when allocation fails or the cap would
 * be exceeded (the buffer is unchanged then). */
int nes_buf_reserve(nes_buf *b, size_t extra);

/** Appends `n` bytes; returns 0 or -1 as nes_buf_reserve. */
int nes_buf_append(nes_buf *b, const void *p, size_t n);

/** Appends printf-style text, formatted in place (`len` grows by the text's length; the NUL
 * vsnprintf writes after it lies beyond `len`, so it needs room, under b->max too). Returns 0, or
 * -1 as nes_buf_reserve or when the format fails (`len` is unchanged then). */
int nes_buf_appendf(nes_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** As nes_buf_appendf with a va_list (for a program's own printf-like wrappers). */
int nes_buf_vappendf(nes_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/** The status an append of `n` bytes to `b` failed with: NES_ERR_LIMIT when b->max forbids it,
 * else NES_ERR_NOMEM. */
nes_status nes_buf_fail_status(const nes_buf *b, size_t n);

/** Releases the storage (wiping it first: buffers may hold plaintext) and zeroes the struct. */
void nes_buf_free(nes_buf *b);

/** A malloc'd copy of the `n` bytes at `s` followed by a NUL (the bytes may hold NULs; `s` may be
 * NULL when n is 0). NULL when allocation fails. */
char *nes_dup_bytes(const char *s, size_t n);

#endif
