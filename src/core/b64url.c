/* b64url.c - strict base64 (RFC 4648 sections 4 and 5).
 *
 * The standard alphabet carries key files, which are secrets: it maps characters to and from
 * 6-bit values with constant-time range masks, no secret-indexed tables or branches. Only public
 * facts (lengths, padding positions, whether the input as a whole is valid) decide control flow.
 * The URL alphabet carries tokens (nonce and ciphertext, both public) on the per-field hot path,
 * so it uses lookup tables: the arithmetic mapping cost ~2 ns per character, about 60% of the
 * whole token for a 1 KiB value. Where the CPU has SSSE3 the URL alphabet goes 12 bytes <-> 16
 * characters per step in SSE registers (Wojciech Mula's and Daniel Lemire's published method:
 * pshufb spreads 3 bytes over a 32-bit lane, two multiplies move the four 6-bit fields into
 * bytes, one small table lookup by range maps them to characters; decoding reverses it with range
 * compares that also validate); the scalar code handles the rest of the input and CPUs without
 * SSSE3, and both give the same bytes (the unit test checks every length against the scalar
 * standard-alphabet code). */
#include "core/b64url.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define NES_B64_X86 1
#include <immintrin.h>
#else
#define NES_B64_X86 0
#endif

enum alphabet { URL, STD };

