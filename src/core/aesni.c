/* aesni.c - AES-256 encryption with AES-NI (see aesni.h).
 *
 * Key expansion (FIPS 197 section 5.2) for Nk = 8 with aeskeygenassist: round key 2i+2 comes from
 * round key 2i and RotWord/SubWord of the last word of round key 2i+1 xor Rcon (lane 3 of the
 * assist result); round key 2i+3 from round key 2i+1 and SubWord (no rotation, no Rcon: lane 2)
 * of the last word of the new round key 2i+2. The running xor of the four words is three
 * shift-and-xor steps.
 *
 * Counter mode runs eight blocks at a time so that the AES rounds of independent blocks overlap
 * (aesenc has a latency of several cycles but a throughput of one or two per cycle), then four,
 * then one, and a final partial block through a stack buffer that is wiped. */
#include "core/aesni.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define NES_AESNI_X86 1
#include <immintrin.h>
#else
#define NES_AESNI_X86 0
#endif

bool nes_aesni_available(void)
{
#if NES_AESNI_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse2");
#else
    return false;
#endif
}

#if NES_AESNI_X86

#define NES_AES_TARGET __attribute__((target("aes,sse2")))

NES_AES_TARGET static inline __m128i xor_shifted(__m128i k)
{
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, _mm_slli_si128(k, 4));
}

/* Round keys 2i+2 and 2i+3 from 2i and 2i+1 (rcon must be a constant: a macro). */
#define EXPAND2(rk, i, rcon)                                                                       \
    do {                                                                                           \
        (rk)[2 * (i) + 2] = _mm_xor_si128(                                                         \
            xor_shifted((rk)[2 * (i)]),                                                            \
            _mm_shuffle_epi32(_mm_aeskeygenassist_si128((rk)[2 * (i) + 1], (rcon)), 0xff));        \
        (rk)[2 * (i) + 3] = _mm_xor_si128(                                                         \
            xor_shifted((rk)[2 * (i) + 1]),                                                        \
            _mm_shuffle_epi32(_mm_aeskeygenassist_si128((rk)[2 * (i) + 2], 0), 0xaa));             \
    } while (0)

NES_AES_TARGET void nes_aesni_expand(nes_aes256_ks *ks, const uint8_t key[32])
{
    __m128i rk[16]; /* the last slot receives a 16th key nobody uses (simpler macro) */
    rk[0] = _mm_loadu_si128((const __m128i *)(const void *)key);
    rk[1] = _mm_loadu_si128((const __m128i *)(const void *)(key + 16));
    EXPAND2(rk, 0, 0x01);
    EXPAND2(rk, 1, 0x02);
    EXPAND2(rk, 2, 0x04);
    EXPAND2(rk, 3, 0x08);
    EXPAND2(rk, 4, 0x10);
    EXPAND2(rk, 5, 0x20);
    EXPAND2(rk, 6, 0x40);
    for (int i = 0; i < 15; i++)
        _mm_store_si128((__m128i *)(void *)ks->rk[i], rk[i]);
    explicit_bzero(rk, sizeof rk);
}

/* Loads the 15 round keys into registers (the compiler keeps them there in the loops). */
#define LOAD_KEYS(ks, k)                                                                           \
    __m128i k[15];                                                                                 \
    for (int r_ = 0; r_ < 15; r_++)                                                                \
    k[r_] = _mm_load_si128((const __m128i *)(const void *)(ks)->rk[r_])

NES_AES_TARGET static inline __m128i enc1(const __m128i k[15], __m128i x)
{
    x = _mm_xor_si128(x, k[0]);
    for (int r = 1; r < 14; r++)
        x = _mm_aesenc_si128(x, k[r]);
    return _mm_aesenclast_si128(x, k[14]);
}

/* Encrypts N blocks in b[] in place, rounds interleaved across the blocks. */
#define ENC_N(k, b, N)                                                                             \
    do {                                                                                           \
        for (int j_ = 0; j_ < (N); j_++)                                                           \
            (b)[j_] = _mm_xor_si128((b)[j_], (k)[0]);                                              \
        for (int r_ = 1; r_ < 14; r_++)                                                            \
            for (int j_ = 0; j_ < (N); j_++)                                                       \
                (b)[j_] = _mm_aesenc_si128((b)[j_], (k)[r_]);                                      \
        for (int j_ = 0; j_ < (N); j_++)                                                           \
            (b)[j_] = _mm_aesenclast_si128((b)[j_], (k)[14]);                                      \
    } while (0)

