/* hmac_sha256.c - HMAC-SHA256 from precomputed pad states, SHA-256 compression with SHA-NI.
 *
 * Why our own compression instead of OpenSSL: OpenSSL 3.0's SHA-256 is reached through EVP only
 * (SHA256_Init and SHA256_Transform are deprecated, and the build defines OPENSSL_NO_DEPRECATED),
 * and the cheapest EVP route to a pre-keyed HMAC, EVP_MD_CTX_copy_ex of a state that absorbed the
 * pad block, allocates and frees a provider context per copy and goes through two
 * update/final rounds with parameter plumbing: about 2,300 instructions of overhead around two
 * 64-byte compressions for a 16-byte field (callgrind), more than the compressions themselves
 * with SHA-NI. Here a MAC is the compressions and a few shuffles.
 *
 * SHA-NI keeps the eight working variables in two registers in the order the instructions want:
 * ABEF (A in the top lane) and CDGH. Chaining values are stored in the ordinary order
 * (state[0] = A ... state[7] = H) and converted on entry and exit of each compress() call.
 * Message words are big-endian in the input and swapped to native order with pshufb.
 *
 * Per 4 rounds: MSG = W + K; rnds2 with the low two words, then with the high two (shifted down).
 * Schedule: W[t..t+3] = msg2(msg1(W[t-16..], W[t-12..]) + alignr(W[t-4..], W[t-8..], 4), W[t-4..]),
 * i.e. sigma0 terms from msg1, the W[t-7] terms from the alignr, sigma1 terms from msg2. */
#include "core/hmac_sha256.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define NES_SHA_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define NES_SHA_X86 0
#endif

#define BLOCK 64

bool nes_hmac_sha256_available(void)
{
#if NES_SHA_X86
    /* CPUID leaf 7 EBX bit 29 (clang 14's __builtin_cpu_supports has no "sha"). */
    unsigned a = 0, b = 0, c = 0, d = 0;
    __builtin_cpu_init();
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) != 0 &&
           __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
#else
    return false;
#endif
}

void nes_hmac_sha256_wipe(nes_hmac_sha256_key *k)
{
    explicit_bzero(k, sizeof *k);
}

#if NES_SHA_X86

#define NES_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t K256[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t IV256[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* Four rounds with message words w (native order) and round constants K256[4i..4i+3]. */
#define ROUNDS4(s0, s1, w, i)                                                                      \
    do {                                                                                           \
        __m128i m_ = _mm_add_epi32(                                                                \
            (w), _mm_load_si128((const __m128i *)(const void *)&K256[4 * (size_t)(i)]));           \
        (s1) = _mm_sha256rnds2_epu32((s1), (s0), m_);                                              \
        (s0) = _mm_sha256rnds2_epu32((s0), (s1), _mm_shuffle_epi32(m_, 0x0e));                     \
    } while (0)

/* The next four schedule words from the previous sixteen (w0 oldest). */
#define SCHED(w0, w1, w2, w3)                                                                      \
    _mm_sha256msg2_epu32(                                                                          \
        _mm_add_epi32(_mm_sha256msg1_epu32((w0), (w1)), _mm_alignr_epi8((w3), (w2), 4)), (w3))

/* The 64 rounds of one block, message words w0..w3 (native order), on the state in SHA-NI's
 * register layout (*s0 = ABEF, *s1 = CDGH); adds the block's input state at the end. */
NES_SHA_TARGET static inline void block64(__m128i *s0p, __m128i *s1p, __m128i w0, __m128i w1,
                                          __m128i w2, __m128i w3)
{
    __m128i s0 = *s0p, s1 = *s1p;
    ROUNDS4(s0, s1, w0, 0);
    ROUNDS4(s0, s1, w1, 1);
    ROUNDS4(s0, s1, w2, 2);
    ROUNDS4(s0, s1, w3, 3);
    for (int i = 4; i < 16; i += 4) {
        w0 = SCHED(w0, w1, w2, w3);
        ROUNDS4(s0, s1, w0, i);
        w1 = SCHED(w1, w2, w3, w0);
        ROUNDS4(s0, s1, w1, i + 1);
        w2 = SCHED(w2, w3, w0, w1);
        ROUNDS4(s0, s1, w2, i + 2);
        w3 = SCHED(w3, w0, w1, w2);
        ROUNDS4(s0, s1, w3, i + 3);
    }
    *s0p = _mm_add_epi32(s0, *s0p);
    *s1p = _mm_add_epi32(s1, *s1p);
}

/* Chaining values in ordinary order (A..H) <-> the register layout. */
NES_SHA_TARGET static inline void state_load(const uint32_t st[8], __m128i *s0, __m128i *s1)
{
    const __m128i cdab =
        _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)st), 0xb1);
    const __m128i efgh =
        _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)(st + 4)), 0x1b);
    *s0 = _mm_alignr_epi8(cdab, efgh, 8);    /* ABEF */
    *s1 = _mm_blend_epi16(efgh, cdab, 0xf0); /* CDGH */
}

/* The register layout back to words in ordinary order: *lo = A..D, *hi = E..H (lane 0 first). */
NES_SHA_TARGET static inline void state_words(__m128i s0, __m128i s1, __m128i *lo, __m128i *hi)
{
    const __m128i feba = _mm_shuffle_epi32(s0, 0x1b);
    const __m128i dchg = _mm_shuffle_epi32(s1, 0xb1);
    *lo = _mm_blend_epi16(feba, dchg, 0xf0);
    *hi = _mm_alignr_epi8(dchg, feba, 8);
}

