/* queue.h - a bounded multi-producer queue of fixed-size items that drops when full.
 *
 * Request threads hand finished spans and log records to the exporter thread through it: a push
 * is one compare-and-swap and one copy (of the bytes the item uses), never a lock or a wait, and a
 * full queue refuses the item (the caller counts the drop). The design is Dmitry Vyukov's bounded
 * MPMC queue: each slot has a sequence number that says whether it is free for the producer of a
 * given position or filled for the consumer. Memory is fixed at creation: capacity (rounded up to a
 * power of two) times the item size. */
#ifndef NES_ENCLAVE_OTEL_QUEUE_H
#define NES_ENCLAVE_OTEL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nes_otq nes_otq;

/** A queue of `capacity` (rounded up to a power of two, at least 2) items of `item_size` bytes.
 * NULL when out of memory or a size is 0. */
nes_otq *nes_otq_new(size_t capacity, size_t item_size);

/** Copies `item` in; false (and counts a drop) when the queue is full. Any thread. */
bool nes_otq_push(nes_otq *q, const void *item);

/** Copies only the first `n` bytes of `item` in (at most the item size): for items whose tail
 * is unused (a span's free attribute slots, a log record's unused line). As nes_otq_push. */
bool nes_otq_push_n(nes_otq *q, const void *item, size_t n);

/** Takes the next free slot for an item the caller writes in place (no copy), then hands over
 * with nes_otq_commit; NULL (and counts a drop) when the queue is full. Between the two calls
 * the slot holds up the consumer: write and commit at once. Any thread. */
void *nes_otq_reserve(nes_otq *q);

/** Publishes the item written at `item` (from nes_otq_reserve), `n` bytes of it. */
void nes_otq_commit(nes_otq *q, void *item, size_t n);

/** The oldest item in place (its length in *len), or NULL when empty; nes_otq_release frees
 * it. For one consumer only: do not mix with nes_otq_pop from another thread. */
const void *nes_otq_peek(nes_otq *q, size_t *len);

/** Frees the item nes_otq_peek returned. */
void nes_otq_release(nes_otq *q);

/** Copies the oldest item out (the bytes pushed; the rest of `item` is left as it was). The
 * number of bytes copied (at least 1), or 0 when empty. Any thread. */
size_t nes_otq_pop(nes_otq *q, void *item);

/** Items refused because the queue was full. */
uint64_t nes_otq_dropped(const nes_otq *q);

/** About how many items are queued (exact when no push or pop runs meanwhile). */
size_t nes_otq_len(const nes_otq *q);

/** The capacity after rounding. */
size_t nes_otq_capacity(const nes_otq *q);

/** Frees the queue. NULL is fine. */
void nes_otq_free(nes_otq *q);

#endif
