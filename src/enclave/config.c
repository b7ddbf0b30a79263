/* config.c - defaults, environment, YAML overlay, validation, printing (see config.h). */
#include "enclave/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aws/awsjson.h"
#include "aws/config_ref.h"
#include "core/cfgref.h"
#include "core/fileio.h"
#include "core/ytree.h"
#include "net/cfgref_print.h"
#include "nsm/nsm.h"
#include "obs/otel/vars.h"

typedef enum otype {
    T_STR,
    T_UINT,
    T_U32,
    T_SIZE,
    T_LEVEL,
    T_BOOL, /* on/off, true/false, yes/no, 1/0 */
} otype;

enum {
    F_SECRET = 1,      /* never printed */
    F_AWS = 2,         /* required outside local mode */
    F_REDACT_URI = 4,  /* may hold a pkcs11: URI with a pin-value */
    F_EMPTY_UNSET = 8, /* an empty value means unset */
    F_RAW_ONLY = 16,   /* kept as text only: validated and used by another module (aws.h) */
};

/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): a small constant table */
typedef struct opt {
    const char *name;
    otype type;
    size_t off;
    const char *def;
    unsigned long min, max;
    unsigned flags;
    const char *group;  /* section of docs/configuration.md */
    const char *values; /* T_STR: the allowed values or form, for the reference (NULL: any) */
    const char *help;   /* one line for the reference (F_RAW_ONLY: from the AWS layer's table) */
} opt;

#define OFF(f) offsetof(nes_config, f)
#define MIB (1024ul * 1024ul)
#define G_NET "Listening and proxy mode"
#define G_AWS NES_AWS_CONFIG_GROUP
#define G_DEK "Data key and specs (enclave mode)"
#define G_REQ "Requests and limits"
#define G_TLS "TLS"
#define G_LOCAL "Local mode"
#define G_OBS NES_OTEL_VARS_GROUP
#define URI "endpoint URI: tcp://HOST:PORT, unix:///PATH, vsock://CID:PORT"

