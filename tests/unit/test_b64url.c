/* Unit tests: b64url.c (both alphabets, canonical-only decoding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/b64url.h"

static const char STD_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* RFC 4648 section 10. */
static const struct {
    const char *in, *std, *url;
} RFC[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static long url_dec(const char *s, uint8_t *out)
{
    return nes_b64url_decode(s, strlen(s), out);
}

static long std_dec(const char *s, uint8_t *out)
{
    return nes_b64_decode(s, strlen(s), out);
}

static void rfc4648_vectors_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof RFC / sizeof RFC[0]; i++) {
        char out[16];
        size_t n = strlen(RFC[i].in);
        const uint8_t *in = (const uint8_t *)RFC[i].in;
        assert_int_equal(nes_b64url_encoded_len(n), strlen(RFC[i].url));
        assert_int_equal(nes_b64url_encode(in, n, out), strlen(RFC[i].url));
        assert_memory_equal(out, RFC[i].url, strlen(RFC[i].url));
        assert_int_equal(nes_b64_encode(in, n, out), strlen(RFC[i].std));
        assert_memory_equal(out, RFC[i].std, strlen(RFC[i].std));
    }
}

static void rfc4648_vectors_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof RFC / sizeof RFC[0]; i++) {
        uint8_t out[16];
        size_t n = strlen(RFC[i].in);
        assert_int_equal(url_dec(RFC[i].url, out), (long)n);
        assert_memory_equal(out, RFC[i].in, n);
        assert_int_equal(std_dec(RFC[i].std, out), (long)n);
        assert_memory_equal(out, RFC[i].in, n);
    }
}

/* The two alphabets differ only in values 62 and 63. */
static void alphabets_differ_in_62_63(void **state)
{
    (void)state;
    const uint8_t in[] = {0xfb, 0xef, 0xff};
    char out[8];
    assert_int_equal(nes_b64url_encode(in, 3, out), 4);
    assert_memory_equal(out, "--__", 4);
    assert_int_equal(nes_b64_encode(in, 3, out), 4);
    assert_memory_equal(out, "++//", 4);
    uint8_t dec[3];
    assert_int_equal(url_dec("--__", dec), 3);
    assert_memory_equal(dec, in, 3);
    assert_int_equal(std_dec("++//", dec), 3);
    assert_memory_equal(dec, in, 3);
    assert_int_equal(url_dec("++//", dec), -1);
    assert_int_equal(std_dec("--__", dec), -1);
}

/* Every 6-bit value encodes to its alphabet character (checked against the RFC's tables). */
static void every_sextet_encodes(void **state)
{
    (void)state;
    for (unsigned v = 0; v < 64; v++) {
        uint8_t in[3] = {(uint8_t)(v << 2), 0, 0}; /* first character carries v */
        char out[4];
        nes_b64url_encode(in, 3, out);
        assert_int_equal(out[0], URL_ALPHABET[v]);
        nes_b64_encode(in, 3, out);
        assert_int_equal(out[0], STD_ALPHABET[v]);
    }
}

/* Every byte value as a character: accepted exactly when it is in the alphabet, with its value. */
static void every_character_decodes_or_fails(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        char s[4] = {(char)c, 'A', 'A', 'A'};
        uint8_t out[3];
        const char *u = c ? memchr(URL_ALPHABET, (int)c, 64) : NULL;
        long r = nes_b64url_decode(s, 4, out);
        if (u != NULL) {
            assert_int_equal(r, 3);
            assert_int_equal(out[0] >> 2, u - URL_ALPHABET);
        } else {
            assert_int_equal(r, -1);
        }
        const char *st = c ? memchr(STD_ALPHABET, (int)c, 64) : NULL;
        r = nes_b64_decode(s, 4, out);
        if (st != NULL) {
            assert_int_equal(r, 3);
            assert_int_equal(out[0] >> 2, st - STD_ALPHABET);
        } else {
            assert_int_equal(r, -1);
        }
    }
}

