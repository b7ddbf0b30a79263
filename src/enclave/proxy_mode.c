/* proxy_mode.c - the PROXY v2 step and the upstream exchange (see proxy_mode.h). */
#include "enclave/proxy_mode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "enclave/metrics.h"
#include "http/chunked.h"
#include "http/forward.h"
#include "http/response.h"
#include "obs/log.h"

/* ---- PROXY v2 ---------------------------------------------------------------------------- */

static void addr_text(int family, const void *addr, char *out, size_t cap)
{
    if (inet_ntop(family, addr, out, (socklen_t)cap) == NULL)
        out[0] = '\0';
}

int nes_proxy_preface(int fd, nes_proxy_peer *peer)
{
    uint8_t buf[NES_PP2_MAX_LEN];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        nes_log(NES_LOG_INFO, "proxy protocol: connection closed before a complete header");
        return -1;
    }
    nes_pp2 h;
    size_t used = 0;
    nes_err err;
    nes_err_clear(&err);
    nes_pp2_result r = nes_pp2_parse(buf, (size_t)n, &h, &used, &err);
    if (r == NES_PP2_NEED_MORE && (size_t)n < sizeof(buf)) {
        /* incomplete: wait, unless the peer already closed its side (no more will come) */
        struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
        if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            nes_log(NES_LOG_INFO, "proxy protocol: connection closed before a complete header");
            return -1;
        }
        return 0;
    }
    if (r != NES_PP2_DONE) {
        nes_log(NES_LOG_WARN, "proxy protocol: header refused at byte offset %zu: %s",
                r == NES_PP2_ERROR ? err.offset : (size_t)n,
                r == NES_PP2_ERROR ? err.msg : "header too long");
        return -1;
    }
    /* consume exactly the header; the TLS bytes behind it stay for GnuTLS */
    if (recv(fd, buf, used, 0) != (ssize_t)used) {
        nes_log(NES_LOG_WARN, "proxy protocol: the header could not be consumed");
        return -1;
    }
    memset(peer, 0, sizeof(*peer));
    if (h.cmd == NES_PP2_PROXY) {
        if (h.family == NES_PP2_AF_INET)
            addr_text(AF_INET, h.src_addr, peer->client, sizeof(peer->client));
        else if (h.family == NES_PP2_AF_INET6)
            addr_text(AF_INET6, h.src_addr, peer->client, sizeof(peer->client));
    }
    if (h.ret != NULL && h.ret_len < sizeof(peer->ret)) {
        memcpy(peer->ret, h.ret, h.ret_len);
        peer->ret[h.ret_len] = '\0';
    }
    return 1;
}

bool nes_proxy_return_allowed(int fd, const nes_proxy_peer *peer, const nes_retallow *allow)
{
    if (peer->ret[0] == '\0')
        return true; /* nothing to forward to: proxied requests answer 502 */
    nes_retallow_peer who = {0};
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        who.family = ss.ss_family;
        if (ss.ss_family == AF_INET)
            memcpy(who.addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        else if (ss.ss_family == AF_INET6)
            memcpy(who.addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
        else if (ss.ss_family == AF_VSOCK)
            who.cid = ((struct sockaddr_vm *)&ss)->svm_cid;
    }
    if (nes_retallow_match(allow, peer->ret, &who))
        return true;
    nes_log(NES_LOG_WARN,
            "proxy protocol: return endpoint %s not allowed by PROXY_RETURN_ALLOW; connection "
            "refused",
            peer->ret);
    return false;
}

void nes_proxy_peer_from_socket(int fd, nes_proxy_peer *peer)
{
    if (peer->client[0] != '\0')
        return;
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET)
        addr_text(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer->client,
                  sizeof(peer->client));
    else if (ss.ss_family == AF_INET6)
        addr_text(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, peer->client,
                  sizeof(peer->client));
}

/* ---- upstream connections and the pool --------------------------------------------------- */

#define POOL_PER_KEY 32

