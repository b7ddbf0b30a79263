/* secrets.h - the Secrets Manager calls for the DEK secret (JSON 1.1 protocol,
 * `X-Amz-Target: secretsmanager.<Op>`), over a nes_aws_client.
 *
 * The secret holds the KMS CiphertextBlob of the DEK: as SecretBinary (raw bytes), or as
 * SecretString (standard base64 text). Values read are wiped when freed. Version stages move as in
 * AWS: PutSecretValue makes the new version AWSCURRENT and the previous current one AWSPREVIOUS. */
#ifndef NES_AWS_SECRETS_H
#define NES_AWS_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "core/buf.h"

/** Largest secret value accepted (Secrets Manager: 64 KiB). */
#define NES_SECRET_MAX_BYTES 65536

/** One version of a secret. */
typedef struct nes_secret_value {
    bool is_binary; /**< SecretBinary (decoded into `value`) rather than SecretString */
    nes_buf value;  /**< the bytes of SecretBinary, or the text of SecretString */
    char version_id[96];
    char arn[512];
} nes_secret_value;

/** GetSecretValue of `secret_id` (name or ARN) at `stage` (NULL: AWSCURRENT). 0, or -1 with
 * `err` set (NES_AWS_ERR_NOTFOUND for ResourceNotFoundException, e.g. no AWSPREVIOUS version
 * yet). Free `out` with nes_secret_value_free. */
int nes_sm_get_secret_value(nes_aws_client *c, const char *secret_id, const char *stage,
                            nes_secret_value *out, nes_aws_error *err);

/** Wipes and frees the value. */
void nes_secret_value_free(nes_secret_value *v);

/** CreateSecret `name` with SecretBinary `data` (n bytes); the new version is AWSCURRENT. Writes
 * the secret's ARN into `arn` (arn_len bytes) when not NULL. 0, or -1 with `err` set (an existing
 * secret is NES_AWS_ERR_SERVICE with code ResourceExistsException). */
int nes_sm_create_secret(nes_aws_client *c, const char *name, const uint8_t *data, size_t n,
                         char *arn, size_t arn_len, nes_aws_error *err);

/** PutSecretValue: a new version of `secret_id` with SecretBinary `data`; it becomes AWSCURRENT
 * and the previous current version AWSPREVIOUS. Writes the new VersionId into `version_id`
 * (version_len bytes) when not NULL. 0, or -1 with `err` set. */
int nes_sm_put_secret_value(nes_aws_client *c, const char *secret_id, const uint8_t *data, size_t n,
                            char *version_id, size_t version_len, nes_aws_error *err);

#endif
