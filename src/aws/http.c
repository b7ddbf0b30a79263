/* http.c - one signed AWS request over libcurl with retries, clock-skew correction and bounded
 * answers (see http.h and aws.h). */
#include "aws/http.h"

#include <ctype.h>
#include <libxml/parser.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "aws/awsjson.h"
#include "aws/s3xml.h"

struct nes_aws_client {
    nes_aws_config cfg;
    nes_aws_credsrc *creds;
    CURL *curl;
    long long skew;
};

int nes_aws_global_init(void)
{
    xmlInitParser();
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void nes_aws_global_cleanup(void)
{
    curl_global_cleanup();
    xmlCleanupParser();
}

nes_aws_client *nes_aws_client_new(const nes_aws_config *cfg, nes_aws_credsrc *creds)
{
    nes_aws_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->cfg = *cfg;
    c->creds = creds;
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        nes_aws_config_clear(&c->cfg);
        free(c);
        return NULL;
    }
    return c;
}

void nes_aws_client_free(nes_aws_client *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    nes_aws_config_clear(&c->cfg);
    free(c);
}

const nes_aws_config *nes_aws_client_config(const nes_aws_client *c)
{
    return &c->cfg;
}

long long nes_aws_client_skew(const nes_aws_client *c)
{
    return c->skew;
}

void nes_aws_sanitise(const char *in, size_t n, char *out, size_t out_len)
{
    size_t o = 0;
    if (out_len == 0)
        return;
    for (size_t i = 0; i < n && o + 1 < out_len; i++) {
        unsigned char ch = (unsigned char)in[i];
        char c = in[i];
        if (ch < 0x20 || ch >= 0x7f)
            c = '?';
        out[o++] = c;
    }
    out[o] = '\0';
}

void nes_aws_log(const nes_aws_config *cfg, nes_aws_loglevel level, const char *msg,
                 const char *service, const char *operation, const nes_aws_error *err, int attempt,
                 long long skew)
{
    if (cfg->log == NULL)
        return;
    nes_aws_event ev = {
        .level = level,
        .msg = msg,
        .service = service,
        .operation = operation,
        .http_status = err ? err->http_status : 0,
        .code = err ? err->code : NULL,
        .message = err ? err->message : NULL,
        .attempt = attempt,
        .skew_secs = skew,
    };
    cfg->log(cfg->log_ud, &ev);
}

/* Opens the connection to the placeholder proxy as a Unix socket to the bridge. libcurl's
 * address storage behind `addr` is large enough for a sockaddr_un (Curl_sockaddr_storage). */
static curl_socket_t open_bridge(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    const char *path = ud;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    size_t n = strlen(path);
    memcpy(un.sun_path, path, n);
    if (path[0] == '@')
        un.sun_path[0] = '\0'; /* abstract namespace */
    a->family = AF_UNIX;
    a->protocol = 0;
    a->addrlen =
        (unsigned int)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
    memcpy(&a->addr, &un, a->addrlen);
    return fd;
}

static int no_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    (void)ud;
    (void)fd;
    (void)purpose;
    return CURL_SOCKOPT_OK;
}

void nes_aws_curl_egress(CURL *h, nes_aws_config *cfg)
{
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->ca_file[0] != '\0')
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
    if (cfg->egress == NES_EGRESS_PROXY) {
        char proxy[300];
        bool v6 = strchr(cfg->proxy_host, ':') != NULL;
        snprintf(proxy, sizeof(proxy), v6 ? "http://[%s]:%u" : "http://%s:%u", cfg->proxy_host,
                 cfg->proxy_port);
        curl_easy_setopt(h, CURLOPT_PROXY, proxy);
        curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_PROXY, "");
    }
    if (cfg->egress == NES_EGRESS_VSOCK && cfg->bridge_path[0] != '\0') {
        if (cfg->egress_forward) {
            /* A fixed port forward: every request goes over the bridge's Unix socket. */
            if (cfg->bridge_path[0] == '@')
                curl_easy_setopt(h, CURLOPT_ABSTRACT_UNIX_SOCKET, cfg->bridge_path + 1);
            else
                curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, cfg->bridge_path);
        } else {
            /* A CONNECT proxy behind the bridge. libcurl 7.88 ignores proxies on a Unix socket,
             * so it is given a placeholder TCP proxy whose socket is opened on the bridge
             * instead (the address rewrite in open_bridge). */
            curl_easy_setopt(h, CURLOPT_PROXY, "http://127.0.0.1:9");
            curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
            curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_bridge);
            curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, cfg->bridge_path);
            curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, no_sockopt);
        }
    }
}

