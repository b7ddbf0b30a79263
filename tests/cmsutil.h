/* cmsutil.h - header-only helper for the unit tests of the KMS CiphertextForRecipient path
 * (test_cms_unwrap.c, server/test_dek_rules.c): a CMS EnvelopedData built with OpenSSL's CMS API
 * the way KMS (and `openssl cms -encrypt -keyopt rsa_padding_mode:oaep ...`) builds it, for the
 * RSA public key of a DER SubjectPublicKeyInfo. Returns 0 and appends the DER/BER to `out`, or -1
 * (the tests assert on it). */
#ifndef NES_CMSUTIL_H
#define NES_CMSUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/buf.h"

/** How to build the envelope. */
typedef struct tu_cms_opts {
    int keyid;  /**< recipient info v2 (subject key identifier), as `-keyid` */
    int stream; /**< indefinite-length BER, as `-stream` */
    int pkcs1;  /**< PKCS#1 v1.5 key transport instead of RSAES-OAEP-SHA-256 */
} tu_cms_opts;

/* A throwaway certificate for `pub` (CMS_encrypt wants one; KMS takes the bare key from the
 * attestation document), with a subject key identifier for recipient info v2. */
static inline X509 *tu_cms_cert(EVP_PKEY *pub)
{
    EVP_PKEY *signer = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_OCTET_STRING *skid = ASN1_OCTET_STRING_new();
    int ok = signer != NULL && x != NULL && skid != NULL && X509_set_version(x, 2) == 1 &&
             ASN1_INTEGER_set(X509_get_serialNumber(x), 7) == 1 &&
             X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                        (const unsigned char *)"recipient", -1, -1, 0) == 1 &&
             X509_set_issuer_name(x, X509_get_subject_name(x)) == 1 &&
             X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
             X509_gmtime_adj(X509_getm_notAfter(x), 3600) != NULL && X509_set_pubkey(x, pub) == 1 &&
             ASN1_OCTET_STRING_set(skid, (const unsigned char *)"0123456789abcdefghij", 20) == 1 &&
             X509_add1_ext_i2d(x, NID_subject_key_identifier, skid, 0, 0) == 1 &&
             X509_sign(x, signer, EVP_sha256()) > 0;
    ASN1_OCTET_STRING_free(skid);
    EVP_PKEY_free(signer);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static inline int tu_cms_encrypt(const uint8_t *spki, size_t spki_len, const uint8_t *pt,
                                 size_t len, tu_cms_opts o, nes_buf *out)
{
    const unsigned char *p = spki;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)spki_len);
    X509 *x = pub ? tu_cms_cert(pub) : NULL;
    BIO *in = BIO_new_mem_buf(pt, (int)len), *bo = BIO_new(BIO_s_mem());
    unsigned flags = CMS_BINARY | CMS_PARTIAL | (o.stream ? CMS_STREAM : 0);
    CMS_ContentInfo *cms = x ? CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(), flags) : NULL;
    CMS_RecipientInfo *ri =
        cms ? CMS_add1_recipient_cert(cms, x, CMS_KEY_PARAM | (o.keyid ? CMS_USE_KEYID : 0)) : NULL;
    EVP_PKEY_CTX *pctx = ri ? CMS_RecipientInfo_get0_pkey_ctx(ri) : NULL;
    int ok = pctx != NULL && in != NULL && bo != NULL;
    if (ok && !o.pkcs1)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
    if (ok)
        ok = o.stream ? i2d_CMS_bio_stream(bo, cms, in, (int)flags) == 1
                      : CMS_final(cms, in, NULL, flags) == 1 && i2d_CMS_bio(bo, cms) == 1;
    char *data = NULL;
    long n = ok ? BIO_get_mem_data(bo, &data) : 0;
    ok = ok && n > 0 && nes_buf_append(out, data, (size_t)n) == 0;
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(bo);
    X509_free(x);
    EVP_PKEY_free(pub);
    return ok ? 0 : -1;
}

#endif
