/* request.h - the strict RFC 9112 request head parser (server side).
 *
 * Stateless: nes_h1_parse_request() parses the bytes accumulated so far from their start and says
 * "complete head of N bytes", "need more" or "refused". A caller that receives bytes piecemeal
 * avoids quadratic rescans by calling it only once nes_h1_head_end() (h1.h) finds the end of the
 * head or the buffer reaches limits.max_head_bytes. After a complete head, the body follows at
 * buf + N, framed as `framing` says; bytes after the body are the next pipelined request.
 *
 * Accepted (RFC 9112 unless noted):
 *   - empty lines (CRLF or LF) before the request line (§2.2);
 *   - a bare LF as any line terminator (§2.2);
 *   - method = token, exactly one SP, request-target of visible ASCII (origin-form; absolute-form;
 *     "*" for OPTIONS only; authority-form host:port for CONNECT only; §3.2), exactly one SP,
 *     "HTTP/1.0" or "HTTP/1.1";
 *   - field lines `token ":" OWS value OWS` with values of VCHAR, obs-text, SP and HTAB
 *     (OWS trimmed); Host as uri-host [":" port] bytes, possibly empty;
 *   - Content-Length of digits only, repeated on several lines with the same value (folded);
 *   - Transfer-Encoding whose only coding is chunked (empty list elements ignored, RFC 9110
 *     §5.6.1), HTTP/1.1 only;
 *   - Expect: 100-continue (flag; ignored in HTTP/1.0 and without content, RFC 9110 §10.1.1);
 *   - Connection: close / keep-alive (other tokens are hop-by-hop names and are ignored).
 * Refused, in byte order (first problem wins; semantic checks run once the head is complete, in
 * the order Host, Content-Length, Transfer-Encoding, Connection, Expect):
 *   400: bad request line (not token method, not single SPs, bad target form, a "#" fragment,
 * version syntax), bare CR, NUL or other CTL anywhere in the head, whitespace before the first
 * field line, obs-fold, empty or non-token field name, whitespace before the colon, missing Host
 *        in 1.1, several Host lines, invalid Host, Content-Length not 1*DIGIT or over 2^63-1,
 *        different Content-Lengths, Transfer-Encoding with Content-Length, Transfer-Encoding in
 *        HTTP/1.0, chunked applied twice or with parameters, an empty Transfer-Encoding, a bad
 *        Connection list;
 *   414: request-target over limits.max_target_bytes;
 *   417: any expectation other than 100-continue;
 *   431: head over limits.max_head_bytes, more than limits.max_headers field lines;
 *   501: a transfer coding other than chunked (gzip, identity, xchunked, ...);
 *   505: an HTTP version other than 1.0 and 1.1 (syntactically valid).
 * Every refusal means: answer err->status, then close the connection without parsing any
 * further byte. docs/http-framing.md lists every case with its RFC section.
 *
 * Memory: nothing is allocated; nes_h1_request holds NES_H1_MAX_HEADERS slices (about 4 KiB),
 * so keep one per connection or per worker, not on a small stack. */
#ifndef NES_HTTP_REQUEST_H
#define NES_HTTP_REQUEST_H

#include "http/h1.h"

/** The form of the request-target (RFC 9112 §3.2). */
typedef enum nes_h1_target_form {
    NES_H1_TARGET_ORIGIN = 0, /**< "/path?query" */
    NES_H1_TARGET_ABSOLUTE,   /**< "scheme:..." (e.g. to a proxy) */
    NES_H1_TARGET_AUTHORITY,  /**< "host:port" (CONNECT) */
    NES_H1_TARGET_ASTERISK,   /**< "*" (OPTIONS) */
} nes_h1_target_form;

/** A parsed request head. Slices point into the parsed buffer. */
typedef struct nes_h1_request {
    nes_h1_method method;
    nes_h1_str method_name; /**< always set, e.g. "GET" */
    nes_h1_str target;      /**< request-target as sent (not decoded) */
    nes_h1_target_form target_form;
    int minor_version; /**< 0 or 1 (HTTP/1.x) */
    size_t nheaders;
    nes_h1_str host;         /**< the Host value (empty when absent in HTTP/1.0) */
    nes_h1_framing framing;  /**< NONE, LENGTH or CHUNKED */
    uint64_t content_length; /**< with NES_H1_BODY_LENGTH; else 0 */
    bool keep_alive;         /**< the connection may stay open after the response */
    bool expect_continue;    /**< Expect: 100-continue in HTTP/1.1 with content to come
                                  (chunked, or Content-Length > 0): answer 100 before reading it */
    size_t head_len;         /**< bytes of the head, leading empty lines included */
    /* last: of the 4 KiB array a request touches only its first entries, so the fields above
     * share cache lines */
    nes_h1_header headers[NES_H1_MAX_HEADERS];
} nes_h1_request;

/** Parses the request head at buf[0 .. len). `lim` may be NULL (defaults). Returns the head's
 * length (> 0; `out` filled, the body starts at buf + that length), 0 when more bytes are
 * needed (`out` undefined), or -1 when refused (`err` set when not NULL; `out` undefined). */
int nes_h1_parse_request(const char *buf, size_t len, const nes_h1_limits *lim, nes_h1_request *out,
                         nes_h1_error *err);

/** The request's first header named `name` (case-insensitive), or NULL. */
const nes_h1_header *nes_h1_request_header(const nes_h1_request *req, const char *name);

#endif
