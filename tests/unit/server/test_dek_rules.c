/* Unit tests: providers/dek_rules.c - what the DEK provider makes of secret values, KMS answers,
 * key lists and time, as tables of cases. The network half (dek.c) runs against moto and the
 * Recipient-aware KMS front in tests/integration/test_enclave_dek.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../cmsutil.h"
#include "enclave/providers/dek_rules.h"

static void test_secret_blob(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int is_string;
        int ok;
        const char *want; /* decoded blob, or a substring of the reason */
    } t[] = {
        {"AQIDBA==", 1, 1, "\x01\x02\x03\x04"},
        {" AQIDBA==\n", 1, 1, "\x01\x02\x03\x04"}, /* whitespace around is fine */
        {"AQIDBA", 1, 0, "base64"},                /* unpadded */
        {"AQ IDBA==", 1, 0, "base64"},
        {"AQIDBA=?", 1, 0, "base64"},
        {"", 1, 0, "SecretString is 0 bytes"},
        {"  \n", 1, 0, "SecretString is 0 bytes"},
        {"\x01\x02\x03\x04", 0, 1, "\x01\x02\x03\x04"},
        {"", 0, 0, "SecretBinary is 0 bytes"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        nes_buf b = {0};
        char why[256] = "";
        int rc = nes_dek_secret_blob((const uint8_t *)t[i].value, strlen(t[i].value),
                                     t[i].is_string, &b, why, sizeof(why));
        if (t[i].ok) {
            assert_int_equal(rc, 0);
            assert_int_equal(b.len, strlen(t[i].want));
            assert_memory_equal(b.data, t[i].want, b.len);
        } else {
            assert_int_equal(rc, -1);
            if (strstr(why, t[i].want) == NULL)
                fail_msg("case %zu: '%s' lacks '%s'", i, why, t[i].want);
            assert_int_equal(b.len, 0);
        }
        nes_buf_free(&b);
    }
    /* over the KMS ciphertext limit */
    size_t n = NES_DEK_MAX_BLOB + 1;
    uint8_t *big = calloc(1, n);
    nes_buf b = {0};
    char why[256];
    assert_int_equal(nes_dek_secret_blob(big, n, false, &b, why, sizeof(why)), -1);
    free(big);
}

/* A CiphertextForRecipient for `r` holding `len` bytes (as KMS makes it: OAEP-SHA-256, AES-256). */
static void cfr_for(const nes_recipient *r, const uint8_t *pt, size_t len, nes_buf *out)
{
    size_t sl;
    const uint8_t *spki = nes_recipient_spki(r, &sl);
    assert_int_equal(tu_cms_encrypt(spki, sl, pt, len, (tu_cms_opts){0}, out), 0);
}

