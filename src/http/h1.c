/* h1.c - the codec's shared pieces: character classes, limits, the field-line loop of heads,
 * list and Content-Length helpers, header lookup and the incremental end-of-head scan. */
#include "http/h1.h"

#include "http/h1_int.h"

#include <limits.h>
#include <string.h>

const nes_h1_limits nes_h1_limits_default = {
    .max_head_bytes = 16384,
    .max_target_bytes = 8192,
    .max_headers = 100,
    .max_chunk_size_digits = 16,
    .max_chunk_ext_bytes = 1024,
    .max_trailer_bytes = 8192,
};

/* bit 1 tchar, 2 VCHAR, 4 field-value byte, 8 hex digit, 16 digit, 32 uri-host/port byte */
const uint8_t nes_h1_ctab[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  4,  0,  0,  0,  0,  0,  0,  /* 00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 10 */
    4,  39, 6,  7,  39, 39, 39, 39, 38, 38, 39, 39, 38, 39, 39, 6,  /* 20 */
    63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 38, 38, 6,  38, 6,  6,  /* 30 */
    6,  47, 47, 47, 47, 47, 47, 39, 39, 39, 39, 39, 39, 39, 39, 39, /* 40 */
    39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 38, 6,  38, 7,  39, /* 50 */
    7,  47, 47, 47, 47, 47, 47, 39, 39, 39, 39, 39, 39, 39, 39, 39, /* 60 */
    39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 6,  7,  6,  39, 0,  /* 70 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 80 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* 90 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* a0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* b0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* c0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* d0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* e0 */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* f0 */
};

int nes_h1_fail(nes_h1_error *err, int status, const char *reason, size_t offset)
{
    if (err != NULL) {
        err->status = status;
        err->reason = reason;
        err->offset = offset;
    }
    return -1;
}

const nes_h1_limits *nes_h1_limits_or_default(const nes_h1_limits *lim, nes_h1_limits *tmp)
{
    const nes_h1_limits *d = &nes_h1_limits_default;
    if (lim == NULL)
        return d;
    *tmp = *lim;
    if (tmp->max_head_bytes == 0)
        tmp->max_head_bytes = d->max_head_bytes;
    if (tmp->max_head_bytes > INT_MAX)
        tmp->max_head_bytes = INT_MAX; /* the parsers return a head's length as int */
    if (tmp->max_target_bytes == 0)
        tmp->max_target_bytes = d->max_target_bytes;
    if (tmp->max_headers == 0)
        tmp->max_headers = d->max_headers;
    if (tmp->max_headers > NES_H1_MAX_HEADERS)
        tmp->max_headers = NES_H1_MAX_HEADERS;
    if (tmp->max_chunk_size_digits == 0)
        tmp->max_chunk_size_digits = d->max_chunk_size_digits;
    if (tmp->max_chunk_ext_bytes == 0)
        tmp->max_chunk_ext_bytes = d->max_chunk_ext_bytes;
    if (tmp->max_trailer_bytes == 0)
        tmp->max_trailer_bytes = d->max_trailer_bytes;
    return tmp;
}

int nes_h1_need_more(size_t len, const nes_h1_limits *lim, nes_h1_error *err)
{
    if (len >= lim->max_head_bytes)
        return nes_h1_fail(err, 431, "header section too large", lim->max_head_bytes);
    return 0;
}

/* The end of the field-value bytes (VCHAR, obs-text, SP, HTAB) from b[p], at most n. Eight
 * bytes at a time while none of them is a CTL (< 0x20, which includes HTAB) or DEL; byte by
 * byte around those. */
