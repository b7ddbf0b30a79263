/* queue.c - Vyukov's bounded MPMC queue (see queue.h). */
#include "enclave/otel/queue.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    _Atomic size_t seq;
    size_t len; /* bytes of the item copied in */
} slot;

/* The producer and consumer positions and the drop counter each have their own cache line (the
 * padding is the point). */
// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding)
struct nes_otq {
    size_t mask, item_size, stride;
    _Alignas(64) _Atomic size_t head; /* next position to push */
    _Alignas(64) _Atomic size_t tail; /* next position to pop */
    _Alignas(64) _Atomic uint64_t dropped;
    unsigned char *slots; /* stride bytes each: seq then the item */
};

static slot *slot_at(const nes_otq *q, size_t pos)
{
    return (slot *)(void *)(q->slots + (pos & q->mask) * q->stride);
}

/* The next push lands in a slot last touched a whole lap ago (usually out of the cache): fetch
 * its lines now, while the caller goes on with its request, for about as many bytes as this item
 * had. A hint only. */
static void prefetch_slot(const nes_otq *q, size_t pos, size_t n)
{
    const unsigned char *p = (const unsigned char *)slot_at(q, pos);
    size_t span = sizeof(slot) + n;
    for (size_t off = 0; off < span && off < q->stride; off += 64) {
#if defined(__x86_64__) || defined(__i386__)
        /* asm: GCC 12 at -O2 drops __builtin_prefetch here */
        __asm__ volatile("prefetcht0 %0" : : "m"(p[off]));
#else
        __builtin_prefetch(p + off, 0, 3);
#endif
    }
}

nes_otq *nes_otq_new(size_t capacity, size_t item_size)
{
    if (capacity == 0 || item_size == 0 || capacity > ((size_t)1 << 24))
        return NULL;
    size_t cap = 2;
    while (cap < capacity)
        cap <<= 1;
    nes_otq *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->mask = cap - 1;
    q->item_size = item_size;
    q->stride = (sizeof(slot) + item_size + 15) & ~(size_t)15;
    q->slots = aligned_alloc(64, ((cap * q->stride) + 63) & ~(size_t)63);
    if (q->slots == NULL) {
        free(q);
        return NULL;
    }
    for (size_t i = 0; i < cap; i++)
        atomic_init(&slot_at(q, i)->seq, i);
    return q;
}

bool nes_otq_push(nes_otq *q, const void *item)
{
    return nes_otq_push_n(q, item, q->item_size);
}

void *nes_otq_reserve(nes_otq *q)
{
    size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        slot *s = slot_at(q, pos);
        size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        intptr_t d = (intptr_t)seq - (intptr_t)pos;
        if (d == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                return (unsigned char *)s + sizeof(slot);
        } else if (d < 0) {
            atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
            return NULL;
        } else {
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
}

void nes_otq_commit(nes_otq *q, void *item, size_t n)
{
    slot *s = (slot *)(void *)((unsigned char *)item - sizeof(slot));
    size_t pos = atomic_load_explicit(&s->seq, memory_order_relaxed);
    s->len = n < q->item_size ? n : q->item_size;
    atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
    prefetch_slot(q, pos + 1, n);
}

bool nes_otq_push_n(nes_otq *q, const void *item, size_t n)
{
    if (n > q->item_size)
        n = q->item_size;
    void *dst = nes_otq_reserve(q);
    if (dst == NULL)
        return false;
    memcpy(dst, item, n);
    nes_otq_commit(q, dst, n);
    return true;
}

const void *nes_otq_peek(nes_otq *q, size_t *len)
{
    size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    slot *s = slot_at(q, pos);
    if (atomic_load_explicit(&s->seq, memory_order_acquire) != pos + 1)
        return NULL;
    *len = s->len;
    return (unsigned char *)s + sizeof(slot);
}

void nes_otq_release(nes_otq *q)
{
    size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    slot *s = slot_at(q, pos);
    atomic_store_explicit(&q->tail, pos + 1, memory_order_relaxed);
    atomic_store_explicit(&s->seq, pos + q->mask + 1, memory_order_release);
}

size_t nes_otq_pop(nes_otq *q, void *item)
{
    size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        slot *s = slot_at(q, pos);
        size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        intptr_t d = (intptr_t)seq - (intptr_t)(pos + 1);
        if (d == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                size_t n = s->len;
                memcpy(item, (unsigned char *)s + sizeof(slot), n);
                atomic_store_explicit(&s->seq, pos + q->mask + 1, memory_order_release);
                return n;
            }
        } else if (d < 0) {
            return 0;
        } else {
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
}

uint64_t nes_otq_dropped(const nes_otq *q)
{
    return atomic_load_explicit(&q->dropped, memory_order_relaxed);
}

size_t nes_otq_len(const nes_otq *q)
{
    size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    return h > t ? h - t : 0;
}

size_t nes_otq_capacity(const nes_otq *q)
{
    return q->mask + 1;
}

void nes_otq_free(nes_otq *q)
{
    if (q == NULL)
        return;
    free(q->slots);
    free(q);
}
