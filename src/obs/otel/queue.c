/* queue.c - a byte ring of variable-size records (see queue.h). */
#include "obs/otel/queue.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A record: an 8-byte header (the payload's length; BUSY while reserved and not committed; 0:
 * free), then the payload, padded to 8 bytes. Headers are read and written with the GCC atomic
 * builtins: the same bytes are plain memory when the consumer zeroes them. */
#define HDR 8u
#define BUSY ((uint64_t)1 << 63)

/* head (producers) and tail (the consumer) on lines of their own (the padding is the point) */
// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding)
struct nes_otq {
    size_t size;       /* ring bytes, a multiple of 64 */
    size_t max_record; /* largest payload */
    size_t max_need;   /* its record size: the tail area past the ring's end */
    unsigned char *buf;
    _Alignas(64) _Atomic uint64_t head; /* next byte position to reserve */
    _Alignas(64) _Atomic uint64_t tail; /* oldest record not released */
};

size_t nes_otq_record_size(size_t n)
{
    return HDR + ((n + 7) & ~(size_t)7);
}

static uint64_t *hdr_at(const nes_otq *q, uint64_t pos)
{
    return (uint64_t *)(void *)(q->buf + pos % q->size);
}

nes_otq *nes_otq_new(size_t bytes, size_t max_record)
{
    const size_t limit = (size_t)1 << 30;
    if (bytes == 0 || max_record == 0 || bytes > limit || max_record > limit)
        return NULL;
    nes_otq *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->max_record = max_record;
    q->max_need = nes_otq_record_size(max_record);
    q->size = bytes > q->max_need ? bytes : q->max_need;
    q->size = (q->size + 63) & ~(size_t)63;
    /* calloc: free bytes read 0; pages of a large ring are touched only when records get there */
    q->buf = calloc(1, q->size + q->max_need);
    if (q->buf == NULL) {
        free(q);
        return NULL;
    }
    return q;
}

/* The next record goes right after this one: fetch the lines it will write now, while the
 * caller goes on with its request (a hint only; GCC 12 at -O2 drops __builtin_prefetch here). */
static void prefetch_after(const nes_otq *q, const unsigned char *p, size_t need)
{
    const unsigned char *end = q->buf + q->size + q->max_need;
    for (size_t off = 0; off < need && p + off < end; off += 64) {
#if defined(__x86_64__) || defined(__i386__)
        __asm__ volatile("prefetcht0 %0" : : "m"(p[off]));
#else
        __builtin_prefetch(p + off, 1, 3);
#endif
    }
}

void *nes_otq_reserve(nes_otq *q, size_t n)
{
    if (n == 0 || n > q->max_record)
        return NULL;
    size_t need = nes_otq_record_size(n);
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        /* acquire: the bytes the consumer zeroed before moving the tail are zero for us */
        uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (h + need > t + q->size) {
            uint64_t now = atomic_load_explicit(&q->head, memory_order_relaxed);
            if (now == h)
                return NULL; /* full */
            h = now;         /* a stale head: look again */
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + need, memory_order_relaxed,
                                                  memory_order_relaxed))
            break;
    }
    uint64_t *hdr = hdr_at(q, h);
    __atomic_store_n(hdr, (uint64_t)n | BUSY, __ATOMIC_RELAXED);
    return hdr + 1;
}

void nes_otq_commit(nes_otq *q, void *p)
{
    uint64_t *hdr = (uint64_t *)p - 1;
    uint64_t n = __atomic_load_n(hdr, __ATOMIC_RELAXED) & ~BUSY;
    __atomic_store_n(hdr, n, __ATOMIC_RELEASE);
    size_t need = nes_otq_record_size((size_t)n);
    prefetch_after(q, (const unsigned char *)hdr + need, need);
}

const void *nes_otq_peek(nes_otq *q, size_t *len)
{
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    const uint64_t *hdr = hdr_at(q, t);
    uint64_t v = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
    if (v == 0 || (v & BUSY) != 0)
        return NULL;
    *len = (size_t)v;
    return hdr + 1;
}

void nes_otq_release(nes_otq *q)
{
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint64_t *hdr = hdr_at(q, t);
    size_t need = nes_otq_record_size((size_t)__atomic_load_n(hdr, __ATOMIC_RELAXED));
    memset(hdr, 0, need); /* free bytes read 0: a header of 0 is "not committed yet" */
    t += need;
    atomic_store_explicit(&q->tail, t, memory_order_release);
    /* Empty: both positions to the start of the next lap, so the next records land on the
     * lines just used. Only where a producer that still sees the old tail with the new head
     * has room for the largest record (the new head is at most size - off past the old tail). */
    uint64_t off = t % q->size;
    if (off == 0 || off < q->max_need)
        return;
    uint64_t expect = t, lap = t - off + q->size;
    if (atomic_compare_exchange_strong_explicit(&q->head, &expect, lap, memory_order_relaxed,
                                                memory_order_relaxed))
        atomic_store_explicit(&q->tail, lap, memory_order_release);
}

size_t nes_otq_used(const nes_otq *q)
{
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    return h > t ? (size_t)(h - t) : 0;
}

size_t nes_otq_size(const nes_otq *q)
{
    return q->size;
}

void nes_otq_free(nes_otq *q)
{
    if (q == NULL)
        return;
    free(q->buf);
    free(q);
}
