/* gcmsiv.h - AES-256-GCM-SIV (RFC 8452) on AES-256 and POLYVAL.
 *
 * AES comes from one of two back ends, chosen when a context is created: AES-NI instructions
 * (aesni.c) where the CPU has them, else OpenSSL's EVP (ECB mode). Both are always built and both
 * are tested; they give identical results. POLYVAL has its own choice (polyval.h).
 *
 * A context holds one key-generating key plus the cipher state needed per message. It lives in
 * locked memory (nes_secure_alloc): the AES-NI key schedules of the key-generating key and of the
 * last message key are there; the OpenSSL back end's EVP contexts are on OpenSSL's heap (cleansed
 * when freed). It is not thread-safe: each thread makes its own context from the key bytes. */
#ifndef NES_GCMSIV_H
#define NES_GCMSIV_H

#include <stddef.h>
#include <stdint.h>

#include "core/polyval.h"

#define NES_GCMSIV_KEY_LEN 32
#define NES_GCMSIV_NONCE_LEN 12
#define NES_GCMSIV_TAG_LEN 16
/** RFC 8452 limits: plaintext and AAD at most 2^36 bytes. */
#define NES_GCMSIV_MAX_LEN ((uint64_t)1 << 36)

typedef struct nes_gcmsiv nes_gcmsiv;

/** Which AES back end a context uses. */
typedef enum nes_aes_impl {
    NES_AES_AUTO = 0, /**< AES-NI when available, else OpenSSL */
    NES_AES_OPENSSL,  /**< OpenSSL's EVP AES-256-ECB (the fallback) */
    NES_AES_NI,       /**< AES-NI instructions (aesni.h) */
} nes_aes_impl;

/** Creates a context for `key` (32 bytes) with the automatic AES back end. Returns NULL when
 * allocation or OpenSSL fails. Costs an mmap (locked memory): create contexts per key and
 * thread, not per message. */
nes_gcmsiv *nes_gcmsiv_new(const uint8_t key[NES_GCMSIV_KEY_LEN]);

/** As nes_gcmsiv_new with a chosen AES back end: the tests run every vector through each one.
 * Asking for NES_AES_NI on a CPU without AES-NI gives the OpenSSL back end (see
 * nes_gcmsiv_aes_impl). */
nes_gcmsiv *nes_gcmsiv_new_impl(const uint8_t key[NES_GCMSIV_KEY_LEN], nes_aes_impl impl);

/** The back end this context uses: NES_AES_OPENSSL or NES_AES_NI (never AUTO). */
nes_aes_impl nes_gcmsiv_aes_impl(const nes_gcmsiv *ctx);

/** Wipes and frees a context (NULL is fine). */
void nes_gcmsiv_free(nes_gcmsiv *ctx);

/** Encrypts `pt` (pt_len bytes) with `nonce` and `aad`; writes pt_len + 16 bytes (ciphertext then
 * tag) to `out`. `out` may equal `pt` (in place); other overlaps are not allowed. `aad` and `pt`
 * may be NULL when their length is 0. Returns 0, or -1 when an argument is NULL, a length exceeds
 * the RFC limits (nothing is written then) or OpenSSL fails (out's content is unspecified). */
int nes_gcmsiv_seal(nes_gcmsiv *ctx, const uint8_t nonce[NES_GCMSIV_NONCE_LEN], const uint8_t *aad,
                    size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *out);

/** Decrypts and authenticates `ct` (ct_len >= 16 bytes: ciphertext then tag); writes ct_len - 16
 * bytes to `out`. `out` may equal `ct` (in place); other overlaps are not allowed. `aad` may be
 * NULL when aad_len is 0, `out` when ct_len is 16. The tag is compared in constant time. Returns 0,
 * or -1 when the tag does not verify (the ct_len - 16 bytes of out are zeroed then), the input is
 * malformed or over the RFC limits (nothing is written then), or OpenSSL fails. */
int nes_gcmsiv_open(nes_gcmsiv *ctx, const uint8_t nonce[NES_GCMSIV_NONCE_LEN], const uint8_t *aad,
                    size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *out);

/** Test hook: selects the POLYVAL implementation this context uses (default NES_POLYVAL_AUTO) so
 * the tests can run the whole AEAD over the portable code as well as PCLMULQDQ. Results are the
 * same for every choice; production code has no reason to call it. */
void nes_gcmsiv_set_polyval_impl(nes_gcmsiv *ctx, nes_polyval_impl impl);

#endif
