/* Unit tests: fieldcrypt.c. The known-answer tokens below were produced by the independent Python
 * reference (tests/integration/tokenref.py, on `cryptography`), so this test alone pins the exact
 * token format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/mman.h>

#include "../testutil.h"
#include "core/aesni.h"
#include "core/b64url.h"
#include "core/fieldcrypt.h"
#include "core/gcmsiv.h"
#include "core/hmac_sha256.h"
#include "core/polyval.h"

static const uint8_t DEK_SEQ[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t DEK_FF[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t DEK_RND[32] = {
    0x8f, 0x2e, 0x1c, 0x0b, 0x7a, 0x69, 0x58, 0x47, 0x36, 0x25, 0x14, 0xf3, 0xe2, 0xd1, 0xc0, 0xbf,
    0xae, 0xed, 0x9c, 0x8b, 0x7a, 0x69, 0x58, 0x47, 0x36, 0x25, 0x14, 0x03, 0xf2, 0xe1, 0xd0, 0xc1};

static uint8_t BYTES100[100]; /* 0, 1, ..., 99; filled by main */

static const struct kat {
    const uint8_t *dek;
    const char *ctx;
    const uint8_t *pt;
    size_t pt_len;
    const char *token;
} KATS[] = {
    {DEK_SEQ, "", (const uint8_t *)"", 0, "v1.0XjOzBlBbOzR_EUq.n1_Lu0rwhN_jc9BlDrqPXA"},
    {DEK_SEQ, "", (const uint8_t *)"a", 1, "v1.NGaWsSzAfjMEb3JB.1wcapWB6tADV3qiqwVBWIN0"},
    {DEK_SEQ, "ssn", (const uint8_t *)"123-45-6789", 11,
     "v1.gq1SbE3dGBezq4ft._V0F2AeeBtXiaQp1LG0FzLc-u5RpKaTO25SE"},
    {DEK_FF, "\xe5\x90\x8d\xe5\x89\x8d",
     (const uint8_t *)"Zo\xc3\xab Stra\xc3\x9f"
                      "e",
     12, "v1.fOD50-v6kTBA3BlK.gbfJgEU25_q1lTANl_8tn8QQlsFhPdi86WMLtA"},
    {DEK_SEQ, "card-number", (const uint8_t *)"{\"exp\":\"12/29\",\"pan\":\"4111111111111111\"}",
     40,
     "v1.GyMHFXR6b-UqOYpu.vm9vJQWSum0dZ59zq93IT1-N4j0aAEkR3kcR-5F6Lgamw-lYTNeZ8T2j1qpJQ4o9RP8Wg0c_"
     "VJU"},
    {DEK_RND, "email", BYTES100, 100,
     "v1.-YlKBX0fcLZBQIwO.FMyLSDfKdJ8377gj0cCWfaVhMpjN4S3d41HZYJsnoAKysEqSZoEU9Q8FPuj8MfBsn1vOlama"
     "tqagJ-gBx27ggaiR0xwzcPOCffAevG95QsIEFi93EavwZS-iOWwSCIfgBW9LxPTaNETeCTWM1ElMsmjwBuw"},
};

#define NKATS (sizeof KATS / sizeof KATS[0])

static const uint8_t *u8(const char *s)
{
    return (const uint8_t *)s;
}

/* Encrypts into a fresh NUL-terminated string (caller frees). */
static char *enc(nes_fieldkey *k, const char *ctx, const uint8_t *pt, size_t pt_len)
{
    size_t n = nes_token_len(pt_len);
    char *t = malloc(n + 1);
    assert_non_null(t);
    assert_int_equal(nes_token_encrypt(k, u8(ctx), strlen(ctx), pt, pt_len, t), 0);
    t[n] = '\0';
    return t;
}

/* Decrypts; returns the status and leaves the plaintext in *out (caller frees). */
static nes_status dec(nes_fieldkey *k, const char *ctx, const char *tok, uint8_t **out,
                      size_t *out_len)
{
    size_t len = strlen(tok);
    *out = malloc(len + 1);
    assert_non_null(*out);
    return nes_token_decrypt(k, u8(ctx), strlen(ctx), tok, len, *out, out_len);
}

