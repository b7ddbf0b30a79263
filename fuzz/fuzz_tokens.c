/* fuzz_tokens - libFuzzer target for b64url.c, fieldcrypt.c and the key-file parser.
 *
 * Properties checked on every input:
 *   - both base64 decoders accept only canonical text: re-encoding what they accept gives the
 *     input back byte for byte;
 *   - nes_token_parse accepts only canonical tokens: rebuilding the token from its parts gives
 *     the input back; a random token never authenticates;
 *   - the input as a plaintext (first byte: context length) round-trips through a token, and the
 *     fast path (SHA-NI, AES-NI, PCLMULQDQ where the CPU has them) and the all-fallback path
 *     (OpenSSL HMAC and AES, portable POLYVAL) write the same token and open each other's;
 *   - the key-file parser never crashes and accepts only what it should. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64url.h"
#include "core/fieldcrypt.h"
#include "core/keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static nes_fieldkey *k, *k_fallback;

/* The field keys live in mmap'd secure memory, which LeakSanitizer does not scan for pointers:
 * free them before the leak check runs. */
static void free_keys(void)
{
    nes_fieldkey_free(k);
    nes_fieldkey_free(k_fallback);
    k = k_fallback = NULL;
}

/* The same DEK on the fastest path (fallback = 0) or on every fallback (1). */
static nes_fieldkey *key_on(int fallback)
{
    if (k == NULL) {
        uint8_t dek[NES_DEK_LEN];
        /* not the DEK of the seed tokens (0, 1, ..., 31), which do open under their key */
        memset(dek, 0xa5, sizeof dek);
        k = nes_fieldkey_new(dek);
        k_fallback = nes_fieldkey_new_impl(dek, NES_FALLBACK_ALL);
        if (k == NULL || k_fallback == NULL)
            abort();
        atexit(free_keys);
    }
    return fallback ? k_fallback : k;
}

static nes_fieldkey *key(void)
{
    return key_on(0);
}

static void check_b64(const char *in, size_t n)
{
    uint8_t *dec = malloc(n + 1);
    char *enc = malloc(n + 4);
    if (dec == NULL || enc == NULL)
        abort();
    long d = nes_b64url_decode(in, n, dec);
    if (d >= 0 && (nes_b64url_encode(dec, (size_t)d, enc) != n || memcmp(enc, in, n) != 0))
        abort();
    d = nes_b64_decode(in, n, dec);
    if (d >= 0 && (nes_b64_encode(dec, (size_t)d, enc) != n || memcmp(enc, in, n) != 0))
        abort();
    free(dec);
    free(enc);
}

static void check_token(const char *tok, size_t len)
{
    uint8_t nonce[12];
    uint8_t *ct = malloc(len + 1);
    char *re = malloc(len + 64);
    if (ct == NULL || re == NULL)
        abort();
    size_t ct_len;
    if (nes_token_parse(tok, len, nonce, ct, &ct_len) == 0) {
        if (ct_len < 16)
            abort();
        size_t n = 0;
        memcpy(re, NES_TOKEN_PREFIX, 3);
        n = 3 + nes_b64url_encode(nonce, 12, re + 3);
        re[n++] = '.';
        n += nes_b64url_encode(ct, ct_len, re + n);
        if (n != len || memcmp(re, tok, len) != 0)
            abort();
    }
    size_t out_len;
    /* A fuzzer does not forge GCM-SIV tags, on either path. */
    if (nes_token_decrypt(key(), NULL, 0, tok, len, ct, &out_len) == NES_OK ||
        nes_token_decrypt(key_on(1), NULL, 0, tok, len, ct, &out_len) == NES_OK)
        abort();
    free(ct);
    free(re);
}

static void check_roundtrip(const uint8_t *data, size_t size)
{
    size_t ctx_len = size > 0 ? data[0] % 32 : 0;
    if (ctx_len + 1 > size)
        ctx_len = 0;
    const uint8_t *ctx = data + (size > 0 ? 1 : 0);
    const uint8_t *pt = ctx + ctx_len;
    size_t pt_len = size - (size_t)(pt - data);
    size_t tl = nes_token_len(pt_len);
    char *tok = malloc(tl), *tok2 = malloc(tl);
    uint8_t *out = malloc(tl);
    if (tok == NULL || tok2 == NULL || out == NULL)
        abort();
    size_t out_len;
    if (nes_token_encrypt(key(), ctx, ctx_len, pt, pt_len, tok) != 0 ||
        nes_token_decrypt(key(), ctx, ctx_len, tok, tl, out, &out_len) != NES_OK ||
        out_len != pt_len || memcmp(out, pt, pt_len) != 0)
        abort();
    /* the fallback path: the same token, and each path opens the other's */
    if (nes_token_encrypt(key_on(1), ctx, ctx_len, pt, pt_len, tok2) != 0 ||
        memcmp(tok, tok2, tl) != 0 ||
        nes_token_decrypt(key_on(1), ctx, ctx_len, tok, tl, out, &out_len) != NES_OK ||
        out_len != pt_len || memcmp(out, pt, pt_len) != 0)
        abort();
    free(tok);
    free(tok2);
    free(out);
}

static void check_keyfile(const char *text, size_t len)
{
    nes_keyring *kr = NULL;
    nes_err err;
    nes_status st = nes_keyring_parse(text, len, &kr, &err);
    if ((st == NES_OK) != (kr != NULL))
        abort();
    if (kr != NULL && (nes_keyring_size(kr) < 1 || nes_keyring_size(kr) > NES_KEYRING_MAX))
        abort();
    nes_keyring_free(kr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    check_b64(text, size);
    check_token(text, size);
    check_roundtrip(data, size);
    check_keyfile(text, size);
    return 0;
}
