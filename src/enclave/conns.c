/* conns.c - client connections: TLS, buffers, the request cycle, deadlines (see conns.h). */
#include "enclave/conns.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "enclave/reqhead.h"
#include "obs/log.h"
#include "enclave/proxy_mode.h"
#include "enclave/routes.h"
#include "enclave/server.h"
#include "enclave/tls.h"
#include "enclave/tlsio.h"
#include "http/forward.h"
#include "http/writer.h"

#define IN_CAP ((size_t)2 * NES_REQHEAD_MAX) /* head + room for chunked input behind it */
#define OUT_KEEP ((size_t)64 * 1024)     /* an output buffer grown past this is freed when sent */
#define OUT_POOL_CAP ((size_t)4096)      /* output buffers of this size go back to the worker */
#define OUT_FLUSH_AT ((size_t)32 * 1024) /* pipelined answers are sent once this much is queued */
#define REQUESTS_PER_WAKEUP 16
#define LINGER_MS 2000
#define UPSTREAM_IDLE_MS 4000 /* pooled upstream connections (below common app keep-alive) */

typedef enum phase {
    PH_PREFACE, /* PROXY_PROTOCOL=on: the PROXY v2 header, before TLS (proxy_mode.h) */
    PH_HANDSHAKE,
    PH_HEAD, /* waiting for or reading a request head */
    PH_BODY, /* reading (or discarding) a body */
    PH_LINGER,
    PH_PROXY, /* a request forwarded to the application: its response streams out */
} phase;

struct nes_conn {
    nes_io io; /* first: the loop hands back &io */
    nes_timer timer;
    nes_conn_env *env;
    nes_conn *prev, *next;
    gnutls_session_t tls;
    nes_tlsio tio;
    nes_creds *creds; /* the set this session's handshake used */
    phase ph;
    bool close_after_write; /* the last queued answer closes the connection */
    bool write_blocked;     /* waiting for EPOLLOUT */
    bool idle_wait;         /* between requests: the next byte starts the header deadline */
    int64_t head_t0;        /* when the current head's first byte came (or the accept) */
    /* input: [in_off, in_len) not yet consumed; a parsed head stays at [0, head_len) */
    uint8_t *in; /* NULL between requests (given back to env->in_pool) */
    size_t in_off, in_len, head_len;
    size_t in_hi; /* high-water mark of in_len since the buffer was taken (what to wipe) */
    /* output: [out_off, out.len) not yet accepted by GnuTLS */
    nes_buf out;
    size_t out_off;
    /* the request in progress (PH_BODY, or answered in PH_HEAD) */
    bool in_request;
    nes_request req;
    nes_route_ctx rctx;
    nes_buf body;
    bool discard, too_large;
    uint64_t remaining; /* length-framed body bytes still to come */
    nes_chunks chunked;
    nes_proxy_peer peer; /* client address and return endpoint (PROXY v2 header) */
    nes_upx *upx;        /* the exchange in progress (PH_PROXY) */
    /* last: the parsed head ends in a 4 KiB header array of which a request touches the start;
     * the fields above, touched on every request, stay on a few adjacent cache lines */
    nes_reqhead head;
};

/* ---- clocks and the Date header -------------------------------------------------------- */

int64_t nes_now_ms(void)
{
    return nes_mono_ms();
}