static const opt opts[] = {
    {"LISTEN", T_STR, OFF(listen), NULL, 0, 0, 0, G_NET, URI,
     "where the service accepts connections (HTTPS)"},
    {"TLS_PORT", T_UINT, OFF(tls_port), "443", 1, 65535, 0, G_NET, NULL,
     "port of the default listener vsock://any:TLS_PORT outside local mode"},
    {"UPSTREAM", T_STR, OFF(upstream), NULL, 0, 0, F_EMPTY_UNSET, G_NET, URI,
     "proxy mode: the application that receives the transformed requests (unset: API mode)"},
    {"PROXY_PROTOCOL", T_BOOL, OFF(proxy_protocol), "off", 0, 0, 0, G_NET, NULL,
     "every connection starts with a PROXY v2 header (behind nitro-enc-proxy ingress)"},
    {"PROXY_PASS_UNMATCHED", T_BOOL, OFF(proxy_pass_unmatched), "off", 0, 0, 0, G_NET, NULL,
     "proxy mode forwards requests no operation matches untouched (off: 400 no_operation)"},
    {"PROXY_RETURN_ALLOW", T_STR, OFF(proxy_return_allow), "peer", 0, 0, 0, G_NET,
     "peer, or a comma list of vsock://CID|peer:PORT|*, tcp://ADDR|peer:PORT|*, unix:///PATH",
     "return endpoints a PROXY v2 header may name (peer: the connecting host, any port)"},
    {"UPSTREAM_TIMEOUT_SECS", T_UINT, OFF(upstream_timeout_secs), "30", 1, 3600, 0, G_NET, NULL,
     "proxy mode: bound on connecting to UPSTREAM and on its response head"},
    {"SECRET_ARN", T_STR, OFF(secret_arn), NULL, 0, 0, F_AWS, G_DEK, "ARN or name",
     "Secrets Manager secret holding the KMS-wrapped data key (required outside local mode)"},
    {"KMS_KEY_ID", T_STR, OFF(kms_key_id), NULL, 0, 0, F_AWS, G_DEK, "key id, ARN or alias/NAME",
     "KMS key that unwraps the data key, with the enclave's attestation (required)"},
    {"S3_BUCKET", T_STR, OFF(s3_bucket), NULL, 0, 0, F_AWS, G_DEK, NULL,
     "S3 bucket holding the OpenAPI specs (required outside local mode)"},
    {"S3_PREFIX", T_STR, OFF(s3_prefix), "schemas/", 0, 0, 0, G_DEK, NULL,
     "key prefix of the specs in S3_BUCKET: every NAME.yaml, .yml or .json under it"},
    {"AWS_REGION", T_STR, OFF(aws_region), NULL, 0, 0, F_EMPTY_UNSET, G_AWS, NULL,
     "AWS region (else AWS_DEFAULT_REGION, else the region of SECRET_ARN or KMS_KEY_ID)"},
    {"VSOCK_PROXY_CID", T_U32, OFF(vsock_proxy_cid), NULL, 0, 0xFFFFFFFFul, 0, G_AWS, NULL,
     "vsock CID of the parent's egress proxy (3: the parent); required unless AWS_EGRESS"},
    {"VSOCK_PROXY_PORT", T_UINT, OFF(vsock_proxy_port), "8000", 1, 0xFFFFFFFFul, 0, G_AWS, NULL,
     "vsock port of the parent's egress proxy (nitro-enc-proxy egress)"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT", T_STR, OFF(otel_endpoint), NULL, 0, 0, F_AWS, G_OBS,
     "http:// or https:// URL",
     "OTLP/HTTP base URL (/v1/traces, /v1/metrics, /v1/logs appended); required outside local "
     "mode (local mode, unset: no export)"},
    {"DEK_ROTATION_INTERVAL_SECS", T_UINT, OFF(dek_rotation_secs), "3600", 1, 2592000, 0, G_DEK,
     NULL, "how often the data key secret is fetched again (+-10 % jitter)"},
    {"DEK_KEEP_PREVIOUS", T_UINT, OFF(dek_keep_previous), "1", 0, 15, 0, G_DEK, NULL,
     "previous data key versions (AWSPREVIOUS...) kept for /decrypt"},
    /* DEK provider and NSM (enclave mode: providers/dek.h, nsm/nsm.h) */
    {"NSM_DEVICE", T_STR, OFF(nsm_device), "/dev/nsm", 0, 0, 0, G_DEK, "a device path, or test:DIR",
     "Nitro Secure Module device; test:DIR signs with a test CA in DIR (never accepted by KMS)"},
    {"DEK_ENCRYPTION_CONTEXT", T_STR, OFF(dek_context), NULL, 0, 0, F_EMPTY_UNSET, G_DEK,
     "JSON object of strings", "KMS encryption context of the data key (as given to dek create)"},
    {"ALLOW_PLAINTEXT_DEK", T_UINT, OFF(allow_plaintext_dek), "0", 0, 1, 0, G_DEK, NULL,
     "1 accepts a Plaintext KMS answer without attestation: emulators only, logged loudly"},
    {"DEK_RETRY_MAX_SECS", T_UINT, OFF(dek_retry_max_secs), "60", 1, 3600, 0, G_DEK, NULL,
     "cap of the jittered backoff after a failed key or spec fetch"},
    {"SCHEMA_REFRESH_INTERVAL_SECS", T_UINT, OFF(schema_refresh_secs), "300", 1, 86400, 0, G_DEK,
     NULL, "how often the specs are fetched again from S3 (ETag-conditional)"},
    {"SCHEMA_HEADER_NAME", T_STR, OFF(schema_header), "X-Schema-Name", 0, 0, 0, G_REQ,
     "an HTTP header name", "request header that names the spec of a request"},
    {"MAX_BODY_BYTES", T_SIZE, OFF(max_body_bytes), "1048576", 1024, 256 * MIB, 0, G_REQ, NULL,
     "largest request body accepted (413 above); K, M, G suffixes allowed"},
    {"MAX_DEPTH", T_UINT, OFF(max_depth), "128", 1, 4096, 0, G_REQ, NULL,
     "deepest JSON nesting accepted in a body"},
    {"SPEC_MAX_DOCUMENTS", T_UINT, OFF(spec_max_documents), "1024", 1, 100000, 0, G_REQ, NULL,
     "documents per spec: the spec and the sibling files its $refs name"},
    {"WORKER_THREADS", T_UINT, OFF(worker_threads), NULL, 1, 256, 0, G_REQ, NULL,
     "threads serving connections, one event loop each"},
    {"MAX_CONNECTIONS", T_UINT, OFF(max_connections), "8192", 1, 1000000, 0, G_REQ, NULL,
     "open client connections at most; more are refused"},
    {"HEADER_TIMEOUT_SECS", T_UINT, OFF(header_timeout_secs), "10", 1, 3600, 0, G_REQ, NULL,
     "bound on the TLS handshake and on receiving a request head"},
    {"IDLE_TIMEOUT_SECS", T_UINT, OFF(idle_timeout_secs), "60", 1, 86400, 0, G_REQ, NULL,
     "a keep-alive connection without a request is closed after this"},
    {"REQUEST_TIMEOUT_SECS", T_UINT, OFF(request_timeout_secs), "30", 1, 3600, 0, G_REQ, NULL,
     "bound on receiving a request body and sending the response"},
    {"SHUTDOWN_GRACE_SECS", T_UINT, OFF(shutdown_grace_secs), "20", 0, 3600, 0, G_REQ, NULL,
     "on SIGTERM, time left to requests in flight before the process exits"},
    {"TLS_CERT", T_STR, OFF(tls_cert), NULL, 0, 0, F_EMPTY_UNSET | F_REDACT_URI, G_TLS,
     "PEM file or pkcs11: URI", "server certificate chain (required outside local mode)"},
    {"TLS_KEY", T_STR, OFF(tls_key), NULL, 0, 0, F_EMPTY_UNSET | F_REDACT_URI, G_TLS,
     "PEM file or pkcs11: URI", "private key of TLS_CERT (required outside local mode)"},
    {"TLS_PRIORITIES", T_STR, OFF(tls_priorities),
     "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
     "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL:+GROUP-X25519:"
     "+GROUP-SECP256R1:+GROUP-SECP384R1:%SERVER_PRECEDENCE",
     0, 0, 0, G_TLS, "a GnuTLS priority string",
     "protocol versions, ciphers and groups offered (default: TLS 1.3 and 1.2, AEAD only)"},
    {"TLS_RELOAD_CHECK_SECS", T_UINT, OFF(tls_reload_check_secs), "5", 0, 86400, 0, G_TLS, NULL,
     "how often the certificate files are checked for changes (0: only on SIGHUP)"},
    {"PKCS11_MODULE", T_STR, OFF(pkcs11_module), NULL, 0, 0, F_EMPTY_UNSET, G_TLS, "a file path",
     "PKCS#11 module (.so) that holds a pkcs11: TLS_KEY"},
    {"PKCS11_PIN", T_STR, OFF(pkcs11_pin), NULL, 0, 0, F_EMPTY_UNSET | F_SECRET, G_TLS, NULL,
     "PIN of the PKCS#11 token (secret: never printed); or use PKCS11_PIN_FILE"},
    {"PKCS11_PIN_FILE", T_STR, OFF(pkcs11_pin_file), NULL, 0, 0, F_EMPTY_UNSET, G_TLS,
     "a file path", "file holding the PIN of the PKCS#11 token"},
    {"TLS_CLIENT_CA", T_STR, OFF(tls_client_ca), NULL, 0, 0, F_EMPTY_UNSET, G_TLS, "a PEM file",
     "CAs that client certificates are verified against (required with "
     "DECRYPT_ALLOWED_CLIENTS)"},
    {"DECRYPT_ALLOWED_CLIENTS", T_STR, OFF(decrypt_allowed_clients), NULL, 0, 0, F_EMPTY_UNSET,
     G_TLS, "comma-separated identities (at most 32)",
     "mTLS client identities (subject CN, DNS, URI or e-mail SAN) allowed to call /decrypt"},
    {"LOCAL_SCHEMA_DIR", T_STR, OFF(local_schema_dir), "./schemas", 0, 0, 0, G_LOCAL, "a directory",
     "--local-mode: directory of the specs (NAME.yaml, .yml or .json)"},
    {"LOCAL_STATE_DIR", T_STR, OFF(local_state_dir), "./.nitro-enc", 0, 0, 0, G_LOCAL,
     "a directory", "--local-mode: where the generated key and self-signed certificate live"},
    {"LOCAL_KEY_FILE", T_STR, OFF(local_key_file), NULL, 0, 0, 0, G_LOCAL, "a file path",
     "--local-mode: key file (one base64 key per line), created with a fresh key if missing"},
    {"LOG_LEVEL", T_LEVEL, OFF(log_level), "info", 0, 0, 0, G_OBS, NULL,
     "least severe JSON log line written to stderr"},
    /* AWS client layer and S3 specs (src/aws/aws.h reads these through nes_config_aws) */
    {"SCHEMA_MAX_BYTES", T_SIZE, OFF(schema_max_bytes), "8388608", 1024, 64 * MIB, 0, G_DEK, NULL,
     "largest spec object read from S3; K, M, G suffixes allowed"},
    {"AWS_DEFAULT_REGION", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL, NULL},
    {"AWS_ENDPOINT_URL", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL, NULL},
    {"AWS_ENDPOINT_URL_KMS", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL, NULL},
    {"AWS_ENDPOINT_URL_SECRETS_MANAGER", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS,
     NULL, NULL},
    {"AWS_ENDPOINT_URL_S3", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL, NULL},
    {"AWS_EGRESS", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL, NULL},
    {"AWS_EGRESS_MODE", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL, NULL},
    {"AWS_EC2_METADATA_SERVICE_ENDPOINT", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS,
     NULL, NULL},
    {"AWS_ACCESS_KEY_ID", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL, NULL},
    {"AWS_SECRET_ACCESS_KEY", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY | F_SECRET, G_AWS,
     NULL, NULL},
    {"AWS_SESSION_TOKEN", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY | F_SECRET, G_AWS,
     NULL, NULL},
    {"AWS_CONNECT_TIMEOUT_MS", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL,
     NULL},
    {"AWS_TIMEOUT_MS", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL, NULL},
    {"AWS_MAX_ATTEMPTS", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL, NULL},
    {"AWS_CA_BUNDLE", T_STR, OFF(aws_raw_unused), NULL, 0, 0, F_RAW_ONLY, G_AWS, NULL, NULL},
    {"UNKNOWN_FIELDS", T_STR, OFF(unknown_fields), "reject", 0, 0, 0, G_REQ, "reject, pass",
     "body members no schema declares: refused (reject) or passed unchanged and counted (pass)"},
};
#define NOPT (sizeof(opts) / sizeof(opts[0]))

