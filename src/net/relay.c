/* relay.c - the byte relay engine (see relay.h).
 *
 * Each worker runs one nes_loop (net/loop.h, the event loop the HTTPS server runs on): its
 * conns' sockets edge-triggered, the listeners level-triggered + EPOLLEXCLUSIVE, one deadline
 * per conn in the loop's timer heap (head, connect, reply or idle, whichever the state needs;
 * relayed bytes move the idle deadline later, which costs no heap work), the resolver's answers
 * as posted tasks. Connections are pumped by "try until nothing moves": on an event both
 * directions are attempted until every attempt would block (or a short read proves the source
 * drained, see pump), and a conn that used its byte budget is deferred to the end of the batch.
 * Freed connections are parked until the batch ends, so a later event of the same batch never
 * touches freed memory. */
#include "net/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>

#include "core/error.h"
#include "net/loop.h"

/* How often a worker looks at the drain and stop flags (ms). Timeouts are timers of the loop. */
#define TICK_MS 200
#define MAX_EVENTS 128
#define ACCEPT_BATCH 64

enum { REF_CLIENT = 1, REF_UP };
enum { ST_HEAD = 1, ST_RESOLVING, ST_CONNECTING, ST_RELAY, ST_REPLY };

typedef struct conn conn;
typedef struct worker worker;

/* One direction: bytes read from `src`, written to `dst`. Small messages are copied through
 * `buf` (one read and one send each); when a read fills the buffer the direction is carrying
 * bulk and switches to splice(2) through `pipe` (made on first use), back to copying when a
 * splice brings little. The mode changes only while nothing is pending, so bytes keep order. */
typedef struct dir {
    int pipe[2];    /* -1 until the first switch to splice */
    uint8_t *buf;   /* copy buffer, bufcap bytes */
    size_t bufcap;  /* min(buf_bytes, COPY_BYTES); buf_bytes when splice is not possible */
    size_t off;     /* copy mode: start of pending bytes in buf */
    size_t pending; /* bytes in the pipe (splice mode) or buf (copy mode) */
    uint8_t *pre;   /* bytes written to dst before anything from src */
    size_t pre_len, pre_off;
    bool eof, done; /* src gave EOF; dst was shut for writing */
    bool spliced;   /* splice mode */
    bool to_splice; /* switch to splice mode once nothing is pending */
    bool to_copy;   /* switch back to copy mode once nothing is pending */
    bool no_splice; /* the kernel refused splice for this fd pair, or opts.copy_only */
    bool ready;     /* src may have bytes (an edge came, or a read filled what it asked) */
    bool short_ok;  /* src is TCP or unix: a short read means it is drained (see pump) */
    bool read_all;  /* src reported hang-up, error or urgent data: read until EAGAIN */
    uint64_t bytes;
} dir;

typedef struct lsn {
    int fd;
    bool has_target;
    nes_endpoint target;
    nes_relay_head_fn head;
    nes_relay_preface_fn preface;
    void *ctx;
    const char *name;
    bool short_ok; /* a TCP or unix listener (see pump) */
} lsn;

/* A listener in one worker's loop. */
typedef struct lio {
    nes_io io;
    worker *w;
    size_t idx;
} lio;

struct conn {
    worker *w;
    const lsn *l;
    int cfd, ufd;
    int state;
    bool closed;
    nes_io cio, uio; /* the client and upstream sockets in the worker's loop */
    nes_timer tm;    /* the deadline of the current state (head, connect, reply, idle) */
    dir up, down;    /* up: client -> upstream; down: upstream -> client */
    uint8_t *head;
    size_t head_len;
    char *fail_reply; /* GO from a head step: the client's answer when connecting fails */
    size_t fail_reply_len;
    nes_endpoint target;
    struct addrinfo *ai, *ai_next;
    bool tried;        /* unix and vsock: the one address was tried */
    bool lookup;       /* a name lookup for this conn is queued or running (see resolver) */
    conn *prev, *next; /* the worker's list */
    conn *grave;       /* parked until the batch ends */
};

/* A name lookup handed to the resolver thread; the answer goes back to the conn's worker. */
typedef struct lookup {
    nes_task task; /* posted to the conn's worker with the answer */
    conn *c;
    char host[NES_EP_HOST_MAX + 1];
    char port[8];
    struct addrinfo *res;
    int rc, err;
    struct lookup *next; /* the resolver's queue */
} lookup;

typedef struct counters {
    _Atomic uint64_t total, refused, bytes_up, bytes_down;
    _Atomic uint64_t errors[NES_RELAY_E_COUNT];
} counters;

struct worker {
    nes_relay *r;
    nes_loop *loop;
    lio lio[NES_RELAY_MAX_LISTENERS];
    pthread_t th;
    bool started;
    bool listening;
    conn *head, *tail; /* open conns (the drain's stop closes what is left) */
    conn *graveyard;
    counters ct;
};

struct nes_relay {
    nes_relay_opts o;
    lsn l[NES_RELAY_MAX_LISTENERS];
    size_t nl;
    worker *w;
    unsigned nw;
    nes_relay_event_fn event;
    void *event_ctx;
    _Atomic uint64_t open;
    _Atomic int draining; /* stop accepting */
    _Atomic unsigned unlistened;
    _Atomic int stopping; /* close everything and exit */
    bool joined;
    /* the resolver: getaddrinfo blocks, so names are looked up on a thread of their own, started
     * on the first name (numeric addresses never wait) */
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    lookup *rq_head, *rq_tail;
    bool resolver_started, resolver_stop;
    pthread_t resolver;
};