/* ---- error bodies ------------------------------------------------------------------------- */

static void copy_field(nes_buf *b, char *out, size_t out_len)
{
    nes_aws_sanitise((const char *)b->data, b->len, out, out_len);
}

void nes_aws_parse_error(const uint8_t *body, size_t len, long status, nes_aws_error *err)
{
    snprintf(err->code, sizeof(err->code), "HTTP%ld", status);
    err->message[0] = '\0';
    size_t i = 0;
    while (i < len && isspace(body[i]))
        i++;
    if (i < len && body[i] == '{' && nes_awsjson_string(body, len, "\x01", NULL) == 0) {
        nes_buf t = {0};
        t.max = 1024;
        if (nes_awsjson_string(body, len, "__type", &t) == 1 ||
            (t.len = 0, nes_awsjson_string(body, len, "code", &t) == 1) ||
            (t.len = 0, nes_awsjson_string(body, len, "Code", &t) == 1)) {
            /* "com.amazonaws.kms#NotFoundException" and "X:http://..." -> the name */
            size_t e = 0;
            while (e < t.len && t.data[e] != ':')
                e++;
            size_t s = 0;
            for (size_t k = 0; k < e; k++)
                if (t.data[k] == '#')
                    s = k + 1;
            nes_aws_sanitise((const char *)t.data + s, e - s, err->code, sizeof(err->code));
        }
        t.len = 0;
        if (nes_awsjson_string(body, len, "message", &t) == 1 ||
            (t.len = 0, nes_awsjson_string(body, len, "Message", &t) == 1))
            copy_field(&t, err->message, sizeof(err->message));
        nes_buf_free(&t);
        if (err->message[0] == '\0')
            snprintf(err->message, sizeof(err->message), "AWS error without a message");
        return;
    }
    if (i < len && body[i] == '<' &&
        nes_s3xml_parse_error((const char *)body, len, err->code, sizeof(err->code), err->message,
                              sizeof(err->message)) == 0)
        return;
    snprintf(err->message, sizeof(err->message), "HTTP %ld with a %s body of %zu bytes", status,
             len == 0 ? "empty" : "non-JSON, non-XML", len);
}

/* ---- transfer callbacks ------------------------------------------------------------------- */

typedef struct xfer {
    nes_aws_resp *resp;
    size_t cap;
    bool over;
    time_t server_date;
} xfer;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (x->resp->body.len + len > x->cap) {
        x->over = true;
        return 0;
    }
    if (nes_buf_append(&x->resp->body, p, len) != 0)
        return 0;
    return len;
}

static bool hdr_is(const char *p, size_t len, const char *name, const char **val, size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(p, name, n) != 0 || p[n] != ':')
        return false;
    size_t i = n + 1;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t e = len;
    while (e > i && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
        e--;
    *val = p + i;
    *vlen = e - i;
    return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    const char *v;
    size_t vlen;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        x->resp->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->resp->content_length = -1;
        x->resp->etag[0] = '\0';
    } else if (hdr_is(p, len, "content-length", &v, &vlen)) {
        char num[32];
        nes_aws_sanitise(v, vlen, num, sizeof(num));
        x->resp->content_length = strtoll(num, NULL, 10);
        if (x->resp->status >= 200 && x->resp->status < 300 &&
            x->resp->content_length > (long long)x->cap) {
            x->over = true; /* refuse before reading the body */
            return 0;
        }
    } else if (hdr_is(p, len, "etag", &v, &vlen)) {
        nes_aws_sanitise(v, vlen, x->resp->etag, sizeof(x->resp->etag));
    } else if (hdr_is(p, len, "date", &v, &vlen)) {
        char d[64];
        nes_aws_sanitise(v, vlen, d, sizeof(d));
        x->server_date = curl_getdate(d, NULL);
    }
    return len;
}

