/* kms.c - KMS Decrypt (with an optional Recipient) and GenerateDataKey (see kms.h). */
#include "aws/kms.h"

#include <stdio.h>
#include <string.h>

#include "aws/awsjson.h"
#include "aws/http.h"

static int call(nes_aws_client *c, const char *op, const nes_buf *body, nes_aws_resp *resp,
                nes_aws_error *err)
{
    return nes_aws_json11_call(c, NES_AWS_KMS, "TrentService", op, body, 0, resp, err);
}

static int begin(nes_buf *b, const char *key_id, const char *ctx, nes_aws_error *err)
{
    if (ctx != NULL && !nes_awsjson_is_string_map(ctx))
        return nes_aws_fail(err, NES_AWS_ERR_CONFIG, "InvalidEncryptionContext",
                            "the encryption context must be a JSON object of strings");
    if (nes_buf_append(b, "{", 1) != 0 ||
        (key_id != NULL && nes_awsjson_put_str(b, "KeyId", key_id) != 0) ||
        (ctx != NULL && nes_awsjson_put_raw(b, "EncryptionContext", ctx) != 0))
        return nes_aws_fail(err, NES_AWS_ERR_NOMEM, "NoMemory", "out of memory");
    return 0;
}

int nes_kms_decrypt(nes_aws_client *c, const char *key_id, const uint8_t *blob, size_t blob_len,
                    const char *enc_context_json, const nes_kms_recipient *recipient,
                    nes_kms_decrypted *out, nes_aws_error *err)
{
    memset(err, 0, sizeof(*err));
    out->has_plaintext = false;
    out->plaintext_len = 0;
    out->key_id[0] = '\0';
    nes_buf b = {0};
    nes_aws_resp resp = {0};
    int rc = -1;
    if (begin(&b, key_id, enc_context_json, err) != 0)
        goto out;
    if (nes_awsjson_put_b64(&b, "CiphertextBlob", blob, blob_len) != 0)
        goto nomem;
    if (recipient != NULL) {
        if (nes_buf_append(&b, ",\"Recipient\":{", 14) != 0 ||
            nes_awsjson_put_str(&b, "KeyEncryptionAlgorithm", "RSAES_OAEP_SHA_256") != 0 ||
            nes_awsjson_put_b64(&b, "AttestationDocument", recipient->attestation_doc,
                                recipient->attestation_len) != 0 ||
            nes_buf_append(&b, "}", 1) != 0)
            goto nomem;
    }
    if (nes_buf_append(&b, "}", 1) != 0)
        goto nomem;
    if (call(c, "Decrypt", &b, &resp, err) != 0)
        goto out;
    int r = nes_awsjson_b64(resp.body.data, resp.body.len, "CiphertextForRecipient",
                            &out->for_recipient);
    if (r < 0) {
        nes_aws_fail(err, NES_AWS_ERR_RESPONSE, "MalformedResponse",
                     "Decrypt answer: CiphertextForRecipient is not valid base64 in a JSON object");
        goto out;
    }
    nes_buf pt = {0};
    pt.max = NES_KMS_MAX_PLAINTEXT;
    int p = nes_awsjson_b64(resp.body.data, resp.body.len, "Plaintext", &pt);
    if (p < 0) {
        nes_buf_free(&pt);
        nes_aws_fail(err, NES_AWS_ERR_RESPONSE, "MalformedResponse",
                     "Decrypt answer: Plaintext is not valid base64 in a JSON object");
        goto out;
    }
    if (p == 1) {
        if (pt.len > out->plaintext_cap || out->plaintext == NULL) {
            nes_buf_free(&pt);
            nes_aws_fail(err, NES_AWS_ERR_LIMIT, "PlaintextTooLarge",
                         "Decrypt answer: the plaintext does not fit the caller's buffer");
            goto out;
        }
        memcpy(out->plaintext, pt.data, pt.len);
        out->plaintext_len = pt.len;
        out->has_plaintext = true;
    }
    nes_buf_free(&pt);
    if (r == 0 && p == 0) {
        nes_aws_fail(err, NES_AWS_ERR_RESPONSE, "MalformedResponse",
                     "Decrypt answer has neither CiphertextForRecipient nor Plaintext");
        goto out;
    }
    nes_buf kid = {0};
    kid.max = sizeof(out->key_id) - 1;
    if (nes_awsjson_string(resp.body.data, resp.body.len, "KeyId", &kid) == 1)
        nes_aws_sanitise((const char *)kid.data, kid.len, out->key_id, sizeof(out->key_id));
    nes_buf_free(&kid);
    rc = 0;
    goto out;
nomem:
    nes_aws_fail(err, NES_AWS_ERR_NOMEM, "NoMemory", "out of memory");
out:
    nes_buf_free(&b);
    nes_buf_free(&resp.body);
    return rc;
}

void nes_kms_decrypted_free(nes_kms_decrypted *out)
{
    nes_buf_free(&out->for_recipient);
    if (out->plaintext != NULL)
        explicit_bzero(out->plaintext, out->plaintext_cap);
    out->plaintext_len = 0;
    out->has_plaintext = false;
}

int nes_kms_generate_data_key(nes_aws_client *c, const char *key_id, const char *enc_context_json,
                              uint8_t dek[32], nes_buf *blob, nes_aws_error *err)
{
    memset(err, 0, sizeof(*err));
    nes_buf b = {0}, pt = {0};
    nes_aws_resp resp = {0};
    int rc = -1;
    pt.max = 64;
    if (key_id == NULL || *key_id == '\0') {
        nes_aws_fail(err, NES_AWS_ERR_CONFIG, "MissingKeyId", "a KMS key id is required");
        goto out;
    }
    if (begin(&b, key_id, enc_context_json, err) != 0)
        goto out;
    if (nes_awsjson_put_str(&b, "KeySpec", "AES_256") != 0 || nes_buf_append(&b, "}", 1) != 0) {
        nes_aws_fail(err, NES_AWS_ERR_NOMEM, "NoMemory", "out of memory");
        goto out;
    }
    if (call(c, "GenerateDataKey", &b, &resp, err) != 0)
        goto out;
    size_t blob_before = blob->len;
    if (nes_awsjson_b64(resp.body.data, resp.body.len, "Plaintext", &pt) != 1 || pt.len != 32 ||
        nes_awsjson_b64(resp.body.data, resp.body.len, "CiphertextBlob", blob) != 1 ||
        blob->len == blob_before) {
        blob->len = blob_before;
        nes_aws_fail(err, NES_AWS_ERR_RESPONSE, "MalformedResponse",
                     "GenerateDataKey answer lacks a 32-byte Plaintext or a CiphertextBlob");
        goto out;
    }
    memcpy(dek, pt.data, 32);
    rc = 0;
out:
    if (rc != 0)
        explicit_bzero(dek, 32);
    nes_buf_free(&pt);
    nes_buf_free(&b);
    nes_buf_free(&resp.body);
    return rc;
}
