/* relay.h - the byte relay engine: accepted connections tied to an upstream, bytes both ways.
 *
 * Shared by nitro-enc-proxy (ingress, egress) and the service's in-process bridge (bridge.h).
 * One engine owns N worker threads (default: one per core), each running its own event loop
 * (net/loop.h, the loop the HTTPS server runs on); every listener is in every worker's epoll set
 * (EPOLLEXCLUSIVE), so accepted connections spread over the workers and never move between them
 * (no locks on the data path).
 *
 * Per accepted connection, in order:
 *   1. cap: when opts.max_conns connections are open, the new one is closed at once
 *      and counted as refused;
 *   2. head (optional, listener.head): client bytes are read into a bounded buffer (at most
 *      opts.head_max bytes) and offered to the callback until it decides: more, reject with a
 *      reply (written, then the connection closes), or go to a target endpoint with a reply to
 *      the client (e.g. "200 Connection established") and the count of bytes it consumed (the
 *      rest is relayed to the upstream first). The egress proxy's CONNECT step and the metrics
 *      endpoint use this;
 *   3. connect: non-blocking connect to the target, every address tried in turn, bounded by
 *      opts.connect_timeout_ms (name lookup included). A tcp host that is a name is looked up by
 *      getaddrinfo on one resolver thread per engine (started on the first name), so a slow DNS
 *      answer never stalls a worker; numeric addresses, unix and vsock never wait for it;
 *   4. preface (optional, listener.preface): bytes written to the upstream before any client
 *      byte (the ingress proxy's PROXY v2 header);
 *   5. relay: both directions pumped independently. A direction copies through a 16 KiB buffer
 *      (one read and one send per small message: cheaper than two splices and their pipe) and
 *      switches to splice(2) through a pipe (no copy through user space) when a read fills that
 *      buffer, i.e. for bulk, back to copying when a splice brings little; when the kernel
 *      refuses splice for a pair of fds (EINVAL) that direction keeps copying through a buffer
 *      of opts.buf_bytes. Either way at most opts.buf_bytes are in flight per direction: a full
 *      buffer stops reading the source, so a slow reader slows the writer and memory stays flat.
 *      EOF on one side is passed on with shutdown(SHUT_WR) on the other once its buffer is
 *      drained (half-close); the connection closes when both directions have finished, on an
 *      error (reset) of either side, or when no byte moved for opts.idle_timeout_ms.
 *
 * Drain (SIGTERM): nes_relay_drain stops accepting (listeners leave every epoll set), lets open
 * connections finish for up to the grace period, then closes what is left. Counters are per
 * worker (relaxed atomics), summed by nes_relay_stats; nes_relay_format_metrics renders them in
 * Prometheus text. The engine does no logging: the program passes an event callback. */
#ifndef NES_NET_RELAY_H
#define NES_NET_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "net/endpoint.h"

/** Most listeners one engine serves. */
#define NES_RELAY_MAX_LISTENERS 8
/** Largest reply a head callback may ask to send (bytes). */
#define NES_RELAY_REPLY_MAX 4096
/** Largest preface (bytes). A PROXY v2 header with its TLVs fits well inside. */
#define NES_RELAY_PREFACE_MAX 1024

typedef struct nes_relay nes_relay;

/** Engine options; zero fields take the defaults in brackets. */
typedef struct nes_relay_opts {
    unsigned threads;            /**< worker threads [online cores] */
    unsigned max_conns;          /**< open connections across workers [4096] */
    unsigned idle_timeout_ms;    /**< close after this long without a byte moving [300000] */
    unsigned connect_timeout_ms; /**< upstream connect bound [10000] */
    unsigned head_timeout_ms;    /**< head step bound (head listeners only) [10000] */
    size_t buf_bytes;            /**< bytes in flight per direction (pipe size) [65536] */
    size_t head_max;             /**< head buffer bound [8192] */
    int copy_only;               /**< 1: read/write through buffers, never splice (tests) */
    unsigned busy_poll_us;       /**< each worker loop's busy-poll window (net/loop.h) [0: off] */
} nes_relay_opts;

/** What a head callback decided. */
typedef enum nes_relay_verdict {
    NES_RELAY_MORE = 0, /**< need more bytes (at head_max the connection is closed, kind head) */
    NES_RELAY_GO,       /**< connect to `target`, send `reply` to the client, relay */
    NES_RELAY_REJECT,   /**< send `reply` to the client, then close */
} nes_relay_verdict;

/** The head callback's answer. `reply` (at most NES_RELAY_REPLY_MAX bytes, or a larger reply in
 * `big_reply`, which the engine takes over and frees) is sent to the client. */
typedef struct nes_relay_head {
    nes_endpoint target; /**< GO: where to connect */
    size_t consumed;     /**< GO: bytes of the head buffer that are not relayed upstream */
    char reply[NES_RELAY_REPLY_MAX];
    size_t reply_len;
    nes_buf big_reply;    /**< optional: a reply too large for `reply` (REJECT only) */
    char fail_reply[256]; /**< GO: sent to the client instead when the upstream connect fails */
    size_t fail_reply_len;
} nes_relay_head;