uint64_t nes_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *nes_conn_date(nes_conn_env *env)
{
    /* the loop's time (read once per wakeup) says when the next second starts: no clock read
     * per response (the string may lag a second boundary by one wakeup's work) */
    int64_t now = env->loop != NULL ? nes_loop_now(env->loop) : nes_mono_ms();
    if (now >= env->date_until_ms || env->date[0] == '\0') {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        env->date_sec = ts.tv_sec;
        if (nes_h1_imf_fixdate((int64_t)ts.tv_sec, env->date) == 0)
            env->date[0] = '\0';
        env->date_until_ms = now + 1000 - ts.tv_nsec / 1000000;
    }
    return env->date;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static void conn_cb(nes_loop *loop, nes_io *io, uint32_t events);
static void timer_cb(nes_loop *loop, nes_timer *t);

static void set_deadline(nes_conn *c, unsigned secs)
{
    nes_timer_set(c->env->loop, &c->timer, nes_loop_now(c->env->loop) + (int64_t)secs * 1000);
}

static void end_request(nes_conn *c)
{
    nes_buf_free(&c->body);
    c->in_request = false;
    c->discard = c->too_large = false;
}

/* ---- input buffers ---------------------------------------------------------------------- */

static uint8_t *in_take(nes_conn_env *env)
{
    if (env->in_pooled > 0)
        return env->in_pool[--env->in_pooled];
    return malloc(IN_CAP);
}

/* Gives the connection's input buffer back to its worker, wiped (it held requests). Only when
 * nothing in it is still needed: no request in progress, no pipelined bytes. */
static void in_release(nes_conn *c)
{
    if (c->in == NULL)
        return;
    size_t used = c->in_hi > c->in_len ? c->in_hi : c->in_len;
    explicit_bzero(c->in, used);
    nes_conn_env *env = c->env;
    if (env->in_pooled < NES_CONN_POOL)
        env->in_pool[env->in_pooled++] = c->in;
    else
        free(c->in);
    c->in = NULL;
    c->in_off = c->in_len = c->in_hi = 0;
    c->head.scan = 0;
}

/* Gives the connection an output buffer when it has none (one from the worker's pool). */
static void out_take(nes_conn *c)
{
    if (c->out.data != NULL)
        return;
    nes_conn_env *env = c->env;
    uint8_t *p = env->out_pooled > 0 ? env->out_pool[--env->out_pooled] : malloc(OUT_POOL_CAP);
    if (p != NULL)
        c->out = (nes_buf){.data = p, .cap = OUT_POOL_CAP};
}

/* The output buffer was sent and wiped: a pool-sized one goes back to the worker. */
static void out_release(nes_conn *c)
{
    nes_conn_env *env = c->env;
    if (c->out.cap == OUT_POOL_CAP && env->out_pooled < NES_CONN_POOL) {
        env->out_pool[env->out_pooled++] = c->out.data;
        c->out = (nes_buf){0};
    } else if (c->out.cap > OUT_KEEP) {
        nes_buf_free(&c->out);
    }
}

static void conn_close(nes_conn *c)
{
    nes_conn_env *env = c->env;
    nes_server *s = env->s;
    if (c->upx != NULL) {
        nes_upx_abort(c->upx);
        c->upx = NULL;
    }
    if (c->in_request) {
        nes_routes_aborted(s, &c->req, &c->rctx);
        end_request(c);
    }
    nes_timer_stop(env->loop, &c->timer);
    nes_loop_del(env->loop, &c->io);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        env->first = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    env->count--;
    gnutls_deinit(c->tls);
    nes_tlsio_closed(&c->tio);
    nes_creds_release(c->creds);
    close(c->io.fd);
    in_release(c);
    nes_buf_free(&c->out);
    free(c);
    atomic_fetch_sub(&s->open, 1);
}

int nes_conn_open(nes_conn_env *env, int fd)
{
    nes_server *s = env->s;
    nes_conn *c = calloc(1, sizeof(*c));
    if (c == NULL || gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
        free(c);
        close(fd);
        return -1;
    }
    c->env = env;
    c->io = (nes_io){.fd = fd, .cb = conn_cb};
    c->timer.cb = timer_cb;
    static const gnutls_datum_t alpn = {(unsigned char *)"http/1.1", 8};
    if (gnutls_priority_set(c->tls, s->prio) < 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, s->xcred) < 0 ||
        gnutls_alpn_set_protocols(c->tls, &alpn, 1, 0) < 0) {
        gnutls_deinit(c->tls);
        free(c);
        close(fd);
        return -1;
    }
    if (s->client_ca_pem != NULL)
        gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_REQUEST);
    gnutls_session_set_ptr(c->tls, c);
    nes_tls_enable_tickets(c->tls);
    nes_tlsio_attach(&c->tio, c->tls, fd);
    if (nes_loop_add(env->loop, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0) {
        gnutls_deinit(c->tls);
        nes_tlsio_closed(&c->tio);
        free(c);
        close(fd);
        return -1;
    }
    c->next = env->first;
    if (env->first != NULL)
        env->first->prev = c;
    env->first = c;
    env->count++;
    atomic_fetch_add(&s->open, 1);
    c->ph = s->cfg->proxy_protocol ? PH_PREFACE : PH_HANDSHAKE;
    c->head_t0 = nes_loop_now(env->loop);
    set_deadline(c, s->cfg->header_timeout_secs);
    return 0;
}

/* The certificate callback (installed on the server's credentials): GnuTLS asks during the
 * handshake. The connection keeps a reference to the set until it closes (GnuTLS does not copy
 * the chain or the key), so a reload never pulls a key from under a session. */