static void problem(nes_config_problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(nes_config_problems *p, const char *fmt, ...)
{
    if (p->n >= NES_CONFIG_MAX_PROBLEMS) {
        p->more++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->line[p->n], sizeof(p->line[p->n]), fmt, ap);
    va_end(ap);
    p->n++;
}

static int find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPT; i++)
        if (strlen(opts[i].name) == len && strncasecmp(opts[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static void set_raw(nes_config *cfg, int i, const char *v, size_t n, nes_config_source src)
{
    if (cfg->raw[i] != NULL) {
        explicit_bzero(cfg->raw[i], strlen(cfg->raw[i]));
        free(cfg->raw[i]);
    }
    cfg->raw[i] = strndup(v, n);
    cfg->source[i] = src;
}

int nes_config_parse_size(const char *s, size_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    unsigned shift = 0;
    if (*end != '\0') {
        if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kib") == 0)
            shift = 10;
        else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mib") == 0)
            shift = 20;
        else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gib") == 0)
            shift = 30;
        else
            return -1;
    }
    if (shift && v > (SIZE_MAX >> shift))
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

static int parse_ulong(const char *s, unsigned long *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > 0xFFFFFFFFull)
        return -1;
    *out = (unsigned long)v;
    return 0;
}

/** Largest --config file read (a few dozen NAME: value lines). */
#define CONFIG_FILE_MAX ((size_t)1 << 20)

/* The --config file's tree (which points into data); NULL with a problem, or for an empty file. */
static nes_ytree *parse_tree(const char *file, const char *data, size_t len, nes_config_problems *p)
{
    nes_ytree *doc = NULL;
    char msg[160];
    int line = 0;
    const nes_yt_opts o = {.max_depth = 8, .max_nodes = 4096};
    nes_yt_status st = nes_ytree_parse(data, len, &o, &doc, msg, sizeof msg, &line);
    if (st != NES_YT_OK && st != NES_YT_EMPTY)
        problem(p, "--config %s:%d: not valid YAML (%s)", file, line,
                st == NES_YT_SYNTAX ? msg : "too large or too deep");
    return doc;
}

static void load_file(nes_config *cfg, const char *file, nes_config_problems *p)
{
    char *data = NULL;
    size_t len = 0;
    nes_err err;
    if (nes_read_file(file, CONFIG_FILE_MAX, &data, &len, &err) != NES_OK) {
        problem(p, "--config %s: cannot be read (%s)", file, err.msg);
        return;
    }
    nes_ytree *doc = parse_tree(file, data, len, p);
    nes_yn *root = nes_ytree_root(doc);
    if (root != NULL && !nes_yn_is_map(root))
        problem(p, "--config %s: the top level must be a mapping of NAME: value", file);
    void *iter = NULL;
    nes_yn_pair *pair;
    while ((pair = nes_yn_map_iterate(root, &iter)) != NULL) {
        size_t klen = 0, vlen = 0;
        const char *key = nes_yn_scalar(nes_yn_resolve(nes_yn_pair_key(pair)), &klen);
        if (key == NULL) {
            problem(p, "--config %s: every key must be a scalar variable name", file);
            continue;
        }
        int i = find_opt(key, klen);
        if (i < 0) {
            problem(p, "--config %s: unknown setting '%.*s'", file, (int)(klen > 64 ? 64 : klen),
                    key);
            continue;
        }
        const char *val = nes_yn_scalar(nes_yn_resolve(nes_yn_pair_value(pair)), &vlen);
        if (val == NULL) {
            problem(p, "%s (from %s): must be a scalar", opts[i].name, file);
            continue;
        }
        set_raw(cfg, i, val, vlen, NES_SRC_FILE);
    }
    nes_ytree_free(doc);
    explicit_bzero(data, len); /* PKCS11_PIN may be in it */
    free(data);
}

static bool valid_header_name(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 64)
        return false;
    for (const char *c = s; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *c) != NULL))
            return false;
    }
    return true;
}