static void roundtrip_random(void **state)
{
    (void)state;
    srand(4648);
    uint8_t in[300], dec[300];
    char enc[400];
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = (size_t)rand() % sizeof in;
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)rand();
        size_t e = nes_b64url_encode(in, n, enc);
        assert_int_equal(e, nes_b64url_encoded_len(n));
        assert_int_equal(nes_b64url_decode(enc, e, dec), (long)n);
        assert_memory_equal(dec, in, n);
        e = nes_b64_encode(in, n, enc);
        assert_int_equal(e, (n + 2) / 3 * 4);
        assert_int_equal(nes_b64_decode(enc, e, dec), (long)n);
        assert_memory_equal(dec, in, n);
    }
}

static void encoded_len_formula(void **state)
{
    (void)state;
    assert_int_equal(nes_b64url_encoded_len(0), 0);
    assert_int_equal(nes_b64url_encoded_len(1), 2);
    assert_int_equal(nes_b64url_encoded_len(2), 3);
    assert_int_equal(nes_b64url_encoded_len(3), 4);
    assert_int_equal(nes_b64url_encoded_len(12), 16);
    assert_int_equal(nes_b64url_encoded_len(16), 22);
    assert_int_equal(nes_b64url_encoded_len(32), 43);
}

static void url_rejects_noncanonical(void **state)
{
    (void)state;
    uint8_t out[16];
    const char *bad[] = {
        "Z",         /* n % 4 == 1 */
        "Zm9vY",     /* n % 4 == 1 */
        "Zh",        /* trailing bits (4) not zero */
        "Zm9",       /* trailing bits (2) not zero */
        "Zg==",      /* padding */
        "Zm8=",      /* padding */
        "Zg=",       /* padding */
        "Zm9v\n",    /* newline */
        " Zm9v",     /* space */
        "Zm 9v",     /* space inside */
        "Zm9v\t",    /* tab */
        "Zm9v\r\n",  /* CRLF */
        "+/8",       /* standard alphabet */
        "ab+d",      /* standard alphabet */
        "ab/d",      /* standard alphabet */
        "Zm9v.Zm9v", /* separator */
        "\xc3\xa9XX",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(url_dec(bad[i], out), -1);
    }
    /* the canonical twins are accepted */
    assert_int_equal(url_dec("Zg", out), 1);
    assert_int_equal(url_dec("Zm8", out), 2);
    /* an embedded NUL is a bad character */
    assert_int_equal(nes_b64url_decode("Zm\0v", 4, out), -1);
}

static void std_rejects_noncanonical(void **state)
{
    (void)state;
    uint8_t out[16];
    const char *bad[] = {
        "Zg",       /* missing padding */
        "Zm8",      /* missing padding */
        "Zg=",      /* short padding */
        "Zh==",     /* trailing bits */
        "Zm9=",     /* trailing bits */
        "====",     /* only padding */
        "Z===",     /* three pad characters */
        "Zg==Zg==", /* padding in the middle */
        "Z=g=",     /* padding in the middle */
        "Zm9v ",    /* space */
        "Zm9v\n",   /* newline */
        "Zm\n9v",   /* newline inside */
        "-_8=",     /* URL alphabet */
        "Zm9vY",    /* n % 4 != 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(std_dec(bad[i], out), -1);
    assert_int_equal(std_dec("Zg==", out), 1);
    assert_int_equal(std_dec("", out), 0);
}

/* A decode that fails after writing some bytes leaves none of them behind. */
static void failed_decode_wipes_output(void **state)
{
    (void)state;
    uint8_t out[6];
    memset(out, 0xaa, sizeof out);
    assert_int_equal(url_dec("QUJDQUJ!", out), -1);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0);
    memset(out, 0xaa, sizeof out);
    assert_int_equal(std_dec("QUJDQh==", out), -1); /* trailing bits in the last group */
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(out[i], 0);
}

/* nes_b64url_encode may encode input that sits at the end of its own output area. */
static void url_encode_in_place(void **state)
{
    (void)state;
    srand(8452);
    for (size_t n = 0; n < 200; n++) {
        uint8_t src[200];
        char want[300], area[300];
        for (size_t i = 0; i < n; i++)
            src[i] = (uint8_t)rand();
        size_t len = nes_b64url_encode(src, n, want);
        memcpy(area + len - n, src, n);
        assert_int_equal(nes_b64url_encode((const uint8_t *)area + len - n, n, area), len);
        assert_memory_equal(area, want, len);
    }
}

/* The URL alphabet's vector path (inputs of 16 bytes and more on SSSE3 CPUs) against the scalar
 * standard-alphabet code, which has no vector path: same characters after mapping '+/' to '-_'
 * and dropping the padding, at every length across several vector steps and tails. */
static void url_matches_scalar_std_every_length(void **state)
{
    (void)state;
    srand(1652);
    static uint8_t in[700], dec[700];
    static char url[1000], std[1000];
    for (size_t n = 0; n < sizeof in; n++) {
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)rand();
        size_t u = nes_b64url_encode(in, n, url);
        size_t st = nes_b64_encode(in, n, std);
        while (st > 0 && std[st - 1] == '=')
            st--;
        assert_int_equal(u, st);
        for (size_t i = 0; i < st; i++)
            std[i] = std[i] == '+' ? '-' : std[i] == '/' ? '_' : std[i];
        assert_memory_equal(url, std, u);
        memset(dec, 0x55, sizeof dec);
        assert_int_equal(nes_b64url_decode(url, u, dec), (long)n);
        assert_memory_equal(dec, in, n);
    }
}

