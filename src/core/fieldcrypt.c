/* fieldcrypt.c - field tokens (DESIGN section 4; the scheme is spelled out in fieldcrypt.h).
 *
 * Speed: a field key keeps everything that depends only on the key. The nonce HMAC starts from
 * two SHA-256 states pre-keyed with the inner and outer pads (RFC 2104). With SHA-NI those are
 * 64 bytes of chaining values inside the field key and a MAC is two or three compressions
 * (hmac_sha256.c) with no allocation: a 16-byte token took 212 ns this way against 276 ns with
 * the EVP_MD_CTX_copy_ex route below (same machine and run, AMD EPYC with SHA-NI; OpenSSL uses
 * SHA-NI too, the difference is EVP's per-call work). Without SHA-NI the states are EVP_MD_CTXs
 * copied into a work context per call; that measured ~20% faster than resetting a pre-keyed
 * EVP_MAC_CTX with EVP_MAC_init(ctx, NULL, 0, NULL) and ~2.5x faster than EVP_MAC_CTX_dup per call
 * (OpenSSL 3.0, 16-byte messages). Encryption needs no scratch memory: the GCM-SIV output is
 * written into the tail of the caller's token buffer and base64url-encoded in place; decryption
 * decodes into the caller's output and opens in place.
 *
 * Secrets: the field key structure (with the HMAC pad states and the derivation scratch, wiped
 * after use) lives in nes_secure_alloc memory, and so does the GCM-SIV context (AES-NI key
 * schedules). The fallbacks' EVP states are allocated by OpenSSL on its heap, outside our
 * control; they are freed (and cleansed by OpenSSL) with the key. */
#include "core/fieldcrypt.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "core/b64url.h"
#include "core/gcmsiv.h"
#include "core/hmac_sha256.h"
#include "core/secmem.h"

#define NONCE_LEN NES_GCMSIV_NONCE_LEN
#define TAG_LEN NES_GCMSIV_TAG_LEN
#define SHA256_LEN 32
#define SHA256_BLOCK 64
#define PREFIX_LEN (sizeof NES_TOKEN_PREFIX - 1)
#define NONCE_B64_LEN 16 /* 12 bytes, no padding */
#define CT_OFFSET NES_TOKEN_CT_OFFSET
#define MIN_CT_B64_LEN (NES_TOKEN_MIN_LEN - NES_TOKEN_CT_OFFSET)

_Static_assert(CT_OFFSET == PREFIX_LEN + NONCE_B64_LEN + 1, "token layout");
_Static_assert(MIN_CT_B64_LEN == 22, "16 bytes of tag in base64url");

struct nes_fieldkey {
    nes_gcmsiv *aead;
    nes_hmac_sha256_key hmac; /* SHA-NI: pad states of K_nonce (zero under the fallback) */
    unsigned fallbacks;       /* NES_FALLBACK_* in effect */
    /* HMAC fallback (NES_FALLBACK_HMAC; all NULL otherwise) */
    EVP_MD_CTX *inner; /* SHA-256 after absorbing K_nonce ^ ipad */
    EVP_MD_CTX *outer; /* SHA-256 after absorbing K_nonce ^ opad */
    EVP_MD_CTX *work;
    uint8_t scratch[2 * SHA256_BLOCK]; /* derivation only; zero otherwise */
};

/* OSSL_PARAM's data member is `void *` even for the input parameters OpenSSL only reads. This
 * drops const without an integer round trip (and without tripping -Wcast-qual). */
static void *param_data(const void *p)
{
    union {
        const void *in;
        void *out;
    } u = {.in = p};
    return u.out;
}

/* HKDF-SHA256(dek, salt = "", info) -> 32 bytes. An absent salt is RFC 5869's HashLen zeros,
 * which HMAC treats exactly like the empty string. */
static int hkdf(const uint8_t dek[NES_DEK_LEN], const char *info, uint8_t out[32])
{
    int ok = 0;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, param_data(dek), NES_DEK_LEN),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, param_data(info), strlen(info)),
            OSSL_PARAM_construct_end(),
        };
        ok = EVP_KDF_derive(kctx, out, 32, params) == 1;
    }
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return ok ? 0 : -1;
}

