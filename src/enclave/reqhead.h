/* reqhead.h - the HTTP codec (src/http) as the connection code uses it: a parsed request head
 * whose method, target and header values are NUL-terminated in place (routes.h wants C strings),
 * the chunked body decoder, and the Date header value.
 *
 * The codec returns slices into the connection's input buffer. Once a head is complete nothing
 * parses those bytes again, so the byte after each slice (SP, CR, LF or whitespace) is replaced
 * by a NUL; the codec refuses NUL inside a head, so every string is exactly the slice. */
#ifndef NES_ENCLAVE_REQHEAD_H
#define NES_ENCLAVE_REQHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/request.h"

/** Largest request head accepted (longer: 431). */
#define NES_REQHEAD_MAX 16384

/** Why the codec refused a request: the status to answer, a fixed reason and the byte offset
 * ((size_t)-1: none). */
typedef struct nes_refusal {
    unsigned status;
    const char *reason;
    size_t offset;
} nes_refusal;

/** A parsed request head. */
typedef struct nes_reqhead {
    nes_h1_request h;
    const char *method; /**< NUL-terminated in the buffer */
    const char *target; /**< NUL-terminated in the buffer */
    bool chunked;
    uint64_t content_length; /**< 0 unless length-framed */
    bool keep_alive;
    bool expect_continue;
    bool is_head_method;
    size_t scan; /**< where the codec's end-of-head search resumes */
} nes_reqhead;

/** Parses the head at buf[0 .. len) (resuming the end-of-head search at h->scan; reset h->scan to
 * 0 when the buffer's start moves). > 0: the head's length, `h` filled and its strings terminated
 * in `buf`; 0: more bytes needed; -1: refused (`why` set). */
long nes_reqhead_parse(nes_reqhead *h, char *buf, size_t len, nes_refusal *why);

/** The value of header `name` (case-insensitive) of the nes_reqhead `head`, or NULL. */
const char *nes_reqhead_header(const void *head, const char *name);

/** Chunked body decoder state. */
typedef struct nes_chunks {
    int state;
    uint64_t left; /* bytes left in the current chunk */
    size_t digits, ext, trailer;
} nes_chunks;

/** Starts decoding a chunked body. */
void nes_chunks_init(nes_chunks *c);

/** Decodes from in[0 .. len): sets *used (input consumed) and the data slice *data / *dlen (inside
 * `in`; the caller handles it before the next call). Returns 1 when the body ended (trailers
 * included), 0 when more input is needed or more data follows, -1 when refused (`why` set). */
int nes_chunks_step(nes_chunks *c, const uint8_t *in, size_t len, size_t *used,
                    const uint8_t **data, size_t *dlen, nes_refusal *why);

/** Writes the IMF-fixdate of `t` ("Sun, 06 Nov 1994 08:49:37 GMT") to `out`. */
void nes_http_date(time_t t, char *out, size_t cap);

#endif
