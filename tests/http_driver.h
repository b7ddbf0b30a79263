/* http_driver.h - a simulated connection over the HTTP/1.1 codec (src/http), for the unit tests
 * (tests/unit/http) and the fuzzers (fuzz/fuzz_http_*.c). Header-only.
 *
 * h1d_run() feeds a byte stream in pieces (cut points chosen by the caller), parses pipelined
 * requests or responses as a server or a proxy would (head, then the body by its framing, then
 * the next head; stop at a refusal or after a message that closes the connection) and writes
 * every event as a line of text. Feeding the same stream whole, split anywhere or byte by byte
 * must give the same text: that is the codec's "any split" promise, checked by comparing
 * strings.
 *
 * Log lines:
 *   req <method> <target> 1.<minor> host=<host|-> <none|len=N|chunked> ka=<0|1>[ continue]
 *   res <status> 1.<minor> <none|len=N|chunked|close> ka=<0|1> reason=<reason>
 *     <name>: <value>            one per header field (two leading spaces)
 *   body <N> =<content>          (content when short and printable, else #<fnv-1a hash>)
 *   error <status> <reason> @<offset in the stream>
 *   close                        the message ended the connection (keep-alive off)
 *   eof[ head N| body]           end of input (with what was left unfinished)
 * h1d_normalize() drops `#...` and `@...` words and, unless asked, the header lines, so tables
 * can state expectations briefly. Bytes outside printable ASCII are written as \xNN. */
#ifndef NES_TEST_HTTP_DRIVER_H
#define NES_TEST_HTTP_DRIVER_H

#include "core/buf.h"
#include "http/chunked.h"
#include "http/request.h"
#include "http/response.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct h1d_opts {
    const nes_h1_limits *lim;
    int responses;            /* 0: a stream of requests, 1: a stream of responses */
    nes_h1_method req_method; /* responses: the method they answer */
    int gate;       /* 1: parse a head only once nes_h1_head_end finds its end (or the limit) */
    size_t out_cap; /* chunked data room per decode call; 0: decode in place */
    int zero_copy;  /* 1: nes_h1_chunked_next (data as slices of the input) */
} h1d_opts;

enum { H1D_HEAD, H1D_LEN, H1D_CHUNKED, H1D_CLOSE, H1D_STOP };

typedef struct h1d_conn {
    const h1d_opts *o;
    nes_h1_limits lim;
    char *buf;
    size_t avail, pos, scan;
    int state;
    int keep_alive;
    uint64_t remaining, body_len, body_start;
    uint32_t hash;
    char shown[17];
    size_t shown_len;
    nes_h1_chunked ch;
    nes_buf *log;
} h1d_conn;

static inline void h1d_printf(nes_buf *log, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void h1d_printf(nes_buf *log, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        nes_buf_append(log, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static inline void h1d_bytes(nes_buf *log, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            nes_buf_append(log, &p[i], 1);
        else
            h1d_printf(log, "\\x%02x", c);
    }
}

static inline void h1d_headers(nes_buf *log, const nes_h1_header *hs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        nes_buf_append(log, "  ", 2);
        h1d_bytes(log, hs[i].name.p, hs[i].name.len);
        nes_buf_append(log, ": ", 2);
        h1d_bytes(log, hs[i].value.p, hs[i].value.len);
        nes_buf_append(log, "\n", 1);
    }
}

static inline const char *h1d_framing(nes_h1_framing f)
{
    switch (f) {
    case NES_H1_BODY_NONE:
        return "none";
    case NES_H1_BODY_LENGTH:
        return "len";
    case NES_H1_BODY_CHUNKED:
        return "chunked";
    case NES_H1_BODY_CLOSE:
        return "close";
    }
    return "?";
}

static inline void h1d_body_bytes(h1d_conn *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c->hash = (c->hash ^ (unsigned char)p[i]) * 16777619u;
        if (c->shown_len < sizeof c->shown)
            c->shown[c->shown_len++] = p[i];
    }
    c->body_len += n;
}