static void known_answer_tokens(void **state)
{
    (void)state;
    for (size_t i = 0; i < NKATS; i++) {
        nes_fieldkey *k = nes_fieldkey_new(KATS[i].dek);
        assert_non_null(k);
        char *t = enc(k, KATS[i].ctx, KATS[i].pt, KATS[i].pt_len);
        assert_string_equal(t, KATS[i].token);
        uint8_t *pt;
        size_t pt_len = 99999;
        assert_int_equal(dec(k, KATS[i].ctx, KATS[i].token, &pt, &pt_len), NES_OK);
        assert_int_equal(pt_len, KATS[i].pt_len);
        assert_memory_equal(pt, KATS[i].pt, pt_len);
        free(pt);
        free(t);
        nes_fieldkey_free(k);
    }
}

static void token_len_formula(void **state)
{
    (void)state;
    nes_fieldkey *k = nes_fieldkey_new(DEK_SEQ);
    uint8_t pt[300] = {0};
    for (size_t n = 0; n < sizeof pt; n++) {
        size_t want = 20 + (4 * (n + 16) + 2) / 3; /* prefix, nonce, '.', ceil(4(n+16)/3) */
        assert_int_equal(nes_token_len(n), want);
        char *t = enc(k, "", pt, n);
        assert_int_equal(strlen(t), want);
        free(t);
    }
    assert_int_equal(nes_token_len(0), NES_TOKEN_MIN_LEN);
    nes_fieldkey_free(k);
}

static void deterministic_and_context_bound(void **state)
{
    (void)state;
    nes_fieldkey *k1 = nes_fieldkey_new(DEK_SEQ), *k2 = nes_fieldkey_new(DEK_SEQ);
    nes_fieldkey *other = nes_fieldkey_new(DEK_FF);
    const uint8_t *pt = u8("4111111111111111");
    char *a = enc(k1, "card", pt, 16);
    char *b = enc(k1, "card", pt, 16); /* same key object */
    char *c = enc(k2, "card", pt, 16); /* another key object, same DEK */
    char *d = enc(k1, "ssn", pt, 16);  /* another context */
    char *e = enc(k1, "", pt, 16);     /* no context */
    char *f = enc(other, "card", pt, 16);
    char *g = enc(k1, "card", u8("4111111111111112"), 16);
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    assert_string_not_equal(a, d);
    assert_string_not_equal(a, e);
    assert_string_not_equal(a, f);
    assert_string_not_equal(a, g);
    assert_memory_not_equal(a, g, 19); /* distinct plaintexts get distinct nonces */

    uint8_t *out;
    size_t out_len;
    assert_int_equal(dec(k1, "card", a, &out, &out_len), NES_OK);
    assert_memory_equal(out, pt, 16);
    free(out);
    /* a token from context A does not open under B, nor under another key; output wiped */
    const char *wrong_ctx[] = {"ssn", "", "car", "card ", "Card"};
    for (size_t i = 0; i < sizeof wrong_ctx / sizeof wrong_ctx[0]; i++) {
        assert_int_equal(dec(k1, wrong_ctx[i], a, &out, &out_len), NES_ERR_TOKEN);
        for (size_t j = 0; j < 16; j++)
            assert_int_equal(out[j], 0);
        free(out);
    }
    assert_int_equal(dec(other, "card", a, &out, &out_len), NES_ERR_TOKEN);
    free(out);
    /* the context's length is bound too: "ab"+"c" vs "a"+"bc" style shifts */
    char *h = enc(k1, "ab", u8("c"), 1);
    char *i = enc(k1, "a", u8("bc"), 2);
    assert_memory_not_equal(h, i, 19);
    free(h), free(i);
    free(a), free(b), free(c), free(d), free(e), free(f), free(g);
    nes_fieldkey_free(k1);
    nes_fieldkey_free(k2);
    nes_fieldkey_free(other);
}

