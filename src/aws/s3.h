/* s3.h - the S3 calls for spec storage (REST; path-style when an endpoint is configured,
 * virtual-hosted otherwise), over a nes_aws_client.
 *
 * ListObjectsV2 follows continuation tokens through every page and parses each page with
 * s3xml.h (libxml2, no entities, no DTD, no network, bounded). GetObject is bounded: an object
 * whose Content-Length is over the cap is refused before its body is read, and a body that grows
 * past the cap (no or a lying Content-Length) stops the transfer there; it also supports
 * If-None-Match (304: not modified). PutObject uploads from memory. */
#ifndef NES_AWS_S3_H
#define NES_AWS_S3_H

#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "core/buf.h"

/** Longest object key (S3: 1024 bytes of UTF-8). */
#define NES_S3_MAX_KEY 1024
/** Longest ETag kept (quotes included). */
#define NES_S3_MAX_ETAG 128

/** One listed object. */
typedef struct nes_s3_object {
    char *key; /**< malloc'd, NUL-terminated */
    char etag[NES_S3_MAX_ETAG];
    uint64_t size;
} nes_s3_object;

/** A listing (objects in the order S3 returned them: by key). */
typedef struct nes_s3_list {
    nes_s3_object *objects;
    size_t n, cap;
} nes_s3_list;

/** Frees the keys and the array; the list is empty afterwards. */
void nes_s3_list_free(nes_s3_list *l);

/** ListObjectsV2 of `bucket` under `prefix` (NULL or "": all), every page, at most `max_objects`
 * objects in all (more: NES_AWS_ERR_LIMIT). Appends to `out`. 0, or -1 with `err` set. */
int nes_s3_list_objects(nes_aws_client *c, const char *bucket, const char *prefix,
                        size_t max_objects, nes_s3_list *out, nes_aws_error *err);

/** Result of nes_s3_get_object. */
typedef enum nes_s3_get_result {
    NES_S3_GET_FAILED = -1, /**< `err` set */
    NES_S3_GET_OK = 0,      /**< body and etag filled */
    NES_S3_GET_NOT_MODIFIED = 1,
} nes_s3_get_result;

/** GetObject `bucket`/`key`. `if_none_match` (NULL: none) is an ETag as listed or returned
 * before. At most `max_bytes` of body: larger objects fail with NES_AWS_ERR_LIMIT without being
 * read whole. The body is appended to `body`; `etag` (NES_S3_MAX_ETAG bytes, may be NULL)
 * receives the object's ETag. */
nes_s3_get_result nes_s3_get_object(nes_aws_client *c, const char *bucket, const char *key,
                                    const char *if_none_match, size_t max_bytes, nes_buf *body,
                                    char *etag, nes_aws_error *err);

/** PutObject `bucket`/`key` with `data` (n bytes) and `content_type` (NULL: none). 0, or -1
 * with `err` set. */
int nes_s3_put_object(nes_aws_client *c, const char *bucket, const char *key, const void *data,
                      size_t n, const char *content_type, nes_aws_error *err);

#endif