static inline void h1d_body_start(h1d_conn *c)
{
    c->hash = 2166136261u;
    c->body_len = 0;
    c->shown_len = 0;
    c->body_start = c->pos;
}

static inline void h1d_body_end(h1d_conn *c)
{
    int printable = c->body_len < sizeof c->shown;
    for (size_t i = 0; printable && i < c->shown_len; i++)
        printable = c->shown[i] >= 0x20 && c->shown[i] < 0x7f;
    if (c->body_len == 0)
        h1d_printf(c->log, "body 0\n");
    else if (printable)
        h1d_printf(c->log, "body %" PRIu64 " =%.*s\n", c->body_len, (int)c->shown_len, c->shown);
    else
        h1d_printf(c->log, "body %" PRIu64 " #%08x\n", c->body_len, c->hash);
    if (!c->keep_alive) {
        h1d_printf(c->log, "close\n");
        c->state = H1D_STOP;
    } else {
        c->state = H1D_HEAD;
    }
}

static inline void h1d_error(h1d_conn *c, const nes_h1_error *e, uint64_t base)
{
    h1d_printf(c->log, "error %d %s @%" PRIu64 "\n", e->status, e->reason,
               base + (uint64_t)e->offset);
    c->state = H1D_STOP;
}

/* One head at buf + pos: 1 parsed, 0 waiting, -1 refused. */
static inline int h1d_head(h1d_conn *c, int final)
{
    const char *p = c->buf + c->pos;
    size_t n = c->avail - c->pos;
    if (c->o->gate && !final && nes_h1_head_end(p, n, &c->scan) == 0 && n < c->lim.max_head_bytes)
        return 0;
    nes_h1_error e = {0};
    nes_h1_framing f;
    uint64_t cl;
    int r;
    if (!c->o->responses) {
        static nes_h1_request req; /* large; tests are single-threaded */
        r = nes_h1_parse_request(p, n, &c->lim, &req, &e);
        if (r <= 0)
            goto out;
        h1d_printf(c->log, "req %.*s %.*s 1.%d host=", (int)req.method_name.len, req.method_name.p,
                   (int)req.target.len, req.target.p, req.minor_version);
        if (req.host.p != NULL)
            h1d_bytes(c->log, req.host.p, req.host.len);
        else
            h1d_printf(c->log, "-");
        f = req.framing;
        cl = req.content_length;
        c->keep_alive = req.keep_alive;
        if (f == NES_H1_BODY_LENGTH)
            h1d_printf(c->log, " len=%" PRIu64, cl);
        else
            h1d_printf(c->log, " %s", h1d_framing(f));
        h1d_printf(c->log, " ka=%d%s\n", req.keep_alive, req.expect_continue ? " continue" : "");
        h1d_headers(c->log, req.headers, req.nheaders);
    } else {
        static nes_h1_response res;
        r = nes_h1_parse_response(p, n, &c->lim, c->o->req_method, &res, &e);
        if (r <= 0)
            goto out;
        f = res.framing;
        cl = res.content_length;
        c->keep_alive = res.keep_alive;
        h1d_printf(c->log, "res %d 1.%d ", res.status, res.minor_version);
        if (f == NES_H1_BODY_LENGTH)
            h1d_printf(c->log, "len=%" PRIu64, cl);
        else
            h1d_printf(c->log, "%s", h1d_framing(f));
        h1d_printf(c->log, " ka=%d reason=", res.keep_alive);
        h1d_bytes(c->log, res.reason.p, res.reason.len);
        nes_buf_append(c->log, "\n", 1);
        h1d_headers(c->log, res.headers, res.nheaders);
        if (res.status < 200 && res.status != 101) {
            c->pos += (size_t)r; /* interim: the final response follows */
            c->scan = 0;
            return 1;
        }
    }
    c->pos += (size_t)r;
    c->scan = 0;
    h1d_body_start(c);
    switch (f) {
    case NES_H1_BODY_LENGTH:
        c->remaining = cl;
        c->state = H1D_LEN;
        if (cl == 0)
            h1d_body_end(c);
        break;
    case NES_H1_BODY_CHUNKED:
        nes_h1_chunked_init(&c->ch, &c->lim);
        c->state = H1D_CHUNKED;
        break;
    case NES_H1_BODY_CLOSE:
        c->state = H1D_CLOSE;
        break;
    case NES_H1_BODY_NONE:
        h1d_body_end(c);
        break;
    }
    return 1;
out:
    if (r < 0)
        h1d_error(c, &e, c->pos);
    return r;
}