/* Every byte value at every position of a 60-character text (on x86: 32 characters through the
 * AVX2 decoder where the CPU has it, 16 through SSSE3, 12 through the scalar code): accepted
 * exactly when it is in the alphabet, with its value in the right place; a rejection wipes
 * everything written (what was never written keeps the 0xaa fill, which no byte of the source text
 * decodes to). */
static void url_decode_every_character_everywhere(void **state)
{
    (void)state;
    uint8_t src[45], out[45], want[45];
    char text[60];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(nes_b64url_encode(src, sizeof src, text), sizeof text);
    for (size_t pos = 0; pos < sizeof text; pos++) {
        for (unsigned c = 0; c < 256; c++) {
            char t[60];
            memcpy(t, text, sizeof t);
            t[pos] = (char)c;
            memset(out, 0xaa, sizeof out);
            long r = nes_b64url_decode(t, sizeof t, out);
            const char *u = c ? memchr(URL_ALPHABET, (int)c, 64) : NULL;
            if (u == NULL) {
                assert_int_equal(r, -1);
                for (size_t i = 0; i < sizeof out; i++)
                    assert_true(out[i] == 0 || out[i] == 0xaa);
                continue;
            }
            assert_int_equal(r, (long)sizeof out);
            /* the expected bytes: the original with this character's 6 bits replaced */
            memcpy(want, src, sizeof want);
            size_t bit = pos * 6, v = (size_t)(u - URL_ALPHABET);
            for (size_t b = 0; b < 6; b++, bit++) {
                uint8_t mask = (uint8_t)(0x80 >> (bit % 8));
                if ((v >> (5 - b)) & 1)
                    want[bit / 8] |= mask;
                else
                    want[bit / 8] &= (uint8_t)~mask;
            }
            assert_memory_equal(out, want, sizeof out);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc4648_vectors_encode),
        cmocka_unit_test(rfc4648_vectors_decode),
        cmocka_unit_test(alphabets_differ_in_62_63),
        cmocka_unit_test(every_sextet_encodes),
        cmocka_unit_test(every_character_decodes_or_fails),
        cmocka_unit_test(roundtrip_random),
        cmocka_unit_test(encoded_len_formula),
        cmocka_unit_test(url_rejects_noncanonical),
        cmocka_unit_test(std_rejects_noncanonical),
        cmocka_unit_test(failed_decode_wipes_output),
        cmocka_unit_test(url_encode_in_place),
        cmocka_unit_test(url_matches_scalar_std_every_length),
        cmocka_unit_test(url_decode_every_character_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