int nes_conn_cert_callback(gnutls_session_t session, const struct gnutls_cert_retr_st *info,
                           gnutls_pcert_st **certs, unsigned int *ncerts,
                           gnutls_ocsp_data_st **ocsp, unsigned int *nocsp, gnutls_privkey_t *key,
                           unsigned int *flags)
{
    (void)info;
    *ocsp = NULL;
    *nocsp = 0;
    *flags = 0;
    nes_conn *c = gnutls_session_get_ptr(session);
    if (c == NULL)
        return -1;
    if (c->creds == NULL)
        c->creds = nes_tls_acquire();
    if (c->creds == NULL)
        return -1;
    nes_creds_get(c->creds, certs, ncerts, key);
    return 0;
}

static bool idle(const nes_conn *c)
{
    return c->ph == PH_HEAD && !c->in_request && c->in_off == c->in_len && c->out_off == c->out.len;
}

void nes_conns_close_idle(nes_conn_env *env)
{
    for (nes_conn *c = env->first, *n; c != NULL; c = n) {
        n = c->next;
        if (idle(c))
            conn_close(c);
    }
}

void nes_conns_close_all(nes_conn_env *env)
{
    for (nes_conn *c = env->first, *n; c != NULL; c = n) {
        n = c->next;
        conn_close(c);
    }
    nes_proxy_env_free(env->proxy);
    env->proxy = NULL;
    nes_routes_thread_end();
    while (env->in_pooled > 0)
        free(env->in_pool[--env->in_pooled]);
    while (env->out_pooled > 0)
        free(env->out_pool[--env->out_pooled]);
}

static void timer_cb(nes_loop *loop, nes_timer *t)
{
    (void)loop;
    nes_conn *c = (nes_conn *)((char *)t - offsetof(nes_conn, timer));
    conn_close(c);
}

/* ---- output ----------------------------------------------------------------------------- */

static int header(nes_buf *b, const char *name, const char *value)
{
    return nes_h1_write_header(b, (nes_h1_str){name, strlen(name)},
                               (nes_h1_str){value, strlen(value)});
}

/* Appends a string constant (no terminating NUL) to a buffer that has the room reserved. */
#define PUT_LIT(b, lit) put_raw((b), (lit), sizeof(lit) - 1)

static void put_raw(nes_buf *b, const char *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Serialises `resp` behind what is already queued; frees its body. `head_only`: a HEAD request
 * (the length is announced, no body sent). An HTTP/1.0 client that asked for keep-alive is told
 * it got it. The usual head (status 200, JSON, no extra header) is copied from constants and the
 * per-second Date string without the writers' checks (nothing in it comes from a request); any
 * other status, content type, Allow or Retry-After goes through the checked writers. */
static void queue_response(nes_conn *c, nes_response *resp, bool head_only, bool keep_alive)
{
    nes_server *s = c->env->s;
    bool close = resp->close || !keep_alive || atomic_load(&s->draining);
    static const char fixed[] = "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n";
    size_t body = head_only ? 0 : resp->body.len;
    out_take(c);
    nes_buf *b = &c->out;
    size_t mark = b->len;
    int rc = nes_buf_reserve(b, 320 + body);
    if (rc == 0 && resp->status == 200)
        PUT_LIT(b, "HTTP/1.1 200 OK\r\n");
    else if (rc == 0)
        rc = nes_h1_write_status_line(b, 1, (int)resp->status, NULL);
    if (rc == 0) {
        const char *date = nes_conn_date(c->env);
        PUT_LIT(b, "Date: ");
        put_raw(b, date, strlen(date));
        PUT_LIT(b, "\r\n");
        if (resp->content_type == NULL || strcmp(resp->content_type, "application/json") == 0)
            PUT_LIT(b, "Content-Type: application/json\r\n");
        else
            rc = header(b, "Content-Type", resp->content_type);
    }
    if (rc == 0) {
        PUT_LIT(b, "Content-Length: ");
        size_t digits = 1;
        for (uint64_t v = resp->body.len; v >= 10; v /= 10)
            digits++;
        char *d = (char *)b->data + b->len + digits; /* written in place, last digit first */
        uint64_t v = resp->body.len;
        do
            *--d = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        b->len += digits;
        PUT_LIT(b, "\r\n");
        put_raw(b, fixed, sizeof(fixed) - 1);
    }
    if (rc != 0 || (resp->allow != NULL && header(b, "Allow", resp->allow) != 0) ||
        (resp->retry_after != NULL && header(b, "Retry-After", resp->retry_after) != 0) ||
        (close && header(b, "Connection", "close") != 0) ||
        (!close && c->head.h.minor_version == 0 && header(b, "Connection", "keep-alive") != 0) ||
        nes_h1_write_end(b) != 0 || nes_buf_append(b, resp->body.data, body) != 0) {
        b->len = mark; /* out of memory: the connection goes, nothing half-written */
        close = true;
    }
    nes_routes_body_done(&resp->body);
    if (close)
        c->close_after_write = true;
}

typedef enum io_rc { IO_OK, IO_AGAIN, IO_CLOSED } io_rc;

/* Hands the queued output to GnuTLS until it is all sent or the socket is full. */
static io_rc flush(nes_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t r = gnutls_record_send(c->tls, c->out.data + c->out_off, c->out.len - c->out_off);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            c->write_blocked = true;
            return IO_AGAIN;
        }
        if (r < 0)
            return IO_CLOSED;
        c->out_off += (size_t)r;
    }
    c->write_blocked = false;
    /* Sent: the bytes may hold plaintext (decrypt answers); wipe what was used. */
    if (c->out.len > 0)
        explicit_bzero(c->out.data, c->out.len);
    c->out.len = c->out_off = 0;
    if (c->ph != PH_PROXY) /* proxy mode streams into it: keep it for the exchange */
        out_release(c);
    return IO_OK;
}