/* ---- the request -------------------------------------------------------------------------- */

/* Splits "scheme://authority/base" into its parts. */
static void split_endpoint(const char *ep, char *scheme, size_t sl, char *auth, size_t al,
                           char *base, size_t bl)
{
    const char *p = strstr(ep, "://");
    size_t s = p ? (size_t)(p - ep) : 0;
    snprintf(scheme, sl, "%.*s", (int)s, ep);
    const char *a = p ? p + 3 : ep;
    const char *slash = strchr(a, '/');
    size_t an = slash ? (size_t)(slash - a) : strlen(a);
    snprintf(auth, al, "%.*s", (int)an, a);
    snprintf(base, bl, "%s", slash ? slash : "");
}

static bool retryable_code(const char *code)
{
    static const char *const codes[] = {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "LimitExceededException",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSInternalException",
        "InternalServiceError",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ProvisionedThroughputExceededException",
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

static bool skew_error(const nes_aws_error *e)
{
    if (strcmp(e->code, "RequestTimeTooSkewed") == 0 || strcmp(e->code, "RequestExpired") == 0)
        return true;
    if ((strcmp(e->code, "InvalidSignatureException") == 0 ||
         strcmp(e->code, "SignatureDoesNotMatch") == 0 || strcmp(e->code, "AuthFailure") == 0) &&
        strstr(e->message, "expired") != NULL)
        return true;
    return false;
}

static bool notfound_code(const char *code, long status)
{
    return strcmp(code, "ResourceNotFoundException") == 0 ||
           strcmp(code, "NotFoundException") == 0 || strcmp(code, "NoSuchKey") == 0 ||
           strcmp(code, "NoSuchBucket") == 0 || (status == 404 && strncmp(code, "HTTP", 4) == 0);
}

static bool retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return false;
    default:
        return true;
    }
}

static void backoff(const nes_aws_config *cfg, int attempt)
{
    unsigned long long cap = cfg->backoff_base_ms;
    for (int i = 1; i < attempt && cap < cfg->backoff_max_ms; i++)
        cap *= 2;
    if (cap > cfg->backoff_max_ms)
        cap = cfg->backoff_max_ms;
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)time(NULL);
    unsigned long long ms = cap ? r % (cap + 1) : 0; /* full jitter: uniform in [0, cap] */
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value,
                                     bool *fail)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *h = malloc(n);
    if (h == NULL) {
        *fail = true;
        return l;
    }
    snprintf(h, n, "%s: %s", name, value);
    struct curl_slist *r = curl_slist_append(l, h);
    explicit_bzero(h, n);
    free(h);
    if (r == NULL)
        *fail = true;
    return r ? r : l;
}