/* Runs every complete step the bytes so far allow. */
static inline void h1d_step(h1d_conn *c)
{
    char room[64];
    for (;;) {
        size_t n = c->avail - c->pos;
        switch (c->state) {
        case H1D_HEAD:
            if (n == 0 || h1d_head(c, 0) <= 0)
                return;
            break;
        case H1D_LEN: {
            size_t k = n < c->remaining ? n : (size_t)c->remaining;
            h1d_body_bytes(c, c->buf + c->pos, k);
            c->pos += k;
            c->remaining -= k;
            if (c->remaining != 0)
                return;
            h1d_body_end(c);
            break;
        }
        case H1D_CHUNKED: {
            if (n == 0)
                return;
            size_t used, out_len;
            nes_h1_error e = {0};
            int r;
            if (c->o->zero_copy) {
                const char *data;
                r = nes_h1_chunked_next(&c->ch, c->buf + c->pos, n, &used, &data, &out_len, &e);
                h1d_body_bytes(c, data, out_len);
            } else {
                char *out = c->o->out_cap ? room : c->buf + c->pos;
                size_t cap =
                    c->o->out_cap ? (c->o->out_cap < sizeof room ? c->o->out_cap : sizeof room) : n;
                r = nes_h1_chunked_decode(&c->ch, c->buf + c->pos, n, &used, out, cap, &out_len,
                                          &e);
                h1d_body_bytes(c, out, out_len);
            }
            c->pos += used;
            if (r < 0) {
                h1d_error(c, &e, c->body_start);
                return;
            }
            if (r == 1)
                h1d_body_end(c);
            else if (used == n)
                return;
            break;
        }
        case H1D_CLOSE:
            h1d_body_bytes(c, c->buf + c->pos, n);
            c->pos += n;
            return;
        default:
            return;
        }
    }
}

/** Feeds in[0 .. len) in pieces that end at cuts[0 .. ncuts) (increasing, each < len) and at
 * len, and appends the events to `log`. */
static inline void h1d_run(const h1d_opts *o, const char *in, size_t len, const size_t *cuts,
                           size_t ncuts, nes_buf *log)
{
    h1d_conn c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.lim = o->lim ? *o->lim : nes_h1_limits_default;
    if (c.lim.max_head_bytes == 0)
        c.lim.max_head_bytes = nes_h1_limits_default.max_head_bytes;
    c.log = log;
    c.buf = malloc(len ? len : 1);
    if (c.buf == NULL)
        abort();
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        memcpy(c.buf + c.avail, in + c.avail, end - c.avail);
        c.avail = end;
        h1d_step(&c);
    }
    if (c.state == H1D_HEAD && c.avail > c.pos && o->gate)
        h1d_head(&c, 1); /* what an early parse would have refused */
    switch (c.state) {
    case H1D_HEAD:
        if (c.avail > c.pos)
            h1d_printf(log, "eof head %zu\n", c.avail - c.pos);
        else
            h1d_printf(log, "eof\n");
        break;
    case H1D_CLOSE:
        c.keep_alive = 1;
        h1d_body_end(&c);
        h1d_printf(log, "eof\n");
        break;
    case H1D_LEN:
    case H1D_CHUNKED:
        h1d_printf(log, "eof body\n");
        break;
    default:
        break;
    }
    free(c.buf);
}