static void null_pointers_with_zero_lengths(void **state)
{
    (void)state;
    nes_fieldkey *k = nes_fieldkey_new(DEK_SEQ);
    char t[NES_TOKEN_MIN_LEN + 1] = {0};
    assert_int_equal(nes_token_encrypt(k, NULL, 0, NULL, 0, t), 0);
    assert_string_equal(t, KATS[0].token);
    uint8_t out[NES_TOKEN_MIN_LEN];
    size_t out_len = 1;
    assert_int_equal(nes_token_decrypt(k, NULL, 0, t, strlen(t), out, &out_len), NES_OK);
    assert_int_equal(out_len, 0);
    nes_fieldkey_free(k);
    nes_fieldkey_free(NULL);
}

static void oversized_context_rejected(void **state)
{
    (void)state;
    nes_fieldkey *k = nes_fieldkey_new(DEK_SEQ);
    uint8_t ctx[1] = {0};
    char t[NES_TOKEN_MIN_LEN + 1];
    memset(t, '#', sizeof t);
    /* The length is checked before the context is read. */
    assert_int_equal(nes_token_encrypt(k, ctx, (size_t)UINT32_MAX + 1, u8("x"), 1, t), -1);
    assert_int_equal(t[0], '#'); /* nothing written */
    uint8_t out[64];
    size_t out_len;
    assert_int_equal(nes_token_decrypt(k, ctx, (size_t)UINT32_MAX + 1, KATS[0].token,
                                       strlen(KATS[0].token), out, &out_len),
                     NES_ERR_TOKEN);
    nes_fieldkey_free(k);
}

static void large_plaintext_roundtrip(void **state)
{
    (void)state;
    nes_fieldkey *k = nes_fieldkey_new(DEK_RND);
    size_t n = 1 << 20;
    uint8_t *pt = malloc(n);
    assert_non_null(pt);
    for (size_t i = 0; i < n; i++)
        pt[i] = (uint8_t)(i * 31 + 7);
    char *t = enc(k, "blob", pt, n);
    uint8_t *out;
    size_t out_len;
    assert_int_equal(dec(k, "blob", t, &out, &out_len), NES_OK);
    assert_int_equal(out_len, n);
    assert_memory_equal(out, pt, n);
    free(out), free(t), free(pt);
    nes_fieldkey_free(k);
}

static void parse_splits_token(void **state)
{
    (void)state;
    const char *tok = KATS[2].token;
    uint8_t nonce[12], ct[128];
    size_t ct_len = 0;
    assert_int_equal(nes_token_parse(tok, strlen(tok), nonce, ct, &ct_len), 0);
    assert_int_equal(ct_len, 11 + 16);
    uint8_t want_nonce[12];
    assert_int_equal(nes_b64url_decode(tok + 3, 16, want_nonce), 12);
    assert_memory_equal(nonce, want_nonce, 12);
    uint8_t want_ct[27];
    assert_int_equal(nes_b64url_decode(tok + 20, strlen(tok) - 20, want_ct), 27);
    assert_memory_equal(ct, want_ct, 27);
}