/* Absorbs K ^ pad (one SHA-256 block) into a fresh SHA-256 context. */
static EVP_MD_CTX *keyed_sha256(const EVP_MD *md, const uint8_t key[32], uint8_t pad,
                                uint8_t block[SHA256_BLOCK])
{
    for (size_t i = 0; i < SHA256_BLOCK; i++)
        block[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ pad);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c != NULL &&
        (EVP_DigestInit_ex(c, md, NULL) != 1 || EVP_DigestUpdate(c, block, SHA256_BLOCK) != 1)) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    explicit_bzero(block, SHA256_BLOCK);
    return c;
}

nes_fieldkey *nes_fieldkey_new(const uint8_t dek[NES_DEK_LEN])
{
    return nes_fieldkey_new_impl(dek, 0);
}

/* The EVP fallback of the HMAC: pre-keyed SHA-256 contexts and a work context. */
static int evp_hmac_init(nes_fieldkey *k, const uint8_t k_nonce[32], uint8_t block[SHA256_BLOCK])
{
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    int ok = md != NULL && (k->inner = keyed_sha256(md, k_nonce, 0x36, block)) != NULL &&
             (k->outer = keyed_sha256(md, k_nonce, 0x5c, block)) != NULL &&
             (k->work = EVP_MD_CTX_new()) != NULL;
    EVP_MD_free(md); /* the contexts hold their own references */
    return ok ? 0 : -1;
}

nes_fieldkey *nes_fieldkey_new_impl(const uint8_t dek[NES_DEK_LEN], unsigned fallbacks)
{
    nes_fieldkey *k = nes_secure_alloc(sizeof *k);
    if (k == NULL)
        return NULL;
    uint8_t *k_enc = k->scratch, *k_nonce = k->scratch + 32, *block = k->scratch + 64;
    if (!nes_hmac_sha256_available())
        fallbacks |= NES_FALLBACK_HMAC;
    int ok = hkdf(dek, "nitro-enc/v1/enc", k_enc) == 0 &&
             hkdf(dek, "nitro-enc/v1/nonce", k_nonce) == 0 &&
             (k->aead = nes_gcmsiv_new_impl(
                  k_enc, (fallbacks & NES_FALLBACK_AES) ? NES_AES_OPENSSL : NES_AES_AUTO)) != NULL;
    if (ok) {
        if (nes_gcmsiv_aes_impl(k->aead) == NES_AES_OPENSSL)
            fallbacks |= NES_FALLBACK_AES;
        if (!(fallbacks & NES_FALLBACK_POLYVAL) && !nes_polyval_clmul_available())
            fallbacks |= NES_FALLBACK_POLYVAL;
        nes_gcmsiv_set_polyval_impl(
            k->aead, (fallbacks & NES_FALLBACK_POLYVAL) ? NES_POLYVAL_PORTABLE : NES_POLYVAL_CLMUL);
        if (fallbacks & NES_FALLBACK_HMAC)
            ok = evp_hmac_init(k, k_nonce, block) == 0;
        else
            nes_hmac_sha256_init(&k->hmac, k_nonce, 32);
    }
    k->fallbacks = fallbacks & NES_FALLBACK_ALL;
    explicit_bzero(k->scratch, sizeof k->scratch);
    if (!ok) {
        nes_fieldkey_free(k);
        return NULL;
    }
    return k;
}

void nes_fieldkey_free(nes_fieldkey *k)
{
    if (k == NULL)
        return;
    nes_gcmsiv_free(k->aead);
    nes_hmac_sha256_wipe(&k->hmac); /* nes_secure_free wipes it again with the page */
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    EVP_MD_CTX_free(k->work);
    nes_secure_free(k, sizeof *k);
}

/* N = HMAC-SHA256(K_nonce, u32be(ctx_len) || ctx || pt)[0..12] */
static int derive_nonce(nes_fieldkey *k, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                        size_t pt_len, uint8_t nonce[NONCE_LEN])
{
    uint8_t be[4] = {(uint8_t)(ctx_len >> 24), (uint8_t)(ctx_len >> 16), (uint8_t)(ctx_len >> 8),
                     (uint8_t)ctx_len};
    uint8_t h[SHA256_LEN];
    if (!(k->fallbacks & NES_FALLBACK_HMAC)) {
        nes_hmac_sha256_3(&k->hmac, be, sizeof be, ctx, ctx_len, pt, pt_len, h);
        memcpy(nonce, h, NONCE_LEN);
        explicit_bzero(h, sizeof h);
        return 0;
    }
    unsigned int hl;
    int ok =
        EVP_MD_CTX_copy_ex(k->work, k->inner) == 1 &&
        EVP_DigestUpdate(k->work, be, sizeof be) == 1 &&
        (ctx_len == 0 || EVP_DigestUpdate(k->work, ctx, ctx_len) == 1) &&
        (pt_len == 0 || EVP_DigestUpdate(k->work, pt, pt_len) == 1) &&
        EVP_DigestFinal_ex(k->work, h, &hl) == 1 && EVP_MD_CTX_copy_ex(k->work, k->outer) == 1 &&
        EVP_DigestUpdate(k->work, h, sizeof h) == 1 && EVP_DigestFinal_ex(k->work, h, &hl) == 1;
    if (ok)
        memcpy(nonce, h, NONCE_LEN);
    explicit_bzero(h, sizeof h); /* the inner hash is a function of the plaintext */
    return ok ? 0 : -1;
}

