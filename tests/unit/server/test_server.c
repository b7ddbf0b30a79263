/* test_server.c - the server and its connections in process (server.h, conns.h): real workers on
 * a loopback port, a GnuTLS client. Keep-alive and pipelined answers in order, the header
 * deadline closing a silent connection, drain closing idle keep-alive connections and marking
 * answers Connection: close, the listener closing on stop_accepting, the cached Date value. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "enclave/config.h"
#include "enclave/conns.h"
#include "enclave/server.h"
#include "enclave/tls.h"
#include "obs/log.h"

static char g_dir[64], g_cert[128], g_key[128];
static nes_config g_cfg;
static nes_server g_srv;
static gnutls_certificate_credentials_t g_client_cred;

static int setup(void **state)
{
    (void)state;
    char why[256];
    snprintf(g_dir, sizeof(g_dir), "/tmp/nes-test-server-XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        return -1;
    snprintf(g_cert, sizeof(g_cert), "%s/tls.crt", g_dir);
    snprintf(g_key, sizeof(g_key), "%s/tls.key", g_dir);
    nes_log_configure(NES_LOG_ERROR, 2);
    if (nes_tls_init(NULL, NULL, NULL, 2, why, sizeof(why)) != 0 ||
        nes_tls_selfsigned(g_cert, g_key, why, sizeof(why)) != 0)
        return -1;
    nes_creds *c = nes_creds_load(g_cert, g_key, why, sizeof(why));
    if (c == NULL)
        return -1;
    nes_tls_install(c);
    char *env[] = {"LISTEN=tcp://127.0.0.1:0", "WORKER_THREADS=2", "HEADER_TIMEOUT_SECS=1", NULL};
    nes_config_problems p;
    if (nes_config_load(&g_cfg, true, env, NULL, 2, &p) != 0)
        return -1;
    if (nes_server_start(&g_srv, &g_cfg, why, sizeof(why)) != 0) {
        fprintf(stderr, "start: %s\n", why);
        return -1;
    }
    gnutls_certificate_allocate_credentials(&g_client_cred);
    gnutls_certificate_set_x509_trust_file(g_client_cred, g_cert, GNUTLS_X509_FMT_PEM);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nes_server_stop(&g_srv);
    nes_config_free(&g_cfg);
    gnutls_certificate_free_credentials(g_client_cred);
    nes_tls_shutdown();
    nes_tls_deinit();
    unlink(g_cert);
    unlink(g_key);
    rmdir(g_dir);
    return 0;
}

typedef struct client {
    int fd;
    gnutls_session_t tls;
} client;

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)g_srv.bound_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void tls_connect(client *c)
{
    c->fd = tcp_connect();
    assert_true(c->fd >= 0);
    assert_int_equal(gnutls_init(&c->tls, GNUTLS_CLIENT), 0);
    gnutls_set_default_priority(c->tls);
    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, g_client_cred);
    gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, "localhost", 9);
    gnutls_session_set_verify_cert(c->tls, "localhost", 0);
    gnutls_transport_set_int(c->tls, c->fd);
    int r;
    do
        r = gnutls_handshake(c->tls);
    while (r < 0 && !gnutls_error_is_fatal(r));
    assert_int_equal(r, 0);
}

static void client_close(client *c)
{
    gnutls_deinit(c->tls);
    close(c->fd);
}

static void send_str(client *c, const char *s)
{
    assert_int_equal(gnutls_record_send(c->tls, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads until `n` complete responses (Content-Length framed) are in buf; returns bytes read, or
 * what arrived before the server closed. */
static size_t read_responses(client *c, char *buf, size_t cap, int n)
{
    size_t len = 0;
    for (;;) {
        int done = 0;
        const char *p = buf;
        while (done < n) {
            const char *e = memmem(p, len - (size_t)(p - buf), "\r\n\r\n", 4);
            const char *cl = e ? memmem(p, (size_t)(e - p), "Content-Length: ", 16) : NULL;
            if (cl == NULL)
                break;
            size_t total = (size_t)(e + 4 - p) + strtoul(cl + 16, NULL, 10);
            if ((size_t)(p - buf) + total > len)
                break;
            p += total;
            done++;
        }
        if (done == n)
            return len;
        ssize_t r = gnutls_record_recv(c->tls, buf + len, cap - len - 1);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
            continue;
        if (r <= 0)
            return len;
        len += (size_t)r;
        buf[len] = '\0';
    }
}

