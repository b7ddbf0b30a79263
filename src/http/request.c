/* request.c - the strict request head parser (see request.h for what is accepted and refused). */
#include "http/request.h"

#include "http/h1_int.h"

#include <string.h>

static nes_h1_method method_of(const char *p, size_t n)
{
#define M(lit, m)                                                                                  \
    if (n == sizeof(lit) - 1 && memcmp(p, lit, n) == 0)                                            \
    return m
    switch (p[0]) {
    case 'G':
        M("GET", NES_H1_M_GET);
        break;
    case 'H':
        M("HEAD", NES_H1_M_HEAD);
        break;
    case 'P':
        M("POST", NES_H1_M_POST);
        M("PUT", NES_H1_M_PUT);
        M("PATCH", NES_H1_M_PATCH);
        break;
    case 'D':
        M("DELETE", NES_H1_M_DELETE);
        break;
    case 'C':
        M("CONNECT", NES_H1_M_CONNECT);
        break;
    case 'O':
        M("OPTIONS", NES_H1_M_OPTIONS);
        break;
    case 'T':
        M("TRACE", NES_H1_M_TRACE);
        break;
    default:
        break;
    }
#undef M
    return NES_H1_M_OTHER;
}

static int valid_host(nes_h1_str h)
{
    for (size_t i = 0; i < h.len; i++)
        if (!h1_is((unsigned char)h.p[i], H1_HOST))
            return 0;
    return 1;
}

/* authority-form: uri-host ":" port (RFC 9112 §3.2.3). */
static int authority_form(nes_h1_str t)
{
    size_t colon = t.len;
    while (colon > 0 && t.p[colon - 1] != ':')
        colon--;
    if (colon < 2 || colon == t.len)
        return 0;
    for (size_t i = colon; i < t.len; i++)
        if (!h1_is((unsigned char)t.p[i], H1_DIGIT))
            return 0;
    nes_h1_str host = {t.p, colon - 1};
    for (size_t i = 0; i < host.len; i++)
        if (host.p[i] == '@' || host.p[i] == '/')
            return 0;
    return valid_host(host);
}

/* scheme ":" ... (RFC 3986 §3.1). */
static int absolute_form(nes_h1_str t)
{
    unsigned char c0 = (unsigned char)t.p[0];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z')))
        return 0;
    for (size_t i = 1; i < t.len; i++) {
        unsigned char c = (unsigned char)t.p[i];
        if (c == ':')
            return 1;
        if (!(h1_is(c, H1_DIGIT) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
              c == '-' || c == '.'))
            return 0;
    }
    return 0;
}

static int classify_target(nes_h1_request *r, size_t at, nes_h1_error *err)
{
    nes_h1_str t = r->target;
    if (memchr(t.p, '#', t.len) != NULL)
        return nes_h1_fail(err, 400, "fragment in request-target", at);
    if (r->method == NES_H1_M_CONNECT) {
        if (!authority_form(t))
            return nes_h1_fail(err, 400, "CONNECT needs an authority-form target", at);
        r->target_form = NES_H1_TARGET_AUTHORITY;
    } else if (t.p[0] == '/') {
        r->target_form = NES_H1_TARGET_ORIGIN;
    } else if (t.len == 1 && t.p[0] == '*') {
        if (r->method != NES_H1_M_OPTIONS)
            return nes_h1_fail(err, 400, "asterisk-form target without OPTIONS", at);
        r->target_form = NES_H1_TARGET_ASTERISK;
    } else if (absolute_form(t)) {
        r->target_form = NES_H1_TARGET_ABSOLUTE;
    } else {
        return nes_h1_fail(err, 400, "invalid request-target", at);
    }
    return 0;
}

/* The request line from buf[p] (after leading empty lines). Returns the offset of the first
 * field line, 0 for more bytes, -1 refused. */
static long request_line(const char *buf, size_t n, size_t p, const nes_h1_limits *lim,
                         nes_h1_request *r, nes_h1_error *err)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t ms = p;
    while (p < n && h1_is(b[p], H1_TCHAR))
        p++;
    if (p >= n)
        return 0;
    if (p == ms || b[p] != ' ')
        return nes_h1_fail(err, 400, "invalid method", p);
    r->method_name.p = buf + ms;
    r->method_name.len = p - ms;
    r->method = method_of(buf + ms, p - ms);
    p++;

    size_t ts = p;
    while (p < n && h1_is(b[p], H1_VCHAR)) {
        if (p - ts >= lim->max_target_bytes)
            return nes_h1_fail(err, 414, "request-target too long", p);
        p++;
    }
    if (p >= n)
        return 0;
    if (p == ts)
        return nes_h1_fail(err, 400, "empty request-target", p);
    if (b[p] != ' ')
        return nes_h1_fail(err, 400,
                           b[p] == '\r' || b[p] == '\n' ? "missing HTTP version"
                                                        : "invalid character in request-target",
                           p);
    r->target.p = buf + ts;
    r->target.len = p - ts;
    p++;

    static const char proto[] = "HTTP/";
    size_t vs = p;
    for (size_t i = 0; i < 5; i++, p++) {
        if (p >= n)
            return 0;
        if (b[p] != (unsigned char)proto[i])
            return nes_h1_fail(err, 400, "invalid HTTP version", p);
    }
    for (size_t i = 0; i < 3; i++) { /* DIGIT "." DIGIT */
        if (p + i >= n)
            return 0;
        if (i == 1 ? b[p + i] != '.' : !h1_is(b[p + i], H1_DIGIT))
            return nes_h1_fail(err, 400, "invalid HTTP version", p + i);
    }
    int major = b[p] - '0', minor = b[p + 2] - '0';
    p += 3;
    if (p >= n)
        return 0;
    if (b[p] == '\r') {
        if (p + 1 >= n)
            return 0;
        if (b[p + 1] != '\n')
            return nes_h1_fail(err, 400, "bare CR in request line", p);
        p += 2;
    } else if (b[p] == '\n') {
        p++;
    } else {
        return nes_h1_fail(err, 400, "invalid HTTP version", p);
    }
    if (major != 1 || minor > 1)
        return nes_h1_fail(err, 505, "HTTP version not supported", vs);
    r->minor_version = minor;
    if (classify_target(r, ts, err) != 0)
        return -1;
    return (long)p;
}

