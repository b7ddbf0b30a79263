/* reqhead.c - the HTTP codec as the connection code uses it (see reqhead.h). */
#include "enclave/reqhead.h"

#include <stdio.h>
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

/* ---- chunked decoding and the date: interim, until http/chunked.h and http/writer.h land ---- */

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TR, CH_TR_END, CH_TR_LINE, CH_TR_LF };

void nes_chunks_init(nes_chunks *c)
{
    memset(c, 0, sizeof(*c));
}

static int refuse(nes_refusal *why, unsigned status, const char *reason)
{
    why->status = status;
    why->reason = reason;
    why->offset = (size_t)-1;
    return -1;
}

static int hexval(uint8_t b)
{
    if (b >= '0' && b <= '9')
        return b - '0';
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    if (b >= 'A' && b <= 'F')
        return b - 'A' + 10;
    return -1;
}

int nes_chunks_step(nes_chunks *c, const uint8_t *in, size_t len, size_t *used,
                    const uint8_t **data, size_t *dlen, nes_refusal *why)
{
    *data = NULL;
    *dlen = 0;
    size_t i = 0;
    while (i < len) {
        uint8_t b = in[i];
        switch (c->state) {
        case CH_SIZE: {
            int v = hexval(b);
            if (v >= 0) {
                if (++c->digits > 16)
                    return refuse(why, 400, "chunk size too long");
                c->left = c->left * 16 + (uint64_t)v;
                i++;
                break;
            }
            if (c->digits == 0)
                return refuse(why, 400, "bad chunk size");
            if (b == ';') {
                c->state = CH_EXT;
            } else if (b == '\r') {
                c->state = CH_SIZE_LF;
            } else if (b == '\n') {
                c->state = c->left ? CH_DATA : CH_TR;
            } else {
                return refuse(why, 400, "bad chunk size");
            }
            i++;
            break;
        }
        case CH_EXT:
            if (b == '\r' || b == '\n') {
                c->state = b == '\r' ? CH_SIZE_LF : (c->left ? CH_DATA : CH_TR);
            } else if (++c->ext > 1024 || b < 0x09 || b == 0x7f) {
                return refuse(why, 400, "bad chunk extension");
            }
            i++;
            break;
        case CH_SIZE_LF:
            if (b != '\n')
                return refuse(why, 400, "bare CR in chunk line");
            c->state = c->left ? CH_DATA : CH_TR;
            i++;
            break;
        case CH_DATA: {
            size_t n = len - i < c->left ? len - i : (size_t)c->left;
            *data = in + i;
            *dlen = n;
            c->left -= n;
            i += n;
            if (c->left == 0)
                c->state = CH_DATA_CR;
            *used = i;
            return 0;
        }
        case CH_DATA_CR:
            if (b == '\n') {
                c->state = CH_SIZE;
                c->digits = c->ext = 0;
            } else if (b == '\r') {
                c->state = CH_DATA_LF;
            } else {
                return refuse(why, 400, "chunk data longer than its size");
            }
            i++;
            break;
        case CH_DATA_LF:
            if (b != '\n')
                return refuse(why, 400, "bare CR after chunk data");
            c->state = CH_SIZE;
            c->digits = c->ext = 0;
            i++;
            break;
        case CH_TR: /* start of a trailer line or the final empty line */
            if (b == '\n') {
                *used = i + 1;
                return 1;
            }
            c->state = b == '\r' ? CH_TR_END : CH_TR_LINE;
            if (b != '\r' && ++c->trailer > 8192)
                return refuse(why, 431, "trailers too large");
            i++;
            break;
        case CH_TR_END:
            if (b != '\n')
                return refuse(why, 400, "bare CR in trailer");
            *used = i + 1;
            return 1;
        case CH_TR_LINE:
            if (++c->trailer > 8192)
                return refuse(why, 431, "trailers too large");
            if (b == '\n')
                c->state = CH_TR;
            else if (b == '\r')
                c->state = CH_TR_LF;
            i++;
            break;
        case CH_TR_LF:
            if (b != '\n')
                return refuse(why, 400, "bare CR in trailer");
            i++;
            c->state = CH_TR;
            break;
        default:
            return refuse(why, 400, "bad chunked body");
        }
    }
    *used = i;
    return 0;
}

void nes_http_date(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}
