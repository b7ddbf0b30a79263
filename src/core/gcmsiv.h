/* gcmsiv.h - AES-256-GCM-SIV (RFC 8452) on OpenSSL's AES-256 block cipher and POLYVAL.
 *
 * A context holds one key-generating key plus the cipher state needed per message. It is not
 * thread-safe: each thread makes its own context from the key bytes. */
#ifndef NES_GCMSIV_H
#define NES_GCMSIV_H

#include <stddef.h>
#include <stdint.h>

#define NES_GCMSIV_KEY_LEN 32
#define NES_GCMSIV_NONCE_LEN 12
#define NES_GCMSIV_TAG_LEN 16
/** RFC 8452 limits: plaintext and AAD at most 2^36 bytes. */
#define NES_GCMSIV_MAX_LEN ((uint64_t)1 << 36)

typedef struct nes_gcmsiv nes_gcmsiv;

/** Creates a context for `key` (32 bytes). Returns NULL when allocation or OpenSSL fails. */
nes_gcmsiv *nes_gcmsiv_new(const uint8_t key[NES_GCMSIV_KEY_LEN]);

/** Wipes and frees a context (NULL is fine). */
void nes_gcmsiv_free(nes_gcmsiv *ctx);

/** Encrypts `pt` (pt_len bytes) with `nonce` and `aad`; writes pt_len + 16 bytes (ciphertext then
 * tag) to `out`. `out` may equal `pt`. Returns 0, or -1 when a length exceeds the RFC limits or
 * OpenSSL fails. */
int nes_gcmsiv_seal(nes_gcmsiv *ctx, const uint8_t nonce[NES_GCMSIV_NONCE_LEN], const uint8_t *aad,
                    size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *out);

/** Decrypts and authenticates `ct` (ct_len >= 16 bytes: ciphertext then tag); writes ct_len - 16
 * bytes to `out`. `out` may equal `ct`. Returns 0, or -1 when the tag does not verify (out is
 * wiped then) or the input is malformed. */
int nes_gcmsiv_open(nes_gcmsiv *ctx, const uint8_t nonce[NES_GCMSIV_NONCE_LEN], const uint8_t *aad,
                    size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *out);

#endif
