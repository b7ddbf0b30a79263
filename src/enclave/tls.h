/* tls.h - the server's certificate and key (DESIGN section 2): PEM files or a pkcs11: URI that
 * GnuTLS opens through p11-kit (ACM for Nitro Enclaves' p11ne, SoftHSM2 in tests).
 *
 * A credential set (certificate chain + key) is reference-counted. The current set is swapped
 * on reload; each new TLS session takes a reference (nes_tls_acquire) that its connection keeps
 * until it closes, because GnuTLS keeps pointing at what the certificate callback returned.
 * A reload whose pair does not match (sign + verify check) keeps the old set. */
#ifndef NES_ENCLAVE_TLS_H
#define NES_ENCLAVE_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nes_creds nes_creds;

/** Initialises GnuTLS and, when `pkcs11_module` is set, loads that PKCS#11 module (else the
 * modules p11-kit is configured with, if a pkcs11: URI is used). The PIN comes from `pin` or
 * the first line of `pin_file` (both may be NULL). `key_handles` is how many private-key
 * handles to open per pkcs11: key (one per worker avoids GnuTLS' per-key lock). 0 or -1. */
int nes_tls_init(const char *pkcs11_module, const char *pin, const char *pin_file,
                 unsigned key_handles, char *why, size_t why_len);

/** Releases GnuTLS global state. */
void nes_tls_deinit(void);

/** Loads a chain from `cert` (PEM file or pkcs11: URI) and the key from `key` (PEM file or
 * pkcs11: URI) and checks that they match. NULL with a reason on failure. */
nes_creds *nes_creds_load(const char *cert, const char *key, char *why, size_t why_len);

/** Drops a reference (NULL is fine); the last one frees the set. */
void nes_creds_release(nes_creds *c);

/** The chain and a key handle of `c` (the handle is chosen per calling thread). */
void nes_creds_get(nes_creds *c, gnutls_pcert_st **certs, unsigned *ncerts, gnutls_privkey_t *key);

/** Subject and expiry of the leaf, for logs ("CN=…, expires …"). */
const char *nes_creds_describe(const nes_creds *c);

/** Installs `c` as the current set (ownership of one reference passes). The previous set is
 * released once no session can still be taking a reference to it. */
void nes_tls_install(nes_creds *c);

/** Loads and installs a new set from `cert` + `key`. 0, or -1 (old set kept, reason in why). */
int nes_tls_reload(const char *cert, const char *key, char *why, size_t why_len);

/** A new reference to the current set (NULL when none is installed). Lock-free. */
nes_creds *nes_tls_acquire(void);

/** Finishes deferred releases of replaced sets; call periodically (reload thread). */
void nes_tls_tick(void);

/** Releases the current set and anything deferred (at exit, after the server stopped). */
void nes_tls_shutdown(void);

/** Identity of a file for change detection (device, inode, size, mtime). */
typedef struct nes_file_stamp {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    bool exists;
} nes_file_stamp;

/** Fills `st` for `path` (a pkcs11: URI or missing file gives exists = false). */
void nes_file_stamp_get(const char *path, nes_file_stamp *st);

/** True when the two stamps differ. */
bool nes_file_stamp_changed(const nes_file_stamp *a, const nes_file_stamp *b);

/** Creates a local CA and a leaf certificate it signs, both ECDSA P-256 for one year: the leaf
 * is a proper end-entity certificate (CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
 * serverAuth, SAN DNS:localhost, IP:127.0.0.1 and ::1) that strict verifiers (pyca/cryptography,
 * rustls) accept. `cert_path` (0644) gets the chain, leaf then CA (clients trust the file or its
 * last certificate); `key_path` (0600) the leaf's key. The CA's key is never written: it signs
 * this leaf and is dropped. 0 or -1. */
int nes_tls_selfsigned(const char *cert_path, const char *key_path, char *why, size_t why_len);

/** Generates the process' session-ticket key (TLS resumption). 0 or -1. */
int nes_tls_ticket_key_init(void);

/** Enables session tickets on a new server session with the process' ticket key. */
void nes_tls_enable_tickets(gnutls_session_t session);

/** Verifies the peer certificate of `session` against the trust set of its credentials for the
 * TLS-client purpose and, when valid, checks its identities (subject CN, DNS, URI and e-mail
 * SANs) against `allowed` (n entries). Returns 1 when allowed, 0 when not (no certificate,
 * invalid, or no identity listed). `who` receives the matched identity or the CN seen (for the
 * access log; an identity is not a secret). */
int nes_tls_peer_allowed(gnutls_session_t session, char *const *allowed, size_t n, char *who,
                         size_t who_len);

#endif
