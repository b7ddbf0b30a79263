/* connect.h - the egress proxy's CONNECT request head (RFC 9110 section 9.3.6).
 *
 * A thin rule on top of the project's strict HTTP/1.1 request parser (src/http/request.h): the
 * head must parse there (its refusals and their statuses apply as they are: 400, 414, 417, 431,
 * 501, 505), the method must be CONNECT (else 405) and the target authority-form `host:port`
 * with host a DNS name or IPv4 literal (nes_host_valid; IPv6 literals and names with other
 * characters are refused, 400) and port 1-65535. The head is judged again as bytes arrive
 * (the codec's judgements depend only on the bytes before each offset), so a malformed request
 * line is refused without waiting for the rest of the head. Pure: no I/O, no allocation. */
#ifndef NES_PROXY_CONNECT_H
#define NES_PROXY_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/allowlist.h"

typedef enum nes_connect_result {
    NES_CONNECT_MORE = 0,       /**< a valid prefix; read more */
    NES_CONNECT_OK = 1,         /**< a whole head; see the request */
    NES_CONNECT_BAD = -1,       /**< refused; answer req->status (400, 414, 417, 501, 505) */
    NES_CONNECT_TOO_LARGE = -2, /**< head or field count over the limits (431) */
    NES_CONNECT_METHOD = -3,    /**< a well-formed request with another method (405) */
} nes_connect_result;

typedef struct nes_connect_req {
    char host[NES_HOST_MAX + 1];
    uint16_t port;
    size_t head_len; /**< bytes of the head, its closing empty line included (OK only) */
    int status;      /**< the HTTP status of a refusal */
    const char *why; /**< fixed reason for a refusal (never request bytes) */
    size_t offset;   /**< where the refusal was found */
} nes_connect_req;

/** Parses the head at buf[0..len); `max` bounds the head's length (431 beyond). */
nes_connect_result nes_connect_parse(const uint8_t *buf, size_t len, size_t max,
                                     nes_connect_req *req);

#endif
