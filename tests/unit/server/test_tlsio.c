/* test_tlsio.c - the TLS transport functions on real loopback TCP sockets: vectors leave in one
 * sendmsg, nothing is lost or reordered when the socket buffer is full, read-ahead bytes stay
 * with their connection. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
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

#include "enclave/tlsio.h"

typedef struct pair {
    int srv; /* the service's end: non-blocking, tlsio attached */
    int peer;
    nes_tlsio io;
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
    memset(&p->io, 0, sizeof(p->io));
    gnutls_session_t s;
    assert_int_equal(gnutls_init(&s, GNUTLS_SERVER), 0);
    nes_tlsio_attach(&p->io, s, p->srv);
    assert_ptr_equal(gnutls_transport_get_ptr(s), &p->io);
    gnutls_deinit(s);
    assert_int_equal(p->io.fd, p->srv);
}

static void close_pair(pair *p)
{
    nes_tlsio_closed(&p->io);
    close(p->srv);
    close(p->peer);
}

/* The transport pointer is the connection's nes_tlsio. */
static gnutls_transport_ptr_t tp(pair *p)
{
    return &p->io;
}

static ssize_t push1(pair *p, const void *data, size_t len)
{
    static uint8_t copy[65536]; /* GnuTLS hands over writable buffers */
    assert_true(len <= sizeof(copy));
    memcpy(copy, data, len);
    giovec_t v = {.iov_base = copy, .iov_len = len};
    return nes_tlsio_push(tp(p), &v, 1);
}

