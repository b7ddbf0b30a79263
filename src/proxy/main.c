/* main.c - nitro-enc-proxy: the pod sidecar (ingress) and the parent's egress proxy.
 *
 *   ingress  client TCP -> enclave endpoint, a PROXY v2 header first (client address, and the
 *            return endpoint in TLV 0xE0); the return listener -> MAIN_APP_ADDR
 *   egress   enclave -> one fixed UPSTREAM, or CONNECT host:port checked against ALLOWLIST
 *
 * Both are listeners of one relay engine (src/net/relay.h); this file wires configuration,
 * callbacks, logs and signals. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "net/proxyv2.h"
#include "net/relay.h"
#include "obs/log.h"
#include "obs/otel/export.h"
#include "proxy/config.h"
#include "proxy/connect.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: nitro-enc-proxy ingress|egress [--check-config] [--help] [--version]\n"
            "  ingress   pod sidecar: TCP from clients to the enclave (PROXY v2 header first),\n"
            "            and the enclave's return connections to MAIN_APP_ADDR\n"
            "  egress    parent instance: the enclave's way out, to one UPSTREAM or through\n"
            "            CONNECT host:port limited to the ALLOWLIST file\n"
            "  --check-config  print the effective configuration and exit (2 on a problem)\n"
            "  --print-config-reference  print every setting as Markdown and exit\n"
            "settings are environment variables: docs/configuration.md\n");
}

/* ---- peer addresses for log lines ------------------------------------------------------------ */

static void peer_name(int fd, char *out, size_t len)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    snprintf(out, len, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    char ip[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        snprintf(out, len, "%s:%u", inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip)),
                 (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        snprintf(out, len, "[%s]:%u", inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip)),
                 (unsigned)ntohs(a->sin6_port));
    } else if (ss.ss_family == AF_VSOCK) {
        snprintf(out, len, "vsock:%u", ((struct sockaddr_vm *)&ss)->svm_cid);
    } else if (ss.ss_family == AF_UNIX) {
        snprintf(out, len, "unix");
    }
}

/* ---- ingress: the PROXY v2 preface ----------------------------------------------------------- */

typedef struct ingress_ctx {
    char advertise[300];
    size_t advertise_len;
} ingress_ctx;

static int ingress_preface(void *ctx, int client, uint8_t *out, size_t cap)
{
    const ingress_ctx *ic = ctx;
    struct sockaddr_storage src, dst;
    socklen_t sl = sizeof(src), dl = sizeof(dst);
    if (getpeername(client, (struct sockaddr *)&src, &sl) != 0 ||
        getsockname(client, (struct sockaddr *)&dst, &dl) != 0)
        return -1;
    nes_pp2 h;
    nes_pp2_from_sockaddrs(&h, (struct sockaddr *)&src, (struct sockaddr *)&dst);
    if (nes_pp2_add_tlv(&h, NES_PP2_TYPE_RETURN, ic->advertise, (uint16_t)ic->advertise_len) != 0)
        return -1;
    return nes_pp2_build(&h, out, cap);
}

/* ---- egress: CONNECT with the allowlist ------------------------------------------------------ */

typedef struct egress_ctx {
    const nes_proxy_config *cfg;
} egress_ctx;

