/* test_relay.c - the relay engine and the bridge in-process: a Unix-socket client reaches a TCP
 * echo server through a bridge (bytes and half-close intact), connect failures and the
 * connection cap are counted, small and bulk messages mixed on one connection, a head step rejects
 * and forwards, and the metrics text. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "../../testutil.h"
#include "net/bridge.h"
#include "net/relay.h"

/* A TCP echo server on 127.0.0.1 that serves connections one after another until `stop`. */
typedef struct echo {
    int fd;
    nes_endpoint ep;
    pthread_t th;
} echo;

static void *echo_main(void *arg)
{
    echo *e = arg;
    for (;;) {
        int c = accept(e->fd, NULL, NULL);
        if (c < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                struct timespec ts = {0, 2000000};
                nanosleep(&ts, NULL);
                continue;
            }
            return NULL;
        }
        char buf[8192];
        for (;;) {
            ssize_t n = read(c, buf, sizeof(buf));
            if (n < 0 && errno == EAGAIN) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
                continue;
            }
            if (n <= 0)
                break;
            if (write(c, buf, (size_t)n) != n)
                break;
        }
        shutdown(c, SHUT_WR);
        close(c);
    }
}

static void echo_start(echo *e)
{
    char why[200];
    assert_int_equal(nes_endpoint_parse("tcp://127.0.0.1:0", &e->ep, why, sizeof(why)), 0);
    e->fd = nes_endpoint_listen(&e->ep, 16, why, sizeof(why));
    assert_true(e->fd >= 0);
    e->ep.port = (uint16_t)nes_endpoint_bound_port(e->fd);
    assert_int_equal(pthread_create(&e->th, NULL, echo_main, e), 0);
}