static void keep_alive_and_pipelining(void **state)
{
    (void)state;
    client c;
    tls_connect(&c);
    char buf[8192];
    send_str(&c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t n = read_responses(&c, buf, sizeof(buf), 1);
    buf[n] = '\0';
    assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(buf, "\r\nDate: "));
    assert_non_null(strstr(buf, " GMT\r\n"));
    assert_null(strstr(buf, "Connection: close"));
    /* three pipelined in one record: answered in order */
    send_str(&c, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /encrypt HTTP/1.1\r\nHost: x\r\n\r\n");
    n = read_responses(&c, buf, sizeof(buf), 3);
    buf[n] = '\0';
    char *a = strstr(buf, "HTTP/1.1 404 "), *b = strstr(buf, "HTTP/1.1 200 "),
         *d = strstr(buf, "HTTP/1.1 405 ");
    assert_true(a == buf && b > a && d > b);
    assert_non_null(strstr(d, "Allow: POST\r\n"));
    assert_true(atomic_load(&g_srv.open) >= 1);
    client_close(&c);
}

static void silent_connection_cut_at_the_header_deadline(void **state)
{
    (void)state;
    int fd = tcp_connect(); /* no handshake at all; HEADER_TIMEOUT_SECS is 1 */
    assert_true(fd >= 0);
    int64_t t0 = nes_now_ms();
    char b;
    ssize_t r = recv(fd, &b, 1, 0);
    int64_t waited = nes_now_ms() - t0;
    assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
    assert_true(waited >= 900 && waited < 4000);
    close(fd);
}

static void date_is_cached_per_second(void **state)
{
    (void)state;
    nes_conn_env env = {0};
    const char *d = nes_conn_date(&env);
    assert_int_equal(strlen(d), 29);
    assert_string_equal(d + 25, " GMT");
    char first[40];
    strcpy(first, d);
    assert_ptr_equal(nes_conn_date(&env), d);
    assert_true(env.date_until_ms <= nes_now_ms() + 1000); /* the end of this second */
    env.date_until_ms = nes_now_ms() + 60000;              /* (no boundary during the test) */
    strcpy(env.date, "stale");
    assert_string_equal(nes_conn_date(&env), "stale"); /* within the second: the cache */
    env.date_until_ms = nes_now_ms();                  /* the second ended: recomputed */
    d = nes_conn_date(&env);
    assert_int_equal(strlen(d), 29);
    assert_string_equal(d + 25, " GMT");
    uint64_t us = nes_now_us();
    assert_true(us / 1000 >= (uint64_t)nes_now_ms() - 1);
}

/* Runs last: drains and stops accepting. */
static void drain_closes_idle_and_marks_answers(void **state)
{
    (void)state;
    client idle, busy;
    tls_connect(&idle);
    tls_connect(&busy);
    char buf[8192];
    send_str(&idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(read_responses(&idle, buf, sizeof(buf), 1) > 0);
    /* a request in flight on `busy`: its head is complete, its body not yet */
    send_str(&busy, "POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: 4\r\n\r\n{");
    for (int i = 0; i < 200 && nes_server_inflight(&g_srv) == 0; i++)
        usleep(5000);
    assert_int_equal(nes_server_inflight(&g_srv), 1);
    nes_server_stop_accepting(&g_srv);
    assert_int_equal(tcp_connect(), -1);                /* the listener is gone */
    assert_int_equal(nes_server_drain(&g_srv, 100), 1); /* still in flight after the grace */
    /* the idle connection was closed */
    ssize_t r = gnutls_record_recv(idle.tls, buf, sizeof(buf));
    assert_true(r <= 0);
    /* the request in flight completes, with Connection: close */
    send_str(&busy, "}\r\n");
    size_t n = read_responses(&busy, buf, sizeof(buf), 1);
    buf[n] = '\0';
    assert_true(strncmp(buf, "HTTP/1.1 400 ", 13) == 0); /* no schema header */
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    assert_int_equal(nes_server_drain(&g_srv, 1000), 0);
    client_close(&idle);
    client_close(&busy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keep_alive_and_pipelining),
        cmocka_unit_test(silent_connection_cut_at_the_header_deadline),
        cmocka_unit_test(date_is_cached_per_second),
        cmocka_unit_test(drain_closes_idle_and_marks_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
