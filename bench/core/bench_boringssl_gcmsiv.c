/* bench_boringssl_gcmsiv - the yardstick for bench_gcmsiv: BoringSSL's
 * EVP_aead_aes_256_gcm_siv (Debian's android-libboringssl) on the same cases. Linked against
 * BoringSSL only, never beside OpenSSL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* BoringSSL's opensslconf.h defines this itself; the build defines it for OpenSSL. */
#undef OPENSSL_NO_DEPRECATED
#include <openssl/aead.h>

#include "bench_common.h"

static uint8_t buf_in[1024 + 16], buf_out[1024 + 16];

static double bench(const EVP_AEAD_CTX *ctx, int seal, size_t len, size_t aad_len, long iters)
{
    uint8_t nonce[12] = {0};
    static const uint8_t aad[16] = "ssn";
    size_t out_len = 0;
    double best = 1e30;
    if (!seal && !EVP_AEAD_CTX_seal(ctx, buf_in, &out_len, sizeof buf_in, nonce, 12, buf_in, len,
                                    aad, aad_len))
        return -1;
    for (int run = 0; run < 5; run++) {
        const double t0 = bench_now_ns();
        for (long i = 0; i < iters; i++) {
            int ok = seal ? EVP_AEAD_CTX_seal(ctx, buf_out, &out_len, sizeof buf_out, nonce, 12,
                                              buf_in, len, aad, aad_len)
                          : EVP_AEAD_CTX_open(ctx, buf_out, &out_len, sizeof buf_out, nonce, 12,
                                              buf_in, len + 16, aad, aad_len);
            if (!ok)
                return -1;
            if (seal)
                nonce[0] = (uint8_t)i;
        }
        const double ns = (bench_now_ns() - t0) / (double)iters;
        if (ns < best)
            best = ns;
    }
    return best;
}

/* Usage: bench_boringssl_gcmsiv [iterations [size]] (defaults: 500000 for small sizes, 200000
 * for 1 KiB; all three sizes). */
int main(int argc, char **argv)
{
    size_t lens[] = {16, 64, 1024};
    size_t nlens = sizeof lens / sizeof lens[0];
    const long fixed_iters = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    if (argc > 2) {
        lens[0] = (size_t)strtol(argv[2], NULL, 10);
        nlens = 1;
    }
    if (argc > 1 && fixed_iters <= 0)
        return 2;
    uint8_t key[32];
    bench_key(key, sizeof key);
    memset(buf_in, 0x41, sizeof buf_in);
    EVP_AEAD_CTX ctx;
    if (!EVP_AEAD_CTX_init(&ctx, EVP_aead_aes_256_gcm_siv(), key, sizeof key, 16, NULL))
        return 1;
    printf("%-28s %10s %10s\n", "BoringSSL gcm_siv", "seal ns/op", "open ns/op");
    for (size_t i = 0; i < nlens && lens[i] <= 1024; i++) {
        const long iters = fixed_iters > 0 ? fixed_iters : lens[i] > 100 ? 200000 : 500000;
        const double s = bench(&ctx, 1, lens[i], 11, iters);
        const double o = bench(&ctx, 0, lens[i], 11, iters);
        printf("%-9s %5zu B, aad 11 B   %10.1f %10.1f\n", "boringssl", lens[i], s, o);
    }
    EVP_AEAD_CTX_cleanup(&ctx);
    return 0;
}