static size_t scan_value(const unsigned char *b, size_t p, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    for (;;) {
        while (n - p >= 8) {
            uint64_t x;
            memcpy(&x, b + p, 8);
            uint64_t del = x ^ (ones * 0x7f);
            /* a byte below 0x20, or a zero byte of x ^ 0x7f..7f (a DEL) */
            if ((((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & high)
                break;
            p += 8;
        }
        if (p >= n || !h1_is(b[p], H1_FVAL))
            return p;
        p++;
    }
}

long nes_h1_parse_fields(const char *buf, size_t n, size_t p, size_t max_headers, nes_h1_header *hs,
                         size_t *nh, nes_h1_error *err)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t first = p;
    *nh = 0;
    for (;;) {
        if (p >= n)
            return 0;
        unsigned char c = b[p];
        if (c == '\r') {
            if (p + 1 >= n)
                return 0;
            if (b[p + 1] != '\n')
                return nes_h1_fail(err, 400, "bare CR in header section", p);
            return (long)(p + 2);
        }
        if (c == '\n')
            return (long)(p + 1);
        if (c == ' ' || c == '\t')
            return nes_h1_fail(err, 400,
                               p == first ? "whitespace before the first header field"
                                          : "obsolete line folding",
                               p);
        if (*nh >= max_headers)
            return nes_h1_fail(err, 431, "too many header fields", p);
        size_t ns = p;
        while (p < n && h1_is(b[p], H1_TCHAR))
            p++;
        if (p >= n)
            return 0;
        if (b[p] != ':') {
            if (b[p] == ' ' || b[p] == '\t')
                return nes_h1_fail(err, 400, "whitespace before colon", p);
            return nes_h1_fail(err, 400, "invalid character in field name", p);
        }
        if (p == ns)
            return nes_h1_fail(err, 400, "empty field name", p);
        size_t nlen = p - ns;
        p++;
        while (p < n && (b[p] == ' ' || b[p] == '\t'))
            p++;
        size_t vs = p;
        p = scan_value(b, p, n);
        size_t ve = p;
        while (ve > vs && (b[ve - 1] == ' ' || b[ve - 1] == '\t'))
            ve--;
        if (p >= n)
            return 0;
        c = b[p];
        if (c == '\r') {
            if (p + 1 >= n)
                return 0;
            if (b[p + 1] != '\n')
                return nes_h1_fail(err, 400, "bare CR in header section", p);
            p += 2;
        } else if (c == '\n') {
            p++;
        } else {
            return nes_h1_fail(
                err, 400, c == 0 ? "NUL in field value" : "control character in field value", p);
        }
        hs[*nh].name.p = buf + ns;
        hs[*nh].name.len = nlen;
        hs[*nh].value.p = buf + vs;
        hs[*nh].value.len = ve - vs;
        (*nh)++;
    }
}

int nes_h1_list_next(nes_h1_str v, size_t *pos, nes_h1_str *elem)
{
    size_t i = *pos;
    while (i < v.len) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        size_t s = i, e = i;
        while (i < v.len && v.p[i] != ',') {
            if (v.p[i] != ' ' && v.p[i] != '\t')
                e = i + 1;
            i++;
        }
        if (i < v.len)
            i++; /* the comma */
        if (e > s) {
            elem->p = v.p + s;
            elem->len = e - s;
            *pos = i;
            return 1;
        }
    }
    *pos = i;
    return 0;
}

int nes_h1_is_token(nes_h1_str s)
{
    if (s.len == 0)
        return 0;
    for (size_t i = 0; i < s.len; i++)
        if (!h1_is((unsigned char)s.p[i], H1_TCHAR))
            return 0;
    return 1;
}

int nes_h1_parse_length(nes_h1_str v, uint64_t *out)
{
    if (v.len == 0)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (!h1_is(c, H1_DIGIT))
            return -1;
        const uint64_t max = UINT64_C(0x7fffffffffffffff);
        if (x > max / 10 || (x == max / 10 && (uint64_t)(c - '0') > max % 10))
            return -1;
        x = x * 10 + (c - '0');
    }
    *out = x;
    return 0;
}

static size_t off(const char *p, const char *base)
{
    return (size_t)(p - base);
}

int nes_h1_content_length(const nes_h1_header *hs, size_t n, int *found, uint64_t *len,
                          nes_h1_error *err, const char *base)
{
    *found = 0;
    *len = 0;
    for (size_t i = 0; i < n; i++) {
        if (!H1_IS(hs[i].name, "content-length"))
            continue;
        uint64_t v;
        if (nes_h1_parse_length(hs[i].value, &v) != 0)
            return nes_h1_fail(err, 400, "invalid Content-Length", off(hs[i].name.p, base));
        if (*found && v != *len)
            return nes_h1_fail(err, 400, "conflicting Content-Length values",
                               off(hs[i].name.p, base));
        *found = 1;
        *len = v;
    }
    return 0;
}