/* Big-endian message words <-> native order. */
#define BSWAP32X4 _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL)

/* Runs the compression over `n` 64-byte blocks. */
NES_SHA_TARGET static inline void compress_blocks(__m128i *s0, __m128i *s1, const uint8_t *p,
                                                  size_t n)
{
    const __m128i *q = (const __m128i *)(const void *)p;
    for (; n > 0; n--, q += 4)
        block64(s0, s1, _mm_shuffle_epi8(_mm_loadu_si128(q), BSWAP32X4),
                _mm_shuffle_epi8(_mm_loadu_si128(q + 1), BSWAP32X4),
                _mm_shuffle_epi8(_mm_loadu_si128(q + 2), BSWAP32X4),
                _mm_shuffle_epi8(_mm_loadu_si128(q + 3), BSWAP32X4));
}

NES_SHA_TARGET static void pad_state(uint32_t st[8], const uint8_t *key, size_t key_len,
                                     uint8_t pad)
{
    uint8_t block[BLOCK];
    for (size_t i = 0; i < BLOCK; i++)
        block[i] = (uint8_t)((i < key_len ? key[i] : 0) ^ pad);
    __m128i s0, s1, lo, hi;
    state_load(IV256, &s0, &s1);
    compress_blocks(&s0, &s1, block, 1);
    state_words(s0, s1, &lo, &hi);
    _mm_storeu_si128((__m128i *)(void *)st, lo);
    _mm_storeu_si128((__m128i *)(void *)(st + 4), hi);
    explicit_bzero(block, sizeof block);
}

void nes_hmac_sha256_init(nes_hmac_sha256_key *k, const uint8_t *key, size_t key_len)
{
    pad_state(k->inner, key, key_len, 0x36);
    pad_state(k->outer, key, key_len, 0x5c);
}

/* Absorbs `len` bytes: whole blocks straight from the input, the rest through buf (*fill bytes
 * used). */
NES_SHA_TARGET static inline void absorb(__m128i *s0, __m128i *s1, uint8_t buf[BLOCK], size_t *fill,
                                         const uint8_t *p, size_t len)
{
    if (len == 0)
        return;
    if (*fill > 0) {
        size_t take = BLOCK - *fill < len ? BLOCK - *fill : len;
        memcpy(buf + *fill, p, take);
        *fill += take;
        p += take;
        len -= take;
        if (*fill < BLOCK)
            return;
        compress_blocks(s0, s1, buf, 1);
        *fill = 0;
    }
    if (len >= BLOCK) {
        compress_blocks(s0, s1, p, len / BLOCK);
        p += len / BLOCK * BLOCK;
        len %= BLOCK;
    }
    memcpy(buf, p, len);
    *fill = len;
}

NES_SHA_TARGET void nes_hmac_sha256_3(const nes_hmac_sha256_key *k, const uint8_t *a, size_t a_len,
                                      const uint8_t *b, size_t b_len, const uint8_t *c,
                                      size_t c_len, uint8_t out[NES_HMAC_SHA256_LEN])
{
    uint8_t buf[2 * BLOCK]; /* the tail and its padding take at most two blocks */
    size_t fill = 0;
    __m128i s0, s1, lo, hi;
    state_load(k->inner, &s0, &s1);
    absorb(&s0, &s1, buf, &fill, a, a_len);
    absorb(&s0, &s1, buf, &fill, b, b_len);
    absorb(&s0, &s1, buf, &fill, c, c_len);
    /* Padding: 0x80, zeros, the bit length of pad block + message as a 64-bit big-endian. */
    const uint64_t bits = __builtin_bswap64(((uint64_t)BLOCK + a_len + b_len + c_len) * 8);
    const size_t nb = fill + 9 <= BLOCK ? 1 : 2;
    buf[fill] = 0x80;
    memset(buf + fill + 1, 0, nb * BLOCK - fill - 9);
    memcpy(buf + nb * BLOCK - 8, &bits, 8);
    compress_blocks(&s0, &s1, buf, nb);
    explicit_bzero(buf, nb * BLOCK);
    /* Outer: the inner hash as message words (already in native order: no byte swaps), then its
     * padding, 0x80 and the bit length 8 * (64 + 32), make exactly one block. */
    state_words(s0, s1, &lo, &hi);
    state_load(k->outer, &s0, &s1);
    block64(&s0, &s1, lo, hi, _mm_set_epi32(0, 0, 0, (int)0x80000000u),
            _mm_set_epi32((BLOCK + NES_HMAC_SHA256_LEN) * 8, 0, 0, 0));
    state_words(s0, s1, &lo, &hi);
    _mm_storeu_si128((__m128i *)(void *)out, _mm_shuffle_epi8(lo, BSWAP32X4));
    _mm_storeu_si128((__m128i *)(void *)(out + 16), _mm_shuffle_epi8(hi, BSWAP32X4));
}

#else /* !NES_SHA_X86: never called (nes_hmac_sha256_available() is false) */

void nes_hmac_sha256_init(nes_hmac_sha256_key *k, const uint8_t *key, size_t key_len)
{
    (void)key;
    (void)key_len;
    nes_hmac_sha256_wipe(k);
}

void nes_hmac_sha256_3(const nes_hmac_sha256_key *k, const uint8_t *a, size_t a_len,
                       const uint8_t *b, size_t b_len, const uint8_t *c, size_t c_len,
                       uint8_t out[NES_HMAC_SHA256_LEN])
{
    (void)k, (void)a, (void)a_len, (void)b, (void)b_len, (void)c, (void)c_len;
    memset(out, 0, NES_HMAC_SHA256_LEN);
}

#endif