static void start_linger(nes_conn *c)
{
    c->ph = PH_LINGER;
    gnutls_bye(c->tls, GNUTLS_SHUT_WR); /* best effort: the close_notify alert */
    shutdown(c->io.fd, SHUT_WR);
    nes_timer_set(c->env->loop, &c->timer, nes_loop_now(c->env->loop) + LINGER_MS);
}

/* Linger: read and drop until EOF, error or the deadline. */
static void linger(nes_conn *c)
{
    char sink[4096];
    for (;;) {
        ssize_t r = recv(c->io.fd, sink, sizeof(sink), 0);
        if (r > 0)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_close(c);
        return;
    }
}

/* ---- input ------------------------------------------------------------------------------ */

/* Reads decrypted bytes into `dst`. >0 bytes, or IO_AGAIN / IO_CLOSED as a negative. */
static ssize_t tls_read(nes_conn *c, uint8_t *dst, size_t cap)
{
    /* the usual end of a request: everything read and decrypted, the socket known empty (the
     * pull would say EAGAIN; GnuTLS would allocate a record buffer to hear it) */
    if (nes_tlsio_known_empty(&c->tio) && gnutls_record_check_pending(c->tls) == 0)
        return -(ssize_t)IO_AGAIN;
    for (int retries = 0;; retries++) {
        c->tio.drained = false;
        ssize_t r = gnutls_record_recv(c->tls, dst, cap);
        if (r > 0)
            return r;
        /* AGAIN after a post-handshake message with records still unread: go on reading. The
         * retries are bounded so a peer cannot keep the worker here. */
        if (r == GNUTLS_E_AGAIN && (c->tio.drained || retries >= 8))
            return -(ssize_t)IO_AGAIN;
        if (r == 0 || gnutls_error_is_fatal((int)r) || retries >= 8)
            return -(ssize_t)IO_CLOSED;
        /* interrupted, a warning alert, a refused renegotiation: read on */
    }
}

/* Reads more of a head into the input buffer. */
static io_rc fill_in(nes_conn *c)
{
    if (c->in == NULL && (c->in = in_take(c->env)) == NULL)
        return IO_CLOSED;
    if (c->in_off > 0 && c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
        c->head.scan = 0;
    } else if (c->in_off > 0) {
        /* a pipelined head starts mid-buffer: move it to the front */
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
        c->head.scan = 0;
    }
    if (c->in_len == IN_CAP)
        return IO_OK; /* full: the caller decides (head too large) */
    bool first = c->in_len == c->in_off;
    ssize_t r = tls_read(c, c->in + c->in_len, IN_CAP - c->in_len);
    if (r < 0)
        return (io_rc)(-r);
    c->in_len += (size_t)r;
    if (c->in_len > c->in_hi)
        c->in_hi = c->in_len;
    if (first && c->idle_wait) {
        /* the header deadline runs from now; it is armed only if the head stays incomplete
         * (read_head): a request that arrives whole costs no timer operation */
        c->idle_wait = false;
        c->head_t0 = nes_loop_now(c->env->loop);
    }
    return IO_OK;
}

/* ---- the request cycle ------------------------------------------------------------------ */

