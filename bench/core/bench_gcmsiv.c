/* bench_gcmsiv [auto|portable] - ns/op of nes_gcmsiv_seal/open for PII-sized fields (16 B, 64 B,
 * 1 KiB), with the automatic and the portable POLYVAL. Compare with bench_boringssl_gcmsiv (same
 * cases). */
#include <stdio.h>
#include <string.h>

#include "bench_common.h"
#include "core/gcmsiv.h"

static uint8_t buf_in[1024 + 16], buf_out[1024 + 16];

/* Best of 5 runs of `iters` operations; returns ns/op. */
static double bench(nes_gcmsiv *ctx, int seal, size_t len, size_t aad_len, long iters)
{
    uint8_t nonce[12] = {0};
    static const uint8_t aad[16] = "ssn";
    double best = 1e30;
    if (!seal && nes_gcmsiv_seal(ctx, nonce, aad, aad_len, buf_in, len, buf_in) != 0)
        return -1;
    for (int run = 0; run < 5; run++) {
        const double t0 = bench_now_ns();
        for (long i = 0; i < iters; i++) {
            int rc = seal ? nes_gcmsiv_seal(ctx, nonce, aad, aad_len, buf_in, len, buf_out)
                          : nes_gcmsiv_open(ctx, nonce, aad, aad_len, buf_in, len + 16, buf_out);
            if (rc != 0)
                return -1;
            if (seal) /* vary the nonce like distinct fields do (derivation runs per nonce) */
                nonce[0] = (uint8_t)i;
        }
        const double ns = (bench_now_ns() - t0) / (double)iters;
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(int argc, char **argv)
{
    const int only = argc > 1 ? (strcmp(argv[1], "portable") == 0 ? 1 : 0) : -1;
    static const size_t lens[] = {16, 64, 1024};
    uint8_t key[32];
    bench_key(key, sizeof key);
    memset(buf_in, 0x41, sizeof buf_in);
    printf("%-28s %10s %10s\n", "nes_gcmsiv (AES-NI or EVP)", "seal ns/op", "open ns/op");
    for (int p = 0; p < 2; p++) {
        if (only >= 0 && p != only)
            continue;
        nes_gcmsiv *ctx = nes_gcmsiv_new(key);
        if (ctx == NULL)
            return 1;
        nes_gcmsiv_set_polyval_impl(ctx, p == 0 ? NES_POLYVAL_AUTO : NES_POLYVAL_PORTABLE);
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            const long iters = lens[i] > 100 ? 200000 : 500000;
            const double s = bench(ctx, 1, lens[i], 11, iters);
            const double o = bench(ctx, 0, lens[i], 11, iters);
            printf("%-9s %5zu B, aad 11 B   %10.1f %10.1f\n", p == 0 ? "auto" : "portable", lens[i],
                   s, o);
        }
        nes_gcmsiv_free(ctx);
    }
    return 0;
}
