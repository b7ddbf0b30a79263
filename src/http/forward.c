/* forward.c - request and response heads of a forwarding intermediary (see forward.h). */
#include "http/forward.h"

#include <string.h>

#include "http/writer.h"

static const char *const HOP[] = {
    "connection", "keep-alive", "proxy-connection",   "te",
    "upgrade",    "trailer",    "proxy-authenticate", "proxy-authorization",
};

bool nes_h1_is_hop_by_hop(nes_h1_str name)
{
    for (size_t i = 0; i < sizeof(HOP) / sizeof(HOP[0]); i++)
        if (nes_h1_str_eq_nocase(name, HOP[i]))
            return true;
    return false;
}

static bool eq_nocase(nes_h1_str a, nes_h1_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        unsigned char x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

bool nes_h1_connection_names(const nes_h1_header *headers, size_t n, nes_h1_str name)
{
    for (size_t i = 0; i < n; i++) {
        if (!nes_h1_str_eq_nocase(headers[i].name, "connection"))
            continue;
        const char *p = headers[i].value.p, *end = p + headers[i].value.len;
        while (p < end) {
            while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
                p++;
            const char *s = p;
            while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            if (p > s && eq_nocase((nes_h1_str){s, (size_t)(p - s)}, name))
                return true;
        }
    }
    return false;
}

/* True when the field is dropped on the way (hop-by-hop, or named by a Connection field). */
static bool dropped(const nes_h1_header *all, size_t n, nes_h1_str name)
{
    return nes_h1_is_hop_by_hop(name) || nes_h1_connection_names(all, n, name);
}

static nes_h1_str lit(const char *s)
{
    return (nes_h1_str){s, strlen(s)};
}

int nes_h1_forward_request_head(nes_buf *b, const nes_h1_request *req, const char *client,
                                uint64_t body_len)
{
    return nes_h1_forward_request_head_tp(b, req, client, body_len, NULL);
}

int nes_h1_forward_request_head_tp(nes_buf *b, const nes_h1_request *req, const char *client,
                                   uint64_t body_len, const char *traceparent)
{
    size_t mark = b->len;
    const nes_h1_header *xff = NULL;
    if (nes_h1_write_request_line(b, req->method_name, req->target) != 0)
        goto fail;
    for (size_t i = 0; i < req->nheaders; i++) {
        const nes_h1_header *h = &req->headers[i];
        if (nes_h1_str_eq_nocase(h->name, "x-forwarded-for")) {
            if (xff == NULL)
                xff = h; /* several lines: the first one's list is extended (others dropped) */
            continue;
        }
        if (nes_h1_str_eq_nocase(h->name, "transfer-encoding") ||
            nes_h1_str_eq_nocase(h->name, "content-length") ||
            nes_h1_str_eq_nocase(h->name, "expect") ||
            nes_h1_str_eq_nocase(h->name, "x-forwarded-proto") ||
            (traceparent != NULL && nes_h1_str_eq_nocase(h->name, "traceparent")) ||
            dropped(req->headers, req->nheaders, h->name))
            continue;
        if (nes_h1_write_header(b, h->name, h->value) != 0)
            goto fail;
    }
    if (client != NULL && *client != '\0') {
        static const char name[] = "X-Forwarded-For: ";
        if (nes_buf_append(b, name, sizeof(name) - 1) != 0 ||
            (xff != NULL && xff->value.len > 0 &&
             (nes_buf_append(b, xff->value.p, xff->value.len) != 0 ||
              nes_buf_append(b, ", ", 2) != 0)) ||
            nes_buf_append(b, client, strlen(client)) != 0 || nes_buf_append(b, "\r\n", 2) != 0)
            goto fail;
    } else if (xff != NULL && nes_h1_write_header(b, xff->name, xff->value) != 0) {
        goto fail;
    }
    if (nes_h1_write_header(b, lit("X-Forwarded-Proto"), lit("https")) != 0)
        goto fail;
    if (traceparent != NULL && nes_h1_write_header(b, lit("traceparent"), lit(traceparent)) != 0)
        goto fail;
    bool body_method = req->method == NES_H1_M_POST || req->method == NES_H1_M_PUT ||
                       req->method == NES_H1_M_PATCH;
    if ((body_len > 0 || body_method) &&
        nes_h1_write_header_u64(b, "Content-Length", body_len) != 0)
        goto fail;
    if (nes_h1_write_end(b) != 0)
        goto fail;
    return 0;
fail:
    b->len = mark;
    return -1;
}

int nes_h1_forward_response_head(nes_buf *b, const nes_h1_response *res, bool keep_framing,
                                 bool close, int client_minor)
{
    size_t mark = b->len;
    char reason[256];
    const char *why = NULL;
    if (res->reason.len > 0 && res->reason.len < sizeof(reason)) {
        memcpy(reason, res->reason.p, res->reason.len);
        reason[res->reason.len] = '\0';
        why = reason;
    }
    /* a reason the writer does not take (obs-text...) gives way to the standard one */
    if (nes_h1_write_status_line(b, 1, res->status, why) != 0 &&
        (why == NULL || nes_h1_write_status_line(b, 1, res->status, NULL) != 0))
        goto fail;
    for (size_t i = 0; i < res->nheaders; i++) {
        const nes_h1_header *h = &res->headers[i];
        bool framing = nes_h1_str_eq_nocase(h->name, "transfer-encoding") ||
                       nes_h1_str_eq_nocase(h->name, "content-length");
        if ((framing && !keep_framing) || dropped(res->headers, res->nheaders, h->name))
            continue;
        if (nes_h1_write_header(b, h->name, h->value) != 0)
            goto fail;
    }
    if (close && nes_h1_write_header(b, lit("Connection"), lit("close")) != 0)
        goto fail;
    if (!close && client_minor == 0 &&
        nes_h1_write_header(b, lit("Connection"), lit("keep-alive")) != 0)
        goto fail;
    if (nes_h1_write_end(b) != 0)
        goto fail;
    return 0;
fail:
    b->len = mark;
    return -1;
}
