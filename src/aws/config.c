/* config.c - nes_aws_config from AWS SDK-style variables, error helpers (see aws.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "core/error.h"
#include "net/endpoint.h"

const char *const nes_aws_config_vars[] = {
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_S3",
    "AWS_EGRESS",
    "AWS_EGRESS_MODE",
    "VSOCK_PROXY_CID",
    "VSOCK_PROXY_PORT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONNECT_TIMEOUT_MS",
    "AWS_TIMEOUT_MS",
    "AWS_MAX_ATTEMPTS",
    "AWS_CA_BUNDLE",
    NULL,
};

static const char *const svc_names[NES_AWS_NSERVICES] = {"kms", "secretsmanager", "s3"};
static const char *const svc_vars[NES_AWS_NSERVICES] = {
    "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_S3"};

const char *nes_aws_service_name(nes_aws_service svc)
{
    return (unsigned)svc < NES_AWS_NSERVICES ? svc_names[svc] : "?";
}

static const char *get(nes_aws_lookup_fn lookup, void *ud, const char *name)
{
    const char *v = lookup(ud, name);
    return (v != NULL && *v != '\0') ? v : NULL;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (unsigned long)v;
    return 0;
}

/* An endpoint URL: http(s)://host[:port][/base]; stored without a trailing '/'. */
static int check_url(const char *name, const char *url, char *out, size_t out_len, char *why,
                     size_t why_len)
{
    size_t n = strlen(url);
    const char *rest = NULL;
    if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    if (rest == NULL || *rest == '\0' || *rest == '/' || n >= out_len) {
        nes_msgf(why, why_len, "%s: must be an http:// or https:// URL of at most %zu bytes", name,
                 out_len - 1);
        return -1;
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == '@' || *p == '\\') {
            nes_msgf(why, why_len, "%s: must be a plain URL (no spaces, query, user or fragment)",
                     name);
            return -1;
        }
    }
    memcpy(out, url, n + 1);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
    return 0;
}

