/* kms.h - the two KMS calls the service and the CLI need (JSON 1.1 protocol,
 * `X-Amz-Target: TrentService.<Op>`), over a nes_aws_client.
 *
 * Key material handling: a plaintext data key is written only into a buffer the caller owns
 * (meant to be locked memory); the response body that carried it is wiped before it is freed;
 * neither is ever logged. */
#ifndef NES_AWS_KMS_H
#define NES_AWS_KMS_H

#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "core/buf.h"

/** Largest plaintext a Decrypt answer may carry (KMS: 4096 bytes). */
#define NES_KMS_MAX_PLAINTEXT 4096

/** The Recipient of a Decrypt: the attestation document (COSE_Sign1 bytes) carrying the public
 * key that KMS encrypts to; the algorithm is always RSAES_OAEP_SHA_256. */
typedef struct nes_kms_recipient {
    const uint8_t *attestation_doc;
    size_t attestation_len;
} nes_kms_recipient;

/** What Decrypt returned. With a Recipient, KMS answers `CiphertextForRecipient` (CMS
 * EnvelopedData, in `for_recipient`) and no plaintext; without one, or from an emulator that
 * ignores the Recipient, `Plaintext` may be present: it is then copied into `plaintext`
 * (plaintext_len bytes) and `has_plaintext` is set, and the caller decides whether to accept it. */
typedef struct nes_kms_decrypted {
    nes_buf for_recipient; /**< decoded CiphertextForRecipient; len 0 when absent */
    bool has_plaintext;
    size_t plaintext_len;
    uint8_t *plaintext; /**< caller-supplied buffer of plaintext_cap bytes (NULL: refuse any) */
    size_t plaintext_cap;
    char key_id[256]; /**< KeyId of the answer (an ARN) */
} nes_kms_decrypted;

/** KMS Decrypt of `blob` (blob_len bytes, the CiphertextBlob). `key_id` may be NULL (KMS finds
 * the key from the blob). `enc_context_json` is NULL or a JSON object text (string values), sent
 * as EncryptionContext. `recipient` may be NULL. `out->plaintext`/`plaintext_cap` must be set by
 * the caller before the call (or NULL/0). 0, or -1 with `err` set (a Plaintext larger than the
 * cap is NES_AWS_ERR_LIMIT and is wiped). Free `out` with nes_kms_decrypted_free. */
int nes_kms_decrypt(nes_aws_client *c, const char *key_id, const uint8_t *blob, size_t blob_len,
                    const char *enc_context_json, const nes_kms_recipient *recipient,
                    nes_kms_decrypted *out, nes_aws_error *err);

/** Frees `out->for_recipient` and wipes the plaintext buffer it points to (not freed). */
void nes_kms_decrypted_free(nes_kms_decrypted *out);

/** KMS GenerateDataKey with KeySpec AES_256 under `key_id`: writes the 32-byte plaintext into
 * `dek` (caller's memory; wiped on failure) and appends the CiphertextBlob (decoded) to `blob`.
 * `enc_context_json` as for nes_kms_decrypt. 0, or -1 with `err` set. */
int nes_kms_generate_data_key(nes_aws_client *c, const char *key_id, const char *enc_context_json,
                              uint8_t dek[32], nes_buf *blob, nes_aws_error *err);

#endif
