/* proxy_mode.h - proxy mode of the service (DESIGN section 3, issue 8 item 4): the PROXY v2
 * step in front of TLS, and the upstream exchange that forwards a transformed request to the
 * application and streams its response back over the client's TLS session.
 *
 * The PROXY v2 step (PROXY_PROTOCOL=on): the connection's first phase, before the TLS handshake,
 * under the connection's header deadline. nes_proxy_preface peeks at the socket without consuming
 * anything past the header (MSG_PEEK, then a recv of exactly the header's length), so the TLS
 * bytes behind it stay in the socket for GnuTLS. A header the parser refuses (bad signature,
 * wrong version, truncated or oversized TLVs...) closes the connection with one log line naming
 * the reason and byte offset. So does a return endpoint (TLV 0xE0) that PROXY_RETURN_ALLOW does
 * not admit (retallow.h; default `peer`: the connecting host's own CID or address), unless
 * UPSTREAM is set (then the TLV is not used). With PROXY_PROTOCOL off a header is simply not TLS:
 * the handshake refuses it.
 *
 * The exchange (one per proxied request, owned by the client connection, on the worker's loop):
 *   connect (or reuse a pooled keep-alive connection: upool.h) -> send head + body -> read the
 *   response head (codec: http/response.h; 1xx interim heads skipped) -> write the client's
 *   response head (http/forward.h) -> stream the body: Content-Length and chunked bodies pass
 *   through byte for byte (chunked decoded alongside only to find its end; for an HTTP/1.0
 *   client the chunks are unwrapped and the connection closes), close-delimited ones until EOF.
 * Backpressure: upstream reading pauses while more than NES_UPX_HIGH bytes wait in the client's
 * output buffer and resumes when the connection drained it (nes_upx_resume), so memory per
 * exchange stays below NES_UPX_HIGH + NES_UPX_IN_CAP whatever the body's size.
 * Failures before the response head went out become JSON errors: connect refused, reset,
 * invalid response head -> 502; UPSTREAM_TIMEOUT_SECS without a response head -> 504. A reused
 * pooled connection that fails before any response byte is retried once on a fresh connection
 * (the application may have closed it while idle). After the head went out, a failure can only
 * close the client's connection. The same timeout bounds every later wait for upstream bytes;
 * a wait for the client to take queued output is bounded by client_timeout_secs
 * (REQUEST_TIMEOUT_SECS), after which the client's connection closes.
 *
 * Cost per request on a pooled connection: one send (head and body in one buffer), one recv for
 * a small response, no epoll_ctl (a connection is registered once and stays registered while
 * parked; an event on a parked connection closes it) and no probe of a parked connection before
 * use (one the application closed is retried once, as above). A connection is parked only when
 * its last read left the socket empty, so no unread byte can be taken for the next response.
 *
 * Observability: counters nes_upstream_connections_total{pool=new|reused},
 * nes_upstream_retries_total, nes_upstream_errors_total{kind}, the histogram
 * nes_upstream_response_head_seconds (metrics.h); a CLIENT span "upstream" per exchange, a child
 * of the request's span, with nes.upstream.reused, http.response.status_code and error.type.
 *
 * Threads: everything runs on the worker's thread; the pool is per worker. */
#ifndef NES_ENCLAVE_PROXY_MODE_H
#define NES_ENCLAVE_PROXY_MODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "enclave/upool.h"
#include "http/h1.h"
#include "net/endpoint.h"
#include "net/loop.h"
#include "net/proxyv2.h"
#include "obs/otel/trace.h"
#include "enclave/retallow.h"

#include <sys/socket.h>

/** Client output bytes above which the upstream is not read. */
#define NES_UPX_HIGH ((size_t)256 * 1024)
/** The exchange's upstream input buffer. */
#define NES_UPX_IN_CAP ((size_t)64 * 1024)

/** Finished exchange objects (with their input buffers) a worker keeps for reuse. */
#define NES_UPX_SPARE 4

/** What the PROXY v2 header (or the socket) says about a connection. */
typedef struct nes_proxy_peer {
    char client[64];                  /**< client address ("203.0.113.7", "2001:db8::1"), or "" */
    char ret[NES_PP2_RETURN_MAX + 1]; /**< the return endpoint URI (TLV 0xE0), or "" */
} nes_proxy_peer;

/** Reads the PROXY v2 header at the start of the non-blocking socket `fd`. 1: done, `peer`
 * filled, the socket positioned right after the header; 0: incomplete, wait for more bytes; -1:
 * refused or the peer closed (one log line written; close the connection). */
int nes_proxy_preface(int fd, nes_proxy_peer *peer);

