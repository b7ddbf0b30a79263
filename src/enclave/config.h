/* config.h - the service configuration (DESIGN section 8).
 *
 * Sources, later ones winning: built-in defaults, the environment, then the optional YAML file
 * of `--config FILE` (a mapping of the same variable names to scalars). Every value is checked
 * at load; each problem is one line naming the variable and what is wrong (never echoing a
 * secret). `--local-mode` needs no AWS variable. */
#ifndef NES_ENCLAVE_CONFIG_H
#define NES_ENCLAVE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aws/aws.h"
#include "enclave/retallow.h"
#include "net/endpoint.h"
#include "obs/log.h"

/** Most problems reported by one load (the rest are counted in `more`). */
#define NES_CONFIG_MAX_PROBLEMS 32
/** Most entries in DECRYPT_ALLOWED_CLIENTS. */
#define NES_CONFIG_MAX_CLIENTS 32

/** Problems found while loading: one line each. */
typedef struct nes_config_problems {
    char line[NES_CONFIG_MAX_PROBLEMS][256];
    int n;
    int more;
} nes_config_problems;

/** Where a value came from. */
typedef enum nes_config_source {
    NES_SRC_DEFAULT = 0,
    NES_SRC_ENV,
    NES_SRC_FILE,
} nes_config_source;

/** The typed, validated configuration. Strings are owned (freed by nes_config_free); NULL when
 * unset. */
typedef struct nes_config {
    bool local_mode;
    bool unknown_fields_pass; /* UNKNOWN_FIELDS=pass */
    /* network */
    char *listen;
    nes_endpoint listen_ep;
    unsigned tls_port;
    char *upstream;
    nes_endpoint upstream_ep;
    /* proxy mode (enclave/proxy_mode.h) */
    bool proxy_protocol;       /**< PROXY_PROTOCOL: a PROXY v2 header opens every connection */
    bool proxy_pass_unmatched; /**< PROXY_PASS_UNMATCHED: forward unmatched requests untouched */
    unsigned upstream_timeout_secs; /**< UPSTREAM_TIMEOUT_SECS */
    char *proxy_return_allow;       /**< PROXY_RETURN_ALLOW (enclave/retallow.h) */
    nes_retallow return_allow;      /**< ... parsed */
    /* AWS (unused in local mode) */
    char *secret_arn, *kms_key_id, *s3_bucket, *s3_prefix, *aws_region;
    uint32_t vsock_proxy_cid;
    unsigned vsock_proxy_port;
    char *otel_endpoint;
    unsigned dek_rotation_secs, dek_keep_previous, schema_refresh_secs;
    /* DEK provider and NSM */
    char *nsm_device, *dek_context;
    unsigned allow_plaintext_dek, dek_retry_max_secs;
    /* requests */
    char *schema_header;
    size_t max_body_bytes;
    unsigned max_depth;
    unsigned spec_max_documents; /* documents per spec: the spec and its sibling files */
    unsigned worker_threads;
    unsigned max_connections;
    unsigned header_timeout_secs, idle_timeout_secs, request_timeout_secs, shutdown_grace_secs;
    /* TLS */
    char *tls_cert, *tls_key, *tls_priorities, *pkcs11_module, *pkcs11_pin, *pkcs11_pin_file;
    char *tls_client_ca;
    unsigned tls_reload_check_secs;
    char *decrypt_allowed_clients;
    char *allowed_client[NES_CONFIG_MAX_CLIENTS];
    size_t n_allowed_clients;
    /* local mode */
    char *local_schema_dir, *local_key_file, *local_state_dir;
    /* logs */
    nes_log_level log_level;
    /* AWS client layer and S3 specs (the AWS_* variables stay text: see nes_config_aws) */
    size_t schema_max_bytes;
    char *aws_raw_unused; /**< never set: target of the text-only AWS_* table entries */
    /* fail closed (DESIGN section 6): UNKNOWN_FIELDS=pass lets undeclared members pass */
    char *unknown_fields;

    /* raw values as loaded, for --check-config (index = option number) */
    char **raw;
    nes_config_source *source;
} nes_config;

/** Loads the configuration from `envp` (a NULL-terminated "NAME=value" array, e.g. environ) and
 * the YAML file `file` (NULL: none). `ncpu` is the default for WORKER_THREADS. Returns 0 when
 * valid, else -1 with `problems` filled. `cfg` must be freed with nes_config_free either way. */
int nes_config_load(nes_config *cfg, bool local_mode, char *const *envp, const char *file,
                    unsigned ncpu, nes_config_problems *problems);

/** Frees every string of `cfg` (wiping secrets) and zeroes it. */
void nes_config_free(nes_config *cfg);

/** Prints the effective configuration, one `NAME=value  # source` line per option, secrets
 * (PKCS11_PIN, a pin-value in a pkcs11: URI) as <redacted>. */
void nes_config_print(const nes_config *cfg, FILE *out);

/** The effective text of setting `name` (default, environment or file), or NULL when unset. */
const char *nes_config_raw(const nes_config *cfg, const char *name);

/** The AWS client configuration (aws.h) from the settings: AWS_REGION (else AWS_DEFAULT_REGION,
 * else the region of an ARN in SECRET_ARN or KMS_KEY_ID), endpoints, egress (AWS_EGRESS, or
 * VSOCK_PROXY_CID/VSOCK_PROXY_PORT), credentials, timeouts. 0, or -1 with one line in `why`.
 * Wipe `out` with nes_aws_config_clear. Validated at load outside local mode. */
int nes_config_aws(const nes_config *cfg, nes_aws_config *out, char *why, size_t why_len);

/** Parses a size: digits with an optional K, KiB, M, MiB, G or GiB suffix (binary units).
 * 0 or -1. */
int nes_config_parse_size(const char *s, size_t *out);

/** Copies `uri` to `out` with the value of any pin-value or pin-source attribute replaced by
 * <redacted> (for pkcs11: URIs); always NUL-terminated. */
void nes_config_redact_uri(const char *uri, char *out, size_t out_len);

/** Writes the service's section of docs/configuration.md (core/cfgref.h) to `out`: every
 * setting of the table with its type, default, range and description, then the AWS_* rows of
 * aws/config_ref.h and the OTEL_* rows of otel/vars.h. 0, or -1 (a row without a description or
 * in a group the reference does not order, out of memory, a write error). */
int nes_config_reference(FILE *out);

#endif
