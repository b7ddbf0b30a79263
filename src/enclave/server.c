/* server.c - workers, per-worker accept, drain and stop (see server.h). */
#include "enclave/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "enclave/conns.h"
#include "enclave/tls.h"
#include "enclave/tlsio.h"
#include "net/endpoint.h"
#include "net/loop.h"
#include "obs/log.h"

/* Connections accepted per wakeup of the listener before the worker serves its others. */
#define ACCEPTS_PER_WAKEUP 64

typedef struct nes_worker {
    nes_server *s;
    pthread_t thread;
    bool started;
    nes_conn_env env;
    nes_io listen_io;
    bool listening;
    nes_task unlisten, drain, stop;
} nes_worker;

/* ---- accepting -------------------------------------------------------------------------- */

/* The step between accept() and TLS: it only tunes the socket (TCP_NODELAY, once per
 * connection). With PROXY_PROTOCOL=on the PROXY v2 header is the connection's first phase in
 * the worker's loop, under the header deadline (conns.c, enclave/proxy_mode.h).
 * 0: go on; -1: drop the connection. */
static int accept_preface(int fd, const struct sockaddr_storage *addr, socklen_t addr_len)
{
    (void)addr_len;
    if (addr->ss_family == AF_INET || addr->ss_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return 0;
}

/* A connection accepted by one worker for another (see server.h: balancing). */
typedef struct handoff {
    nes_task task;
    nes_worker *to;
    int fd;
} handoff;

static void handoff_task(nes_loop *loop, void *arg)
{
    (void)loop;
    handoff *h = arg;
    nes_conn_open(&h->to->env, h->fd);
    free(h);
}

/* Gives the new connection `fd` to the next worker in turn (itself included). */
static void place(nes_worker *self, int fd)
{
    nes_server *s = self->s;
    unsigned i = atomic_fetch_add_explicit(&s->next_worker, 1, memory_order_relaxed) % s->nworkers;
    nes_worker *to = &s->workers[i];
    if (to == self) {
        nes_conn_open(&self->env, fd);
        return;
    }
    handoff *h = malloc(sizeof(*h));
    if (h == NULL) {
        nes_conn_open(&self->env, fd);
        return;
    }
    *h = (handoff){.task = {.cb = handoff_task, .arg = h}, .to = to, .fd = fd};
    nes_loop_post(to->env.loop, &h->task);
}

static void accept_cb(nes_loop *loop, nes_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    nes_worker *w = (nes_worker *)((char *)io - offsetof(nes_worker, listen_io));
    nes_server *s = w->s;
    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
        struct sockaddr_storage addr = {0};
        socklen_t len = sizeof(addr);
        int fd = accept4(io->fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                nes_log(NES_LOG_WARN, "accept: out of descriptors or memory");
            return; /* EAGAIN (another worker took it) or transient */
        }
        if (atomic_load_explicit(&s->open, memory_order_relaxed) >= (long)s->cfg->max_connections) {
            atomic_fetch_add(&s->rejected, 1);
            close(fd);
            continue;
        }
        if (accept_preface(fd, &addr, len) != 0) {
            close(fd);
            continue;
        }
        place(w, fd);
    }
}

/* ---- cross-thread steps ----------------------------------------------------------------- */

static void unlisten_task(nes_loop *loop, void *arg)
{
    nes_worker *w = arg;
    if (w->listening)
        nes_loop_del(loop, &w->listen_io);
    w->listening = false;
    atomic_fetch_add(&w->s->acks, 1);
}

static void drain_task(nes_loop *loop, void *arg)
{
    (void)loop;
    nes_worker *w = arg;
    nes_conns_close_idle(&w->env);
}

static void stop_task(nes_loop *loop, void *arg)
{
    nes_worker *w = arg;
    if (w->listening)
        nes_loop_del(loop, &w->listen_io);
    w->listening = false;
    nes_conns_close_all(&w->env);
    nes_loop_stop(loop);
}

static void *worker_main(void *arg)
{
    nes_worker *w = arg;
    nes_loop_run(w->env.loop);
    return NULL;
}

/* Posts `pick(w)` to every started worker. */
static void post_all(nes_server *s, nes_task *(*pick)(nes_worker *))
{
    for (unsigned i = 0; i < s->nworkers; i++)
        if (s->workers[i].started)
            nes_loop_post(s->workers[i].env.loop, pick(&s->workers[i]));
}

static nes_task *pick_unlisten(nes_worker *w)
{
    return &w->unlisten;
}

static nes_task *pick_drain(nes_worker *w)
{
    return &w->drain;
}

static nes_task *pick_stop(nes_worker *w)
{
    return &w->stop;
}

static unsigned started_workers(const nes_server *s)
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->nworkers; i++)
        n += s->workers[i].started;
    return n;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static int tls_setup(nes_server *s, char *why, size_t why_len)
{
    const nes_config *cfg = s->cfg;
    if (gnutls_certificate_allocate_credentials(&s->xcred) < 0) {
        snprintf(why, why_len, "out of memory for TLS credentials");
        return -1;
    }
    gnutls_certificate_set_retrieve_function3(s->xcred, nes_conn_cert_callback);
    if (s->client_ca_pem != NULL) {
        gnutls_datum_t d = {(unsigned char *)s->client_ca_pem, (unsigned)strlen(s->client_ca_pem)};
        if (gnutls_certificate_set_x509_trust_mem(s->xcred, &d, GNUTLS_X509_FMT_PEM) <= 0) {
            snprintf(why, why_len, "TLS_CLIENT_CA: no usable certificate");
            return -1;
        }
    }
    const char *err = NULL;
    if (gnutls_priority_init(&s->prio, cfg->tls_priorities, &err) < 0) {
        snprintf(why, why_len, "TLS_PRIORITIES is not a valid GnuTLS priority string");
        return -1;
    }
    return 0;
}

