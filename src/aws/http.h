/* http.h - the transport under the KMS, Secrets Manager and S3 calls (internal to src/aws):
 * one signed request, sent with libcurl, retried, skew-corrected and bounded as aws.h
 * describes. */
#ifndef NES_AWS_HTTP_H
#define NES_AWS_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "aws/aws.h"
#include "aws/sigv4.h"
#include "core/buf.h"

/** One request. Strings are raw (the signer encodes path and query). */
typedef struct nes_aws_req {
    nes_aws_service svc;
    const char *operation; /**< for logs: "Decrypt", "GetObject", ... */
    const char *method;    /**< "GET", "POST", "PUT" */
    const char
        *host_prefix; /**< prepended to the endpoint host (S3 virtual-hosted "bkt."), or NULL */
    const char *path; /**< raw path beginning with '/' */
    const nes_sigv4_pair *query;
    size_t nquery;
    const nes_sigv4_pair *headers; /**< extra headers, signed and sent */
    size_t nheaders;
    const void *body;
    size_t body_len;
    size_t max_body; /**< response cap (0: the configuration's max_response_bytes) */
    bool allow_304;  /**< a 304 answer is a success */
} nes_aws_req;

/** One answer. */
typedef struct nes_aws_resp {
    long status;
    nes_buf body;
    char etag[128];
    long long content_length; /**< -1 when not given */
} nes_aws_resp;

/** Sends `req`: 0 for a 2xx answer (or 304 when allowed), else -1 with `err` set and one log
 * event. Free `resp->body` with nes_buf_free either way. */
int nes_aws_send(nes_aws_client *c, const nes_aws_req *req, nes_aws_resp *resp, nes_aws_error *err);

/** A JSON 1.1 protocol call (KMS, Secrets Manager): `POST /` of `body` with `Content-Type:
 * application/x-amz-json-1.1` and `X-Amz-Target: <target_prefix>.<op>`, through nes_aws_send.
 * `max_body`: the answer's bound (0: the client's default). */
int nes_aws_json11_call(nes_aws_client *c, nes_aws_service svc, const char *target_prefix,
                        const char *op, const nes_buf *body, size_t max_body, nes_aws_resp *resp,
                        nes_aws_error *err);

/** Applies the configuration's egress, TLS and timeout settings to a libcurl handle (also used
 * by the IMDS client). */
void nes_aws_curl_egress(CURL *h, nes_aws_config *cfg);

/** The configuration a client was made with. */
const nes_aws_config *nes_aws_client_config(const nes_aws_client *c);

/** Emits a log event through the configuration's callback (if any). */
void nes_aws_log(const nes_aws_config *cfg, nes_aws_loglevel level, const char *msg,
                 const char *service, const char *operation, const nes_aws_error *err, int attempt,
                 long long skew);

/** Reads an AWS error body (JSON `__type`/`code` + `message`/`Message`, or S3 XML `<Error>`)
 * into err->code and err->message (sanitised, bounded). Non-JSON, non-XML bodies leave a generic
 * code ("HTTP<status>") and message. */
void nes_aws_parse_error(const uint8_t *body, size_t len, long status, nes_aws_error *err);

/** True when `bucket` can be addressed virtual-hosted over TLS (DNS-compatible, no dots). */
bool nes_aws_bucket_dns_ok(const char *bucket);

/** Copies `in` to `out` (out_len bytes), printable ASCII only (others become '?'), cut. */
void nes_aws_sanitise(const char *in, size_t n, char *out, size_t out_len);

#endif
