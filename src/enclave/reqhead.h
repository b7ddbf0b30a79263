/* reqhead.h - the HTTP codec (src/http) as the connection code uses it: a parsed request head
 * whose method, target and header values are NUL-terminated in place (routes.h wants C strings),
 * and the chunked body decoded in place.
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

#include "http/chunked.h"
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
    const char *method; /**< NUL-terminated in the buffer */
    const char *target; /**< NUL-terminated in the buffer */
    bool chunked;
    uint64_t content_length; /**< 0 unless length-framed */
    bool keep_alive;
    bool expect_continue;
    bool is_head_method;
    size_t scan;      /**< where the codec's end-of-head search resumes */
    nes_h1_request h; /**< last: it ends in its 4 KiB header array */
} nes_reqhead;

/** Parses the head at buf[0 .. len) (resuming the end-of-head search at h->scan; reset h->scan to
 * 0 when the buffer's start moves). > 0: the head's length, `h` filled and its strings terminated
 * in `buf`; 0: more bytes needed; -1: refused (`why` set). */
long nes_reqhead_parse(nes_reqhead *h, char *buf, size_t len, nes_refusal *why);

/** The value of header `name` (case-insensitive) of the nes_reqhead `head`, or NULL. */
const char *nes_reqhead_header(const void *head, const char *name);

/** Chunked body decoder state. */
typedef nes_h1_chunked nes_chunks;

/** Starts decoding a chunked body (the codec's default limits). */
void nes_chunks_init(nes_chunks *c);

/** Decodes in place from in[0 .. len): the chunk data found moves to in[0 .. *dlen), *used is the
 * input consumed. Returns 1 when the body ended (trailers included; in + *used is the next
 * request), 0 when more input is needed, -1 when refused (`why` set). */
int nes_chunks_step(nes_chunks *c, uint8_t *in, size_t len, size_t *used, size_t *dlen,
                    nes_refusal *why);

#endif
