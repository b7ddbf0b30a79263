/* connect.h - the egress proxy's CONNECT request head (RFC 9110 section 9.3.6), strictly.
 *
 * The one place that reads an HTTP request head in nitro-enc-proxy. It accepts exactly
 *
 *     CONNECT host:port HTTP/1.1 CRLF        (or HTTP/1.0; authority-form only)
 *     *( field-name ":" OWS field-value OWS CRLF )
 *     CRLF
 *
 * with host a DNS name or IPv4 literal (nes_host_valid), port 1-65535, field names tokens,
 * field values without control characters (HTAB allowed), at most NES_CONNECT_MAX_FIELDS fields,
 * and nothing else: bare LF, obsolete line folding, other methods, absolute or origin forms,
 * IPv6 literals are refused. The request line is judged as soon as it is complete, so a
 * malformed one is refused without waiting for the rest of the head. When the project's strict
 * HTTP/1.1 request parser (src/http/, branch http-codec) lands, this function's body becomes one
 * call to it; callers do not change. Pure: no I/O, no allocation. */
#ifndef NES_PROXY_CONNECT_H
#define NES_PROXY_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/allowlist.h"

/** Most header fields in a CONNECT head. */
#define NES_CONNECT_MAX_FIELDS 64

typedef enum nes_connect_result {
    NES_CONNECT_MORE = 0,       /**< a valid prefix; read more */
    NES_CONNECT_OK = 1,         /**< a whole head; see the request */
    NES_CONNECT_BAD = -1,       /**< malformed (400) */
    NES_CONNECT_TOO_LARGE = -2, /**< no end of head within `max` bytes (431) */
    NES_CONNECT_METHOD = -3,    /**< a well-formed request line with another method (405) */
} nes_connect_result;

typedef struct nes_connect_req {
    char host[NES_HOST_MAX + 1];
    uint16_t port;
    size_t head_len; /**< bytes of the head, CRLF CRLF included (OK only) */
    const char *why; /**< fixed reason for a refusal (never request bytes) */
    size_t offset;   /**< where the refusal was found */
} nes_connect_req;

/** Parses the head at buf[0..len); `max` bounds the head's length. */
nes_connect_result nes_connect_parse(const uint8_t *buf, size_t len, size_t max,
                                     nes_connect_req *req);

#endif
