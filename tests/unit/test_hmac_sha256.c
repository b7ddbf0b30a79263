/* Unit tests: hmac_sha256.c (SHA-NI HMAC from pad states). RFC 4231 test cases 1-4 (the ones with
 * keys of at most one block), then seeded random keys and messages against OpenSSL's HMAC, with
 * the message split into three parts at every kind of block boundary; and the key wipe. Skipped
 * (with a message) on CPUs without SHA-NI, where fieldcrypt.c uses OpenSSL instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "../testutil.h"
#include "core/hmac_sha256.h"

static uint64_t rng_state = 0x4231;

static const struct {
    const char *key_hex, *data_hex, *mac_hex;
} RFC4231[] = {
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
     "dddddddddddddd",
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819",
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
     "cdcdcdcdcdcd",
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
};

/* Skips the calling test on CPUs without the instructions. */
static void need_shani(void)
{
    if (!nes_hmac_sha256_available()) {
        print_message("no SHA-NI on this CPU: the OpenSSL fallback is used and tested instead\n");
        skip();
    }
}

static void rfc4231_cases(void **state)
{
    (void)state;
    need_shani();
    for (size_t i = 0; i < sizeof RFC4231 / sizeof RFC4231[0]; i++) {
        uint8_t key[64], data[64], want[32], got[32];
        size_t kl = strlen(RFC4231[i].key_hex) / 2, dl = strlen(RFC4231[i].data_hex) / 2;
        assert_int_equal(tu_unhex(RFC4231[i].key_hex, 2 * kl, key), 0);
        assert_int_equal(tu_unhex(RFC4231[i].data_hex, 2 * dl, data), 0);
        assert_int_equal(tu_unhex(RFC4231[i].mac_hex, 64, want), 0);
        nes_hmac_sha256_key k;
        nes_hmac_sha256_init(&k, key, kl);
        nes_hmac_sha256_3(&k, data, dl, NULL, 0, NULL, 0, got);
        assert_memory_equal(got, want, 32);
        nes_hmac_sha256_3(&k, NULL, 0, data, 1, data + 1, dl - 1, got); /* split */
        assert_memory_equal(got, want, 32);
        nes_hmac_sha256_wipe(&k);
    }
}

static void openssl_hmac(const uint8_t *key, size_t kl, const uint8_t *msg, size_t n,
                         uint8_t out[32])
{
    size_t ol = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, kl, msg, n, out, 32, &ol));
    assert_int_equal(ol, 32);
}

/* Lengths around every padding case (55/56/64 bytes in the last block) and several blocks;
 * three-way splits that put boundaries inside and across blocks. */
static void random_against_openssl(void **state)
{
    (void)state;
    need_shani();
    static uint8_t msg[1200];
    for (int iter = 0; iter < 3000; iter++) {
        uint8_t key[64], want[32], got[32];
        size_t kl = iter % 3 == 0 ? 32 : (size_t)(tu_rng_next(&rng_state) % 65);
        size_t n = iter < 300 ? (size_t)iter : (size_t)(tu_rng_next(&rng_state) % sizeof msg);
        tu_rng_fill(&rng_state, key, kl);
        tu_rng_fill(&rng_state, msg, n);
        size_t a = n ? (size_t)(tu_rng_next(&rng_state) % (n + 1)) : 0;
        size_t b = n - a ? (size_t)(tu_rng_next(&rng_state) % (n - a + 1)) : 0;
        nes_hmac_sha256_key k;
        nes_hmac_sha256_init(&k, key, kl);
        nes_hmac_sha256_3(&k, msg, a, msg + a, b, msg + a + b, n - a - b, got);
        openssl_hmac(key, kl, msg, n, want);
        if (memcmp(got, want, 32) != 0)
            fail_msg("iteration %d: key %zu bytes, message %zu = %zu + %zu + %zu", iter, kl, n, a,
                     b, n - a - b);
        nes_hmac_sha256_wipe(&k);
    }
}

/* The pad states are key material: wiping leaves nothing. */
static void wipe_clears_the_states(void **state)
{
    (void)state;
    need_shani();
    uint8_t key[32];
    memset(key, 0x42, sizeof key);
    nes_hmac_sha256_key k;
    nes_hmac_sha256_init(&k, key, sizeof key);
    static const nes_hmac_sha256_key zero;
    assert_memory_not_equal(&k, &zero, sizeof k);
    nes_hmac_sha256_wipe(&k);
    assert_memory_equal(&k, &zero, sizeof k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc4231_cases),
        cmocka_unit_test(random_against_openssl),
        cmocka_unit_test(wipe_clears_the_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