/* One connection to an application. It is registered with the loop once, when opened, and
 * stays registered while parked in the pool (no epoll_ctl per request); an event on a parked
 * connection (the application closed it or sent something unasked) closes it. Closed
 * connections are freed from a deferred call, after the loop's current batch of events, so an
 * event of that batch never names freed memory. */
struct nes_uconn {
    nes_io io; /* first */
    nes_proxy_env *penv;
    nes_upx *x; /* the exchange using it; NULL while parked */
    nes_uconn *next_dead;
};

static void x_events(nes_upx *x, uint32_t events);
static void x_free_spares(nes_proxy_env *penv);

static void uc_close(nes_uconn *uc)
{
    nes_proxy_env *penv = uc->penv;
    nes_loop_del(penv->loop, &uc->io);
    close(uc->io.fd);
    uc->io.fd = -1;
    uc->x = NULL;
    uc->next_dead = penv->dead;
    penv->dead = uc;
    nes_loop_defer(penv->loop, &penv->reaper);
}

static void reaper_cb(nes_loop *loop, nes_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    nes_proxy_env *penv = (nes_proxy_env *)((char *)io - offsetof(nes_proxy_env, reaper));
    while (penv->dead != NULL) {
        nes_uconn *uc = penv->dead;
        penv->dead = uc->next_dead;
        free(uc);
    }
}

static void uc_cb(nes_loop *loop, nes_io *io, uint32_t events)
{
    (void)loop;
    nes_uconn *uc = (nes_uconn *)io;
    if (uc->x != NULL) {
        x_events(uc->x, events);
        return;
    }
    /* parked: anything but room to write means it is unusable now */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        nes_upool_remove(&uc->penv->pool, io->fd);
        uc_close(uc);
    }
}

static void pool_timer_cb(nes_loop *loop, nes_timer *t)
{
    nes_proxy_env *penv = (nes_proxy_env *)((char *)t - offsetof(nes_proxy_env, pool_timer));
    void *ucs[16];
    size_t n;
    while ((n = nes_upool_expire(&penv->pool, nes_loop_now(loop), ucs, 16)) > 0)
        for (size_t i = 0; i < n; i++)
            uc_close(ucs[i]);
    int64_t next = nes_upool_next_expiry(&penv->pool);
    if (next != INT64_MAX)
        nes_timer_set(loop, &penv->pool_timer, next);
}

nes_proxy_env *nes_proxy_env_new(nes_loop *loop, int64_t idle_ms)
{
    nes_proxy_env *penv = calloc(1, sizeof(*penv));
    if (penv == NULL)
        return NULL;
    penv->loop = loop;
    nes_upool_init(&penv->pool, POOL_PER_KEY, idle_ms);
    penv->pool_timer.cb = pool_timer_cb;
    penv->reaper = (nes_io){.fd = -1, .cb = reaper_cb};
    return penv;
}

void nes_proxy_env_free(nes_proxy_env *penv)
{
    if (penv == NULL)
        return;
    nes_timer_stop(penv->loop, &penv->pool_timer);
    void *ucs[16];
    size_t n;
    while ((n = nes_upool_drain(&penv->pool, ucs, 16)) > 0)
        for (size_t i = 0; i < n; i++)
            uc_close(ucs[i]);
    nes_loop_del(penv->loop, &penv->reaper);
    reaper_cb(penv->loop, &penv->reaper, 0);
    x_free_spares(penv);
    free(penv);
}

static void pool_put(nes_proxy_env *penv, const char *key, nes_uconn *uc)
{
    int64_t now = nes_loop_now(penv->loop);
    uc->x = NULL;
    void *ev = NULL;
    if (nes_upool_put(&penv->pool, key, uc->io.fd, uc, now, &ev) >= 0)
        uc_close(ev);
    if (!nes_timer_armed(&penv->pool_timer))
        nes_timer_set(penv->loop, &penv->pool_timer, nes_upool_next_expiry(&penv->pool));
}

/* The newest parked connection for `key`, or NULL. One that the application closed while parked
 * was closed by its event (uc_cb); one whose close is in flight fails on first use and the
 * exchange retries once on a fresh connection. */