static void bump(_Atomic uint64_t *c, uint64_t n)
{
    /* only the owning worker writes its counters: a relaxed load + store is enough */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static const char *const err_names[NES_RELAY_E_COUNT] = {
    "connect",  "connect_timeout", "reset", "idle",    "head",
    "rejected", "preface",         "drain", "resource"};

const char *nes_relay_err_name(nes_relay_err e)
{
    return (e >= 0 && e < NES_RELAY_E_COUNT) ? err_names[e] : "?";
}

static void emit(conn *c, nes_relay_event_kind kind, nes_relay_err err, int sys_errno)
{
    nes_relay *r = c->w->r;
    if (kind == NES_RELAY_EV_ERROR)
        bump(&c->w->ct.errors[err], 1);
    if (r->event == NULL)
        return;
    char uri[NES_EP_HOST_MAX + NES_EP_PATH_MAX + 32];
    bool known = c->state != ST_HEAD && c->state != ST_REPLY && c->target.kind != 0;
    nes_relay_event ev = {.kind = kind,
                          .err = err,
                          .sys_errno = sys_errno,
                          .listener = c->l->name,
                          .target =
                              known ? nes_endpoint_format(&c->target, uri, sizeof(uri)) : NULL,
                          .bytes_up = c->up.bytes,
                          .bytes_down = c->down.bytes};
    r->event(r->event_ctx, &ev);
}

/* ---- connection lifetime --------------------------------------------------------------------- */

static void dir_free(dir *d)
{
    if (d->pipe[0] >= 0) {
        close(d->pipe[0]);
        close(d->pipe[1]);
    }
    free(d->buf);
    free(d->pre);
    d->pipe[0] = d->pipe[1] = -1;
    d->buf = d->pre = NULL;
}

static void abort_fd(int fd)
{
    /* a reset on one side is passed on as a reset on the other */
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void conn_close(conn *c, bool reset)
{
    if (c->closed)
        return;
    c->closed = true;
    worker *w = c->w;
    if (reset) {
        abort_fd(c->cfd);
        if (c->ufd >= 0)
            abort_fd(c->ufd);
    }
    /* closing a socket takes it out of the epoll set: only the deferral and the timer go */
    c->cio.fd = c->uio.fd = -1;
    nes_loop_del(w->loop, &c->cio);
    nes_loop_del(w->loop, &c->uio);
    nes_timer_stop(w->loop, &c->tm);
    close(c->cfd);
    if (c->ufd >= 0)
        close(c->ufd);
    dir_free(&c->up);
    dir_free(&c->down);
    free(c->head);
    c->head = NULL;
    free(c->fail_reply);
    c->fail_reply = NULL;
    if (c->ai != NULL)
        freeaddrinfo(c->ai);
    c->ai = NULL;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        w->tail = c->prev;
    if (!c->lookup) { /* else on_answer frees it */
        c->grave = w->graveyard;
        w->graveyard = c;
    }
    atomic_fetch_sub(&w->r->open, 1);
}

static void fail_conn(conn *c, nes_relay_err err, int sys_errno)
{
    emit(c, NES_RELAY_EV_ERROR, err, sys_errno);
    conn_close(c, err == NES_RELAY_E_RESET);
}

/* Arms the conn's one deadline `ms` from now (the loop's clock, read once per wait). Moving it
 * later, as every relayed byte does with the idle deadline, costs no heap work. */
static void deadline(conn *c, unsigned ms)
{
    nes_timer_set(c->w->loop, &c->tm, nes_loop_now(c->w->loop) + (int64_t)ms);
}

static void touch(conn *c)
{
    deadline(c, c->w->r->o.idle_timeout_ms);
}

static int ep_add(conn *c, nes_io *io, int fd)
{
    io->fd = fd;
    return nes_loop_add(c->w->loop, io, EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLET);
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails harmlessly off TCP */
}

/* ---- moving bytes ---------------------------------------------------------------------------- */

/* Bytes a copy-mode direction buffers: a small message moves with one read and one send; a
 * read that fills this much is bulk and moves on to splice. */
#define COPY_BYTES 16384u
/* A splice that brings less than this goes back to copying. */
#define SPLICE_MIN 4096u

static int pipe_setup(dir *d, size_t cap)
{
    if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        d->pipe[0] = d->pipe[1] = -1;
        return -1;
    }
    fcntl(d->pipe[1], F_SETPIPE_SZ, (int)cap); /* a smaller pipe is fine too */
    return 0;
}

/* Prepares a direction for relaying: its copy buffer, and whether splice may be tried. */
static int dir_setup(dir *d, size_t cap, bool copy_only, bool short_ok)
{
    d->no_splice = copy_only;
    d->bufcap = copy_only || cap < COPY_BYTES ? cap : COPY_BYTES;
    d->buf = malloc(d->bufcap);
    d->ready = true; /* bytes may have arrived before the relay began */
    d->short_ok = short_ok;
    return d->buf == NULL ? -1 : 0;
}

/* Result of one pump: progress made, would block, or failed (errno in *e). */
enum { P_IDLE = 0, P_MOVED = 1, P_FAIL = -1, P_BUDGET = 2 };
/* Bytes one direction may move per turn before the other connections of the worker get theirs
 * (two fast local peers would otherwise keep one pump running as long as they like). */
#define TURN_BYTES_PER_CAP 8

/* With nothing pending, takes up a mode switch decided earlier. Splice stays off for good when
 * the kernel refused it; the copy buffer then grows to `cap` (bulk through copies). */
static void pick_mode(dir *d, size_t cap)
{
    if (d->pending != 0)
        return;
    if (d->spliced && (d->to_copy || d->no_splice)) {
        d->spliced = false;
        d->to_copy = false;
    } else if (!d->spliced && d->to_splice && !d->no_splice) {
        if (d->pipe[0] >= 0 || pipe_setup(d, cap) == 0)
            d->spliced = true;
        else
            d->no_splice = true; /* out of pipes: keep copying */
    }
    d->to_splice = false;
    if (d->no_splice && d->bufcap < cap) {
        uint8_t *b = realloc(d->buf, cap);
        if (b != NULL) {
            d->buf = b;
            d->bufcap = cap;
        }
    }
}

/* Reads from `src` into the pipe or the buffer. Returns the read's result (-1 with errno). */
static ssize_t pump_read(dir *d, int src, size_t cap)
{
    for (;;) {
        pick_mode(d, cap);
        if (d->spliced) {
            if (d->pending >= cap)
                return -2;
            ssize_t n = splice(src, NULL, d->pipe[1], NULL, cap - d->pending,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0 && errno == EINVAL && d->pending == 0) {
                d->no_splice = true; /* this fd pair cannot splice: copy from now on */
                continue;
            }
            if (n > 0)
                d->to_copy = (size_t)n < SPLICE_MIN;
            return n;
        }
        if (d->pending == 0)
            d->off = 0;
        size_t end = d->off + d->pending;
        if (end == d->bufcap && d->off > 0) { /* compact: keep reading into one run */
            memmove(d->buf, d->buf + d->off, d->pending);
            d->off = 0;
            end = d->pending;
        }
        if (end == d->bufcap)
            return -2;
        size_t want = d->bufcap - end;
        ssize_t n = read(src, d->buf + end, want);
        if (n > 0 && (size_t)n == want && end == 0)
            d->to_splice = true; /* a full buffer at once: bulk */
        else if (n > 0 && (size_t)n < want && d->short_ok && !d->read_all)
            d->ready = false; /* drained: the next byte brings a new edge */
        return n;
    }
}

/* Moves bytes src -> dst until nothing moves. `ready` saves the read that would only say
 * EAGAIN: it is set by an edge on src and cleared when a read meets EAGAIN or, on TCP and unix
 * sockets, comes back short (those reads take everything queued, and a byte queued after that
 * raises a new edge). A hang-up, error or urgent-data edge turns the short cut off (see
 * note_events), so an EOF queued behind the bytes is always read. */
static int pump(dir *d, int src, int dst, size_t cap, _Atomic uint64_t *ctr, int *e)
{
    int moved = P_IDLE;
    uint64_t start = d->bytes;
    for (;;) {
        if (d->bytes - start >= TURN_BYTES_PER_CAP * (uint64_t)cap)
            return P_BUDGET;
        bool progress = false;
        while (d->pre_off < d->pre_len) {
            ssize_t n = send(dst, d->pre + d->pre_off, d->pre_len - d->pre_off, MSG_NOSIGNAL);
            if (n > 0) {
                d->pre_off += (size_t)n;
                progress = true;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            *e = n < 0 ? errno : EPIPE;
            return P_FAIL;
        }
        if (!d->eof && d->ready) {
            ssize_t n = pump_read(d, src, cap);
            if (n > 0) {
                d->pending += (size_t)n;
                progress = true;
            } else if (n == 0) {
                d->eof = true;
                progress = true;
            } else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                /* a splice also says EAGAIN when the pipe is full (slots, not bytes): only an
                 * empty pipe proves the socket drained */
                if (!d->spliced || d->pending == 0)
                    d->ready = false;
            } else if (n == -1 && errno != EINTR) {
                *e = errno;
                return P_FAIL;
            }
        }
        if (d->pre_off == d->pre_len && d->pending > 0) {
            ssize_t n;
            if (d->spliced)
                n = splice(d->pipe[0], NULL, dst, NULL, d->pending,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            else
                n = send(dst, d->buf + d->off, d->pending, MSG_NOSIGNAL);
            if (n > 0) {
                d->pending -= (size_t)n;
                if (!d->spliced)
                    d->off += (size_t)n;
                d->bytes += (uint64_t)n;
                bump(ctr, (uint64_t)n);
                progress = true;
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                *e = errno;
                return P_FAIL;
            }
        }
        if (d->eof && d->pending == 0 && d->pre_off == d->pre_len && !d->done) {
            shutdown(dst, SHUT_WR);
            d->done = true;
            progress = true;
        }
        if (!progress)
            return moved;
        moved = P_MOVED;
    }
}

/* True when direction `d` has bytes (or a shutdown) waiting for its destination to take them. */
static bool has_output(const dir *d)
{
    return d->pending > 0 || d->pre_off < d->pre_len || (d->eof && !d->done);
}

/* Pumps the connection's directions after an event on `from` (REF_CLIENT, REF_UP; 0: both, as
 * after a connect or a used-up budget). An event on one socket can only let the direction that
 * reads it read, and the other one write: that one is pumped only when it has output waiting,
 * else its read would just meet EAGAIN (its own source's edge will call it). */
static void relay_step_from(conn *c, int from)
{
    size_t cap = c->w->r->o.buf_bytes;
    int e = 0;
    int a = P_IDLE, b = P_IDLE;
    if (from != REF_UP || has_output(&c->up))
        a = pump(&c->up, c->cfd, c->ufd, cap, &c->w->ct.bytes_up, &e);
    if (a == P_FAIL) {
        fail_conn(c, NES_RELAY_E_RESET, e);
        return;
    }
    if (from != REF_CLIENT || has_output(&c->down))
        b = pump(&c->down, c->ufd, c->cfd, cap, &c->w->ct.bytes_down, &e);
    if (b == P_FAIL) {
        fail_conn(c, NES_RELAY_E_RESET, e);
        return;
    }
    if (a != P_IDLE || b != P_IDLE)
        touch(c);
    if (c->up.done && c->down.done) {
        emit(c, NES_RELAY_EV_CLOSED, NES_RELAY_E_COUNT, 0);
        conn_close(c, false);
    } else if (a == P_BUDGET || b == P_BUDGET) {
        /* more may be waiting and no new edge will say so: pump again after the others */
        nes_loop_defer(c->w->loop, &c->cio);
    }
}

static void relay_step(conn *c)
{
    relay_step_from(c, 0);
}

/* ---- connecting ------------------------------------------------------------------------------ */

static void start_relay(conn *c)
{
    size_t cap = c->w->r->o.buf_bytes;
    bool copy_only = c->w->r->o.copy_only != 0;
    bool up_short = c->target.kind == NES_EP_TCP || c->target.kind == NES_EP_UNIX;
    if (dir_setup(&c->up, cap, copy_only, c->l->short_ok) != 0 ||
        dir_setup(&c->down, cap, copy_only, up_short) != 0) {
        fail_conn(c, NES_RELAY_E_RESOURCE, ENOMEM);
        return;
    }
    set_nodelay(c->ufd);
    c->state = ST_RELAY;
    touch(c);
    relay_step(c);
}

/* Opens a non-blocking socket to `sa` and starts connecting: 1 connected, 0 in progress, -1. */
static int connect_addr(conn *c, int family, const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rc = connect(fd, sa, len);
    if (rc != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e == EAGAIN ? ECONNREFUSED : e; /* a full unix backlog */
        return -1;
    }
    if (ep_add(c, &c->uio, fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    c->ufd = fd;
    return rc == 0 ? 1 : 0;
}

static void reply_step(conn *c);

static void *resolver_main(void *arg)
{
    nes_relay *r = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&r->rmu);
    for (;;) {
        while (r->rq_head == NULL && !r->resolver_stop)
            pthread_cond_wait(&r->rcv, &r->rmu);
        if (r->rq_head == NULL)
            break;
        lookup *q = r->rq_head;
        r->rq_head = q->next;
        if (r->rq_head == NULL)
            r->rq_tail = NULL;
        pthread_mutex_unlock(&r->rmu);
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
        q->rc = getaddrinfo(q->host, q->port, &hints, &q->res);
        q->err = errno;
        if (q->rc != 0)
            q->res = NULL;
        nes_loop_post(q->c->w->loop, &q->task);
        pthread_mutex_lock(&r->rmu);
    }
    pthread_mutex_unlock(&r->rmu);
    return NULL;
}

static void on_answer(nes_loop *loop, void *arg);

/* Queues a lookup of c->target.host; the conn waits in ST_RESOLVING. 0 or -1. */
static int queue_lookup(conn *c, const char *port)
{
    nes_relay *r = c->w->r;
    lookup *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return -1;
    q->c = c;
    q->task = (nes_task){.cb = on_answer, .arg = q};
    snprintf(q->host, sizeof(q->host), "%s", c->target.host);
    snprintf(q->port, sizeof(q->port), "%s", port);
    pthread_mutex_lock(&r->rmu);
    if (!r->resolver_started) {
        if (pthread_create(&r->resolver, NULL, resolver_main, r) != 0) {
            pthread_mutex_unlock(&r->rmu);
            free(q);
            return -1;
        }
        r->resolver_started = true;
    }
    if (r->rq_tail != NULL)
        r->rq_tail->next = q;
    else
        r->rq_head = q;
    r->rq_tail = q;
    pthread_cond_signal(&r->rcv);
    pthread_mutex_unlock(&r->rmu);
    c->lookup = true;
    c->state = ST_RESOLVING;
    return 0;
}

/* The upstream could not be reached: answer the client with the head step's failure reply when
 * there is one, else close. */
static void connect_failed(conn *c, nes_relay_err err, int e)
{
    emit(c, NES_RELAY_EV_ERROR, err, e);
    if (c->fail_reply == NULL) {
        conn_close(c, false);
        return;
    }
    if (c->ufd >= 0) {
        close(c->ufd);
        c->ufd = -1;
    }
    free(c->down.pre);
    c->down.pre = (uint8_t *)c->fail_reply;
    c->down.pre_len = c->fail_reply_len;
    c->down.pre_off = 0;
    c->fail_reply = NULL;
    c->state = ST_REPLY;
    deadline(c, c->w->r->o.head_timeout_ms);
    reply_step(c);
}

/* Tries the next candidate address; on success or in progress returns, else fails the conn. */
static void connect_next(conn *c, int last_errno)
{
    int e = last_errno;
    for (;;) {
        int rc;
        if (c->target.kind == NES_EP_TCP) {
            if (c->ai_next == NULL)
                break;
            struct addrinfo *ai = c->ai_next;
            c->ai_next = ai->ai_next;
            rc = connect_addr(c, ai->ai_family, ai->ai_addr, ai->ai_addrlen);
        } else if (c->target.kind == NES_EP_UNIX) {
            if (c->tried)
                break;
            c->tried = true;
            struct sockaddr_un sa = {.sun_family = AF_UNIX};
            size_t n = strlen(c->target.path);
            memcpy(sa.sun_path, c->target.path, n);
            if (c->target.path[0] == '@')
                sa.sun_path[0] = '\0'; /* abstract namespace */
            rc = connect_addr(c, AF_UNIX, (struct sockaddr *)&sa,
                              (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                                          (c->target.path[0] == '@' ? 0 : 1)));
        } else {
            if (c->tried)
                break;
            c->tried = true;
            struct sockaddr_vm sa = {
                .svm_family = AF_VSOCK, .svm_cid = c->target.cid, .svm_port = c->target.vport};
            rc = connect_addr(c, AF_VSOCK, (struct sockaddr *)&sa, sizeof(sa));
        }
        if (rc == 1) {
            start_relay(c);
            return;
        }
        if (rc == 0)
            return;
        e = errno;
    }
    connect_failed(c, NES_RELAY_E_CONNECT, e);
}

static void start_connect(conn *c)
{
    const lsn *l = c->l;
    if (l->preface != NULL) {
        uint8_t pre[NES_RELAY_PREFACE_MAX];
        int n = l->preface(l->ctx, c->cfd, pre, sizeof(pre));
        if (n < 0 || (size_t)n > sizeof(pre)) {
            fail_conn(c, NES_RELAY_E_PREFACE, 0);
            return;
        }
        size_t extra = c->up.pre_len; /* leftover head bytes already queued */
        uint8_t *p = malloc((size_t)n + extra + 1);
        if (p == NULL) {
            fail_conn(c, NES_RELAY_E_RESOURCE, ENOMEM);
            return;
        }
        memcpy(p, pre, (size_t)n);
        if (extra > 0)
            memcpy(p + n, c->up.pre, extra);
        free(c->up.pre);
        c->up.pre = p;
        c->up.pre_len = (size_t)n + extra;
    }
    c->state = ST_CONNECTING;
    deadline(c, c->w->r->o.connect_timeout_ms); /* the name lookup included */
    if (c->target.kind == NES_EP_TCP) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST};
        char port[8];
        snprintf(port, sizeof(port), "%u", (unsigned)c->target.port);
        int rc = getaddrinfo(c->target.host, port, &hints, &c->ai);
        if (rc == EAI_NONAME) { /* a name: look it up off the worker */
            c->ai = NULL;
            if (queue_lookup(c, port) != 0)
                connect_failed(c, NES_RELAY_E_RESOURCE, ENOMEM);
            return;
        }
        if (rc != 0) {
            c->ai = NULL;
            connect_failed(c, NES_RELAY_E_CONNECT, rc == EAI_SYSTEM ? errno : EHOSTUNREACH);
            return;
        }
        c->ai_next = c->ai;
    }
    connect_next(c, ECONNREFUSED);
}

/* The resolver answered a lookup of this worker's conn (a task posted to the worker's loop; the
 * batch's events have been dispatched, so a closed conn is freed at once). */
static void on_answer(nes_loop *loop, void *arg)
{
    (void)loop;
    lookup *a = arg;
    conn *c = a->c;
    c->lookup = false;
    if (c->closed) {
        free(c); /* closed while looking up: conn_close left it to us */
        if (a->res != NULL)
            freeaddrinfo(a->res);
    } else if (c->state != ST_RESOLVING) {
        if (a->res != NULL) /* timed out meanwhile and answered the client */
            freeaddrinfo(a->res);
    } else if (a->rc != 0) {
        c->state = ST_CONNECTING;
        connect_failed(c, NES_RELAY_E_CONNECT,
                       a->rc == EAI_SYSTEM && a->err != 0 ? a->err : EHOSTUNREACH);
    } else {
        c->state = ST_CONNECTING;
        c->ai = a->res;
        c->ai_next = c->ai;
        connect_next(c, ECONNREFUSED);
    }
    free(a);
}

static void on_upstream(conn *c, uint32_t events)
{
    if (c->state == ST_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err == 0 && !(events & (EPOLLERR | EPOLLHUP))) {
            start_relay(c);
            return;
        }
        nes_loop_del(c->w->loop, &c->uio);
        close(c->ufd);
        c->ufd = -1;
        connect_next(c, err != 0 ? err : ECONNREFUSED);
        return;
    }
    if (c->state == ST_RELAY)
        relay_step_from(c, REF_UP);
}

