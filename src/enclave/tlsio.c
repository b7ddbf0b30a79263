/* tlsio.c - GnuTLS transport functions for client connections (see tlsio.h). */
#include "enclave/tlsio.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* recv and send without glibc's cancellation-point bookkeeping around the system call (two
 * more calls per recv or send; the worker threads are never cancelled). */
static ssize_t sys_recv(int fd, void *buf, size_t n)
{
    return (ssize_t)syscall(SYS_recvfrom, fd, buf, n, 0, NULL, NULL);
}

static ssize_t sys_send(int fd, const void *buf, size_t n)
{
    return (ssize_t)syscall(SYS_sendto, fd, buf, n, MSG_NOSIGNAL, NULL, 0);
}

/* Read-ahead: a request record of up to this size arrives with one recv. */
#define READ_AHEAD 4096
/* iovecs on the stack for one push (GnuTLS passes one per queued buffer; more go to the heap). */
#define MAX_IOV 32

/* The thread's read-ahead buffer: bytes [off, len) belong to `owner`. */
static _Thread_local struct {
    nes_tlsio *owner;
    size_t off, len;
    uint8_t buf[READ_AHEAD];
} t_rd;

/* Moves another connection's leftover out of the thread buffer into its own heap buffer. 0, or
 * -1 when out of memory (the leftover stays put). */
static int spill_thread_buffer(void)
{
    nes_tlsio *o = t_rd.owner;
    if (o == NULL || t_rd.off == t_rd.len) {
        t_rd.owner = NULL;
        t_rd.off = t_rd.len = 0;
        return 0;
    }
    size_t n = t_rd.len - t_rd.off;
    uint8_t *p = malloc(n);
    if (p == NULL)
        return -1;
    memcpy(p, t_rd.buf + t_rd.off, n);
    o->in = p; /* empty before: a connection's own leftover is always read first */
    o->in_off = 0;
    o->in_len = n;
    t_rd.owner = NULL;
    t_rd.off = t_rd.len = 0;
    return 0;
}

static size_t take(uint8_t *dst, size_t want, const uint8_t *src, size_t *off, size_t len)
{
    size_t n = len - *off < want ? len - *off : want;
    memcpy(dst, src + *off, n);
    *off += n;
    return n;
}

ssize_t nes_tlsio_pull(gnutls_transport_ptr_t p, void *data, size_t size)
{
    nes_tlsio *io = p;
    io->drained = false;
    if (size == 0)
        return sys_recv(io->fd, data, size);
    if (io->in != NULL) {
        size_t n = take(data, size, io->in, &io->in_off, io->in_len);
        if (io->in_off == io->in_len) {
            free(io->in);
            io->in = NULL;
            io->in_off = io->in_len = 0;
        }
        return (ssize_t)n;
    }
    if (t_rd.owner == io && t_rd.off < t_rd.len)
        return (ssize_t)take(data, size, t_rd.buf, &t_rd.off, t_rd.len);
    /* Nothing buffered for this connection: read from the socket, unless it is known empty. */
    if (io->empty) {
        io->drained = true;
        errno = EAGAIN;
        return -1;
    }
    ssize_t r;
    if (size >= READ_AHEAD || (t_rd.owner != io && spill_thread_buffer() != 0)) {
        r = sys_recv(io->fd, data, size);
        io->drained = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        io->empty = io->drained || (r > 0 && (size_t)r < size);
        return r;
    }
    r = sys_recv(io->fd, t_rd.buf, READ_AHEAD);
    io->empty = r > 0 && r < READ_AHEAD;
    if (r <= 0) {
        io->drained = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        io->empty = io->drained;
        t_rd.owner = NULL;
        t_rd.off = t_rd.len = 0;
        return r;
    }
    t_rd.owner = io;
    t_rd.off = 0;
    t_rd.len = (size_t)r;
    return (ssize_t)take(data, size, t_rd.buf, &t_rd.off, t_rd.len);
}

int nes_tlsio_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
    nes_tlsio *io = p;
    if (io->in != NULL || (t_rd.owner == io && t_rd.off < t_rd.len))
        return 1;
    struct pollfd pfd = {.fd = io->fd, .events = POLLIN};
    int timeout = ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms;
    return poll(&pfd, 1, timeout);
}