static const char URL_ENC[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 6-bit value of each character of the URL alphabet, 0xff for every other byte. */
static const uint8_t URL_DEC[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0xff, 0xff,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0x3f,
    0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* All-ones when lo <= c <= hi, else zero; c, lo, hi in [0, 255]. */
static inline unsigned in_range(unsigned c, unsigned lo, unsigned hi)
{
    /* (lo - 1 - c) and (c - hi - 1) are both negative exactly when c is in range. */
    unsigned t = (lo - 1u - c) & (c - hi - 1u);
    return 0u - (t >> (sizeof t * 8 - 1));
}

/* The character of 6-bit value v: a table for the URL alphabet, constant-time arithmetic for the
 * standard one. */
static inline char enc_char(unsigned v, enum alphabet a)
{
    if (a == URL)
        return URL_ENC[v];
    unsigned c = v + 'A';
    c += in_range(v, 26, 51) & (unsigned)('a' - 26 - 'A');
    c += in_range(v, 52, 61) & (unsigned)('0' - 52 - 'A');
    c += in_range(v, 62, 62) & (unsigned)('+' - 62 - 'A');
    c += in_range(v, 63, 63) & (unsigned)('/' - 63 - 'A');
    return (char)(c & 0xff);
}

/* The 6-bit value of character c (0..255), or a value above 63 when c is not in the alphabet;
 * a table for the URL alphabet, constant-time arithmetic for the standard one. */
static inline unsigned dec_char(unsigned c, enum alphabet a)
{
    if (a == URL)
        return URL_DEC[c];
    unsigned v = 0; /* value + 1; stays 0 for a bad character */
    v |= in_range(c, 'A', 'Z') & (c - 'A' + 1);
    v |= in_range(c, 'a', 'z') & (c - 'a' + 27);
    v |= in_range(c, '0', '9') & (c - '0' + 53);
    v |= in_range(c, '+', '+') & 63u;
    v |= in_range(c, '/', '/') & 64u;
    return (v - 1u) & 0x1ffu; /* bad: 0x1ff; good: 0..63 */
}

size_t nes_b64url_encoded_len(size_t n)
{
    size_t rem = n % 3;
    return n / 3 * 4 + (rem ? rem + 1 : 0);
}

/* Encodes without padding. Each group's input bytes are read before its characters are written,
 * so the input may sit at the end of the output area (in-place encoding). Inlined into each
 * caller so that `a` is a constant there. */
static inline __attribute__((always_inline)) size_t encode(const uint8_t *in, size_t n, char *out,
                                                           enum alphabet a)
{
    size_t o = 0, i = 0;
    for (; n - i >= 3; i += 3) {
        unsigned w = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = enc_char(w >> 18, a);
        out[o++] = enc_char((w >> 12) & 63, a);
        out[o++] = enc_char((w >> 6) & 63, a);
        out[o++] = enc_char(w & 63, a);
    }
    if (n - i == 1) {
        unsigned w = in[i];
        out[o++] = enc_char(w >> 2, a);
        out[o++] = enc_char((w & 3) << 4, a);
    } else if (n - i == 2) {
        unsigned w = (unsigned)in[i] << 8 | in[i + 1];
        out[o++] = enc_char(w >> 10, a);
        out[o++] = enc_char((w >> 4) & 63, a);
        out[o++] = enc_char((w & 15) << 2, a);
    }
    return o;
}

/* Decodes unpadded base64 of alphabet a. On failure the output written so far is wiped. */
static inline __attribute__((always_inline)) long decode(const char *in, size_t n, uint8_t *out,
                                                         enum alphabet a)
{
    if (n % 4 == 1)
        return -1;
    unsigned bad = 0;
    size_t o = 0, i = 0;
    for (; n - i >= 4; i += 4) {
        unsigned v0 = dec_char((unsigned char)in[i], a), v1 = dec_char((unsigned char)in[i + 1], a);
        unsigned v2 = dec_char((unsigned char)in[i + 2], a);
        unsigned v3 = dec_char((unsigned char)in[i + 3], a);
        bad |= v0 | v1 | v2 | v3;
        unsigned w = v0 << 18 | v1 << 12 | v2 << 6 | v3;
        out[o++] = (uint8_t)(w >> 16);
        out[o++] = (uint8_t)(w >> 8);
        out[o++] = (uint8_t)w;
    }
    if (n - i == 2) {
        unsigned v0 = dec_char((unsigned char)in[i], a), v1 = dec_char((unsigned char)in[i + 1], a);
        bad |= v0 | v1 | ((v1 & 15) << 6); /* the low 4 bits of v1 must be zero */
        out[o++] = (uint8_t)(v0 << 2 | v1 >> 4);
    } else if (n - i == 3) {
        unsigned v0 = dec_char((unsigned char)in[i], a), v1 = dec_char((unsigned char)in[i + 1], a);
        unsigned v2 = dec_char((unsigned char)in[i + 2], a);
        bad |= v0 | v1 | v2 | ((v2 & 3) << 6); /* the low 2 bits of v2 must be zero */
        unsigned w = v0 << 10 | v1 << 4 | v2 >> 2;
        out[o++] = (uint8_t)(w >> 8);
        out[o++] = (uint8_t)w;
    }
    if (bad & ~63u) {
        if (o > 0)
            explicit_bzero(out, o);
        return -1;
    }
    return (long)o;
}

#if NES_B64_X86

#define NES_B64_TARGET __attribute__((target("ssse3")))

static bool have_ssse3(void)
{
    /* No __builtin_cpu_init(): libgcc fills the CPU model in a constructor, so this is one load
     * (it runs per call). Before constructors run it would answer false: the portable code,
     * same results. */
    return __builtin_cpu_supports("ssse3");
}

/* Encodes 12 bytes per step while 16 can be loaded; returns the input bytes consumed (a multiple
 * of 12) and sets *o to the characters written. In place as encode() allows: each step loads
 * before it stores, and with at least 16 bytes of input left a step's 16 characters end before
 * the input the following steps read (the output runs ahead of the input by n/3 bytes). */
NES_B64_TARGET static size_t encode_url_ssse3(const uint8_t *in, size_t n, char *out, size_t *o)
{
    const __m128i spread = _mm_set_epi8(10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1);
    /* Per range of the 6-bit value v, what to add to get its character; indexed by
     * max(v - 51, 0), or 13 for v < 26. */
    const __m128i offsets =
        _mm_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -17, 32, 65, 0, 0);
    size_t i = 0;
    for (; n - i >= 16; i += 12, *o += 16) {
        __m128i x =
            _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(in + i)), spread);
        /* Each lane holds bytes b, a, c, b (a, b, c the group's input): move the four 6-bit
         * fields to the four bytes of the lane, first field in the low byte. */
        __m128i t0 = _mm_mulhi_epu16(_mm_and_si128(x, _mm_set1_epi32(0x0fc0fc00)),
                                     _mm_set1_epi32(0x04000040));
        __m128i t1 = _mm_mullo_epi16(_mm_and_si128(x, _mm_set1_epi32(0x003f03f0)),
                                     _mm_set1_epi32(0x01000010));
        __m128i v = _mm_or_si128(t0, t1);
        __m128i idx = _mm_subs_epu8(v, _mm_set1_epi8(51));
        idx = _mm_or_si128(idx,
                           _mm_and_si128(_mm_cmpgt_epi8(_mm_set1_epi8(26), v), _mm_set1_epi8(13)));
        v = _mm_add_epi8(v, _mm_shuffle_epi8(offsets, idx));
        _mm_storeu_si128((__m128i *)(void *)(out + *o), v);
    }
    return i;
}

