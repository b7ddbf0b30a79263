/* conns.c - the fd-indexed connection table and its reaper (see conns.h). */
#include "enclave/conns.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_TABLE (1u << 20)

static nes_conn *g_table;
static unsigned g_size;
static _Atomic int g_high; /* highest fd seen + 1 */
static _Atomic long g_open;

int nes_conns_init(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max > MAX_TABLE ? MAX_TABLE : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    g_size = (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > MAX_TABLE) ? MAX_TABLE
                                                                       : (unsigned)rl.rlim_cur;
    /* Large and zeroed: the pages of fds never used are never touched. */
    g_table = calloc(g_size, sizeof(nes_conn));
    if (g_table == NULL)
        return -1;
    /* Zeroed pthread mutexes are valid default mutexes on glibc. */
    return 0;
}

void nes_conns_free(void)
{
    free(g_table);
    g_table = NULL;
    g_size = 0;
}

int64_t nes_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t nes_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

nes_conn *nes_conns_get(int fd)
{
    return (fd >= 0 && (unsigned)fd < g_size) ? &g_table[fd] : NULL;
}

nes_conn *nes_conns_started(int fd, int64_t deadline_ms)
{
    nes_conn *c = nes_conns_get(fd);
    if (c == NULL)
        return NULL;
    pthread_mutex_lock(&c->lock);
    c->open = true;
    c->fd = fd;
    c->creds = NULL;
    c->requests = 0;
    atomic_store(&c->deadline_ms, deadline_ms);
    pthread_mutex_unlock(&c->lock);
    int hi = atomic_load(&g_high);
    while (fd + 1 > hi && !atomic_compare_exchange_weak(&g_high, &hi, fd + 1))
        ;
    atomic_fetch_add(&g_open, 1);
    return c;
}

void nes_conns_closed(nes_conn *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    bool was_open = c->open;
    c->open = false;
    nes_creds *creds = c->creds;
    c->creds = NULL;
    atomic_store(&c->deadline_ms, 0);
    pthread_mutex_unlock(&c->lock);
    nes_creds_release(creds);
    nes_tlsio_closed(&c->io);
    if (was_open)
        atomic_fetch_sub(&g_open, 1);
}

void nes_conns_set_deadline(nes_conn *c, int64_t deadline_ms)
{
    if (c != NULL)
        atomic_store_explicit(&c->deadline_ms, deadline_ms, memory_order_relaxed);
}

unsigned nes_conns_reap(int64_t now_ms)
{
    unsigned n = 0;
    int hi = atomic_load(&g_high);
    for (int fd = 0; fd < hi; fd++) {
        nes_conn *c = &g_table[fd];
        int64_t d = atomic_load_explicit(&c->deadline_ms, memory_order_relaxed);
        if (d == 0 || d > now_ms)
            continue;
        pthread_mutex_lock(&c->lock);
        if (c->open && atomic_load(&c->deadline_ms) != 0 &&
            atomic_load(&c->deadline_ms) <= now_ms) {
            shutdown(c->fd, SHUT_RDWR);
            atomic_store(&c->deadline_ms, 0);
            n++;
        }
        pthread_mutex_unlock(&c->lock);
    }
    return n;
}

long nes_conns_open(void)
{
    return atomic_load(&g_open);
}
