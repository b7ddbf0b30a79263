/* queue.h - a bounded byte ring of variable-size records, many producers and one consumer, that
 * refuses when full.
 *
 * Request threads hand finished spans and log records to the exporter thread through it. A
 * record takes the bytes it needs (an 8-byte header and its payload rounded up to 8), not a
 * fixed slot, so a full ring holds as many records as their sizes allow and the memory a
 * producer writes is the memory its records use.
 *
 *   producer:  p = nes_otq_reserve(q, n)   one compare-and-swap on the head; NULL when full
 *              ... write n bytes at p ...
 *              nes_otq_commit(q, p)        one release store of the record's header
 *   consumer:  p = nes_otq_peek(q, &n)     the oldest record, NULL when empty or when the
 *              ... read ...                oldest is reserved but not committed yet
 *              nes_otq_release(q)          zeroes its bytes and moves the tail on
 *
 * Never a lock or a wait: a producer that finds no room gets NULL (the caller counts the drop).
 * Between reserve and commit a record holds the consumer up at its place: write and commit at
 * once.
 *
 * How it works: head and tail are byte positions that only grow (a position's place in the ring
 * is the position modulo the size). A record is contiguous: the buffer has a tail area of the
 * largest record's size past the ring's end, so a record that starts near the end runs on into
 * it instead of wrapping. Free bytes are always zero (the consumer zeroes what it releases), so
 * a header that reads 0 is a record not committed yet. When the consumer empties the ring it
 * moves both positions to the start of the next lap, so a ring drained faster than it fills
 * keeps writing into the same first bytes (they stay in the cache) instead of walking through
 * all of its memory. Memory is fixed at creation. */
#ifndef NES_OBS_OTEL_QUEUE_H
#define NES_OBS_OTEL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nes_otq nes_otq;

/** Bytes a record of `n` payload bytes takes in the ring (header and padding included). */
size_t nes_otq_record_size(size_t n);

/** A ring of `bytes` bytes (rounded up to a multiple of 64, and at least one record of
 * `max_record` payload bytes) for records of 1 to `max_record` payload bytes. NULL when out of
 * memory or a size is 0 or over 2^30. */
nes_otq *nes_otq_new(size_t bytes, size_t max_record);

/** Room for a record of `n` bytes, written in place and handed over with nes_otq_commit; NULL
 * when the ring has no room or `n` is 0 or over the largest record (refused: nothing counted
 * here, the caller counts its drop). Any thread. */
void *nes_otq_reserve(nes_otq *q, size_t n);

/** Publishes the record written at `p` (from nes_otq_reserve). */
void nes_otq_commit(nes_otq *q, void *p);

/** The oldest record in place (its length in *len), or NULL when the ring is empty or its oldest
 * record is not committed yet. One consumer thread only. */
const void *nes_otq_peek(nes_otq *q, size_t *len);

/** Frees the record nes_otq_peek returned. */
void nes_otq_release(nes_otq *q);

/** Bytes held (records reserved and not released; exact when nothing runs meanwhile). */
size_t nes_otq_used(const nes_otq *q);

/** The ring's size in bytes after rounding. */
size_t nes_otq_size(const nes_otq *q);

/** Frees the ring. NULL is fine. */
void nes_otq_free(nes_otq *q);

#endif