/** PROXY_PROTOCOL=on without UPSTREAM: true when the header named no return endpoint or one that
 * `allow` admits for the socket's peer (getpeername of `fd`); else false after one log line
 * naming the endpoint (the caller closes the connection). */
bool nes_proxy_return_allowed(int fd, const nes_proxy_peer *peer, const nes_retallow *allow);

/** Fills peer->client from the socket's peer address (PROXY_PROTOCOL off), when not set yet. */
void nes_proxy_peer_from_socket(int fd, nes_proxy_peer *peer);

typedef struct nes_upx nes_upx;
typedef struct nes_uconn nes_uconn;

/** Per-worker proxy state: the idle connection pool and its expiry timer. */
typedef struct nes_proxy_env {
    nes_loop *loop;
    nes_upool pool; /* parked connections (nes_uconn, still registered with the loop) */
    nes_timer pool_timer;
    nes_io reaper;                 /* deferred: frees closed connections after the batch */
    nes_uconn *dead;               /* closed connections waiting for the reaper */
    nes_upx *spare[NES_UPX_SPARE]; /* finished exchanges kept for reuse */
    size_t nspare;
    /* UPSTREAM's address when it names a host (looked up once per worker) */
    char name_host[NES_EP_HOST_MAX + 1];
    uint16_t name_port;
    struct sockaddr_storage name_ss;
    socklen_t name_len;
} nes_proxy_env;

/** A new per-worker state on `loop` (idle pooled connections kept up to `idle_ms`). NULL when out
 * of memory. */
nes_proxy_env *nes_proxy_env_new(nes_loop *loop, int64_t idle_ms);

/** Closes the pooled connections and frees `penv` (NULL is fine). */
void nes_proxy_env_free(nes_proxy_env *penv);

/** How an exchange ended (passed to its `done` callback). */
typedef struct nes_upx_result {
    int status;         /**< the application's status; or 502/504 when !head_sent */
    bool head_sent;     /**< a response head went to the client */
    bool close_client;  /**< the client's connection must close after what is queued */
    const char *error;  /**< NULL, or a fixed reason ("connect", "timeout", "reset", "invalid
                             response", "upstream name") */
    uint64_t bytes_out; /**< response bytes queued for the client (head included) */
} nes_upx_result;

/** The client connection's side of an exchange (implemented by conns.c). */
typedef struct nes_upx_sink {
    void *owner;
    nes_buf *(*out)(void *owner);   /**< the client's output buffer (append only) */
    size_t (*pending)(void *owner); /**< bytes queued there and not yet sent */
    void (*kick)(void *owner);      /**< output was queued: send it (from the loop) */
    bool (*closing)(void *owner);   /**< the client's connection ends after this answer
                                         (draining); may be NULL */
    void (*done)(void *owner, const nes_upx_result *r); /**< the exchange ended; it is freed
                                                             right after this returns */
} nes_upx_sink;

/** What to forward. */
typedef struct nes_upx_req {
    const char *endpoint; /**< URI: UPSTREAM, or the connection's return endpoint */
    nes_buf bytes;        /**< head and body (taken over by the exchange) */
    nes_h1_method method; /**< the request's method (HEAD changes the response framing) */
    int client_minor;     /**< the client's HTTP/1.x minor version */
    bool client_keep_alive;
    unsigned timeout_secs;        /**< UPSTREAM_TIMEOUT_SECS: each wait for the application */
    unsigned client_timeout_secs; /**< each wait for the client to take queued output */
    bool allow_names; /**< a tcp host may be a name (UPSTREAM); else literal addresses only */
    nes_span span;    /**< the upstream CLIENT span, begun with nes_upx_req_trace (its traceparent
                           goes into the head); the exchange completes and ends it */
} nes_upx_req;

/** Begins req->span as a child of `parent` (the request's span; may be NULL) and writes its
 * traceparent value to `tp` for the forwarded head (http/forward.h _tp). */
void nes_upx_req_trace(nes_upx_req *req, const nes_span *parent, char tp[NES_TRACEPARENT_LEN + 1]);

/** Starts an exchange. Always takes `req->bytes`. NULL when it could not start (the endpoint is
 * unusable or resources ran out): *status then says 502, with a fixed *why. The sink's
 * callbacks run later, from the loop, never from inside this call. */
nes_upx *nes_upx_start(nes_proxy_env *penv, nes_upx_req *req, const nes_upx_sink *sink, int *status,
                       const char **why);

/** The client's output drained below NES_UPX_HIGH: continue reading the upstream. */
void nes_upx_resume(nes_upx *x);

/** The client connection is closing: drop the exchange (upstream connection closed, no callback).
 */
void nes_upx_abort(nes_upx *x);

#endif