/* The checks that need the whole head, in the order request.h gives. */
static int semantics(const char *buf, nes_h1_request *r, nes_h1_error *err)
{
    const nes_h1_header *hs = r->headers;
    size_t n = r->nheaders;
    const nes_h1_header *host = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!H1_IS(hs[i].name, "host"))
            continue;
        if (host != NULL)
            return nes_h1_fail(err, 400, "more than one Host", (size_t)(hs[i].name.p - buf));
        if (!valid_host(hs[i].value))
            return nes_h1_fail(err, 400, "invalid Host", (size_t)(hs[i].name.p - buf));
        host = &hs[i];
    }
    if (host == NULL && r->minor_version == 1)
        return nes_h1_fail(err, 400, "missing Host", r->head_len);
    if (host != NULL)
        r->host = host->value;

    int has_cl;
    if (nes_h1_content_length(hs, n, &has_cl, &r->content_length, err, buf) != 0)
        return -1;
    int te = 0;
    for (size_t i = 0; i < n && te == 0; i++) {
        if (!H1_IS(hs[i].name, "transfer-encoding"))
            continue;
        if (r->minor_version == 0)
            return nes_h1_fail(err, 400, "Transfer-Encoding in HTTP/1.0",
                               (size_t)(hs[i].name.p - buf));
        if (has_cl)
            return nes_h1_fail(err, 400, "both Content-Length and Transfer-Encoding",
                               (size_t)(hs[i].name.p - buf));
        te = 1;
    }
    if (te && nes_h1_transfer_encoding(hs, n, err, buf) < 0)
        return -1;
    r->framing = te ? NES_H1_BODY_CHUNKED : has_cl ? NES_H1_BODY_LENGTH : NES_H1_BODY_NONE;

    int close, keep;
    if (nes_h1_connection(hs, n, &close, &keep, err, buf) != 0)
        return -1;
    r->keep_alive = !close && (r->minor_version == 1 || keep);

    for (size_t i = 0; i < n; i++) {
        if (!H1_IS(hs[i].name, "expect"))
            continue;
        size_t pos = 0;
        nes_h1_str e;
        while (nes_h1_list_next(hs[i].value, &pos, &e)) {
            if (!H1_IS(e, "100-continue"))
                return nes_h1_fail(err, 417, "unsupported expectation",
                                   (size_t)(hs[i].name.p - buf));
            /* RFC 9110 §10.1.1: ignored in HTTP/1.0; no 100 is owed when no content follows */
            r->expect_continue = r->minor_version == 1 &&
                                 (r->framing == NES_H1_BODY_CHUNKED ||
                                  (r->framing == NES_H1_BODY_LENGTH && r->content_length > 0));
        }
    }
    return 0;
}

int nes_h1_parse_request(const char *buf, size_t len, const nes_h1_limits *lim, nes_h1_request *out,
                         nes_h1_error *err)
{
    nes_h1_limits tmp;
    lim = nes_h1_limits_or_default(lim, &tmp);
    size_t n = len < lim->max_head_bytes ? len : lim->max_head_bytes;
    size_t p = 0;
    /* RFC 9112 §2.2: empty lines before the request line are ignored. */
    for (;;) {
        if (p >= n)
            return nes_h1_need_more(len, lim, err);
        if (buf[p] == '\n') {
            p++;
        } else if (buf[p] == '\r') {
            if (p + 1 >= n)
                return nes_h1_need_more(len, lim, err);
            if (buf[p + 1] != '\n')
                return nes_h1_fail(err, 400, "bare CR in request line", p);
            p += 2;
        } else {
            break;
        }
    }
    out->method = NES_H1_M_OTHER;
    out->target_form = NES_H1_TARGET_ORIGIN;
    out->host.p = NULL;
    out->host.len = 0;
    out->content_length = 0;
    out->keep_alive = false;
    out->expect_continue = false;
    out->nheaders = 0;
    long q = request_line(buf, n, p, lim, out, err);
    if (q < 0)
        return -1;
    if (q == 0)
        return nes_h1_need_more(len, lim, err);
    q = nes_h1_parse_fields(buf, n, (size_t)q, lim->max_headers, out->headers, &out->nheaders, err);
    if (q < 0)
        return -1;
    if (q == 0)
        return nes_h1_need_more(len, lim, err);
    out->head_len = (size_t)q;
    if (semantics(buf, out, err) != 0)
        return -1;
    return (int)q;
}

const nes_h1_header *nes_h1_request_header(const nes_h1_request *req, const char *name)
{
    return nes_h1_header_find(req->headers, req->nheaders, name);
}