NES_AES_TARGET void nes_aesni_encrypt_blocks(const nes_aes256_ks *ks, const uint8_t *in,
                                             uint8_t *out, size_t n)
{
    LOAD_KEYS(ks, k);
    const __m128i *src = (const __m128i *)(const void *)in;
    __m128i *dst = (__m128i *)(void *)out;
    for (; n >= 4; n -= 4, src += 4, dst += 4) {
        __m128i b[4];
        for (int j = 0; j < 4; j++)
            b[j] = _mm_loadu_si128(src + j);
        ENC_N(k, b, 4);
        for (int j = 0; j < 4; j++)
            _mm_storeu_si128(dst + j, b[j]);
    }
    for (; n > 0; n--, src++, dst++)
        _mm_storeu_si128(dst, enc1(k, _mm_loadu_si128(src)));
}

NES_AES_TARGET void nes_aesni_ctr32le(const nes_aes256_ks *ks, const uint8_t ctr0[16],
                                      const uint8_t *in, uint8_t *out, size_t len)
{
    LOAD_KEYS(ks, k);
    const __m128i one = _mm_set_epi32(0, 0, 0, 1);
    __m128i ctr = _mm_loadu_si128((const __m128i *)(const void *)ctr0);
    for (; len >= 128; len -= 128, in += 128, out += 128) {
        __m128i b[8];
        for (int j = 0; j < 8; j++) {
            b[j] = ctr;
            ctr = _mm_add_epi32(ctr, one);
        }
        ENC_N(k, b, 8);
        for (int j = 0; j < 8; j++)
            _mm_storeu_si128(
                (__m128i *)(void *)(out + 16 * j),
                _mm_xor_si128(b[j], _mm_loadu_si128((const __m128i *)(const void *)(in + 16 * j))));
    }
    for (; len >= 64; len -= 64, in += 64, out += 64) {
        __m128i b[4];
        for (int j = 0; j < 4; j++) {
            b[j] = ctr;
            ctr = _mm_add_epi32(ctr, one);
        }
        ENC_N(k, b, 4);
        for (int j = 0; j < 4; j++)
            _mm_storeu_si128(
                (__m128i *)(void *)(out + 16 * j),
                _mm_xor_si128(b[j], _mm_loadu_si128((const __m128i *)(const void *)(in + 16 * j))));
    }
    for (; len >= 16; len -= 16, in += 16, out += 16) {
        __m128i x = enc1(k, ctr);
        ctr = _mm_add_epi32(ctr, one);
        _mm_storeu_si128((__m128i *)(void *)out,
                         _mm_xor_si128(x, _mm_loadu_si128((const __m128i *)(const void *)in)));
    }
    if (len > 0) {
        uint8_t tmp[16];
        memcpy(tmp, in, len);
        __m128i x =
            _mm_xor_si128(enc1(k, ctr), _mm_loadu_si128((const __m128i *)(const void *)tmp));
        _mm_storeu_si128((__m128i *)(void *)tmp, x);
        memcpy(out, tmp, len);
        explicit_bzero(tmp, sizeof tmp);
    }
}

#else /* !NES_AESNI_X86: never called (nes_aesni_available() is false) */

void nes_aesni_expand(nes_aes256_ks *ks, const uint8_t key[32])
{
    (void)key;
    memset(ks, 0, sizeof *ks);
}

void nes_aesni_encrypt_blocks(const nes_aes256_ks *ks, const uint8_t *in, uint8_t *out, size_t n)
{
    (void)ks, (void)in, (void)out, (void)n;
}

void nes_aesni_ctr32le(const nes_aes256_ks *ks, const uint8_t ctr0[16], const uint8_t *in,
                       uint8_t *out, size_t len)
{
    (void)ks, (void)ctr0, (void)in, (void)out, (void)len;
}

#endif
