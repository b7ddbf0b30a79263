/* test_tlsio.c - the TLS transport functions on real loopback TCP sockets: a held record leaves
 * with the next one, nothing is lost or reordered when the socket buffer is full, read-ahead
 * bytes stay with their connection. sendmsg is wrapped (-Wl,--wrap=sendmsg, cmake/server.cmake)
 * so a test can make the kernel take fewer bytes than offered, at exact offsets. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "enclave/conns.h"
#include "enclave/tlsio.h"

/* Bytes the next sendmsg calls may take (SIZE_MAX: no limit; 0: EAGAIN). */
static size_t g_send_cap = SIZE_MAX;

ssize_t __real_sendmsg(int fd, const struct msghdr *m, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags);

ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags)
{
    if (g_send_cap == SIZE_MAX)
        return __real_sendmsg(fd, m, flags);
    if (g_send_cap == 0) {
        errno = EAGAIN;
        return -1;
    }
    struct iovec v[64];
    struct msghdr c = *m;
    size_t left = g_send_cap;
    c.msg_iovlen = 0;
    for (size_t i = 0; i < m->msg_iovlen && left > 0 && i < 64; i++) {
        size_t n = m->msg_iov[i].iov_len < left ? m->msg_iov[i].iov_len : left;
        v[i] = (struct iovec){.iov_base = m->msg_iov[i].iov_base, .iov_len = n};
        left -= n;
        c.msg_iovlen = i + 1;
    }
    c.msg_iov = v;
    return __real_sendmsg(fd, &c, flags);
}

typedef struct pair {
    int srv; /* the service's end: non-blocking, tlsio attached */
    int peer;
    nes_conn *conn;
} pair;

static void tcp_pair(pair *p, int sndbuf)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &al), 0);
    p->peer = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(p->peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    assert_int_equal(connect(p->peer, (struct sockaddr *)&a, sizeof(a)), 0);
    p->srv = accept(l, NULL, NULL);
    assert_true(p->srv >= 0);
    close(l);
    if (sndbuf > 0)
        setsockopt(p->srv, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    fcntl(p->srv, F_SETFL, fcntl(p->srv, F_GETFL) | O_NONBLOCK);
    fcntl(p->peer, F_SETFL, fcntl(p->peer, F_GETFL) | O_NONBLOCK);
    p->conn = nes_conns_started(p->srv, 0);
    assert_non_null(p->conn);
    gnutls_session_t s;
    assert_int_equal(gnutls_init(&s, GNUTLS_SERVER), 0);
    nes_tlsio_attach(s, p->srv);
    gnutls_deinit(s);
    assert_true(p->conn->io.attached);
}

static void close_pair(pair *p)
{
    nes_conns_closed(p->conn);
    close(p->srv);
    close(p->peer);
}

/* The transport pointer is the fd, as libmicrohttpd sets it (gnutls_transport_set_int). */
static gnutls_transport_ptr_t tp(int fd)
{
    /* NOLINTNEXTLINE(performance-no-int-to-ptr): GnuTLS carries an fd in a pointer */
    return (gnutls_transport_ptr_t)(intptr_t)fd;
}

static ssize_t push1(int fd, const void *data, size_t len)
{
    static uint8_t copy[65536]; /* GnuTLS hands over writable buffers */
    assert_true(len <= sizeof(copy));
    memcpy(copy, data, len);
    giovec_t v = {.iov_base = copy, .iov_len = len};
    return nes_tlsio_push(tp(fd), &v, 1);
}

static ssize_t pull(int fd, void *buf, size_t len)
{
    return nes_tlsio_pull(tp(fd), buf, len);
}

static size_t drain(int fd, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        uint8_t junk[65536];
        ssize_t r = recv(fd, out ? out + n : junk, out ? cap - n : sizeof(junk), 0);
        if (r <= 0)
            return n;
        if (out)
            n += (size_t)r;
    }
}

static int setup(void **state)
{
    (void)state;
    return nes_conns_init();
}

static int teardown(void **state)
{
    (void)state;
    nes_conns_free();
    return 0;
}

