/* aesni.h - AES-256 encryption with the x86 AES-NI instructions, for gcmsiv.c's per-message work.
 *
 * GCM-SIV re-keys AES for every message (RFC 8452 section 4): six blocks under the key-generating
 * key, a fresh AES-256 key schedule, the tag block, then counter mode. Through OpenSSL's EVP each
 * step is a library call with parameter handling; with AES-NI it is a few dozen instructions.
 * gcmsiv.c picks this back end at context creation when nes_aesni_available() is true and keeps
 * OpenSSL's as the fallback (both always built, both tested).
 *
 * Only encryption is provided (GCM-SIV never decrypts blocks). Key schedules are secret: callers
 * keep them in locked memory and wipe them. Nothing here may be called when
 * nes_aesni_available() is false. Pure code: no allocation, no I/O, no globals. */
#ifndef NES_AESNI_H
#define NES_AESNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** An expanded AES-256 encryption key: 15 round keys. */
typedef struct nes_aes256_ks {
    _Alignas(16) uint8_t rk[15][16];
} nes_aes256_ks;

/** True when this CPU has AES-NI (and the SSE4.1 and SSSE3 the code uses). Always false off x86. */
bool nes_aesni_available(void);

/** Expands the 32-byte `key` into *ks. */
void nes_aesni_expand(nes_aes256_ks *ks, const uint8_t key[32]);

/** Encrypts one block; in == out is allowed. */
void nes_aesni_encrypt_block(const nes_aes256_ks *ks, const uint8_t in[16], uint8_t out[16]);

/** RFC 8452 section 4's per-nonce key derivation under the key-generating key `kgk`: encrypts
 * the six blocks LE32(i) || nonce and writes the POLYVAL key (first 8 bytes of blocks 0 and 1) to
 * `auth_key` and the message's AES-256 key (first 8 bytes of blocks 2-5) to `enc_key`. */
void nes_aesni_gcmsiv_derive(const nes_aes256_ks *kgk, const uint8_t nonce[12],
                             uint8_t auth_key[16], uint8_t enc_key[32]);

/** Expands `key` into *ks and encrypts the block `in` under it into `out` in the same pass (each
 * round runs as soon as its round key exists): GCM-SIV's tag, the first use of a message key. */
void nes_aesni_expand_encrypt(nes_aes256_ks *ks, const uint8_t key[32], const uint8_t in[16],
                              uint8_t out[16]);

/** Encrypts `n` 16-byte blocks (ECB); in == out is allowed. */
void nes_aesni_encrypt_blocks(const nes_aes256_ks *ks, const uint8_t *in, uint8_t *out, size_t n);

/** RFC 8452's counter mode: out = in ^ keystream, `len` bytes (any length), where block i of
 * the keystream is AES(ctr0 with its first 32 bits, read little-endian, plus i mod 2^32). in ==
 * out is allowed; other overlaps are not. The stack buffer of a final partial block is wiped. */
void nes_aesni_ctr32le(const nes_aes256_ks *ks, const uint8_t ctr0[16], const uint8_t *in,
                       uint8_t *out, size_t len);

#endif
