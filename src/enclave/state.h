/* state.h - the keyring and spec set that requests read, swapped atomically (DESIGN sections 2,
 * 5, 6).
 *
 * Providers (local files now, AWS later) publish a new keyring or a new set of specs from their
 * own thread; each publish builds an immutable snapshot and swaps the current pointer. Request
 * threads read it without locks: nes_state_enter() protects the current snapshot with the
 * thread's hazard slot until nes_state_leave(); retired snapshots are freed by the publisher
 * side (nes_state_reclaim) once no hazard slot names them. Each request thread keeps its own
 * nes_crypter for the keyring it last saw, rebuilt when the keyring changes. */
#ifndef NES_ENCLAVE_STATE_H
#define NES_ENCLAVE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/keyring.h"
#include "core/schema.h"

/** Most threads that may call nes_state_enter (each holds one hazard slot for its lifetime). */
#define NES_STATE_MAX_THREADS 512

/** A named, compiled spec shared by the spec sets that contain it (reference-counted). */
typedef struct nes_spec_ref nes_spec_ref;

/** What a request sees. Valid between nes_state_enter and nes_state_leave. */
typedef struct nes_snapshot nes_snapshot;

/** Wraps `spec` (ownership passes) under `name` (copied); one reference. NULL on failure (the
 * spec is freed then). */
nes_spec_ref *nes_spec_ref_new(const char *name, nes_spec *spec);

/** Takes another reference. */
void nes_spec_ref_retain(nes_spec_ref *r);

/** Drops a reference; the last one frees the spec. NULL is fine. */
void nes_spec_ref_release(nes_spec_ref *r);

/** The spec's name. */
const char *nes_spec_ref_name(const nes_spec_ref *r);

/** Publishes a new current keyring (ownership passes). 0 or -1 (then `kr` is freed). */
int nes_state_publish_keys(nes_keyring *kr);

/** Publishes a new spec set made of `refs` (each retained; the caller keeps its own references).
 * Names must be unique. 0 or -1. */
int nes_state_publish_specs(nes_spec_ref *const *refs, size_t n);

/** Protects and returns the current snapshot for the calling thread (never NULL). Not
 * re-entrant: one enter, then one leave. */
const nes_snapshot *nes_state_enter(void);

/** Releases the protection taken by nes_state_enter. */
void nes_state_leave(void);

/** True when the snapshot has a keyring and at least one spec. */
bool nes_snapshot_ready(const nes_snapshot *s);

/** The spec named `name` (NUL-terminated), or NULL. */
const nes_spec *nes_snapshot_spec(const nes_snapshot *s, const char *name);

/** Number of specs in the snapshot. */
size_t nes_snapshot_nspecs(const nes_snapshot *s);

/** When the snapshot's keyring was published (0: none). */
time_t nes_snapshot_keys_time(const nes_snapshot *s);

/** Keys in the snapshot's keyring (current and previous; 0: none). */
size_t nes_snapshot_nkeys(const nes_snapshot *s);

/** The calling thread's crypter over the snapshot's keyring (built on first use and after each
 * key change; freed when the thread exits). NULL when there is no keyring or it cannot be
 * built. */
nes_crypter *nes_state_crypter(const nes_snapshot *s);

/** Frees the calling thread's crypter now (threads that end with pthread_exit or by returning
 * from their start routine get this automatically; the main thread does not). */
void nes_state_thread_done(void);

/** Frees retired snapshots that no thread still reads. Called by publishers and periodically. */
void nes_state_reclaim(void);

/** Frees the current snapshot and everything retired. Only after every reader has stopped. */
void nes_state_shutdown(void);

#endif
