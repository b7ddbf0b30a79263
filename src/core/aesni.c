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
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1") &&
           __builtin_cpu_supports("ssse3");
#else
    return false;
#endif
}

#if NES_AESNI_X86

#define NES_AES_TARGET __attribute__((target("aes,sse4.1,ssse3")))

NES_AES_TARGET static inline __m128i xor_shifted(__m128i k)
{
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, _mm_slli_si128(k, 4));
}

/* SubWord(RotWord(last word of k)) ^ rcon in every lane: pshufb broadcasts the rotated word, and
 * aesenclast applies SubBytes (ShiftRows moves nothing when all four columns are equal) and xors
 * the round-constant vector. Avoids aeskeygenassist, which is slow on several cores. */
NES_AES_TARGET static inline __m128i sub_rot(__m128i k, __m128i rcon)
{
    const __m128i rot = _mm_set1_epi32(0x0c0f0e0d);
    return _mm_aesenclast_si128(_mm_shuffle_epi8(k, rot), rcon);
}

/* SubWord(last word of k) in every lane (no rotation, no round constant). */
NES_AES_TARGET static inline __m128i sub_only(__m128i k)
{
    return _mm_aesenclast_si128(_mm_shuffle_epi32(k, 0xff), _mm_setzero_si128());
}

/* Round keys 2i+2 and 2i+3 from 2i and 2i+1. */
#define EXPAND2(rk, i, rcon)                                                                       \
    do {                                                                                           \
        (rk)[2 * (size_t)(i) + 2] =                                                                \
            _mm_xor_si128(xor_shifted((rk)[2 * (size_t)(i)]),                                      \
                          sub_rot((rk)[2 * (size_t)(i) + 1], _mm_set1_epi32(rcon)));               \
        (rk)[2 * (size_t)(i) + 3] = _mm_xor_si128(xor_shifted((rk)[2 * (size_t)(i) + 1]),          \
                                                  sub_only((rk)[2 * (size_t)(i) + 2]));            \
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

/* Round key r of ks (an aligned load the compiler folds into the aesenc). */
#define RK(ks, r) _mm_load_si128((const __m128i *)(const void *)(ks)->rk[r])

/* Encrypts the N blocks of b[] in place, each round applied to every block before the next round
 * so that the blocks' rounds overlap in the pipeline. N is a constant and the loops are unrolled,
 * so b[] lives in registers. */
#define ENC_N(ks, b, N)                                                                            \
    do {                                                                                           \
        _Pragma("GCC unroll 8") for (int j_ = 0; j_ < (N); j_++)(b)[j_] =                          \
            _mm_xor_si128((b)[j_], RK(ks, 0));                                                     \
        _Pragma("GCC unroll 13") for (int r_ = 1; r_ < 14; r_++)                                   \
        {                                                                                          \
            const __m128i k_ = RK(ks, r_);                                                         \
            _Pragma("GCC unroll 8") for (int j_ = 0; j_ < (N); j_++)(b)[j_] =                      \
                _mm_aesenc_si128((b)[j_], k_);                                                     \
        }                                                                                          \
        const __m128i kl_ = RK(ks, 14);                                                            \
        _Pragma("GCC unroll 8") for (int j_ = 0; j_ < (N); j_++)(b)[j_] =                          \
            _mm_aesenclast_si128((b)[j_], kl_);                                                    \
    } while (0)

NES_AES_TARGET static inline __m128i enc1(const nes_aes256_ks *ks, __m128i x)
{
    __m128i b[1] = {x};
    ENC_N(ks, b, 1);
    return b[0];
}

NES_AES_TARGET void nes_aesni_encrypt_block(const nes_aes256_ks *ks, const uint8_t in[16],
                                            uint8_t out[16])
{
    _mm_storeu_si128((__m128i *)(void *)out,
                     enc1(ks, _mm_loadu_si128((const __m128i *)(const void *)in)));
}

NES_AES_TARGET void nes_aesni_gcmsiv_derive(const nes_aes256_ks *kgk, const uint8_t nonce[12],
                                            uint8_t auth_key[16], uint8_t enc_key[32])
{
    /* Block i = LE32(i) || nonce: the nonce in lanes 1..3, i in lane 0. */
    uint8_t nb[16] = {0};
    memcpy(nb + 4, nonce, 12);
    const __m128i n = _mm_loadu_si128((const __m128i *)(const void *)nb);
    __m128i b[6];
    _Pragma("GCC unroll 6") for (int i = 0; i < 6; i++) b[i] = _mm_insert_epi32(n, i, 0);
    ENC_N(kgk, b, 6);
    /* First 8 bytes of each block: 0-1 the POLYVAL key, 2-5 the message's AES-256 key. */
    _mm_storeu_si128((__m128i *)(void *)auth_key, _mm_unpacklo_epi64(b[0], b[1]));
    _mm_storeu_si128((__m128i *)(void *)enc_key, _mm_unpacklo_epi64(b[2], b[3]));
    _mm_storeu_si128((__m128i *)(void *)(enc_key + 16), _mm_unpacklo_epi64(b[4], b[5]));
}

NES_AES_TARGET void nes_aesni_expand_encrypt(nes_aes256_ks *ks, const uint8_t key[32],
                                             const uint8_t in[16], uint8_t out[16])
{
    __m128i rk[16]; /* rk[15] is computed by the last EXPAND2 and never used */
    rk[0] = _mm_loadu_si128((const __m128i *)(const void *)key);
    rk[1] = _mm_loadu_si128((const __m128i *)(const void *)(key + 16));
    __m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)in), rk[0]);
    x = _mm_aesenc_si128(x, rk[1]);
    /* Each round of the block runs as soon as its round key exists: the block's latency hides
     * under the key schedule's. */