typedef enum step {
    ST_MORE,     /* progress made; call again */
    ST_NEED_IN,  /* needs more input */
    ST_CLOSE,    /* close now (no answer possible) */
    ST_ANSWERED, /* an answer was queued */
    ST_WAIT,     /* a forwarded request's answer streams from its exchange (PH_PROXY) */
} step;

static void refuse(nes_conn *c, unsigned status, const char *reason, size_t offset)
{
    nes_response resp = {0};
    nes_routes_refused(c->env->s, NULL, NULL, status, reason, offset, &resp);
    queue_response(c, &resp, false, false);
    c->close_after_write = true;
}

/* ---- proxy mode: the exchange's sink (proxy_mode.h) ------------------------------------ */

static nes_buf *sink_out(void *owner)
{
    return &((nes_conn *)owner)->out;
}

static size_t sink_pending(void *owner)
{
    nes_conn *c = owner;
    return c->out.len - c->out_off;
}

static void sink_kick(void *owner)
{
    nes_conn *c = owner;
    nes_loop_defer(c->env->loop, &c->io);
}

static bool sink_closing(void *owner)
{
    nes_conn *c = owner;
    return atomic_load(&c->env->s->draining);
}

/* The request is done (answered or forwarded): wait for the next one. */
static void request_finished(nes_conn *c)
{
    end_request(c);
    c->ph = PH_HEAD;
    c->idle_wait = true;
    set_deadline(c, c->env->s->cfg->idle_timeout_secs);
}

static void forward_ended(nes_conn *c, unsigned status, bool head_sent, const char *why,
                          uint64_t bytes_out, bool close_client)
{
    nes_response resp = {0};
    nes_routes_forwarded(c->env->s, &c->req, &c->rctx, status, head_sent, why, bytes_out, &resp);
    if (!head_sent)
        queue_response(c, &resp, c->head.is_head_method, c->head.keep_alive);
    else if (close_client || !c->head.keep_alive || atomic_load(&c->env->s->draining))
        c->close_after_write = true;
    request_finished(c);
    nes_loop_defer(c->env->loop, &c->io);
}

static void sink_done(void *owner, const nes_upx_result *r)
{
    nes_conn *c = owner;
    c->upx = NULL;
    forward_ended(c, (unsigned)r->status, r->head_sent, r->error, r->bytes_out, r->close_client);
}

/* Hands the transformed body in `resp` to an upstream exchange (the answer streams from it). */
static void start_forward(nes_conn *c, nes_response *resp)
{
    nes_server *s = c->env->s;
    nes_buf_free(&c->body); /* the original body (plaintext) is no longer needed */
    const char *ep = s->cfg->upstream != NULL ? s->cfg->upstream : c->peer.ret;
    if (ep[0] == '\0') {
        nes_routes_body_done(&resp->body);
        forward_ended(c, 502, false, "no upstream endpoint", 0, false);
        return;
    }
    if (c->env->proxy == NULL)
        c->env->proxy = nes_proxy_env_new(c->env->loop, UPSTREAM_IDLE_MS);
    if (!s->cfg->proxy_protocol) /* else the header named the client (or nobody) */
        nes_proxy_peer_from_socket(c->io.fd, &c->peer);
    nes_upx_req ureq = {.endpoint = ep,
                        .method = c->head.h.method,
                        .client_minor = c->head.h.minor_version,
                        .client_keep_alive = c->head.keep_alive,
                        .timeout_secs = s->cfg->upstream_timeout_secs,
                        .client_timeout_secs = s->cfg->request_timeout_secs,
                        .allow_names = s->cfg->upstream != NULL};
    char tp[NES_TRACEPARENT_LEN + 1];
    nes_upx_req_trace(&ureq, &c->rctx.span, tp);
    if (c->env->proxy == NULL ||
        nes_h1_forward_request_head_tp(&ureq.bytes, &c->head.h, c->peer.client, resp->body.len,
                                       tp) != 0 ||
        nes_buf_append(&ureq.bytes, resp->body.data, resp->body.len) != 0) {
        nes_buf_free(&ureq.bytes);
        nes_routes_body_done(&resp->body);
        forward_ended(c, 502, false, "resources", 0, false);
        return;
    }
    nes_routes_body_done(&resp->body);
    static const nes_upx_sink sink = {.out = sink_out,
                                      .pending = sink_pending,
                                      .kick = sink_kick,
                                      .closing = sink_closing,
                                      .done = sink_done};
    nes_upx_sink mine = sink;
    mine.owner = c;
    int status;
    const char *why;
    c->upx = nes_upx_start(c->env->proxy, &ureq, &mine, &status, &why);
    if (c->upx == NULL) {
        forward_ended(c, (unsigned)status, false, why, 0, false);
        return;
    }
    c->ph = PH_PROXY;
    nes_timer_stop(c->env->loop, &c->timer); /* the exchange keeps the time now */
}

