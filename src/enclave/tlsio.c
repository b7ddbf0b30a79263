/* tlsio.c - GnuTLS transport functions for client connections (see tlsio.h). */
#include "enclave/tlsio.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "enclave/conns.h"

/* Read-ahead: a request record of up to this size arrives with one recv. */
#define READ_AHEAD 4096
/* Largest record held back: a response header record is 150-400 bytes (kept per connection). */
#define HOLD_MAX 512
/* iovecs on the stack for one push (GnuTLS passes one per queued buffer; more go to the heap). */
#define MAX_IOV 32

/* The thread's read-ahead buffer: bytes [off, len) belong to `owner`. */
static _Thread_local struct {
    nes_tlsio *owner;
    size_t off, len;
    uint8_t buf[READ_AHEAD];
} t_rd;

static nes_tlsio *io_of(gnutls_transport_ptr_t p)
{
    nes_conn *c = nes_conns_get((int)(intptr_t)p);
    return (c != NULL && c->io.attached) ? &c->io : NULL;
}

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
    int fd = (int)(intptr_t)p;
    nes_tlsio *io = io_of(p);
    if (io == NULL || size == 0)
        return recv(fd, data, size, 0);
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
    /* Nothing buffered for this connection: read from the socket. */
    if (size >= READ_AHEAD)
        return recv(fd, data, size, 0);
    if (t_rd.owner != io && spill_thread_buffer() != 0)
        return recv(fd, data, size, 0);
    ssize_t r = recv(fd, t_rd.buf, READ_AHEAD, 0);
    if (r <= 0) {
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
    nes_tlsio *io = io_of(p);
    if (io != NULL && (io->in != NULL || (t_rd.owner == io && t_rd.off < t_rd.len)))
        return 1;
    struct pollfd pfd = {.fd = (int)(intptr_t)p, .events = POLLIN};
    int timeout = ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms;
    return poll(&pfd, 1, timeout);
}

static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t r;
    do
        r = sendmsg(fd, &m, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r;
}

ssize_t nes_tlsio_push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
    int fd = (int)(intptr_t)p;
    nes_tlsio *io = io_of(p);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;

    if (io != NULL && io->armed) {
        io->armed = false;
        if (io->out_len == 0 && total > 0 && total <= HOLD_MAX) {
            if (io->out == NULL && (io->out = malloc(HOLD_MAX)) != NULL)
                io->out_cap = HOLD_MAX;
            if (io->out != NULL) {
                for (int i = 0; i < iovcnt; i++) {
                    memcpy(io->out + io->out_len, iov[i].iov_base, iov[i].iov_len);
                    io->out_len += iov[i].iov_len;
                }
                return (ssize_t)total; /* sent with the next record */
            }
        }
    }

    struct iovec vs[MAX_IOV + 1], *v = vs;
    if (iovcnt > MAX_IOV && (v = malloc(((size_t)iovcnt + 1) * sizeof(*v))) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    int n = 0;
    size_t held = io != NULL ? io->out_len : 0;
    if (held > 0)
        v[n++] = (struct iovec){.iov_base = io->out, .iov_len = held};
    for (int i = 0; i < iovcnt; i++)
        v[n++] = (struct iovec){.iov_base = iov[i].iov_base, .iov_len = iov[i].iov_len};
    ssize_t r = send_iov(fd, v, n);
    if (v != vs)
        free(v);
    if (held == 0 || r < 0)
        return r;
    if ((size_t)r < held) {
        /* The socket buffer is full: keep the rest in front of the data; EPOLLOUT follows. */
        memmove(io->out, io->out + r, held - (size_t)r);
        io->out_len -= (size_t)r;
        errno = EAGAIN;
        return -1;
    }
    io->out_len = 0;
    if ((size_t)r == held && total > 0) {
        errno = EAGAIN; /* short write: the socket buffer is full */
        return -1;
    }
    return r - (ssize_t)held;
}

void nes_tlsio_attach(gnutls_session_t session, int fd)
{
    nes_conn *c = nes_conns_get(fd);
    if (c == NULL)
        return;
    nes_tlsio_closed(&c->io);
    c->io.attached = true;
    gnutls_transport_set_pull_function(session, nes_tlsio_pull);
    gnutls_transport_set_pull_timeout_function(session, nes_tlsio_pull_timeout);
    gnutls_transport_set_vec_push_function(session, nes_tlsio_push);
}

void nes_tlsio_hold_next(nes_tlsio *io)
{
    if (io != NULL && io->attached)
        io->armed = true;
}

void nes_tlsio_cancel_hold(nes_tlsio *io)
{
    if (io != NULL)
        io->armed = false;
}

void nes_tlsio_flush(nes_tlsio *io, int fd)
{
    if (io == NULL)
        return;
    io->armed = false;
    if (io->out_len == 0)
        return;
    ssize_t r;
    do
        r = send(fd, io->out, io->out_len, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r > 0) {
        memmove(io->out, io->out + r, io->out_len - (size_t)r);
        io->out_len -= (size_t)r;
    }
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
    free(io->out);
    memset(io, 0, sizeof(*io));
}
