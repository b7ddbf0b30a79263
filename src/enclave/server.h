/* server.h - the HTTPS server (DESIGN sections 2, 3 and 11): WORKER_THREADS threads, each running
 * its own event loop (net/loop.h) over its own connections; no thread but the owner ever touches
 * a connection, so the request path takes no lock.
 *
 * Accepting: every worker watches the one listening socket with EPOLLEXCLUSIVE and accepts in its
 * own loop (per-worker accept: no acceptor thread, so the pre-TLS step, accept_preface in
 * server.c, where proxy mode will read the PROXY v2 header as a connection phase with its own
 * deadline, runs in a loop like any other read). Balancing: the kernel wakes the same idle
 * worker again and again (exclusive waiters are woken in queue order), which would put every
 * keep-alive connection on one core, so the accepting worker places each new connection on the
 * workers in turn, handing it over with a posted task (one eventfd write per connection, not per
 * request). Unix and vsock listeners work the same (SO_REUSEPORT would be TCP only and balances
 * by hash, not by turn).
 *
 * Limits: MAX_CONNECTIONS over all workers (a connection over the cap is closed at once and
 * counted), a deadline per connection phase (TLS handshake + request head: HEADER_TIMEOUT_SECS;
 * request body: REQUEST_TIMEOUT_SECS; between requests: IDLE_TIMEOUT_SECS) kept by the loop's
 * timers. SIGTERM: nes_server_stop_accepting closes the listener, nes_server_drain marks the
 * server draining (every response then carries Connection: close and idle keep-alive connections
 * are closed) and waits for requests in flight. */
#ifndef NES_ENCLAVE_SERVER_H
#define NES_ENCLAVE_SERVER_H

#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enclave/config.h"

struct nes_worker;

#define NES_SERVER_INFLIGHT_SLOTS 16 /* the last one shared by threads beyond (atomic adds) */

typedef struct nes_server {
    const nes_config *cfg;
    struct nes_worker *workers;
    unsigned nworkers;
    int listen_fd;
    int bound_port; /* tcp/vsock port actually bound (useful with port 0) */
    char *client_ca_pem;
    gnutls_certificate_credentials_t xcred; /* certificate callback + client CA */
    gnutls_priority_t prio;
    _Atomic bool draining;
    _Atomic long open;            /* open connections (all workers) */
    _Atomic unsigned acks;        /* workers that finished a cross-thread step */
    _Atomic unsigned next_worker; /* round-robin placement of new connections */
    _Atomic uint64_t rejected;
    _Atomic uint64_t tls_reloads, tls_reload_errors, schema_refresh_errors;
    /* requests between head and answer, counted per thread on a cache line of its own (one
     * shared counter took the line, with cfg and draining, from the other worker twice per
     * request): nes_server_inflight_add, nes_server_inflight */
    struct {
        char pad[64 - sizeof(long)];
        _Atomic long n;
    } inflight[NES_SERVER_INFLIGHT_SLOTS];
} nes_server;

/** Adds `d` to the requests in flight (the calling thread's slot). */
void nes_server_inflight_add(nes_server *s, long d);

/** The requests in flight: the sum of the threads' slots. */
long nes_server_inflight(nes_server *s);

/** The embedded OpenAPI description of this service (docs/openapi.yaml). */
extern const char nes_openapi_yaml[];
/** Its length in bytes. */
extern const size_t nes_openapi_yaml_len;

/** Starts the workers on cfg->listen_ep. The current TLS credential set must be installed
 * (nes_tls_install) first. 0, or -1 with a reason. */
int nes_server_start(nes_server *s, const nes_config *cfg, char *why, size_t why_len);

/** Stops accepting new connections (every worker lets go of the listener, then it is closed);
 * open ones continue. */
void nes_server_stop_accepting(nes_server *s);

/** Marks the server draining (responses carry Connection: close, idle connections close) and
 * waits until no request is in flight or `grace_ms` passed. Returns the requests still in
 * flight. */
long nes_server_drain(nes_server *s, int64_t grace_ms);

/** Stops the workers (closing every connection) and frees the server. */
void nes_server_stop(nes_server *s);

#endif
