/* state.c - hazard-protected snapshots of keyring + specs (see state.h). */
#include "enclave/state.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct nes_spec_ref {
    _Atomic long refs;
    char *name;
    nes_spec *spec;
};

typedef struct keyset {
    _Atomic long refs;
    nes_keyring *kr;
    time_t loaded_at;
} keyset;

typedef struct specset {
    size_t n;
    nes_spec_ref **refs; /* sorted by name */
} specset;

struct nes_snapshot {
    keyset *keys;       /* NULL until a keyring is published */
    specset *specs;     /* NULL until specs are published */
    nes_snapshot *next; /* retired list */
};

static nes_snapshot g_empty;
static _Atomic(nes_snapshot *) g_current = &g_empty;
/* One cache line per thread's slot: a request stores into its slot twice, and slots sharing a
 * line made the workers take the line from each other on every request. */
typedef struct hazard_slot {
    _Alignas(64) _Atomic(const nes_snapshot *) p;
} hazard_slot;
static hazard_slot g_hazard[NES_STATE_MAX_THREADS];
static _Atomic int g_nslots;
static pthread_mutex_t g_pub_lock = PTHREAD_MUTEX_INITIALIZER; /* publishers only */
static nes_snapshot *g_retired;

static _Thread_local int t_slot = -1;

typedef struct thread_crypter {
    keyset *keys;
    nes_crypter *crypter;
} thread_crypter;

static pthread_key_t g_tc_key;
static pthread_once_t g_tc_once = PTHREAD_ONCE_INIT;

nes_spec_ref *nes_spec_ref_new(const char *name, nes_spec *spec)
{
    nes_spec_ref *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->name = strdup(name)) == NULL) {
        free(r);
        nes_spec_free(spec);
        return NULL;
    }
    r->spec = spec;
    atomic_init(&r->refs, 1);
    return r;
}

void nes_spec_ref_retain(nes_spec_ref *r)
{
    atomic_fetch_add(&r->refs, 1);
}

void nes_spec_ref_release(nes_spec_ref *r)
{
    if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    nes_spec_free(r->spec);
    free(r->name);
    free(r);
}

const char *nes_spec_ref_name(const nes_spec_ref *r)
{
    return r->name;
}

static void keyset_release(keyset *k)
{
    if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    nes_keyring_free(k->kr);
    free(k);
}

static void specset_free(specset *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        nes_spec_ref_release(s->refs[i]);
    free(s->refs);
    free(s);
}

static void snapshot_free(nes_snapshot *s)
{
    if (s == NULL || s == &g_empty)
        return;
    keyset_release(s->keys);
    specset_free(s->specs);
    free(s);
}

static bool hazarded(const nes_snapshot *s)
{
    int n = atomic_load(&g_nslots);
    if (n > NES_STATE_MAX_THREADS)
        n = NES_STATE_MAX_THREADS;
    for (int i = 0; i < n; i++)
        if (atomic_load(&g_hazard[i].p) == s)
            return true;
    return false;
}

static void reclaim_locked(void)
{
    nes_snapshot **pp = &g_retired;
    while (*pp != NULL) {
        nes_snapshot *s = *pp;
        if (hazarded(s)) {
            pp = &s->next;
        } else {
            *pp = s->next;
            snapshot_free(s);
        }
    }
}

void nes_state_reclaim(void)
{
    pthread_mutex_lock(&g_pub_lock);
    reclaim_locked();
    pthread_mutex_unlock(&g_pub_lock);
}

/* Swaps in `next` (built from the current one by the caller under the lock). */
static void publish_locked(nes_snapshot *next)
{
    nes_snapshot *old = atomic_exchange(&g_current, next);
    if (old != &g_empty) {
        old->next = g_retired;
        g_retired = old;
    }
    reclaim_locked();
}

static nes_snapshot *clone_current_locked(void)
{
    nes_snapshot *cur = atomic_load(&g_current), *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (cur->keys != NULL) {
        atomic_fetch_add(&cur->keys->refs, 1);
        s->keys = cur->keys;
    }
    if (cur->specs != NULL) {
        specset *ss = calloc(1, sizeof(*ss));
        if (ss == NULL || (cur->specs->n > 0 &&
                           (ss->refs = calloc(cur->specs->n, sizeof(nes_spec_ref *))) == NULL)) {
            free(ss);
            keyset_release(s->keys);
            free(s);
            return NULL;
        }
        for (size_t i = 0; i < cur->specs->n; i++) {
            nes_spec_ref_retain(cur->specs->refs[i]);
            ss->refs[ss->n++] = cur->specs->refs[i];
        }
        s->specs = ss;
    }
    return s;
}

int nes_state_publish_keys(nes_keyring *kr)
{
    keyset *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        nes_keyring_free(kr);
        return -1;
    }
    atomic_init(&k->refs, 1);
    k->kr = kr;
    k->loaded_at = time(NULL);
    pthread_mutex_lock(&g_pub_lock);
    nes_snapshot *s = clone_current_locked();
    if (s == NULL) {
        pthread_mutex_unlock(&g_pub_lock);
        keyset_release(k);
        return -1;
    }
    keyset_release(s->keys);
    s->keys = k;
    publish_locked(s);
    pthread_mutex_unlock(&g_pub_lock);
    return 0;
}