/* PH_PROXY: send what the exchange queued; let it read on once the output drained. */
static void proxy_run(nes_conn *c)
{
    if (c->out_off < c->out.len) {
        io_rc w = flush(c);
        if (w == IO_CLOSED) {
            conn_close(c);
            return;
        }
    }
    if (c->upx != NULL && c->out.len - c->out_off < NES_UPX_HIGH / 2)
        nes_upx_resume(c->upx);
}

/* Answers the request with `body` (the collected body, or the one still in the input buffer). */
static void answer_body(nes_conn *c, const uint8_t *body, size_t body_len)
{
    nes_response resp = {0};
    c->req.body = body;
    c->req.body_len = body_len;
    nes_routes_respond(c->env->s, &c->req, &c->rctx, c->too_large, &resp);
    if (resp.forward) {
        start_forward(c, &resp);
        return;
    }
    queue_response(c, &resp, c->head.is_head_method, c->head.keep_alive);
    end_request(c);
    c->ph = PH_HEAD;
    c->idle_wait = true;
    set_deadline(c, c->env->s->cfg->idle_timeout_secs);
}

static void answer(nes_conn *c)
{
    answer_body(c, c->body.data, c->body.len);
}

static step begin_request(nes_conn *c, size_t head_len)
{
    nes_server *s = c->env->s;
    c->head_len = head_len;
    c->in_off = head_len;
    c->in_request = true;
    c->req = (nes_request){
        .method = c->head.method,
        .target = c->head.target,
        .header = nes_reqhead_header,
        .head = &c->head,
        .tls = c->tls,
        .t0_us = nes_now_us(),
        .content_length = c->head.chunked ? -1 : (int64_t)c->head.content_length,
        .client = c->peer.client[0] != '\0' ? c->peer.client : NULL,
    };
    /* The request deadline matters only while the body is awaited: armed below when it is not
     * all buffered yet (a request answered now moves straight on to the idle deadline). */
    int64_t req_t0 = nes_loop_now(c->env->loop);
    nes_response resp = {0};
    nes_routes_next next = nes_routes_begin(s, &c->req, c->head.expect_continue, &c->rctx, &resp);
    if (next == NES_ROUTES_ANSWER_NOW) {
        queue_response(c, &resp, c->head.is_head_method, false);
        end_request(c);
        c->close_after_write = true;
        return ST_ANSWERED;
    }
    c->discard = next == NES_ROUTES_DISCARD_BODY;
    c->body = (nes_buf){.max = s->cfg->max_body_bytes};
    if (!c->head.chunked && !c->discard && c->head.content_length > 0 &&
        c->head.content_length <= c->in_len - c->in_off &&
        c->head.content_length <= s->cfg->max_body_bytes) {
        /* the whole body came with the head (the usual request): answered from the input
         * buffer, no copy (the buffer is wiped when it goes back to the pool) */
        const uint8_t *body = c->in + c->in_off;
        size_t n = (size_t)c->head.content_length;
        c->req.bytes_in += n;
        c->in_off += n;
        c->remaining = 0;
        answer_body(c, body, n);
        return ST_ANSWERED;
    }
    if (c->head.chunked) {
        nes_chunks_init(&c->chunked);
    } else {
        c->remaining = c->head.content_length;
        if (!c->discard && c->remaining > 0 && nes_buf_reserve(&c->body, c->remaining) != 0)
            return ST_CLOSE; /* out of memory */
    }
    if (!c->head.chunked && c->remaining == 0) {
        answer(c);
        return ST_ANSWERED;
    }
    if (c->head.chunked || c->remaining > c->in_len - c->in_off)
        nes_timer_set(c->env->loop, &c->timer,
                      req_t0 + (int64_t)s->cfg->request_timeout_secs * 1000);
    if (c->head.expect_continue && c->in_off == c->in_len && !c->discard) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (nes_buf_append(&c->out, cont, sizeof(cont) - 1) != 0)
            return ST_CLOSE;
    }
    c->ph = PH_BODY;
    return ST_MORE;
}