/* Rejections, each applied to a valid token or built from its parts. */
static void parse_rejects_malformed(void **state)
{
    (void)state;
    nes_fieldkey *k = nes_fieldkey_new(DEK_SEQ);
    const char *good = KATS[2].token; /* v1.gq1SbE3dGBezq4ft._V0F2AeeBtXiaQp1LG0FzLc-u5RpKaTO25SE */
    const char *nonce = "gq1SbE3dGBezq4ft";
    const char *ct = "_V0F2AeeBtXiaQp1LG0FzLc-u5RpKaTO25SE";
    char bad[32][128];
    size_t nb = 0;
    snprintf(bad[nb++], 128, "v2.%s.%s", nonce, ct);                /* unknown version */
    snprintf(bad[nb++], 128, "V1.%s.%s", nonce, ct);                /* case matters */
    snprintf(bad[nb++], 128, "v1%s.%s", nonce, ct);                 /* no dot after version */
    snprintf(bad[nb++], 128, "v1.%s%s", nonce, ct);                 /* missing separator */
    snprintf(bad[nb++], 128, "v1.%s", ct);                          /* missing nonce */
    snprintf(bad[nb++], 128, "v1.%s.", nonce);                      /* missing ciphertext */
    snprintf(bad[nb++], 128, "v1.");                                /* nothing */
    snprintf(bad[nb++], 128, "%s", "");                             /* empty */
    snprintf(bad[nb++], 128, "v1.%s.%s.", nonce, ct);               /* extra dot at the end */
    snprintf(bad[nb++], 128, "v1.%s..%s", nonce, ct);               /* extra dot */
    snprintf(bad[nb++], 128, "v1.%s.%.20s.%s", nonce, ct, ct + 20); /* extra dot inside */
    snprintf(bad[nb++], 128, "v1.%s.v1.%s", nonce, ct);             /* two tokens glued */
    snprintf(bad[nb++], 128, "v1.%s.%s=", nonce, ct);               /* padding on the ciphertext */
    snprintf(bad[nb++], 128, "v1.%.15s=.%s", nonce, ct);            /* padding in the nonce */
    snprintf(bad[nb++], 128, "v1.%.15s.%s", nonce, ct);             /* short nonce (15 chars) */
    snprintf(bad[nb++], 128, "v1.%.12s.%s", nonce, ct);             /* short nonce (9 bytes) */
    snprintf(bad[nb++], 128, "v1.%sAAAA.%s", nonce, ct);            /* long nonce (15 bytes) */
    snprintf(bad[nb++], 128, "v1.%s.%.21s", nonce, ct);             /* ct: 21 chars, n % 4 == 1 */
    snprintf(bad[nb++], 128, "v1.%s.%.20s", nonce, ct);             /* ct: 15 bytes, under a tag */
    /* ct: trailing bits set (KATS[1] has 17 bytes, 23 characters, ending in '0') */
    snprintf(bad[nb++], 128, "%.41s1", KATS[1].token);
    snprintf(bad[nb++], 128, "v1.%s.%.10s+%s", nonce, ct, ct + 11); /* standard alphabet */
    snprintf(bad[nb++], 128, "v1.%s.%.10s/%s", nonce, ct, ct + 11); /* standard alphabet */
    snprintf(bad[nb++], 128, " %s", good);                          /* whitespace */
    snprintf(bad[nb++], 128, "%s\n", good);                         /* whitespace */
    snprintf(bad[nb++], 128, "v1.%s.%.10s %s", nonce, ct, ct + 11); /* whitespace inside */
    snprintf(bad[nb++], 128, "\"%s\"", good);                       /* quoted */
    /* the untouched token parses and opens, so each rejection is due to its one change */
    uint8_t n12[12], buf[256], out[256];
    size_t ct_len, out_len;
    assert_int_equal(nes_token_parse(good, strlen(good), n12, buf, &ct_len), 0);
    for (size_t i = 0; i < nb; i++) {
        size_t len = strlen(bad[i]);
        if (nes_token_parse(bad[i], len, n12, buf, &ct_len) != -1)
            fail_msg("case %zu parsed: %s", i, bad[i]);
        assert_int_equal(nes_token_decrypt(k, u8("ssn"), 3, bad[i], len, out, &out_len),
                         NES_ERR_TOKEN);
    }
    /* an embedded NUL is a bad character, not a terminator */
    char withnul[128];
    size_t gl = strlen(good);
    memcpy(withnul, good, gl);
    withnul[30] = '\0';
    assert_int_equal(nes_token_parse(withnul, gl, n12, buf, &ct_len), -1);
    nes_fieldkey_free(k);
}

/* Every single-character substitution (to another alphabet character) fails to open. */
static void any_changed_character_fails(void **state)
{
    (void)state;
    nes_fieldkey *k = nes_fieldkey_new(DEK_SEQ);
    const char *good = KATS[4].token;
    size_t len = strlen(good);
    char t[256];
    uint8_t out[256];
    size_t out_len;
    for (size_t i = 3; i < len; i++) {
        if (good[i] == '.')
            continue;
        memcpy(t, good, len);
        t[i] = good[i] == 'A' ? 'B' : 'A';
        assert_int_equal(nes_token_decrypt(k, u8("card-number"), 11, t, len, out, &out_len),
                         NES_ERR_TOKEN);
    }
    nes_fieldkey_free(k);
}

