/* fieldcrypt.h - field tokens (DESIGN section 4).
 *
 *   K_enc   = HKDF-SHA256(DEK, salt = "", info = "nitro-enc/v1/enc",   32 bytes)
 *   K_nonce = HKDF-SHA256(DEK, salt = "", info = "nitro-enc/v1/nonce", 32 bytes)
 *   N       = HMAC-SHA256(K_nonce, u32be(len(ctx)) || ctx || plaintext)[0..12]
 *   CT      = AES-256-GCM-SIV(K_enc, N, aad = ctx, plaintext)      (ciphertext || tag)
 *   token   = "v1." b64url(N) "." b64url(CT)                        (no padding)
 *
 * A field key is not thread-safe (it carries cipher state): one per thread per DEK. */
#ifndef NES_FIELDCRYPT_H
#define NES_FIELDCRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define NES_DEK_LEN 32
/** The version prefix every v1 token starts with; tokens of other versions are rejected. */
#define NES_TOKEN_PREFIX "v1."
/** Offset of the ciphertext part in a token ("v1.", 16 nonce characters, '.'). */
#define NES_TOKEN_CT_OFFSET 20
/** Length of the shortest token (an empty plaintext: 16 bytes of tag, 22 characters). */
#define NES_TOKEN_MIN_LEN 42

typedef struct nes_fieldkey nes_fieldkey;

/** Derives the subkeys of `dek` (32 bytes) and prepares the cipher and the nonce HMAC. NULL on
 * failure. The caller keeps ownership of `dek`. The field key lives in secure memory; the subkeys
 * are derived there and wiped once the GCM-SIV context and the pre-keyed SHA-256 states exist.
 *
 * Each part picks its implementation here, from the CPU (cpuid), once: the HMAC's pad states are
 * SHA-256 chaining values kept inside the field key (locked memory) and run with SHA-NI
 * (hmac_sha256.h); the GCM-SIV context (gcmsiv.h, also locked memory) uses AES-NI and PCLMULQDQ.
 * On a CPU without one of these, that part falls back: the HMAC to two pre-keyed OpenSSL
 * EVP_MD_CTX states, AES to OpenSSL's EVP, POLYVAL to portable code. OpenSSL allocates its states
 * on the ordinary heap (cleansed when freed); its EVP API offers no way to place them elsewhere.
 * Every choice gives the same tokens. Costs ~50-100 us (two HKDFs, two locked mappings): create
 * field keys once per thread and DEK, not per request. */
nes_fieldkey *nes_fieldkey_new(const uint8_t dek[NES_DEK_LEN]);

/** Fallback selectors for nes_fieldkey_new_impl and nes_fieldkey_fallbacks (bit flags). */
enum {
    NES_FALLBACK_HMAC = 1,    /**< HMAC through OpenSSL's EVP instead of SHA-NI */
    NES_FALLBACK_AES = 2,     /**< AES through OpenSSL's EVP instead of AES-NI */
    NES_FALLBACK_POLYVAL = 4, /**< portable POLYVAL instead of PCLMULQDQ */
    NES_FALLBACK_ALL = 7,
};

/** Test hook: as nes_fieldkey_new, but the parts named in `fallbacks` (NES_FALLBACK_* flags) use
 * their fallback even where the CPU could do better, so that tests run every path on one machine.
 * Production code calls nes_fieldkey_new (fallbacks = 0: the best each CPU offers). */
nes_fieldkey *nes_fieldkey_new_impl(const uint8_t dek[NES_DEK_LEN], unsigned fallbacks);

/** The NES_FALLBACK_* flags in effect for `k`: those asked for plus those the CPU forced. */
unsigned nes_fieldkey_fallbacks(const nes_fieldkey *k);

/** Wipes and frees a field key (NULL is fine). */
void nes_fieldkey_free(nes_fieldkey *k);

/** Exact length in characters of the token for a plaintext of `pt_len` bytes:
 * 20 + ceil(4 * (pt_len + 16) / 3) (prefix, 16 nonce characters, '.', unpadded base64url of the
 * ciphertext and tag). Valid for pt_len <= NES_GCMSIV_MAX_LEN. */
size_t nes_token_len(size_t pt_len);

/** Writes the token of `pt` under context label `ctx` to `out` (nes_token_len(pt_len) bytes, no
 * terminator; `out` must not overlap `pt` or `ctx`). Deterministic: same key, context and
 * plaintext give the same token. Allocates no buffers (the ciphertext is built inside `out`).
 * Returns 0, or -1 when ctx_len exceeds 2^32 - 1 or pt_len NES_GCMSIV_MAX_LEN (nothing written)
 * or the crypto library fails (`out` wiped). */
int nes_token_encrypt(nes_fieldkey *k, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                      size_t pt_len, char *out);

/** Splits and strictly decodes a token: "v1." prefix (other versions are rejected), exactly 16
 * canonical base64url characters of nonce (12 bytes), '.', then canonical base64url of at least
 * 16 bytes of ciphertext and tag; no padding, whitespace or further '.'. `ct` must hold `len`
 * bytes. Returns 0 and sets *ct_len, or -1. Touches no key: callers may parse before choosing
 * one. */
int nes_token_parse(const char *tok, size_t len, uint8_t nonce[12], uint8_t *ct, size_t *ct_len);

/** Authenticates and decrypts parsed token parts (from nes_token_parse) under context `ctx`;
 * writes ct_len - 16 bytes to `out`, which may equal `ct`. Returns NES_OK, or NES_ERR_TOKEN when
 * the tag does not verify under this key and context (out is wiped then). Lets a caller parse a
 * token once and try several keys (each failed attempt in place destroys `ct`, so in-place
 * callers re-parse). */
nes_status nes_token_open(nes_fieldkey *k, const uint8_t *ctx, size_t ctx_len,
                          const uint8_t nonce[12], const uint8_t *ct, size_t ct_len, uint8_t *out);

/** Decrypts a token under context `ctx`. `out` must hold `len` bytes (a plaintext is always
 * shorter than its token) and must not overlap `tok`; the ciphertext is decoded into it and
 * opened in place. Returns NES_OK and sets *out_len; NES_ERR_TOKEN when the token is
 * malformed or does not authenticate under this key and context (out is wiped then). */
nes_status nes_token_decrypt(nes_fieldkey *k, const uint8_t *ctx, size_t ctx_len, const char *tok,
                             size_t len, uint8_t *out, size_t *out_len);

#endif
