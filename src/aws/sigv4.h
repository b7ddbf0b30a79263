/* sigv4.h - AWS Signature Version 4 for one request: a pure function (no I/O, no clock, no
 * globals), HMAC-SHA256 and SHA-256 from OpenSSL.
 *
 * The caller describes the request with raw (not yet encoded) path and query parameters; the
 * signer produces the encoded path and query that must go on the wire, the `X-Amz-Date` value
 * and the `Authorization` header. Rules (AWS "Create a canonical request"):
 * - Path: every byte but A-Z a-z 0-9 - _ . ~ and '/' is %XX-encoded (upper-case hex). S3 signs
 *   that wire path as is; every other service encodes it a second time and removes "." and ".."
 *   segments and repeated slashes first (S3 does not normalise: "a//b" is a key).
 * - Query: names and values encoded the same way ('/' too), sorted by name then value, joined
 *   with '&'; a parameter without a value is `name=`.
 * - Headers: `host` and `x-amz-date` always, `x-amz-security-token` with a session token,
 *   `x-amz-content-sha256` for S3, plus the caller's; names lower-cased, values trimmed with
 *   inner runs of spaces folded to one; sorted by name (byte order; equal names are joined with
 *   ','). The caller sends exactly these headers.
 * - Payload: the hex SHA-256 of the body (nes_sigv4_sha256_hex), or "UNSIGNED-PAYLOAD" for S3. */
#ifndef NES_AWS_SIGV4_H
#define NES_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/** Most headers the caller may add to a request. */
#define NES_SIGV4_MAX_HEADERS 16

/** A name and value (query parameter or header), NUL-terminated, raw (not encoded). */
typedef struct nes_sigv4_pair {
    const char *name;
    const char *value; /**< NULL: a query parameter without a value */
} nes_sigv4_pair;

/** One request to sign. */
typedef struct nes_sigv4_request {
    const char *method;  /**< "GET", "POST", ... */
    const char *service; /**< signing name: "kms", "secretsmanager", "s3" */
    const char *region;
    const char *host; /**< the Host header: host, or host:port when the port is not default */
    const char *path; /**< raw path starting with '/' (S3 keys as they are: spaces, UTF-8, ...) */
    const nes_sigv4_pair *query;
    size_t nquery;
    const nes_sigv4_pair *headers; /**< extra signed headers (e.g. content-type, x-amz-target) */
    size_t nheaders;
    const char *payload_hash; /**< 64 hex digits, or "UNSIGNED-PAYLOAD" */
    time_t now;               /**< signing time (UTC seconds, already corrected for skew) */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /**< NULL or "": none */
} nes_sigv4_request;

/** What to send. */
typedef struct nes_sigv4_result {
    char amz_date[17];       /**< X-Amz-Date: YYYYMMDDTHHMMSSZ */
    char authorization[768]; /**< the Authorization header value */
    nes_buf wire_path;       /**< encoded path (NUL-terminated) */
    nes_buf wire_query;      /**< canonical query string, "" when none (NUL-terminated) */
    nes_buf canonical;       /**< the canonical request (for tests and debugging) */
    nes_buf string_to_sign;
} nes_sigv4_result;

/** Signs `r` into `out` (zero-initialise it; free with nes_sigv4_result_free). 0, or -1 when
 * an argument is missing or malformed (a header name with characters outside a token, a control
 * character in a value, more than NES_SIGV4_MAX_HEADERS headers) or memory runs out. */
int nes_sigv4_sign(const nes_sigv4_request *r, nes_sigv4_result *out);

/** Frees the buffers of `out` (wiping them). */
void nes_sigv4_result_free(nes_sigv4_result *out);

/** Writes the lower-case hex SHA-256 of `p` (n bytes) into `hex` (65 bytes with the NUL). */
void nes_sigv4_sha256_hex(const void *p, size_t n, char hex[65]);

/** Appends the SigV4 encoding of `s` (n bytes) to `out`: unreserved bytes as they are, '/' kept
 * when `keep_slash`, everything else %XX. 0, or -1 when memory runs out. */
int nes_sigv4_uri_encode(const char *s, size_t n, bool keep_slash, nes_buf *out);

/** Formats `t` as the X-Amz-Date value (YYYYMMDDTHHMMSSZ). */
void nes_sigv4_amz_date(time_t t, char out[17]);

#endif