int nes_aws_config_load(nes_aws_config *cfg, nes_aws_lookup_fn lookup, void *ud, char *why,
                        size_t why_len)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->connect_timeout_ms = 3000;
    cfg->timeout_ms = 10000;
    cfg->max_attempts = 4;
    cfg->backoff_base_ms = 100;
    cfg->backoff_max_ms = 5000;
    cfg->max_response_bytes = 1u << 20;

    const char *region = get(lookup, ud, "AWS_REGION");
    if (region == NULL)
        region = get(lookup, ud, "AWS_DEFAULT_REGION");
    if (region == NULL) {
        nes_msgf(why, why_len, "AWS_REGION: required");
        return -1;
    }
    if (strlen(region) >= sizeof(cfg->region) || strspn(region, "abcdefghijklmnopqrstuvwxyz0123"
                                                                "456789-") != strlen(region)) {
        nes_msgf(why, why_len, "AWS_REGION: must be a region name such as us-east-1");
        return -1;
    }
    snprintf(cfg->region, sizeof(cfg->region), "%s", region);

    const char *all = get(lookup, ud, "AWS_ENDPOINT_URL");
    for (int s = 0; s < NES_AWS_NSERVICES; s++) {
        const char *v = get(lookup, ud, svc_vars[s]);
        const char *name = svc_vars[s];
        if (v == NULL) {
            v = all;
            name = "AWS_ENDPOINT_URL";
        }
        if (v != NULL) {
            if (check_url(name, v, cfg->endpoint[s], sizeof(cfg->endpoint[s]), why, why_len) != 0)
                return -1;
            cfg->endpoint_given[s] = true;
        } else {
            snprintf(cfg->endpoint[s], sizeof(cfg->endpoint[s]), "https://%s.%s.amazonaws.com",
                     svc_names[s], cfg->region);
        }
    }

    const char *eg = get(lookup, ud, "AWS_EGRESS");
    const char *cid = get(lookup, ud, "VSOCK_PROXY_CID");
    const char *vport = get(lookup, ud, "VSOCK_PROXY_PORT");
    unsigned long u;
    if (eg == NULL || strcmp(eg, "direct") == 0) {
        if (eg == NULL && cid != NULL) {
            if (parse_uint(cid, 0, 0xFFFFFFFFul, &u) != 0) {
                nes_msgf(why, why_len, "VSOCK_PROXY_CID: must be a number");
                return -1;
            }
            cfg->vsock_cid = (uint32_t)u;
            cfg->vsock_port = 8000;
            if (vport != NULL) {
                if (parse_uint(vport, 1, 0xFFFFFFFFul, &u) != 0) {
                    nes_msgf(why, why_len, "VSOCK_PROXY_PORT: must be a port number");
                    return -1;
                }
                cfg->vsock_port = (unsigned)u;
            }
            cfg->egress = NES_EGRESS_VSOCK;
        }
    } else {
        nes_endpoint ep;
        char ewhy[200];
        if (nes_endpoint_parse(eg, &ep, ewhy, sizeof(ewhy)) != 0 || ep.kind == NES_EP_UNIX) {
            nes_msgf(why, why_len,
                     "AWS_EGRESS: must be direct, tcp://HOST:PORT or "
                     "vsock://CID:PORT");
            return -1;
        }
        if (ep.kind == NES_EP_TCP) {
            cfg->egress = NES_EGRESS_PROXY;
            snprintf(cfg->proxy_host, sizeof(cfg->proxy_host), "%s", ep.host);
            cfg->proxy_port = ep.port;
        } else {
            cfg->egress = NES_EGRESS_VSOCK;
            cfg->vsock_cid = ep.cid;
            cfg->vsock_port = ep.vport;
        }
    }
    const char *mode = get(lookup, ud, "AWS_EGRESS_MODE");
    if (mode != NULL && strcmp(mode, "connect") != 0 && strcmp(mode, "forward") != 0) {
        nes_msgf(why, why_len, "AWS_EGRESS_MODE: must be connect or forward");
        return -1;
    }
    cfg->egress_forward = mode != NULL && strcmp(mode, "forward") == 0;

    const char *imds = get(lookup, ud, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (imds == NULL)
        imds = "http://169.254.169.254";
    if (check_url("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds, cfg->imds_endpoint,
                  sizeof(cfg->imds_endpoint), why, why_len) != 0)
        return -1;

    const char *ak = get(lookup, ud, "AWS_ACCESS_KEY_ID");
    const char *sk = get(lookup, ud, "AWS_SECRET_ACCESS_KEY");
    const char *tok = get(lookup, ud, "AWS_SESSION_TOKEN");
    if ((ak == NULL) != (sk == NULL)) {
        nes_msgf(why, why_len, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both or neither");
        return -1;
    }
    if (ak != NULL) {
        if (strlen(ak) >= sizeof(cfg->creds.access_key) ||
            strlen(sk) >= sizeof(cfg->creds.secret_key) ||
            (tok != NULL && strlen(tok) >= sizeof(cfg->creds.session_token))) {
            nes_msgf(why, why_len, "AWS credentials: a value is too long");
            return -1;
        }
        snprintf(cfg->creds.access_key, sizeof(cfg->creds.access_key), "%s", ak);
        snprintf(cfg->creds.secret_key, sizeof(cfg->creds.secret_key), "%s", sk);
        if (tok != NULL)
            snprintf(cfg->creds.session_token, sizeof(cfg->creds.session_token), "%s", tok);
        cfg->have_static_creds = true;
    }

    static const struct {
        const char *name;
        unsigned long min, max;
        size_t off;
    } nums[] = {
        {"AWS_CONNECT_TIMEOUT_MS", 10, 600000, offsetof(nes_aws_config, connect_timeout_ms)},
        {"AWS_TIMEOUT_MS", 10, 3600000, offsetof(nes_aws_config, timeout_ms)},
        {"AWS_MAX_ATTEMPTS", 1, 20, offsetof(nes_aws_config, max_attempts)},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        const char *v = get(lookup, ud, nums[i].name);
        if (v == NULL)
            continue;
        if (parse_uint(v, nums[i].min, nums[i].max, &u) != 0) {
            nes_msgf(why, why_len, "%s: must be a whole number from %lu to %lu", nums[i].name,
                     nums[i].min, nums[i].max);
            nes_aws_config_clear(cfg);
            return -1;
        }
        *(unsigned *)((char *)cfg + nums[i].off) = (unsigned)u;
    }
    const char *ca = get(lookup, ud, "AWS_CA_BUNDLE");
    if (ca != NULL) {
        if (strlen(ca) >= sizeof(cfg->ca_file)) {
            nes_msgf(why, why_len, "AWS_CA_BUNDLE: path too long");
            nes_aws_config_clear(cfg);
            return -1;
        }
        snprintf(cfg->ca_file, sizeof(cfg->ca_file), "%s", ca);
    }
    return 0;
}

int nes_aws_config_set_bridge(nes_aws_config *cfg, const char *path)
{
    if (path == NULL || strlen(path) >= sizeof(cfg->bridge_path))
        return -1;
    snprintf(cfg->bridge_path, sizeof(cfg->bridge_path), "%s", path);
    return 0;
}

void nes_aws_config_clear(nes_aws_config *cfg)
{
    explicit_bzero(&cfg->creds, sizeof(cfg->creds));
    cfg->have_static_creds = false;
}

int nes_aws_fail(nes_aws_error *err, nes_aws_errkind kind, const char *code, const char *fmt, ...)
{
    err->kind = kind;
    snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

const char *nes_aws_errkind_name(nes_aws_errkind kind)
{
    static const char *const names[] = {"ok",       "config",   "credentials", "network", "service",
                                        "notfound", "response", "limit",       "nomem"};
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}
