/* Unit tests: cms_unwrap.c. Each case builds a CMS EnvelopedData at test time with OpenSSL's
 * CMS API in the shape KMS (and `openssl cms -encrypt -keyopt rsa_padding_mode:oaep ...`)
 * produces, then unwraps it with the recipient: a table of variants (recipient info v0 and v2,
 * DER and indefinite-length BER, content sizes, key transport padding, wrong recipient, damage)
 * and the status each must give (envelopes from ../cmsutil.h). The pytest suite does the same
 * with the `openssl cms` command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "../cmsutil.h"
#include "core/buf.h"
#include "core/cms_unwrap.h"

typedef enum damage {
    D_NONE,
    D_TRUNCATE_HALF,
    D_TRUNCATE_LAST,
    D_TRAILING,
    D_FLIP_LAST, /* last byte of the encrypted content */
    D_GARBAGE,
    D_EMPTY,
    D_OVERSIZE,
} damage;

typedef struct ccase {
    const char *name;
    int keyid;    /* recipient info v2 (subject key identifier) */
    int stream;   /* indefinite-length BER */
    int pkcs1;    /* PKCS#1 v1.5 key transport instead of OAEP */
    int other;    /* encrypted to another key */
    int not_env;  /* a plain id-data ContentInfo */
    size_t ptlen; /* content length */
    damage dmg;
    nes_status want;
} ccase;

static const ccase cases[] = {
    {"v0 DER", 0, 0, 0, 0, 0, 32, D_NONE, NES_OK},
    {"v2 DER (-keyid)", 1, 0, 0, 0, 0, 32, D_NONE, NES_OK},
    {"v0 BER (-stream)", 0, 1, 0, 0, 0, 32, D_NONE, NES_OK},
    {"v2 BER", 1, 1, 0, 0, 0, 32, D_NONE, NES_OK},
    {"16-byte DEK", 0, 0, 0, 0, 0, 16, D_NONE, NES_ERR_KEY},
    {"64-byte DEK", 0, 0, 0, 0, 0, 64, D_NONE, NES_ERR_KEY},
    {"empty content", 0, 0, 0, 0, 0, 0, D_NONE, NES_ERR_KEY},
    {"33-byte DEK", 1, 1, 0, 0, 0, 33, D_NONE, NES_ERR_KEY},
    {"wrong recipient", 0, 0, 0, 1, 0, 32, D_NONE, NES_ERR_KEY},
    {"wrong recipient v2 BER", 1, 1, 0, 1, 0, 32, D_NONE, NES_ERR_KEY},
    {"PKCS#1 v1.5 key transport", 0, 0, 1, 0, 0, 32, D_NONE, NES_ERR_KEY},
    {"truncated to half", 0, 0, 0, 0, 0, 32, D_TRUNCATE_HALF, NES_ERR_KEY},
    {"truncated by one byte", 0, 0, 0, 0, 0, 32, D_TRUNCATE_LAST, NES_ERR_KEY},
    {"BER truncated by one byte", 0, 1, 0, 0, 0, 32, D_TRUNCATE_LAST, NES_ERR_KEY},
    {"trailing byte", 0, 0, 0, 0, 0, 32, D_TRAILING, NES_ERR_KEY},
    {"content corrupted", 0, 0, 0, 0, 0, 32, D_FLIP_LAST, NES_ERR_KEY},
    {"garbage", 0, 0, 0, 0, 0, 32, D_GARBAGE, NES_ERR_KEY},
    {"empty input", 0, 0, 0, 0, 0, 32, D_EMPTY, NES_ERR_LIMIT},
    {"oversized input", 0, 0, 0, 0, 0, 32, D_OVERSIZE, NES_ERR_LIMIT},
    {"not envelopedData", 0, 0, 0, 0, 1, 32, D_NONE, NES_ERR_KEY},
};

static void encrypt_cms(const ccase *c, const uint8_t *spki, size_t spki_len, nes_buf *out)
{
    uint8_t pt[128];
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 7 + 1);
    if (c->not_env) {
        BIO *in = BIO_new_mem_buf(pt, (int)c->ptlen), *o = BIO_new(BIO_s_mem());
        CMS_ContentInfo *d = CMS_data_create(in, CMS_BINARY);
        assert_non_null(d);
        assert_int_equal(i2d_CMS_bio(o, d), 1);
        char *data = NULL;
        long n = BIO_get_mem_data(o, &data);
        assert_int_equal(nes_buf_append(out, data, (size_t)n), 0);
        CMS_ContentInfo_free(d);
        BIO_free(in);
        BIO_free(o);
        return;
    }
    tu_cms_opts o = {.keyid = c->keyid, .stream = c->stream, .pkcs1 = c->pkcs1};
    assert_int_equal(tu_cms_encrypt(spki, spki_len, pt, c->ptlen, o, out), 0);
}

