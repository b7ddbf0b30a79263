/* reqhead.c - the HTTP codec as the connection code uses it (see reqhead.h). */
#include "enclave/reqhead.h"

#include <string.h>

static const nes_h1_limits limits = {.max_head_bytes = NES_REQHEAD_MAX};

/* Replaces the separator after slice `s` of `buf` (inside the parsed head) by a NUL. */
static void terminate(char *buf, nes_h1_str s)
{
    buf[(size_t)(s.p - buf) + s.len] = '\0';
}

long nes_reqhead_parse(nes_reqhead *h, char *buf, size_t len, nes_refusal *why)
{
    if (nes_h1_head_end(buf, len, &h->scan) == 0 && len < NES_REQHEAD_MAX)
        return 0;
    nes_h1_error err = {0};
    int r = nes_h1_parse_request(buf, len, &limits, &h->h, &err);
    if (r < 0) {
        why->status = (unsigned)err.status;
        why->reason = err.reason;
        why->offset = err.offset;
        return -1;
    }
    if (r == 0)
        return 0;
    terminate(buf, h->h.method_name);
    terminate(buf, h->h.target);
    for (size_t i = 0; i < h->h.nheaders; i++)
        terminate(buf, h->h.headers[i].value);
    h->method = h->h.method_name.p;
    h->target = h->h.target.p;
    h->chunked = h->h.framing == NES_H1_BODY_CHUNKED;
    h->content_length = h->h.framing == NES_H1_BODY_LENGTH ? h->h.content_length : 0;
    h->keep_alive = h->h.keep_alive;
    h->expect_continue = h->h.expect_continue;
    h->is_head_method = h->h.method == NES_H1_M_HEAD;
    h->scan = 0;
    return r;
}

const char *nes_reqhead_header(const void *head, const char *name)
{
    const nes_reqhead *h = head;
    const nes_h1_header *f = nes_h1_request_header(&h->h, name);
    return f != NULL ? f->value.p : NULL;
}

/* ---- chunked bodies --------------------------------------------------------------------- */

void nes_chunks_init(nes_chunks *c)
{
    nes_h1_chunked_init(c, NULL);
}

int nes_chunks_step(nes_chunks *c, uint8_t *in, size_t len, size_t *used, size_t *dlen,
                    nes_refusal *why)
{
    nes_h1_error err = {0};
    int r = nes_h1_chunked_decode(c, (const char *)in, len, used, (char *)in, len, dlen, &err);
    if (r < 0) {
        why->status = (unsigned)err.status;
        why->reason = err.reason;
        why->offset = (size_t)-1; /* the offset counts from the body start: not the head's */
    }
    return r;
}
