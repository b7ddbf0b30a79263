/* dek_rules.c - what the DEK provider's inputs mean (see dek_rules.h). */
#include "enclave/providers/dek_rules.h"

#include <string.h>

#include "core/b64url.h"

int nes_dek_secret_blob(const uint8_t *value, size_t len, bool is_string, nes_buf *blob, char *why,
                        size_t why_len)
{
    if (is_string) {
        while (len > 0 &&
               (value[0] == ' ' || value[0] == '\n' || value[0] == '\r' || value[0] == '\t')) {
            value++;
            len--;
        }
        while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\n' ||
                           value[len - 1] == '\r' || value[len - 1] == '\t'))
            len--;
    }
    size_t max = is_string ? (NES_DEK_MAX_BLOB + 2) / 3 * 4 : NES_DEK_MAX_BLOB;
    if (len == 0 || len > max) {
        nes_msgf(why, why_len, "secret: %s is %zu bytes (1 to %zu expected)",
                 is_string ? "SecretString" : "SecretBinary", len, max);
        return -1;
    }
    if (!is_string) {
        if (nes_buf_append(blob, value, len) != 0) {
            nes_msgf(why, why_len, "secret: out of memory");
            return -1;
        }
        return 0;
    }
    if (nes_buf_reserve(blob, len / 4 * 3 + 3) != 0) {
        nes_msgf(why, why_len, "secret: out of memory");
        return -1;
    }
    long n = nes_b64_decode((const char *)value, len, blob->data + blob->len);
    if (n <= 0) {
        nes_msgf(why, why_len,
                 "secret: SecretString is not canonical standard base64 of the KMS "
                 "ciphertext blob");
        return -1;
    }
    blob->len += (size_t)n;
    return 0;
}

int nes_dek_from_answer(const nes_recipient *r, const uint8_t *cfr, size_t cfr_len,
                        const uint8_t *plaintext, size_t pt_len, bool allow_plaintext,
                        uint8_t dek[NES_DEK_LEN], nes_dek_origin *origin, char *why, size_t why_len)
{
    if (cfr != NULL) {
        nes_err err;
        nes_err_clear(&err);
        if (nes_cms_unwrap(r, cfr, cfr_len, dek, &err) != NES_OK) {
            nes_msgf(why, why_len, "KMS CiphertextForRecipient: %s", err.msg);
            return -1;
        }
        *origin = NES_DEK_ATTESTED;
        return 0;
    }
    if (plaintext == NULL) {
        nes_msgf(why, why_len, "KMS answered neither CiphertextForRecipient nor Plaintext");
        return -1;
    }
    if (!allow_plaintext) {
        nes_msgf(why, why_len,
                 "KMS answered Plaintext, refused: an attested Decrypt must return "
                 "CiphertextForRecipient (ALLOW_PLAINTEXT_DEK=1 accepts it, for emulators only)");
        return -1;
    }
    if (pt_len != NES_DEK_LEN) {
        nes_msgf(why, why_len, "KMS Plaintext is %zu bytes, a DEK is exactly %d", pt_len,
                 NES_DEK_LEN);
        return -1;
    }
    memcpy(dek, plaintext, NES_DEK_LEN);
    *origin = NES_DEK_PLAINTEXT;
    return 0;
}

static bool have(uint8_t (*out)[NES_DEK_LEN], size_t n, const uint8_t *k)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(out[i], k, NES_DEK_LEN) == 0)
            return true;
    return false;
}

size_t nes_dek_ring(const uint8_t current[NES_DEK_LEN], const uint8_t *previous,
                    const nes_keyring *old, unsigned keep, uint8_t (*out)[NES_DEK_LEN])
{
    size_t n = 0;
    memcpy(out[n++], current, NES_DEK_LEN);
    if (previous != NULL && n < 1 + (size_t)keep && !have(out, n, previous))
        memcpy(out[n++], previous, NES_DEK_LEN);
    size_t olds = old ? nes_keyring_size(old) : 0;
    for (size_t i = 0; i < olds && n < 1 + (size_t)keep; i++) {
        const uint8_t *k = nes_keyring_key(old, i);
        if (!have(out, n, k))
            memcpy(out[n++], k, NES_DEK_LEN);
    }
    return n;
}

uint64_t nes_dek_delay_ms(unsigned failures, unsigned interval_secs, unsigned max_backoff_secs,
                          uint32_t rnd)
{
    uint64_t interval = (uint64_t)interval_secs * 1000u;
    if (failures == 0) /* interval * [0.9, 1.1) */
        return interval * 9 / 10 + (interval / 5) * rnd / ((uint64_t)UINT32_MAX + 1);
    uint64_t cap = (uint64_t)max_backoff_secs * 1000u;
    uint64_t exp = failures > 20 ? cap : (uint64_t)500 << (failures - 1);
    if (exp > cap)
        exp = cap;
    if (exp > interval)
        exp = interval;
    uint64_t d = exp * rnd / ((uint64_t)UINT32_MAX + 1);
    return d < 100 ? 100 : d;
}