static nes_uconn *pool_take(nes_proxy_env *penv, const char *key)
{
    void *uc = NULL;
    return nes_upool_take(&penv->pool, key, nes_loop_now(penv->loop), &uc) >= 0 ? uc : NULL;
}

/* ---- connecting -------------------------------------------------------------------------- */

/* A non-blocking connect to `ep`. vsock and unix need no lookup; a tcp host is a literal address
 * or, with `allow_names` (UPSTREAM only, which the operator chose), a name looked up with
 * getaddrinfo once per worker (that first lookup blocks the worker: use an address or an
 * /etc/hosts name). A return endpoint from
 * a PROXY v2 header must be literal, so no peer can make a worker wait on DNS. -1 with *why. */
static int connect_nb(nes_proxy_env *penv, const nes_endpoint *ep, bool allow_names,
                      const char **why)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    memset(&ss, 0, sizeof(ss));
    if (ep->kind == NES_EP_UNIX) {
        struct sockaddr_un *su = (struct sockaddr_un *)&ss;
        su->sun_family = AF_UNIX;
        memcpy(su->sun_path, ep->path, strlen(ep->path) + 1);
        len = sizeof(*su);
    } else if (ep->kind == NES_EP_VSOCK) {
        struct sockaddr_vm *sv = (struct sockaddr_vm *)&ss;
        sv->svm_family = AF_VSOCK;
        sv->svm_cid = ep->cid;
        sv->svm_port = ep->vport;
        len = sizeof(*sv);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, ep->host, &s4->sin_addr) == 1) {
            s4->sin_family = AF_INET;
            s4->sin_port = htons(ep->port);
            len = sizeof(*s4);
        } else if (inet_pton(AF_INET6, ep->host, &s6->sin6_addr) == 1) {
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons(ep->port);
            len = sizeof(*s6);
        } else if (!allow_names) {
            *why = "upstream name";
            return -1;
        } else if (penv->name_len > 0 && penv->name_port == ep->port &&
                   strcmp(penv->name_host, ep->host) == 0) {
            memcpy(&ss, &penv->name_ss, sizeof(ss)); /* looked up once per worker */
            len = penv->name_len;
        } else {
            struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
            char port[8];
            snprintf(port, sizeof(port), "%u", ep->port);
            if (getaddrinfo(ep->host, port, &hints, &ai) != 0 || ai == NULL) {
                *why = "upstream name";
                return -1;
            }
            memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
            len = ai->ai_addrlen;
            freeaddrinfo(ai);
            memcpy(&penv->name_ss, &ss, sizeof(ss));
            penv->name_len = len;
            penv->name_port = ep->port;
            memcpy(penv->name_host, ep->host, sizeof(penv->name_host));
        }
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = "socket";
        return -1;
    }
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        close(fd);
        *why = "connect";
        return -1;
    }
    return fd;
}

/* ---- the exchange ------------------------------------------------------------------------ */

typedef enum xstate {
    X_CONNECTING,
    X_SENDING,
    X_HEAD,
    X_BODY,
} xstate;

