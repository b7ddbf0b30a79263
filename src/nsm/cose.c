/* cose.c - COSE_Sign1 ES384 build and verify (see cose.h). */
#include "nsm/cose.h"

#include <cbor.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "core/error.h"
#include "nsm/nsm_cbor.h"

#define COSE_ALG_ES384 35 /* -35, encoded as a negative integer 1 + 34 */
#define ES384_HALF 48
#define ES384_SIG_LEN ((size_t)2 * ES384_HALF)

/* The protected header bytes: a bstr-wrapped {1: -35}. */
static const uint8_t prot_hdr[] = {0xa1, 0x01, 0x38, 0x22};

/* CBOR of ["Signature1", protected, h'', payload] appended to `out`. */
static int sig_structure(const uint8_t *prot, size_t plen, const uint8_t *payload, size_t len,
                         nes_buf *out)
{
    cbor_item_t *a = cbor_new_definite_array(4);
    if (a == NULL)
        return -1;
    bool ok = cbor_array_push(a, cbor_move(cbor_build_string("Signature1"))) &&
              cbor_array_push(a, cbor_move(cbor_build_bytestring(prot, plen))) &&
              cbor_array_push(a, cbor_move(cbor_build_bytestring(NULL, 0))) &&
              cbor_array_push(a, cbor_move(cbor_build_bytestring(payload, len)));
    unsigned char *p = NULL;
    size_t cap = 0, n = ok ? cbor_serialize_alloc(a, &p, &cap) : 0;
    cbor_decref(&a);
    int rc = (n > 0 && nes_buf_append(out, p, n) == 0) ? 0 : -1;
    free(p);
    return rc;
}

int nes_cose_sign1_es384(EVP_PKEY *key, const uint8_t *payload, size_t len, nes_buf *out, char *why,
                         size_t why_len)
{
    nes_buf tbs = {0};
    unsigned char der[160];
    size_t dlen = sizeof(der);
    uint8_t rs[ES384_SIG_LEN];
    int rc = -1;
    ECDSA_SIG *sig = NULL;
    cbor_item_t *a = NULL;
    unsigned char *p = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL || sig_structure(prot_hdr, sizeof(prot_hdr), payload, len, &tbs) != 0 ||
        EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) != 1 ||
        EVP_DigestSign(md, der, &dlen, tbs.data, tbs.len) != 1) {
        nes_msgf(why, why_len, "COSE: signing failed");
        goto out;
    }
    const unsigned char *dp = der;
    sig = d2i_ECDSA_SIG(NULL, &dp, (long)dlen);
    const BIGNUM *r = NULL, *s = NULL;
    if (sig != NULL)
        ECDSA_SIG_get0(sig, &r, &s);
    if (r == NULL || BN_bn2binpad(r, rs, ES384_HALF) != ES384_HALF ||
        BN_bn2binpad(s, rs + ES384_HALF, ES384_HALF) != ES384_HALF) {
        nes_msgf(why, why_len, "COSE: the key is not a P-384 key");
        goto out;
    }
    a = cbor_new_definite_array(4);
    if (a == NULL || !cbor_array_push(a, cbor_move(cbor_build_bytestring(prot_hdr, 4))) ||
        !cbor_array_push(a, cbor_move(cbor_new_definite_map(0))) ||
        !cbor_array_push(a, cbor_move(cbor_build_bytestring(payload, len))) ||
        !cbor_array_push(a, cbor_move(cbor_build_bytestring(rs, sizeof(rs))))) {
        nes_msgf(why, why_len, "COSE: out of memory");
        goto out;
    }
    size_t cap = 0, n = cbor_serialize_alloc(a, &p, &cap);
    if (n == 0 || nes_buf_append(out, p, n) != 0) {
        nes_msgf(why, why_len, "COSE: out of memory");
        goto out;
    }
    rc = 0;