/* One attempt: sign, send, receive. Returns the curl code; resp and x filled. */
static CURLcode attempt_once(nes_aws_client *c, const nes_aws_req *req, const nes_aws_creds *cr,
                             nes_aws_resp *resp, xfer *x, nes_aws_error *err)
{
    char scheme[16], auth[300], base[256];
    split_endpoint(c->cfg.endpoint[req->svc], scheme, sizeof(scheme), auth, sizeof(auth), base,
                   sizeof(base));
    char host[600];
    snprintf(host, sizeof(host), "%s%s", req->host_prefix ? req->host_prefix : "", auth);
    size_t plen = strlen(base) + strlen(req->path) + 1;
    char *path = malloc(plen);
    if (path == NULL)
        return CURLE_OUT_OF_MEMORY;
    snprintf(path, plen, "%s%s", base, req->path);

    char hash[65];
    nes_sigv4_sha256_hex(req->body ? req->body : "", req->body_len, hash);
    nes_sigv4_request sr = {
        .method = req->method,
        .service = nes_aws_service_name(req->svc),
        .region = c->cfg.region,
        .host = host,
        .path = path,
        .query = req->query,
        .nquery = req->nquery,
        .headers = req->headers,
        .nheaders = req->nheaders,
        .payload_hash = hash,
        .now = time(NULL) + (time_t)c->skew,
        .access_key = cr->access_key,
        .secret_key = cr->secret_key,
        .session_token = cr->session_token,
    };
    nes_sigv4_result sig = {0};
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    struct curl_slist *hl = NULL;
    char *url = NULL;
    if (nes_sigv4_sign(&sr, &sig) != 0) {
        nes_aws_fail(err, NES_AWS_ERR_CONFIG, "SigningFailed", "the request cannot be signed");
        rc = CURLE_BAD_FUNCTION_ARGUMENT;
        goto out;
    }
    size_t ulen = strlen(scheme) + strlen(host) + sig.wire_path.len + sig.wire_query.len + 8;
    url = malloc(ulen);
    if (url == NULL)
        goto out;
    snprintf(url, ulen, "%s://%s%s%s%s", scheme, host, (const char *)sig.wire_path.data,
             sig.wire_query.len ? "?" : "", sig.wire_query.len ? (char *)sig.wire_query.data : "");

    bool fail = false;
    hl = add_header(hl, "Host", host, &fail);
    hl = add_header(hl, "X-Amz-Date", sig.amz_date, &fail);
    hl = add_header(hl, "Authorization", sig.authorization, &fail);
    if (cr->session_token[0] != '\0')
        hl = add_header(hl, "X-Amz-Security-Token", cr->session_token, &fail);
    if (req->svc == NES_AWS_S3)
        hl = add_header(hl, "x-amz-content-sha256", hash, &fail);
    for (size_t i = 0; i < req->nheaders; i++)
        hl = add_header(hl, req->headers[i].name, req->headers[i].value, &fail);
    struct curl_slist *t = curl_slist_append(hl, "Expect:");
    if (t == NULL || fail)
        goto out;
    hl = t;

    CURL *h = c->curl;
    curl_easy_reset(h);
    nes_aws_curl_egress(h, &c->cfg);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    resp->status = 0;
    resp->content_length = -1;
    resp->etag[0] = '\0';
    resp->body.len = 0;
    x->over = false;
    x->server_date = -1;
    rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
out:
    curl_slist_free_all(hl);
    free(url);
    free(path);
    nes_sigv4_result_free(&sig);
    return rc;
}

static int send_call(nes_aws_client *c, const nes_aws_req *req, nes_aws_resp *resp,
                     nes_aws_error *err);

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int nes_aws_send(nes_aws_client *c, const nes_aws_req *req, nes_aws_resp *resp, nes_aws_error *err)
{
    uint64_t t0 = c->cfg.on_call != NULL ? now_us() : 0;
    int rc = send_call(c, req, resp, err);
    if (c->cfg.on_call != NULL)
        c->cfg.on_call(c->cfg.call_ud, req->svc, req->operation, now_us() - t0, rc == 0);
    return rc;
}

