/* aws.h - the AWS client layer (DESIGN sections 2, 3): where calls go, which credentials sign
 * them, and the per-thread client that sends them.
 *
 * One configuration (nes_aws_config) describes the region, the endpoint of each service, the
 * egress path and the timeouts; nes_aws_config_load fills it from AWS SDK-style variables through
 * a lookup callback (getenv for the CLI, the service's configuration table for nitro-enc-svc), so
 * both programs follow the same rules:
 *
 * - Endpoints: `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_S3`
 *   win over `AWS_ENDPOINT_URL`; without one, `https://<svc>.<region>.amazonaws.com`. Plain
 *   `http://` is accepted only through these variables. S3 is addressed path-style when an
 *   endpoint is given, virtual-hosted otherwise. `AWS_REGION` (else `AWS_DEFAULT_REGION`) is
 *   required.
 * - Egress (`AWS_EGRESS`): `direct` (default); `tcp://HOST:PORT`, an HTTP CONNECT proxy (TLS runs
 *   end to end through the tunnel); `vsock://CID:PORT` (also spelt `VSOCK_PROXY_CID` +
 *   `VSOCK_PROXY_PORT`), which libcurl cannot reach itself: the program starts a bridge (a Unix
 *   socket relayed to the vsock endpoint, src/net) and calls nes_aws_config_set_bridge with its
 *   path before creating clients. `AWS_EGRESS_MODE` says what the far end speaks: `connect`
 *   (default; one port serves every AWS host) or `forward` (a fixed port forward, like AWS's
 *   vsock-proxy: every request goes to that one socket).
 * - Credentials, in order: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
 *   else IMDSv2 at `AWS_EC2_METADATA_SERVICE_ENDPOINT` (default http://169.254.169.254) through
 *   the same egress path: PUT a session token, read the instance role's name, then its
 *   credentials; they are refreshed five minutes before they expire.
 * - Timeouts and retries: `AWS_CONNECT_TIMEOUT_MS` (default 3000), `AWS_TIMEOUT_MS` (per attempt,
 *   default 10000), `AWS_MAX_ATTEMPTS` (default 4, the SDKs' name): throttling, 5xx and
 *   connection errors are retried with full-jitter exponential backoff (base 100 ms, cap 5 s).
 *
 * A client (nes_aws_client) is one libcurl easy handle with its connections kept alive: use one
 * per thread. Every call signs with our own SigV4 (sigv4.h), retries as above, corrects the
 * signing clock once when AWS answers with a clock-skew error (offset taken from the answer's
 * `Date`, logged), bounds every response body, and turns an AWS error into one nes_aws_error
 * (HTTP status, AWS error code and message — never a body, a secret or key material) and one
 * log event. Logging goes through the callback in the configuration (this floor has no logger
 * of its own); NULL logs nothing. */
#ifndef NES_AWS_AWS_H
#define NES_AWS_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The services the clients speak to. */
typedef enum nes_aws_service {
    NES_AWS_KMS = 0,
    NES_AWS_SECRETS, /**< Secrets Manager */
    NES_AWS_S3,
    NES_AWS_NSERVICES,
} nes_aws_service;

/** How requests leave the process. */
typedef enum nes_aws_egress {
    NES_EGRESS_DIRECT = 0, /**< straight to the endpoint */
    NES_EGRESS_PROXY,      /**< HTTP CONNECT proxy at proxy_host:proxy_port */
    NES_EGRESS_VSOCK,      /**< vsock CID:port, reached through a Unix socket bridge */
} nes_aws_egress;

/** Failure classes of nes_aws_error.kind. */
typedef enum nes_aws_errkind {
    NES_AWS_OK = 0,
    NES_AWS_ERR_CONFIG,   /**< missing or invalid setting */
    NES_AWS_ERR_CREDS,    /**< no credentials, or IMDS failed */
    NES_AWS_ERR_NET,      /**< connect, TLS, timeout or transfer error after every retry */
    NES_AWS_ERR_SERVICE,  /**< AWS answered with an error (code and message set) */
    NES_AWS_ERR_NOTFOUND, /**< AWS said the secret, key, bucket or object does not exist */
    NES_AWS_ERR_RESPONSE, /**< the answer is malformed or lacks a required field */
    NES_AWS_ERR_LIMIT,    /**< the answer (or an object) is larger than allowed */
    NES_AWS_ERR_NOMEM,
} nes_aws_errkind;

/** What went wrong with a call: printable, bounded, free of secrets and bodies. */
typedef struct nes_aws_error {
    nes_aws_errkind kind;
    long http_status; /**< 0 when no HTTP answer was received */
    int attempts;     /**< attempts made */
    char code[64];    /**< AWS error code ("ThrottlingException"), or a short local code */
    char message[256];
} nes_aws_error;

/** Levels of log events. */
typedef enum nes_aws_loglevel {
    NES_AWS_LOG_DEBUG = 0,
    NES_AWS_LOG_INFO,
    NES_AWS_LOG_WARN,
    NES_AWS_LOG_ERROR,
} nes_aws_loglevel;

/** One log event: a fixed message and the facts of the call. Strings may be NULL or empty. */
typedef struct nes_aws_event {
    nes_aws_loglevel level;
    const char *msg;     /**< e.g. "AWS call failed", "AWS call retried", "clock skew corrected" */
    const char *service; /**< "kms", "secretsmanager", "s3", "imds" */
    const char *operation; /**< "Decrypt", "GetObject", ... */
    long http_status;
    const char *code;    /**< AWS or local error code */
    const char *message; /**< AWS error message (sanitised: printable, at most 255 bytes) */
    int attempt;         /**< 1-based attempt number */
    long long skew_secs; /**< clock offset applied (clock-skew events) */
} nes_aws_event;

