/* fuzz_http_chunked.c - the chunked decoder alone, differentially: the input decoded in one call
 * into a buffer as large as the input; decoded in two pieces (split at a fuzzer-chosen point)
 * into an output buffer of 1..8 bytes; and in two pieces through nes_h1_chunked_next (data as
 * slices of the input) must give the same data, the same end or refusal (status, reason,
 * offset) and the same count of consumed bytes; decoded data never outgrows the input used.
 * Input: byte 0 = flags (bits 0-2 output room - 1, bit 3 small limits), bytes 1-2 = split
 * point, then the body bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct result {
    int rc;
    nes_h1_error err;
    uint64_t consumed;
    size_t out_len;
} result;

/* Decodes in[0..len) fed as [0..k) and [k..len) into `out` through a room of `room` bytes. */
static result decode(const nes_h1_limits *lim, const char *in, size_t len, size_t k, size_t room,
                     char *out)
{
    nes_h1_chunked c;
    nes_h1_chunked_init(&c, lim);
    result r = {0};
    char tmp[8] = {0};
    size_t ends[2] = {k, len}, pos = 0;
    for (int piece = 0; piece < 2 && r.rc == 0; piece++) {
        while (pos < ends[piece]) {
            size_t used, out_len;
            char *dst = room ? tmp : out + r.out_len;
            size_t cap = room ? room : len;
            r.rc = nes_h1_chunked_decode(&c, in + pos, ends[piece] - pos, &used, dst, cap, &out_len,
                                         &r.err);
            if (out_len > used || used > ends[piece] - pos || out_len > cap)
                abort();
            if (room)
                memcpy(out + r.out_len, tmp, out_len);
            r.out_len += out_len;
            pos += used;
            if (r.rc != 0 || (used == 0 && out_len == 0))
                break;
        }
    }
    r.consumed = c.consumed;
    if (r.consumed != pos || (r.rc == 1) != nes_h1_chunked_done(&c))
        abort();
    return r;
}

/* The same through nes_h1_chunked_next: data as slices of the input. */
static result slices(const nes_h1_limits *lim, const char *in, size_t len, size_t k, char *out)
{
    nes_h1_chunked c;
    nes_h1_chunked_init(&c, lim);
    result r = {0};
    size_t ends[2] = {k, len}, pos = 0;
    for (int piece = 0; piece < 2 && r.rc == 0; piece++) {
        while (pos < ends[piece] && r.rc == 0) {
            size_t used, dlen;
            const char *d;
            r.rc = nes_h1_chunked_next(&c, in + pos, ends[piece] - pos, &used, &d, &dlen, &r.err);
            if (used > ends[piece] - pos || dlen > used ||
                (dlen && (d < in + pos || d + dlen > in + pos + used)))
                abort();
            if (dlen != 0)
                memcpy(out + r.out_len, d, dlen);
            r.out_len += dlen;
            pos += used;
            if (used == 0)
                break;
        }
    }
    r.consumed = c.consumed;
    if (r.consumed != pos)
        abort();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const nes_h1_limits small = {
        .max_chunk_size_digits = 3, .max_chunk_ext_bytes = 8, .max_trailer_bytes = 16};
    const nes_h1_limits *lim = (data[0] & 8) ? &small : NULL;
    const char *in = (const char *)data + 3;
    size_t len = size - 3;
    size_t k = len ? ((size_t)data[1] | (size_t)data[2] << 8) % len : 0;
    char *a = malloc(len + 1), *b = malloc(len + 1);
    if (a == NULL || b == NULL)
        abort();
    result ra = decode(lim, in, len, len, 0, a);
    for (int variant = 0; variant < 2; variant++) {
        result rb = variant == 0 ? decode(lim, in, len, k, 1 + (data[0] & 7), b)
                                 : slices(lim, in, len, k, b);
        if (ra.rc != rb.rc || ra.consumed != rb.consumed || ra.out_len != rb.out_len ||
            memcmp(a, b, ra.out_len) != 0)
            abort();
        if (ra.rc < 0 && (ra.err.status != rb.err.status || ra.err.offset != rb.err.offset ||
                          strcmp(ra.err.reason, rb.err.reason) != 0))
            abort();
    }
    free(a);
    free(b);
    return 0;
}
