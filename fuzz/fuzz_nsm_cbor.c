/* fuzz_nsm_cbor - libFuzzer target for the NSM message decoders (nsm_cbor.c) and the COSE_Sign1
 * verifier (cose.c): everything the service reads from /dev/nsm, and what the test NSM reads.
 *
 * Properties: no crash, no leak, no read past the input; inputs over NES_NSM_MAX_MSG are refused;
 * a failure always gives a reason and appends nothing; an accepted attestation answer re-encodes
 * to a message that decodes to the same document. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "nsm/cose.h"
#include "nsm/nsm_cbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;

static void free_key(void)
{
    EVP_PKEY_free(key);
    key = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (key == NULL) {
        key = EVP_EC_gen("P-384");
        if (key == NULL)
            abort();
        atexit(free_key);
    }
    char why[256];
    nes_buf doc = {0};
    why[0] = '\0';
    if (nes_nsm_decode_attestation_ans(data, size, &doc, why, sizeof(why)) == 0) {
        if (size > NES_NSM_MAX_MSG || doc.len == 0)
            abort();
        nes_buf again = {0}, doc2 = {0};
        if (nes_nsm_encode_attestation_ans(doc.data, doc.len, &again, why, sizeof(why)) == 0) {
            if (nes_nsm_decode_attestation_ans(again.data, again.len, &doc2, why, sizeof(why)) !=
                    0 ||
                doc2.len != doc.len || memcmp(doc2.data, doc.data, doc.len) != 0)
                abort();
        }
        nes_buf_free(&again);
        nes_buf_free(&doc2);
    } else if (why[0] == '\0' || doc.len != 0) {
        abort();
    }
    nes_buf_free(&doc);

    uint8_t pcr[NES_NSM_MAX_PCR];
    size_t plen = 0;
    bool locked = false;
    if (nes_nsm_decode_describe_pcr_ans(data, size, pcr, &plen, &locked, why, sizeof(why)) == 0 &&
        plen > NES_NSM_MAX_PCR)
        abort();

    nes_nsm_request req;
    if (nes_nsm_decode_request(data, size, &req, why, sizeof(why)) == 0) {
        if (req.public_key.len > NES_NSM_MAX_FIELD || req.nonce.len > NES_NSM_MAX_FIELD ||
            req.user_data.len > NES_NSM_MAX_FIELD)
            abort();
        nes_nsm_request_free(&req);
    }

    nes_buf payload = {0};
    if (nes_cose_sign1_verify_es384(key, data, size, &payload, why, sizeof(why)) == 0)
        abort(); /* nothing the fuzzer makes is signed by a fresh key */
    if (payload.len != 0)
        abort();
    return 0;
}