static void echo_stop(echo *e)
{
    shutdown(e->fd, SHUT_RDWR);
    pthread_join(e->th, NULL);
    close(e->fd);
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* Piece sizes a round trip sends one after another (each echoed before the next). */
static const size_t even_pieces[] = {10000, 10000, 10000, 10000, 10000,
                                     10000, 10000, 10000, 10000, 10000};
/* Small, bulk, small again: the engine copies small messages and splices once a read fills
 * its copy buffer, and goes back to copying when a splice brings little; bytes keep order. */
static const size_t mixed_pieces[] = {64, 1, 40000, 64, 3, 50000, 17, 16384, 5, 16385, 100, 1};

static void bridge_round_trips_of(const nes_relay_opts *o, const size_t *pieces, size_t npieces)
{
    echo e;
    echo_start(&e);
    char why[200];
    nes_bridge *b = nes_bridge_start(&e.ep, o, why, sizeof(why));
    assert_non_null(b);
    assert_true(strncmp(nes_bridge_name(b), "nes-bridge-", 11) == 0);
    assert_int_equal(nes_bridge_path(b)[0], '@');
    uint64_t total = 0;
    for (int round = 0; round < 3; round++) {
        int fd = nes_bridge_connect(b);
        assert_true(fd >= 0);
        uint8_t out[200000], in[200000];
        uint64_t seed = (uint64_t)round + 1;
        tu_rng_fill(&seed, out, sizeof(out));
        /* the echo server answers as it reads: send in pieces, read back as we go */
        size_t got = 0, off = 0;
        for (size_t k = 0; k < npieces; k++) {
            assert_true(off + pieces[k] <= sizeof(out));
            write_all(fd, out + off, pieces[k]);
            off += pieces[k];
            while (got < off) {
                ssize_t n = read(fd, in + got, sizeof(in) - got);
                assert_true(n > 0);
                got += (size_t)n;
            }
        }
        total += off;
        /* half-close: our EOF reaches the server, whose EOF comes back */
        shutdown(fd, SHUT_WR);
        char c;
        assert_int_equal(read(fd, &c, 1), 0);
        assert_int_equal(got, off);
        assert_memory_equal(in, out, off);
        close(fd);
    }
    nes_relay_stats s;
    for (int i = 0; i < 100; i++) { /* the last close is counted as the worker sees it */
        nes_bridge_stats(b, &s);
        if (s.open == 0)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(s.total, 3);
    assert_int_equal(s.open, 0);
    assert_int_equal(s.bytes_up, total);
    assert_int_equal(s.bytes_down, total);
    nes_bridge_stop(b, 1000);
    echo_stop(&e);
}

static void bridge_round_trips(const nes_relay_opts *o)
{
    bridge_round_trips_of(o, even_pieces, sizeof(even_pieces) / sizeof(even_pieces[0]));
}

static void bridge_reaches_tcp_target(void **state)
{
    (void)state;
    bridge_round_trips(NULL);
}

/* The read/write path (used where the kernel refuses splice), with a small buffer so it wraps. */
static void bridge_copy_path(void **state)
{
    (void)state;
    nes_relay_opts o = {.threads = 1, .copy_only = 1, .buf_bytes = 4096};
    bridge_round_trips(&o);
}

/* Message sizes that move the engine between copying and splicing on one connection. */
static void bridge_mixed_sizes(void **state)
{
    (void)state;
    bridge_round_trips_of(NULL, mixed_pieces, sizeof(mixed_pieces) / sizeof(mixed_pieces[0]));
}

/* A target given by name is looked up on the resolver thread (every address tried in turn:
 * "localhost" may give ::1 first, where nothing listens); an unknown name fails cleanly. */
static void name_target(void **state)
{
    (void)state;
    echo e;
    echo_start(&e);
    char why[200], uri[64];
    snprintf(uri, sizeof(uri), "tcp://localhost:%u", (unsigned)e.ep.port);
    nes_endpoint named;
    assert_int_equal(nes_endpoint_parse(uri, &named, why, sizeof(why)), 0);
    nes_bridge *b = nes_bridge_start(&named, NULL, why, sizeof(why));
    assert_non_null(b);
    for (int i = 0; i < 3; i++) {
        int fd = nes_bridge_connect(b);
        write_all(fd, (const uint8_t *)"ping", 4);
        char buf[4];
        size_t got = 0;
        while (got < 4) {
            ssize_t n = read(fd, buf + got, 4 - got);
            assert_true(n > 0);
            got += (size_t)n;
        }
        assert_memory_equal(buf, "ping", 4);
        close(fd);
    }
    nes_bridge_stop(b, 1000);

    /* an unknown name: refused by the resolver, or (on a machine whose DNS does not answer)
     * ended by the connect timeout; either way the client is closed and the error counted */
    assert_int_equal(nes_endpoint_parse("tcp://no-such-host.invalid:443", &named, why, sizeof(why)),
                     0);
    nes_relay_opts o = {.threads = 1, .connect_timeout_ms = 3000};
    b = nes_bridge_start(&named, &o, why, sizeof(why));
    int fd = nes_bridge_connect(b);
    char x;
    assert_int_equal(read(fd, &x, 1), 0);
    close(fd);
    nes_relay_stats s;
    nes_bridge_stats(b, &s);
    assert_int_equal(s.errors[NES_RELAY_E_CONNECT] + s.errors[NES_RELAY_E_CONNECT_TIMEOUT], 1);
    nes_bridge_stop(b, 0);

    /* stopping while a lookup may still be queued frees everything (ASan checks) */
    snprintf(uri, sizeof(uri), "tcp://localhost:%u", (unsigned)e.ep.port);
    assert_int_equal(nes_endpoint_parse(uri, &named, why, sizeof(why)), 0);
    b = nes_bridge_start(&named, NULL, why, sizeof(why));
    fd = nes_bridge_connect(b);
    nes_bridge_stop(b, 0);
    close(fd);
    echo_stop(&e);
}

static void connect_refused_is_counted(void **state)
{
    (void)state;
    /* a port nobody listens on: bind, note it, close */
    char why[200];
    nes_endpoint dead;
    assert_int_equal(nes_endpoint_parse("tcp://127.0.0.1:0", &dead, why, sizeof(why)), 0);
    int fd = nes_endpoint_listen(&dead, 1, why, sizeof(why));
    dead.port = (uint16_t)nes_endpoint_bound_port(fd);
    close(fd);
    nes_bridge *b = nes_bridge_start(&dead, NULL, why, sizeof(why));
    assert_non_null(b);
    int c = nes_bridge_connect(b);
    assert_true(c >= 0);
    char x;
    assert_int_equal(read(c, &x, 1), 0); /* closed without a byte */
    close(c);
    nes_relay_stats s;
    nes_bridge_stats(b, &s);
    assert_int_equal(s.errors[NES_RELAY_E_CONNECT], 1);
    nes_bridge_stop(b, 0);
}

static void cap_refuses(void **state)
{
    (void)state;
    echo e;
    echo_start(&e);
    char why[200];
    nes_relay_opts o = {.threads = 1, .max_conns = 1};
    nes_bridge *b = nes_bridge_start(&e.ep, &o, why, sizeof(why));
    assert_non_null(b);
    int c1 = nes_bridge_connect(b);
    write_all(c1, (const uint8_t *)"x", 1);
    char x;
    assert_int_equal(read(c1, &x, 1), 1); /* c1 is being relayed */
    int c2 = nes_bridge_connect(b);
    assert_int_equal(read(c2, &x, 1), 0); /* c2 was closed at the cap */
    nes_relay_stats s;
    nes_bridge_stats(b, &s);
    assert_int_equal(s.refused, 1);
    close(c1);
    close(c2);
    nes_bridge_stop(b, 1000);
    echo_stop(&e);
}

/* A head step: "no" is rejected with a reply; "go\n" goes to the echo target. */
static nes_relay_verdict head(void *ctx, int peer, const uint8_t *buf, size_t len,
                              nes_relay_head *out)
{
    (void)peer;
    const nes_endpoint *target = ctx;
    if (len >= 2 && memcmp(buf, "no", 2) == 0) {
        memcpy(out->reply, "denied\n", 7);
        out->reply_len = 7;
        return NES_RELAY_REJECT;
    }
    if (len < 3)
        return NES_RELAY_MORE;
    if (memcmp(buf, "go\n", 3) != 0)
        return NES_RELAY_REJECT;
    out->target = *target;
    out->consumed = 3;
    memcpy(out->reply, "ok\n", 3);
    out->reply_len = 3;
    return NES_RELAY_GO;
}

static void head_step(void **state)
{
    (void)state;
    echo e;
    echo_start(&e);
    int sv[2];
    char why[200];
    nes_endpoint lep;
    assert_int_equal(nes_endpoint_parse("tcp://127.0.0.1:0", &lep, why, sizeof(why)), 0);
    int lfd = nes_endpoint_listen(&lep, 16, why, sizeof(why));
    lep.port = (uint16_t)nes_endpoint_bound_port(lfd);
    nes_relay_listener l = {.fd = lfd, .head = head, .ctx = &e.ep, .name = "test"};
    nes_relay_opts o = {.threads = 2};
    nes_relay *r = nes_relay_start(&o, &l, 1, NULL, NULL, why, sizeof(why));
    assert_non_null(r);

    sv[0] = nes_endpoint_connect(&lep, why, sizeof(why));
    write_all(sv[0], (const uint8_t *)"no thanks", 9);
    char buf[64];
    ssize_t n = read(sv[0], buf, sizeof(buf));
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "denied\n", 7);
    assert_int_equal(read(sv[0], buf, sizeof(buf)), 0);
    close(sv[0]);

    sv[1] = nes_endpoint_connect(&lep, why, sizeof(why));
    write_all(sv[1], (const uint8_t *)"go\nhello", 8); /* "hello" is relayed */
    size_t got = 0;
    while (got < 8) {
        n = read(sv[1], buf + got, sizeof(buf) - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_memory_equal(buf, "ok\nhello", 8);
    close(sv[1]);
    nes_relay_drain(r, 1000);
    nes_relay_stats s;
    nes_relay_stats_get(r, &s);
    assert_int_equal(s.errors[NES_RELAY_E_REJECTED], 1);
    nes_relay_free(r);
    echo_stop(&e);
}

/* vsock: the socket setup runs for real (this machine has no vsock loopback, so the connect
 * fails or times out); the engine counts it and closes the client. */
static void vsock_target_setup(void **state)
{
    (void)state;
    char why[200];
    nes_endpoint v;
    assert_int_equal(nes_endpoint_parse("vsock://1:5000", &v, why, sizeof(why)), 0);
    nes_relay_opts o = {.threads = 1, .connect_timeout_ms = 300};
    nes_bridge *b = nes_bridge_start(&v, &o, why, sizeof(why));
    assert_non_null(b);
    int c = nes_bridge_connect(b);
    assert_true(c >= 0);
    char x;
    assert_int_equal(read(c, &x, 1), 0);
    close(c);
    nes_relay_stats s;
    nes_bridge_stats(b, &s);
    assert_int_equal(s.errors[NES_RELAY_E_CONNECT] + s.errors[NES_RELAY_E_CONNECT_TIMEOUT], 1);
    nes_bridge_stop(b, 0);
}

static void metrics_text(void **state)
{
    (void)state;
    nes_relay_stats s = {.open = 2, .total = 7, .refused = 1, .bytes_up = 100, .bytes_down = 200};
    s.errors[NES_RELAY_E_IDLE] = 3;
    nes_buf b = {0};
    assert_int_equal(nes_relay_format_metrics(&s, "nes_proxy", &b), 0);
    assert_int_equal(nes_buf_append(&b, "", 1), 0);
    const char *t = (const char *)b.data;
    assert_non_null(strstr(t, "\nnes_proxy_connections_open 2\n"));
    assert_non_null(strstr(t, "\nnes_proxy_connections_total 7\n"));
    assert_non_null(strstr(t, "\nnes_proxy_connections_refused_total 1\n"));
    assert_non_null(strstr(t, "nes_proxy_bytes_total{direction=\"up\"} 100\n"));
    assert_non_null(strstr(t, "nes_proxy_bytes_total{direction=\"down\"} 200\n"));
    assert_non_null(strstr(t, "nes_proxy_errors_total{kind=\"idle\"} 3\n"));
    assert_non_null(strstr(t, "nes_proxy_errors_total{kind=\"connect_timeout\"} 0\n"));
    for (int k = 0; k < NES_RELAY_E_COUNT; k++)
        assert_string_not_equal(nes_relay_err_name((nes_relay_err)k), "?");
    nes_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bridge_reaches_tcp_target),
        cmocka_unit_test(bridge_copy_path),
        cmocka_unit_test(bridge_mixed_sizes),
        cmocka_unit_test(name_target),
        cmocka_unit_test(connect_refused_is_counted),
        cmocka_unit_test(cap_refuses),
        cmocka_unit_test(head_step),
        cmocka_unit_test(vsock_target_setup),
        cmocka_unit_test(metrics_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
