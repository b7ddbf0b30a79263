/* fuzz_cms - libFuzzer target for cms_unwrap.c (KMS CiphertextForRecipient).
 *
 * Every input is unwrapped with a fixed RSA-2048 key (below; generated for this fuzzer only and
 * public, so the seed corpus can hold EnvelopedData blobs that really open). Properties: no
 * crash, no leak; a success yields exactly 32 bytes; a failure leaves the output untouched and
 * gives a message; inputs above NES_CMS_MAX_LEN are refused before parsing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cms_unwrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fuzzing-only key; the seeds in fuzz/corpus/cms are encrypted to it. Never used elsewhere. */
static const char fuzz_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDjeRJOoChJNY6/\n"
    "yqLSOWfttWUeYM/Epbg3g1bgSMTKTO4x52iqLBQUExTAn4bjpxhzdn0ZbZYWKRqr\n"
    "cNdugA+Rkd6j0rS82nnzyLhf0Mjz5ySpLtlRQOEau2W76xrFrML9jpSDkYx2QYc2\n"
    "Ww8KIm2MstRdOim/jUo9q4S2jEtOGWZB/lfxO1j1q0d/Q7yJfsLTO6qd4C7deQaE\n"
    "FrjdkBEBq8ZYxZVK0OTSCAxJWEzgjMZdP0jkGxWdJGqQ0D9uoupN+EhRBkmP+u6E\n"
    "oLbJniJJcLzgTlENE5sKO0TOF3m3PbaAmjuvS1hdNGq2pSZbCtT+5AYxYUA72MVV\n"
    "5EpFqerpAgMBAAECggEABrjLDVL/AcPRBTKfG1x6KVx3AZ3tgdN+VTieune4Bfze\n"
    "PJAIqB+vk7TJJBSKu0MyriXKFlRmTx8VlEucOB4VZ7Eyba+iKuL/X9B2f1FXgNqb\n"
    "mxrA7f1fcYdoXxRYWQ9M/0plcdpdFtkCnnz0HbHtAA+ARkV72pbZouckv7K3XnZE\n"
    "Kg/TAAhFL4zj/+WK/aMl0+rnSdKj1Hu5DLyfqTxgdBiBujj5OvWNX66m7mRejUFA\n"
    "WNiAyjXQJqiy6p3/uQRn3zaxOS9QXWn6t55Pe0ijYccG4sJcf5Cgt5hul0F/dfE5\n"
    "ZTMatHk256Nfw/tNZg1WUnHezSStenGFHBAaDfPgMQKBgQD5AquyVRugUXwOWQ5D\n"
    "bepuJRckC9tP7/pFjlyKOZacZqQKnNFQCAb+/vfZPUnuwbeJqevmykT7hVM3ElqH\n"
    "bOhtjw5u8fGKsXr7jLHm4AD6WBsJSOyS50lahZRytgHI3Tl+1Tp5qZRWAK+DKtMv\n"
    "MUHTPuEGKJvb+bW5rc/9+GAbmQKBgQDp26M1L4+sPUP0KIh4LNQIqb/4CoCDXuf0\n"
    "gJXLUbtEyjoSMDh8dWVoJei+GpLcefhWFZx/qp5zyWqDedgrxNastuhWVsw7xh1z\n"
    "fhnLF3vr9Op5kn2/z0n1Z8xaq3ajn8eIACxVI1oyHhbWSBS8ksLtH9by4TMohq1O\n"
    "1J2PfwRb0QKBgChhqn5tFuHU1Q1um8WLmazrDumlkpdQD4IgKBmyZR5P9uJRtBAK\n"
    "fTf1GTR9n/O8LouApuTygGVZpbkUnOHBY6AAxxJu4gDf71XD50XNpdrzVs8WqGba\n"
    "Yybu6rf/lCKC3cQXyDfarFeWHOBknYLVthsP42YgR8ZQpIvMCCLjmJJhAoGAQ1hd\n"
    "6r4UmNxXymM10a3PLeN8hfi4Q5y8HZw+Bvw1erzl9kDus2C3YEOyf7R1YIq7akb0\n"
    "94rx8JQrWUtoZkpcLAbMZ7i9PeVyq8S/ts2/gRbZw0LddbRDLynCHsZL9xjXRCIQ\n"
    "oj/5BH/HwdOmLRvyiIjnxK/3pI8ML6xo518DqVECgYAwv9fg6ZZEyjy/ws5r0U/t\n"
    "UVBFrOwbyV0rTWc5/iZpCYJJFrfpwBP0z+JgIvZJ9f2I6AFvDdaUKDFs/1KErtNx\n"
    "ZpjbCtWNdNVkH8RAIGndY5Ga2lxFsvNBufWT2mQ7FXNw5J3MVMO/aAIj52NPKF/y\n"
    "nuvFtMzLjL112fH11Mwmdw==\n"
    "-----END PRIVATE KEY-----\n";

static nes_recipient *rcp;

static void free_rcp(void)
{
    nes_recipient_free(rcp);
    rcp = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (rcp == NULL) {
        if (nes_recipient_from_pem(fuzz_key_pem, sizeof(fuzz_key_pem) - 1, &rcp, NULL) != NES_OK)
            abort();
        atexit(free_rcp);
    }
    uint8_t dek[NES_DEK_LEN];
    memset(dek, 0x5a, sizeof dek);
    nes_err err;
    nes_err_clear(&err);
    nes_status st = nes_cms_unwrap(rcp, data, size, dek, &err);
    if (st == NES_OK)
        return 0;
    if (err.msg[0] == '\0')
        abort();
    if ((size == 0 || size > NES_CMS_MAX_LEN) != (st == NES_ERR_LIMIT))
        abort();
    for (size_t i = 0; i < NES_DEK_LEN; i++)
        if (dek[i] != 0x5a)
            abort();
    return 0;
}
