/* http_load - a bounded keep-alive load over TLS for the integration suite
 * (tests/integration/test_http_load.py): opens N TLS connections to 127.0.0.1:PORT (at most 256
 * handshakes at a time), waits until all are established, then has every connection send R
 * requests one after another (keep-alive, no pipelining), all connections at once, on one
 * level-triggered epoll loop (interest follows what GnuTLS waits for). It checks that every
 * connection got R complete 200 answers before the deadline: a connection that stalls is a failure,
 * whatever the others did. No timings are judged.
 *
 * usage: http_load PORT CAFILE CONNS REQUESTS TIMEOUT_SECS [BODY_FILE SCHEMA]
 *   without BODY_FILE: GET /healthz; with it: POST /encrypt of that body with X-Schema-Name.
 * With NES_LOAD_KEY_UPDATE=1 each request follows a TLS 1.3 KeyUpdate message (the server then
 * reads a post-handshake message and application data from one segment).
 * Prints one line: `established=N done=N failed=N responses=N` and exits 0 only when every
 * connection finished. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INFLIGHT_HANDSHAKES 256

enum { C_CONNECT, C_HANDSHAKE, C_READY, C_SEND, C_RECV, C_DONE, C_FAILED };

typedef struct conn {
    int fd;
    int state;
    gnutls_session_t tls;
    int answered;
    size_t sent;
    char buf[16384];
    size_t len;
} conn;

static gnutls_certificate_credentials_t g_cred;
static char *g_req;
static size_t g_req_len;
static int g_requests;
static int g_ep;
static bool g_key_update; /* NES_LOAD_KEY_UPDATE=1: a TLS 1.3 KeyUpdate before every request */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Level-triggered interest in what GnuTLS waits for (reading or writing). */
static void want(conn *c, size_t idx)
{
    struct epoll_event ev = {.events = gnutls_record_get_direction(c->tls) ? EPOLLOUT : EPOLLIN,
                             .data.u64 = idx};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void fail(conn *c)
{
    if (c->state == C_DONE || c->state == C_FAILED)
        return;
    c->state = C_FAILED;
    epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
}

static int start(conn *c, unsigned short port, size_t idx)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS)
        return -1;
    gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    gnutls_set_default_priority(c->tls);
    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, g_cred);
    gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, "localhost", 9);
    gnutls_session_set_verify_cert(c->tls, "localhost", 0);
    gnutls_transport_set_int(c->tls, c->fd);
    c->state = C_HANDSHAKE;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = idx};
    return epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* One complete response at the start of buf: its length, 0 when incomplete, -1 when not 200. */
static long response_len(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    if (len < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0)
        return -1;
    const char *cl = memmem(buf, (size_t)(end - buf), "Content-Length: ", 16);
    if (cl == NULL)
        return -1;
    size_t n = strtoul(cl + 16, NULL, 10);
    size_t total = (size_t)(end + 4 - buf) + n;
    return total <= len ? (long)total : 0;
}