static void set_reply(nes_relay_head *out, const char *status)
{
    int n = snprintf(out->reply, sizeof(out->reply),
                     "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
    out->reply_len = n > 0 ? (size_t)n : 0;
}

/* The status line of a refusal (the codec's statuses, 405 and 403). */
static const char *status_line(int status)
{
    switch (status) {
    case 403:
        return "403 Forbidden";
    case 405:
        return "405 Method Not Allowed";
    case 414:
        return "414 URI Too Long";
    case 417:
        return "417 Expectation Failed";
    case 431:
        return "431 Request Header Fields Too Large";
    case 501:
        return "501 Not Implemented";
    case 505:
        return "505 HTTP Version Not Supported";
    default:
        return "400 Bad Request";
    }
}

static void log_refusal(int peer, const char *status, const char *why, size_t offset,
                        const char *host, unsigned port)
{
    char from[80];
    peer_name(peer, from, sizeof(from));
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_WARN, "connect refused");
    nes_logline_str(&l, "peer", from);
    nes_logline_str(&l, "status", status);
    nes_logline_str(&l, "reason", why);
    if (host != NULL) {
        nes_logline_str(&l, "host", host);
        nes_logline_int(&l, "port", port);
    } else {
        nes_logline_int(&l, "offset", (long long)offset);
    }
    nes_logline_emit(&l);
}

