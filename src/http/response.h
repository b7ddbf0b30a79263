/* response.h - the strict RFC 9112 response head parser, for proxy mode's upstream side (the
 * service as a client of the application).
 *
 * Stateless like request.h: parse the bytes accumulated so far; complete head, need more, or
 * refused. Every refusal has status 502 (the upstream's answer cannot be used: answer the client
 * 502 and close the upstream connection) with a fixed reason and the byte offset.
 *
 * Accepted: "HTTP/1.0" or "HTTP/1.1", SP, a 3-digit status 100..599, SP, a reason phrase of
 * HTAB / SP / VCHAR / obs-text (the SP and reason may be missing: RFC 9112 §4 lets clients
 * ignore the reason); bare LF line ends; the same field syntax as requests (token names, no
 * whitespace before the colon, no obs-fold, no bare CR, no NUL or other CTL in values).
 * Framing (RFC 9112 §6.3), in this order:
 *   1. a response to HEAD, any 1xx, 204 and 304, a 2xx to CONNECT: no body, whatever the fields;
 *   2. Transfer-Encoding: refused in HTTP/1.0 and beside Content-Length (smuggling, §6.3 item 3);
 *      its codings must be exactly chunked (we decode nothing else) -> NES_H1_BODY_CHUNKED;
 *   3. Content-Length: digits only, repeated lines must agree -> NES_H1_BODY_LENGTH;
 *   4. otherwise the body runs to the connection's close -> NES_H1_BODY_CLOSE.
 * keep_alive: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "keep-alive"; never with
 * a close-delimited body, a 101 or a 2xx to CONNECT (the connection is no longer HTTP). A 1xx
 * response is interim: the final response follows it (parse again at buf + its length). */
#ifndef NES_HTTP_RESPONSE_H
#define NES_HTTP_RESPONSE_H

#include "http/h1.h"

/** A parsed response head. Slices point into the parsed buffer. */
typedef struct nes_h1_response {
    int status;        /**< 100..599 */
    nes_h1_str reason; /**< may be empty */
    int minor_version; /**< 0 or 1 */
    size_t nheaders;
    nes_h1_header headers[NES_H1_MAX_HEADERS];
    nes_h1_framing framing;  /**< NONE, LENGTH, CHUNKED or CLOSE */
    uint64_t content_length; /**< with NES_H1_BODY_LENGTH; else 0 */
    bool keep_alive;         /**< the connection may carry another request */
    size_t head_len;         /**< bytes of the head */
} nes_h1_response;

/** Parses the response head at buf[0 .. len) to a request with method `req_method` (HEAD and
 * CONNECT change the framing). `lim` may be NULL (defaults; max_target_bytes is unused).
 * Returns the head's length (> 0), 0 when more bytes are needed, -1 when refused (`err` set
 * when not NULL, status 502). */
int nes_h1_parse_response(const char *buf, size_t len, const nes_h1_limits *lim,
                          nes_h1_method req_method, nes_h1_response *out, nes_h1_error *err);

/** The response's first header named `name` (case-insensitive), or NULL. */
const nes_h1_header *nes_h1_response_header(const nes_h1_response *res, const char *name);

#endif
