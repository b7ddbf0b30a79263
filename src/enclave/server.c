/* server.c - daemon setup, acceptor, connection and certificate callbacks (see server.h). */
#include "enclave/server.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "enclave/conns.h"
#include "enclave/log.h"
#include "enclave/tls.h"
#include "enclave/tlsio.h"

/* ---- callbacks -------------------------------------------------------------------------- */

__attribute__((format(printf, 2, 0))) static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (!nes_log_enabled(NES_LOG_DEBUG))
        return;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_DEBUG, "http layer");
    nes_logline_str(&l, "detail", msg);
    nes_logline_emit(&l);
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    nes_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fdi =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        int fd = fdi ? fdi->connect_fd : -1;
        int64_t deadline = nes_now_ms() + (int64_t)s->cfg->header_timeout_secs * 1000;
        *socket_context = nes_conns_started(fd, deadline);
        const union MHD_ConnectionInfo *ti =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (ti != NULL && ti->tls_session != NULL) {
            nes_tls_enable_tickets((gnutls_session_t)ti->tls_session);
            if (*socket_context != NULL)
                nes_tlsio_attach((gnutls_session_t)ti->tls_session, fd);
        }
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        nes_conns_closed(*socket_context);
        *socket_context = NULL;
    }
}

/* GnuTLS asks for the certificate during the handshake. The connection keeps a reference to
 * the set it was given until it closes (GnuTLS does not copy the chain or the key). */
static int cert_callback(gnutls_session_t session, const struct gnutls_cert_retr_st *info,
                         gnutls_pcert_st **certs, unsigned int *ncerts, gnutls_ocsp_data_st **ocsp,
                         unsigned int *nocsp, gnutls_privkey_t *key, unsigned int *flags)
{
    (void)info;
    *ocsp = NULL;
    *nocsp = 0;
    *flags = 0;
    struct MHD_Connection *conn = gnutls_session_get_ptr(session);
    nes_conn *rec = NULL;
    if (conn != NULL) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        rec = ci ? (nes_conn *)ci->socket_context : NULL;
    }
    if (rec == NULL)
        return -1;
    if (rec->creds == NULL)
        rec->creds = nes_tls_acquire();
    if (rec->creds == NULL)
        return -1;
    nes_creds_get(rec->creds, certs, ncerts, key);
    return 0;
}

/* ---- acceptor --------------------------------------------------------------------------- */

/* The step between accept() and TLS: today it only tunes the socket. The sidecar issue reads
 * the PROXY v2 header here (non-blocking, with a deadline) and returns the client address it
 * names; until then the peer address is the client address. */
static int accept_preface(int fd, struct sockaddr_storage *addr, socklen_t *addr_len)
{
    (void)addr_len;
    if (addr->ss_family == AF_INET || addr->ss_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return 0;
}

static void accept_ready(nes_server *s)
{
    for (;;) {
        struct sockaddr_storage addr = {0};
        socklen_t len = sizeof(addr);
        int fd =
            accept4(s->listen_fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                nes_log(NES_LOG_WARN, "accept: out of descriptors or memory, pausing");
                struct timespec ts = {0, 50000000L};
                nanosleep(&ts, NULL);
            }
            return; /* EAGAIN or transient */
        }
        if (nes_conns_open() >= (long)s->cfg->max_connections || nes_conns_get(fd) == NULL) {
            atomic_fetch_add(&s->rejected, 1);
            close(fd);
            continue;
        }
        if (len == 0 || addr.ss_family == AF_UNIX) {
            /* MHD wants an address: give Unix peers an IPv4 loopback placeholder. */
            struct sockaddr_in *in = (struct sockaddr_in *)&addr;
            memset(&addr, 0, sizeof(addr));
            in->sin_family = AF_INET;
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            len = sizeof(*in);
        }
        if (accept_preface(fd, &addr, &len) != 0) {
            close(fd);
            continue;
        }
        /* MHD owns the fd from here, even when it refuses it. */
        if (MHD_add_connection(s->daemon, fd, (struct sockaddr *)&addr, len) != MHD_YES)
            atomic_fetch_add(&s->rejected, 1);
    }
}

static void *acceptor_main(void *arg)
{
    nes_server *s = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s->listen_fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, s->listen_fd, &ev);
    ev.data.fd = s->stop_fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, s->stop_fd, &ev);
    for (;;) {
        struct epoll_event got[2];
        int n = epoll_wait(ep, got, 2, -1);
        if (n < 0 && errno != EINTR)
            break;
        bool stop = false;
        for (int i = 0; i < n; i++) {
            if (got[i].data.fd == s->stop_fd)
                stop = true;
            else
                accept_ready(s);
        }
        if (stop)
            break;
    }
    close(ep);
    return NULL;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

int nes_server_start(nes_server *s, const nes_config *cfg, char *why, size_t why_len)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    s->listen_fd = s->stop_fd = -1;
    if (nes_conns_init() != 0) {
        snprintf(why, why_len, "out of memory for the connection table");
        return -1;
    }
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

    s->listen_fd = nes_endpoint_listen(&cfg->listen_ep, 4096, why, why_len);
    if (s->listen_fd < 0)
        return -1;
    s->bound_port = nes_endpoint_bound_port(s->listen_fd);

    unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem ops[16];
    int i = 0;
    ops[i++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->worker_threads, NULL};
    ops[i++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL};
    ops[i++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_secs, NULL};
    ops[i++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32768, NULL};
    ops[i++] =
        (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)nes_routes_completed, s};
    ops[i++] =
        (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection, s};
    ops[i++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, NULL};
    ops[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, cfg->tls_priorities};
    ops[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK2, 0, (void *)cert_callback};
    if (s->client_ca_pem != NULL)
        ops[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->client_ca_pem};
    ops[i++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, nes_routes_handle, s, MHD_OPTION_ARRAY, ops,
                                 MHD_OPTION_END);
    if (s->daemon == NULL) {
        snprintf(why, why_len, "the HTTP daemon did not start (TLS priorities or options)");
        return -1;
    }
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd < 0 || pthread_create(&s->acceptor, NULL, acceptor_main, s) != 0) {
        snprintf(why, why_len, "cannot start the acceptor thread");
        return -1;
    }
    s->acceptor_running = true;
    return 0;
}

void nes_server_stop_accepting(nes_server *s)
{
    if (s->acceptor_running) {
        uint64_t one = 1;
        if (write(s->stop_fd, &one, sizeof(one)) < 0)
            nes_log(NES_LOG_WARN, "cannot wake the acceptor");
        pthread_join(s->acceptor, NULL);
        s->acceptor_running = false;
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
        if (s->cfg->listen_ep.kind == NES_EP_UNIX)
            unlink(s->cfg->listen_ep.path);
    }
}

long nes_server_drain(nes_server *s, int64_t grace_ms)
{
    atomic_store(&s->draining, true);
    int64_t end = nes_now_ms() + grace_ms;
    while (atomic_load(&s->inflight) > 0 && nes_now_ms() < end) {
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&s->inflight);
}

void nes_server_stop(nes_server *s)
{
    nes_server_stop_accepting(s);
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    s->stop_fd = -1;
    free(s->client_ca_pem);
    s->client_ca_pem = NULL;
    nes_conns_free();
}
