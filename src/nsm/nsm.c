/* nsm.c - NSM_DEVICE dispatch and the two calls the service makes (see nsm.h). */
#include "nsm/nsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct nes_nsm {
    void *impl;
    nes_nsm_transact_fn transact;
    bool test;
    char name[300];
};

nes_nsm *nes_nsm_open(const char *device, char *why, size_t why_len)
{
    nes_nsm *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        nes_msgf(why, why_len, "NSM: out of memory");
        return NULL;
    }
    size_t plen = strlen(NES_NSM_TEST_PREFIX);
    if (strncmp(device, NES_NSM_TEST_PREFIX, plen) == 0) {
        n->test = true;
        n->transact = nes_nsm_test_transact;
        n->impl = nes_nsm_test_open(device + plen, why, why_len);
        snprintf(n->name, sizeof(n->name), "test NSM (CA in %.200s)", device + plen);
    } else {
        n->transact = nes_nsm_dev_transact;
        n->impl = nes_nsm_dev_open(device, why, why_len);
        snprintf(n->name, sizeof(n->name), "%.200s", device);
    }
    if (n->impl == NULL) {
        free(n);
        return NULL;
    }
    return n;
}

bool nes_nsm_is_test(const nes_nsm *n)
{
    return n->test;
}

const char *nes_nsm_name(const nes_nsm *n)
{
    return n->name;
}

int nes_nsm_attest(nes_nsm *n, nes_nsm_bytes public_key, nes_nsm_bytes user_data,
                   nes_nsm_bytes nonce, nes_buf *doc, char *why, size_t why_len)
{
    nes_buf req = {0}, ans = {.max = NES_NSM_MAX_MSG};
    int rc = -1;
    if (nes_nsm_encode_attestation_req(public_key, user_data, nonce, &req, why, why_len) == 0 &&
        n->transact(n->impl, req.data, req.len, &ans, why, why_len) == 0)
        rc = nes_nsm_decode_attestation_ans(ans.data, ans.len, doc, why, why_len);
    nes_buf_free(&req);
    nes_buf_free(&ans);
    return rc;
}

int nes_nsm_describe_pcr(nes_nsm *n, unsigned index, uint8_t *pcr, size_t *len, bool *locked,
                         char *why, size_t why_len)
{
    nes_buf req = {0}, ans = {.max = NES_NSM_MAX_MSG};
    int rc = -1;
    if (nes_nsm_encode_describe_pcr_req(index, &req, why, why_len) == 0 &&
        n->transact(n->impl, req.data, req.len, &ans, why, why_len) == 0)
        rc = nes_nsm_decode_describe_pcr_ans(ans.data, ans.len, pcr, len, locked, why, why_len);
    nes_buf_free(&req);
    nes_buf_free(&ans);
    return rc;
}

void nes_nsm_close(nes_nsm *n)
{
    if (n == NULL)
        return;
    if (n->test)
        nes_nsm_test_close(n->impl);
    else
        nes_nsm_dev_close(n->impl);
    free(n);
}
