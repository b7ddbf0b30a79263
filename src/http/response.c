/* response.c - the strict response head parser (see response.h). */
#include "http/response.h"

#include "http/h1_int.h"

static int fail502(nes_h1_error *err, const char *reason, size_t offset)
{
    return nes_h1_fail(err, 502, reason, offset);
}

/* The status line. Returns the offset of the first field line, 0 for more bytes, -1. */
static long status_line(const char *buf, size_t n, nes_h1_response *r, nes_h1_error *err)
{
    const unsigned char *b = (const unsigned char *)buf;
    static const char proto[] = "HTTP/";
    size_t p = 0;
    for (; p < 5; p++) {
        if (p >= n)
            return 0;
        if (b[p] != (unsigned char)proto[p])
            return fail502(err, "invalid status line", p);
    }
    for (size_t i = 0; i < 3; i++) { /* DIGIT "." DIGIT */
        if (p + i >= n)
            return 0;
        if (i == 1 ? b[p + i] != '.' : !h1_is(b[p + i], H1_DIGIT))
            return fail502(err, "invalid HTTP version", p + i);
    }
    if (b[p] != '1' || b[p + 2] > '1')
        return fail502(err, "HTTP version not supported", p);
    r->minor_version = b[p + 2] - '0';
    p += 3;
    if (p >= n)
        return 0;
    if (b[p] != ' ')
        return fail502(err, "invalid status line", p);
    p++;
    int code = 0;
    for (size_t i = 0; i < 3; i++, p++) {
        if (p >= n)
            return 0;
        if (!h1_is(b[p], H1_DIGIT))
            return fail502(err, "invalid status code", p);
        code = code * 10 + (b[p] - '0');
    }
    if (code < 100 || code > 599)
        return fail502(err, "invalid status code", p - 3);
    r->status = code;
    if (p >= n)
        return 0;
    size_t rs = p;
    if (b[p] == ' ') {
        p++;
        rs = p;
        while (p < n && (h1_is(b[p], H1_FVAL)))
            p++;
        if (p >= n)
            return 0;
    }
    r->reason.p = buf + rs;
    r->reason.len = p - rs;
    if (b[p] == '\r') {
        if (p + 1 >= n)
            return 0;
        if (b[p + 1] != '\n')
            return fail502(err, "bare CR in status line", p);
        return (long)(p + 2);
    }
    if (b[p] == '\n')
        return (long)(p + 1);
    return fail502(err, rs == p ? "invalid status line" : "control character in reason phrase", p);
}

static int framing(const char *buf, nes_h1_method m, nes_h1_response *r, nes_h1_error *err)
{
    const nes_h1_header *hs = r->headers;
    size_t n = r->nheaders;
    int close, keep;
    if (nes_h1_connection(hs, n, &close, &keep, err, buf) != 0)
        return -1;
    /* after a 101 or a 2xx to CONNECT the connection no longer carries HTTP */
    int tunnel = r->status == 101 || (m == NES_H1_M_CONNECT && r->status / 100 == 2);
    r->keep_alive = !close && (r->minor_version == 1 || keep) && !tunnel;
    if (m == NES_H1_M_HEAD || r->status < 200 || r->status == 204 || r->status == 304 ||
        (m == NES_H1_M_CONNECT && r->status < 300)) {
        r->framing = NES_H1_BODY_NONE;
        return 0;
    }
    int has_cl;
    if (nes_h1_content_length(hs, n, &has_cl, &r->content_length, err, buf) != 0)
        return -1;
    const nes_h1_header *te = nes_h1_header_find(hs, n, "transfer-encoding");
    if (te != NULL) {
        size_t at = (size_t)(te->name.p - buf);
        if (r->minor_version == 0)
            return nes_h1_fail(err, 400, "Transfer-Encoding in HTTP/1.0", at);
        if (has_cl)
            return nes_h1_fail(err, 400, "both Content-Length and Transfer-Encoding", at);
        if (nes_h1_transfer_encoding(hs, n, err, buf) < 0)
            return -1;
        r->framing = NES_H1_BODY_CHUNKED;
        r->content_length = 0;
        return 0;
    }
    if (has_cl) {
        r->framing = NES_H1_BODY_LENGTH;
        return 0;
    }
    r->framing = NES_H1_BODY_CLOSE;
    r->keep_alive = false;
    return 0;
}

int nes_h1_parse_response(const char *buf, size_t len, const nes_h1_limits *lim,
                          nes_h1_method req_method, nes_h1_response *out, nes_h1_error *err)
{
    nes_h1_limits tmp;
    lim = nes_h1_limits_or_default(lim, &tmp);
    size_t n = len < lim->max_head_bytes ? len : lim->max_head_bytes;
    out->status = 0;
    out->reason.p = NULL;
    out->reason.len = 0;
    out->nheaders = 0;
    out->content_length = 0;
    out->keep_alive = false;
    out->framing = NES_H1_BODY_NONE;
    int rc;
    long q = status_line(buf, n, out, err);
    if (q > 0)
        q = nes_h1_parse_fields(buf, n, (size_t)q, lim->max_headers, out->headers, &out->nheaders,
                                err);
    if (q == 0) {
        rc = nes_h1_need_more(len, lim, err);
    } else if (q < 0) {
        rc = -1;
    } else {
        out->head_len = (size_t)q;
        rc = framing(buf, req_method, out, err) == 0 ? (int)q : -1;
    }
    if (rc < 0 && err != NULL)
        err->status = 502;
    return rc;
}

const nes_h1_header *nes_h1_response_header(const nes_h1_response *res, const char *name)
{
    return nes_h1_header_find(res->headers, res->nheaders, name);
}
