/* polyval.c - POLYVAL (RFC 8452 section 3).
 *
 * POLYVAL works in GF(2^128) with the polynomial x^128 + x^127 + x^126 + x^121 + 1 and a
 * little-endian bit order: byte 0, bit 0 holds the coefficient of x^0. So a block loads directly
 * as two little-endian 64-bit words (lo = bytes 0..7, hi = bytes 8..15) or as one SSE register,
 * with no byte or bit reversal. dot(a, b) = a * b * x^-128 mod P, and
 * POLYVAL(H, X_1..X_n) = S_n with S_0 = 0, S_i = dot(S_{i-1} ^ X_i, H).
 *
 * Both back ends compute the 256-bit carry-less product T = t3:t2:t1:t0 (64-bit words) and then a
 * Montgomery reduction by x^128: adding t0 * P clears word 0, adding t1' * P clears word 1, and the
 * upper two words are the reduced result. Since P = x^128 + x^64 * (x^63 + x^62 + x^57) + 1,
 * adding t * P to T at word offset w means word w ^= t (which clears it), the 128-bit product
 * t * 0xc200000000000000 goes into words w+1 and w+2, and word w+2 ^= t.
 *
 * Both back ends are constant time: no branches and no memory indexes depend on H or the data. */
#include "core/polyval.h"

#include <string.h>

#include <openssl/crypto.h>

#if defined(__x86_64__) || defined(__i386__)
#define NES_POLYVAL_X86 1
#include <immintrin.h>
#else
#define NES_POLYVAL_X86 0
#endif

/* ---- helpers -------------------------------------------------------------------------------- */

static uint64_t load64_le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void store64_le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A final partial block (0 < len < 16) as zero-padded little-endian words, built in registers
 * (a copy into a zeroed stack block followed by a 16-byte load stalls store forwarding): two
 * overlapping loads of 8 (or 4) bytes, the second shifted so that only the bytes beyond the first
 * remain; reads stay within p[0 .. len). */
static uint64_t load_n_le(const uint8_t *p, size_t n) /* n = 4 or 8 */
{
    uint64_t v = 0;
    if (n == 8) {
        memcpy(&v, p, 8);
    } else {
        uint32_t w;
        memcpy(&w, p, 4);
        v = w;
    }
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = n == 8 ? __builtin_bswap64(v) : __builtin_bswap32((uint32_t)v);
#endif
    return v;
}

static void load_partial(const uint8_t *p, size_t len, uint64_t *lo, uint64_t *hi)
{
    if (len > 8) {
        *lo = load_n_le(p, 8);
        *hi = load_n_le(p + len - 8, 8) >> (8 * (16 - len));
    } else if (len == 8) {
        *lo = load_n_le(p, 8);
        *hi = 0;
    } else if (len >= 4) {
        *lo = load_n_le(p, 4) | load_n_le(p + len - 4, 4) << (8 * (len - 4));
        *hi = 0;
    } else {
        uint64_t w = 0;
        for (size_t i = len; i-- > 0;)
            w = (w << 8) | p[i];
        *lo = w;
        *hi = 0;
    }
}

/* ---- portable back end ---------------------------------------------------------------------- */

/* 32x32 -> 64-bit carry-less product with ordinary integer multiplications. Each operand is split
 * into four parts that keep only the bits whose index is i mod 4 ("holes" of three zero bits
 * between kept bits). In the integer product of two such parts, every output position of the
 * right residue class receives at most 8 one-bit partial products (a part has at most 8 bits),
 * so each sum fits in the 4 bits up to the next position of that class and never carries into
 * it: the lowest bit of each sum is the XOR of the partial products, i.e. the carry-less result.
 * Carries land only in the hole bits, which the final masks discard. */
static uint64_t clmul32(uint32_t x, uint32_t y)
{
    const uint64_t x0 = x & 0x11111111u, x1 = x & 0x22222222u;
    const uint64_t x2 = x & 0x44444444u, x3 = x & 0x88888888u;
    const uint64_t y0 = y & 0x11111111u, y1 = y & 0x22222222u;
    const uint64_t y2 = y & 0x44444444u, y3 = y & 0x88888888u;
    /* z_k collects the products whose bit classes add up to k mod 4. */
    uint64_t z0 = (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1);
    uint64_t z1 = (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2);
    uint64_t z2 = (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3);
    uint64_t z3 = (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0);
    return (z0 & UINT64_C(0x1111111111111111)) | (z1 & UINT64_C(0x2222222222222222)) |
           (z2 & UINT64_C(0x4444444444444444)) | (z3 & UINT64_C(0x8888888888888888));
}