int nes_h1_transfer_encoding(const nes_h1_header *hs, size_t n, nes_h1_error *err, const char *base)
{
    int any = 0, chunked = 0;
    for (size_t i = 0; i < n; i++) {
        if (!H1_IS(hs[i].name, "transfer-encoding"))
            continue;
        any = 1;
        size_t pos = 0;
        nes_h1_str e;
        size_t at = off(hs[i].name.p, base);
        while (nes_h1_list_next(hs[i].value, &pos, &e)) {
            size_t k = 0;
            while (k < e.len && h1_is((unsigned char)e.p[k], H1_TCHAR))
                k++;
            if (k == 0)
                return nes_h1_fail(err, 400, "invalid Transfer-Encoding", at);
            nes_h1_str tok = {e.p, k};
            size_t r = k;
            while (r < e.len && (e.p[r] == ' ' || e.p[r] == '\t'))
                r++;
            if (r < e.len && e.p[r] != ';')
                return nes_h1_fail(err, 400, "invalid Transfer-Encoding", at);
            if (!H1_IS(tok, "chunked"))
                return nes_h1_fail(err, 501, "unsupported transfer coding", at);
            if (k != e.len)
                return nes_h1_fail(err, 400, "invalid Transfer-Encoding", at);
            if (chunked)
                return nes_h1_fail(err, 400, "chunked applied more than once", at);
            chunked = 1;
        }
    }
    if (any && !chunked) {
        for (size_t i = 0; i < n; i++)
            if (H1_IS(hs[i].name, "transfer-encoding"))
                return nes_h1_fail(err, 400, "empty Transfer-Encoding", off(hs[i].name.p, base));
    }
    return any;
}

int nes_h1_connection(const nes_h1_header *hs, size_t n, int *close, int *keep_alive,
                      nes_h1_error *err, const char *base)
{
    *close = *keep_alive = 0;
    for (size_t i = 0; i < n; i++) {
        if (!H1_IS(hs[i].name, "connection"))
            continue;
        size_t pos = 0;
        nes_h1_str e;
        while (nes_h1_list_next(hs[i].value, &pos, &e)) {
            if (!nes_h1_is_token(e))
                return nes_h1_fail(err, 400, "invalid Connection", off(hs[i].name.p, base));
            if (H1_IS(e, "close"))
                *close = 1;
            else if (H1_IS(e, "keep-alive"))
                *keep_alive = 1;
        }
    }
    return 0;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

int nes_h1_eq_nocase_n(const char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
            return 0;
    return 1;
}

int nes_h1_eq_lower_n(const char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] | 0x20) != (unsigned char)lit[i])
            return 0;
    return 1;
}

bool nes_h1_str_eq_nocase(nes_h1_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && nes_h1_eq_nocase_n(s.p, lit, n);
}

const nes_h1_header *nes_h1_header_find(const nes_h1_header *headers, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++) /* clients usually send the name as spelt: memcmp first */
        if (headers[i].name.len == len && (memcmp(headers[i].name.p, name, len) == 0 ||
                                           nes_h1_eq_nocase_n(headers[i].name.p, name, len)))
            return &headers[i];
    return NULL;
}

/* Whether the line that ends with the LF at buf[i - 1] is empty (CRLF or LF alone). */
static int prev_line_empty(const char *buf, size_t i)
{
    if (i == 1 || buf[i - 2] == '\n')
        return 1;
    return buf[i - 2] == '\r' && (i == 2 || buf[i - 3] == '\n');
}

size_t nes_h1_head_end(const char *buf, size_t len, size_t *scan)
{
    size_t i = *scan <= len ? *scan : 0; /* always the start of a line */
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (nl == NULL)
            break;
        size_t j = (size_t)(nl - buf);
        int empty = j == i || (j == i + 1 && buf[i] == '\r');
        /* An empty line closes the head once a non-empty line came before it. Empty lines before
         * the start line are skipped; an empty line before i would have closed the head, so the
         * line just before i tells whether a non-empty line was seen. */
        if (empty && i > 0 && !prev_line_empty(buf, i))
            return j + 1;
        i = j + 1;
    }
    *scan = i;
    return 0;
}
