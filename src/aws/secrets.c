/* secrets.c - Secrets Manager GetSecretValue, CreateSecret, PutSecretValue (see secrets.h). */
#include "aws/secrets.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "aws/awsjson.h"
#include "aws/http.h"

static int call(nes_aws_client *c, const char *op, const nes_buf *body, nes_aws_resp *resp,
                nes_aws_error *err)
{
    return nes_aws_json11_call(c, NES_AWS_SECRETS, "secretsmanager", op, body,
                               (size_t)4 * NES_SECRET_MAX_BYTES, resp, err);
}

static void copy_member(const nes_aws_resp *resp, const char *name, char *out, size_t out_len)
{
    nes_buf v = {0};
    v.max = out_len - 1;
    if (out != NULL && out_len > 0) {
        out[0] = '\0';
        if (nes_awsjson_string(resp->body.data, resp->body.len, name, &v) == 1)
            nes_aws_sanitise((const char *)v.data, v.len, out, out_len);
    }
    nes_buf_free(&v);
}

/* A fresh UUID v4 for ClientRequestToken (idempotency of retried writes). */
static void uuid4(char out[37])
{
    uint8_t r[16] = {0};
    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0x5a, sizeof(r));
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

int nes_sm_get_secret_value(nes_aws_client *c, const char *secret_id, const char *stage,
                            nes_secret_value *out, nes_aws_error *err)
{
    memset(err, 0, sizeof(*err));
    nes_buf b = {0};
    nes_aws_resp resp = {0};
    int rc = -1;
    out->value.max = NES_SECRET_MAX_BYTES;
    if (nes_buf_append(&b, "{", 1) != 0 || nes_awsjson_put_str(&b, "SecretId", secret_id) != 0 ||
        nes_awsjson_put_str(&b, "VersionStage", stage ? stage : "AWSCURRENT") != 0 ||
        nes_buf_append(&b, "}", 1) != 0) {
        nes_aws_fail(err, NES_AWS_ERR_NOMEM, "NoMemory", "out of memory");
        goto out;
    }
    if (call(c, "GetSecretValue", &b, &resp, err) != 0)
        goto out;
    out->value.len = 0;
    int r = nes_awsjson_b64(resp.body.data, resp.body.len, "SecretBinary", &out->value);
    out->is_binary = r == 1;
    if (r == 0)
        r = nes_awsjson_string(resp.body.data, resp.body.len, "SecretString", &out->value);
    if (r != 1) {
        nes_buf_free(&out->value);
        nes_aws_fail(err, NES_AWS_ERR_RESPONSE, "MalformedResponse",
                     "GetSecretValue answer has no usable SecretBinary or SecretString");
        goto out;
    }
    copy_member(&resp, "VersionId", out->version_id, sizeof(out->version_id));
    copy_member(&resp, "ARN", out->arn, sizeof(out->arn));
    rc = 0;
out:
    nes_buf_free(&b);
    nes_buf_free(&resp.body);
    return rc;
}

void nes_secret_value_free(nes_secret_value *v)
{
    nes_buf_free(&v->value);
    memset(v, 0, sizeof(*v));
}

static int write_secret(nes_aws_client *c, const char *op, const char *id_name, const char *id,
                        const uint8_t *data, size_t n, const char *out_name, char *out,
                        size_t out_len, nes_aws_error *err)
{
    memset(err, 0, sizeof(*err));
    nes_buf b = {0};
    nes_aws_resp resp = {0};
    char token[37];
    uuid4(token);
    int rc = -1;
    if (nes_buf_append(&b, "{", 1) != 0 || nes_awsjson_put_str(&b, id_name, id) != 0 ||
        nes_awsjson_put_str(&b, "ClientRequestToken", token) != 0 ||
        nes_awsjson_put_b64(&b, "SecretBinary", data, n) != 0 || nes_buf_append(&b, "}", 1) != 0) {
        nes_aws_fail(err, NES_AWS_ERR_NOMEM, "NoMemory", "out of memory");
        goto out;
    }
    if (call(c, op, &b, &resp, err) != 0)
        goto out;
    copy_member(&resp, out_name, out, out_len);
    rc = 0;
out:
    nes_buf_free(&b);
    nes_buf_free(&resp.body);
    return rc;
}

int nes_sm_create_secret(nes_aws_client *c, const char *name, const uint8_t *data, size_t n,
                         char *arn, size_t arn_len, nes_aws_error *err)
{
    return write_secret(c, "CreateSecret", "Name", name, data, n, "ARN", arn, arn_len, err);
}

int nes_sm_put_secret_value(nes_aws_client *c, const char *secret_id, const uint8_t *data, size_t n,
                            char *version_id, size_t version_len, nes_aws_error *err)
{
    return write_secret(c, "PutSecretValue", "SecretId", secret_id, data, n, "VersionId",
                        version_id, version_len, err);
}