/* 64x64 -> 128-bit carry-less product (Karatsuba over 32-bit halves): *hi:*lo. */
static void clmul64(uint64_t x, uint64_t y, uint64_t *lo, uint64_t *hi)
{
    const uint32_t xl = (uint32_t)x, xh = (uint32_t)(x >> 32);
    const uint32_t yl = (uint32_t)y, yh = (uint32_t)(y >> 32);
    const uint64_t l = clmul32(xl, yl);
    const uint64_t h = clmul32(xh, yh);
    const uint64_t m = clmul32(xl ^ xh, yl ^ yh) ^ l ^ h;
    *lo = l ^ (m << 32);
    *hi = h ^ (m >> 32);
}

/* dot(a, b) = a * b * x^-128 mod P on (lo, hi) word pairs; the result replaces a. */
static void dot_portable(uint64_t a[2], const uint64_t b[2])
{
    uint64_t l0, l1, h0, h1, m0, m1;
    clmul64(a[0], b[0], &l0, &l1);
    clmul64(a[1], b[1], &h0, &h1);
    clmul64(a[0] ^ a[1], b[0] ^ b[1], &m0, &m1);
    m0 ^= l0 ^ h0;
    m1 ^= l1 ^ h1;
    uint64_t t0 = l0, t1 = l1 ^ m0, t2 = h0 ^ m1, t3 = h1;
    /* Montgomery reduction: t0 * 0xc200000000000000 = t0 * (x^57 + x^62 + x^63). */
    t1 ^= (t0 << 57) ^ (t0 << 62) ^ (t0 << 63);
    t2 ^= t0 ^ (t0 >> 7) ^ (t0 >> 2) ^ (t0 >> 1);
    t2 ^= (t1 << 57) ^ (t1 << 62) ^ (t1 << 63);
    t3 ^= t1 ^ (t1 >> 7) ^ (t1 >> 2) ^ (t1 >> 1);
    a[0] = t2;
    a[1] = t3;
}

static void polyval_portable_update(nes_polyval *pv, const uint8_t *data, size_t len)
{
    uint64_t h[2] = {load64_le(pv->h), load64_le(pv->h + 8)};
    uint64_t s[2] = {load64_le(pv->s), load64_le(pv->s + 8)};
    for (; len >= 16; data += 16, len -= 16) {
        s[0] ^= load64_le(data);
        s[1] ^= load64_le(data + 8);
        dot_portable(s, h);
    }
    if (len > 0) {
        uint64_t lo, hi;
        load_partial(data, len, &lo, &hi);
        s[0] ^= lo;
        s[1] ^= hi;
        dot_portable(s, h);
    }
    store64_le(pv->s, s[0]);
    store64_le(pv->s + 8, s[1]);
    OPENSSL_cleanse(h, sizeof h);
    OPENSSL_cleanse(s, sizeof s);
}

/* ---- PCLMULQDQ back end --------------------------------------------------------------------- */

#if NES_POLYVAL_X86

#define NES_CLMUL_TARGET __attribute__((target("pclmul,sse2,ssse3")))

/* Accumulates the unreduced product a * b into lo (x^0..), mid (x^64..) and hi (x^128..). */
NES_CLMUL_TARGET static inline void clmul_acc(__m128i a, __m128i b, __m128i *lo, __m128i *mid,
                                              __m128i *hi)
{
    *lo = _mm_xor_si128(*lo, _mm_clmulepi64_si128(a, b, 0x00));
    *hi = _mm_xor_si128(*hi, _mm_clmulepi64_si128(a, b, 0x11));
    *mid = _mm_xor_si128(
        *mid, _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10)));
}

/* Montgomery reduction of the 256-bit value given by clmul_acc: returns T * x^-128 mod P. */
NES_CLMUL_TARGET static inline __m128i clmul_reduce(__m128i lo, __m128i mid, __m128i hi)
{
    const __m128i poly = _mm_set_epi32(0, 0, (int)0xc2000000u, 0); /* x^57 + x^62 + x^63 */
    __m128i d = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));         /* t1:t0 */
    const __m128i u = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));   /* t3:t2 */
    /* Clear t0: t1 ^= lo64(t0 * c), t2 ^= hi64(t0 * c) ^ t0 (the swap carries t0 up). */
    __m128i p = _mm_clmulepi64_si128(d, poly, 0x00);
    d = _mm_xor_si128(_mm_shuffle_epi32(d, 0x4e), p); /* (t0 ^ hi64):(t1 ^ lo64) */
    /* Clear t1 the same way; what remains is added to t3:t2. */
    p = _mm_clmulepi64_si128(d, poly, 0x00);
    d = _mm_xor_si128(_mm_shuffle_epi32(d, 0x4e), p);
    return _mm_xor_si128(u, d);
}

