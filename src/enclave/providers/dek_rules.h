/* dek_rules.h - the decisions of the DEK provider that need no network (DESIGN section 5).
 *
 * The provider (dek.h) fetches, asks KMS and publishes; these functions decide what its inputs
 * mean, so they are tested on their own:
 *
 *   nes_dek_secret_blob     a Secrets Manager value -> the KMS ciphertext blob: SecretBinary is
 *                           the blob itself, SecretString is its standard base64;
 *   nes_dek_from_answer     a KMS Decrypt answer -> the DEK: CiphertextForRecipient is unwrapped
 *                           (cms_unwrap.h); a bare Plaintext is refused unless allowed;
 *   nes_dek_ring            current + previous keys -> the ordered, de-duplicated key list;
 *   nes_dek_delay_ms        when to try again: the rotation interval with +-10% jitter after a
 *                           success, full-jitter exponential backoff after failures.
 *
 * Messages never carry key bytes or secret values. */
#ifndef NES_ENCLAVE_DEK_RULES_H
#define NES_ENCLAVE_DEK_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/cms_unwrap.h"
#include "core/fieldcrypt.h"
#include "core/keyring.h"

/** Largest KMS ciphertext blob accepted from a secret (KMS's own limit is 6144 bytes). */
#define NES_DEK_MAX_BLOB 6144

/** Appends the KMS ciphertext blob held by a secret value to `blob`: `is_string` false means
 * SecretBinary (the bytes are the blob), true means SecretString (standard base64 of the blob,
 * surrounding whitespace ignored). 0, or -1 with `why` (empty, not base64, over
 * NES_DEK_MAX_BLOB). */
int nes_dek_secret_blob(const uint8_t *value, size_t len, bool is_string, nes_buf *blob, char *why,
                        size_t why_len);

/** How a DEK was obtained. */
typedef enum nes_dek_origin {
    NES_DEK_ATTESTED = 1, /**< CiphertextForRecipient, unwrapped with the ephemeral key */
    NES_DEK_PLAINTEXT,    /**< a Plaintext answer, accepted because ALLOW_PLAINTEXT_DEK=1 */
} nes_dek_origin;

/** Turns a KMS Decrypt answer into a DEK. `cfr` (CiphertextForRecipient, may be NULL) wins and
 * is unwrapped with `r`; otherwise `plaintext` (may be NULL) is used only when `allow_plaintext`,
 * and must be exactly NES_DEK_LEN bytes. Writes `dek` and *origin on success. 0, or -1 with `why`
 * ("KMS answered Plaintext, refused: ...", "CMS: ..."). */
int nes_dek_from_answer(const nes_recipient *r, const uint8_t *cfr, size_t cfr_len,
                        const uint8_t *plaintext, size_t pt_len, bool allow_plaintext,
                        uint8_t dek[NES_DEK_LEN], nes_dek_origin *origin, char *why,
                        size_t why_len);

/** Builds the key list for a new keyring into `out` (room for 1 + keep keys): `current` first,
 * then `previous` (AWSPREVIOUS, may be NULL), then the keys of `old` (the keyring in use, may be
 * NULL) in their order, skipping duplicates, at most `keep` keys after the current one. Returns
 * the number of keys (>= 1). */
size_t nes_dek_ring(const uint8_t current[NES_DEK_LEN], const uint8_t *previous,
                    const nes_keyring *old, unsigned keep, uint8_t (*out)[NES_DEK_LEN]);

/** Milliseconds until the next fetch. `failures` = 0: the last fetch succeeded, so the rotation
 * interval `interval_secs` scaled by a factor in [0.9, 1.1) from `rnd`. `failures` >= 1: full
 * jitter over min(max_backoff_secs * 1000, 500 * 2^(failures-1)) ms, at least 100 ms, and never
 * more than the rotation interval. `rnd` is a uniform 32-bit random value. */
uint64_t nes_dek_delay_ms(unsigned failures, unsigned interval_secs, unsigned max_backoff_secs,
                          uint32_t rnd);

#endif
