/* nsm_test.c - the test NSM behind NSM_DEVICE=test:DIR (see nsm.h).
 *
 * DIR holds a P-384 CA: ca.key (PEM, mode 0600) and ca.crt (PEM, self-signed, CN "nitro-enc test
 * NSM CA - NOT AWS"), created on first use. Each attestation gets a fresh P-384 leaf key and
 * certificate signed by that CA (valid from a minute ago for three hours, like the NSM's own
 * short-lived leaves), and a document of the AWS layout (the Nitro Enclaves user guide,
 * "Attestation document specification"), as a CBOR map in this order:
 *
 *   module_id   text  "i-0000000000000000-enc0000000000000000" (test value)
 *   digest      text  "SHA384"
 *   timestamp   uint  milliseconds since the Unix epoch
 *   pcrs        map   0..15 -> 48-byte bstr: PCR0..2 = SHA-384("nitro-enc test NSM PCR<n>"),
 *                     the others zero (what a debug-mode enclave's unused PCRs read)
 *   certificate bstr  the leaf, DER
 *   cabundle    array [bstr DER of the CA]  (root first, as AWS orders it; no intermediates)
 *   public_key  bstr | null,  user_data  bstr | null,  nonce  bstr | null   (from the request)
 *
 * signed as a COSE_Sign1 with ES384 by the leaf key (cose.h). DescribePCR answers the same PCR
 * values, locked, for indexes 0..31 (InvalidIndex above, like the device). A request that does
 * not decode gets {"Error": "InvalidArgument"}, as from the device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cbor.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/error.h"
#include "core/fileio.h"
#include "nsm/cose.h"
#include "nsm/nsm.h"

#define MODULE_ID "i-0000000000000000-enc0000000000000000"
#define DEVICE_PCRS 32

typedef struct tnsm {
    EVP_PKEY *ca_key;
    X509 *ca;
    uint8_t *ca_der;
    size_t ca_der_len;
} tnsm;

static void pcr_value(unsigned index, uint8_t out[NES_NSM_PCR_LEN])
{
    memset(out, 0, NES_NSM_PCR_LEN);
    if (index <= 2) {
        char label[40];
        int n = snprintf(label, sizeof(label), "nitro-enc test NSM PCR%u", index);
        unsigned int len = 0;
        EVP_Digest(label, (size_t)n, out, &len, EVP_sha384(), NULL);
    }
}

/* A certificate for `pub` named `cn`, signed by `issuer_key` (issuer name from `issuer`, or
 * self-issued when NULL). */
static X509 *make_cert(const char *cn, EVP_PKEY *pub, const X509 *issuer, EVP_PKEY *issuer_key,
                       bool ca, long not_before_secs, long valid_secs)
{
    X509 *x = X509_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    uint64_t sn = 0;
    bool ok = x != NULL && serial != NULL && bc != NULL && ku != NULL &&
              RAND_bytes((unsigned char *)&sn, sizeof(sn)) == 1;
    if (ok) {
        ASN1_INTEGER_set_uint64(serial, sn >> 1);
        X509_NAME *name = X509_get_subject_name(x);
        bc->ca = ca ? 0xFF : 0;
        /* keyUsage bits: digitalSignature (0); keyCertSign (5), cRLSign (6) for the CA */
        ok = X509_set_version(x, 2) == 1 && X509_set_serialNumber(x, serial) == 1 &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                        (const unsigned char *)"nitro-enc-svc tests", -1, -1,
                                        0) == 1 &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                        0) == 1 &&
             X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1 &&
             X509_gmtime_adj(X509_getm_notBefore(x), -not_before_secs) != NULL &&
             X509_gmtime_adj(X509_getm_notAfter(x), valid_secs) != NULL &&
             X509_set_pubkey(x, pub) == 1 &&
             X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, 0) == 1 &&
             (ca ? ASN1_BIT_STRING_set_bit(ku, 5, 1) == 1 && ASN1_BIT_STRING_set_bit(ku, 6, 1) == 1
                 : ASN1_BIT_STRING_set_bit(ku, 0, 1) == 1) &&
             X509_add1_ext_i2d(x, NID_key_usage, ku, 1, 0) == 1 &&
             X509_sign(x, issuer_key, EVP_sha384()) > 0;
    }
    ASN1_INTEGER_free(serial);
    BASIC_CONSTRAINTS_free(bc);
    ASN1_BIT_STRING_free(ku);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_pem(const char *path, EVP_PKEY *key, X509 *cert, mode_t mode)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL)
        return -1;
    int ok = key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_bio_X509(b, cert);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    int rc = (ok == 1 && n > 0) ? nes_write_file(path, data, (size_t)n, mode) : -1;
    if (data != NULL && n > 0)
        OPENSSL_cleanse(data, (size_t)n);
    BIO_free(b);
    return rc;
}

