/* gcmsiv.c - AES-256-GCM-SIV (RFC 8452) on AES-256 (AES-NI, or OpenSSL's EVP in ECB mode) and
 * POLYVAL.
 *
 * Per message (RFC 8452 section 4):
 *   1. record keys: AES_K(LE32(i) || N) for i = 0..5, first 8 bytes of each; blocks 0-1 give the
 *      POLYVAL key, blocks 2-5 the AES-256 encryption key. One ECB call over the six blocks with
 *      the context kept keyed with the key-generating key.
 *   2. S = POLYVAL(auth key, pad(AAD) || pad(M) || LE64(bits(AAD)) || LE64(bits(M))),
 *      tag = AES_enc(S ^ (N || 0^32) with bit 127 cleared).
 *   3. CTR: block i = tag with bit 127 set and its first 4 bytes replaced by
 *      LE32(LE32(tag[0..3]) + i mod 2^32). OpenSSL's CTR mode counts big-endian over the whole
 *      block, so with OpenSSL the keystream comes from ECB over batches of counter blocks; the
 *      AES-NI back end has this counter mode itself (nes_aesni_ctr32le).
 * With OpenSSL the encryption-key context is re-keyed per message without a cipher fetch; with
 * AES-NI the message key is expanded into ctx->enc_ks (no library call per message). */
#include "core/gcmsiv.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/aesni.h"
#include "core/polyval.h"
#include "core/secmem.h"

/* Counter blocks per ECB call: 64 blocks (1 KiB of keystream on the stack), so fields up to 1 KiB
 * take one call. */
#define CTR_BATCH 64

struct nes_gcmsiv {
    /* AES-NI back end (aes == NES_AES_NI) */
    nes_aes256_ks kgk_ks; /* key-generating key */
    nes_aes256_ks enc_ks; /* the last message's encryption key, expanded */
    uint8_t enc_key[32];  /* ... and as derived (kept here, in locked memory, until the next) */
    nes_aes_impl aes;     /* resolved: NES_AES_OPENSSL or NES_AES_NI */
    /* OpenSSL back end (aes == NES_AES_OPENSSL; both NULL otherwise) */
    EVP_CIPHER_CTX *kgk; /* AES-256-ECB keyed with the key-generating key */
    /* AES-256-ECB re-keyed with each message's encryption key. Unlike kgk it keeps OpenSSL's
     * default padding flag on purpose: OpenSSL 3.0 re-applies a "no padding" setting through an
     * OSSL_PARAM round trip on every EVP_EncryptInit_ex, which made re-keying cost ~90-110 ns
     * instead of ~53 ns. Padding only matters to EVP_EncryptFinal_ex, which is never called;
     * encrypt-direction updates over whole blocks emit every block, and ecb() checks that. */
    EVP_CIPHER_CTX *enc;
    nes_polyval_impl polyval; /* implementation handed to nes_polyval_init */
};

static void store32_le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t load32_le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ECB-encrypts `len` bytes (a multiple of 16, at most INT_MAX); in == out is allowed. */
static int ecb(EVP_CIPHER_CTX *c, const uint8_t *in, size_t len, uint8_t *out)
{
    int outl = 0;
    return EVP_EncryptUpdate(c, out, &outl, in, (int)len) == 1 && (size_t)outl == len ? 0 : -1;
}

nes_gcmsiv *nes_gcmsiv_new(const uint8_t key[NES_GCMSIV_KEY_LEN])
{
    return nes_gcmsiv_new_impl(key, NES_AES_AUTO);
}

nes_gcmsiv *nes_gcmsiv_new_impl(const uint8_t key[NES_GCMSIV_KEY_LEN], nes_aes_impl impl)
{
    nes_gcmsiv *ctx = nes_secure_alloc(sizeof *ctx);
    if (ctx == NULL)
        return NULL;
    ctx->polyval = NES_POLYVAL_AUTO;
    if (impl != NES_AES_OPENSSL && nes_aesni_available()) {
        ctx->aes = NES_AES_NI;
        nes_aesni_expand(&ctx->kgk_ks, key);
        return ctx;
    }
    ctx->aes = NES_AES_OPENSSL;
    ctx->kgk = EVP_CIPHER_CTX_new();
    ctx->enc = EVP_CIPHER_CTX_new();
    if (ctx->kgk == NULL || ctx->enc == NULL ||
        EVP_EncryptInit_ex(ctx->kgk, EVP_aes_256_ecb(), NULL, key, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx->kgk, 0) != 1 ||
        EVP_EncryptInit_ex(ctx->enc, EVP_aes_256_ecb(), NULL, NULL, NULL) != 1) {
        nes_gcmsiv_free(ctx);
        return NULL;
    }
    return ctx;
}