/** Receives log events (from the calling thread; must not call back into the client). */
typedef void (*nes_aws_log_fn)(void *ud, const nes_aws_event *ev);

/** Observes every finished call (all its attempts): service, operation, wall time in
 * microseconds, success. From the calling thread; for metrics and spans. */
typedef void (*nes_aws_call_fn)(void *ud, nes_aws_service svc, const char *operation,
                                uint64_t latency_us, bool ok);

/** Looks a setting up by name; NULL when unset. (getenv fits, through a small wrapper.) */
typedef const char *(*nes_aws_lookup_fn)(void *ud, const char *name);

/** Static credentials. Secret fields are wiped by nes_aws_config_clear. */
typedef struct nes_aws_creds {
    char access_key[128];
    char secret_key[128];
    char session_token[4096]; /**< empty: none */
    int64_t expires;          /**< Unix seconds; 0: never */
} nes_aws_creds;

/** Where and how calls go. Fill with nes_aws_config_load; plain data, may be copied. */
typedef struct nes_aws_config {
    char region[64];
    char endpoint[NES_AWS_NSERVICES][512];  /**< scheme://host[:port][/base], no trailing '/' */
    bool endpoint_given[NES_AWS_NSERVICES]; /**< from a variable (S3: path-style) */
    nes_aws_egress egress;
    bool egress_forward; /**< far end is a fixed port forward rather than a CONNECT proxy */
    char proxy_host[256];
    unsigned proxy_port;
    uint32_t vsock_cid;
    unsigned vsock_port;
    char bridge_path[108]; /**< Unix socket bridged to the egress ('@' first: abstract) */
    char imds_endpoint[512];
    bool have_static_creds;
    nes_aws_creds creds;
    unsigned connect_timeout_ms, timeout_ms, max_attempts, backoff_base_ms, backoff_max_ms;
    size_t max_response_bytes; /**< JSON answers (default 1 MiB) */
    char ca_file[512];         /**< CA bundle for TLS to endpoints (`AWS_CA_BUNDLE`); "" = system */
    nes_aws_log_fn log;
    void *log_ud;
    nes_aws_call_fn on_call; /**< NULL: not observed */
    void *call_ud;
} nes_aws_config;

/** The variables nes_aws_config_load reads, NULL-terminated (for --check-config tables). */
extern const char *const nes_aws_config_vars[];

/** Fills `cfg` from the settings `lookup` returns (see the header comment). 0, or -1 with one
 * line naming the variable and the problem in `why` (never a secret's value). */
int nes_aws_config_load(nes_aws_config *cfg, nes_aws_lookup_fn lookup, void *ud, char *why,
                        size_t why_len);

/** Sets the Unix socket that the vsock egress is bridged to (for NES_EGRESS_VSOCK; with
 * AWS_EGRESS_MODE=forward or connect as configured). Call it before nes_aws_credsrc_new and
 * nes_aws_client_new (they copy the configuration): with vsock egress and no bridge every call
 * fails with NES_AWS_ERR_CONFIG "NoEgressBridge". 0, or -1 when the path is too long. */
int nes_aws_config_set_bridge(nes_aws_config *cfg, const char *path);

/** Wipes the credentials held in `cfg`. */
void nes_aws_config_clear(nes_aws_config *cfg);

/** The short name of `svc` used in logs and SigV4 scopes: "kms", "secretsmanager", "s3". */
const char *nes_aws_service_name(nes_aws_service svc);

/** A source of credentials shared by every client of a process (thread-safe; IMDS results are
 * cached and refreshed before expiry). */
typedef struct nes_aws_credsrc nes_aws_credsrc;

/** Credentials from `cfg` (static ones, or IMDSv2). The configuration is copied. NULL when out
 * of memory. */
nes_aws_credsrc *nes_aws_credsrc_new(const nes_aws_config *cfg);

/** Current credentials into `out` (fetching or refreshing them from IMDS when needed). 0, or -1
 * with `err` set (kind NES_AWS_ERR_CREDS). */
int nes_aws_credsrc_get(nes_aws_credsrc *src, nes_aws_creds *out, nes_aws_error *err);

/** Frees the source (wiping what it holds). NULL is fine. */
void nes_aws_credsrc_free(nes_aws_credsrc *src);

/** One thread's connection to AWS. */
typedef struct nes_aws_client nes_aws_client;

/** A client over `cfg` (copied) signing with `creds` (borrowed: must outlive the client). NULL
 * when libcurl cannot be initialised. Call nes_aws_global_init once before the first one. */
nes_aws_client *nes_aws_client_new(const nes_aws_config *cfg, nes_aws_credsrc *creds);

/** Frees a client and closes its connections. NULL is fine. */
void nes_aws_client_free(nes_aws_client *c);

/** The clock offset (seconds) the client currently adds to its own clock when signing. */
long long nes_aws_client_skew(const nes_aws_client *c);

/** libcurl's global setup; once per process, before any thread starts a client. 0 or -1. */
int nes_aws_global_init(void);

/** libcurl's global teardown, after every client is freed. */
void nes_aws_global_cleanup(void);

/** Sets `err` (never NULL) to kind with a printf-style message; returns -1. */
int nes_aws_fail(nes_aws_error *err, nes_aws_errkind kind, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** A short name of an error kind ("network", "service", ...). */
const char *nes_aws_errkind_name(nes_aws_errkind kind);

#endif