static int cmp_ref(const void *a, const void *b)
{
    return strcmp((*(nes_spec_ref *const *)a)->name, (*(nes_spec_ref *const *)b)->name);
}

int nes_state_publish_specs(nes_spec_ref *const *refs, size_t n)
{
    specset *ss = calloc(1, sizeof(*ss));
    if (ss == NULL || (n > 0 && (ss->refs = calloc(n, sizeof(nes_spec_ref *))) == NULL)) {
        free(ss);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        nes_spec_ref_retain(refs[i]);
        ss->refs[ss->n++] = refs[i];
    }
    if (ss->n > 1)
        qsort(ss->refs, ss->n, sizeof(nes_spec_ref *), cmp_ref);
    for (size_t i = 1; i < ss->n; i++) {
        if (strcmp(ss->refs[i - 1]->name, ss->refs[i]->name) == 0) {
            specset_free(ss);
            return -1;
        }
    }
    pthread_mutex_lock(&g_pub_lock);
    nes_snapshot *s = clone_current_locked();
    if (s == NULL) {
        pthread_mutex_unlock(&g_pub_lock);
        specset_free(ss);
        return -1;
    }
    specset_free(s->specs);
    s->specs = ss;
    publish_locked(s);
    pthread_mutex_unlock(&g_pub_lock);
    return 0;
}

const nes_snapshot *nes_state_enter(void)
{
    if (t_slot < 0) {
        int i = atomic_fetch_add(&g_nslots, 1);
        if (i >= NES_STATE_MAX_THREADS)
            return &g_empty; /* more threads than slots: they see "not ready" */
        t_slot = i;
    }
    nes_snapshot *s = atomic_load(&g_current);
    for (;;) {
        atomic_store(&g_hazard[t_slot].p, s);
        nes_snapshot *again = atomic_load(&g_current);
        if (again == s)
            return s;
        s = again;
    }
}

void nes_state_leave(void)
{
    if (t_slot >= 0)
        atomic_store_explicit(&g_hazard[t_slot].p, NULL, memory_order_release);
}

bool nes_snapshot_ready(const nes_snapshot *s)
{
    return s->keys != NULL && s->specs != NULL && s->specs->n > 0;
}

const nes_spec *nes_snapshot_spec(const nes_snapshot *s, const char *name)
{
    if (s->specs == NULL)
        return NULL;
    size_t lo = 0, hi = s->specs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, s->specs->refs[mid]->name);
        if (c == 0)
            return s->specs->refs[mid]->spec;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t nes_snapshot_nspecs(const nes_snapshot *s)
{
    return s->specs ? s->specs->n : 0;
}

time_t nes_snapshot_keys_time(const nes_snapshot *s)
{
    return s->keys ? s->keys->loaded_at : 0;
}

size_t nes_snapshot_nkeys(const nes_snapshot *s)
{
    return s->keys ? nes_keyring_size(s->keys->kr) : 0;
}

static void tc_destroy(void *p)
{
    thread_crypter *tc = p;
    nes_crypter_free(tc->crypter);
    keyset_release(tc->keys);
    free(tc);
}

static void tc_key_init(void)
{
    pthread_key_create(&g_tc_key, tc_destroy);
}

nes_crypter *nes_state_crypter(const nes_snapshot *s)
{
    if (s->keys == NULL)
        return NULL;
    pthread_once(&g_tc_once, tc_key_init);
    thread_crypter *tc = pthread_getspecific(g_tc_key);
    if (tc == NULL) {
        tc = calloc(1, sizeof(*tc));
        if (tc == NULL || pthread_setspecific(g_tc_key, tc) != 0) {
            free(tc);
            return NULL;
        }
    }
    if (tc->keys == s->keys && tc->crypter != NULL)
        return tc->crypter;
    nes_crypter_free(tc->crypter);
    tc->crypter = NULL;
    keyset_release(tc->keys);
    /* The snapshot (hazard-protected) holds a reference, so the count is above zero here. */
    atomic_fetch_add(&s->keys->refs, 1);
    tc->keys = s->keys;
    tc->crypter = nes_crypter_new(s->keys->kr);
    return tc->crypter;
}

void nes_state_thread_done(void)
{
    pthread_once(&g_tc_once, tc_key_init);
    thread_crypter *tc = pthread_getspecific(g_tc_key);
    if (tc != NULL) {
        pthread_setspecific(g_tc_key, NULL);
        tc_destroy(tc);
    }
}

void nes_state_shutdown(void)
{
    pthread_mutex_lock(&g_pub_lock);
    nes_snapshot *cur = atomic_exchange(&g_current, &g_empty);
    snapshot_free(cur);
    while (g_retired != NULL) {
        nes_snapshot *s = g_retired;
        g_retired = s->next;
        snapshot_free(s);
    }
    pthread_mutex_unlock(&g_pub_lock);
}
