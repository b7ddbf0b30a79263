/* tlsio.h - the GnuTLS transport of client connections: one send per small response and one
 * recv per small request record.
 *
 * libmicrohttpd 0.9.75 sends a response's header and body with two gnutls_record_send calls,
 * so a 1 KiB answer left as two TLS records in two sendmsg calls and two TCP segments (the peer
 * woke twice), and GnuTLS reads each record with two recv calls (the 5-byte record header, then
 * the rest). These transport functions, installed on every session when the connection starts:
 *
 *  - push: after nes_tlsio_hold_next, the next record pushed (the response header, a few
 *    hundred bytes) is kept back and goes out in the same sendmsg as the record after it (the
 *    body). It is only armed for a response that has a body to send, so a record always follows
 *    the held one; whatever the kernel does not take stays queued in front of later data, and
 *    the push reports EAGAIN while any of it is left, so libmicrohttpd waits for EPOLLOUT
 *    exactly as with the plain transport (a short write means the socket buffer is full).
 *  - pull: reads up to 4 KiB ahead into a per-thread buffer, so a small record's header and
 *    body come from one recv. EAGAIN is only reported when nothing is buffered, so the
 *    daemon's edge-triggered epoll never waits on data that is already read; bytes left over
 *    for a connection (pipelined data) move to its own heap buffer when another connection of
 *    the thread needs the read buffer.
 *
 * Every function runs on the daemon thread that owns the connection (libmicrohttpd keeps a
 * connection on one worker), which is also the thread the request handler runs on. */
#ifndef NES_ENCLAVE_TLSIO_H
#define NES_ENCLAVE_TLSIO_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Per-connection transport state (part of the connection record, zero when unused). */
typedef struct nes_tlsio {
    bool attached; /* our functions are installed on this connection's session */
    bool armed;    /* hold the next record pushed */
    uint8_t *out;  /* bytes accepted from GnuTLS, not yet taken by the kernel */
    size_t out_len, out_cap;
    uint8_t *in; /* bytes read ahead for this connection (moved out of the thread buffer) */
    size_t in_off, in_len;
} nes_tlsio;

/** Installs the transport functions on `session` of the connection on socket `fd` (whose
 * record is nes_conns_get(fd)); the transport pointer stays the fd. */
void nes_tlsio_attach(gnutls_session_t session, int fd);

/** Hold the next record pushed on this connection until the record after it is pushed. Call it
 * only when a response with a non-empty body to send was just queued. */
void nes_tlsio_hold_next(nes_tlsio *io);

/** Undoes nes_tlsio_hold_next when the response could not be queued. */
void nes_tlsio_cancel_hold(nes_tlsio *io);

/** Sends what is still held (non-blocking, best effort). Called when a response completed: in
 * the normal flow nothing is held then; this covers a response whose body the daemon did not
 * send after all. */
void nes_tlsio_flush(nes_tlsio *io, int fd);

/** The transport functions nes_tlsio_attach installs (the transport pointer is the fd; a
 * connection whose record is not attached gets plain recv/sendmsg). Exposed for the tests. */
ssize_t nes_tlsio_pull(gnutls_transport_ptr_t fd, void *data, size_t size);
int nes_tlsio_pull_timeout(gnutls_transport_ptr_t fd, unsigned int ms);
ssize_t nes_tlsio_push(gnutls_transport_ptr_t fd, const giovec_t *iov, int iovcnt);

/** The connection closed (its session is gone): drops what it still buffers. */
void nes_tlsio_closed(nes_tlsio *io);

#endif
