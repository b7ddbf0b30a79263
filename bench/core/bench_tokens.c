/* bench_tokens - ns per nes_token_encrypt / nes_token_decrypt for a few field sizes, one thread.
 * Usage: bench_tokens [iterations-per-size [size]] (a size runs only that size: the callgrind
 * script, scripts/callgrind-core.sh, counts instructions per call that way). NES_CRYPTO_FALLBACK
 * (tests/testutil.h: "hmac,aes,polyval" or "all") forces those parts onto their fallback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tests/testutil.h"
#include "bench_common.h"
#include "core/fieldcrypt.h"
#include "core/hmac_sha256.h"

int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    if (iters <= 0)
        return 2;
    uint8_t dek[NES_DEK_LEN];
    bench_key(dek, sizeof dek);
    const int fallbacks = tu_fallbacks(getenv("NES_CRYPTO_FALLBACK"));
    if (fallbacks < 0)
        return 2;
    nes_fieldkey *k = nes_fieldkey_new_impl(dek, (unsigned)fallbacks);
    if (k == NULL)
        return 1;
    size_t sizes[] = {16, 64, 1024};
    size_t nsizes = sizeof sizes / sizeof sizes[0];
    if (argc > 2) {
        sizes[0] = (size_t)strtol(argv[2], NULL, 10);
        nsizes = 1;
    }
    const uint8_t *ctx = (const uint8_t *)"card-number";
    /* The nonce alone (DESIGN section 4: HMAC-SHA256 over u32be(len ctx) || ctx || plaintext) on
     * the SHA-NI path: a lower bound of any field encrypt, since GCM-SIV cannot start before it. */
    const bool hmac_fast = nes_hmac_sha256_available();
    nes_hmac_sha256_key hk;
    if (hmac_fast)
        nes_hmac_sha256_init(&hk, dek, sizeof dek);
    printf("%-8s %14s %14s %14s\n", "bytes", "encrypt ns/op", "decrypt ns/op", "nonce ns/op");
    for (size_t s = 0; s < nsizes; s++) {
        size_t n = sizes[s], tl = nes_token_len(n);
        uint8_t *pt = malloc(n), *out = malloc(tl);
        char *tok = malloc(tl);
        if (pt == NULL || out == NULL || tok == NULL)
            return 1;
        memset(pt, 'x', n);
        /* vary the plaintext so every call derives a fresh nonce */
        double t0 = bench_now_ns();
        for (long i = 0; i < iters; i++) {
            memcpy(pt, &i, sizeof i);
            if (nes_token_encrypt(k, ctx, 11, pt, n, tok) != 0)
                return 1;
        }
        double enc = (bench_now_ns() - t0) / (double)iters;
        size_t out_len;
        t0 = bench_now_ns();
        for (long i = 0; i < iters; i++)
            if (nes_token_decrypt(k, ctx, 11, tok, tl, out, &out_len) != NES_OK)
                return 1;
        double dec = (bench_now_ns() - t0) / (double)iters;
        double mac = 0;
        if (hmac_fast) {
            const uint8_t len_be[4] = {0, 0, 0, 11};
            uint8_t nonce[NES_HMAC_SHA256_LEN];
            t0 = bench_now_ns();
            for (long i = 0; i < iters; i++) {
                memcpy(pt, &i, sizeof i);
                nes_hmac_sha256_3(&hk, len_be, 4, ctx, 11, pt, n, nonce);
            }
            mac = (bench_now_ns() - t0) / (double)iters;
        }
        printf("%-8zu %14.0f %14.0f %14.0f\n", n, enc, dec, mac);
        free(pt), free(out), free(tok);
    }
    if (hmac_fast)
        nes_hmac_sha256_wipe(&hk);
    nes_fieldkey_free(k);
    return 0;
}