static int send_call(nes_aws_client *c, const nes_aws_req *req, nes_aws_resp *resp,
                     nes_aws_error *err)
{
    memset(err, 0, sizeof(*err));
    const char *svc = nes_aws_service_name(req->svc);
    if (c->cfg.egress == NES_EGRESS_VSOCK && c->cfg.bridge_path[0] == '\0') {
        nes_aws_fail(err, NES_AWS_ERR_CONFIG, "NoEgressBridge",
                     "vsock egress %u:%u needs its Unix socket bridge (nes_aws_config_set_bridge)",
                     c->cfg.vsock_cid, c->cfg.vsock_port);
        nes_aws_log(&c->cfg, NES_AWS_LOG_ERROR, "AWS call failed", svc, req->operation, err, 0, 0);
        return -1;
    }
    xfer x = {.resp = resp, .cap = req->max_body ? req->max_body : c->cfg.max_response_bytes};
    bool skew_fixed = false;
    int attempt = 0;
    unsigned max_attempts = c->cfg.max_attempts ? c->cfg.max_attempts : 1;
    for (;;) {
        attempt++;
        err->attempts = attempt;
        nes_aws_creds cr;
        if (nes_aws_credsrc_get(c->creds, &cr, err) != 0) {
            explicit_bzero(&cr, sizeof(cr));
            nes_aws_log(&c->cfg, NES_AWS_LOG_ERROR, "AWS credentials unavailable", svc,
                        req->operation, err, attempt, 0);
            return -1;
        }
        CURLcode rc = attempt_once(c, req, &cr, resp, &x, err);
        explicit_bzero(&cr, sizeof(cr));
        bool retry = false;
        err->http_status = resp->status;
        if (rc == CURLE_BAD_FUNCTION_ARGUMENT && err->kind == NES_AWS_ERR_CONFIG) {
            /* signing failed: not retryable */
        } else if (x.over) {
            nes_aws_fail(err, NES_AWS_ERR_LIMIT, "ResponseTooLarge",
                         "the answer is larger than the %zu-byte limit%s", x.cap,
                         resp->content_length >= 0 ? " (refused from its Content-Length)" : "");
        } else if (rc != CURLE_OK) {
            nes_aws_fail(err, NES_AWS_ERR_NET, "NetworkError", "%s", curl_easy_strerror(rc));
            retry = retryable_curl(rc);
        } else if ((resp->status >= 200 && resp->status < 300) ||
                   (resp->status == 304 && req->allow_304)) {
            if (attempt > 1 || skew_fixed)
                nes_aws_log(&c->cfg, NES_AWS_LOG_INFO, "AWS call succeeded after a retry", svc,
                            req->operation, NULL, attempt, c->skew);
            return 0;
        } else {
            nes_aws_parse_error(resp->body.data, resp->body.len, resp->status, err);
            err->kind =
                notfound_code(err->code, resp->status) ? NES_AWS_ERR_NOTFOUND : NES_AWS_ERR_SERVICE;
            if (!skew_fixed && skew_error(err) && x.server_date > 0) {
                skew_fixed = true;
                c->skew = (long long)(x.server_date - time(NULL));
                nes_aws_log(&c->cfg, NES_AWS_LOG_WARN,
                            "clock skew corrected from the AWS Date header; signing again", svc,
                            req->operation, err, attempt, c->skew);
                attempt--; /* the skew retry is not one of the bounded attempts */
                continue;
            }
            retry = resp->status >= 500 || resp->status == 429 || retryable_code(err->code);
        }
        if (!retry || (unsigned)attempt >= max_attempts) {
            nes_aws_log(&c->cfg, NES_AWS_LOG_ERROR, "AWS call failed", svc, req->operation, err,
                        attempt, 0);
            return -1;
        }
        nes_aws_log(&c->cfg, NES_AWS_LOG_WARN, "AWS call retried", svc, req->operation, err,
                    attempt, 0);
        backoff(&c->cfg, attempt);
    }
}

bool nes_aws_bucket_dns_ok(const char *bucket)
{
    size_t n = strlen(bucket);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = bucket[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return false;
    }
    return bucket[0] != '-' && bucket[n - 1] != '-';
}

int nes_aws_json11_call(nes_aws_client *c, nes_aws_service svc, const char *target_prefix,
                        const char *op, const nes_buf *body, size_t max_body, nes_aws_resp *resp,
                        nes_aws_error *err)
{
    char target[96];
    snprintf(target, sizeof(target), "%s.%s", target_prefix, op);
    nes_sigv4_pair hdrs[] = {{"Content-Type", "application/x-amz-json-1.1"},
                             {"X-Amz-Target", target}};
    nes_aws_req req = {
        .svc = svc,
        .operation = op,
        .method = "POST",
        .path = "/",
        .headers = hdrs,
        .nheaders = 2,
        .body = body->data,
        .body_len = body->len,
        .max_body = max_body,
    };
    return nes_aws_send(c, &req, resp, err);
}
