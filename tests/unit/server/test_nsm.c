/* Unit tests: src/nsm (CBOR messages, COSE_Sign1, the test NSM, NSM_DEVICE dispatch).
 *
 * The answer decoder is checked against a table of CBOR messages (written with Python's cbor2,
 * hex below) and the reason each must give; the test NSM is checked end to end: its document is
 * a COSE_Sign1 that verifies under the leaf it carries, the leaf chains to DIR/ca.crt, and the
 * payload has the AWS layout with the requested public key, user data and nonce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../testutil.h"
#include "nsm/cose.h"
#include "nsm/nsm.h"
#include "nsm/nsm_cbor.h"

typedef struct acase {
    const char *name;
    const char *hex;
    const char *want; /* "0": success, else a substring of the reason */
} acase;

static const acase answers[] = {
    {"attestation", "a16b4174746573746174696f6ea168646f63756d656e7443010203", "0"},
    {"error", "a1654572726f726f496e76616c6964417267756d656e74", "NSM refused: InvalidArgument"},
    {"error odd text", "a1654572726f726962616420636f646521", "NSM refused: ?"},
    {"truncated", "a16b4174746573746174696f6ea168646f63756d656e74430102", "truncated"},
    {"trailing", "a16b4174746573746174696f6ea168646f63756d656e744301020300", "trailing"},
    {"extra key", "a16b4174746573746174696f6ea268646f63756d656e744101617801", "unexpected key"},
    {"missing document", "a16b4174746573746174696f6ea0", "document missing"},
    {"document not bytes", "a16b4174746573746174696f6ea168646f63756d656e7463616263",
     "not a definite byte string"},
    {"empty document", "a16b4174746573746174696f6ea168646f63756d656e7440", "empty document"},
    {"other variant",
     "a16b4465736372696265504352a2646c6f636bf5646461746158300000000000000000000000000000000000000"
     "00000000000000000000000000000000000000000000000000000000000",
     "unexpected variant"},
    {"two variants", "a26b4174746573746174696f6ea168646f63756d656e744101654572726f726178",
     "one entry"},
    {"array", "816b4174746573746174696f6e", "one entry"},
    {"attestation not map", "a16b4174746573746174696f6e05", "not a definite map"},
    {"duplicate key", "a16b4174746573746174696f6ea268646f63756d656e74410168646f63756d656e744102",
     "duplicate key"},
    {"indefinite document", "a16b4174746573746174696f6ea168646f63756d656e745f4101ff",
     "not a definite byte string"},
    {"indefinite outer map", "bf6b4174746573746174696f6ea168646f63756d656e744101ff", "one entry"},
    {"empty input", "", "empty"},
    {"malformed", "ff", "malformed"},
    {"huge length claim", "5b00000000ffffffff", "truncated"},
    {"array of a billion", "a19a44657362", "truncated"},
    {"map of a billion", "ba44657362", "truncated"},
    {"nested too deep",
     "818181818181818181818181818181818181818181818181818181818181818181818181818100",
     "nested too deep"},
    {"reserved length", "a1fc00", "reserved"},
    {"stray break", "ff00", "stray break"},
    {"indefinite integer", "1f", "malformed"},
    {"bad string chunk", "5f6161ff", "string chunk"},
};

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    assert_int_equal(tu_unhex(hex, 2 * n, out), 0);
    return n;
}

static void test_attestation_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        const acase *c = &answers[i];
        uint8_t msg[512];
        size_t n = unhex(c->hex, msg, sizeof(msg));
        nes_buf doc = {0};
        char why[256] = "";
        int rc = nes_nsm_decode_attestation_ans(msg, n, &doc, why, sizeof(why));
        if (strcmp(c->want, "0") == 0) {
            if (rc != 0)
                fail_msg("case '%s': %s", c->name, why);
            assert_int_equal(doc.len, 3);
            assert_memory_equal(doc.data, "\x01\x02\x03", 3);
        } else if (rc == 0 || strstr(why, c->want) == NULL) {
            fail_msg("case '%s': rc %d, reason '%s', want '%s'", c->name, rc, why, c->want);
        } else {
            assert_int_equal(doc.len, 0);
        }
        nes_buf_free(&doc);
    }
}