/** h1d_run() into a fresh NUL-terminated malloc'd string. */
static inline char *h1d_run_str(const h1d_opts *o, const char *in, size_t len, const size_t *cuts,
                                size_t ncuts)
{
    nes_buf log = {0};
    h1d_run(o, in, len, cuts, ncuts, &log);
    char *s = nes_dup_bytes((const char *)log.data, log.len);
    nes_buf_free(&log);
    if (s == NULL)
        abort();
    return s;
}

/** The fuzzers' differential check (fuzz/fuzz_http_request.c, fuzz_http_response.c). Input:
 * byte 0 = flags (bits 0-1 a limits profile, bits 2-4 a chunk output room, bits 6-7 the request
 * method for responses: GET, HEAD, CONNECT, POST), bytes 1-2 = a split point, then the stream.
 * The stream fed whole, split there, gated, through a small chunk buffer, with zero-copy chunk
 * slices and (when short) byte by byte must give the same log; aborts when not. */
static inline void h1d_fuzz_differential(const uint8_t *data, size_t size, int responses)
{
    if (size < 3)
        return;
    static const nes_h1_limits profiles[4] = {
        {0},
        {.max_head_bytes = 64,
         .max_target_bytes = 16,
         .max_headers = 4,
         .max_chunk_size_digits = 3,
         .max_chunk_ext_bytes = 8,
         .max_trailer_bytes = 16},
        {.max_head_bytes = 300, .max_headers = 8},
        {.max_headers = NES_H1_MAX_HEADERS},
    };
    static const nes_h1_method methods[4] = {NES_H1_M_GET, NES_H1_M_HEAD, NES_H1_M_CONNECT,
                                             NES_H1_M_POST};
    const char *in = (const char *)data + 3;
    size_t len = size - 3;
    h1d_opts o = {
        .lim = &profiles[data[0] & 3], .responses = responses, .req_method = methods[data[0] >> 6]};
    char *whole = h1d_run_str(&o, in, len, NULL, 0);
    size_t k = len ? ((size_t)data[1] | (size_t)data[2] << 8) % len : 0;
    h1d_opts g = o;
    g.gate = 1;
    h1d_opts small = o;
    small.out_cap = 1 + ((data[0] >> 2) & 7);
    h1d_opts zc = o;
    zc.zero_copy = 1;
    const h1d_opts *variants[] = {&o, &g, &small, &zc};
    for (size_t v = 0; v < 4; v++) {
        char *s = h1d_run_str(variants[v], in, len, k ? &k : NULL, k ? 1 : 0);
        if (strcmp(s, whole) != 0)
            abort();
        free(s);
        if (len <= 512) {
            size_t cuts[512];
            for (size_t i = 0; i + 1 < len; i++)
                cuts[i] = i + 1;
            s = h1d_run_str(variants[v], in, len, cuts, len ? len - 1 : 0);
            if (strcmp(s, whole) != 0)
                abort();
            free(s);
        }
    }
    free(whole);
}

/** Copies `log` without `#...`/`@...` words and, when keep_headers is 0, without header lines,
 * into a NUL-terminated malloc'd string. */
static inline char *h1d_normalize(const nes_buf *log, int keep_headers)
{
    char *out = malloc(log->len + 1);
    if (out == NULL)
        abort();
    size_t o = 0, i = 0;
    const char *s = (const char *)log->data;
    while (i < log->len) {
        size_t e = i;
        while (e < log->len && s[e] != '\n')
            e++;
        if (keep_headers || !(e - i >= 2 && s[i] == ' ' && s[i + 1] == ' ')) {
            size_t w = i;
            while (w < e) {
                size_t we = w;
                while (we < e && s[we] != ' ')
                    we++;
                if (!(w > i && (s[w] == '#' || s[w] == '@'))) {
                    memcpy(out + o, s + w, we - w);
                    o += we - w;
                    if (we < e)
                        out[o++] = ' ';
                } else if (o > 0 && out[o - 1] == ' ' && we == e) {
                    o--;
                }
                w = we < e ? we + 1 : we;
            }
            if (o > 0 && out[o - 1] == ' ')
                o--;
            out[o++] = '\n';
        }
        i = e + 1;
    }
    out[o] = '\0';
    return out;
}

#endif