/* Decodes 16 characters per step while 16 remain; returns the characters consumed (a multiple of
 * 16), sets *o to the bytes written and *bad when a character is outside the alphabet. */
NES_B64_TARGET static size_t decode_url_ssse3(const char *in, size_t n, uint8_t *out, size_t *o,
                                              bool *bad)
{
    __m128i invalid = _mm_setzero_si128();
    const __m128i lo_bad = _mm_setr_epi8(0x25, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
                                         0x23, 0x3b, 0x3b, 0x3a, 0x3b, 0x33);
    const __m128i hi_class = _mm_setr_epi8(0x20, 0x20, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10, 0x20,
                                           0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20);
    const __m128i offset = _mm_setr_epi8(0, 0, 17, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m128i pack = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    size_t i = 0;
    for (; n - i >= 16; i += 16, *o += 12) {
        const __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
        /* Validation by nibbles: lo_bad[lo] has a bit for each class of high nibble (2, 3, 4 or
         * 6, 5, 7, anything else) with which this low nibble is not in the alphabet; hi_class
         * gives the class bit. Bytes >= 0x80 have high nibbles 8..15: class "anything else",
         * which every low nibble rejects. */
        const __m128i hi = _mm_and_si128(_mm_srli_epi32(c, 4), _mm_set1_epi8(0x0f));
        const __m128i lo = _mm_and_si128(c, _mm_set1_epi8(0x0f));
        const __m128i badc =
            _mm_and_si128(_mm_shuffle_epi8(lo_bad, lo), _mm_shuffle_epi8(hi_class, hi));
        invalid = _mm_or_si128(invalid, badc);
        /* Value = character + offset by high nibble ('-' 17, digits 4, upper -65, lower -71),
         * '_' (0x5f, among the upper-case offsets) corrected to -32. */
        __m128i add = _mm_shuffle_epi8(offset, hi);
        add = _mm_add_epi8(add,
                           _mm_and_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('_')), _mm_set1_epi8(33)));
        const __m128i v = _mm_add_epi8(c, add);
        /* Pairs of 6-bit values into 12 bits, pairs of those into 24 bits per lane, then the
         * three bytes of each lane in big-endian order. */
        const __m128i ab = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140));
        const __m128i abcd = _mm_madd_epi16(ab, _mm_set1_epi32(0x00011000));
        const __m128i bytes = _mm_shuffle_epi8(abcd, pack);
        _mm_storel_epi64((__m128i *)(void *)(out + *o), bytes);
        const uint32_t last = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(bytes, 8));
        memcpy(out + *o + 8, &last, 4);
    }
    *bad = _mm_movemask_epi8(_mm_cmpeq_epi8(invalid, _mm_setzero_si128())) != 0xffff;
    return i;
}

#define NES_B64_AVX2_TARGET __attribute__((target("avx2")))

static bool have_avx2(void)
{
    /* As have_ssse3: one load; libgcc clears AVX2 when the OS does not save YMM state. */
    return __builtin_cpu_supports("avx2");
}

/* decode_url_ssse3 on 32 characters per step (two 128-bit lanes of 16 characters each, the
 * same tables in both lanes); for CPUs with AVX2. The SSSE3 code finishes a remainder of 16 to
 * 31 characters, so both run in every long decode on such CPUs (and both are tested). */