int nes_server_start(nes_server *s, const nes_config *cfg, char *why, size_t why_len)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    s->listen_fd = -1;
    if (cfg->tls_client_ca != NULL) {
        size_t len;
        nes_err err;
        if (nes_read_file(cfg->tls_client_ca, 4u << 20, &s->client_ca_pem, &len, &err) != NES_OK) {
            snprintf(why, why_len, "TLS_CLIENT_CA: %s", err.msg);
            return -1;
        }
    }
    if (nes_tls_ticket_key_init() != 0)
        nes_log(NES_LOG_WARN, "TLS session tickets unavailable: every connection does a full "
                              "handshake");
    nes_tlsio_install_allocator();
    if (tls_setup(s, why, why_len) != 0)
        goto fail;

    s->listen_fd = nes_endpoint_listen(&cfg->listen_ep, 4096, why, why_len);
    if (s->listen_fd < 0)
        goto fail;
    s->bound_port = nes_endpoint_bound_port(s->listen_fd);

    s->nworkers = cfg->worker_threads ? cfg->worker_threads : 1;
    s->workers = calloc(s->nworkers, sizeof(*s->workers));
    if (s->workers == NULL) {
        snprintf(why, why_len, "out of memory for the workers");
        goto fail;
    }
    for (unsigned i = 0; i < s->nworkers; i++) {
        nes_worker *w = &s->workers[i];
        w->s = s;
        w->env.s = s;
        w->env.loop = nes_loop_new(256);
        w->unlisten = (nes_task){.cb = unlisten_task, .arg = w};
        w->drain = (nes_task){.cb = drain_task, .arg = w};
        w->stop = (nes_task){.cb = stop_task, .arg = w};
        w->listen_io = (nes_io){.fd = s->listen_fd, .cb = accept_cb};
        if (w->env.loop == NULL ||
            nes_loop_add(w->env.loop, &w->listen_io, EPOLLIN | EPOLLEXCLUSIVE) != 0) {
            snprintf(why, why_len, "cannot create the event loop of worker %u", i);
            goto fail;
        }
        w->listening = true;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            snprintf(why, why_len, "cannot start worker thread %u", i);
            goto fail;
        }
        w->started = true;
    }
    return 0;
fail:
    nes_server_stop(s); /* undoes whatever was set up */
    return -1;
}

void nes_server_stop_accepting(nes_server *s)
{
    if (s->listen_fd < 0)
        return;
    atomic_store(&s->acks, 0);
    post_all(s, pick_unlisten);
    unsigned want = started_workers(s);
    for (int i = 0; i < 2000 && atomic_load(&s->acks) < want; i++) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    close(s->listen_fd);
    s->listen_fd = -1;
    if (s->cfg->listen_ep.kind == NES_EP_UNIX)
        unlink(s->cfg->listen_ep.path);
}

void nes_server_inflight_add(nes_server *s, long d)
{
    /* The first NES_SERVER_INFLIGHT_SLOTS - 1 threads own a slot each and update it with a
     * plain load and store (no locked instruction: it waited for the store buffer to drain, ~1 %
     * of the samples per request); later threads share the last slot with atomic adds. */
    static _Atomic unsigned next_slot;
    static _Thread_local int slot = -1;
    static _Thread_local bool own;
    if (slot < 0) {
        unsigned n = atomic_fetch_add(&next_slot, 1);
        own = n < NES_SERVER_INFLIGHT_SLOTS - 1;
        slot = own ? (int)n : NES_SERVER_INFLIGHT_SLOTS - 1;
    }
    _Atomic long *p = &s->inflight[slot].n;
    if (own)
        atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + d,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(p, d, memory_order_relaxed);
}

long nes_server_inflight(nes_server *s)
{
    long n = 0;
    for (int i = 0; i < NES_SERVER_INFLIGHT_SLOTS; i++)
        n += atomic_load(&s->inflight[i].n);
    return n;
}

long nes_server_drain(nes_server *s, int64_t grace_ms)
{
    atomic_store(&s->draining, true);
    post_all(s, pick_drain);
    int64_t end = nes_now_ms() + grace_ms;
    while (nes_server_inflight(s) > 0 && nes_now_ms() < end) {
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    return nes_server_inflight(s);
}

void nes_server_stop(nes_server *s)
{
    nes_server_stop_accepting(s);
    if (s->workers != NULL) {
        post_all(s, pick_stop);
        for (unsigned i = 0; i < s->nworkers; i++) {
            nes_worker *w = &s->workers[i];
            if (w->started)
                pthread_join(w->thread, NULL);
            nes_loop_free(w->env.loop);
        }
        free(s->workers);
        s->workers = NULL;
    }
    if (s->prio != NULL)
        gnutls_priority_deinit(s->prio);
    s->prio = NULL;
    if (s->xcred != NULL)
        gnutls_certificate_free_credentials(s->xcred);
    s->xcred = NULL;
    free(s->client_ca_pem);
    s->client_ca_pem = NULL;
}