/* A ciphertext of 16 zero bytes (the empty plaintext with a zero tag) must not open: some
 * GCM-SIV implementations skip the tag check for empty inputs. */
static void zero_tag_for_empty_plaintext_rejected(void **state)
{
    (void)state;
    nes_fieldkey *k = nes_fieldkey_new(DEK_SEQ);
    const char *forged = "v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA";
    uint8_t out[64];
    size_t out_len;
    assert_int_equal(nes_token_decrypt(k, NULL, 0, forged, strlen(forged), out, &out_len),
                     NES_ERR_TOKEN);
    assert_int_equal(nes_token_decrypt(k, u8("ssn"), 3, forged, strlen(forged), out, &out_len),
                     NES_ERR_TOKEN);
    nes_fieldkey_free(k);
}

static void open_parsed_parts(void **state)
{
    (void)state;
    nes_fieldkey *k = nes_fieldkey_new(DEK_SEQ), *other = nes_fieldkey_new(DEK_FF);
    const char *tok = KATS[2].token;
    uint8_t nonce[12], ct[64], pt[64];
    size_t ct_len;
    assert_int_equal(nes_token_parse(tok, strlen(tok), nonce, ct, &ct_len), 0);
    /* separate output: a failed attempt leaves ct intact for the next key */
    memset(pt, 0x77, sizeof pt);
    assert_int_equal(nes_token_open(other, u8("ssn"), 3, nonce, ct, ct_len, pt), NES_ERR_TOKEN);
    for (size_t i = 0; i < ct_len - 16; i++)
        assert_int_equal(pt[i], 0);
    assert_int_equal(nes_token_open(k, u8("ssn"), 3, nonce, ct, ct_len, pt), NES_OK);
    assert_memory_equal(pt, "123-45-6789", 11);
    /* in place */
    assert_int_equal(nes_token_open(k, u8("ssn"), 3, nonce, ct, ct_len, ct), NES_OK);
    assert_memory_equal(ct, "123-45-6789", 11);
    /* shorter than a tag */
    assert_int_equal(nes_token_open(k, u8("ssn"), 3, nonce, ct, 15, pt), NES_ERR_TOKEN);
    nes_fieldkey_free(k);
    nes_fieldkey_free(other);
}

/* ---- implementation paths (fieldcrypt.h: NES_FALLBACK_*) --------------------------------------
 */

/* The flags the CPU itself forces: parts whose fast implementation it cannot run. */
static unsigned cpu_fallbacks(void)
{
    return (nes_hmac_sha256_available() ? 0u : (unsigned)NES_FALLBACK_HMAC) |
           (nes_aesni_available() ? 0u : (unsigned)NES_FALLBACK_AES) |
           (nes_polyval_clmul_available() ? 0u : (unsigned)NES_FALLBACK_POLYVAL);
}

/* Every combination of fallbacks gives the known-answer tokens, and reports what it uses. */
static void known_answers_on_every_path(void **state)
{
    (void)state;
    for (unsigned fb = 0; fb <= NES_FALLBACK_ALL; fb++) {
        for (size_t i = 0; i < NKATS; i++) {
            nes_fieldkey *k = nes_fieldkey_new_impl(KATS[i].dek, fb);
            assert_non_null(k);
            assert_int_equal(nes_fieldkey_fallbacks(k), fb | cpu_fallbacks());
            char *t = enc(k, KATS[i].ctx, KATS[i].pt, KATS[i].pt_len);
            if (strcmp(t, KATS[i].token) != 0)
                fail_msg("path %u, KAT %zu: %s", fb, i, t);
            uint8_t *pt;
            size_t pt_len = 99999;
            assert_int_equal(dec(k, KATS[i].ctx, KATS[i].token, &pt, &pt_len), NES_OK);
            assert_int_equal(pt_len, KATS[i].pt_len);
            assert_memory_equal(pt, KATS[i].pt, pt_len);
            free(pt);
            free(t);
            nes_fieldkey_free(k);
        }
    }
    nes_fieldkey *k = nes_fieldkey_new(DEK_SEQ); /* production: the best the CPU has */
    assert_int_equal(nes_fieldkey_fallbacks(k), cpu_fallbacks());
    nes_fieldkey_free(k);
}

