/* s3.c - ListObjectsV2 (every page), bounded GetObject, PutObject (see s3.h). */
#include "aws/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/http.h"
#include "aws/s3xml.h"

/* A listing page is at most this large (S3 sends at most 1,000 keys of at most 1 KiB). */
#define LIST_PAGE_MAX (16u << 20)
#define MAX_PAGES 100000

void nes_s3_list_free(nes_s3_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->objects[i].key);
    free(l->objects);
    memset(l, 0, sizeof(*l));
}

/* Path-style "/bucket/key" when an endpoint is configured (or the bucket is not DNS-safe);
 * else virtual-hosted: host_prefix "bucket." and "/key". The path is malloc'd. */
static char *address(nes_aws_client *c, const char *bucket, const char *key, char *host_prefix,
                     size_t hp_len)
{
    bool path_style =
        nes_aws_client_config(c)->endpoint_given[NES_AWS_S3] || !nes_aws_bucket_dns_ok(bucket);
    size_t n = strlen(bucket) + strlen(key) + 3;
    char *p = malloc(n);
    if (p == NULL)
        return NULL;
    host_prefix[0] = '\0';
    if (path_style) {
        snprintf(p, n, "/%s%s%s", bucket, *key ? "/" : "", key);
    } else {
        snprintf(host_prefix, hp_len, "%s.", bucket);
        snprintf(p, n, "/%s", key);
    }
    return p;
}

int nes_s3_list_objects(nes_aws_client *c, const char *bucket, const char *prefix,
                        size_t max_objects, nes_s3_list *out, nes_aws_error *err)
{
    memset(err, 0, sizeof(*err));
    char hp[80];
    char *path = address(c, bucket, "", hp, sizeof(hp));
    if (path == NULL)
        return nes_aws_fail(err, NES_AWS_ERR_NOMEM, "NoMemory", "out of memory");
    char *token = NULL;
    int rc = -1;
    for (int page_no = 0; page_no < MAX_PAGES; page_no++) {
        nes_sigv4_pair q[3] = {{"list-type", "2"}};
        size_t nq = 1;
        if (prefix != NULL && *prefix != '\0')
            q[nq++] = (nes_sigv4_pair){"prefix", prefix};
        if (token != NULL)
            q[nq++] = (nes_sigv4_pair){"continuation-token", token};
        nes_aws_req req = {
            .svc = NES_AWS_S3,
            .operation = "ListObjectsV2",
            .method = "GET",
            .host_prefix = hp[0] ? hp : NULL,
            .path = path,
            .query = q,
            .nquery = nq,
            .max_body = LIST_PAGE_MAX,
        };
        nes_aws_resp resp = {0};
        if (nes_aws_send(c, &req, &resp, err) != 0) {
            nes_buf_free(&resp.body);
            break;
        }
        nes_s3xml_page page;
        char why[128];
        int pr = nes_s3xml_parse_list((const char *)resp.body.data, resp.body.len, max_objects, out,
                                      &page, why, sizeof(why));
        nes_buf_free(&resp.body);
        if (pr != 0) {
            nes_aws_fail(err, strstr(why, "too many") ? NES_AWS_ERR_LIMIT : NES_AWS_ERR_RESPONSE,
                         "MalformedListing", "ListObjectsV2 answer refused: %s", why);
            break;
        }
        if (!page.truncated) {
            free(page.continuation_token);
            rc = 0;
            break;
        }
        if (token != NULL && strcmp(token, page.continuation_token) == 0) {
            free(page.continuation_token);
            nes_aws_fail(err, NES_AWS_ERR_RESPONSE, "MalformedListing",
                         "ListObjectsV2 repeated its continuation token");
            break;
        }
        free(token);
        token = page.continuation_token;
    }
    free(token);
    free(path);
    if (rc != 0 && err->kind == NES_AWS_OK)
        nes_aws_fail(err, NES_AWS_ERR_LIMIT, "TooManyPages", "ListObjectsV2: too many pages");
    return rc;
}

nes_s3_get_result nes_s3_get_object(nes_aws_client *c, const char *bucket, const char *key,
                                    const char *if_none_match, size_t max_bytes, nes_buf *body,
                                    char *etag, nes_aws_error *err)
{
    memset(err, 0, sizeof(*err));
    char hp[80];
    char *path = address(c, bucket, key, hp, sizeof(hp));
    if (path == NULL) {
        nes_aws_fail(err, NES_AWS_ERR_NOMEM, "NoMemory", "out of memory");
        return NES_S3_GET_FAILED;
    }
    nes_sigv4_pair h[1] = {{"If-None-Match", if_none_match}};
    nes_aws_req req = {
        .svc = NES_AWS_S3,
        .operation = "GetObject",
        .method = "GET",
        .host_prefix = hp[0] ? hp : NULL,
        .path = path,
        .headers = h,
        .nheaders = (if_none_match != NULL && *if_none_match) ? 1 : 0,
        .max_body = max_bytes,
        .allow_304 = true,
    };
    nes_aws_resp resp = {0};
    nes_s3_get_result r = NES_S3_GET_FAILED;
    if (nes_aws_send(c, &req, &resp, err) == 0) {
        if (resp.status == 304) {
            r = NES_S3_GET_NOT_MODIFIED;
        } else if (resp.body.len > 0 && nes_buf_append(body, resp.body.data, resp.body.len) != 0) {
            nes_aws_fail(err, NES_AWS_ERR_NOMEM, "NoMemory", "out of memory");
        } else {
            r = NES_S3_GET_OK;
        }
        if (r != NES_S3_GET_FAILED && etag != NULL)
            snprintf(etag, NES_S3_MAX_ETAG, "%s", resp.etag);
    }
    nes_buf_free(&resp.body);
    free(path);
    return r;
}

int nes_s3_put_object(nes_aws_client *c, const char *bucket, const char *key, const void *data,
                      size_t n, const char *content_type, nes_aws_error *err)
{
    memset(err, 0, sizeof(*err));
    char hp[80];
    char *path = address(c, bucket, key, hp, sizeof(hp));
    if (path == NULL)
        return nes_aws_fail(err, NES_AWS_ERR_NOMEM, "NoMemory", "out of memory");
    nes_sigv4_pair h[1] = {{"Content-Type", content_type}};
    nes_aws_req req = {
        .svc = NES_AWS_S3,
        .operation = "PutObject",
        .method = "PUT",
        .host_prefix = hp[0] ? hp : NULL,
        .path = path,
        .headers = h,
        .nheaders = content_type ? 1 : 0,
        .body = data,
        .body_len = n,
    };
    nes_aws_resp resp = {0};
    int rc = nes_aws_send(c, &req, &resp, err);
    nes_buf_free(&resp.body);
    free(path);
    return rc;
}