static step read_head(nes_conn *c)
{
    if (c->in_off == c->in_len)
        return ST_NEED_IN;
    if (c->in_off > 0) {
        /* a pipelined head: parse it at the front of the buffer */
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
        c->head.scan = 0;
    }
    nes_refusal why;
    long r = nes_reqhead_parse(&c->head, (char *)c->in, c->in_len, &why);
    if (r > 0)
        return begin_request(c, (size_t)r);
    if (r < 0) {
        refuse(c, why.status, why.reason, why.offset);
        return ST_ANSWERED;
    }
    /* incomplete: the header deadline runs from the head's first byte */
    if (c->idle_wait) {
        c->idle_wait = false;
        c->head_t0 = nes_loop_now(c->env->loop);
    }
    nes_timer_set(c->env->loop, &c->timer,
                  c->head_t0 + (int64_t)c->env->s->cfg->header_timeout_secs * 1000);
    return ST_NEED_IN;
}

/* Adds decoded body bytes (or drops them when discarding). false: over the discard bound. */
static bool take_body(nes_conn *c, const uint8_t *p, size_t n)
{
    nes_server *s = c->env->s;
    c->req.bytes_in += n;
    if (c->discard || c->too_large)
        return c->req.bytes_in <= s->cfg->max_body_bytes * NES_ROUTES_DISCARD_FACTOR;
    if (nes_buf_append(&c->body, p, n) != 0) {
        nes_buf_free(&c->body);
        c->too_large = true;
        return c->req.bytes_in <= s->cfg->max_body_bytes * NES_ROUTES_DISCARD_FACTOR;
    }
    return true;
}

static step read_length_body(nes_conn *c)
{
    size_t have = c->in_len - c->in_off;
    if (have > 0) {
        size_t n = have < c->remaining ? have : (size_t)c->remaining;
        take_body(c, c->in + c->in_off, n);
        c->in_off += n;
        c->remaining -= n;
    }
    while (c->remaining > 0) {
        uint8_t *dst;
        size_t cap;
        if (!c->discard && c->body.data != NULL) {
            dst = c->body.data + c->body.len; /* straight into the body */
            cap = (size_t)c->remaining;
        } else {
            if (c->in == NULL && (c->in = in_take(c->env)) == NULL)
                return ST_CLOSE;
            c->in_off = c->in_len = c->head_len;
            dst = c->in + c->in_len;
            cap = IN_CAP - c->in_len;
            if (cap > c->remaining)
                cap = (size_t)c->remaining;
        }
        ssize_t r = tls_read(c, dst, cap);
        if (r == -(ssize_t)IO_AGAIN)
            return ST_NEED_IN;
        if (r < 0)
            return ST_CLOSE;
        c->remaining -= (size_t)r;
        if (dst == c->body.data + c->body.len) {
            c->body.len += (size_t)r;
            c->req.bytes_in += (size_t)r;
        } else {
            c->req.bytes_in += (size_t)r;
            if (c->in_len + (size_t)r > c->in_hi) /* dropped bytes, still to be wiped */
                c->in_hi = c->in_len + (size_t)r;
        }
    }
    answer(c);
    return ST_ANSWERED;
}

/* A chunked body the codec refused: the request is answered with the refusal, then close. */
static step chunks_refused(nes_conn *c, const nes_refusal *why)
{
    nes_response resp = {0};
    nes_routes_refused(c->env->s, &c->req, &c->rctx, why->status, why->reason, (size_t)-1, &resp);
    end_request(c);
    queue_response(c, &resp, false, false);
    c->close_after_write = true;
    return ST_ANSWERED;
}

static step read_chunked_body(nes_conn *c)
{
    for (;;) {
        if (c->in_off < c->in_len) {
            size_t used = 0, dlen = 0;
            uint8_t *data = c->in + c->in_off; /* decoded in place */
            nes_refusal why;
            int r = nes_chunks_step(&c->chunked, data, c->in_len - c->in_off, &used, &dlen, &why);
            c->in_off += used;
            if (r < 0)
                return chunks_refused(c, &why);
            if (dlen > 0 && !take_body(c, data, dlen)) {
                /* far over the limit: the known answer (or 413) now, then close */
                c->head.keep_alive = false;
                answer(c);
                c->close_after_write = true;
                return ST_ANSWERED;
            }
            if (r == 1) {
                answer(c);
                return ST_ANSWERED;
            }
            if (used > 0 && c->in_off < c->in_len)
                continue;
        }
        /* need more input: keep the head, reuse the rest of the buffer */
        if (c->in_off == c->in_len) {
            c->in_off = c->in_len = c->head_len;
        } else if (c->in_off > c->head_len) {
            memmove(c->in + c->head_len, c->in + c->in_off, c->in_len - c->in_off);
            c->in_len -= c->in_off - c->head_len;
            c->in_off = c->head_len;
        }
        if (c->in_len == IN_CAP) {
            nes_refusal why = {.status = 400, .reason = "a chunk line is too long"};
            return chunks_refused(c, &why);
        }
        ssize_t r = tls_read(c, c->in + c->in_len, IN_CAP - c->in_len);
        if (r == -(ssize_t)IO_AGAIN)
            return ST_NEED_IN;
        if (r < 0)
            return ST_CLOSE;
        c->in_len += (size_t)r;
        if (c->in_len > c->in_hi)
            c->in_hi = c->in_len;
    }
}

