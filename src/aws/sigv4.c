/* sigv4.c - AWS Signature Version 4 (see sigv4.h). */
#include "aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hexd[] = "0123456789abcdef";

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[p[i] >> 4];
        out[2 * i + 1] = hexd[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void nes_sigv4_sha256_hex(const void *p, size_t n, char hex[65])
{
    uint8_t md[32];
    unsigned int mdlen = 0;
    EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
    to_hex(md, 32, hex);
}

static void hmac(const uint8_t *key, size_t klen, const void *msg, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)klen, msg, n, out, &len);
}

void nes_sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

int nes_sigv4_uri_encode(const char *s, size_t n, bool keep_slash, nes_buf *out)
{
    static const char up[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            if (nes_buf_append(out, &c, 1) != 0)
                return -1;
        } else {
            char e[3] = {'%', up[c >> 4], up[c & 15]};
            if (nes_buf_append(out, e, 3) != 0)
                return -1;
        }
    }
    return 0;
}

static int put(nes_buf *b, const char *s)
{
    return nes_buf_append(b, s, strlen(s));
}

static int put_nul(nes_buf *b)
{
    if (nes_buf_append(b, "", 1) != 0)
        return -1;
    b->len--;
    return 0;
}

/* Removes "." and ".." segments and empty segments (non-S3 canonical path). */
static int normalise_path(const char *p, nes_buf *out)
{
    const char *seg[512];
    size_t seglen[512], nseg = 0;
    size_t n = strlen(p);
    for (size_t i = 0; i < n;) {
        while (i < n && p[i] == '/')
            i++;
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        if (j > i) {
            if (j - i == 1 && p[i] == '.') {
                /* skip */
            } else if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
                if (nseg > 0)
                    nseg--;
            } else {
                if (nseg >= 512)
                    return -1;
                seg[nseg] = p + i;
                seglen[nseg++] = j - i;
            }
        }
        i = j;
    }
    if (put(out, "/") != 0)
        return -1;
    for (size_t k = 0; k < nseg; k++) {
        if (nes_buf_append(out, seg[k], seglen[k]) != 0)
            return -1;
        if ((k + 1 < nseg || (n > 1 && p[n - 1] == '/')) && put(out, "/") != 0)
            return -1;
    }
    return 0;
}

typedef struct kv {
    char *k, *v;
} kv;

static int cmp_kv(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static char *encode_dup(const char *s, bool keep_slash)
{
    nes_buf b = {0};
    if (nes_sigv4_uri_encode(s, strlen(s), keep_slash, &b) != 0 || put_nul(&b) != 0) {
        nes_buf_free(&b);
        return NULL;
    }
    if (b.data == NULL)
        return strdup("");
    return (char *)b.data;
}

static int build_query(const nes_sigv4_request *r, nes_buf *out)
{
    if (r->nquery == 0)
        return put_nul(out);
    kv *q = calloc(r->nquery, sizeof(kv));
    if (q == NULL)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < r->nquery && rc == 0; i++) {
        q[i].k = encode_dup(r->query[i].name, false);
        q[i].v = encode_dup(r->query[i].value ? r->query[i].value : "", false);
        if (q[i].k == NULL || q[i].v == NULL)
            rc = -1;
    }
    if (rc == 0) {
        qsort(q, r->nquery, sizeof(kv), cmp_kv);
        for (size_t i = 0; i < r->nquery && rc == 0; i++)
            if ((i > 0 && put(out, "&") != 0) || put(out, q[i].k) != 0 || put(out, "=") != 0 ||
                put(out, q[i].v) != 0)
                rc = -1;
    }
    for (size_t i = 0; i < r->nquery; i++) {
        free(q[i].k);
        free(q[i].v);
    }
    free(q);
    return rc == 0 ? put_nul(out) : -1;
}

typedef struct hdr {
    char name[64];
    const char *value;
} hdr;

static int cmp_hdr(const void *a, const void *b)
{
    return strcmp(((const hdr *)a)->name, ((const hdr *)b)->name);
}

static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

/* Appends a header value trimmed, with runs of spaces folded. */
static int put_value(nes_buf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    bool sp = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 && c != '\t')
            return -1;
        if (c == ' ' || c == '\t') {
            sp = true;
            continue;
        }
        if (sp && nes_buf_append(b, " ", 1) != 0)
            return -1;
        sp = false;
        if (nes_buf_append(b, &c, 1) != 0)
            return -1;
    }
    return 0;
}

static int add_hdr(hdr *h, size_t *n, const char *name, const char *value)
{
    size_t len = strlen(name);
    if (*n >= NES_SIGV4_MAX_HEADERS + 4 || len == 0 || len >= sizeof(h[0].name) || value == NULL)
        return -1;
    for (size_t i = 0; i < len; i++) {
        static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = lower[c - 'A'];
        h[*n].name[i] = c;
        if (!token_char((unsigned char)h[*n].name[i]))
            return -1;
    }
    h[*n].name[len] = '\0';
    h[*n].value = value;
    (*n)++;
    return 0;
}