out:
    free(p);
    if (a != NULL)
        cbor_decref(&a);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    nes_buf_free(&tbs);
    ERR_clear_error();
    return rc;
}

static bool definite_bytes(const cbor_item_t *it)
{
    return cbor_isa_bytestring(it) && cbor_bytestring_is_definite(it);
}

int nes_cose_sign1_verify_es384(EVP_PKEY *pub, const uint8_t *doc, size_t len, nes_buf *payload,
                                char *why, size_t why_len)
{
    if (len == 0 || len > NES_NSM_MAX_MSG) {
        nes_msgf(why, why_len, "COSE: %zu bytes (1 to %d allowed)", len, NES_NSM_MAX_MSG);
        return -1;
    }
    if (nes_nsm_cbor_check(doc, len, why, why_len) != 0)
        return -1;
    if (doc[0] == 0xd2) { /* tag 18 (COSE_Sign1): libcbor 0.8 cannot load a tagged root item */
        doc++;
        len--;
    }
    struct cbor_load_result res;
    cbor_item_t *root = cbor_load(doc, len, &res);
    int rc = -1;
    nes_buf tbs = {0};
    ECDSA_SIG *sig = NULL;
    unsigned char *der = NULL;
    EVP_MD_CTX *md = NULL;
    if (root == NULL || res.error.code != CBOR_ERR_NONE || res.read != len) {
        nes_msgf(why, why_len, "COSE: not one complete CBOR item");
        goto out;
    }
    cbor_item_t *arr = root;
    if (!cbor_isa_array(arr) || !cbor_array_is_definite(arr) || cbor_array_size(arr) != 4) {
        nes_msgf(why, why_len, "COSE: not a COSE_Sign1 array");
        goto out;
    }
    cbor_item_t **it = cbor_array_handle(arr);
    bool shape = definite_bytes(it[0]) && cbor_isa_map(it[1]) && definite_bytes(it[2]) &&
                 definite_bytes(it[3]);
    bool alg = shape && cbor_bytestring_length(it[0]) == sizeof(prot_hdr) &&
               memcmp(cbor_bytestring_handle(it[0]), prot_hdr, sizeof(prot_hdr)) == 0;
    bool siglen = shape && cbor_bytestring_length(it[3]) == ES384_SIG_LEN;
    if (!shape || !alg || !siglen) {
        nes_msgf(why, why_len, "COSE: %s",
                 !shape ? "COSE_Sign1 members have the wrong types"
                 : !alg ? "protected header is not exactly {alg: ES384}"
                        : "signature is not 96 bytes");
    } else if (sig_structure(cbor_bytestring_handle(it[0]), cbor_bytestring_length(it[0]),
                             cbor_bytestring_handle(it[2]), cbor_bytestring_length(it[2]),
                             &tbs) != 0) {
        nes_msgf(why, why_len, "COSE: out of memory");
    } else {
        const uint8_t *rs = cbor_bytestring_handle(it[3]);
        sig = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(rs, ES384_HALF, NULL),
               *s = BN_bin2bn(rs + ES384_HALF, ES384_HALF, NULL);
        int dl = -1;
        if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1) {
            r = s = NULL;
            dl = i2d_ECDSA_SIG(sig, &der);
        }
        BN_free(r);
        BN_free(s);
        md = EVP_MD_CTX_new();
        if (dl <= 0 || md == NULL || EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, pub) != 1 ||
            EVP_DigestVerify(md, der, (size_t)dl, tbs.data, tbs.len) != 1) {
            nes_msgf(why, why_len, "COSE: signature does not verify");
        } else if (nes_buf_append(payload, cbor_bytestring_handle(it[2]),
                                  cbor_bytestring_length(it[2])) != 0) {
            nes_msgf(why, why_len, "COSE: out of memory");
        } else {
            rc = 0;
        }
    }
out:
    if (root != NULL)
        cbor_decref(&root);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    nes_buf_free(&tbs);
    ERR_clear_error();
    return rc;
}
