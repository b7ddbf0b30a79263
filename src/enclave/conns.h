/* conns.h - the client connections of one worker: TLS session, buffers, the HTTP/1.1 request
 * cycle and the connection's deadline, all driven by the worker's event loop (net/loop.h).
 *
 * A connection goes through these phases, each with its deadline on the loop's timer heap:
 *   handshake -> head -> [body] -> answer -> head ...      (keep-alive, pipelining)
 *   ... -> linger -> closed                                 (after a response with close)
 * - handshake + first request head: HEADER_TIMEOUT_SECS from accept (slowloris defence: the
 *   deadline does not move while bytes trickle in);
 * - body and the answer: REQUEST_TIMEOUT_SECS from the end of the head;
 * - between requests: IDLE_TIMEOUT_SECS, then HEADER_TIMEOUT_SECS from the next request's first
 *   byte;
 * - linger: after the last response of a closing connection, the write side is shut and input
 *   is read and dropped for up to 2 s, so a client still sending does not get a reset that
 *   destroys the response in its receive buffer (nginx's lingering close).
 * Proxy mode (enclave/proxy_mode.h) adds two phases: with PROXY_PROTOCOL=on a connection starts
 * in "preface" (the PROXY v2 header, under the header deadline) before the handshake; a request
 * routed to the application goes from [body] to "proxy", where its upstream exchange queues the
 * application's answer into the output buffer (reading paused while more than 256 KiB wait) and
 * the connection only sends; the exchange keeps the time, and pipelined requests wait.
 * Past a deadline the connection is closed without an answer; a request whose head was complete
 * is logged as aborted.
 *
 * Requests: the HTTP codec parses the head in place in the connection's input buffer (16 KiB
 * head limit, 32 KiB buffer); the routes decide (routes.h); the body is read straight into a
 * buffer of the announced size (at most MAX_BODY_BYTES) or decoded from chunks; the response is
 * serialised once into the output buffer, pipelined responses behind it in order, and the whole
 * buffer goes to GnuTLS in one call (one record and one sendmsg up to 16 KiB). A request the codec
 * refuses gets exactly one JSON error and the connection closes: no byte after it is parsed.
 * Reading is edge-triggered: a connection reads until EAGAIN, or defers itself after 16 requests
 * in one wakeup so one pipelining client cannot hold the worker.
 *
 * Memory per connection: the record, GnuTLS' session, the current request's body and, only
 * while a request is read or answered, a 32 KiB input buffer and a 4 KiB output buffer (one that
 * grew is kept up to 64 KiB): a connection that waits between requests with nothing buffered
 * gives its input buffer back (wiped) to its worker, and the output buffer once it is sent; the
 * worker keeps up to NES_CONN_POOL of each and hands out the last one given back first. So with
 * 1,000 keep-alive connections the buffers in use are about as many as the requests in flight,
 * and the ones a worker reuses are still in its cache (nginx frees its header buffers between
 * requests the same way).
 * Measured (1,000 connections that each made one POST /encrypt, then idle): ~16 KiB of RSS per
 * connection, most of it GnuTLS' session; ~48 KiB while every connection kept its own input
 * buffer. */
#ifndef NES_ENCLAVE_CONNS_H
#define NES_ENCLAVE_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <time.h>

#include "net/loop.h"

struct nes_server;
struct nes_proxy_env;
typedef struct nes_conn nes_conn;

/** Free input and output buffers a worker keeps for its connections (see "Memory per
 * connection"). */
#define NES_CONN_POOL 8

/** What the connections of one worker share (owned by the worker, used on its thread only). */
typedef struct nes_conn_env {
    struct nes_server *s;
    nes_loop *loop;
    nes_conn *first; /* every open connection of this worker */
    size_t count;
    time_t date_sec;       /* the cached Date header value is for this second */
    int64_t date_until_ms; /* ... which ends then (the loop's monotonic time) */
    char date[40];
    struct nes_proxy_env *proxy;     /* proxy mode's upstream pool, made on first use */
    uint8_t *in_pool[NES_CONN_POOL]; /* free input buffers (wiped), last given back on top */
    unsigned in_pooled;
    uint8_t *out_pool[NES_CONN_POOL]; /* free 4 KiB output buffers (wiped), likewise */
    unsigned out_pooled;
} nes_conn_env;

/** Takes over the accepted, non-blocking socket `fd`: sets up its TLS session, watches it and
 * arms the handshake deadline. On failure the socket is closed. 0 or -1. */
int nes_conn_open(nes_conn_env *env, int fd);

/** GnuTLS' certificate callback (gnutls_certificate_set_retrieve_function3) for the server's
 * credentials: the first call of a session takes a reference to the current credential set
 * (nes_tls_acquire), which the connection keeps until it closes, so a reload never pulls a chain
 * or key from under a session (GnuTLS does not copy them). */
int nes_conn_cert_callback(gnutls_session_t session, const struct gnutls_cert_retr_st *info,
                           gnutls_pcert_st **certs, unsigned int *ncerts,
                           gnutls_ocsp_data_st **ocsp, unsigned int *nocsp, gnutls_privkey_t *key,
                           unsigned int *flags);

/** Closes the connections that are between requests (draining). */
void nes_conns_close_idle(nes_conn_env *env);

/** Closes every connection of the worker (stopping). */
void nes_conns_close_all(nes_conn_env *env);

/** The Date header value for now (IMF-fixdate), cached per second: the loop's time (or the
 * monotonic clock without a loop) says when the second ends, so a response reads no clock. */
const char *nes_conn_date(nes_conn_env *env);

/** Monotonic clock in milliseconds. */
int64_t nes_now_ms(void);

/** Monotonic clock in microseconds. */
uint64_t nes_now_us(void);

#endif
