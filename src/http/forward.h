/* forward.h - the heads a forwarding intermediary writes (proxy mode, RFC 9110 §7.6): the
 * request head it sends to the application and the response head it sends back to the client,
 * each built from the parsed head it received. Pure code like the rest of src/http.
 *
 * Hop-by-hop fields (RFC 9110 §7.6.1) are dropped both ways: Connection and every field it
 * names, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding (request side), Upgrade, Trailer,
 * Proxy-Authenticate and Proxy-Authorization. The request side also drops what the service
 * settles itself: Content-Length (recomputed: the transformed body has another length), Expect
 * (the service answered 100-continue and holds the whole body) and X-Forwarded-For (written
 * again with the client's address appended, as nginx's $proxy_add_x_forwarded_for). Every other
 * field is copied in order, byte for byte (Host included).
 *
 * The response side keeps the status, reason and fields unchanged except the hop-by-hop ones;
 * Transfer-Encoding: chunked and Content-Length stay when the body is passed through with the
 * same framing (forward_framing says which), and "Connection: close" is added when the client's
 * connection ends after this response. */
#ifndef NES_HTTP_FORWARD_H
#define NES_HTTP_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/request.h"
#include "http/response.h"

/** True when field `name` is hop-by-hop by itself (the fixed list above; not those a Connection
 * field names). */
bool nes_h1_is_hop_by_hop(nes_h1_str name);

/** True when one of the `n` fields has name Connection and lists `name` as a token. */
bool nes_h1_connection_names(const nes_h1_header *headers, size_t n, nes_h1_str name);

/** Appends the request head for the application: the request line (method and target as
 * received, HTTP/1.1), the end-to-end fields of `req`, "X-Forwarded-For: <prior>, <client>"
 * (just the client when there was none; none when `client` is NULL or empty),
 * "X-Forwarded-Proto: https", "Content-Length: <body_len>" when body_len > 0 or the method
 * usually carries a body (POST, PUT, PATCH), and the empty line. 0, or -1 when a field cannot be
 * written (the buffer's max, allocation; nothing is appended then). */
int nes_h1_forward_request_head(nes_buf *b, const nes_h1_request *req, const char *client,
                                uint64_t body_len);

/** As nes_h1_forward_request_head, and with `traceparent` not NULL the request's own
 * `traceparent` fields are dropped and "traceparent: <traceparent>" follows X-Forwarded-Proto
 * (the intermediary's span becomes the application's parent; `tracestate` passes unchanged). */
int nes_h1_forward_request_head_tp(nes_buf *b, const nes_h1_request *req, const char *client,
                                   uint64_t body_len, const char *traceparent);

/** Appends the response head for the client: "HTTP/1.1 <status> <reason>" (the reason as
 * received, or the standard one when empty), the end-to-end fields of `res` (with
 * `keep_framing` also Transfer-Encoding and Content-Length as received: the body goes through
 * unchanged; without it both are dropped: the caller sends a close-delimited body), and
 * "Connection: close" when `close`, else "Connection: keep-alive" for an HTTP/1.0 client
 * (`client_minor` 0). 0 or -1 as above. */
int nes_h1_forward_response_head(nes_buf *b, const nes_h1_response *res, bool keep_framing,
                                 bool close, int client_minor);

#endif