static void check_readable(const char *name, const char *path, nes_config_problems *p)
{
    if (path == NULL || strncmp(path, "pkcs11:", 7) == 0)
        return;
    if (access(path, R_OK) != 0)
        problem(p, "%s: cannot read '%s': %s", name, path, strerror(errno));
}

static void split_clients(nes_config *cfg, nes_config_problems *p)
{
    const char *s = cfg->decrypt_allowed_clients;
    if (s == NULL)
        return;
    while (*s) {
        while (*s == ',' || *s == ' ')
            s++;
        if (*s == '\0')
            break;
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        while (n > 0 && s[n - 1] == ' ')
            n--;
        if (cfg->n_allowed_clients >= NES_CONFIG_MAX_CLIENTS) {
            problem(p, "DECRYPT_ALLOWED_CLIENTS: more than %d identities", NES_CONFIG_MAX_CLIENTS);
            return;
        }
        cfg->allowed_client[cfg->n_allowed_clients++] = strndup(s, n);
        s += n;
    }
    if (cfg->n_allowed_clients == 0)
        problem(p, "DECRYPT_ALLOWED_CLIENTS: no identity listed");
}

static void typed(nes_config *cfg, nes_config_problems *p)
{
    for (size_t i = 0; i < NOPT; i++) {
        const opt *o = &opts[i];
        const char *v = cfg->raw[i];
        char *field = (char *)cfg + o->off;
        if (v == NULL || (o->flags & F_RAW_ONLY))
            continue;
        unsigned long u;
        size_t sz;
        nes_log_level lvl;
        switch (o->type) {
        case T_STR:
            if ((o->flags & F_EMPTY_UNSET) && *v == '\0')
                break;
            *(char **)field = strdup(v);
            break;
        case T_UINT:
        case T_U32:
            if (parse_ulong(v, &u) != 0 || u < o->min || u > o->max) {
                problem(p, "%s: must be a whole number from %lu to %lu", o->name, o->min, o->max);
                break;
            }
            if (o->type == T_UINT)
                *(unsigned *)field = (unsigned)u;
            else
                *(uint32_t *)field = (uint32_t)u;
            break;
        case T_SIZE:
            if (nes_config_parse_size(v, &sz) != 0 || sz < o->min || sz > o->max) {
                problem(p, "%s: must be a size from %lu to %lu bytes (K, M, G suffixes allowed)",
                        o->name, o->min, o->max);
                break;
            }
            *(size_t *)field = sz;
            break;
        case T_LEVEL:
            if (nes_log_level_parse(v, &lvl) != 0) {
                problem(p, "%s: must be one of debug, info, warn, error, off", o->name);
                break;
            }
            *(nes_log_level *)field = lvl;
            break;
        case T_BOOL:
            if (!strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
                !strcmp(v, "1"))
                *(bool *)field = true;
            else if (!strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
                     !strcmp(v, "0"))
                *(bool *)field = false;
            else
                problem(p, "%s: must be on or off", o->name);
            break;
        }
    }
}