/* ---- the head step and replies --------------------------------------------------------------- */

static int set_pre(dir *d, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    d->pre = malloc(n);
    if (d->pre == NULL)
        return -1;
    memcpy(d->pre, p, n);
    d->pre_len = n;
    d->pre_off = 0;
    return 0;
}

/* ST_REPLY: write down.pre to the client, shut it, read and drop until EOF (so unread bytes do
 * not turn the close into a reset that could destroy the reply in flight). */
static void reply_step(conn *c)
{
    dir *d = &c->down;
    while (d->pre_off < d->pre_len) {
        ssize_t n = send(c->cfd, d->pre + d->pre_off, d->pre_len - d->pre_off, MSG_NOSIGNAL);
        if (n > 0) {
            d->pre_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_close(c, false);
        return;
    }
    if (!d->done) {
        shutdown(c->cfd, SHUT_WR);
        d->done = true;
    }
    uint8_t sink[4096];
    for (;;) {
        ssize_t n = read(c->cfd, sink, sizeof(sink));
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_close(c, false);
        return;
    }
}

static void head_step(conn *c)
{
    const lsn *l = c->l;
    size_t max = c->w->r->o.head_max;
    for (;;) {
        if (c->head_len == max) {
            fail_conn(c, NES_RELAY_E_HEAD, 0);
            return;
        }
        ssize_t n = read(c->cfd, c->head + c->head_len, max - c->head_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            fail_conn(c, NES_RELAY_E_HEAD, n < 0 ? errno : 0);
            return;
        }
        c->head_len += (size_t)n;
        nes_relay_head *h = calloc(1, sizeof(*h));
        if (h == NULL) {
            fail_conn(c, NES_RELAY_E_RESOURCE, ENOMEM);
            return;
        }
        nes_relay_verdict v = l->head(l->ctx, c->cfd, c->head, c->head_len, h);
        int rc = 0;
        if (v == NES_RELAY_MORE) {
            nes_buf_free(&h->big_reply);
            free(h);
            continue;
        }
        if (h->reply_len > sizeof(h->reply))
            h->reply_len = sizeof(h->reply);
        if (v == NES_RELAY_REJECT) {
            if (h->big_reply.len > 0)
                rc = set_pre(&c->down, h->big_reply.data, h->big_reply.len);
            else
                rc = set_pre(&c->down, h->reply, h->reply_len);
            nes_buf_free(&h->big_reply);
            free(h);
            emit(c, NES_RELAY_EV_ERROR, NES_RELAY_E_REJECTED, 0);
            if (rc != 0) {
                conn_close(c, false);
                return;
            }
            c->state = ST_REPLY;
            deadline(c, c->w->r->o.head_timeout_ms);
            reply_step(c);
            return;
        }
        /* GO */
        c->target = h->target;
        size_t consumed = h->consumed > c->head_len ? c->head_len : h->consumed;
        rc = set_pre(&c->down, h->reply, h->reply_len);
        if (rc == 0)
            rc = set_pre(&c->up, c->head + consumed, c->head_len - consumed);
        if (rc == 0 && h->fail_reply_len > 0) {
            c->fail_reply_len = h->fail_reply_len > sizeof(h->fail_reply) ? sizeof(h->fail_reply)
                                                                          : h->fail_reply_len;
            c->fail_reply = malloc(c->fail_reply_len);
            if (c->fail_reply == NULL)
                rc = -1;
            else
                memcpy(c->fail_reply, h->fail_reply, c->fail_reply_len);
        }
        nes_buf_free(&h->big_reply);
        free(h);
        free(c->head);
        c->head = NULL;
        if (rc != 0) {
            fail_conn(c, NES_RELAY_E_RESOURCE, ENOMEM);
            return;
        }
        start_connect(c);
        return;
    }
}

static void on_client(conn *c)
{
    switch (c->state) {
    case ST_HEAD:
        head_step(c);
        break;
    case ST_RELAY:
        relay_step_from(c, REF_CLIENT);
        break;
    case ST_REPLY:
        reply_step(c);
        break;
    default: /* connecting: client bytes wait in the socket */
        break;
    }
}

/* Records what an edge says about the socket direction `d` reads, in every state (a FIN or an
 * urgent mark that arrives while connecting is not announced again once relaying starts). A
 * read stops short at a TCP urgent mark or a unix OOB byte, and before a FIN only by its size,
 * so any of these turns pump's short-read cut off for good. */
static void note_events(dir *d, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        d->ready = true;
    if (events & (EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        d->read_all = true;
}

/* The loop's callbacks: an edge on a conn's socket (events 0: the deferred pump of a conn that
 * used its budget), on a listener. A conn closed earlier in the batch is parked, not freed. */
static void on_client_io(nes_loop *loop, nes_io *io, uint32_t events)
{
    (void)loop;
    conn *c = (conn *)(void *)((char *)io - offsetof(conn, cio));
    if (c->closed)
        return;
    if (events == 0) {
        if (c->state == ST_RELAY)
            relay_step(c);
        return;
    }
    note_events(&c->up, events);
    on_client(c);
}

static void on_upstream_io(nes_loop *loop, nes_io *io, uint32_t events)
{
    (void)loop;
    conn *c = (conn *)(void *)((char *)io - offsetof(conn, uio));
    if (c->closed)
        return;
    note_events(&c->down, events);
    on_upstream(c, events);
}

static void on_deadline(nes_loop *loop, nes_timer *t);

/* ---- accepting ------------------------------------------------------------------------------- */

static void accept_one(worker *w, const lsn *l, int fd)
{
    nes_relay *r = w->r;
    if (atomic_fetch_add(&r->open, 1) >= r->o.max_conns) {
        atomic_fetch_sub(&r->open, 1);
        bump(&w->ct.refused, 1);
        close(fd);
        if (r->event != NULL) {
            nes_relay_event ev = {.kind = NES_RELAY_EV_REFUSED, .listener = l->name};
            r->event(r->event_ctx, &ev);
        }
        return;
    }
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        atomic_fetch_sub(&r->open, 1);
        bump(&w->ct.errors[NES_RELAY_E_RESOURCE], 1);
        close(fd);
        return;
    }
    bump(&w->ct.total, 1);
    c->w = w;
    c->l = l;
    c->cfd = fd;
    c->ufd = -1;
    c->up.pipe[0] = c->up.pipe[1] = c->down.pipe[0] = c->down.pipe[1] = -1;
    c->cio.cb = on_client_io;
    c->uio = (nes_io){.fd = -1, .cb = on_upstream_io};
    c->tm.cb = on_deadline;
    c->prev = w->tail;
    if (w->tail != NULL)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    set_nodelay(fd);
    if (ep_add(c, &c->cio, fd) != 0) {
        fail_conn(c, NES_RELAY_E_RESOURCE, errno);
        return;
    }
    if (l->head != NULL) {
        c->head = malloc(r->o.head_max);
        if (c->head == NULL) {
            fail_conn(c, NES_RELAY_E_RESOURCE, ENOMEM);
            return;
        }
        c->state = ST_HEAD;
        deadline(c, r->o.head_timeout_ms);
        head_step(c);
        return;
    }
    c->target = l->target;
    start_connect(c);
}

static void on_listener(worker *w, const lsn *l)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                bump(&w->ct.errors[NES_RELAY_E_RESOURCE], 1);
            return;
        }
        accept_one(w, l, fd);
    }
}