/* Oversized input is refused before parsing; a document of NES_NSM_MAX_MSG bytes cannot fit. */
static void test_oversized(void **state)
{
    (void)state;
    size_t n = NES_NSM_MAX_MSG + 1;
    uint8_t *big = calloc(1, n);
    assert_non_null(big);
    char why[256];
    nes_buf doc = {0};
    assert_int_equal(nes_nsm_decode_attestation_ans(big, n, &doc, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "more than"));
    nes_buf ans = {0};
    assert_int_equal(nes_nsm_encode_attestation_ans(big, NES_NSM_MAX_MSG, &ans, why, sizeof(why)),
                     -1);
    assert_int_equal(ans.len, 0);
    free(big);
}

static void test_describe_pcr_answers(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int ok;
    } t[] = {
        {"a16b4465736372696265504352a2646c6f636bf564646174615830aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         1},
        {"a16b4465736372696265504352a2646c6f636b0164646174615830aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         0}, /* lock: 1, not a boolean */
        {"a16b4465736372696265504352a2646c6f636bf564646174615841aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aa"
         "aaaaaaaaa",
         0}, /* 65 bytes: longer than any PCR */
        {"a1654572726f726c496e76616c6964496e646578", 0},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint8_t msg[256], pcr[NES_NSM_MAX_PCR];
        size_t n = unhex(t[i].hex, msg, sizeof(msg)), len = 0;
        bool locked = false;
        char why[256] = "";
        int rc = nes_nsm_decode_describe_pcr_ans(msg, n, pcr, &len, &locked, why, sizeof(why));
        if (t[i].ok) {
            assert_int_equal(rc, 0);
            assert_int_equal(len, 48);
            assert_true(locked);
            assert_int_equal(pcr[47], 0xaa);
        } else {
            assert_int_equal(rc, -1);
            assert_true(why[0] != '\0');
        }
    }
}

/* Requests round-trip through the encoder and the (test NSM's) decoder. */
static void test_requests(void **state)
{
    (void)state;
    nes_buf b = {0};
    char why[256];
    nes_nsm_bytes pk = {(const uint8_t *)"PUBKEY", 6}, none = {NULL, 0},
                  nonce = {(const uint8_t *)"", 0};
    assert_int_equal(nes_nsm_encode_attestation_req(pk, none, nonce, &b, why, sizeof(why)), 0);
    nes_nsm_request r;
    assert_int_equal(nes_nsm_decode_request(b.data, b.len, &r, why, sizeof(why)), 0);
    assert_int_equal(r.kind, NES_NSM_REQ_ATTESTATION);
    assert_int_equal(r.public_key.len, 6);
    assert_memory_equal(r.public_key.p, "PUBKEY", 6);
    assert_null(r.user_data.p);
    assert_non_null(r.nonce.p); /* an empty byte string, not null */
    assert_int_equal(r.nonce.len, 0);
    nes_nsm_request_free(&r);
    /* truncated requests never decode */
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(nes_nsm_decode_request(b.data, cut, &r, why, sizeof(why)), -1);
    nes_buf_free(&b);

    assert_int_equal(nes_nsm_encode_describe_pcr_req(7, &b, why, sizeof(why)), 0);
    assert_int_equal(nes_nsm_decode_request(b.data, b.len, &r, why, sizeof(why)), 0);
    assert_int_equal(r.kind, NES_NSM_REQ_DESCRIBE_PCR);
    assert_int_equal(r.index, 7);
    nes_nsm_request_free(&r);
    nes_buf_free(&b);

    uint8_t big[NES_NSM_MAX_FIELD + 1] = {0};
    nes_nsm_bytes toolong = {big, sizeof(big)};
    assert_int_equal(nes_nsm_encode_attestation_req(toolong, none, none, &b, why, sizeof(why)), -1);
    assert_int_equal(b.len, 0);
}

/* ---- the test NSM ----------------------------------------------------------------------- */

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/nes-test-nsm-XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const cbor_item_t *map_get(const cbor_item_t *m, const char *key)
{
    struct cbor_pair *p = cbor_map_handle(m);
    for (size_t i = 0; i < cbor_map_size(m); i++)
        if (cbor_isa_string(p[i].key) && cbor_string_length(p[i].key) == strlen(key) &&
            memcmp(cbor_string_handle(p[i].key), key, strlen(key)) == 0)
            return p[i].value;
    return NULL;
}

static X509 *der_cert(const cbor_item_t *b)
{
    const unsigned char *p = cbor_bytestring_handle(b);
    return d2i_X509(NULL, &p, (long)cbor_bytestring_length(b));
}

static void test_test_nsm(void **state)
{
    (void)state;
    char dev[128], why[256] = "";
    snprintf(dev, sizeof(dev), "test:%s/ca", tmpdir);
    nes_nsm *n = nes_nsm_open(dev, why, sizeof(why));
    if (n == NULL)
        fail_msg("open: %s", why);
    assert_true(nes_nsm_is_test(n));
    assert_non_null(strstr(nes_nsm_name(n), "test NSM"));

    nes_nsm_bytes pk = {(const uint8_t *)"SPKI-BYTES", 10}, ud = {(const uint8_t *)"ud", 2},
                  nonce = {(const uint8_t *)"nonce123", 8};
    nes_buf doc = {0};
    assert_int_equal(nes_nsm_attest(n, pk, ud, nonce, &doc, why, sizeof(why)), 0);

    /* the COSE_Sign1 is untagged, verifies under the leaf, and the leaf chains to ca.crt */
    assert_int_equal(doc.data[0], 0x84);
    struct cbor_load_result res;
    cbor_item_t *cose = cbor_load(doc.data, doc.len, &res);
    assert_non_null(cose);
    cbor_item_t *pl = cbor_array_get(cose, 2);
    cbor_item_t *payload = cbor_load(cbor_bytestring_handle(pl), cbor_bytestring_length(pl), &res);
    assert_non_null(payload);
    assert_int_equal(cbor_map_size(payload), 9);
    X509 *leaf = der_cert(map_get(payload, "certificate"));
    assert_non_null(leaf);
    EVP_PKEY *leaf_pub = X509_get0_pubkey(leaf);
    nes_buf body = {0};
    assert_int_equal(
        nes_cose_sign1_verify_es384(leaf_pub, doc.data, doc.len, &body, why, sizeof(why)), 0);
    assert_int_equal(body.len, cbor_bytestring_length(pl));

    char capath[128];
    snprintf(capath, sizeof(capath), "%s/ca/ca.crt", tmpdir);
    FILE *f = fopen(capath, "r");
    assert_non_null(f);
    X509 *ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(ca);
    assert_int_equal(X509_verify(leaf, X509_get0_pubkey(ca)), 1);
    const cbor_item_t *bundle = map_get(payload, "cabundle");
    assert_int_equal(cbor_array_size(bundle), 1);
    cbor_item_t *b0 = cbor_array_get(bundle, 0);
    X509 *bca = der_cert(b0);
    assert_int_equal(X509_cmp(bca, ca), 0);
    cbor_decref(&b0);

    /* the AWS layout */
    const cbor_item_t *digest = map_get(payload, "digest");
    assert_memory_equal(cbor_string_handle(digest), "SHA384", 6);
    assert_true(cbor_isa_uint(map_get(payload, "timestamp")));
    assert_true(cbor_isa_string(map_get(payload, "module_id")));
    const cbor_item_t *pcrs = map_get(payload, "pcrs");
    assert_int_equal(cbor_map_size(pcrs), NES_NSM_TEST_PCRS);
    struct cbor_pair *pp = cbor_map_handle(pcrs);
    for (size_t i = 0; i < NES_NSM_TEST_PCRS; i++) {
        assert_int_equal(cbor_get_int(pp[i].key), i);
        assert_int_equal(cbor_bytestring_length(pp[i].value), NES_NSM_PCR_LEN);
    }
    assert_memory_equal(cbor_bytestring_handle(map_get(payload, "public_key")), "SPKI-BYTES", 10);
    assert_memory_equal(cbor_bytestring_handle(map_get(payload, "user_data")), "ud", 2);
    assert_memory_equal(cbor_bytestring_handle(map_get(payload, "nonce")), "nonce123", 8);

    /* DescribePCR agrees with the document; indexes past the device's 32 are refused */
    uint8_t pcr[NES_NSM_MAX_PCR];
    size_t plen;
    bool locked;
    assert_int_equal(nes_nsm_describe_pcr(n, 0, pcr, &plen, &locked, why, sizeof(why)), 0);
    assert_int_equal(plen, NES_NSM_PCR_LEN);
    assert_true(locked);
    assert_memory_equal(pcr, cbor_bytestring_handle(pp[0].value), NES_NSM_PCR_LEN);
    assert_int_equal(nes_nsm_describe_pcr(n, 40, pcr, &plen, &locked, why, sizeof(why)), -1);
    assert_string_equal(why, "NSM refused: InvalidIndex");

    /* tampering with the payload breaks the signature; another key does not verify */
    size_t off = doc.len - 96 - 20;
    doc.data[off] ^= 1;
    nes_buf junk = {0};
    assert_int_equal(
        nes_cose_sign1_verify_es384(leaf_pub, doc.data, doc.len, &junk, why, sizeof(why)), -1);
    doc.data[off] ^= 1;
    assert_int_equal(nes_cose_sign1_verify_es384(X509_get0_pubkey(ca), doc.data, doc.len, &junk,
                                                 why, sizeof(why)),
                     -1);
    assert_non_null(strstr(why, "does not verify"));
    assert_int_equal(
        nes_cose_sign1_verify_es384(leaf_pub, doc.data, doc.len - 1, &junk, why, sizeof(why)), -1);
    assert_int_equal(junk.len, 0);
    /* tagged (COSE_Sign1 tag 18) verifies too; another algorithm in the protected header not */
    nes_buf tagged = {0};
    assert_int_equal(nes_buf_append(&tagged, "\xd2", 1), 0);
    assert_int_equal(nes_buf_append(&tagged, doc.data, doc.len), 0);
    assert_int_equal(
        nes_cose_sign1_verify_es384(leaf_pub, tagged.data, tagged.len, &junk, why, sizeof(why)) == 0
            ? 0
            : (fprintf(stderr, "%s\n", why), -1),
        0);
    nes_buf_free(&junk);
    tagged.data[5] = 0x26; /* {1: -35} -> {1: -7} (ES256) */
    assert_int_equal(
        nes_cose_sign1_verify_es384(leaf_pub, tagged.data, tagged.len, &junk, why, sizeof(why)),
        -1);
    assert_non_null(strstr(why, "protected header"));
    nes_buf_free(&tagged);

    /* a second open reuses the CA */
    nes_nsm *n2 = nes_nsm_open(dev, why, sizeof(why));
    assert_non_null(n2);
    nes_buf doc2 = {0};
    assert_int_equal(
        nes_nsm_attest(n2, pk, (nes_nsm_bytes){0}, (nes_nsm_bytes){0}, &doc2, why, sizeof(why)), 0);
    cbor_item_t *cose2 = cbor_load(doc2.data, doc2.len, &res);
    cbor_item_t *pl2 = cbor_array_get(cose2, 2);
    cbor_item_t *payload2 =
        cbor_load(cbor_bytestring_handle(pl2), cbor_bytestring_length(pl2), &res);
    X509 *leaf2 = der_cert(map_get(payload2, "certificate"));
    assert_int_equal(X509_verify(leaf2, X509_get0_pubkey(ca)), 1);
    assert_true(cbor_is_null(map_get(payload2, "nonce")));
    X509_free(leaf2);
    cbor_decref(&payload2);
    cbor_decref(&pl2);
    cbor_decref(&cose2);
    nes_buf_free(&doc2);
    nes_nsm_close(n2);

    X509_free(bca);
    X509_free(ca);
    X509_free(leaf);
    nes_buf_free(&body);
    nes_buf_free(&doc);
    cbor_decref(&payload);
    cbor_decref(&pl);
    cbor_decref(&cose);
    nes_nsm_close(n);
}

static void test_open_errors(void **state)
{
    (void)state;
    char why[256] = "";
    assert_null(nes_nsm_open("/nonexistent/nsm", why, sizeof(why)));
    assert_non_null(strstr(why, "cannot open /nonexistent/nsm"));
    assert_null(nes_nsm_open("test:", why, sizeof(why)));
    assert_non_null(strstr(why, "needs a directory"));
    /* a CA directory with a certificate but no matching key */
    char dir[128], path[160];
    snprintf(dir, sizeof(dir), "%s/broken", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    char dev[160];
    snprintf(dev, sizeof(dev), "test:%s", dir);
    assert_null(nes_nsm_open(dev, why, sizeof(why)));
    assert_non_null(strstr(why, "not a matching P-384"));
    nes_nsm_close(NULL);

    /* the device path up to the ioctl: a file that is not the NSM refuses it */
    nes_nsm *n = nes_nsm_open("/dev/null", why, sizeof(why));
    assert_non_null(n);
    assert_false(nes_nsm_is_test(n));
    assert_string_equal(nes_nsm_name(n), "/dev/null");
    nes_buf doc = {0};
    uint8_t spki[8] = {0};
    assert_int_equal(nes_nsm_attest(n, (nes_nsm_bytes){spki, sizeof(spki)}, (nes_nsm_bytes){0},
                                    (nes_nsm_bytes){0}, &doc, why, sizeof(why)),
                     -1);
    assert_non_null(strstr(why, "NSM: ioctl failed"));
    assert_int_equal(doc.len, 0);
    nes_nsm_close(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attestation_answers),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_describe_pcr_answers),
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_test_nsm),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