ssize_t nes_tlsio_push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
    nes_tlsio *io = p;
    if (iovcnt == 1) {
        /* the usual push (one record): send() skips sendmsg's copy-in of the header and the
         * vector in the kernel */
        ssize_t r;
        do
            r = sys_send(io->fd, iov[0].iov_base, iov[0].iov_len);
        while (r < 0 && errno == EINTR);
        return r;
    }
    struct iovec vs[MAX_IOV], *v = vs;
    if (iovcnt > MAX_IOV && (v = malloc((size_t)iovcnt * sizeof(*v))) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    for (int i = 0; i < iovcnt; i++)
        v[i] = (struct iovec){.iov_base = iov[i].iov_base, .iov_len = iov[i].iov_len};
    struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)iovcnt};
    ssize_t r;
    do
        r = sendmsg(io->fd, &m, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (v != vs) {
        int e = errno;
        free(v);
        errno = e;
    }
    return r;
}

void nes_tlsio_attach(nes_tlsio *io, gnutls_session_t session, int fd)
{
    nes_tlsio_closed(io);
    io->fd = fd;
    gnutls_transport_set_ptr(session, io);
    gnutls_transport_set_pull_function(session, nes_tlsio_pull);
    gnutls_transport_set_pull_timeout_function(session, nes_tlsio_pull_timeout);
    gnutls_transport_set_vec_push_function(session, nes_tlsio_push);
}

bool nes_tlsio_known_empty(const nes_tlsio *io)
{
    return io->empty && io->in == NULL && !(t_rd.owner == io && t_rd.off < t_rd.len);
}

void nes_tlsio_readable(nes_tlsio *io)
{
    io->empty = false;
}

void nes_tlsio_closed(nes_tlsio *io)
{
    if (io == NULL)
        return;
    if (t_rd.owner == io) {
        t_rd.owner = NULL;
        t_rd.off = t_rd.len = 0;
    }
    free(io->in);
    memset(io, 0, sizeof(*io));
    io->fd = -1;
}

/* ---- GnuTLS' record buffers ------------------------------------------------------------ */

/* A block of this usable size is one of GnuTLS' record buffers (16 KiB of record plus its
 * headers and alignment): cached. */
#define REC_MIN ((size_t)16 * 1024)
#define REC_MAX ((size_t)20 * 1024)
#define REC_CACHE 4

typedef struct rec_cache {
    void *p[REC_CACHE];
    unsigned n;
    bool registered; /* the thread-exit destructor knows this thread's cache */
} rec_cache;

static _Thread_local rec_cache t_rec;
static pthread_key_t g_rec_key;
static pthread_once_t g_rec_once = PTHREAD_ONCE_INIT;

static void rec_cache_drop(void *arg)
{
    rec_cache *c = arg;
    while (c->n > 0)
        free(c->p[--c->n]);
}

static void rec_key_make(void)
{
    (void)pthread_key_create(&g_rec_key, rec_cache_drop);
}

static void *rec_malloc(size_t size)
{
    if (size >= REC_MIN && size <= REC_MAX && t_rec.n > 0) {
        void *p = t_rec.p[--t_rec.n];
        if (malloc_usable_size(p) >= size)
            return p;
        free(p);
    }
    return malloc(size);
}

static void rec_free(void *p)
{
    if (p == NULL)
        return;
    if (t_rec.n < REC_CACHE) {
        size_t u = malloc_usable_size(p);
        if (u >= REC_MIN && u <= REC_MAX) {
            if (!t_rec.registered) {
                t_rec.registered = true;
                (void)pthread_setspecific(g_rec_key, &t_rec);
            }
            t_rec.p[t_rec.n++] = p;
            return;
        }
    }
    free(p);
}

void nes_tlsio_install_allocator(void)
{
    pthread_once(&g_rec_once, rec_key_make);
    gnutls_malloc = rec_malloc;
    gnutls_free = rec_free;
}

void nes_tlsio_thread_end(void)
{
    rec_cache_drop(&t_rec);
}