NES_B64_AVX2_TARGET static size_t decode_url_avx2(const char *in, size_t n, uint8_t *out, size_t *o,
                                                  bool *bad)
{
    __m256i invalid = _mm256_setzero_si256();
    const __m256i lo_bad =
        _mm256_setr_epi8(0x25, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x23, 0x3b,
                         0x3b, 0x3a, 0x3b, 0x33, 0x25, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
                         0x21, 0x21, 0x23, 0x3b, 0x3b, 0x3a, 0x3b, 0x33);
    const __m256i hi_class =
        _mm256_setr_epi8(0x20, 0x20, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10, 0x20, 0x20, 0x20, 0x20,
                         0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10,
                         0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20);
    const __m256i offset =
        _mm256_setr_epi8(0, 0, 17, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 4, -65,
                         -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i pack = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2,
                                          1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    /* the 12 useful bytes of each lane next to each other: dwords 0-2 and 4-6 */
    const __m256i compact = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
    size_t i = 0;
    for (; n - i >= 32; i += 32, *o += 24) {
        const __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(in + i));
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi32(c, 4), _mm256_set1_epi8(0x0f));
        const __m256i lo = _mm256_and_si256(c, _mm256_set1_epi8(0x0f));
        invalid = _mm256_or_si256(invalid, _mm256_and_si256(_mm256_shuffle_epi8(lo_bad, lo),
                                                            _mm256_shuffle_epi8(hi_class, hi)));
        __m256i add = _mm256_shuffle_epi8(offset, hi);
        add = _mm256_add_epi8(add, _mm256_and_si256(_mm256_cmpeq_epi8(c, _mm256_set1_epi8('_')),
                                                    _mm256_set1_epi8(33)));
        const __m256i v = _mm256_add_epi8(c, add);
        const __m256i ab = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
        const __m256i abcd = _mm256_madd_epi16(ab, _mm256_set1_epi32(0x00011000));
        const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(abcd, pack), compact);
        _mm_storeu_si128((__m128i *)(void *)(out + *o), _mm256_castsi256_si128(bytes));
        _mm_storel_epi64((__m128i *)(void *)(out + *o + 16), _mm256_extracti128_si256(bytes, 1));
    }
    *bad = _mm256_movemask_epi8(_mm256_cmpeq_epi8(invalid, _mm256_setzero_si256())) != -1;
    return i;
}

#endif

size_t nes_b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0, o = 0;
#if NES_B64_X86
    if (n >= 16 && have_ssse3())
        i = encode_url_ssse3(in, n, out, &o);
#endif
    return o + encode(in + i, n - i, out + o, URL);
}

long nes_b64url_decode(const char *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    bool bad = false;
    if (n % 4 == 1)
        return -1;
#if NES_B64_X86
    if (n >= 32 && have_avx2())
        i = decode_url_avx2(in, n, out, &o, &bad);
    if (n - i >= 16 && have_ssse3()) {
        bool bad2 = false;
        i += decode_url_ssse3(in + i, n - i, out, &o, &bad2);
        bad = bad || bad2;
    }
#endif
    long rest = bad ? -1 : decode(in + i, n - i, out + o, URL);
    if (rest < 0) {
        if (o > 0)
            explicit_bzero(out, o);
        return -1;
    }
    return (long)o + rest;
}

size_t nes_b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = encode(in, n, out, STD);
    while (o % 4 != 0)
        out[o++] = '=';
    return o;
}

long nes_b64_decode(const char *in, size_t n, uint8_t *out)
{
    if (n % 4 != 0)
        return -1;
    size_t pad = 0;
    if (n > 0 && in[n - 1] == '=')
        pad = in[n - 2] == '=' ? 2 : 1;
    /* The unpadded body has n - pad characters: n - 2 leaves a 2-character group, n - 1 a
     * 3-character one, as padding requires. Any other '=' is a bad character in decode(). */
    return decode(in, n - pad, out, STD);
}