static void test_from_answer(void **state)
{
    (void)state;
    nes_recipient *r = NULL;
    assert_int_equal(nes_recipient_new(&r, NULL), NES_OK);
    uint8_t k32[32], k16[16];
    memset(k32, 0x42, sizeof(k32));
    memset(k16, 0x43, sizeof(k16));
    nes_buf cfr = {0}, cfr16 = {0};
    cfr_for(r, k32, 32, &cfr);
    cfr_for(r, k16, 16, &cfr16);
    static const struct {
        int use_cfr;   /* 0 none, 1 the 32-byte one, 2 the 16-byte one */
        int plaintext; /* 0 none, 32 or 16 bytes */
        int allow;
        int ok;
        nes_dek_origin origin;
        const char *want;
    } t[] = {
        {1, 0, 0, 1, NES_DEK_ATTESTED, NULL},
        {1, 32, 0, 1, NES_DEK_ATTESTED, NULL}, /* the recipient form wins */
        {2, 0, 0, 0, 0, "exactly 32"},
        {0, 32, 0, 0, 0, "KMS answered Plaintext, refused"},
        {0, 32, 1, 1, NES_DEK_PLAINTEXT, NULL},
        {0, 16, 1, 0, 0, "Plaintext is 16 bytes"},
        {0, 0, 1, 0, 0, "neither"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const nes_buf *c = t[i].use_cfr == 1 ? &cfr : t[i].use_cfr == 2 ? &cfr16 : NULL;
        uint8_t dek[NES_DEK_LEN], pt[32];
        memset(pt, 0x42, sizeof(pt));
        memset(dek, 0, sizeof(dek));
        nes_dek_origin o = 0;
        char why[300] = "";
        int rc =
            nes_dek_from_answer(r, c ? c->data : NULL, c ? c->len : 0, t[i].plaintext ? pt : NULL,
                                (size_t)t[i].plaintext, t[i].allow, dek, &o, why, sizeof(why));
        if (t[i].ok) {
            if (rc != 0)
                fail_msg("case %zu: %s", i, why);
            assert_int_equal(o, t[i].origin);
            assert_memory_equal(dek, k32, 32);
        } else {
            assert_int_equal(rc, -1);
            if (strstr(why, t[i].want) == NULL)
                fail_msg("case %zu: '%s' lacks '%s'", i, why, t[i].want);
        }
    }
    /* a CiphertextForRecipient made for another key is refused */
    nes_recipient *other = NULL;
    assert_int_equal(nes_recipient_new(&other, NULL), NES_OK);
    uint8_t dek[NES_DEK_LEN];
    nes_dek_origin o;
    char why[300];
    assert_int_equal(
        nes_dek_from_answer(other, cfr.data, cfr.len, NULL, 0, true, dek, &o, why, sizeof(why)),
        -1);
    assert_non_null(strstr(why, "CiphertextForRecipient"));
    nes_recipient_free(other);
    nes_buf_free(&cfr);
    nes_buf_free(&cfr16);
    nes_recipient_free(r);
}

static void test_ring(void **state)
{
    (void)state;
    uint8_t k[6][NES_DEK_LEN];
    for (int i = 0; i < 6; i++)
        memset(k[i], 'a' + i, NES_DEK_LEN);
    /* the keyring in use: c, b, a */
    uint8_t oldv[3][NES_DEK_LEN];
    memcpy(oldv[0], k[2], 32);
    memcpy(oldv[1], k[1], 32);
    memcpy(oldv[2], k[0], 32);
    nes_keyring *old = nes_keyring_new((const uint8_t(*)[NES_DEK_LEN])oldv, 3);
    assert_non_null(old);
    static const struct {
        int cur, prev; /* index into k, -1 none */
        int use_old;
        unsigned keep;
        const char *want; /* the letters of the result */
    } t[] = {
        {3, 2, 1, 1, "dc"},    /* rotation: d current, c previous */
        {3, 2, 1, 3, "dcba"},  /* keep 3: the older keys stay too */
        {3, 2, 1, 0, "d"},     /* keep 0: current only */
        {2, 1, 1, 1, "cb"},    /* unchanged */
        {3, -1, 1, 2, "dcb"},  /* no AWSPREVIOUS: older keys fill */
        {3, 3, 0, 1, "d"},     /* previous equal to current: once */
        {4, 2, 1, 15, "ecba"}, /* duplicates skipped */
        {3, 2, 0, 5, "dc"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint8_t out[NES_KEYRING_MAX][NES_DEK_LEN];
        size_t n = nes_dek_ring(k[t[i].cur], t[i].prev >= 0 ? k[t[i].prev] : NULL,
                                t[i].use_old ? old : NULL, t[i].keep, out);
        char got[NES_KEYRING_MAX + 1];
        for (size_t j = 0; j < n; j++)
            got[j] = (char)out[j][0];
        got[n] = '\0';
        if (strcmp(got, t[i].want) != 0)
            fail_msg("case %zu: got %s, want %s", i, got, t[i].want);
    }
    nes_keyring_free(old);
}

static void test_delay(void **state)
{
    (void)state;
    /* success: the interval +-10% */
    assert_int_equal(nes_dek_delay_ms(0, 100, 60, 0), 90000);
    assert_true(nes_dek_delay_ms(0, 100, 60, UINT32_MAX) < 110000);
    assert_true(nes_dek_delay_ms(0, 100, 60, UINT32_MAX) > 109990);
    assert_int_equal(nes_dek_delay_ms(0, 100, 60, 1u << 31), 100000);
    /* failures: full jitter under 500 ms * 2^(n-1), capped, at least 100 ms */
    static const struct {
        unsigned failures, interval, cap;
        uint64_t ceiling;
    } t[] = {
        {1, 3600, 60, 500},   {2, 3600, 60, 1000},   {4, 3600, 60, 4000},
        {8, 3600, 60, 60000}, {30, 3600, 60, 60000}, {8, 5, 60, 5000}, /* never past the interval */
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        assert_int_equal(nes_dek_delay_ms(t[i].failures, t[i].interval, t[i].cap, 0), 100);
        uint64_t hi = nes_dek_delay_ms(t[i].failures, t[i].interval, t[i].cap, UINT32_MAX);
        assert_true(hi < t[i].ceiling);
        assert_true(hi >= t[i].ceiling - t[i].ceiling / 1000 - 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_blob),
        cmocka_unit_test(test_from_answer),
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
