/* hmac_sha256.h - HMAC-SHA256 (RFC 2104) from precomputed pad states, for the per-field nonce.
 *
 * A field token's nonce is an HMAC under a fixed key (DESIGN section 4), so everything that
 * depends only on the key is done once: nes_hmac_sha256_init absorbs K ^ ipad and K ^ opad and
 * keeps the two SHA-256 chaining values (64 bytes) in the caller's structure, which the caller
 * places in locked memory (fieldcrypt.c keeps it inside its nes_secure_alloc'd field key) and
 * wipes with nes_hmac_sha256_wipe. A MAC then costs the message's blocks plus one outer block,
 * with no allocation and no library call.
 *
 * The SHA-256 compression uses the x86 SHA extensions (SHA-NI: sha256rnds2, sha256msg1/2). On a
 * CPU without them (or off x86) nes_hmac_sha256_available() is false and nothing else here may be
 * called; callers then compute the HMAC with OpenSSL (fieldcrypt.c keeps pre-keyed EVP_MD_CTX
 * states for that). Pure code: no I/O, no globals beyond the CPU feature query. */
#ifndef NES_HMAC_SHA256_H
#define NES_HMAC_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NES_HMAC_SHA256_LEN 32
/** Longest key nes_hmac_sha256_init takes (one SHA-256 block; longer keys would be hashed first,
 * which the field tokens never need). */
#define NES_HMAC_SHA256_MAX_KEY 64

/** The SHA-256 chaining values after the inner and the outer pad block. Secret: a function of
 * the key alone that lets anyone compute MACs. */
typedef struct nes_hmac_sha256_key {
    uint32_t inner[8];
    uint32_t outer[8];
} nes_hmac_sha256_key;

/** True when this CPU has SHA-NI (and the SSE4.1/SSSE3 the code also uses). Always false off x86.
 */
bool nes_hmac_sha256_available(void);

/** Computes the pad states of `key` (key_len <= NES_HMAC_SHA256_MAX_KEY) into *k. Requires
 * nes_hmac_sha256_available(). The pad blocks built on the stack are wiped. */
void nes_hmac_sha256_init(nes_hmac_sha256_key *k, const uint8_t *key, size_t key_len);

/** out = HMAC-SHA256(key, a || b || c): the message in three parts so that callers need not
 * concatenate (the nonce's u32be(len(ctx)) || ctx || plaintext). A part may be NULL when its length
 * is 0. Requires nes_hmac_sha256_available(). The stack copies of message bytes and the inner
 * hash are wiped before returning. */
void nes_hmac_sha256_3(const nes_hmac_sha256_key *k, const uint8_t *a, size_t a_len,
                       const uint8_t *b, size_t b_len, const uint8_t *c, size_t c_len,
                       uint8_t out[NES_HMAC_SHA256_LEN]);

/** Wipes *k (explicit_bzero). */
void nes_hmac_sha256_wipe(nes_hmac_sha256_key *k);

#endif
