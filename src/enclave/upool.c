/* upool.c - idle upstream connections per endpoint (see upool.h). */
#include "enclave/upool.h"

#include <string.h>

void nes_upool_init(nes_upool *p, size_t per_key, int64_t idle_ms)
{
    memset(p, 0, sizeof(*p));
    p->per_key = per_key == 0 ? 1 : per_key > NES_UPOOL_MAX ? NES_UPOOL_MAX : per_key;
    p->idle_ms = idle_ms;
}

/* Entries are kept in parking order: e[0] is the oldest. */
static void remove_at(nes_upool *p, size_t i)
{
    memmove(&p->e[i], &p->e[i + 1], (p->n - i - 1) * sizeof(p->e[0]));
    p->n--;
}

int nes_upool_take(nes_upool *p, const char *key, int64_t now_ms)
{
    for (size_t i = p->n; i-- > 0;) {
        if (strcmp(p->e[i].key, key) != 0 || now_ms - p->e[i].since_ms >= p->idle_ms)
            continue;
        int fd = p->e[i].fd;
        remove_at(p, i);
        return fd;
    }
    return -1;
}

int nes_upool_put(nes_upool *p, const char *key, int fd, int64_t now_ms)
{
    size_t klen = strlen(key);
    if (klen >= NES_UPOOL_KEY_MAX)
        return fd;
    int evicted = -1;
    size_t same = 0, oldest_same = SIZE_MAX;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->e[i].key, key) == 0 && same++ == 0)
            oldest_same = i;
    if (same >= p->per_key) {
        evicted = p->e[oldest_same].fd;
        remove_at(p, oldest_same);
    } else if (p->n == NES_UPOOL_MAX) {
        evicted = p->e[0].fd;
        remove_at(p, 0);
    }
    nes_upool_entry *e = &p->e[p->n++];
    e->fd = fd;
    e->since_ms = now_ms;
    memcpy(e->key, key, klen + 1);
    return evicted;
}

size_t nes_upool_expire(nes_upool *p, int64_t now_ms, int *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n && k < cap;) {
        if (now_ms - p->e[i].since_ms >= p->idle_ms) {
            out[k++] = p->e[i].fd;
            remove_at(p, i);
        } else {
            i++;
        }
    }
    return k;
}

size_t nes_upool_drain(nes_upool *p, int *out, size_t cap)
{
    size_t k = 0;
    while (p->n > 0 && k < cap) {
        out[k++] = p->e[p->n - 1].fd;
        p->n--;
    }
    return k;
}

size_t nes_upool_count(const nes_upool *p, const char *key)
{
    if (key == NULL)
        return p->n;
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        k += strcmp(p->e[i].key, key) == 0;
    return k;
}

int64_t nes_upool_next_expiry(const nes_upool *p)
{
    int64_t t = INT64_MAX;
    for (size_t i = 0; i < p->n; i++)
        if (p->e[i].since_ms + p->idle_ms < t)
            t = p->e[i].since_ms + p->idle_ms;
    return t;
}
