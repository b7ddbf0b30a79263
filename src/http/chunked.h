/* chunked.h - incremental decoder of the chunked transfer coding (RFC 9112 §7.1), both sides.
 *
 * A byte-at-a-time state machine, so any split of the input gives the same output and the same
 * refusal: feed whatever bytes arrived, get the chunk data out (in place or into another buffer)
 * and learn how many input bytes were used. When the body ends (last chunk, trailer section and
 * its empty line), decoding stops right after it: the bytes after in + *in_used belong to the
 * next pipelined message. No allocation; the state is this struct.
 *
 * Strict: chunk-size is 1*HEXDIG (at most limits.max_chunk_size_digits, leading zeros counted);
 * chunk extensions follow the grammar (`BWS ";" BWS name [BWS "=" BWS (token / quoted-string)]`)
 * and are skipped, at most limits.max_chunk_ext_bytes per chunk line; every line ends in CRLF or
 * a bare LF (never a bare CR); chunk data is followed by its line end; trailer fields are checked
 * like header fields (token name, no whitespace before the colon, no obs-fold, no CTL in values)
 * and discarded, at most limits.max_trailer_bytes in all.
 * Refusals: 400 (syntax, too many size digits, extensions too long, the decoded body passing
 * 2^64-1), 431 (trailer section too large). On the response side any refusal means 502. */
#ifndef NES_HTTP_CHUNKED_H
#define NES_HTTP_CHUNKED_H

#include "http/h1.h"

/** Decoder state. Initialise with nes_h1_chunked_init(); read body_bytes and consumed freely,
 * the rest is private. */
typedef struct nes_h1_chunked {
    uint64_t body_bytes; /**< chunk data bytes announced by the chunk sizes so far, the current
                              chunk's included: a MAX_BODY_BYTES check can refuse (413) before
                              the data arrives */
    uint64_t consumed;   /**< input bytes used so far (error offsets count from the body start) */
    uint64_t remaining;  /* data bytes left in the current chunk */
    size_t count;        /* digits, extension or trailer bytes counted on the current line */
    size_t trailer_bytes;
    int state;
    nes_h1_error error; /* the refusal, repeated by later calls */
    nes_h1_limits lim;
} nes_h1_chunked;

/** Starts decoding one chunked body with `lim` (NULL: defaults). */
void nes_h1_chunked_init(nes_h1_chunked *c, const nes_h1_limits *lim);

/** Decodes from in[0 .. in_len). Chunk data goes to out[0 .. out_cap) (*out_len bytes; `out` may
 * be `in` itself: the data only ever moves towards the start), *in_used tells how much input was
 * used. Returns 1 when the body is complete (in + *in_used is the next message), 0 when more
 * input is needed (then *in_used == in_len) or `out` is full (*in_used < in_len: call again with
 * the rest and fresh room), -1 when refused (`err` set when not NULL, offset from the body
 * start; every later call refuses again). */
int nes_h1_chunked_decode(nes_h1_chunked *c, const char *in, size_t in_len, size_t *in_used,
                          char *out, size_t out_cap, size_t *out_len, nes_h1_error *err);

/** The zero-copy form of nes_h1_chunked_decode: decodes from in[0 .. in_len) up to and including
 * at most one run of chunk data, which is returned as a slice of the input (*data, *data_len;
 * NULL and 0 when none). *in_used counts every byte used, the data run included. Returns 1 when
 * the body is complete, 0 when the caller should call again with in + *in_used (more input is
 * needed once *in_used == in_len), -1 when refused (as nes_h1_chunked_decode). Both forms may be
 * mixed on one body. */
int nes_h1_chunked_next(nes_h1_chunked *c, const char *in, size_t in_len, size_t *in_used,
                        const char **data, size_t *data_len, nes_h1_error *err);

/** True once the body is complete. */
bool nes_h1_chunked_done(const nes_h1_chunked *c);

#endif