static void on_listener_io(nes_loop *loop, nes_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    lio *li = (lio *)(void *)((char *)io - offsetof(lio, io));
    if (li->w->listening)
        on_listener(li->w, &li->w->r->l[li->idx]);
}

/* ---- the worker
 * ----------------------------------------------------------------------------------- */

/* The deadline of the conn's state passed. */
static void on_deadline(nes_loop *loop, nes_timer *t)
{
    (void)loop;
    conn *c = (conn *)(void *)((char *)t - offsetof(conn, tm));
    if (c->state == ST_CONNECTING || c->state == ST_RESOLVING)
        connect_failed(c, NES_RELAY_E_CONNECT_TIMEOUT, ETIMEDOUT);
    else if (c->state == ST_HEAD)
        fail_conn(c, NES_RELAY_E_HEAD, ETIMEDOUT);
    else if (c->state == ST_REPLY)
        conn_close(c, false); /* the reply went out; the client never closed */
    else if (c->state == ST_RELAY)
        fail_conn(c, NES_RELAY_E_IDLE, ETIMEDOUT);
}

static void bury(worker *w)
{
    while (w->graveyard != NULL) {
        conn *c = w->graveyard;
        w->graveyard = c->grave;
        free(c);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    nes_relay *r = w->r;
    /* signals go to the program's main thread; a SIGPIPE raised by splice to a closed peer stays
     * pending here instead of killing the process (the write reports EPIPE anyway) */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!atomic_load(&r->stopping)) {
        if (nes_loop_run_once(w->loop, TICK_MS) < 0)
            break; /* epoll failed: the drain closes what is left */
        bury(w);
        if (atomic_load(&r->draining) && w->listening) {
            for (size_t i = 0; i < r->nl; i++)
                nes_loop_del(w->loop, &w->lio[i].io);
            w->listening = false;
            atomic_fetch_add(&r->unlistened, 1);
        }
    }
    while (w->head != NULL)
        fail_conn(w->head, NES_RELAY_E_DRAIN, 0);
    bury(w);
    return NULL;
}