int nes_sigv4_sign(const nes_sigv4_request *r, nes_sigv4_result *out)
{
    if (r->method == NULL || r->service == NULL || r->region == NULL || r->host == NULL ||
        r->path == NULL || r->path[0] != '/' || r->payload_hash == NULL || r->access_key == NULL ||
        r->secret_key == NULL || r->nheaders > NES_SIGV4_MAX_HEADERS)
        return -1;
    bool s3 = strcmp(r->service, "s3") == 0;
    nes_sigv4_amz_date(r->now, out->amz_date);
    char day[9];
    memcpy(day, out->amz_date, 8);
    day[8] = '\0';

    /* Path and query as sent, then as signed. */
    out->wire_path.len = out->wire_query.len = out->canonical.len = out->string_to_sign.len = 0;
    nes_buf canon_path = {0};
    int rc = -1;
    if (nes_sigv4_uri_encode(r->path, strlen(r->path), true, &out->wire_path) != 0 ||
        put_nul(&out->wire_path) != 0 || build_query(r, &out->wire_query) != 0)
        goto done;
    if (s3) {
        if (nes_buf_append(&canon_path, out->wire_path.data, out->wire_path.len) != 0)
            goto done;
    } else {
        nes_buf norm = {0};
        if (normalise_path((const char *)out->wire_path.data, &norm) != 0 ||
            nes_sigv4_uri_encode((const char *)norm.data, norm.len, true, &canon_path) != 0) {
            nes_buf_free(&norm);
            goto done;
        }
        nes_buf_free(&norm);
    }

    hdr h[NES_SIGV4_MAX_HEADERS + 4];
    size_t nh = 0;
    if (add_hdr(h, &nh, "host", r->host) != 0 || add_hdr(h, &nh, "x-amz-date", out->amz_date) != 0)
        goto done;
    if (r->session_token != NULL && r->session_token[0] != '\0' &&
        add_hdr(h, &nh, "x-amz-security-token", r->session_token) != 0)
        goto done;
    if (s3 && add_hdr(h, &nh, "x-amz-content-sha256", r->payload_hash) != 0)
        goto done;
    for (size_t i = 0; i < r->nheaders; i++)
        if (add_hdr(h, &nh, r->headers[i].name, r->headers[i].value) != 0)
            goto done;
    qsort(h, nh, sizeof(hdr), cmp_hdr);

    nes_buf *c = &out->canonical;
    nes_buf signed_names = {0};
    if (put(c, r->method) != 0 || put(c, "\n") != 0 ||
        nes_buf_append(c, canon_path.data, canon_path.len) != 0 || put(c, "\n") != 0 ||
        nes_buf_append(c, out->wire_query.data, out->wire_query.len) != 0 || put(c, "\n") != 0)
        goto done;
    for (size_t i = 0; i < nh; i++) {
        bool same_as_prev = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
        if (same_as_prev) {
            c->len--; /* drop the '\n': values of one name are joined with ',' */
            if (put(c, ",") != 0 || put_value(c, h[i].value) != 0 || put(c, "\n") != 0)
                goto done_names;
            continue;
        }
        if (put(c, h[i].name) != 0 || put(c, ":") != 0 || put_value(c, h[i].value) != 0 ||
            put(c, "\n") != 0)
            goto done_names;
        if ((signed_names.len > 0 && put(&signed_names, ";") != 0) ||
            put(&signed_names, h[i].name) != 0)
            goto done_names;
    }
    if (put(c, "\n") != 0 || nes_buf_append(c, signed_names.data, signed_names.len) != 0 ||
        put(c, "\n") != 0 || put(c, r->payload_hash) != 0 || put_nul(c) != 0)
        goto done_names;

    char creq_hash[65];
    nes_sigv4_sha256_hex(c->data, c->len, creq_hash);
    char scope[256];
    if (snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", day, r->region, r->service) >=
        (int)sizeof(scope))
        goto done_names;
    nes_buf *sts = &out->string_to_sign;
    if (put(sts, "AWS4-HMAC-SHA256\n") != 0 || put(sts, out->amz_date) != 0 ||
        put(sts, "\n") != 0 || put(sts, scope) != 0 || put(sts, "\n") != 0 ||
        put(sts, creq_hash) != 0 || put_nul(sts) != 0)
        goto done_names;

    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request") */
    uint8_t k[32];
    char kinit[160];
    int kn = snprintf(kinit, sizeof(kinit), "AWS4%s", r->secret_key);
    if (kn < 0 || kn >= (int)sizeof(kinit)) {
        explicit_bzero(kinit, sizeof(kinit));
        goto done_names;
    }
    hmac((const uint8_t *)kinit, (size_t)kn, day, 8, k);
    explicit_bzero(kinit, sizeof(kinit));
    hmac(k, 32, r->region, strlen(r->region), k);
    hmac(k, 32, r->service, strlen(r->service), k);
    hmac(k, 32, "aws4_request", 12, k);
    uint8_t sig[32];
    hmac(k, 32, sts->data, sts->len, sig);
    explicit_bzero(k, sizeof(k));
    char sighex[65];
    to_hex(sig, 32, sighex);
    int an = snprintf(out->authorization, sizeof(out->authorization),
                      "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%.*s, Signature=%s",
                      r->access_key, scope, (int)signed_names.len, (const char *)signed_names.data,
                      sighex);
    if (an > 0 && an < (int)sizeof(out->authorization))
        rc = 0;
done_names:
    nes_buf_free(&signed_names);
done:
    nes_buf_free(&canon_path);
    return rc;
}

void nes_sigv4_result_free(nes_sigv4_result *out)
{
    nes_buf_free(&out->wire_path);
    nes_buf_free(&out->wire_query);
    nes_buf_free(&out->canonical);
    nes_buf_free(&out->string_to_sign);
}
