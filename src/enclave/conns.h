/* conns.h - per-connection records indexed by socket fd: phase deadlines (slowloris defence),
 * the TLS credential set a connection uses, and the open-connection gauge.
 *
 * libmicrohttpd's own timeout is an idle timeout: a client sending one byte per second never
 * trips it. Each record therefore carries a deadline for the phase the connection is in (TLS
 * handshake and request headers, then the request body, then the next request's headers); the
 * reaper shuts down (not closes: the fd stays libmicrohttpd's) sockets past their deadline. A
 * per-record mutex orders the reaper's shutdown() against the daemon's close. */
#ifndef NES_ENCLAVE_CONNS_H
#define NES_ENCLAVE_CONNS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "enclave/tls.h"
#include "enclave/tlsio.h"

typedef struct nes_conn {
    pthread_mutex_t lock; /* guards `open` against the reaper's shutdown() */
    bool open;            /* between nes_conns_started and nes_conns_closed */
    int fd;
    _Atomic int64_t deadline_ms; /* monotonic ms; 0: none */
    nes_creds *creds;            /* credential set of this connection's TLS session */
    uint64_t requests;           /* requests served on this connection */
    nes_tlsio io;                /* TLS transport buffers (owned by the daemon thread) */
} nes_conn;

/** Allocates the table for fds below the process' open-file limit (raised to its hard limit
 * first). 0 or -1. */
int nes_conns_init(void);

/** Frees the table (after the daemon stopped). */
void nes_conns_free(void);

/** Monotonic clock in milliseconds. */
int64_t nes_now_ms(void);

/** Monotonic clock in microseconds. */
uint64_t nes_now_us(void);

/** The record of `fd`, or NULL when fd is out of range. */
nes_conn *nes_conns_get(int fd);

/** Marks `fd` open with a first deadline `deadline_ms` (0: none); returns its record. */
nes_conn *nes_conns_started(int fd, int64_t deadline_ms);

/** Marks the record closed and releases its credential set. */
void nes_conns_closed(nes_conn *c);

/** Sets the deadline of the connection's current phase (0: none). */
void nes_conns_set_deadline(nes_conn *c, int64_t deadline_ms);

/** Shuts down every open connection whose deadline passed; returns how many. */
unsigned nes_conns_reap(int64_t now_ms);

/** Open connections. */
long nes_conns_open(void);

#endif