static void held_record_leaves_with_the_next(void **state)
{
    (void)state;
    pair p;
    tcp_pair(&p, 0);
    uint8_t got[64];
    assert_int_equal(push1(p.srv, "plain", 5), 5); /* not armed: sent at once */
    usleep(10000);
    assert_int_equal(recv(p.peer, got, sizeof(got), 0), 5);

    nes_tlsio_hold_next(&p.conn->io);
    assert_int_equal(push1(p.srv, "HEAD", 4), 4);
    usleep(10000);
    assert_int_equal(recv(p.peer, got, sizeof(got), 0), -1); /* held back */
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(push1(p.srv, "BODY!", 5), 5);
    usleep(10000);
    assert_int_equal(recv(p.peer, got, sizeof(got), 0), 9);
    assert_memory_equal(got, "HEADBODY!", 9);

    /* cancelled: the next record goes straight out */
    nes_tlsio_hold_next(&p.conn->io);
    nes_tlsio_cancel_hold(&p.conn->io);
    assert_int_equal(push1(p.srv, "x", 1), 1);
    usleep(10000);
    assert_int_equal(recv(p.peer, got, sizeof(got), 0), 1);

    /* the safety flush sends a record held without a successor */
    nes_tlsio_hold_next(&p.conn->io);
    assert_int_equal(push1(p.srv, "lonely", 6), 6);
    nes_tlsio_flush(&p.conn->io, p.srv);
    usleep(10000);
    assert_int_equal(recv(p.peer, got, sizeof(got), 0), 6);
    close_pair(&p);
}

/* GnuTLS' side of a push: it retries the unsent rest of a record after EAGAIN. */
static void push_all(int fd, const uint8_t *data, size_t len, int peer, uint8_t *sink, size_t *sunk,
                     size_t sink_cap, unsigned *eagains)
{
    size_t off = 0;
    while (off < len) {
        ssize_t r = push1(fd, data + off, len - off);
        if (r < 0) {
            assert_int_equal(errno, EAGAIN);
            (*eagains)++;
            /* the reader takes a little and comes back */
            uint8_t buf[1500];
            ssize_t g = recv(peer, buf, (size_t)(rand() % 1400 + 1), 0);
            if (g > 0) {
                assert_true(*sunk + (size_t)g <= sink_cap);
                memcpy(sink + *sunk, buf, (size_t)g);
                *sunk += (size_t)g;
            } else {
                usleep(200);
            }
            continue;
        }
        off += (size_t)r;
    }
}

static void full_socket_loses_and_reorders_nothing(void **state)
{
    (void)state;
    pair p;
    tcp_pair(&p, 4096);
    size_t cap = 4u << 20, sunk = 0, sent = 0;
    uint8_t *want = malloc(cap), *sink = malloc(cap);
    assert_non_null(want);
    assert_non_null(sink);
    unsigned eagains = 0;
    srand(7);
    for (int resp = 0; resp < 300; resp++) {
        /* a "header" record, then a "body" of one or more records, as the daemon sends them */
        uint8_t hdr[200], body[3000];
        size_t hl = 50 + (size_t)(rand() % 150), bl = 1 + (size_t)(rand() % 3000);
        for (size_t i = 0; i < hl; i++)
            hdr[i] = (uint8_t)(sent + i);
        for (size_t i = 0; i < bl; i++)
            body[i] = (uint8_t)((sent + hl + i) * 7);
        memcpy(want + sent, hdr, hl);
        memcpy(want + sent + hl, body, bl);
        sent += hl + bl;
        nes_tlsio_hold_next(&p.conn->io);
        push_all(p.srv, hdr, hl, p.peer, sink, &sunk, cap, &eagains);
        size_t half = bl / 2;
        push_all(p.srv, body, half, p.peer, sink, &sunk, cap, &eagains);
        push_all(p.srv, body + half, bl - half, p.peer, sink, &sunk, cap, &eagains);
    }
    for (int i = 0; i < 2000 && sunk < sent; i++) {
        sunk += drain(p.peer, sink + sunk, cap - sunk);
        usleep(1000);
    }
    assert_int_equal(sunk, sent);
    assert_memory_equal(sink, want, sent);
    assert_true(eagains > 0); /* the socket really was full */
    free(want);
    free(sink);
    close_pair(&p);
}