void nes_gcmsiv_free(nes_gcmsiv *ctx)
{
    if (ctx == NULL)
        return;
    EVP_CIPHER_CTX_free(ctx->kgk); /* EVP cleanses its key schedules */
    EVP_CIPHER_CTX_free(ctx->enc);
    nes_secure_free(ctx, sizeof *ctx); /* wipes the AES-NI key schedules */
}

nes_aes_impl nes_gcmsiv_aes_impl(const nes_gcmsiv *ctx)
{
    return ctx->aes;
}

void nes_gcmsiv_set_polyval_impl(nes_gcmsiv *ctx, nes_polyval_impl impl)
{
    ctx->polyval = impl;
}

/* Derives the message's POLYVAL key and keys the encryption back end with its encryption key. */
static int derive_keys(nes_gcmsiv *ctx, const uint8_t nonce[NES_GCMSIV_NONCE_LEN],
                       uint8_t auth_key[16])
{
    if (ctx->aes == NES_AES_NI) {
        nes_aesni_gcmsiv_derive(&ctx->kgk_ks, nonce, auth_key, ctx->enc_key);
        return 0; /* the key is expanded together with the tag's encryption (compute_tag) */
    }
    uint8_t blocks[6 * 16];
    uint8_t enc_key[32];
    for (size_t i = 0; i < 6; i++) {
        store32_le(blocks + 16 * i, (uint32_t)i);
        memcpy(blocks + 16 * i + 4, nonce, NES_GCMSIV_NONCE_LEN);
    }
    int rc = ecb(ctx->kgk, blocks, sizeof blocks, blocks);
    if (rc == 0) {
        memcpy(auth_key, blocks, 8);
        memcpy(auth_key + 8, blocks + 16, 8);
        for (size_t i = 0; i < 4; i++)
            memcpy(enc_key + 8 * i, blocks + 16 * (i + 2), 8);
        rc = EVP_EncryptInit_ex(ctx->enc, NULL, NULL, enc_key, NULL) == 1 ? 0 : -1;
    }
    OPENSSL_cleanse(blocks, sizeof blocks);
    OPENSSL_cleanse(enc_key, sizeof enc_key);
    return rc;
}

/* tag = AES_enc(POLYVAL(...) ^ nonce, bit 127 cleared) with the message keys. With AES-NI the
 * message key is expanded here, together with the tag's encryption, unless `expanded` says that
 * open() already did (its counter mode runs before the tag). */
static int compute_tag(nes_gcmsiv *ctx, int expanded, const uint8_t auth_key[16],
                       const uint8_t nonce[NES_GCMSIV_NONCE_LEN], const uint8_t *aad,
                       size_t aad_len, const uint8_t *msg, size_t msg_len, uint8_t tag[16])
{
    uint8_t s[16];
    nes_polyval_aead(auth_key, ctx->polyval, aad, aad_len, msg, msg_len, s);
    for (int i = 0; i < NES_GCMSIV_NONCE_LEN; i++)
        s[i] ^= nonce[i];
    s[15] &= 0x7f;
    int rc = 0;
    if (ctx->aes == NES_AES_NI && !expanded)
        nes_aesni_expand_encrypt(&ctx->enc_ks, ctx->enc_key, s, tag);
    else if (ctx->aes == NES_AES_NI)
        nes_aesni_encrypt_block(&ctx->enc_ks, s, tag);
    else
        rc = ecb(ctx->enc, s, sizeof s, tag);
    explicit_bzero(s, sizeof s);
    return rc;
}

/* 16 bytes as one value: GCC and clang lower it to a vector register where there is one. */
typedef uint8_t nes_v16 __attribute__((vector_size(16)));

/* dst = a ^ b over n bytes, 16 at a time; dst may equal a. */
static void xor_bytes(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        nes_v16 x, y;
        memcpy(&x, a + i, 16);
        memcpy(&y, b + i, 16);
        x ^= y;
        memcpy(dst + i, &x, 16);
    }
    for (; i < n; i++)
        dst[i] = a[i] ^ b[i];
}

/* out = in ^ keystream(tag), `len` bytes; in == out is allowed. The counter blocks are encrypted
 * in place, so `ks` holds counters before the ECB call and keystream after it. */
