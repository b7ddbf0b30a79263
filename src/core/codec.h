/* codec.h - how the JSON transform turns a PII value into a token and back, without knowing any
 * crypto: the transform calls these hooks; keyring.c provides the real ones (nes_crypter_codec),
 * unit tests and fuzzers may provide others. */
#ifndef NES_CODEC_H
#define NES_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

typedef struct nes_codec {
    /** Appends the token text (no quotes) for plaintext `pt` under context `ctx` to `out`.
     * Returns 0, or -1 (the transform reports NES_ERR_CRYPTO or NES_ERR_LIMIT). */
    int (*encrypt)(void *ud, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt, size_t pt_len,
                   nes_buf *out);
    /** Appends the plaintext of token text `tok` under `ctx` to `out`. Returns NES_OK,
     * NES_ERR_TOKEN or NES_ERR_NOMEM. */
    nes_status (*decrypt)(void *ud, const uint8_t *ctx, size_t ctx_len, const char *tok, size_t len,
                          nes_buf *out);
    void *ud;
} nes_codec;

#endif