static void short_sends_around_the_held_record(void **state)
{
    (void)state;
    pair p;
    tcp_pair(&p, 0);
    uint8_t hdr[100], body[400], got[1024];
    for (size_t i = 0; i < sizeof(hdr); i++)
        hdr[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(200 - i);
    nes_tlsio_hold_next(&p.conn->io);
    assert_int_equal(push1(p.srv, hdr, sizeof(hdr)), sizeof(hdr));
    g_send_cap = 0; /* socket full */
    assert_int_equal(push1(p.srv, body, sizeof(body)), -1);
    assert_int_equal(errno, EAGAIN);
    g_send_cap = 30; /* part of the held record */
    assert_int_equal(push1(p.srv, body, sizeof(body)), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(p.conn->io.out_len, 70);
    g_send_cap = 70; /* exactly the rest of the held record */
    assert_int_equal(push1(p.srv, body, sizeof(body)), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(p.conn->io.out_len, 0);
    g_send_cap = 150; /* part of the body */
    assert_int_equal(push1(p.srv, body, sizeof(body)), 150);
    g_send_cap = SIZE_MAX;
    assert_int_equal(push1(p.srv, body + 150, sizeof(body) - 150), sizeof(body) - 150);
    usleep(20000);
    assert_int_equal(drain(p.peer, got, sizeof(got)), sizeof(hdr) + sizeof(body));
    assert_memory_equal(got, hdr, sizeof(hdr));
    assert_memory_equal(got + sizeof(hdr), body, sizeof(body));

    /* a held record with more behind it than the kernel takes: the held part goes first */
    nes_tlsio_hold_next(&p.conn->io);
    assert_int_equal(push1(p.srv, hdr, sizeof(hdr)), sizeof(hdr));
    g_send_cap = 130;
    assert_int_equal(push1(p.srv, body, sizeof(body)), 30);
    g_send_cap = SIZE_MAX;
    assert_int_equal(push1(p.srv, body + 30, sizeof(body) - 30), sizeof(body) - 30);
    usleep(20000);
    assert_int_equal(drain(p.peer, got, sizeof(got)), sizeof(hdr) + sizeof(body));
    assert_memory_equal(got, hdr, sizeof(hdr));
    assert_memory_equal(got + sizeof(hdr), body, sizeof(body));

    /* too large to hold: sent at once */
    uint8_t big[3000] = {0}, back[4096];
    nes_tlsio_hold_next(&p.conn->io);
    assert_int_equal(push1(p.srv, big, sizeof(big)), sizeof(big));
    assert_int_equal(p.conn->io.out_len, 0);
    usleep(20000);
    assert_int_equal(drain(p.peer, back, sizeof(back)), sizeof(big));
    close_pair(&p);
}

static void reads_ahead_and_keeps_bytes_with_their_connection(void **state)
{
    (void)state;
    pair x, y;
    tcp_pair(&x, 0);
    tcp_pair(&y, 0);
    uint8_t buf[64];
    assert_int_equal(send(x.peer, "AAAAABBBBBBBBBBCCCCC", 20, 0), 20);
    usleep(10000);
    assert_int_equal(pull(x.srv, buf, 5), 5); /* one recv takes all 20 */
    assert_memory_equal(buf, "AAAAA", 5);
    assert_int_equal(nes_tlsio_pull_timeout(tp(x.srv), 0), 1);
    assert_int_equal(pull(x.srv, buf, 10), 10);
    assert_memory_equal(buf, "BBBBBBBBBB", 10);

    /* y needs the thread's buffer: x's last 5 bytes move to x's own buffer */
    assert_int_equal(send(y.peer, "yyyyyyy", 7, 0), 7);
    usleep(10000);
    assert_int_equal(pull(y.srv, buf, 3), 3);
    assert_memory_equal(buf, "yyy", 3);
    assert_int_equal(pull(x.srv, buf, 64), 5);
    assert_memory_equal(buf, "CCCCC", 5);
    assert_int_equal(pull(y.srv, buf, 64), 4);
    assert_memory_equal(buf, "yyyy", 4);

    /* nothing buffered and nothing on the socket: EAGAIN (the daemon waits on epoll then) */
    assert_int_equal(pull(x.srv, buf, 5), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(nes_tlsio_pull_timeout(tp(x.srv), 0), 0);

    /* a large read goes straight to the caller's buffer */
    uint8_t big[8192], in[8192];
    memset(big, 'z', sizeof(big));
    assert_int_equal(send(x.peer, big, 5000, 0), 5000);
    usleep(10000);
    size_t got = 0;
    while (got < 5000) {
        ssize_t r = pull(x.srv, in + got, sizeof(in) - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_memory_equal(in, big, 5000);

    /* a connection closing with bytes read ahead frees them (ASan checks the leak) */
    assert_int_equal(send(y.peer, "leftover", 8, 0), 8);
    usleep(10000);
    assert_int_equal(pull(y.srv, buf, 2), 2);
    close_pair(&y);
    close_pair(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(held_record_leaves_with_the_next),
        cmocka_unit_test(full_socket_loses_and_reorders_nothing),
        cmocka_unit_test(short_sends_around_the_held_record),
        cmocka_unit_test(reads_ahead_and_keeps_bytes_with_their_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