static nes_relay_verdict egress_head(void *ctx, int peer, const uint8_t *buf, size_t len,
                                     nes_relay_head *out)
{
    const egress_ctx *ec = ctx;
    nes_connect_req req;
    nes_connect_result rc = nes_connect_parse(buf, len, ec->cfg->head_max, &req);
    if (rc == NES_CONNECT_MORE)
        return NES_RELAY_MORE;
    const char *status = rc == NES_CONNECT_OK ? NULL : status_line(req.status);
    if (status != NULL) {
        log_refusal(peer, status, req.why, req.offset, NULL, 0);
        set_reply(out, status);
        return NES_RELAY_REJECT;
    }
    if (!nes_allowlist_match(&ec->cfg->allow, req.host, strlen(req.host), req.port)) {
        log_refusal(peer, "403 Forbidden", "host:port not in the allowlist", 0, req.host, req.port);
        set_reply(out, "403 Forbidden");
        return NES_RELAY_REJECT;
    }
    out->target.kind = NES_EP_TCP;
    snprintf(out->target.host, sizeof(out->target.host), "%s", req.host);
    out->target.port = req.port;
    out->consumed = req.head_len;
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    memcpy(out->reply, ok, sizeof(ok) - 1);
    out->reply_len = sizeof(ok) - 1;
    static const char bad[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n";
    memcpy(out->fail_reply, bad, sizeof(bad) - 1);
    out->fail_reply_len = sizeof(bad) - 1;
    if (nes_log_enabled(NES_LOG_INFO)) {
        char from[80];
        peer_name(peer, from, sizeof(from));
        nes_logline l;
        nes_logline_begin(&l, NES_LOG_INFO, "connect");
        nes_logline_str(&l, "peer", from);
        nes_logline_str(&l, "host", req.host);
        nes_logline_int(&l, "port", req.port);
        nes_logline_emit(&l);
    }
    return NES_RELAY_GO;
}

/* ---- OTLP export: the relay counters (as on METRICS_ADDR) and the log lines -------------------
 */

static const char *otel_env(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

static int otel_metrics(void *ud, nes_buf *out, const nes_otlp_resource *res, uint64_t start_ns,
                        uint64_t now_ns)
{
    nes_relay_stats st;
    nes_relay_stats_get(ud, &st);
    nes_buf text = {0};
    int rc = nes_relay_format_metrics(&st, "nes_proxy", &text);
    if (rc == 0)
        rc =
            nes_otlp_from_prometheus(out, res, (const char *)text.data, text.len, start_ns, now_ns);
    nes_buf_free(&text);
    return rc;
}

/* ---- metrics: GET /metrics on METRICS_ADDR --------------------------------------------------- */

typedef struct metrics_ctx {
    nes_relay *relay; /* set once the engine runs */
} metrics_ctx;

static nes_relay_verdict metrics_head(void *ctx, int peer, const uint8_t *buf, size_t len,
                                      nes_relay_head *out)
{
    (void)peer;
    metrics_ctx *mc = ctx;
    if (len < 4 || memmem(buf, len, "\r\n\r\n", 4) == NULL)
        return len >= 4096 ? NES_RELAY_REJECT : NES_RELAY_MORE;
    static const char want[] = "GET /metrics ";
    if (len < sizeof(want) - 1 || memcmp(buf, want, sizeof(want) - 1) != 0 || mc->relay == NULL) {
        set_reply(out, "404 Not Found");
        return NES_RELAY_REJECT;
    }
    nes_relay_stats s;
    nes_relay_stats_get(mc->relay, &s);
    nes_buf body = {0};
    if (nes_relay_format_metrics(&s, "nes_proxy", &body) != 0) {
        nes_buf_free(&body);
        set_reply(out, "500 Internal Server Error");
        return NES_RELAY_REJECT;
    }
    char head[160];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     body.len);
    if (n < 0 || nes_buf_append(&out->big_reply, head, (size_t)n) != 0 ||
        nes_buf_append(&out->big_reply, body.data, body.len) != 0) {
        nes_buf_free(&out->big_reply);
        set_reply(out, "500 Internal Server Error");
    }
    nes_buf_free(&body);
    return NES_RELAY_REJECT;
}

/* ---- engine events -> log lines ------------------------------------------------------------- */

static void on_event(void *ctx, const nes_relay_event *ev)
{
    (void)ctx;
    nes_log_level lv = NES_LOG_DEBUG;
    const char *msg = "connection closed";
    if (ev->kind == NES_RELAY_EV_REFUSED) {
        lv = NES_LOG_WARN;
        msg = "connection refused: MAX_CONNECTIONS reached";
    } else if (ev->kind == NES_RELAY_EV_ERROR) {
        switch (ev->err) {
        case NES_RELAY_E_REJECTED:
            return; /* the head step logged it */
        case NES_RELAY_E_RESET:
            lv = NES_LOG_DEBUG;
            msg = "connection reset";
            break;
        case NES_RELAY_E_IDLE:
            lv = NES_LOG_INFO;
            msg = "idle timeout";
            break;
        case NES_RELAY_E_HEAD:
            lv = NES_LOG_WARN;
            msg = "request head incomplete (closed, too slow or too large)";
            break;
        case NES_RELAY_E_DRAIN:
            lv = NES_LOG_INFO;
            msg = "closed at the end of the shutdown grace";
            break;
        case NES_RELAY_E_PREFACE:
            lv = NES_LOG_INFO;
            msg = "client gone before its PROXY header was written";
            break;
        case NES_RELAY_E_RESOURCE:
            lv = NES_LOG_ERROR;
            msg = "out of file descriptors or memory";
            break;
        default:
            lv = NES_LOG_WARN;
            msg = "upstream unavailable";
            break;
        }
    }
    if (!nes_log_enabled(lv))
        return;
    nes_logline l;
    nes_logline_begin(&l, lv, msg);
    nes_logline_str(&l, "listener", ev->listener);
    if (ev->kind == NES_RELAY_EV_ERROR)
        nes_logline_str(&l, "kind", nes_relay_err_name(ev->err));
    if (ev->target != NULL)
        nes_logline_str(&l, "target", ev->target);
    if (ev->sys_errno != 0)
        nes_logline_str(&l, "error", strerror(ev->sys_errno));
    nes_logline_int(&l, "bytes_up", (long long)ev->bytes_up);
    nes_logline_int(&l, "bytes_down", (long long)ev->bytes_down);
    nes_logline_emit(&l);
}

/* ---- wiring ---------------------------------------------------------------------------------- */

/* `ep` with the port the socket actually bound (port 0 asks for any). */
static nes_endpoint bound(const nes_endpoint *ep, int fd)
{
    nes_endpoint b = *ep;
    if (b.kind == NES_EP_TCP) {
        int p = nes_endpoint_bound_port(fd);
        if (p >= 0)
            b.port = (uint16_t)p;
    } else if (b.kind == NES_EP_VSOCK) {
        /* vsock ports picked by the kernel are often above INT_MAX, which
         * nes_endpoint_bound_port cannot return */
        struct sockaddr_vm sa = {0};
        socklen_t len = sizeof(sa);
        if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
            b.vport = sa.svm_port;
    }
    return b;
}

static int open_listener(const char *name, const nes_endpoint *ep, nes_endpoint *actual)
{
    char why[256], uri[NES_EP_HOST_MAX + NES_EP_PATH_MAX + 32];
    nes_endpoint want = *ep;
    if (want.kind == NES_EP_VSOCK && want.vport == 0)
        want.vport = VMADDR_PORT_ANY; /* vsock port 0 is a real port; "any" is -1U */
    int fd = nes_endpoint_listen(&want, 1024, why, sizeof(why));
    if (fd < 0) {
        nes_logline l;
        nes_logline_begin(&l, NES_LOG_ERROR, "cannot listen");
        nes_logline_str(&l, "listener", name);
        nes_logline_str(&l, "reason", why);
        nes_logline_emit(&l);
        return -1;
    }
    *actual = bound(&want, fd);
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_INFO, "listening");
    nes_logline_str(&l, "listener", name);
    nes_logline_str(&l, "endpoint", nes_endpoint_format(actual, uri, sizeof(uri)));
    nes_logline_emit(&l);
    return fd;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void advertise_uri(const nes_proxy_config *cfg, const nes_endpoint *ret, ingress_ctx *ic)
{
    if (cfg->ret_advertise[0] != '\0') {
        snprintf(ic->advertise, sizeof(ic->advertise), "%s", cfg->ret_advertise);
    } else if (ret->kind == NES_EP_VSOCK && ret->cid == NES_EP_VSOCK_ANY) {
        snprintf(ic->advertise, sizeof(ic->advertise), "vsock://3:%u", (unsigned)ret->vport);
    } else {
        nes_endpoint_format(ret, ic->advertise, sizeof(ic->advertise));
    }
    ic->advertise_len = strlen(ic->advertise);
}

int main(int argc, char **argv)
{
    const char *mode_s = NULL;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--print-config-reference") == 0)
            return nes_proxy_config_reference(stdout) == 0 ? 0 : 1;
        if (strcmp(argv[i], "--version") == 0) {
            printf("nitro-enc-proxy %s\n", NES_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--check-config") == 0) {
            check = 1;
        } else if (mode_s == NULL && argv[i][0] != '-') {
            mode_s = argv[i];
        } else {
            fprintf(stderr, "nitro-enc-proxy: unknown argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    nes_proxy_mode mode;
    if (mode_s != NULL && strcmp(mode_s, "ingress") == 0) {
        mode = NES_PROXY_INGRESS;
    } else if (mode_s != NULL && strcmp(mode_s, "egress") == 0) {
        mode = NES_PROXY_EGRESS;
    } else {
        fprintf(stderr, "nitro-enc-proxy: give the mode, ingress or egress\n");
        usage(stderr);
        return 2;
    }
    static nes_proxy_config cfg;
    static nes_proxy_problems pr;
    if (nes_proxy_config_load(&cfg, mode, environ, &pr) != 0) {
        for (int i = 0; i < pr.n; i++)
            fprintf(stderr, "nitro-enc-proxy: %s\n", pr.line[i]);
        nes_proxy_config_free(&cfg);
        return 2;
    }
    if (check) {
        nes_proxy_config_print(&cfg, stdout);
        nes_proxy_config_free(&cfg);
        return 0;
    }
    nes_log_configure(cfg.log_level, 2);
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    nes_relay_listener ls[3];
    size_t nl = 0;
    static ingress_ctx ic;
    static egress_ctx ec;
    static metrics_ctx mc;
    nes_endpoint actual;
    int rc = 1;
    if (mode == NES_PROXY_INGRESS) {
        int fd = open_listener("ingress", &cfg.listen, &actual);
        if (fd < 0)
            goto out;
        ls[nl++] = (nes_relay_listener){.fd = fd,
                                        .target = &cfg.enclave,
                                        .preface = ingress_preface,
                                        .ctx = &ic,
                                        .name = "ingress"};
        fd = open_listener("return", &cfg.ret_listen, &actual);
        if (fd < 0)
            goto out;
        advertise_uri(&cfg, &actual, &ic);
        ls[nl++] = (nes_relay_listener){.fd = fd, .target = &cfg.main_app, .name = "return"};
        nes_log(NES_LOG_INFO, "return endpoint announced in PROXY v2 TLV 0xE0: %s", ic.advertise);
    } else {
        int fd = open_listener("egress", &cfg.listen, &actual);
        if (fd < 0)
            goto out;
        ec.cfg = &cfg;
        ls[nl++] =
            cfg.has_upstream
                ? (nes_relay_listener){.fd = fd, .target = &cfg.upstream, .name = "egress"}
                : (nes_relay_listener){.fd = fd, .head = egress_head, .ctx = &ec, .name = "egress"};
    }
    if (cfg.has_metrics) {
        int fd = open_listener("metrics", &cfg.metrics, &actual);
        if (fd < 0)
            goto out;
        ls[nl++] =
            (nes_relay_listener){.fd = fd, .head = metrics_head, .ctx = &mc, .name = "metrics"};
    }
    nes_relay_opts o = {.threads = cfg.threads,
                        .max_conns = cfg.max_conns,
                        .idle_timeout_ms = cfg.idle_secs * 1000u,
                        .connect_timeout_ms = cfg.connect_secs * 1000u,
                        .head_timeout_ms = cfg.head_secs * 1000u,
                        .buf_bytes = cfg.buf_bytes,
                        .head_max = cfg.head_max,
                        .busy_poll_us = cfg.busy_poll_us};
    char why[256];
    nes_log_start();
    nes_relay *r = nes_relay_start(&o, ls, nl, on_event, NULL, why, sizeof(why));
    nl = 0; /* the engine owns the listeners now */
    if (r == NULL) {
        nes_log(NES_LOG_ERROR, "cannot start the relay: %s", why);
        nes_log_stop();
        goto out;
    }
    mc.relay = r;
    nes_otel_config otel;
    if (nes_otel_config_load(&otel, "nitro-enc-proxy", otel_env, NULL, why, sizeof(why)) != 0 ||
        nes_otel_config_set_attr(&otel, "nes.proxy.mode", mode_s) != 0 ||
        nes_otel_start(&otel, NULL, otel_metrics, r, why, sizeof(why)) != 0)
        nes_log(NES_LOG_WARN, "telemetry export not started: %s", why);
    if (cfg.busy_poll_us > 0)
        nes_log(NES_LOG_INFO,
                "busy polling: each relay thread polls for %u us after traffic before it sleeps",
                cfg.busy_poll_us);
    nes_log(NES_LOG_INFO, "nitro-enc-proxy %s started", mode_s);
    int sig = 0;
    sigwait(&sigs, &sig);
    nes_log(NES_LOG_INFO, "draining: no new connections, %u s grace", cfg.grace_secs);
    nes_relay_drain(r, cfg.grace_secs * 1000u);
    nes_relay_stats s;
    nes_relay_stats_get(r, &s);
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_INFO, "stopped");
    nes_logline_int(&l, "connections", (long long)s.total);
    nes_logline_int(&l, "bytes_up", (long long)s.bytes_up);
    nes_logline_int(&l, "bytes_down", (long long)s.bytes_down);
    nes_logline_emit(&l);
    nes_otel_stop(); /* sends the last counters */
    mc.relay = NULL;
    nes_relay_free(r);
    nes_log_stop();
    rc = 0;
out:
    for (size_t i = 0; i < nl; i++)
        close(ls[i].fd);
    nes_proxy_config_free(&cfg);
    return rc;
}