NES_CLMUL_TARGET static inline __m128i clmul_dot(__m128i a, __m128i b)
{
    __m128i lo = _mm_setzero_si128(), mid = _mm_setzero_si128(), hi = _mm_setzero_si128();
    clmul_acc(a, b, &lo, &mid, &hi);
    return clmul_reduce(lo, mid, hi);
}

/* Absorbs n blocks with one reduction: S' = dot(S ^ X_1, H_n) ^ dot(X_2, H_(n-1)) ^ ... ^
 * dot(X_n, H_1), where H_j = H^j * x^(-128(j-1)) (so H_1 = H and dot(H_a, H_b) = H_(a+b)): each
 * term then carries exactly the x^-128 factors of the steps it skips, and the sum of the
 * unreduced products is reduced once. hp[j - 1] = H_j; hk[j - 1] holds H_j.lo ^ H_j.hi in its low
 * lane. The products use Karatsuba (three carry-less multiplications per block, the middle one
 * over lo ^ hi of both factors), since multiplication throughput bounds this loop. */
NES_CLMUL_TARGET static inline __m128i clmul_blocks(__m128i s, const uint8_t *data, int n,
                                                    const __m128i *hp, const __m128i *hk)
{
    __m128i lo = _mm_setzero_si128(), mid = _mm_setzero_si128(), hi = _mm_setzero_si128();
    const __m128i *blk = (const __m128i *)(const void *)data;
    for (int j = 0; j < n; j++) {
        __m128i x = _mm_loadu_si128(blk + j);
        if (j == 0)
            x = _mm_xor_si128(x, s);
        const __m128i xk = _mm_xor_si128(x, _mm_shuffle_epi32(x, 0x4e));
        lo = _mm_xor_si128(lo, _mm_clmulepi64_si128(x, hp[n - 1 - j], 0x00));
        hi = _mm_xor_si128(hi, _mm_clmulepi64_si128(x, hp[n - 1 - j], 0x11));
        mid = _mm_xor_si128(mid, _mm_clmulepi64_si128(xk, hk[n - 1 - j], 0x00));
    }
    mid = _mm_xor_si128(mid, _mm_xor_si128(lo, hi));
    return clmul_reduce(lo, mid, hi);
}

/* Powers of H for clmul_absorb, computed only as far as the input needs them (they cost a few
 * multiplications each). hp[j - 1] = H_j, hk[j - 1] = Karatsuba helper of H_j; n = how many are
 * ready (>= 1). */
typedef struct clmul_powers {
    __m128i hp[8], hk[8];
    int n;
} clmul_powers;

NES_CLMUL_TARGET static void clmul_powers_upto(clmul_powers *p, int want)
{
    if (p->n >= want)
        return;
    p->hp[1] = clmul_dot(p->hp[0], p->hp[0]);
    p->hp[2] = clmul_dot(p->hp[1], p->hp[0]);
    p->hp[3] = clmul_dot(p->hp[1], p->hp[1]);
    if (want == 8) {
        p->hp[4] = clmul_dot(p->hp[3], p->hp[0]);
        p->hp[5] = clmul_dot(p->hp[3], p->hp[1]);
        p->hp[6] = clmul_dot(p->hp[3], p->hp[2]);
        p->hp[7] = clmul_dot(p->hp[3], p->hp[3]);
    }
    for (int j = 0; j < want; j++)
        p->hk[j] = _mm_xor_si128(p->hp[j], _mm_shuffle_epi32(p->hp[j], 0x4e));
    p->n = want;
}

/* Absorbs `len` bytes (the final partial block zero-padded): eight blocks per reduction while at
 * least eight remain, then four, then one at a time. */