static ssize_t pull(pair *p, void *buf, size_t len)
{
    return nes_tlsio_pull(tp(p), buf, len);
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

static void vectors_leave_in_one_send(void **state)
{
    (void)state;
    pair p;
    tcp_pair(&p, 0);
    uint8_t a[] = "HEAD", b[] = "BODY!", got[64];
    giovec_t v[2] = {{.iov_base = a, .iov_len = 4}, {.iov_base = b, .iov_len = 5}};
    assert_int_equal(nes_tlsio_push(tp(&p), v, 2), 9);
    usleep(10000);
    assert_int_equal(recv(p.peer, got, sizeof(got), 0), 9);
    assert_memory_equal(got, "HEADBODY!", 9);
    /* many vectors (more than fit on the stack) */
    giovec_t many[40];
    uint8_t bytes[40];
    for (int i = 0; i < 40; i++) {
        bytes[i] = (uint8_t)('a' + i % 26);
        many[i] = (giovec_t){.iov_base = &bytes[i], .iov_len = 1};
    }
    assert_int_equal(nes_tlsio_push(tp(&p), many, 40), 40);
    usleep(10000);
    assert_int_equal(recv(p.peer, got, sizeof(got), 0), 40);
    assert_memory_equal(got, bytes, 40);
    close_pair(&p);
}

/* GnuTLS' side of a push: it retries the unsent rest of a record after EAGAIN. */
static void push_all(pair *pp, const uint8_t *data, size_t len, int peer, uint8_t *sink,
                     size_t *sunk, size_t sink_cap, unsigned *eagains)
{
    size_t off = 0;
    while (off < len) {
        ssize_t r = push1(pp, data + off, len - off);
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
        /* records of random sizes, pushed as GnuTLS does: the unsent rest again after EAGAIN */
        uint8_t hdr[200], body[3000];
        size_t hl = 50 + (size_t)(rand() % 150), bl = 1 + (size_t)(rand() % 3000);
        for (size_t i = 0; i < hl; i++)
            hdr[i] = (uint8_t)(sent + i);
        for (size_t i = 0; i < bl; i++)
            body[i] = (uint8_t)((sent + hl + i) * 7);
        memcpy(want + sent, hdr, hl);
        memcpy(want + sent + hl, body, bl);
        sent += hl + bl;
        push_all(&p, hdr, hl, p.peer, sink, &sunk, cap, &eagains);
        size_t half = bl / 2;
        push_all(&p, body, half, p.peer, sink, &sunk, cap, &eagains);
        push_all(&p, body + half, bl - half, p.peer, sink, &sunk, cap, &eagains);
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

static void reads_ahead_and_keeps_bytes_with_their_connection(void **state)
{
    (void)state;
    pair x, y;
    tcp_pair(&x, 0);
    tcp_pair(&y, 0);
    uint8_t buf[64];
    assert_int_equal(send(x.peer, "AAAAABBBBBBBBBBCCCCC", 20, 0), 20);
    usleep(10000);
    assert_int_equal(pull(&x, buf, 5), 5); /* one recv takes all 20 */
    assert_memory_equal(buf, "AAAAA", 5);
    assert_int_equal(nes_tlsio_pull_timeout(tp(&x), 0), 1);
    assert_int_equal(pull(&x, buf, 10), 10);
    assert_memory_equal(buf, "BBBBBBBBBB", 10);

    /* y needs the thread's buffer: x's last 5 bytes move to x's own buffer */
    assert_int_equal(send(y.peer, "yyyyyyy", 7, 0), 7);
    usleep(10000);
    assert_int_equal(pull(&y, buf, 3), 3);
    assert_memory_equal(buf, "yyy", 3);
    assert_int_equal(pull(&x, buf, 64), 5);
    assert_memory_equal(buf, "CCCCC", 5);
    assert_int_equal(pull(&y, buf, 64), 4);
    assert_memory_equal(buf, "yyyy", 4);

    /* nothing buffered and nothing on the socket: EAGAIN (the loop waits on epoll then) */
    nes_tlsio_readable(&x.io);
    assert_int_equal(pull(&x, buf, 5), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(nes_tlsio_pull_timeout(tp(&x), 0), 0);

    /* a large read goes straight to the caller's buffer */
    uint8_t big[8192], in[8192];
    memset(big, 'z', sizeof(big));
    assert_int_equal(send(x.peer, big, 5000, 0), 5000);
    usleep(10000);
    nes_tlsio_readable(&x.io); /* the arrival's epoll event */
    size_t got = 0;
    while (got < 5000) {
        ssize_t r = pull(&x, in + got, sizeof(in) - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_memory_equal(in, big, 5000);

    /* a connection closing with bytes read ahead frees them (ASan checks the leak) */
    assert_int_equal(send(y.peer, "leftover", 8, 0), 8);
    usleep(10000);
    nes_tlsio_readable(&y.io);
    assert_int_equal(pull(&y, buf, 2), 2);
    close_pair(&y);
    close_pair(&x);
}

static void short_read_means_empty_until_readable(void **state)
{
    (void)state;
    pair p;
    tcp_pair(&p, 0);
    uint8_t buf[64];
    assert_int_equal(send(p.peer, "abc", 3, 0), 3);
    usleep(10000);
    assert_false(nes_tlsio_known_empty(&p.io)); /* not read yet */
    assert_int_equal(pull(&p, buf, 2), 2);      /* one recv reads all 3 ahead */
    assert_false(nes_tlsio_known_empty(&p.io)); /* a byte is still read ahead */
    assert_int_equal(pull(&p, buf + 2, 62), 1);
    assert_true(p.io.empty); /* short: the socket is empty now */
    assert_true(nes_tlsio_known_empty(&p.io));
    assert_int_equal(send(p.peer, "defg", 4, 0), 4);
    usleep(10000);
    /* no recv until readiness is reported (edge-triggered: the arrival raised an event) */
    assert_int_equal(pull(&p, buf, 64), -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(p.io.drained);
    nes_tlsio_readable(&p.io);
    assert_false(nes_tlsio_known_empty(&p.io)); /* readiness: worth a recv again */
    assert_int_equal(pull(&p, buf, 64), 4);
    assert_memory_equal(buf, "defg", 4);
    /* a real EAGAIN marks it empty as well */
    nes_tlsio_readable(&p.io);
    assert_int_equal(pull(&p, buf, 64), -1);
    assert_true(p.io.empty && p.io.drained);
    close_pair(&p);
}

/* GnuTLS' record buffers come back from the thread's cache; other sizes pass through. */
static void *record_buffer_thread(void *arg)
{
    (void)arg;
    void *a = gnutls_malloc(16 * 1024 + 600);
    assert_non_null(a);
    gnutls_free(a); /* cached; freed by the thread-exit destructor (ASan checks the leak) */
    return NULL;
}

static void record_buffers_are_reused(void **state)
{
    (void)state;
    nes_tlsio_install_allocator();
    nes_tlsio_install_allocator(); /* idempotent */
    void *a = gnutls_malloc(16 * 1024 + 600), *b = gnutls_malloc(16 * 1024 + 600);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 1, 16 * 1024 + 600);
    gnutls_free(a);
    gnutls_free(b);
    void *c = gnutls_malloc(16 * 1024 + 200); /* the last one given back first */
    void *d = gnutls_malloc(16 * 1024 + 500);
    assert_ptr_equal(c, b);
    assert_ptr_equal(d, a);
    gnutls_free(c);
    gnutls_free(d);
    void *f = gnutls_malloc(20 * 1024); /* a cached block too small for it is freed instead */
    assert_non_null(f);
    assert_true(malloc_usable_size(f) >= 20 * 1024);
    memset(f, 2, 20 * 1024);
    gnutls_free(f);
    void *small = gnutls_malloc(100), *big = gnutls_malloc(64 * 1024);
    assert_non_null(small);
    assert_non_null(big);
    gnutls_free(small); /* not cached: would not come back for a record */
    gnutls_free(big);
    void *e = gnutls_malloc(64 * 1024); /* out of the class: a fresh block, not a cached one */
    assert_ptr_not_equal(e, a);
    assert_ptr_not_equal(e, b);
    gnutls_free(e);
    gnutls_free(NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, record_buffer_thread, NULL), 0);
    pthread_join(t, NULL);
    nes_tlsio_thread_end(); /* this thread's cached blocks go (ASan checks the leak) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vectors_leave_in_one_send),
        cmocka_unit_test(full_socket_loses_and_reorders_nothing),
        cmocka_unit_test(reads_ahead_and_keeps_bytes_with_their_connection),
        cmocka_unit_test(short_read_means_empty_until_readable),
        cmocka_unit_test(record_buffers_are_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