/* ---- the engine
 * ---------------------------------------------------------------------------------- */

static void apply_defaults(nes_relay_opts *o)
{
    if (o->threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = n > 0 && n < 256 ? (unsigned)n : 1;
    }
    if (o->max_conns == 0)
        o->max_conns = 4096;
    if (o->idle_timeout_ms == 0)
        o->idle_timeout_ms = 300000;
    if (o->connect_timeout_ms == 0)
        o->connect_timeout_ms = 10000;
    if (o->head_timeout_ms == 0)
        o->head_timeout_ms = 10000;
    if (o->buf_bytes == 0)
        o->buf_bytes = 65536;
    if (o->head_max == 0)
        o->head_max = 8192;
}

nes_relay *nes_relay_start(const nes_relay_opts *opts, const nes_relay_listener *listeners,
                           size_t nlisteners, nes_relay_event_fn event, void *event_ctx, char *why,
                           size_t why_len)
{
    nes_relay *r = calloc(1, sizeof(*r));
    if (r == NULL || nlisteners > NES_RELAY_MAX_LISTENERS) {
        for (size_t i = 0; i < nlisteners; i++)
            close(listeners[i].fd);
        nes_msgf(why, why_len, r == NULL ? "out of memory" : "too many listeners");
        free(r);
        return NULL;
    }
    if (opts != NULL)
        r->o = *opts;
    apply_defaults(&r->o);
    r->event = event;
    r->event_ctx = event_ctx;
    r->nl = nlisteners;
    pthread_mutex_init(&r->rmu, NULL);
    pthread_cond_init(&r->rcv, NULL);
    for (size_t i = 0; i < nlisteners; i++) {
        lsn *l = &r->l[i];
        l->fd = listeners[i].fd;
        l->has_target = listeners[i].target != NULL;
        if (l->has_target)
            l->target = *listeners[i].target;
        l->head = listeners[i].head;
        l->preface = listeners[i].preface;
        l->ctx = listeners[i].ctx;
        l->name = listeners[i].name != NULL ? listeners[i].name : "relay";
        int dom = 0;
        socklen_t dlen = sizeof(dom);
        l->short_ok = getsockopt(l->fd, SOL_SOCKET, SO_DOMAIN, &dom, &dlen) == 0 &&
                      (dom == AF_INET || dom == AF_INET6 || dom == AF_UNIX);
    }
    for (size_t i = 0; i < nlisteners; i++) {
        if (!r->l[i].has_target && r->l[i].head == NULL) {
            nes_msgf(why, why_len, "listener %s has neither a target nor a head step",
                     r->l[i].name);
            nes_relay_free(r);
            return NULL;
        }
    }
    r->w = calloc(r->o.threads, sizeof(*r->w));
    if (r->w == NULL) {
        nes_msgf(why, why_len, "out of memory");
        nes_relay_free(r);
        return NULL;
    }
    for (unsigned i = 0; i < r->o.threads; i++) {
        worker *w = &r->w[i];
        w->r = r;
        w->loop = nes_loop_new(MAX_EVENTS);
        r->nw = i + 1;
        if (w->loop == NULL) {
            nes_msgf(why, why_len, "epoll/eventfd: %s", strerror(errno));
            nes_relay_free(r);
            return NULL;
        }
        nes_loop_set_busy_poll(w->loop, r->o.busy_poll_us);
        for (size_t k = 0; k < nlisteners; k++) {
            w->lio[k] = (lio){.io = {.fd = r->l[k].fd, .cb = on_listener_io}, .w = w, .idx = k};
            if (nes_loop_add(w->loop, &w->lio[k].io, EPOLLIN | EPOLLEXCLUSIVE) != 0) {
                nes_msgf(why, why_len, "epoll_ctl: %s", strerror(errno));
                nes_relay_free(r);
                return NULL;
            }
        }
        w->listening = true;
    }
    for (unsigned i = 0; i < r->nw; i++) {
        if (pthread_create(&r->w[i].th, NULL, worker_main, &r->w[i]) != 0) {
            nes_msgf(why, why_len, "cannot start a relay thread");
            nes_relay_free(r);
            return NULL;
        }
        r->w[i].started = true;
    }
    return r;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void nes_relay_drain(nes_relay *r, unsigned grace_ms)
{
    if (r == NULL || r->joined)
        return;
    atomic_store(&r->draining, 1);
    unsigned started = 0;
    for (unsigned i = 0; i < r->nw; i++)
        started += r->w[i].started ? 1u : 0u;
    /* every worker has left the listeners (within a tick) before they close */
    for (int i = 0; i < 50 && atomic_load(&r->unlistened) < started; i++)
        sleep_ms(TICK_MS / 4);
    for (size_t i = 0; i < r->nl; i++) {
        if (r->l[i].fd >= 0)
            close(r->l[i].fd);
        r->l[i].fd = -1;
    }
    int64_t end = nes_mono_ms() + (int64_t)grace_ms;
    while (atomic_load(&r->open) > 0 && nes_mono_ms() < end)
        sleep_ms(20);
    atomic_store(&r->stopping, 1);
    for (unsigned i = 0; i < r->nw; i++)
        if (r->w[i].started)
            pthread_join(r->w[i].th, NULL);
    r->joined = true;
}

void nes_relay_free(nes_relay *r)
{
    if (r == NULL)
        return;
    nes_relay_drain(r, 0);
    if (r->resolver_started) { /* it answers what is queued, then exits */
        pthread_mutex_lock(&r->rmu);
        r->resolver_stop = true;
        pthread_cond_signal(&r->rcv);
        pthread_mutex_unlock(&r->rmu);
        pthread_join(r->resolver, NULL);
    }
    for (unsigned i = 0; r->w != NULL && i < r->nw; i++) {
        worker *w = &r->w[i];
        if (w->loop == NULL)
            continue;
        /* answers posted after the worker left free the conns closed while their lookup ran
         * (every conn is closed by now, so only those tasks have work; the workers are joined) */
        nes_loop_run_once(w->loop, 0);
        nes_loop_free(w->loop);
    }
    pthread_mutex_destroy(&r->rmu);
    pthread_cond_destroy(&r->rcv);
    for (size_t i = 0; i < r->nl; i++)
        if (r->l[i].fd >= 0)
            close(r->l[i].fd);
    free(r->w);
    free(r);
}

void nes_relay_stats_get(const nes_relay *r, nes_relay_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->open = atomic_load_explicit(&r->open, memory_order_relaxed);
    for (unsigned i = 0; i < r->nw; i++) {
        counters *c = &r->w[i].ct;
        s->total += atomic_load_explicit(&c->total, memory_order_relaxed);
        s->refused += atomic_load_explicit(&c->refused, memory_order_relaxed);
        s->bytes_up += atomic_load_explicit(&c->bytes_up, memory_order_relaxed);
        s->bytes_down += atomic_load_explicit(&c->bytes_down, memory_order_relaxed);
        for (int k = 0; k < NES_RELAY_E_COUNT; k++)
            s->errors[k] += atomic_load_explicit(&c->errors[k], memory_order_relaxed);
    }
}

int nes_relay_format_metrics(const nes_relay_stats *s, const char *p, nes_buf *out)
{
    int rc = 0;
    rc |= nes_buf_appendf(out, "# HELP %s_connections_open Connections being relayed.\n", p);
    rc |= nes_buf_appendf(out, "# TYPE %s_connections_open gauge\n%s_connections_open %llu\n", p, p,
                          (unsigned long long)s->open);
    rc |=
        nes_buf_appendf(out, "# HELP %s_connections_total Connections accepted and relayed.\n", p);
    rc |= nes_buf_appendf(out, "# TYPE %s_connections_total counter\n%s_connections_total %llu\n",
                          p, p, (unsigned long long)s->total);
    rc |= nes_buf_appendf(
        out, "# HELP %s_connections_refused_total Connections closed at the cap.\n", p);
    rc |= nes_buf_appendf(out, "# TYPE %s_connections_refused_total counter\n", p);
    rc |= nes_buf_appendf(out, "%s_connections_refused_total %llu\n", p,
                          (unsigned long long)s->refused);
    rc |= nes_buf_appendf(out, "# HELP %s_bytes_total Bytes relayed by direction.\n", p);
    rc |= nes_buf_appendf(out, "# TYPE %s_bytes_total counter\n", p);
    rc |= nes_buf_appendf(out, "%s_bytes_total{direction=\"up\"} %llu\n", p,
                          (unsigned long long)s->bytes_up);
    rc |= nes_buf_appendf(out, "%s_bytes_total{direction=\"down\"} %llu\n", p,
                          (unsigned long long)s->bytes_down);
    rc |=
        nes_buf_appendf(out, "# HELP %s_errors_total Connections ended by an error, by kind.\n", p);
    rc |= nes_buf_appendf(out, "# TYPE %s_errors_total counter\n", p);
    for (int k = 0; k < NES_RELAY_E_COUNT; k++)
        rc |= nes_buf_appendf(out, "%s_errors_total{kind=\"%s\"} %llu\n", p, err_names[k],
                              (unsigned long long)s->errors[k]);
    return rc == 0 ? 0 : -1;
}