NES_CLMUL_TARGET static inline __m128i clmul_absorb(__m128i s, clmul_powers *p, const uint8_t *data,
                                                    size_t len)
{
    size_t nblocks = len / 16;
    if (nblocks >= 4) {
        clmul_powers_upto(p, nblocks >= 8 ? 8 : 4);
        for (; nblocks >= 8; nblocks -= 8, data += 128)
            s = clmul_blocks(s, data, 8, p->hp, p->hk);
        for (; nblocks >= 4; nblocks -= 4, data += 64)
            s = clmul_blocks(s, data, 4, p->hp, p->hk);
    }
    for (; nblocks > 0; nblocks--, data += 16)
        s = clmul_dot(_mm_xor_si128(s, _mm_loadu_si128((const __m128i *)(const void *)data)),
                      p->hp[0]);
    len %= 16;
    if (len > 0) {
        uint64_t lo, hi;
        load_partial(data, len, &lo, &hi);
        s = clmul_dot(_mm_xor_si128(s, _mm_set_epi64x((long long)hi, (long long)lo)), p->hp[0]);
    }
    return s;
}

NES_CLMUL_TARGET static void polyval_clmul_update(nes_polyval *pv, const uint8_t *data, size_t len)
{
    clmul_powers p;
    p.hp[0] = _mm_loadu_si128((const __m128i *)(const void *)pv->h);
    p.n = 1;
    __m128i s = _mm_loadu_si128((const __m128i *)(const void *)pv->s);
    _mm_storeu_si128((__m128i *)(void *)pv->s, clmul_absorb(s, &p, data, len));
}

NES_CLMUL_TARGET static void polyval_clmul_aead(const uint8_t h[16], const uint8_t *aad,
                                                size_t aad_len, const uint8_t *msg, size_t msg_len,
                                                uint8_t out[16])
{
    clmul_powers p;
    p.hp[0] = _mm_loadu_si128((const __m128i *)(const void *)h);
    p.n = 1;
    __m128i s = _mm_setzero_si128();
    if (aad_len > 0)
        s = clmul_absorb(s, &p, aad, aad_len);
    if (msg_len > 0)
        s = clmul_absorb(s, &p, msg, msg_len);
    const uint64_t msg_bits = (uint64_t)msg_len * 8, aad_bits = (uint64_t)aad_len * 8;
    const __m128i lens = _mm_set_epi64x((long long)msg_bits, (long long)aad_bits);
    _mm_storeu_si128((__m128i *)(void *)out, clmul_dot(_mm_xor_si128(s, lens), p.hp[0]));
}

#endif /* NES_POLYVAL_X86 */

/* ---- public API ----------------------------------------------------------------------------- */

bool nes_polyval_clmul_available(void)
{
#if NES_POLYVAL_X86
    /* No __builtin_cpu_init(): libgcc fills the CPU model in a constructor, so this is one load
     * (it runs per message). Before constructors run it would answer false: the portable code,
     * same results. */
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2") &&
           __builtin_cpu_supports("ssse3");
#else
    return false;
#endif
}

void nes_polyval_init(nes_polyval *pv, const uint8_t h[16], nes_polyval_impl impl)
{
    memset(pv->s, 0, sizeof pv->s);
    memcpy(pv->h, h, sizeof pv->h);
    if (impl == NES_POLYVAL_PORTABLE || !nes_polyval_clmul_available())
        pv->impl = NES_POLYVAL_PORTABLE;
    else
        pv->impl = NES_POLYVAL_CLMUL;
}

void nes_polyval_update(nes_polyval *pv, const uint8_t *data, size_t len)
{
    if (len == 0)
        return;
#if NES_POLYVAL_X86
    if (pv->impl == NES_POLYVAL_CLMUL) {
        polyval_clmul_update(pv, data, len);
        return;
    }
#endif
    polyval_portable_update(pv, data, len);
}

void nes_polyval_aead(const uint8_t h[16], nes_polyval_impl impl, const uint8_t *aad,
                      size_t aad_len, const uint8_t *msg, size_t msg_len, uint8_t out[16])
{
#if NES_POLYVAL_X86
    if (impl != NES_POLYVAL_PORTABLE && nes_polyval_clmul_available()) {
        polyval_clmul_aead(h, aad, aad_len, msg, msg_len, out);
        return;
    }
#endif
    nes_polyval pv;
    uint8_t lens[16];
    store64_le(lens, (uint64_t)aad_len * 8);
    store64_le(lens + 8, (uint64_t)msg_len * 8);
    nes_polyval_init(&pv, h, NES_POLYVAL_PORTABLE);
    nes_polyval_update(&pv, aad, aad_len);
    nes_polyval_update(&pv, msg, msg_len);
    nes_polyval_update(&pv, lens, sizeof lens);
    nes_polyval_final(&pv, out);
}

void nes_polyval_final(nes_polyval *pv, uint8_t out[16])
{
    memcpy(out, pv->s, sizeof pv->s);
    OPENSSL_cleanse(pv, sizeof *pv);
}