unsigned nes_fieldkey_fallbacks(const nes_fieldkey *k)
{
    return k->fallbacks;
}

size_t nes_token_len(size_t pt_len)
{
    return CT_OFFSET + nes_b64url_encoded_len(pt_len + TAG_LEN);
}

int nes_token_encrypt(nes_fieldkey *k, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                      size_t pt_len, char *out)
{
    if (ctx_len > UINT32_MAX || pt_len > NES_GCMSIV_MAX_LEN)
        return -1;
    uint8_t nonce[NONCE_LEN];
    if (derive_nonce(k, ctx, ctx_len, pt, pt_len, nonce) != 0)
        return -1;
    size_t ct_len = pt_len + TAG_LEN;
    size_t ct_b64_len = nes_b64url_encoded_len(ct_len);
    /* The raw ciphertext goes to the end of its own base64url area, then is encoded in place. */
    uint8_t *raw = (uint8_t *)out + CT_OFFSET + ct_b64_len - ct_len;
    if (nes_gcmsiv_seal(k->aead, nonce, ctx, ctx_len, pt, pt_len, raw) != 0) {
        explicit_bzero(out, CT_OFFSET + ct_b64_len);
        return -1;
    }
    memcpy(out, NES_TOKEN_PREFIX, PREFIX_LEN);
    nes_b64url_encode(nonce, NONCE_LEN, out + PREFIX_LEN);
    out[CT_OFFSET - 1] = '.';
    nes_b64url_encode(raw, ct_len, out + CT_OFFSET);
    return 0;
}

int nes_token_parse(const char *tok, size_t len, uint8_t nonce[12], uint8_t *ct, size_t *ct_len)
{
    if (len < CT_OFFSET + MIN_CT_B64_LEN || memcmp(tok, NES_TOKEN_PREFIX, PREFIX_LEN) != 0 ||
        tok[CT_OFFSET - 1] != '.')
        return -1;
    /* Any other '.' (or padding, whitespace, ...) is a bad character to the strict decoder. */
    if (nes_b64url_decode(tok + PREFIX_LEN, NONCE_B64_LEN, nonce) != NONCE_LEN)
        return -1;
    long n = nes_b64url_decode(tok + CT_OFFSET, len - CT_OFFSET, ct);
    if (n < TAG_LEN) {
        if (n > 0)
            explicit_bzero(ct, (size_t)n);
        return -1;
    }
    *ct_len = (size_t)n;
    return 0;
}

nes_status nes_token_open(nes_fieldkey *k, const uint8_t *ctx, size_t ctx_len,
                          const uint8_t nonce[12], const uint8_t *ct, size_t ct_len, uint8_t *out)
{
    if (ct_len < TAG_LEN || ctx_len > UINT32_MAX)
        return NES_ERR_TOKEN;
    if (nes_gcmsiv_open(k->aead, nonce, ctx, ctx_len, ct, ct_len, out) != 0)
        return NES_ERR_TOKEN;
    return NES_OK;
}

nes_status nes_token_decrypt(nes_fieldkey *k, const uint8_t *ctx, size_t ctx_len, const char *tok,
                             size_t len, uint8_t *out, size_t *out_len)
{
    uint8_t nonce[NONCE_LEN];
    size_t ct_len;
    if (nes_token_parse(tok, len, nonce, out, &ct_len) != 0)
        return NES_ERR_TOKEN;
    if (nes_token_open(k, ctx, ctx_len, nonce, out, ct_len, out) != NES_OK) {
        explicit_bzero(out, ct_len);
        return NES_ERR_TOKEN;
    }
    *out_len = ct_len - TAG_LEN;
    return NES_OK;
}