static int create_ca(tnsm *t, const char *dir, const char *kpath, const char *cpath, char *why,
                     size_t why_len)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        nes_msgf(why, why_len, "test NSM: cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    t->ca_key = EVP_EC_gen("P-384");
    t->ca = t->ca_key ? make_cert("nitro-enc test NSM CA - NOT AWS", t->ca_key, NULL, t->ca_key,
                                  true, 60, 10L * 365 * 86400)
                      : NULL;
    if (t->ca == NULL) {
        nes_msgf(why, why_len, "test NSM: cannot create the test CA");
        return -1;
    }
    /* the certificate last: a CA is complete once ca.crt exists */
    if (write_pem(kpath, t->ca_key, NULL, 0600) != 0 || write_pem(cpath, NULL, t->ca, 0644) != 0) {
        nes_msgf(why, why_len, "test NSM: cannot write the test CA to %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static int load_ca(tnsm *t, const char *kpath, const char *cpath, char *why, size_t why_len)
{
    FILE *kf = fopen(kpath, "re"), *cf = fopen(cpath, "re");
    if (kf != NULL)
        t->ca_key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    if (cf != NULL)
        t->ca = PEM_read_X509(cf, NULL, NULL, NULL);
    if (kf != NULL)
        fclose(kf);
    if (cf != NULL)
        fclose(cf);
    if (t->ca_key == NULL || t->ca == NULL || X509_check_private_key(t->ca, t->ca_key) != 1 ||
        EVP_PKEY_get_base_id(t->ca_key) != EVP_PKEY_EC || EVP_PKEY_get_bits(t->ca_key) != 384) {
        nes_msgf(why, why_len, "test NSM: %s and %s are not a matching P-384 key and certificate",
                 kpath, cpath);
        return -1;
    }
    return 0;
}

void *nes_nsm_test_open(const char *dir, char *why, size_t why_len)
{
    if (dir[0] == '\0') {
        nes_msgf(why, why_len, "test NSM: NSM_DEVICE=test:DIR needs a directory");
        return NULL;
    }
    tnsm *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        nes_msgf(why, why_len, "test NSM: out of memory");
        return NULL;
    }
    char kpath[4096], cpath[4096];
    snprintf(kpath, sizeof(kpath), "%s/ca.key", dir);
    snprintf(cpath, sizeof(cpath), "%s/ca.crt", dir);
    int rc = access(cpath, F_OK) == 0 ? load_ca(t, kpath, cpath, why, why_len)
                                      : create_ca(t, dir, kpath, cpath, why, why_len);
    unsigned char *der = NULL;
    int n = rc == 0 ? i2d_X509(t->ca, &der) : -1;
    if (n <= 0) {
        ERR_clear_error();
        nes_nsm_test_close(t);
        return NULL;
    }
    t->ca_der = der;
    t->ca_der_len = (size_t)n;
    return t;
}

void nes_nsm_test_close(void *impl)
{
    tnsm *t = impl;
    if (t == NULL)
        return;
    EVP_PKEY_free(t->ca_key);
    X509_free(t->ca);
    OPENSSL_free(t->ca_der);
    free(t);
}

static bool put(cbor_item_t *m, const char *k, cbor_item_t *v)
{
    if (v == NULL)
        return false;
    cbor_item_t *key = cbor_build_string(k);
    if (key == NULL) {
        cbor_decref(&v);
        return false;
    }
    return cbor_map_add(m, (struct cbor_pair){.key = cbor_move(key), .value = cbor_move(v)});
}

static cbor_item_t *opt_bytes(nes_nsm_bytes b)
{
    return b.p ? cbor_build_bytestring(b.p, b.len) : cbor_new_null();
}

/* The attestation payload (CBOR map above) for `req`, certified by `leaf`. */
static int payload(const tnsm *t, const nes_nsm_request *req, X509 *leaf, nes_buf *out)
{
    unsigned char *leaf_der = NULL, *p = NULL;
    int leaf_len = i2d_X509(leaf, &leaf_der);
    cbor_item_t *m = cbor_new_definite_map(9), *pcrs = cbor_new_definite_map(NES_NSM_TEST_PCRS);
    cbor_item_t *bundle = cbor_new_definite_array(1);
    bool ok = leaf_len > 0 && m != NULL && pcrs != NULL && bundle != NULL;
    for (unsigned i = 0; ok && i < NES_NSM_TEST_PCRS; i++) {
        uint8_t v[NES_NSM_PCR_LEN];
        pcr_value(i, v);
        cbor_item_t *k = cbor_build_uint8((uint8_t)i), *b = cbor_build_bytestring(v, sizeof(v));
        ok = k != NULL && b != NULL &&
             cbor_map_add(pcrs, (struct cbor_pair){.key = cbor_move(k), .value = cbor_move(b)});
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    ok = ok && cbor_array_push(bundle, cbor_move(cbor_build_bytestring(t->ca_der, t->ca_der_len)));
    ok = ok && put(m, "module_id", cbor_build_string(MODULE_ID)) &&
         put(m, "digest", cbor_build_string("SHA384")) &&
         put(m, "timestamp", cbor_build_uint64(ms)) && put(m, "pcrs", cbor_incref(pcrs)) &&
         put(m, "certificate", cbor_build_bytestring(leaf_der, (size_t)leaf_len)) &&
         put(m, "cabundle", cbor_incref(bundle)) &&
         put(m, "public_key", opt_bytes(req->public_key)) &&
         put(m, "user_data", opt_bytes(req->user_data)) && put(m, "nonce", opt_bytes(req->nonce));
    size_t cap = 0, n = ok ? cbor_serialize_alloc(m, &p, &cap) : 0;
    int rc = (n > 0 && nes_buf_append(out, p, n) == 0) ? 0 : -1;
    free(p);
    OPENSSL_free(leaf_der);
    if (pcrs != NULL)
        cbor_decref(&pcrs);
    if (bundle != NULL)
        cbor_decref(&bundle);
    if (m != NULL)
        cbor_decref(&m);
    return rc;
}

static int attest(tnsm *t, const nes_nsm_request *req, nes_buf *ans, char *why, size_t why_len)
{
    EVP_PKEY *leaf_key = EVP_EC_gen("P-384");
    X509 *leaf = leaf_key ? make_cert("test-nsm " MODULE_ID, leaf_key, t->ca, t->ca_key, false, 60,
                                      3L * 3600)
                          : NULL;
    nes_buf body = {0}, doc = {0};
    int rc = -1;
    if (leaf == NULL || payload(t, req, leaf, &body) != 0)
        nes_msgf(why, why_len, "test NSM: cannot build the attestation document");
    else if (nes_cose_sign1_es384(leaf_key, body.data, body.len, &doc, why, why_len) == 0)
        rc = nes_nsm_encode_attestation_ans(doc.data, doc.len, ans, why, why_len);
    nes_buf_free(&body);
    nes_buf_free(&doc);
    X509_free(leaf);
    EVP_PKEY_free(leaf_key);
    ERR_clear_error();
    return rc;
}

int nes_nsm_test_transact(void *impl, const uint8_t *req, size_t req_len, nes_buf *ans, char *why,
                          size_t why_len)
{
    tnsm *t = impl;
    nes_nsm_request r;
    char ignored[128];
    if (nes_nsm_decode_request(req, req_len, &r, ignored, sizeof(ignored)) != 0)
        return nes_nsm_encode_error_ans("InvalidArgument", ans, why, why_len);
    int rc;
    if (r.kind == NES_NSM_REQ_ATTESTATION) {
        rc = attest(t, &r, ans, why, why_len);
    } else if (r.index >= DEVICE_PCRS) {
        rc = nes_nsm_encode_error_ans("InvalidIndex", ans, why, why_len);
    } else {
        uint8_t v[NES_NSM_PCR_LEN];
        pcr_value(r.index, v);
        rc = nes_nsm_encode_describe_pcr_ans(true, v, sizeof(v), ans, why, why_len);
    }
    nes_nsm_request_free(&r);
    return rc;
}