static void drive(conn *c, size_t idx, int *inflight_hs)
{
    for (;;) {
        if (c->state == C_HANDSHAKE) {
            int r = gnutls_handshake(c->tls);
            if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
                want(c, idx);
                return;
            }
            (*inflight_hs)--;
            if (r < 0) {
                fprintf(stderr, "handshake: %s\n", gnutls_strerror(r));
                fail(c);
                return;
            }
            c->state = C_READY;
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = idx};
            epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        }
        if (c->state == C_SEND) {
            if (g_key_update && c->sent == 0 && gnutls_session_key_update(c->tls, 0) < 0) {
                fail(c);
                return;
            }
            while (c->sent < g_req_len) {
                ssize_t r = gnutls_record_send(c->tls, g_req + c->sent, g_req_len - c->sent);
                if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
                    want(c, idx);
                    return;
                }
                if (r < 0) {
                    fail(c);
                    return;
                }
                c->sent += (size_t)r;
            }
            c->state = C_RECV;
            c->len = 0;
        }
        if (c->state == C_RECV) {
            ssize_t r = gnutls_record_recv(c->tls, c->buf + c->len, sizeof(c->buf) - c->len);
            if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
                want(c, idx);
                return;
            }
            if (r < 0 && !gnutls_error_is_fatal((int)r))
                continue;
            if (r <= 0) {
                fprintf(stderr, "recv after %d answers: %s\n", c->answered,
                        r == 0 ? "closed" : gnutls_strerror((int)r));
                fail(c);
                return;
            }
            c->len += (size_t)r;
            long n = response_len(c->buf, c->len);
            if (n < 0 || (n == 0 && c->len == sizeof(c->buf))) {
                fprintf(stderr, "bad answer after %d: %.60s\n", c->answered, c->buf);
                fail(c);
                return;
            }
            if (n == 0)
                continue;
            c->answered++;
            if (c->answered == g_requests) {
                c->state = C_DONE;
                epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
                return;
            }
            c->state = C_SEND;
            c->sent = 0;
            continue;
        }
        return;
    }
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 8) {
        fprintf(stderr, "usage: http_load PORT CAFILE CONNS REQUESTS TIMEOUT_SECS "
                        "[BODY_FILE SCHEMA]\n");
        return 2;
    }
    unsigned short port = (unsigned short)atoi(argv[1]);
    size_t nconns = strtoul(argv[3], NULL, 10);
    g_requests = atoi(argv[4]);
    double deadline = now_s() + atof(argv[5]);
    if (argc == 8) {
        FILE *f = fopen(argv[6], "rb");
        if (f == NULL)
            return 2;
        static char body[65536];
        size_t bl = fread(body, 1, sizeof(body), f);
        fclose(f);
        g_req = malloc(bl + 512);
        g_req_len = (size_t)sprintf(g_req,
                                    "POST /encrypt HTTP/1.1\r\nHost: localhost\r\n"
                                    "Content-Type: application/json\r\nX-Schema-Name: %s\r\n"
                                    "Content-Length: %zu\r\n\r\n",
                                    argv[7], bl);
        memcpy(g_req + g_req_len, body, bl);
        g_req_len += bl;
    } else {
        g_req = strdup("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
        g_req_len = strlen(g_req);
    }
    const char *ku = getenv("NES_LOAD_KEY_UPDATE");
    g_key_update = ku != NULL && strcmp(ku, "1") == 0;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    gnutls_global_init();
    gnutls_certificate_allocate_credentials(&g_cred);
    if (gnutls_certificate_set_x509_trust_file(g_cred, argv[2], GNUTLS_X509_FMT_PEM) <= 0) {
        fprintf(stderr, "http_load: no CA in %s\n", argv[2]);
        return 2;
    }
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    conn *cs = calloc(nconns, sizeof(*cs));
    if (cs == NULL)
        return 2;
    struct epoll_event evs[256];
    size_t opened = 0, established = 0;
    int inflight_hs = 0;
    bool running = false;
    for (;;) {
        while (!running && opened < nconns && inflight_hs < MAX_INFLIGHT_HANDSHAKES) {
            if (start(&cs[opened], port, opened) != 0) {
                cs[opened].state = C_FAILED;
                fprintf(stderr, "connect %zu: %s\n", opened, strerror(errno));
            } else {
                inflight_hs++;
                drive(&cs[opened], opened, &inflight_hs);
            }
            opened++;
        }
        size_t ready = 0, done = 0, failed = 0;
        for (size_t i = 0; i < opened; i++) {
            ready += cs[i].state == C_READY;
            done += cs[i].state == C_DONE;
            failed += cs[i].state == C_FAILED;
        }
        if (!running && opened == nconns && ready + failed == nconns) {
            established = ready;
            running = true; /* every connection is up: all start their requests now */
            for (size_t i = 0; i < nconns; i++) {
                if (cs[i].state == C_READY) {
                    cs[i].state = C_SEND;
                    drive(&cs[i], i, &inflight_hs);
                }
            }
            continue;
        }
        if ((running && done + failed == nconns) || now_s() > deadline)
            break;
        int n = epoll_wait(g_ep, evs, 256, 100);
        for (int i = 0; i < n; i++)
            drive(&cs[evs[i].data.u64], evs[i].data.u64, &inflight_hs);
    }
    size_t done = 0, failed = 0, responses = 0;
    for (size_t i = 0; i < nconns; i++) {
        done += cs[i].state == C_DONE;
        failed += cs[i].state == C_FAILED;
        responses += (size_t)cs[i].answered;
        if (cs[i].tls != NULL)
            gnutls_deinit(cs[i].tls);
        if (cs[i].fd > 0)
            close(cs[i].fd);
    }
    if (!running)
        for (size_t i = 0; i < nconns; i++)
            established += cs[i].state == C_READY;
    printf("established=%zu done=%zu failed=%zu responses=%zu\n", established, done, failed,
           responses);
    free(cs);
    free(g_req);
    gnutls_certificate_free_credentials(g_cred);
    gnutls_global_deinit();
    return done == nconns ? 0 : 1;
}