struct nes_upx {
    nes_uconn *uc; /* the upstream connection, or NULL */
    nes_timer timer;
    nes_proxy_env *penv;
    nes_upx_sink sink;
    xstate st;
    bool reused, retried, paused, got_bytes;
    bool allow_names;
    bool drained; /* the last recv returned less than asked: the socket was empty then */
    char key[NES_UPOOL_KEY_MAX];
    nes_endpoint ep;
    nes_buf req;
    size_t req_off;
    nes_h1_method method;
    int client_minor;
    bool client_keep_alive;
    int64_t timeout_ms, client_timeout_ms;
    uint64_t t0_us; /* the exchange started (metrics: time to the response head) */
    nes_span span;  /* the upstream call, a child of the request's span */
    /* response */
    uint8_t *in; /* NES_UPX_IN_CAP bytes, kept with the object when it is reused */
    size_t in_len;
    nes_h1_response res;
    nes_h1_framing framing;
    uint64_t remaining;
    nes_h1_chunked chunks;
    bool unwrap_chunks; /* HTTP/1.0 client: send chunk data only */
    bool close_client;
    uint64_t bytes_out;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void x_arm(nes_upx *x)
{
    nes_timer_set(x->penv->loop, &x->timer, nes_loop_now(x->penv->loop) + x->timeout_ms);
}

static void x_drop_conn(nes_upx *x, bool reuse)
{
    if (x->uc == NULL)
        return;
    if (reuse)
        pool_put(x->penv, x->key, x->uc);
    else
        uc_close(x->uc);
    x->uc = NULL;
}

/* Frees the exchange, or keeps the object (and its input buffer) for the worker's next one. */
static void x_free(nes_upx *x)
{
    nes_proxy_env *penv = x->penv;
    nes_timer_stop(penv->loop, &x->timer);
    x_drop_conn(x, false);
    nes_buf_free(&x->req);
    if (penv->nspare < NES_UPX_SPARE) {
        penv->spare[penv->nspare++] = x;
        return;
    }
    free(x->in);
    free(x);
}

static void x_free_spares(nes_proxy_env *penv)
{
    for (size_t i = 0; i < penv->nspare; i++) {
        free(penv->spare[i]->in);
        free(penv->spare[i]);
    }
    penv->nspare = 0;
}

static nes_upstream_err err_kind(const char *error)
{
    static const struct {
        const char *why;
        nes_upstream_err kind;
    } map[] = {{"connect", NES_UPERR_CONNECT},
               {"timeout", NES_UPERR_TIMEOUT},
               {"reset", NES_UPERR_RESET},
               {"closed", NES_UPERR_CLOSED},
               {"invalid response", NES_UPERR_INVALID}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(error, map[i].why) == 0)
            return map[i].kind;
    return NES_UPERR_OTHER;
}

static void x_finish(nes_upx *x, int status, const char *error, bool reuse)
{
    nes_upx_result r = {
        .status = status,
        .head_sent = x->st == X_BODY,
        .close_client = x->close_client || (error != NULL && x->st == X_BODY),
        .error = error,
        .bytes_out = x->bytes_out,
    };
    nes_timer_stop(x->penv->loop, &x->timer);
    x_drop_conn(x, reuse);
    nes_trace_span_attr_int(&x->span, "nes.upstream.reused", x->reused);
    if (x->st == X_BODY)
        nes_trace_span_attr_int(&x->span, "http.response.status_code", x->res.status);
    if (error != NULL) {
        nes_upstream_err k = err_kind(error);
        nes_metrics_upstream_error(k);
        nes_trace_span_attr_str(&x->span, "error.type", nes_upstream_err_name(k));
        nes_trace_span_error(&x->span);
    }
    nes_trace_span_end(&x->span);
    x->sink.done(x->sink.owner, &r);
    x_free(x);
}

static void uc_new(nes_upx *x, int fd)
{
    nes_uconn *uc = calloc(1, sizeof(*uc));
    if (uc == NULL) {
        close(fd);
        return;
    }
    uc->io = (nes_io){.fd = fd, .cb = uc_cb};
    uc->penv = x->penv;
    if (nes_loop_add(x->penv->loop, &uc->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0) {
        close(fd);
        free(uc);
        return;
    }
    x->uc = uc;
}

/* Opens the upstream connection (a pooled one first unless retrying). 0 or -1 (*why). */
static int x_open(nes_upx *x, bool fresh, const char **why)
{
    x->uc = fresh ? NULL : pool_take(x->penv, x->key);
    x->reused = x->uc != NULL;
    if (x->uc == NULL) {
        int fd = connect_nb(x->penv, &x->ep, x->allow_names, why);
        if (fd < 0)
            return -1;
        uc_new(x, fd);
        if (x->uc == NULL) {
            *why = "resources";
            return -1;
        }
    }
    nes_metrics_upstream_conn(x->reused);
    x->uc->x = x;
    x->st = x->reused ? X_SENDING : X_CONNECTING;
    x->req_off = 0;
    x->in_len = 0;
    x->got_bytes = false;
    return 0;
}

/* A failure before any response byte on a reused connection: once more on a fresh one. */
static bool x_retry(nes_upx *x)
{
    if (!x->reused || x->retried || x->got_bytes)
        return false;
    x->retried = true;
    x_drop_conn(x, false);
    const char *why = NULL;
    if (x_open(x, true, &why) != 0)
        return false;
    nes_metrics_upstream_retry();
    nes_loop_defer(x->penv->loop, &x->uc->io);
    return true;
}

static bool out_append(nes_upx *x, const void *p, size_t n)
{
    if (n == 0)
        return true;
    if (nes_buf_append(x->sink.out(x->sink.owner), p, n) != 0)
        return false;
    x->bytes_out += n;
    return true;
}

/* Feeds body bytes in[0..n): queues what goes to the client. Returns 1 when the body ended
 * (*used = bytes belonging to it), 0 when more is needed, -1 on an invalid body. */
static int x_body(nes_upx *x, const uint8_t *in, size_t n, size_t *used)
{
    *used = 0;
    switch (x->framing) {
    case NES_H1_BODY_NONE:
        return 1;
    case NES_H1_BODY_LENGTH: {
        size_t k = n < x->remaining ? n : (size_t)x->remaining;
        if (!out_append(x, in, k))
            return -1;
        x->remaining -= k;
        *used = k;
        return x->remaining == 0 ? 1 : 0;
    }
    case NES_H1_BODY_CHUNKED:
        while (*used < n) {
            size_t u = 0, dlen = 0;
            const char *data = NULL;
            int r = nes_h1_chunked_next(&x->chunks, (const char *)in + *used, n - *used, &u, &data,
                                        &dlen, NULL);
            if (r < 0)
                return -1;
            bool ok = x->unwrap_chunks ? out_append(x, data, dlen) : out_append(x, in + *used, u);
            *used += u;
            if (!ok)
                return -1;
            if (r == 1)
                return 1;
        }
        return 0;
    case NES_H1_BODY_CLOSE:
        if (!out_append(x, in, n))
            return -1;
        *used = n;
        return 0;
    }
    return -1;
}

/* The response head is complete at x->in[0..hl). */
static int x_head_done(nes_upx *x, size_t hl)
{
    nes_metrics_upstream_head(now_us() - x->t0_us);
    x->framing = x->res.framing;
    x->remaining = x->res.content_length;
    bool keep_framing = true;
    x->close_client = !x->client_keep_alive || x->framing == NES_H1_BODY_CLOSE ||
                      (x->sink.closing != NULL && x->sink.closing(x->sink.owner));
    if (x->framing == NES_H1_BODY_CHUNKED) {
        nes_h1_chunked_init(&x->chunks, NULL);
        if (x->client_minor == 0) {
            x->unwrap_chunks = true;
            keep_framing = false;
            x->close_client = true;
        }
    }
    nes_buf *out = x->sink.out(x->sink.owner);
    size_t before = out->len;
    if (nes_h1_forward_response_head(out, &x->res, keep_framing, x->close_client,
                                     x->client_minor) != 0)
        return -1;
    x->bytes_out += out->len - before;
    x->st = X_BODY;
    memmove(x->in, x->in + hl, x->in_len - hl);
    x->in_len -= hl;
    return 0;
}

/* Reads and processes upstream bytes until EAGAIN, the end, an error or backpressure. */
static void x_read(nes_upx *x)
{
    for (;;) {
        if (x->st == X_BODY) {
            if (x->in_len > 0 || x->framing == NES_H1_BODY_NONE ||
                (x->framing == NES_H1_BODY_LENGTH && x->remaining == 0)) {
                size_t used;
                int r = x_body(x, x->in, x->in_len, &used);
                if (r < 0) {
                    x_finish(x, x->res.status, "invalid response", false);
                    return;
                }
                memmove(x->in, x->in + used, x->in_len - used);
                x->in_len -= used;
                if (r == 1) {
                    /* reusable: the application keeps it open, sent nothing beyond the
                     * response (the last read left the socket empty: later bytes raise an
                     * event that closes it in the pool) and got the whole request */
                    bool reuse = x->res.keep_alive && x->in_len == 0 && x->drained &&
                                 x->req_off == x->req.len;
                    x->sink.kick(x->sink.owner);
                    x_finish(x, x->res.status, NULL, reuse);
                    return;
                }
            }
            if (x->sink.pending(x->sink.owner) >= NES_UPX_HIGH) {
                x->paused = true;
                /* waiting for the client now: its bound, not the application's */
                nes_timer_set(x->penv->loop, &x->timer,
                              nes_loop_now(x->penv->loop) + x->client_timeout_ms);
                x->sink.kick(x->sink.owner);
                return;
            }
        }
        if (x->in_len == NES_UPX_IN_CAP) {
            x_finish(x, 502, "invalid response", false); /* a head larger than the buffer */
            return;
        }
        size_t room = NES_UPX_IN_CAP - x->in_len;
        ssize_t n = recv(x->uc->io.fd, x->in + x->in_len, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (x->st == X_BODY)
                x->sink.kick(x->sink.owner);
            return;
        }
        if (n <= 0) {
            if (x->st == X_BODY && x->framing == NES_H1_BODY_CLOSE && n == 0) {
                x->sink.kick(x->sink.owner);
                x_finish(x, x->res.status, NULL, false);
                return;
            }
            if (x->st != X_BODY && x_retry(x))
                return;
            /* after the head went out the application's status is what the client got */
            x_finish(x, x->st == X_BODY ? x->res.status : 502, n == 0 ? "closed" : "reset", false);
            return;
        }
        x->drained = (size_t)n < room;
        x->got_bytes = true;
        x->in_len += (size_t)n;
        x_arm(x);
        while (x->st == X_HEAD) {
            nes_h1_error e;
            int hl =
                nes_h1_parse_response((const char *)x->in, x->in_len, NULL, x->method, &x->res, &e);
            if (hl < 0 || (hl > 0 && x->res.status == 101)) {
                x_finish(x, 502, "invalid response", false);
                return;
            }
            if (hl == 0)
                break;
            if (x->res.status < 200) { /* interim: 100 Continue was answered by the service */
                memmove(x->in, x->in + hl, x->in_len - (size_t)hl);
                x->in_len -= (size_t)hl;
                continue;
            }
            if (x_head_done(x, (size_t)hl) != 0) {
                x_finish(x, 502, "invalid response", false);
                return;
            }
        }
    }
}

/* Sends the request (head and body in one buffer: one send for all but large bodies). Once all
 * of it went, the answer is awaited from the connection's next EPOLLIN edge: reading right away
 * would only meet EAGAIN. */
static void x_send(nes_upx *x)
{
    while (x->req_off < x->req.len) {
        ssize_t n =
            send(x->uc->io.fd, x->req.data + x->req_off, x->req.len - x->req_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            /* the application closed: it may have answered first (an early 413...); read
             * that, or retry / 502 as a read would */
            x->st = X_HEAD;
            x_read(x);
            return;
        }
        x->req_off += (size_t)n;
        x_arm(x);
    }
    x->st = X_HEAD;
}

static void x_events(nes_upx *x, uint32_t events)
{
    int fd = x->uc->io.fd;
    if (x->st == X_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err == EINPROGRESS || err == EALREADY)
            return;
        if (err != 0) {
            x_finish(x, 502, "connect", false);
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return; /* a deferred call (events 0) before the connect finished */
        x->st = X_SENDING;
    }
    if (x->st == X_SENDING && (events & (EPOLLIN | EPOLLRDHUP))) {
        x->st = X_HEAD; /* an answer (or a close) before the whole request went: read it */
        x_read(x);
        return;
    }
    if (x->st == X_SENDING) {
        x_send(x);
        return;
    }
    if (x->paused)
        return;
    if (x->st == X_HEAD && events == EPOLLOUT)
        return; /* only room to write (the request's ACK): nothing to read yet */
    x_read(x);
}

static void x_timeout(nes_loop *loop, nes_timer *t)
{
    (void)loop;
    nes_upx *x = (nes_upx *)((char *)t - offsetof(nes_upx, timer));
    x_finish(x, x->st == X_BODY ? x->res.status : 504, "timeout", false);
}

/* A zeroed exchange with its input buffer: a spare one of the worker's, or a new one. */
static nes_upx *x_alloc(nes_proxy_env *penv)
{
    if (penv->nspare > 0) {
        nes_upx *x = penv->spare[--penv->nspare];
        uint8_t *in = x->in;
        memset(x, 0, sizeof(*x));
        x->in = in;
        return x;
    }
    nes_upx *x = calloc(1, sizeof(*x));
    if (x != NULL && (x->in = malloc(NES_UPX_IN_CAP)) == NULL) {
        free(x);
        x = NULL;
    }
    return x;
}

static void span_fail(nes_span *sp, const char *kind)
{
    nes_trace_span_attr_str(sp, "error.type", kind);
    nes_trace_span_error(sp);
    nes_trace_span_end(sp);
}

void nes_upx_req_trace(nes_upx_req *req, const nes_span *parent, char tp[NES_TRACEPARENT_LEN + 1])
{
    nes_trace_span_begin(&req->span, "upstream", NES_SPAN_CLIENT, parent, NULL);
    nes_traceparent_format(&req->span, tp);
}

nes_upx *nes_upx_start(nes_proxy_env *penv, nes_upx_req *req, const nes_upx_sink *sink, int *status,
                       const char **why)
{
    *status = 502;
    *why = "upstream";
    nes_upx *x = NULL;
    nes_endpoint ep;
    if (strlen(req->endpoint) >= sizeof(x->key) ||
        nes_endpoint_parse(req->endpoint, &ep, NULL, 0) != 0) {
        nes_buf_free(&req->bytes);
        nes_metrics_upstream_error(NES_UPERR_OTHER);
        *why = "no usable upstream endpoint";
        span_fail(&req->span, "other");
        return NULL;
    }
    x = x_alloc(penv);
    if (x == NULL) {
        nes_buf_free(&req->bytes);
        nes_metrics_upstream_error(NES_UPERR_OTHER);
        *why = "resources";
        span_fail(&req->span, "other");
        return NULL;
    }
    x->ep = ep;
    x->penv = penv;
    x->sink = *sink;
    x->timer.cb = x_timeout;
    x->t0_us = now_us();
    memcpy(x->key, req->endpoint, strlen(req->endpoint) + 1);
    x->req = req->bytes;
    memset(&req->bytes, 0, sizeof(req->bytes));
    x->method = req->method;
    x->client_minor = req->client_minor;
    x->client_keep_alive = req->client_keep_alive;
    x->allow_names = req->allow_names;
    x->timeout_ms = (int64_t)req->timeout_secs * 1000;
    x->client_timeout_ms = (int64_t)req->client_timeout_secs * 1000;
    x->span = req->span;
    if (x_open(x, false, why) != 0) {
        nes_upstream_err k = err_kind(*why);
        nes_metrics_upstream_error(k);
        span_fail(&x->span, nes_upstream_err_name(k));
        x_free(x);
        return NULL;
    }
    x_arm(x);
    nes_loop_defer(penv->loop, &x->uc->io); /* sends from the loop (a reused socket has no edge) */
    return x;
}

void nes_upx_resume(nes_upx *x)
{
    if (!x->paused)
        return;
    x->paused = false;
    x_arm(x);
    nes_loop_defer(x->penv->loop, &x->uc->io);
}

void nes_upx_abort(nes_upx *x)
{
    span_fail(&x->span, "aborted");
    x_free(x);
}
