/* creds.c - credentials: static from the environment, else IMDSv2 through the egress path,
 * cached and refreshed five minutes before they expire (see aws.h). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/aws.h"
#include "aws/awsjson.h"
#include "aws/http.h"

#define REFRESH_BEFORE_SECS 300
#define IMDS_MAX_BODY 16384

struct nes_aws_credsrc {
    nes_aws_config cfg;
    pthread_mutex_t mu;
    nes_aws_creds cached;
    bool have;
};

nes_aws_credsrc *nes_aws_credsrc_new(const nes_aws_config *cfg)
{
    nes_aws_credsrc *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->cfg = *cfg;
    pthread_mutex_init(&s->mu, NULL);
    if (cfg->have_static_creds) {
        s->cached = cfg->creds;
        s->have = true;
    }
    return s;
}

void nes_aws_credsrc_free(nes_aws_credsrc *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->mu);
    nes_aws_config_clear(&s->cfg);
    explicit_bzero(&s->cached, sizeof(s->cached));
    free(s);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    nes_buf *b = ud;
    return nes_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* One IMDS request; the body goes to `out` (bounded). 0 on a 200 answer. */
static int imds(nes_aws_config *cfg, CURL *h, const char *method, const char *path, const char *hdr,
                nes_buf *out, long *status)
{
    char url[700];
    snprintf(url, sizeof(url), "%s%s", cfg->imds_endpoint, path);
    curl_easy_reset(h);
    nes_aws_curl_egress(h, cfg);
    struct curl_slist *hl = hdr ? curl_slist_append(NULL, hdr) : NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    out->len = 0;
    CURLcode rc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    if (hl != NULL) {
        explicit_bzero(hl->data, strlen(hl->data));
        curl_slist_free_all(hl);
    }
    return rc == CURLE_OK && *status == 200 ? 0 : -1;
}

static int copy_member(const nes_buf *doc, const char *name, char *out, size_t out_len)
{
    nes_buf v = {0};
    v.max = out_len - 1;
    int rc = nes_awsjson_string(doc->data, doc->len, name, &v);
    if (rc == 1) {
        memcpy(out, v.data, v.len);
        out[v.len] = '\0';
    }
    nes_buf_free(&v);
    return rc == 1 ? 0 : -1;
}

/* "2026-11-30T20:00:00Z" (IMDS Expiration) as Unix seconds; -1 when malformed. */
static time_t parse_iso8601(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL || (*end != 'Z' && *end != '\0'))
        return -1;
    return timegm(&tm);
}

static int fetch_imds(nes_aws_credsrc *s, nes_aws_creds *out, nes_aws_error *err)
{
    if (s->cfg.egress == NES_EGRESS_VSOCK && s->cfg.bridge_path[0] == '\0')
        return nes_aws_fail(err, NES_AWS_ERR_CREDS, "NoEgressBridge",
                            "IMDS over vsock egress needs its Unix socket bridge");
    CURL *h = curl_easy_init();
    if (h == NULL)
        return nes_aws_fail(err, NES_AWS_ERR_CREDS, "ImdsUnavailable", "libcurl init failed");
    nes_buf tok = {0}, body = {0};
    tok.max = 4096;
    body.max = IMDS_MAX_BODY;
    long st = 0;
    int rc = -1;
    char hdr[4200], role[256];
    if (imds(&s->cfg, h, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 21600",
             &tok, &st) != 0 ||
        tok.len == 0) {
        nes_aws_fail(err, NES_AWS_ERR_CREDS, "ImdsTokenFailed",
                     "no credentials in the environment and IMDSv2 gave no token (HTTP %ld)", st);
        goto out;
    }
    snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %.*s", (int)tok.len,
             (const char *)tok.data);
    if (imds(&s->cfg, h, "GET", "/latest/meta-data/iam/security-credentials/", hdr, &body, &st) !=
            0 ||
        body.len == 0 || body.len >= sizeof(role)) {
        nes_aws_fail(err, NES_AWS_ERR_CREDS, "ImdsNoRole", "IMDS lists no instance role (HTTP %ld)",
                     st);
        goto out;
    }
    size_t rl = 0; /* the first line: the role name */
    while (rl < body.len && body.data[rl] != '\r' && body.data[rl] != '\n')
        rl++;
    memcpy(role, body.data, rl);
    role[rl] = '\0';
    if (rl == 0 || strpbrk(role, "/?#% ") != NULL) {
        nes_aws_fail(err, NES_AWS_ERR_CREDS, "ImdsNoRole", "IMDS gave an unusable role name");
        goto out;
    }
    char path[400];
    snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", role);
    if (imds(&s->cfg, h, "GET", path, hdr, &body, &st) != 0) {
        nes_aws_fail(err, NES_AWS_ERR_CREDS, "ImdsCredentialsFailed",
                     "IMDS gave no credentials for the role (HTTP %ld)", st);
        goto out;
    }
    char expiration[64] = "";
    memset(out, 0, sizeof(*out));
    if (copy_member(&body, "AccessKeyId", out->access_key, sizeof(out->access_key)) != 0 ||
        copy_member(&body, "SecretAccessKey", out->secret_key, sizeof(out->secret_key)) != 0 ||
        copy_member(&body, "Token", out->session_token, sizeof(out->session_token)) != 0) {
        explicit_bzero(out, sizeof(*out));
        nes_aws_fail(err, NES_AWS_ERR_CREDS, "ImdsCredentialsMalformed",
                     "IMDS credentials document lacks AccessKeyId, SecretAccessKey or Token");
        goto out;
    }
    copy_member(&body, "Expiration", expiration, sizeof(expiration));
    time_t exp = parse_iso8601(expiration);
    out->expires = exp > 0 ? (int64_t)exp : (int64_t)time(NULL) + 900;
    rc = 0;
    nes_aws_log(&s->cfg, NES_AWS_LOG_INFO, "instance role credentials loaded from IMDS", "imds",
                "GetRoleCredentials", NULL, 1, 0);
out:
    explicit_bzero(hdr, sizeof(hdr));
    nes_buf_free(&tok);
    nes_buf_free(&body);
    curl_easy_cleanup(h);
    return rc;
}

int nes_aws_credsrc_get(nes_aws_credsrc *s, nes_aws_creds *out, nes_aws_error *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    time_t now = time(NULL);
    bool stale = !s->have || (s->cached.expires != 0 &&
                              (int64_t)now + REFRESH_BEFORE_SECS >= s->cached.expires);
    if (stale && !s->cfg.have_static_creds) {
        nes_aws_creds fresh;
        if (fetch_imds(s, &fresh, err) == 0) {
            s->cached = fresh;
            s->have = true;
        } else if (!s->have || (int64_t)now >= s->cached.expires) {
            rc = -1; /* nothing usable: the old credentials (if any) have expired */
        }
        explicit_bzero(&fresh, sizeof(fresh));
    }
    if (rc == 0)
        *out = s->cached;
    pthread_mutex_unlock(&s->mu);
    return rc;
}
