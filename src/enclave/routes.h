/* routes.h - what the service answers (DESIGN section 7), independent of how bytes arrive: the
 * connection code (conns.c) hands over a parsed request and gets back a response to serialise.
 *
 * A request is routed in two steps because some answers must not wait for the body:
 *   1. nes_routes_begin, when the head is complete: picks the route and decides everything the
 *      body cannot change (404, 405, 403 for /decrypt, 415, 413 from Content-Length). It says
 *      whether the connection should read the body, read and discard it (the answer is already
 *      known; reading it keeps the connection usable), or answer at once and close (a declared
 *      length over 4 x MAX_BODY_BYTES, or a client waiting for 100-continue).
 *   2. nes_routes_respond, when the body is complete (or discarded): fills the response.
 * Every answer is counted in the metrics and logged as one access line (route, status, schema,
 * sizes, latency; never a value). nes_routes_refused answers a request the HTTP codec refused,
 * nes_routes_aborted logs one the client abandoned. */
#ifndef NES_ENCLAVE_ROUTES_H
#define NES_ENCLAVE_ROUTES_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "enclave/metrics.h"
#include "obs/otel/trace.h"

struct nes_server;

/** A body being discarded (the answer is known) is read up to this many MAX_BODY_BYTES; past
 * that the answer goes out at once and the connection closes. */
#define NES_ROUTES_DISCARD_FACTOR 16

/** Looks a header up by name (case-insensitive); NULL when absent. */
typedef const char *(*nes_header_fn)(const void *head, const char *name);

/** A request as the routes see it. Strings are NUL-terminated and live until the response is
 * serialised. */
typedef struct nes_request {
    const char *method;
    const char *target; /**< origin-form path with an optional query */
    nes_header_fn header;
    const void *head;       /**< argument for `header` */
    gnutls_session_t tls;   /**< the client's TLS session (mTLS identity) */
    uint64_t t0_us;         /**< when the head was complete (monotonic) */
    int64_t content_length; /**< declared length, -1 for a chunked body */
    const uint8_t *body;
    size_t body_len;
    size_t bytes_in;    /**< body bytes received (also those discarded) */
    const char *client; /**< the client's address (PROXY v2 header or socket), or NULL */
} nes_request;

/** A response: status, fixed headers and a body the connection serialises once. */
typedef struct nes_response {
    unsigned status;
    const char *content_type;
    const char *allow;       /**< Allow header (405) or NULL */
    const char *retry_after; /**< Retry-After header (503) or NULL */
    bool close;              /**< Connection: close, then close */
    nes_buf body;            /**< owned; the connection frees it */
    bool forward; /**< proxy mode: `body` is the (transformed) request body to forward to the
                       application (enclave/proxy_mode.h); nothing is logged yet: the connection
                       calls nes_routes_forwarded when the exchange ends */
} nes_response;

/** The routing state kept between nes_routes_begin and nes_routes_respond. */
typedef struct nes_route_ctx {
    nes_route route;
    unsigned pending_status; /**< non-zero: answer with this error once the body is consumed */
    const char *pending_code;
    const char *pending_msg;
    bool close_after;
    const char *schema; /**< the schema header's value */
    nes_span span;      /**< the request's server span (child of an incoming traceparent);
                             proxy mode's upstream span is its child (otel/trace.h) */
    size_t fields;      /**< proxy mode: fields encrypted in the forwarded body (access log) */
} nes_route_ctx;

/** What the connection does after nes_routes_begin. */
typedef enum nes_routes_next {
    NES_ROUTES_READ_BODY,    /**< read the body into nes_request.body (at most MAX_BODY_BYTES) */
    NES_ROUTES_DISCARD_BODY, /**< read and drop the body (the answer does not depend on it) */
    NES_ROUTES_ANSWER_NOW,   /**< `resp` is filled: send it without reading the body, close */
} nes_routes_next;

/** Step 1 (head complete): fills `ctx`; for NES_ROUTES_ANSWER_NOW also `resp`. `expect_continue`
 * says the client waits for 100 Continue before sending a body. */
nes_routes_next nes_routes_begin(struct nes_server *s, const nes_request *req, bool expect_continue,
                                 nes_route_ctx *ctx, nes_response *resp);

/** Step 2 (body complete or discarded): fills `resp`. `body_too_large` says the body passed
 * MAX_BODY_BYTES while being read (413, close). */
void nes_routes_respond(struct nes_server *s, const nes_request *req, nes_route_ctx *ctx,
                        bool body_too_large, nes_response *resp);

/** A request the codec refused: one JSON error with `status`, the fixed `reason` and the byte
 * `offset` ((size_t)-1: none) where the input went wrong; always Connection: close. `req` and
 * `ctx` are the request when its head was accepted and its body was refused, else NULL. */
void nes_routes_refused(struct nes_server *s, const nes_request *req, const nes_route_ctx *ctx,
                        unsigned status, const char *reason, size_t offset, nes_response *resp);

/** Fills the scrape-time gauges (readiness, keys, connections, drops) of the metrics. */
void nes_routes_gauges(struct nes_server *s, nes_metrics_gauges *g);

/** Proxy mode: the exchange of a request answered with `forward` ended. With `head_sent` the
 * application's `status` reached the client (`bytes_out` bytes), only logged and counted; else
 * `resp` is filled with the JSON error for `status` (502 unreachable, 504 timed out; `why` a fixed
 * reason, never content). */
void nes_routes_forwarded(struct nes_server *s, const nes_request *req, nes_route_ctx *ctx,
                          unsigned status, bool head_sent, const char *why, uint64_t bytes_out,
                          nes_response *resp);

/** Logs (status 0, error "aborted") a request whose client went away before its answer. */
void nes_routes_aborted(struct nes_server *s, const nes_request *req, const nes_route_ctx *ctx);

/** The connection is done with a response body (serialised or forwarded): it is wiped, and one
 * of up to NES_ROUTES_SPARE_MAX bytes is kept for the calling thread's next transform result
 * instead of being freed (a fresh allocation and its free per request cost ~0.5k instructions);
 * `body` is empty afterwards. A body may always be given to nes_buf_free instead. */
void nes_routes_body_done(nes_buf *body);

/** Frees the calling thread's kept buffer (a worker thread before it ends). */
void nes_routes_thread_end(void);

/** Largest body buffer nes_routes_body_done keeps. */
#define NES_ROUTES_SPARE_MAX ((size_t)64 * 1024)

#endif
