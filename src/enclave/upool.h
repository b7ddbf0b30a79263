/* upool.h - the bookkeeping of proxy mode's keep-alive connections to applications: per worker,
 * idle upstream sockets keyed by endpoint URI. Pure: it stores numbers and times, opens and
 * closes nothing (the caller closes every connection it is handed back), so it is unit-tested on
 * its own.
 *
 * Policy: take returns the most recently parked connection for the key (LIFO: the warmest one,
 * least likely to have been closed by the application's idle timeout); a connection parked for
 * longer than idle_ms is never handed out (nes_upool_expire hands it back for closing); at most
 * per_key connections per endpoint and NES_UPOOL_MAX in all are parked: parking one more hands
 * back the oldest of the same key (or of the whole pool) for closing. Each entry carries an
 * opaque pointer beside its descriptor (proxy mode's connection object, which stays registered
 * with the worker's loop while parked), handed back with the descriptor by take and put; expire
 * and drain hand back the pointers alone (the caller's object knows its descriptor). Memory: a
 * fixed array. */
#ifndef NES_ENCLAVE_UPOOL_H
#define NES_ENCLAVE_UPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "net/endpoint.h"

/** Most idle connections one worker keeps. */
#define NES_UPOOL_MAX 64
/** Longest key (an endpoint URI). */
#define NES_UPOOL_KEY_MAX 300

typedef struct nes_upool_entry {
    int fd;
    void *data;       /* the caller's, handed back with fd */
    int64_t since_ms; /* when parked */
    char key[NES_UPOOL_KEY_MAX];
} nes_upool_entry;

typedef struct nes_upool {
    nes_upool_entry e[NES_UPOOL_MAX];
    size_t n;
    size_t per_key; /* parked per key at most */
    int64_t idle_ms;
} nes_upool;

/** An empty pool: at most `per_key` (1..NES_UPOOL_MAX) idle connections per endpoint, each for
 * at most `idle_ms`. */
void nes_upool_init(nes_upool *p, size_t per_key, int64_t idle_ms);

/** The newest idle connection for `key` parked less than idle_ms before `now_ms` (removed from
 * the pool), or -1. Its pointer goes to *data (when `data` is not NULL). */
int nes_upool_take(nes_upool *p, const char *key, int64_t now_ms, void **data);

/** Parks `fd` with pointer `data` for `key` at `now_ms`. Returns a descriptor the caller must
 * close (the one evicted to make room, or `fd` itself when the key is too long), its pointer in
 * *evicted (when not NULL), or -1. */
int nes_upool_put(nes_upool *p, const char *key, int fd, void *data, int64_t now_ms,
                  void **evicted);

/** Removes the connection `fd` wherever it is parked; 1 when it was, else 0. */
int nes_upool_remove(nes_upool *p, int fd);

/** Removes connections parked idle_ms or longer before `now_ms`, oldest first, writing their
 * pointers to out[0..cap); returns how many (call again while it returns cap). */
size_t nes_upool_expire(nes_upool *p, int64_t now_ms, void **out, size_t cap);

/** Removes every connection, newest first, writing up to `cap` of their pointers to `out`;
 * returns how many (call until 0). */
size_t nes_upool_drain(nes_upool *p, void **out, size_t cap);

/** Idle connections parked (for `key`, or all when NULL). */
size_t nes_upool_count(const nes_upool *p, const char *key);

/** The earliest time an entry expires, or INT64_MAX when empty. */
int64_t nes_upool_next_expiry(const nes_upool *p);

#endif