static int ctr_xor(nes_gcmsiv *ctx, const uint8_t tag[16], const uint8_t *in, size_t len,
                   uint8_t *out)
{
    uint8_t ks[CTR_BATCH * 16];
    uint8_t block[16];
    uint32_t ctr = load32_le(tag);
    size_t used = 0;
    int rc = 0;
    memcpy(block, tag, sizeof block);
    block[15] |= 0x80;
    if (ctx->aes == NES_AES_NI) {
        if (len > 0)
            nes_aesni_ctr32le(&ctx->enc_ks, block, in, out, len);
        return 0;
    }
    while (len > 0) {
        const size_t n = len < sizeof ks ? len : sizeof ks;
        size_t filled = 0; /* whole counter blocks, covering the n bytes used below */
        for (; filled < n; filled += 16) {
            memcpy(ks + filled, block, sizeof block);
            store32_le(ks + filled, ctr++);
        }
        used = filled > used ? filled : used;
        if (ecb(ctx->enc, ks, filled, ks) != 0) {
            rc = -1;
            break;
        }
        xor_bytes(out, in, ks, n);
        in += n;
        out += n;
        len -= n;
    }
    if (used > 0)
        OPENSSL_cleanse(ks, used);
    return rc;
}

/* open() with AES-NI: expands the message key while encrypting the first counter block (the
 * counter starts from the tag, known before any key work), then runs the rest of the counter
 * mode. */
static void ctr_xor_ni_first(nes_gcmsiv *ctx, const uint8_t tag[16], const uint8_t *in, size_t len,
                             uint8_t *out)
{
    uint8_t block[16];
    uint8_t ks[16];
    memcpy(block, tag, sizeof block);
    block[15] |= 0x80;
    nes_aesni_expand_encrypt(&ctx->enc_ks, ctx->enc_key, block, ks);
    const size_t n = len < 16 ? len : 16;
    xor_bytes(out, in, ks, n);
    if (len > 16) {
        store32_le(block, load32_le(block) + 1);
        nes_aesni_ctr32le(&ctx->enc_ks, block, in + 16, out + 16, len - 16);
    }
    explicit_bzero(ks, sizeof ks);
}

int nes_gcmsiv_seal(nes_gcmsiv *ctx, const uint8_t nonce[NES_GCMSIV_NONCE_LEN], const uint8_t *aad,
                    size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *out)
{
    if (ctx == NULL || nonce == NULL || out == NULL || (aad == NULL && aad_len > 0) ||
        (pt == NULL && pt_len > 0) || (uint64_t)aad_len > NES_GCMSIV_MAX_LEN ||
        (uint64_t)pt_len > NES_GCMSIV_MAX_LEN)
        return -1;
    uint8_t auth_key[16];
    uint8_t tag[16];
    int rc = derive_keys(ctx, nonce, auth_key);
    if (rc == 0)
        rc = compute_tag(ctx, 0, auth_key, nonce, aad, aad_len, pt, pt_len, tag);
    if (rc == 0)
        rc = ctr_xor(ctx, tag, pt, pt_len, out);
    if (rc == 0)
        memcpy(out + pt_len, tag, sizeof tag);
    explicit_bzero(auth_key, sizeof auth_key);
    return rc;
}

int nes_gcmsiv_open(nes_gcmsiv *ctx, const uint8_t nonce[NES_GCMSIV_NONCE_LEN], const uint8_t *aad,
                    size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *out)
{
    if (ctx == NULL || nonce == NULL || ct == NULL || ct_len < NES_GCMSIV_TAG_LEN ||
        (out == NULL && ct_len > NES_GCMSIV_TAG_LEN) || (aad == NULL && aad_len > 0) ||
        (uint64_t)aad_len > NES_GCMSIV_MAX_LEN ||
        (uint64_t)(ct_len - NES_GCMSIV_TAG_LEN) > NES_GCMSIV_MAX_LEN)
        return -1;
    const size_t pt_len = ct_len - NES_GCMSIV_TAG_LEN;
    uint8_t auth_key[16];
    uint8_t tag[16];
    uint8_t expect[16];
    memcpy(tag, ct + pt_len, sizeof tag); /* before out (which may be ct) is written */
    int rc = derive_keys(ctx, nonce, auth_key);
    if (rc == 0 && ctx->aes == NES_AES_NI)
        ctr_xor_ni_first(ctx, tag, ct, pt_len, out);
    else if (rc == 0)
        rc = ctr_xor(ctx, tag, ct, pt_len, out);
    if (rc == 0)
        rc = compute_tag(ctx, 1, auth_key, nonce, aad, aad_len, out, pt_len, expect);
    if (rc == 0 && CRYPTO_memcmp(tag, expect, sizeof tag) != 0)
        rc = -1;
    if (rc != 0 && pt_len > 0)
        OPENSSL_cleanse(out, pt_len);
    explicit_bzero(auth_key, sizeof auth_key);
    explicit_bzero(expect, sizeof expect);
    return rc;
}
