/* connect.c - the CONNECT request head on the strict HTTP/1.1 parser (see connect.h). */
#include "proxy/connect.h"

#include <string.h>

#include "http/request.h"

static nes_connect_result refuse(nes_connect_req *r, nes_connect_result rc, int status, size_t off,
                                 const char *why)
{
    r->status = status;
    r->why = why;
    r->offset = off;
    return rc;
}

nes_connect_result nes_connect_parse(const uint8_t *buf, size_t len, size_t max,
                                     nes_connect_req *req)
{
    memset(req, 0, sizeof(*req));
    nes_h1_limits lim = {.max_head_bytes = max, .max_target_bytes = NES_HOST_MAX + 7};
    nes_h1_request hr;
    nes_h1_error e = {0};
    int n = nes_h1_parse_request((const char *)buf, len < max ? len : max, &lim, &hr, &e);
    if (n == 0)
        return len >= max ? refuse(req, NES_CONNECT_TOO_LARGE, 431, max, "request head too large")
                          : NES_CONNECT_MORE;
    if (n < 0)
        return refuse(req, e.status == 431 ? NES_CONNECT_TOO_LARGE : NES_CONNECT_BAD, e.status,
                      e.offset, e.reason);
    if (hr.method != NES_H1_M_CONNECT)
        return refuse(req, NES_CONNECT_METHOD, 405, 0, "method is not CONNECT");
    size_t off = (size_t)(hr.target.p - (const char *)buf);
    if (hr.target_form != NES_H1_TARGET_AUTHORITY)
        return refuse(req, NES_CONNECT_BAD, 400, off, "target is not host:port");
    const char *t = hr.target.p;
    const char *colon = NULL;
    for (size_t i = 0; i < hr.target.len; i++)
        if (t[i] == ':')
            colon = t + i;
    size_t hl = colon != NULL ? (size_t)(colon - t) : 0;
    if (colon == NULL || !nes_host_valid(t, hl))
        return refuse(req, NES_CONNECT_BAD, 400, off,
                      "target host is not a host name or IPv4 address");
    size_t pl = hr.target.len - hl - 1;
    unsigned long port = 0;
    for (size_t i = 0; i < pl && port <= 65535; i++) {
        if (colon[1 + i] < '0' || colon[1 + i] > '9')
            return refuse(req, NES_CONNECT_BAD, 400, off + hl + 1, "target port is not 1-65535");
        port = port * 10 + (unsigned long)(colon[1 + i] - '0');
    }
    if (pl == 0 || port == 0 || port > 65535)
        return refuse(req, NES_CONNECT_BAD, 400, off + hl + 1, "target port is not 1-65535");
    memcpy(req->host, t, hl);
    req->host[hl] = '\0';
    req->port = (uint16_t)port;
    req->head_len = (size_t)n;
    return NES_CONNECT_OK;
}