static void validate(nes_config *cfg, nes_config_problems *p)
{
    char why[256];
    if (!cfg->local_mode) {
        for (size_t i = 0; i < NOPT; i++)
            if ((opts[i].flags & F_AWS) && (cfg->raw[i] == NULL || cfg->raw[i][0] == '\0'))
                problem(p, "%s: required (or run with --local-mode)", opts[i].name);
        if (cfg->tls_cert == NULL)
            problem(p, "TLS_CERT: required (a PEM file or a pkcs11: URI)");
        if (cfg->tls_key == NULL)
            problem(p, "TLS_KEY: required (a PEM file or a pkcs11: URI)");
        const char *egress = nes_config_raw(cfg, "AWS_EGRESS");
        if (cfg->raw[find_opt("VSOCK_PROXY_CID", 15)] == NULL && (egress == NULL || !*egress))
            problem(p, "VSOCK_PROXY_CID: required (or set AWS_EGRESS; run with --local-mode)");
        nes_aws_config aws;
        if (nes_config_aws(cfg, &aws, why, sizeof(why)) != 0)
            problem(p, "%s", why);
        nes_aws_config_clear(&aws);
        if (cfg->otel_endpoint != NULL &&
            nes_endpoint_parse(cfg->otel_endpoint, &(nes_endpoint){0}, why, sizeof(why)) != 0 &&
            strncmp(cfg->otel_endpoint, "http", 4) != 0)
            problem(p, "OTEL_EXPORTER_OTLP_ENDPOINT: %s", why);
    } else if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        problem(p, "TLS_CERT and TLS_KEY: set both or neither (local mode generates a pair)");
    }
    if (cfg->listen == NULL || nes_endpoint_parse(cfg->listen, &cfg->listen_ep, why, sizeof(why)))
        problem(p, "LISTEN: %s", cfg->listen ? why : "missing");
    if (cfg->upstream != NULL &&
        nes_endpoint_parse(cfg->upstream, &cfg->upstream_ep, why, sizeof(why)) != 0)
        problem(p, "UPSTREAM: %s", why);
    if (nes_retallow_parse(cfg->proxy_return_allow, &cfg->return_allow, why, sizeof(why)) != 0)
        problem(p, "%s", why);
    cfg->unknown_fields_pass =
        cfg->unknown_fields != NULL && strcmp(cfg->unknown_fields, "pass") == 0;
    if (cfg->unknown_fields == NULL ||
        (strcmp(cfg->unknown_fields, "reject") != 0 && strcmp(cfg->unknown_fields, "pass") != 0))
        problem(p, "UNKNOWN_FIELDS: must be reject or pass");
    if (!valid_header_name(cfg->schema_header))
        problem(p, "SCHEMA_HEADER_NAME: must be an HTTP header name (letters, digits, '-')");
    check_readable("TLS_CERT", cfg->tls_cert, p);
    check_readable("TLS_KEY", cfg->tls_key, p);
    check_readable("TLS_CLIENT_CA", cfg->tls_client_ca, p);
    check_readable("PKCS11_MODULE", cfg->pkcs11_module, p);
    check_readable("PKCS11_PIN_FILE", cfg->pkcs11_pin_file, p);
    if (cfg->tls_cert != NULL && strncmp(cfg->tls_cert, "pkcs11:", 7) == 0 &&
        (cfg->tls_key == NULL || strncmp(cfg->tls_key, "pkcs11:", 7) != 0))
        problem(p, "TLS_CERT: a pkcs11: certificate needs a pkcs11: TLS_KEY");
    if (cfg->pkcs11_pin != NULL && cfg->pkcs11_pin_file != NULL)
        problem(p, "PKCS11_PIN and PKCS11_PIN_FILE: set at most one");
    split_clients(cfg, p);
    if (cfg->n_allowed_clients > 0 && cfg->tls_client_ca == NULL)
        problem(p, "TLS_CLIENT_CA: required when DECRYPT_ALLOWED_CLIENTS is set");
    if (cfg->nsm_device == NULL || cfg->nsm_device[0] == '\0' ||
        strcmp(cfg->nsm_device, NES_NSM_TEST_PREFIX) == 0)
        problem(p, "NSM_DEVICE: a device path (/dev/nsm) or test:DIR");
    if (cfg->dek_context != NULL && !nes_awsjson_is_string_map(cfg->dek_context))
        problem(p, "DEK_ENCRYPTION_CONTEXT: must be a JSON object of string values");
    if (cfg->local_mode && (cfg->local_schema_dir == NULL || *cfg->local_schema_dir == '\0'))
        problem(p, "LOCAL_SCHEMA_DIR: must name a directory");
}