static step advance(nes_conn *c)
{
    switch (c->ph) {
    case PH_HEAD:
        return read_head(c);
    case PH_BODY:
        return c->head.chunked ? read_chunked_body(c) : read_length_body(c);
    case PH_PROXY:
        return ST_WAIT;
    default:
        return ST_CLOSE;
    }
}

static bool handshake(nes_conn *c)
{
    int r, spurious = 0;
    do {
        c->tio.drained = false;
        r = gnutls_handshake(c->tls);
    } while (r < 0 && ((r == GNUTLS_E_AGAIN && !c->tio.drained &&
                        gnutls_record_get_direction(c->tls) == 0 && ++spurious < 8) ||
                       (r != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(r))));
    if (r == GNUTLS_E_AGAIN)
        return false;
    if (r < 0) {
        conn_close(c);
        return false;
    }
    c->ph = PH_HEAD;
    return true;
}

/* Runs the connection until it waits for the socket, closes or used its share of the wakeup. */
static void conn_run(nes_conn *c)
{
    if (c->ph == PH_PREFACE) {
        int r = nes_proxy_preface(c->io.fd, &c->peer);
        if (r == 0)
            return;
        if (r < 0 ||
            (c->env->s->cfg->upstream == NULL &&
             !nes_proxy_return_allowed(c->io.fd, &c->peer, &c->env->s->cfg->return_allow))) {
            conn_close(c);
            return;
        }
        c->ph = PH_HANDSHAKE;
    }
    if (c->ph == PH_HANDSHAKE && !handshake(c))
        return;
    if (c->ph == PH_PROXY) {
        proxy_run(c);
        return;
    }
    if (c->ph == PH_LINGER) {
        linger(c);
        return;
    }
    for (int answered = 0;;) {
        if (c->out_off < c->out.len &&
            (c->write_blocked || c->close_after_write || c->out.len >= OUT_FLUSH_AT)) {
            io_rc w = flush(c);
            if (w == IO_AGAIN)
                return;
            if (w == IO_CLOSED) {
                conn_close(c);
                return;
            }
        }
        if (c->close_after_write) {
            if (c->out_off < c->out.len)
                continue;
            start_linger(c);
            linger(c);
            return;
        }
        if (answered >= REQUESTS_PER_WAKEUP) {
            io_rc w = flush(c);
            if (w == IO_CLOSED)
                conn_close(c);
            else if (w == IO_OK)
                nes_loop_defer(c->env->loop, &c->io);
            return;
        }
        step st = advance(c);
        if (st == ST_ANSWERED) {
            answered++;
            continue;
        }
        if (st == ST_CLOSE) {
            conn_close(c);
            return;
        }
        if (st == ST_MORE)
            continue;
        if (st == ST_WAIT) {
            proxy_run(c);
            return;
        }
        /* ST_NEED_IN: send what is queued before waiting, then read */
        if (c->out_off < c->out.len) {
            io_rc w = flush(c);
            if (w == IO_CLOSED) {
                conn_close(c);
                return;
            }
        }
        if (c->ph == PH_BODY) {
            /* the body readers read until EAGAIN themselves */
            return;
        }
        io_rc r = fill_in(c);
        if (r == IO_AGAIN) {
            if (!c->in_request && c->in_off == c->in_len)
                in_release(c); /* between requests: the buffer goes back to the worker */
            return;
        }
        if (r == IO_CLOSED) {
            conn_close(c);
            return;
        }
    }
}

static void conn_cb(nes_loop *loop, nes_io *io, uint32_t events)
{
    (void)loop;
    nes_conn *c = (nes_conn *)io;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        nes_tlsio_readable(&c->tio);
    conn_run(c);
}
