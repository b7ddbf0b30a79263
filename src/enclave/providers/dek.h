/* dek.h - the enclave-mode key provider: the DEK from Secrets Manager, unwrapped by KMS with a
 * Nitro attestation (DESIGN section 5), published into the state (state.h) like local.c's keys.
 *
 * One fetch, on the provider's own thread:
 *   1. GetSecretValue(SECRET_ARN, AWSCURRENT), and AWSPREVIOUS when DEK_KEEP_PREVIOUS >= 1 and
 *      AWSCURRENT changed since the last good fetch (PutSecretValue moves both stages at once; a
 *      secret without a previous version is fine); each value is the KMS ciphertext blob
 *      (SecretBinary, or base64 SecretString: dek_rules.h).
 *   2. For each blob that is new since the last good fetch: a fresh RSA-2048 key pair
 *      (cms_unwrap.h), an attestation document carrying its public key from the NSM (nsm.h),
 *      KMS Decrypt(blob, KeyId = KMS_KEY_ID, EncryptionContext = DEK_ENCRYPTION_CONTEXT,
 *      Recipient = {document, RSAES_OAEP_SHA_256}), CiphertextForRecipient unwrapped into locked
 *      memory, the key pair freed. A Plaintext answer is refused unless ALLOW_PLAINTEXT_DEK=1.
 *   3. A keyring of the current key, AWSPREVIOUS, then the keys it held before (at most
 *      DEK_KEEP_PREVIOUS after the current), published atomically; readers never wait.
 * Then it sleeps DEK_ROTATION_INTERVAL_SECS (+-10%) and fetches again. A failed fetch keeps the
 * last good keyring, is logged (AWS error code and message, never a value) and counted, and is
 * retried with full-jitter backoff capped at DEK_RETRY_MAX_SECS. Request threads never call AWS.
 *
 * The test NSM (NSM_DEVICE=test:DIR) and ALLOW_PLAINTEXT_DEK=1 each log a loud warning at start
 * and are reported by nes_dek_warning (shown on /readyz) and in /metrics. One provider per
 * process: the functions below act on it. */
#ifndef NES_ENCLAVE_DEK_H
#define NES_ENCLAVE_DEK_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/aws.h"
#include "enclave/metrics.h"

/** What the provider needs; strings are copied by nes_dek_start. */
typedef struct nes_dek_settings {
    const char *secret_id;     /**< SECRET_ARN (name or ARN) */
    const char *kms_key_id;    /**< KMS_KEY_ID */
    const char *context_json;  /**< DEK_ENCRYPTION_CONTEXT, NULL: none */
    const char *nsm_device;    /**< NSM_DEVICE */
    unsigned keep_previous;    /**< DEK_KEEP_PREVIOUS */
    unsigned rotation_secs;    /**< DEK_ROTATION_INTERVAL_SECS */
    unsigned retry_max_secs;   /**< DEK_RETRY_MAX_SECS */
    bool allow_plaintext;      /**< ALLOW_PLAINTEXT_DEK */
    const nes_aws_config *aws; /**< copied into the provider's own client */
    nes_aws_credsrc *creds;    /**< shared; must outlive nes_dek_stop */
} nes_dek_settings;

/** Opens the NSM, logs the warnings, and starts the provider thread, whose first fetch begins at
 * once. 0, or -1 with `why` (NSM cannot be opened, thread or client cannot start). */
int nes_dek_start(const nes_dek_settings *s, char *why, size_t why_len);

/** Asks the provider to fetch now (SIGHUP) instead of at its next scheduled time. */
void nes_dek_refresh_soon(void);

/** Waits up to `timeout_ms` for the first published keyring. true when there is one. */
bool nes_dek_wait_first(long timeout_ms);

/** Stops the thread (interrupting a backoff wait; an AWS call in flight ends at its timeout),
 * closes the NSM and wipes the provider's copy of the keys. Safe when not started. */
void nes_dek_stop(void);

/** Fills the provider's fields of `g` (dek_provider = 1 once started). */
void nes_dek_fill_gauges(nes_metrics_gauges *g);

/** PCR0 (the enclave image's measurement) in lower-case hex as the NSM reported it at start, or
 * NULL before nes_dek_start or when it could not be read. A static string. */
const char *nes_dek_pcr0(void);

/** A warning for /readyz when the keys are not protected as in production (test NSM, or a
 * Plaintext DEK accepted), else NULL. A static string. */
const char *nes_dek_warning(void);

#endif
