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

int nes_upool_take(nes_upool *p, const char *key, int64_t now_ms, void **data)
{
    for (size_t i = p->n; i-- > 0;) {
        if (strcmp(p->e[i].key, key) != 0 || now_ms - p->e[i].since_ms >= p->idle_ms)
            continue;
        int fd = p->e[i].fd;
        if (data != NULL)
            *data = p->e[i].data;
        remove_at(p, i);
        return fd;
    }
    return -1;
}

int nes_upool_put(nes_upool *p, const char *key, int fd, void *data, int64_t now_ms,
                  void **evicted_data)
{
    size_t klen = strlen(key);
    if (evicted_data != NULL)
        *evicted_data = NULL;
    if (klen >= NES_UPOOL_KEY_MAX) {
        if (evicted_data != NULL)
            *evicted_data = data;
        return fd;
    }
    int evicted = -1;
    size_t same = 0, oldest_same = SIZE_MAX;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->e[i].key, key) == 0 && same++ == 0)
            oldest_same = i;
    size_t victim = same >= p->per_key ? oldest_same : p->n == NES_UPOOL_MAX ? 0 : SIZE_MAX;
    if (victim != SIZE_MAX) {
        evicted = p->e[victim].fd;
        if (evicted_data != NULL)
            *evicted_data = p->e[victim].data;
        remove_at(p, victim);
    }
    nes_upool_entry *e = &p->e[p->n++];
    e->fd = fd;
    e->data = data;
    e->since_ms = now_ms;
    memcpy(e->key, key, klen + 1);
    return evicted;
}

int nes_upool_remove(nes_upool *p, int fd)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->e[i].fd == fd) {
            remove_at(p, i);
            return 1;
        }
    }
    return 0;
}

size_t nes_upool_expire(nes_upool *p, int64_t now_ms, void **out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n && k < cap;) {
        if (now_ms - p->e[i].since_ms >= p->idle_ms) {
            out[k++] = p->e[i].data;
            remove_at(p, i);
        } else {
            i++;
        }
    }
    return k;
}

size_t nes_upool_drain(nes_upool *p, void **out, size_t cap)
{
    size_t k = 0;
    while (p->n > 0 && k < cap)
        out[k++] = p->e[--p->n].data;
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