#define STEP(i, rcon)                                                                              \
    EXPAND2(rk, i, rcon);                                                                          \
    x = _mm_aesenc_si128(x, rk[2 * (size_t)(i) + 2]);                                              \
    x = _mm_aesenc_si128(x, rk[2 * (size_t)(i) + 3])
    STEP(0, 0x01);
    STEP(1, 0x02);
    STEP(2, 0x04);
    STEP(3, 0x08);
    STEP(4, 0x10);
    STEP(5, 0x20);
#undef STEP
    EXPAND2(rk, 6, 0x40);
    x = _mm_aesenclast_si128(x, rk[14]);
    _mm_storeu_si128((__m128i *)(void *)out, x);
    _Pragma("GCC unroll 15") for (int i = 0; i < 15; i++)
        _mm_store_si128((__m128i *)(void *)ks->rk[i], rk[i]);
}

NES_AES_TARGET void nes_aesni_encrypt_blocks(const nes_aes256_ks *ks, const uint8_t *in,
                                             uint8_t *out, size_t n)
{
    const __m128i *src = (const __m128i *)(const void *)in;
    __m128i *dst = (__m128i *)(void *)out;
    for (; n >= 4; n -= 4, src += 4, dst += 4) {
        __m128i b[4];
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) b[j] = _mm_loadu_si128(src + j);
        ENC_N(ks, b, 4);
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) _mm_storeu_si128(dst + j, b[j]);
    }
    for (; n > 0; n--, src++, dst++)
        _mm_storeu_si128(dst, enc1(ks, _mm_loadu_si128(src)));
}

/* out[0 .. 16N) = in ^ AES(ctr), AES(ctr + 1), ...; advances *ctr by N. */
#define CTR_N(ks, ctr, in, out, N)                                                                 \
    do {                                                                                           \
        __m128i b_[N];                                                                             \
        _Pragma("GCC unroll 8") for (int j_ = 0; j_ < (N); j_++)                                   \
        {                                                                                          \
            b_[j_] = (ctr);                                                                        \
            (ctr) = _mm_add_epi32((ctr), one);                                                     \
        }                                                                                          \
        ENC_N(ks, b_, N);                                                                          \
        _Pragma("GCC unroll 8") for (int j_ = 0; j_ < (N); j_++) _mm_storeu_si128(                 \
            (__m128i *)(void *)((out) + 16 * (size_t)j_),                                          \
            _mm_xor_si128(b_[j_], _mm_loadu_si128(                                                 \
                                      (const __m128i *)(const void *)((in) + 16 * (size_t)j_))));  \
    } while (0)

NES_AES_TARGET void nes_aesni_ctr32le(const nes_aes256_ks *ks, const uint8_t ctr0[16],
                                      const uint8_t *in, uint8_t *out, size_t len)
{
    const __m128i one = _mm_set_epi32(0, 0, 0, 1);
    __m128i ctr = _mm_loadu_si128((const __m128i *)(const void *)ctr0);
    for (; len >= 128; len -= 128, in += 128, out += 128)
        CTR_N(ks, ctr, in, out, 8);
    if (len >= 64) {
        CTR_N(ks, ctr, in, out, 4);
        len -= 64, in += 64, out += 64;
    }
    for (; len >= 16; len -= 16, in += 16, out += 16)
        CTR_N(ks, ctr, in, out, 1);
    if (len > 0) {
        uint8_t tmp[16];
        memcpy(tmp, in, len);
        CTR_N(ks, ctr, tmp, tmp, 1);
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

void nes_aesni_encrypt_block(const nes_aes256_ks *ks, const uint8_t in[16], uint8_t out[16])
{
    (void)ks, (void)in, (void)out;
}

void nes_aesni_gcmsiv_derive(const nes_aes256_ks *kgk, const uint8_t nonce[12],
                             uint8_t auth_key[16], uint8_t enc_key[32])
{
    (void)kgk, (void)nonce;
    memset(auth_key, 0, 16);
    memset(enc_key, 0, 32);
}

void nes_aesni_expand_encrypt(nes_aes256_ks *ks, const uint8_t key[32], const uint8_t in[16],
                              uint8_t out[16])
{
    (void)key, (void)in;
    memset(ks, 0, sizeof *ks);
    memset(out, 0, 16);
}

void nes_aesni_ctr32le(const nes_aes256_ks *ks, const uint8_t ctr0[16], const uint8_t *in,
                       uint8_t *out, size_t len)
{
    (void)ks, (void)ctr0, (void)in, (void)out, (void)len;
}

#endif
