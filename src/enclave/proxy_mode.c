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
#include <unistd.h>

#include "enclave/log.h"
#include "http/chunked.h"
#include "http/forward.h"
#include "http/response.h"

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

/* ---- the pool ---------------------------------------------------------------------------- */

#define POOL_PER_KEY 32

static void pool_timer_cb(nes_loop *loop, nes_timer *t)
{
    nes_proxy_env *penv = (nes_proxy_env *)((char *)t - offsetof(nes_proxy_env, pool_timer));
    int fds[16];
    size_t n;
    while ((n = nes_upool_expire(&penv->pool, nes_loop_now(loop), fds, 16)) > 0)
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
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
    return penv;
}

void nes_proxy_env_free(nes_proxy_env *penv)
{
    if (penv == NULL)
        return;
    nes_timer_stop(penv->loop, &penv->pool_timer);
    int fds[16];
    size_t n;
    while ((n = nes_upool_drain(&penv->pool, fds, 16)) > 0)
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
    free(penv);
}

static void pool_put(nes_proxy_env *penv, const char *key, int fd)
{
    int64_t now = nes_loop_now(penv->loop);
    int ev = nes_upool_put(&penv->pool, key, fd, now);
    if (ev >= 0)
        close(ev);
    if (!nes_timer_armed(&penv->pool_timer))
        nes_timer_set(penv->loop, &penv->pool_timer, nes_upool_next_expiry(&penv->pool));
}

/* A pooled connection is usable when the application has neither closed it nor sent anything
 * unasked: a peek must say "nothing yet". */
static int pool_take(nes_proxy_env *penv, const char *key)
{
    for (;;) {
        int fd = nes_upool_take(&penv->pool, key, nes_loop_now(penv->loop));
        if (fd < 0)
            return -1;
        char b;
        ssize_t r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return fd;
        close(fd);
    }
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
    nes_io io; /* first */
    nes_timer timer;
    nes_proxy_env *penv;
    nes_upx_sink sink;
    xstate st;
    bool reused, retried, paused, got_bytes;
    bool allow_names;
    char key[NES_UPOOL_KEY_MAX];
    nes_endpoint ep;
    nes_buf req;
    size_t req_off;
    nes_h1_method method;
    int client_minor;
    bool client_keep_alive;
    int64_t timeout_ms, client_timeout_ms;
    /* response */
    uint8_t *in;
    size_t in_len;
    nes_h1_response res;
    nes_h1_framing framing;
    uint64_t remaining;
    nes_h1_chunked chunks;
    bool unwrap_chunks; /* HTTP/1.0 client: send chunk data only */
    bool close_client;
    uint64_t bytes_out;
};

static void x_cb(nes_loop *loop, nes_io *io, uint32_t events);

static void x_arm(nes_upx *x)
{
    nes_timer_set(x->penv->loop, &x->timer, nes_loop_now(x->penv->loop) + x->timeout_ms);
}

static void x_drop_fd(nes_upx *x, bool reuse)
{
    if (x->io.fd < 0)
        return;
    nes_loop_del(x->penv->loop, &x->io);
    if (reuse)
        pool_put(x->penv, x->key, x->io.fd);
    else
        close(x->io.fd);
    x->io.fd = -1;
}

static void x_free(nes_upx *x)
{
    nes_timer_stop(x->penv->loop, &x->timer);
    x_drop_fd(x, false);
    nes_buf_free(&x->req);
    free(x->in);
    free(x);
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
    x_drop_fd(x, reuse);
    x->sink.done(x->sink.owner, &r);
    x_free(x);
}

/* Opens the upstream connection (a pooled one first unless retrying). 0 or -1 (*why). */
static int x_open(nes_upx *x, bool fresh, const char **why)
{
    int fd = fresh ? -1 : pool_take(x->penv, x->key);
    x->reused = fd >= 0;
    if (fd < 0)
        fd = connect_nb(x->penv, &x->ep, x->allow_names, why);
    if (fd < 0)
        return -1;
    x->io = (nes_io){.fd = fd, .cb = x_cb};
    if (nes_loop_add(x->penv->loop, &x->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0) {
        close(fd);
        x->io.fd = -1;
        *why = "epoll";
        return -1;
    }
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
    x_drop_fd(x, false);
    const char *why = NULL;
    if (x_open(x, true, &why) != 0)
        return false;
    nes_loop_defer(x->penv->loop, &x->io);
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
                    bool reuse = x->res.keep_alive && x->in_len == 0 &&
                                 x->req_off == x->req.len; /* the whole request went */
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
        ssize_t n = recv(x->io.fd, x->in + x->in_len, NES_UPX_IN_CAP - x->in_len, 0);
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

static void x_send(nes_upx *x)
{
    while (x->req_off < x->req.len) {
        ssize_t n = send(x->io.fd, x->req.data + x->req_off, x->req.len - x->req_off, MSG_NOSIGNAL);
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
    x_read(x);
}

static void x_cb(nes_loop *loop, nes_io *io, uint32_t events)
{
    (void)loop;
    nes_upx *x = (nes_upx *)io;
    if (x->st == X_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
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
    x_read(x);
}

static void x_timeout(nes_loop *loop, nes_timer *t)
{
    (void)loop;
    nes_upx *x = (nes_upx *)((char *)t - offsetof(nes_upx, timer));
    x_finish(x, x->st == X_BODY ? x->res.status : 504, "timeout", false);
}

nes_upx *nes_upx_start(nes_proxy_env *penv, nes_upx_req *req, const nes_upx_sink *sink, int *status,
                       const char **why)
{
    *status = 502;
    *why = "upstream";
    nes_upx *x = calloc(1, sizeof(*x));
    if (x == NULL || strlen(req->endpoint) >= sizeof(x->key) ||
        nes_endpoint_parse(req->endpoint, &x->ep, NULL, 0) != 0 ||
        (x->in = malloc(NES_UPX_IN_CAP)) == NULL) {
        if (x != NULL)
            free(x->in);
        free(x);
        nes_buf_free(&req->bytes);
        *why = "no usable upstream endpoint";
        return NULL;
    }
    x->penv = penv;
    x->sink = *sink;
    x->io.fd = -1;
    x->timer.cb = x_timeout;
    memcpy(x->key, req->endpoint, strlen(req->endpoint) + 1);
    x->req = req->bytes;
    memset(&req->bytes, 0, sizeof(req->bytes));
    x->method = req->method;
    x->client_minor = req->client_minor;
    x->client_keep_alive = req->client_keep_alive;
    x->allow_names = req->allow_names;
    x->timeout_ms = (int64_t)req->timeout_secs * 1000;
    x->client_timeout_ms = (int64_t)req->client_timeout_secs * 1000;
    if (x_open(x, false, why) != 0) {
        x_free(x);
        return NULL;
    }
    x_arm(x);
    nes_loop_defer(penv->loop, &x->io); /* sends from the loop (a reused socket has no edge) */
    return x;
}

void nes_upx_resume(nes_upx *x)
{
    if (!x->paused)
        return;
    x->paused = false;
    x_arm(x);
    nes_loop_defer(x->penv->loop, &x->io);
}

void nes_upx_abort(nes_upx *x)
{
    x_free(x);
}
