/* tlsio.h - the GnuTLS transport of client connections: one recv per small request record, one
 * sendmsg per batch of records.
 *
 * GnuTLS reads each record with two recv calls (the 5-byte record header, then the rest). The
 * pull function here reads up to 4 KiB ahead into a per-thread buffer, so a small record's header
 * and body come from one recv. EAGAIN is only reported when nothing is buffered, so a connection
 * that reads until EAGAIN (the edge-triggered rule, net/loop.h) never waits on data that is
 * already read; bytes left over for a connection (pipelined data) move to its own heap buffer
 * when another connection of the thread needs the read buffer. GnuTLS also answers
 * GNUTLS_E_AGAIN after it handled a TLS 1.3 post-handshake message (session ticket, key update)
 * with more records still unread, so `drained` records whether the socket itself said EAGAIN: an
 * edge-triggered reader stops only then.
 *
 * A recv that returns fewer bytes than asked for found the socket empty; with edge-triggered
 * epoll any byte arriving later raises a new event. So after a short recv the pull answers EAGAIN
 * without a syscall until the connection reports readiness again (nes_tlsio_readable), which
 * saves the recv that would only say EAGAIN (one syscall per request; nginx does the same).
 * The push function sends GnuTLS'
 * queued records with one sendmsg (MSG_NOSIGNAL; one send when GnuTLS passes a single buffer, as
 * it does for one record); a short send is GnuTLS' to resume. recv and send go through
 * syscall(2): glibc's wrappers are cancellation points that cost two calls more each, and the
 * worker threads are never cancelled.
 *
 * Writes are coalesced one level up: the connection assembles a whole response (or several
 * pipelined ones) in one buffer and hands it to gnutls_record_send at once, so a response up to
 * 16 KiB is one record and one sendmsg.
 *
 * Every function runs on the thread that owns the connection. */
#ifndef NES_ENCLAVE_TLSIO_H
#define NES_ENCLAVE_TLSIO_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Per-connection transport state (part of the connection, zero when unused). */
typedef struct nes_tlsio {
    int fd;
    bool drained; /* the last pull found the socket empty (EAGAIN) */
    bool empty;   /* a recv came back short since the last readiness event: the socket is empty */
    uint8_t *in;  /* bytes read ahead for this connection (moved out of the thread buffer) */
    size_t in_off, in_len;
} nes_tlsio;

/** Installs the transport functions on `session`, with `io` (for socket `fd`) as the transport
 * pointer. */
void nes_tlsio_attach(nes_tlsio *io, gnutls_session_t session, int fd);

/** The transport functions nes_tlsio_attach installs (the transport pointer is the nes_tlsio).
 * Exposed for the tests. */
ssize_t nes_tlsio_pull(gnutls_transport_ptr_t io, void *data, size_t size);
/** GnuTLS' pull-timeout function: 1 when bytes are buffered or the socket is readable. */
int nes_tlsio_pull_timeout(gnutls_transport_ptr_t io, unsigned int ms);
/** GnuTLS' vector push function: one sendmsg. */
ssize_t nes_tlsio_push(gnutls_transport_ptr_t io, const giovec_t *iov, int iovcnt);

/** True when a pull would answer EAGAIN without a syscall: nothing is read ahead for the
 * connection and the socket was found empty since its last readiness event. A reader that also
 * finds nothing decrypted pending in the session (gnutls_record_check_pending) can stop without
 * calling gnutls_record_recv, which allocates and frees a record-sized buffer only to learn
 * that the pull has nothing (one such call per request otherwise). */
bool nes_tlsio_known_empty(const nes_tlsio *io);

/** The socket reported readiness (an epoll event): the next pull reads it again. */
void nes_tlsio_readable(nes_tlsio *io);

/** The connection closed (its session is gone): drops what it still buffers. */
void nes_tlsio_closed(nes_tlsio *io);

/** GnuTLS allocates a buffer of a whole record (~16.5 KiB) for every record it reads, decrypts
 * or sends and frees it soon after: five malloc/free pairs per request through glibc's
 * large-chunk path. This points GnuTLS' allocation hooks (the exported gnutls_malloc and
 * gnutls_free it calls through) at a per-thread cache of up to 4 such blocks in front of malloc
 * and free; every block is an ordinary malloc block, so any free path stays valid. A thread's
 * cache is freed when the thread exits. Call once, before GnuTLS is used from several threads. */
void nes_tlsio_install_allocator(void);

/** Frees the calling thread's cached record buffers now (the thread-exit destructor does it
 * for threads that end; this is for a caller that wants them back earlier). */
void nes_tlsio_thread_end(void);

#endif