int nes_config_load(nes_config *cfg, bool local_mode, char *const *envp, const char *file,
                    unsigned ncpu, nes_config_problems *problems)
{
    memset(cfg, 0, sizeof(*cfg));
    memset(problems, 0, sizeof(*problems));
    cfg->local_mode = local_mode;
    cfg->raw = calloc(NOPT, sizeof(char *));
    cfg->source = calloc(NOPT, sizeof(nes_config_source));
    if (cfg->raw == NULL || cfg->source == NULL) {
        problem(problems, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < NOPT; i++)
        if (opts[i].def != NULL)
            set_raw(cfg, (int)i, opts[i].def, strlen(opts[i].def), NES_SRC_DEFAULT);
    for (char *const *e = envp; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        /* Environment names are case-sensitive: only the exact upper-case names count. */
        int i = find_opt(*e, (size_t)(eq - *e));
        if (i >= 0 && strncmp(opts[i].name, *e, (size_t)(eq - *e)) == 0)
            set_raw(cfg, i, eq + 1, strlen(eq + 1), NES_SRC_ENV);
    }
    if (file != NULL)
        load_file(cfg, file, problems);

    /* Defaults that depend on other values. */
    int i_listen = find_opt("LISTEN", 6), i_workers = find_opt("WORKER_THREADS", 14);
    int i_keyfile = find_opt("LOCAL_KEY_FILE", 14), i_state = find_opt("LOCAL_STATE_DIR", 15);
    int i_port = find_opt("TLS_PORT", 8);
    if (cfg->raw[i_workers] == NULL) {
        char n[16];
        snprintf(n, sizeof(n), "%u", ncpu == 0 ? 1 : (ncpu > 256 ? 256 : ncpu));
        set_raw(cfg, i_workers, n, strlen(n), NES_SRC_DEFAULT);
    }
    if (cfg->raw[i_listen] == NULL) {
        char l[64];
        if (local_mode)
            snprintf(l, sizeof(l), "tcp://127.0.0.1:8443");
        else
            snprintf(l, sizeof(l), "vsock://any:%s", cfg->raw[i_port]);
        set_raw(cfg, i_listen, l, strlen(l), NES_SRC_DEFAULT);
    }
    if (cfg->raw[i_keyfile] == NULL) {
        char k[4096];
        snprintf(k, sizeof(k), "%s/dev.key", cfg->raw[i_state]);
        set_raw(cfg, i_keyfile, k, strlen(k), NES_SRC_DEFAULT);
    }
    typed(cfg, problems);
    validate(cfg, problems);
    return (problems->n == 0 && problems->more == 0) ? 0 : -1;
}

void nes_config_free(nes_config *cfg)
{
    if (cfg->raw != NULL) {
        for (size_t i = 0; i < NOPT; i++) {
            if (opts[i].type == T_STR) {
                char **f = (char **)((char *)cfg + opts[i].off);
                if (*f != NULL) {
                    explicit_bzero(*f, strlen(*f));
                    free(*f);
                }
            }
            if (cfg->raw[i] != NULL) {
                explicit_bzero(cfg->raw[i], strlen(cfg->raw[i]));
                free(cfg->raw[i]);
            }
        }
    }
    for (size_t i = 0; i < cfg->n_allowed_clients; i++)
        free(cfg->allowed_client[i]);
    free(cfg->raw);
    free(cfg->source);
    memset(cfg, 0, sizeof(*cfg));
}

const char *nes_config_raw(const nes_config *cfg, const char *name)
{
    int i = find_opt(name, strlen(name));
    return (i < 0 || cfg->raw == NULL) ? NULL : cfg->raw[i];
}

/* AWS settings by name for nes_aws_config_load; AWS_REGION falls back to the region of an ARN
 * in SECRET_ARN or KMS_KEY_ID ("arn:aws:kms:REGION:..."). */
static const char *aws_lookup(void *ud, const char *name)
{
    const nes_config *cfg = ud;
    const char *v = nes_config_raw(cfg, name);
    if (v != NULL || strcmp(name, "AWS_REGION") != 0)
        return v;
    static _Thread_local char region[64];
    const char *arns[] = {cfg->secret_arn, cfg->kms_key_id};
    for (size_t i = 0; i < 2; i++) {
        const char *a = arns[i];
        if (a == NULL || strncmp(a, "arn:", 4) != 0)
            continue;
        const char *r = a;
        for (int colons = 0; colons < 3 && r != NULL; colons++)
            r = strchr(r, ':') ? strchr(r, ':') + 1 : NULL;
        const char *e = r ? strchr(r, ':') : NULL;
        if (e != NULL && e > r && (size_t)(e - r) < sizeof(region)) {
            memcpy(region, r, (size_t)(e - r));
            region[e - r] = '\0';
            return region;
        }
    }
    return NULL;
}

int nes_config_aws(const nes_config *cfg, nes_aws_config *out, char *why, size_t why_len)
{
    /* nes_aws_config_load takes a mutable user pointer; the lookup only reads. */
    union {
        const nes_config *c;
        void *v;
    } u = {.c = cfg};
    return nes_aws_config_load(out, aws_lookup, u.v, why, why_len);
}

void nes_config_redact_uri(const char *uri, char *out, size_t out_len)
{
    size_t o = 0;
    if (out_len == 0)
        return;
    for (const char *s = uri; *s && o + 1 < out_len;) {
        bool at_attr = (s == uri || s[-1] == ';' || s[-1] == '?' || s[-1] == ':' || s[-1] == '&');
        if (at_attr && (strncmp(s, "pin-value=", 10) == 0 || strncmp(s, "pin-source=", 11) == 0)) {
            const char *eq = strchr(s, '=');
            size_t klen = (size_t)(eq - s) + 1;
            const char *red = "<redacted>";
            for (size_t k = 0; k < klen && o + 1 < out_len; k++)
                out[o++] = s[k];
            for (const char *r = red; *r && o + 1 < out_len; r++)
                out[o++] = *r;
            s = eq + 1;
            while (*s && *s != ';' && *s != '&')
                s++;
            continue;
        }
        out[o++] = *s++;
    }
    out[o] = '\0';
}

void nes_config_print(const nes_config *cfg, FILE *out)
{
    static const char *const src[] = {"default", "environment", "config file"};
    fprintf(out, "# nitro-enc-svc effective configuration (%s mode)\n",
            cfg->local_mode ? "local" : "enclave");
    for (size_t i = 0; i < NOPT; i++) {
        const char *v = cfg->raw[i];
        if (v == NULL) {
            fprintf(out, "%s=  # unset\n", opts[i].name);
            continue;
        }
        if (opts[i].flags & F_SECRET) {
            fprintf(out, "%s=<redacted>  # %s\n", opts[i].name, src[cfg->source[i]]);
        } else if (opts[i].flags & F_REDACT_URI) {
            char red[1024];
            nes_config_redact_uri(v, red, sizeof(red));
            fprintf(out, "%s=%s  # %s\n", opts[i].name, red, src[cfg->source[i]]);
        } else {
            fprintf(out, "%s=%s  # %s\n", opts[i].name, v, src[cfg->source[i]]);
        }
    }
}

/* Defaults nes_config_load derives from other values (the table has none for them). */
static const char *derived_default(const char *name)
{
    static const struct {
        const char *name, *text;
    } d[] = {
        {"LISTEN", "tcp://127.0.0.1:8443 with --local-mode, else vsock://any:TLS_PORT"},
        {"WORKER_THREADS", "the number of online CPUs (at most 256)"},
        {"LOCAL_KEY_FILE", "LOCAL_STATE_DIR/dev.key"},
    };
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
        if (strcmp(d[i].name, name) == 0)
            return d[i].text;
    return NULL;
}

/* Appends the reference row of `o` at v[n] (an AWS layer row for F_RAW_ONLY settings); returns
 * the new count. `range` holds the range text of a numeric setting. */
static size_t reference_row(const opt *o, nes_cfgref_var *v, size_t n, char *range,
                            size_t range_len)
{
    static const char *const type_name[] = {"string", "integer", "integer",
                                            "size",   "level",   "on/off"};
    const nes_cfgref_var *aws = nes_aws_config_ref_find(o->name);
    if ((o->flags & F_RAW_ONLY) && aws != NULL) {
        v[n] = *aws; /* validated and applied by the AWS layer: its row */
        return n + 1;
    }
    const char *derived = derived_default(o->name);
    v[n] = (nes_cfgref_var){.group = o->group,
                            .name = o->name,
                            .type = type_name[o->type],
                            .def = derived != NULL ? derived : o->def,
                            .def_derived = derived != NULL,
                            .allowed = o->values,
                            .help = o->help};
    if (o->type == T_UINT || o->type == T_U32 || o->type == T_SIZE)
        v[n].allowed = nes_cfgref_range(o->min, o->max, o->type == T_SIZE, range, range_len);
    else if (o->type == T_LEVEL)
        v[n].allowed = "debug, info, warn, error, off";
    else if (o->type == T_BOOL)
        v[n].allowed = "on, off (also true/false, yes/no, 1/0)";
    return n + 1;
}

int nes_config_reference(FILE *out)
{
    /* the order of the sections in the reference (rows keep the table's order inside one) */
    static const char *const order[] = {G_NET, G_REQ, G_TLS, G_DEK, G_AWS, G_LOCAL, G_OBS};
    nes_cfgref_var v[NOPT + 32];
    char range[NOPT][64];
    size_t n = 0, listed = 0;
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        for (size_t i = 0; i < NOPT; i++) {
            if (strcmp(opts[i].group, order[k]) == 0) {
                n = reference_row(&opts[i], v, n, range[i], sizeof(range[i]));
                listed++;
            }
        }
        if (strcmp(order[k], G_OBS) == 0 &&
            nes_cfgref_append(v, &n, sizeof(v) / sizeof(v[0]), nes_otel_vars, nes_otel_vars_n) != 0)
            return -1;
    }
    if (listed != NOPT)
        return -1; /* a setting of a group missing from `order` */
    return nes_cfgref_print(
        out, "nitro-enc-svc",
        "Environment variables, or the same names as keys of the YAML file of `--config FILE` "
        "(the file wins). `--check-config` prints the effective values, secrets redacted. Names "
        "marked required are needed outside `--local-mode` only.",
        v, n);
}
