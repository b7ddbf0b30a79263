/* cms_unwrap.c - ephemeral RSA recipient and CMS EnvelopedData unwrap (see cms_unwrap.h). */
#include "core/cms_unwrap.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

struct nes_recipient {
    EVP_PKEY *pkey;
    uint8_t *spki;
    size_t spki_len;
};

/* Takes ownership of pkey (NULL: generation or parsing failed, reported as `why`). */
static nes_status wrap(EVP_PKEY *pkey, nes_status fail, const char *why, nes_recipient **out,
                       nes_err *err)
{
    *out = NULL;
    if (pkey == NULL) {
        ERR_clear_error();
        return nes_err_set(err, fail, (size_t)-1, "%s", why);
    }
    nes_recipient *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        EVP_PKEY_free(pkey);
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
    }
    r->pkey = pkey;
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(r->pkey, &der);
    if (n <= 0) {
        ERR_clear_error();
        nes_recipient_free(r);
        return nes_err_set(err, NES_ERR_CRYPTO, (size_t)-1, "cannot encode the public key");
    }
    r->spki = der;
    r->spki_len = (size_t)n;
    *out = r;
    return NES_OK;
}

nes_status nes_recipient_new(nes_recipient **out, nes_err *err)
{
    return wrap(EVP_RSA_gen(NES_RECIPIENT_BITS), NES_ERR_CRYPTO, "RSA key generation failed", out,
                err);
}

nes_status nes_recipient_from_pem(const char *pem, size_t len, nes_recipient **out, nes_err *err)
{
    EVP_PKEY *pk = NULL;
    BIO *b = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    if (b != NULL)
        pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (pk != NULL &&
        (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pk) < NES_RECIPIENT_BITS)) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    return wrap(pk, NES_ERR_KEY, "not an RSA private key of at least 2048 bits", out, err);
}

const uint8_t *nes_recipient_spki(const nes_recipient *r, size_t *len)
{
    *len = r->spki_len;
    return r->spki;
}

void nes_recipient_free(nes_recipient *r)
{
    if (r == NULL)
        return;
    EVP_PKEY_free(r->pkey); /* RSA_free clears d, p, q, dmp1, dmq1, iqmp (BN_clear_free) */
    OPENSSL_free(r->spki);
    free(r);
}

/* Every recipient info must be key transport with RSAES-OAEP. */
static nes_status check_recipients(CMS_ContentInfo *cms, nes_err *err)
{
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
    int n = ris ? sk_CMS_RecipientInfo_num(ris) : 0;
    if (n <= 0)
        return nes_err_set(err, NES_ERR_KEY, (size_t)-1, "CMS: no recipient info");
    for (int i = 0; i < n; i++) {
        CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
        if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS)
            return nes_err_set(err, NES_ERR_KEY, (size_t)-1,
                               "CMS: recipient info %d is not key transport", i);
        X509_ALGOR *alg = NULL;
        if (CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg) != 1 || alg == NULL)
            return nes_err_set(err, NES_ERR_KEY, (size_t)-1, "CMS: recipient info %d unreadable",
                               i);
        const ASN1_OBJECT *obj = NULL;
        X509_ALGOR_get0(&obj, NULL, NULL, alg);
        if (OBJ_obj2nid(obj) != NID_rsaesOaep)
            return nes_err_set(err, NES_ERR_KEY, (size_t)-1,
                               "CMS: recipient info %d is not RSAES-OAEP", i);
    }
    return NES_OK;
}

nes_status nes_cms_unwrap(const nes_recipient *r, const uint8_t *cms, size_t len,
                          uint8_t dek[NES_DEK_LEN], nes_err *err)
{
    if (len == 0 || len > NES_CMS_MAX_LEN)
        return nes_err_set(err, NES_ERR_LIMIT, (size_t)-1, "CMS: %zu bytes (expected 1 to %d)", len,
                           NES_CMS_MAX_LEN);
    const unsigned char *p = cms;
    CMS_ContentInfo *ci = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    nes_status st = NES_OK;
    BIO *out = NULL;
    if (ci == NULL) {
        st = nes_err_set(err, NES_ERR_KEY, (size_t)-1, "CMS: not a DER/BER ContentInfo");
        goto done;
    }
    if (p != cms + len) {
        st = nes_err_set(err, NES_ERR_KEY, (size_t)(p - cms),
                         "CMS: %zu bytes after the ContentInfo", (size_t)(cms + len - p));
        goto done;
    }
    if (OBJ_obj2nid(CMS_get0_type(ci)) != NID_pkcs7_enveloped) {
        st = nes_err_set(err, NES_ERR_KEY, (size_t)-1, "CMS: content type is not envelopedData");
        goto done;
    }
    if ((st = check_recipients(ci, err)) != NES_OK)
        goto done;
    out = BIO_new(BIO_s_secmem());
    if (out == NULL) {
        st = nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
        goto done;
    }
    /* CMS_decrypt does not take ownership of the key when no certificate is given (it sets and
     * clears it on each recipient info itself). CMS_DEBUG_DECRYPT: fail on a wrong key instead of
     * decrypting with a random content key. */
    if (CMS_decrypt(ci, r->pkey, NULL, NULL, out, CMS_BINARY | CMS_DEBUG_DECRYPT) != 1) {
        st = nes_err_set(err, NES_ERR_KEY, (size_t)-1,
                         "CMS: no recipient info opens with this key (or the content is corrupt)");
        goto done;
    }
    size_t n = BIO_pending(out);
    if (n != NES_DEK_LEN) {
        st = nes_err_set(err, NES_ERR_KEY, (size_t)-1,
                         "CMS: the content is %zu bytes, a DEK is exactly %d", n, NES_DEK_LEN);
        goto done;
    }
    if (BIO_read(out, dek, NES_DEK_LEN) != NES_DEK_LEN) {
        explicit_bzero(dek, NES_DEK_LEN);
        st = nes_err_set(err, NES_ERR_CRYPTO, (size_t)-1, "CMS: cannot read the content");
    }
done:
    BIO_free(out); /* a secure-memory BIO: its buffer is cleared when freed */
    CMS_ContentInfo_free(ci);
    ERR_clear_error();
    return st;
}
