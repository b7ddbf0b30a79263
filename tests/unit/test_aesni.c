/* Unit tests: aesni.c (AES-256 with AES-NI). FIPS 197 appendix C.3, then seeded random keys
 * against OpenSSL's AES-256-ECB: single and batched blocks, the GCM-SIV key derivation, key
 * expansion fused with a block, and RFC 8452's 32-bit little-endian counter mode at every length
 * up to 300 bytes and across the counter's wrap (which must not carry into byte 4). Skipped
 * (with a message) on CPUs without AES-NI, where gcmsiv.c uses OpenSSL instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "../testutil.h"
#include "core/aesni.h"

static uint64_t rng_state = 0xae5;

/* Skips the calling test on CPUs without the instructions. */
static void need_aesni(void)
{
    if (!nes_aesni_available()) {
        print_message("no AES-NI on this CPU: the OpenSSL back end is used and tested instead\n");
        skip();
    }
}

/* Reference: OpenSSL AES-256-ECB over n blocks. */
static void ref_ecb(const uint8_t key[32], const uint8_t *in, uint8_t *out, size_t n)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl = 0;
    assert_non_null(c);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), NULL, key, NULL), 1);
    assert_int_equal(EVP_CIPHER_CTX_set_padding(c, 0), 1);
    assert_int_equal(EVP_EncryptUpdate(c, out, &outl, in, (int)(16 * n)), 1);
    assert_int_equal(outl, (int)(16 * n));
    EVP_CIPHER_CTX_free(c);
}

static void fips197_c3(void **state)
{
    (void)state;
    need_aesni();
    uint8_t key[32], pt[16], want[16], got[16];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    assert_int_equal(tu_unhex("00112233445566778899aabbccddeeff", 32, pt), 0);
    assert_int_equal(tu_unhex("8ea2b7ca516745bfeafc49904b496089", 32, want), 0);
    nes_aes256_ks ks;
    nes_aesni_expand(&ks, key);
    nes_aesni_encrypt_block(&ks, pt, got);
    assert_memory_equal(got, want, 16);
    nes_aesni_encrypt_blocks(&ks, pt, got, 1);
    assert_memory_equal(got, want, 16);
    nes_aes256_ks ks2;
    nes_aesni_expand_encrypt(&ks2, key, pt, got);
    assert_memory_equal(got, want, 16);
    assert_memory_equal(&ks2, &ks, sizeof ks);
}

static void blocks_and_derivation_against_openssl(void **state)
{
    (void)state;
    need_aesni();
    for (int iter = 0; iter < 200; iter++) {
        uint8_t key[32], in[16 * 13], want[16 * 13], got[16 * 13];
        size_t n = (size_t)iter % 13;
        tu_rng_fill(&rng_state, key, sizeof key);
        tu_rng_fill(&rng_state, in, sizeof in);
        nes_aes256_ks ks;
        nes_aesni_expand(&ks, key);
        ref_ecb(key, in, want, n);
        nes_aesni_encrypt_blocks(&ks, in, got, n);
        assert_memory_equal(got, want, 16 * n);
        nes_aesni_encrypt_blocks(&ks, in, in, n); /* in place */
        assert_memory_equal(in, want, 16 * n);

        /* derivation: blocks LE32(i) || nonce, first halves */
        uint8_t nonce[12], blocks[96], enc[96], auth[16], ek[32];
        tu_rng_fill(&rng_state, nonce, sizeof nonce);
        for (int i = 0; i < 6; i++) {
            memset(blocks + 16 * i, 0, 4);
            blocks[16 * i] = (uint8_t)i;
            memcpy(blocks + 16 * i + 4, nonce, 12);
        }
        ref_ecb(key, blocks, enc, 6);
        nes_aesni_gcmsiv_derive(&ks, nonce, auth, ek);
        assert_memory_equal(auth, enc, 8);
        assert_memory_equal(auth + 8, enc + 16, 8);
        for (int i = 0; i < 4; i++)
            assert_memory_equal(ek + 8 * i, enc + 16 * (i + 2), 8);

        /* expansion fused with one block == expansion, then the block */
        nes_aes256_ks fused;
        uint8_t blk[16], out1[16], out2[16];
        tu_rng_fill(&rng_state, blk, sizeof blk);
        nes_aesni_expand_encrypt(&fused, ek, blk, out1);
        ref_ecb(ek, blk, out2, 1);
        assert_memory_equal(out1, out2, 16);
        nes_aes256_ks plain;
        nes_aesni_expand(&plain, ek);
        assert_memory_equal(&fused, &plain, sizeof plain);
    }
}

/* Reference keystream: counter blocks built by hand, encrypted by OpenSSL. */
static void ref_ctr(const uint8_t key[32], const uint8_t ctr0[16], const uint8_t *in, uint8_t *out,
                    size_t len)
{
    size_t nb = (len + 15) / 16;
    uint8_t *ctrs = malloc(16 * nb + 16), *ks = malloc(16 * nb + 16);
    assert_true(ctrs != NULL && ks != NULL);
    uint32_t c = (uint32_t)ctr0[0] | (uint32_t)ctr0[1] << 8 | (uint32_t)ctr0[2] << 16 |
                 (uint32_t)ctr0[3] << 24;
    for (size_t i = 0; i < nb; i++, c++) {
        memcpy(ctrs + 16 * i, ctr0, 16);
        for (int b = 0; b < 4; b++)
            ctrs[16 * i + b] = (uint8_t)(c >> (8 * b));
    }
    ref_ecb(key, ctrs, ks, nb);
    for (size_t i = 0; i < len; i++)
        out[i] = in[i] ^ ks[i];
    free(ctrs);
    free(ks);
}

static void ctr32le_against_openssl(void **state)
{
    (void)state;
    need_aesni();
    static uint8_t in[300], want[300], got[300];
    uint8_t key[32], ctr0[16];
    tu_rng_fill(&rng_state, key, sizeof key);
    nes_aes256_ks ks;
    nes_aesni_expand(&ks, key);
    for (size_t len = 0; len <= sizeof in; len++) {
        tu_rng_fill(&rng_state, in, len);
        tu_rng_fill(&rng_state, ctr0, sizeof ctr0);
        if (len % 3 == 0) /* start a few blocks before the wrap of the 32-bit counter */
            memset(ctr0, 0xff, 4), ctr0[0] = (uint8_t)(0x100 - len % 17);
        ref_ctr(key, ctr0, in, want, len);
        memset(got, 0, sizeof got);
        nes_aesni_ctr32le(&ks, ctr0, in, got, len);
        if (memcmp(got, want, len) != 0)
            fail_msg("counter mode differs at length %zu", len);
        memcpy(got, in, len); /* in place */
        nes_aesni_ctr32le(&ks, ctr0, got, got, len);
        assert_memory_equal(got, want, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fips197_c3),
        cmocka_unit_test(blocks_and_derivation_against_openssl),
        cmocka_unit_test(ctr32le_against_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