/** Decides what to do with the first bytes of a connection. `buf` holds every byte read so far
 * (len <= opts.head_max); `peer` is the client fd (for getpeername). Called on a worker thread;
 * must not block. */
typedef nes_relay_verdict (*nes_relay_head_fn)(void *ctx, int peer, const uint8_t *buf, size_t len,
                                               nes_relay_head *out);

/** Writes bytes to send upstream before any client byte (at most cap = NES_RELAY_PREFACE_MAX)
 * into `out`; returns their count, or -1 to refuse the connection. `client` is the accepted fd.
 * Called on a worker thread; must not block. */
typedef int (*nes_relay_preface_fn)(void *ctx, int client, uint8_t *out, size_t cap);

/** One listening socket and how its connections are served. Either `target` is set (fixed
 * upstream) or `head` is. */
typedef struct nes_relay_listener {
    int fd;                       /**< listening, non-blocking; the engine closes it */
    const nes_endpoint *target;   /**< fixed upstream (copied), or NULL when `head` picks it */
    nes_relay_head_fn head;       /**< optional */
    nes_relay_preface_fn preface; /**< optional */
    void *ctx;                    /**< passed to the callbacks */
    const char *name;             /**< label for events ("ingress", "return", "egress", ...) */
} nes_relay_listener;

/** Error kinds counted (and passed to the event callback). */
typedef enum nes_relay_err {
    NES_RELAY_E_CONNECT = 0, /**< upstream connect refused / unreachable / name unknown */
    NES_RELAY_E_CONNECT_TIMEOUT,
    NES_RELAY_E_RESET,    /**< a read or write failed on an established connection */
    NES_RELAY_E_IDLE,     /**< the idle timeout fired */
    NES_RELAY_E_HEAD,     /**< head too large, timed out, or closed before a decision */
    NES_RELAY_E_REJECTED, /**< the head callback rejected the connection */
    NES_RELAY_E_PREFACE,  /**< the preface callback refused the connection */
    NES_RELAY_E_DRAIN,    /**< closed when the drain grace ran out */
    NES_RELAY_E_RESOURCE, /**< fd, pipe or memory exhausted */
    NES_RELAY_E_COUNT,
} nes_relay_err;

/** Events reported to the program (which logs them). */
typedef enum nes_relay_event_kind {
    NES_RELAY_EV_REFUSED = 0, /**< over max_conns */
    NES_RELAY_EV_ERROR,       /**< see err */
    NES_RELAY_EV_CLOSED,      /**< a relayed connection finished (bytes set) */
} nes_relay_event_kind;

/** An event. Addresses and endpoint strings only; never payload bytes. */
typedef struct nes_relay_event {
    nes_relay_event_kind kind;
    nes_relay_err err;    /**< for NES_RELAY_EV_ERROR */
    int sys_errno;        /**< errno behind the error, or 0 */
    const char *listener; /**< the listener's name */
    const char *target;   /**< upstream URI (may be NULL before a target is known) */
    uint64_t bytes_up;    /**< client -> upstream */
    uint64_t bytes_down;  /**< upstream -> client */
} nes_relay_event;

typedef void (*nes_relay_event_fn)(void *ctx, const nes_relay_event *ev);

/** Summed counters. */
typedef struct nes_relay_stats {
    uint64_t open, total, refused;
    uint64_t bytes_up, bytes_down;
    uint64_t errors[NES_RELAY_E_COUNT];
} nes_relay_stats;

/** Creates an engine serving `nlisteners` listeners (at most NES_RELAY_MAX_LISTENERS; their fds
 * are owned by the engine from here on, also on failure) and starts its workers. `event` may be
 * NULL. Returns NULL with a reason in `why` on failure. */
nes_relay *nes_relay_start(const nes_relay_opts *opts, const nes_relay_listener *listeners,
                           size_t nlisteners, nes_relay_event_fn event, void *event_ctx, char *why,
                           size_t why_len);

/** Stops accepting, waits up to `grace_ms` for open connections to finish, closes the rest and
 * joins the workers. Safe to call once; the engine stays valid for nes_relay_stats until freed. */
void nes_relay_drain(nes_relay *r, unsigned grace_ms);

/** Drains with no grace if still running, then frees the engine. NULL is fine. */
void nes_relay_free(nes_relay *r);

/** Sums every worker's counters into `s` (relaxed reads). */
void nes_relay_stats_get(const nes_relay *r, nes_relay_stats *s);

/** The stable label of an error kind ("connect", "connect_timeout", "reset", "idle", ...). */
const char *nes_relay_err_name(nes_relay_err e);

/** Appends the Prometheus text exposition of `s` to `out` (metric names prefixed with
 * `prefix`, e.g. "nes_proxy"). 0, or -1 when out of memory. */
int nes_relay_format_metrics(const nes_relay_stats *s, const char *prefix, nes_buf *out);

#endif
