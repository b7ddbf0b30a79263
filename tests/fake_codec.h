/* fake_codec.h - a transparent stand-in for the token codec, header-only, shared by
 * tests/unit/test_transform.c, fuzz/fuzz_transform.c and bench/core/bench_transform.c.
 *
 * Token: "T" + hex(plaintext) + "~" + context, so expected outputs can be written by hand and the
 * JSON work can be measured apart from the cryptography. Decrypt accepts exactly what encrypt
 * produces for the same context (lowercase hex, matching context) and NES_ERR_TOKEN otherwise.
 * The codec's `ud` may point to a fake_codec to inject failures, or be NULL. */
#ifndef NES_FAKE_CODEC_H
#define NES_FAKE_CODEC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/codec.h"

typedef struct fake_codec {
    bool fail_encrypt; /* encrypt returns -1 */
    bool bad_token;    /* encrypt emits a token that is not UTF-8 */
} fake_codec;

static inline int fake_encrypt(void *ud, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                               size_t pt_len, nes_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    const fake_codec *f = ud;
    if (f != NULL && f->fail_encrypt)
        return -1;
    if (f != NULL && f->bad_token)
        return nes_buf_append(out, "T\xff", 2);
    if (nes_buf_reserve(out, 2 + 2 * pt_len + ctx_len) != 0)
        return -1;
    uint8_t *d = out->data + out->len;
    *d++ = 'T';
    for (size_t i = 0; i < pt_len; i++) {
        *d++ = (uint8_t)hex[pt[i] >> 4];
        *d++ = (uint8_t)hex[pt[i] & 15];
    }
    *d++ = '~';
    if (ctx_len > 0)
        memcpy(d, ctx, ctx_len);
    out->len = (size_t)(d - out->data) + ctx_len;
    return 0;
}

/* Lowercase only: decrypt takes back exactly what encrypt writes. */
static inline int fake_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static inline nes_status fake_decrypt(void *ud, const uint8_t *ctx, size_t ctx_len, const char *tok,
                                      size_t len, nes_buf *out)
{
    (void)ud;
    const char *tilde = memchr(tok, '~', len);
    if (len < 2 || tok[0] != 'T' || tilde == NULL)
        return NES_ERR_TOKEN;
    size_t hex_len = (size_t)(tilde - tok) - 1;
    size_t tail = len - hex_len - 2;
    if (hex_len % 2 != 0 || tail != ctx_len || (ctx_len && memcmp(tilde + 1, ctx, ctx_len) != 0))
        return NES_ERR_TOKEN;
    for (size_t i = 1; i <= hex_len; i++)
        if (fake_hexval(tok[i]) < 0)
            return NES_ERR_TOKEN;
    if (nes_buf_reserve(out, hex_len / 2) != 0)
        return NES_ERR_NOMEM;
    for (size_t i = 1; i < hex_len; i += 2)
        out->data[out->len++] = (uint8_t)(fake_hexval(tok[i]) << 4 | fake_hexval(tok[i + 1]));
    return NES_OK;
}

#endif