static void test_table(void **state)
{
    (void)state;
    nes_recipient *r = NULL, *other = NULL;
    assert_int_equal(nes_recipient_new(&r, NULL), NES_OK);
    assert_int_equal(nes_recipient_new(&other, NULL), NES_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const ccase *c = &cases[i];
        size_t sl;
        const uint8_t *spki = nes_recipient_spki(c->other ? other : r, &sl);
        nes_buf b = {0};
        encrypt_cms(c, spki, sl, &b);
        size_t len = b.len;
        switch (c->dmg) {
        case D_NONE:
            break;
        case D_TRUNCATE_HALF:
            len /= 2;
            break;
        case D_TRUNCATE_LAST:
            len -= 1;
            break;
        case D_TRAILING:
            assert_int_equal(nes_buf_append(&b, "\0", 1), 0);
            len = b.len;
            break;
        case D_FLIP_LAST:
            b.data[b.len - 1] ^= 0x01;
            break;
        case D_GARBAGE:
            memset(b.data, 0x30, b.len);
            break;
        case D_EMPTY:
            len = 0;
            break;
        case D_OVERSIZE:
            assert_int_equal(nes_buf_reserve(&b, NES_CMS_MAX_LEN), 0);
            memset(b.data + b.len, 0, NES_CMS_MAX_LEN);
            len = b.len + NES_CMS_MAX_LEN;
            break;
        }
        if (c->stream && c->dmg == D_NONE)
            assert_int_equal(b.data[1], 0x80); /* indefinite length */
        uint8_t dek[NES_DEK_LEN];
        memset(dek, 0xee, sizeof(dek));
        nes_err err;
        nes_err_clear(&err);
        nes_status st = nes_cms_unwrap(r, b.data, len, dek, &err);
        if (st != c->want)
            fail_msg("case '%s': status %d, want %d (%s)", c->name, st, c->want, err.msg);
        if (st == NES_OK) {
            for (size_t k = 0; k < NES_DEK_LEN; k++)
                assert_int_equal(dek[k], (uint8_t)(k * 7 + 1));
        } else {
            assert_true(err.msg[0] != '\0');
            for (size_t k = 0; k < NES_DEK_LEN; k++)
                assert_int_equal(dek[k], 0xee); /* untouched */
        }
        nes_buf_free(&b);
    }
    nes_recipient_free(r);
    nes_recipient_free(other);
}

/* Each key is fresh, and its SPKI is a 2048-bit RSA public key. */
static void test_recipient_fresh(void **state)
{
    (void)state;
    nes_recipient *a = NULL, *b = NULL;
    assert_int_equal(nes_recipient_new(&a, NULL), NES_OK);
    assert_int_equal(nes_recipient_new(&b, NULL), NES_OK);
    size_t la, lb;
    const uint8_t *sa = nes_recipient_spki(a, &la), *sb = nes_recipient_spki(b, &lb);
    assert_int_equal(la, 294); /* DER SPKI of RSA-2048 with e = 65537 */
    assert_int_equal(lb, 294);
    assert_memory_not_equal(sa, sb, la);
    const unsigned char *p = sa;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)la);
    assert_non_null(pk);
    assert_int_equal(EVP_PKEY_get_bits(pk), NES_RECIPIENT_BITS);
    assert_int_equal(EVP_PKEY_get_base_id(pk), EVP_PKEY_RSA);
    EVP_PKEY_free(pk);
    nes_recipient_free(a);
    nes_recipient_free(b);
    nes_recipient_free(NULL);
}

static char *pem_of(EVP_PKEY *pk, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *copy = malloc((size_t)n);
    assert_non_null(copy);
    memcpy(copy, data, (size_t)n);
    *len = (size_t)n;
    BIO_free(b);
    EVP_PKEY_free(pk);
    return copy;
}

/* A fixed key from PEM opens what is encrypted to it; other keys and text are refused. */
static void test_from_pem(void **state)
{
    (void)state;
    size_t len;
    char *pem = pem_of(EVP_RSA_gen(2048), &len);
    nes_recipient *r = NULL;
    assert_int_equal(nes_recipient_from_pem(pem, len, &r, NULL), NES_OK);
    size_t sl;
    const uint8_t *spki = nes_recipient_spki(r, &sl);
    nes_buf b = {0};
    encrypt_cms(&cases[0], spki, sl, &b);
    uint8_t dek[NES_DEK_LEN];
    assert_int_equal(nes_cms_unwrap(r, b.data, b.len, dek, NULL), NES_OK);
    assert_int_equal(dek[1], 8);
    nes_buf_free(&b);
    nes_recipient_free(r);
    free(pem);

    nes_err err;
    pem = pem_of(EVP_RSA_gen(1024), &len);
    assert_int_equal(nes_recipient_from_pem(pem, len, &r, &err), NES_ERR_KEY);
    assert_null(r);
    free(pem);
    pem = pem_of(EVP_EC_gen("P-384"), &len);
    assert_int_equal(nes_recipient_from_pem(pem, len, &r, &err), NES_ERR_KEY);
    free(pem);
    assert_int_equal(nes_recipient_from_pem("not a key", 9, &r, &err), NES_ERR_KEY);
    assert_null(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_recipient_fresh),
        cmocka_unit_test(test_from_pem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