/* Seeded random tokens (contexts up to 70 bytes, plaintexts up to 2 KiB): every path writes the
 * same token as the all-fallback path, and opens it. */
static void paths_agree_on_random_tokens(void **state)
{
    (void)state;
    uint64_t rng = 0x70cc;
    static uint8_t pt[2048], out[4096];
    static char ref_tok[4096], tok[4096];
    uint8_t dek[32], ctx[70];
    for (int iter = 0; iter < 120; iter++) {
        tu_rng_fill(&rng, dek, sizeof dek);
        size_t cl = (size_t)(tu_rng_next(&rng) % sizeof ctx);
        size_t n = iter % 10 == 0 ? (size_t)(tu_rng_next(&rng) % sizeof pt)
                                  : (size_t)(tu_rng_next(&rng) % 130);
        tu_rng_fill(&rng, ctx, cl);
        tu_rng_fill(&rng, pt, n);
        nes_fieldkey *ref = nes_fieldkey_new_impl(dek, NES_FALLBACK_ALL);
        assert_non_null(ref);
        assert_int_equal(nes_token_encrypt(ref, ctx, cl, pt, n, ref_tok), 0);
        for (unsigned fb = 0; fb < NES_FALLBACK_ALL; fb++) {
            nes_fieldkey *k = nes_fieldkey_new_impl(dek, fb);
            assert_non_null(k);
            assert_int_equal(nes_token_encrypt(k, ctx, cl, pt, n, tok), 0);
            if (memcmp(tok, ref_tok, nes_token_len(n)) != 0)
                fail_msg("iteration %d, path %u: token differs (%zu bytes)", iter, fb, n);
            size_t got = 0;
            assert_int_equal(nes_token_decrypt(k, ctx, cl, ref_tok, nes_token_len(n), out, &got),
                             NES_OK);
            assert_int_equal(got, n);
            assert_memory_equal(out, pt, n);
            nes_fieldkey_free(k);
        }
        nes_fieldkey_free(ref);
    }
}

/* The field key, which holds the HMAC pad states, is a locked, do-not-dump mapping of its own
 * that is gone (wiped, unmapped) once freed; likewise the GCM-SIV context with the AES-NI key
 * schedules. (What nes_secure_free does before unmapping is test_secmem's business.) */
static void key_state_lives_in_secure_memory(void **state)
{
    (void)state;
    for (unsigned fb = 0; fb <= NES_FALLBACK_ALL; fb += NES_FALLBACK_ALL) {
        nes_fieldkey *k = nes_fieldkey_new_impl(DEK_SEQ, fb);
        assert_non_null(k);
        assert_true(tu_mapping_has_flag(k, "dd"));
        nes_fieldkey_free(k);
        unsigned char vec[1];
        assert_int_equal(mincore((void *)k, 1, vec), -1); /* unmapped */
    }
    nes_gcmsiv *g = nes_gcmsiv_new(DEK_SEQ);
    assert_non_null(g);
    assert_true(tu_mapping_has_flag(g, "dd"));
    nes_gcmsiv_free(g);
    unsigned char vec[1];
    assert_int_equal(mincore((void *)g, 1, vec), -1);
}

int main(void)
{
    for (size_t i = 0; i < sizeof BYTES100; i++)
        BYTES100[i] = (uint8_t)i;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_answer_tokens),
        cmocka_unit_test(token_len_formula),
        cmocka_unit_test(deterministic_and_context_bound),
        cmocka_unit_test(null_pointers_with_zero_lengths),
        cmocka_unit_test(oversized_context_rejected),
        cmocka_unit_test(large_plaintext_roundtrip),
        cmocka_unit_test(parse_splits_token),
        cmocka_unit_test(parse_rejects_malformed),
        cmocka_unit_test(any_changed_character_fails),
        cmocka_unit_test(zero_tag_for_empty_plaintext_rejected),
        cmocka_unit_test(open_parsed_parts),
        cmocka_unit_test(known_answers_on_every_path),
        cmocka_unit_test(paths_agree_on_random_tokens),
        cmocka_unit_test(key_state_lives_in_secure_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
