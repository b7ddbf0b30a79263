/* connect.c - the CONNECT request head (see connect.h). */
#include "proxy/connect.h"

#include <string.h>

static nes_connect_result refuse(nes_connect_req *r, nes_connect_result rc, size_t off,
                                 const char *why)
{
    r->why = why;
    r->offset = off;
    return rc;
}

static int tchar(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The request line buf[0..n) (without CRLF). */
static nes_connect_result request_line(const uint8_t *b, size_t n, nes_connect_req *r)
{
    const uint8_t *sp1 = memchr(b, ' ', n);
    if (sp1 == NULL)
        return refuse(r, NES_CONNECT_BAD, 0, "request line without spaces");
    size_t ml = (size_t)(sp1 - b);
    for (size_t i = 0; i < ml; i++)
        if (!tchar(b[i]))
            return refuse(r, NES_CONNECT_BAD, i, "invalid method");
    if (ml == 0)
        return refuse(r, NES_CONNECT_BAD, 0, "empty method");
    size_t a = ml + 1;
    const uint8_t *sp2 = memchr(b + a, ' ', n - a);
    if (sp2 == NULL)
        return refuse(r, NES_CONNECT_BAD, a, "request line needs method, target and version");
    size_t al = (size_t)(sp2 - (b + a)), v = a + al + 1;
    if (n - v != 8 || (memcmp(b + v, "HTTP/1.1", 8) != 0 && memcmp(b + v, "HTTP/1.0", 8) != 0))
        return refuse(r, NES_CONNECT_BAD, v, "version is not HTTP/1.1 or HTTP/1.0");
    if (ml != 7 || memcmp(b, "CONNECT", 7) != 0)
        return refuse(r, NES_CONNECT_METHOD, 0, "method is not CONNECT");
    const uint8_t *colon = NULL;
    for (size_t i = 0; i < al; i++)
        if (b[a + i] == ':')
            colon = b + a + i;
    if (colon == NULL)
        return refuse(r, NES_CONNECT_BAD, a, "target is not host:port");
    size_t hl = (size_t)(colon - (b + a)), pl = al - hl - 1;
    if (!nes_host_valid((const char *)b + a, hl))
        return refuse(r, NES_CONNECT_BAD, a, "target host is not a host name or IPv4 address");
    unsigned long port = 0;
    if (pl == 0 || pl > 5)
        return refuse(r, NES_CONNECT_BAD, a + hl + 1, "target port is not 1-65535");
    for (size_t i = 0; i < pl; i++) {
        uint8_t c = colon[1 + i];
        if (c < '0' || c > '9')
            return refuse(r, NES_CONNECT_BAD, a + hl + 1 + i, "target port is not 1-65535");
        port = port * 10 + (unsigned long)(c - '0');
    }
    if (port == 0 || port > 65535)
        return refuse(r, NES_CONNECT_BAD, a + hl + 1, "target port is not 1-65535");
    memcpy(r->host, b + a, hl);
    r->host[hl] = '\0';
    r->port = (uint16_t)port;
    return NES_CONNECT_OK;
}

/* One field line at b[off..off+n) (without CRLF). */
static nes_connect_result field_line(const uint8_t *b, size_t off, size_t n, nes_connect_req *r)
{
    if (b[off] == ' ' || b[off] == '\t')
        return refuse(r, NES_CONNECT_BAD, off, "obsolete line folding");
    size_t i = 0;
    while (i < n && tchar(b[off + i]))
        i++;
    if (i == 0 || i == n || b[off + i] != ':')
        return refuse(r, NES_CONNECT_BAD, off + i, "invalid field name");
    for (i++; i < n; i++) {
        uint8_t c = b[off + i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return refuse(r, NES_CONNECT_BAD, off + i, "control character in a field value");
    }
    return NES_CONNECT_OK;
}

nes_connect_result nes_connect_parse(const uint8_t *buf, size_t len, size_t max,
                                     nes_connect_req *req)
{
    memset(req, 0, sizeof(*req));
    size_t scan = len < max ? len : max;
    size_t line = 0;
    int fields = -1; /* -1: the request line comes first */
    for (size_t i = 0; i < scan; i++) {
        if (buf[i] == '\r') {
            if (i + 1 == scan)
                break;
            if (buf[i + 1] != '\n')
                return refuse(req, NES_CONNECT_BAD, i, "CR not followed by LF");
            size_t n = i - line;
            nes_connect_result rc;
            if (fields < 0) {
                rc = request_line(buf, n, req);
            } else if (n == 0) {
                req->head_len = i + 2;
                return NES_CONNECT_OK;
            } else if (fields == NES_CONNECT_MAX_FIELDS) {
                return refuse(req, NES_CONNECT_TOO_LARGE, line, "too many header fields");
            } else {
                rc = field_line(buf, line, n, req);
            }
            if (rc != NES_CONNECT_OK)
                return rc;
            fields++;
            i++;
            line = i + 1;
        } else if (buf[i] == '\n') {
            return refuse(req, NES_CONNECT_BAD, i, "bare LF");
        } else if (buf[i] == 0) {
            return refuse(req, NES_CONNECT_BAD, i, "NUL byte");
        }
    }
    if (len >= max)
        return refuse(req, NES_CONNECT_TOO_LARGE, max, "request head too large");
    return NES_CONNECT_MORE;
}
