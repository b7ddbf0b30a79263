/* config.h - nitro-enc-proxy's configuration: environment variables, checked at start.
 *
 * Both modes: LOG_LEVEL (info), METRICS_ADDR (unset: no metrics listener; an endpoint URI or
 * host:port), WORKER_THREADS (cores), MAX_CONNECTIONS (4096), IDLE_TIMEOUT_SECS (300),
 * CONNECT_TIMEOUT_SECS (10), SHUTDOWN_GRACE_SECS (20), RELAY_BUFFER_BYTES (65536 per direction),
 * BUSY_POLL_US (0: off; 0..1000000, each relay loop's busy-poll window, net/loop.h).
 *
 * ingress (pod sidecar): LISTEN_PORT (8443) or LISTEN (a URI, wins; default tcp://0.0.0.0:PORT),
 * ENCLAVE_CID (required unless ENCLAVE is set) and ENCLAVE_PORT (443), or ENCLAVE (a URI),
 * MAIN_APP_ADDR (required; host:port or a URI), RETURN_LISTEN (vsock://any:0: any free port),
 * RETURN_ADVERTISE (the URI the enclave is told to connect to; by default derived from the bound
 * return socket: vsock://3:PORT for a vsock listener, the parent being CID 3 as the enclave sees
 * it; the listener's own URI with its bound port otherwise).
 *
 * egress (parent instance): LISTEN (a URI; default vsock://any:LISTEN_PORT, LISTEN_PORT 8000),
 * and exactly one of UPSTREAM (host:port or URI: every connection goes there) and ALLOWLIST (a
 * YAML file, allowlist.h: CONNECT host:port limited to it), HEAD_MAX_BYTES (8192: the CONNECT
 * head's bound), HEAD_TIMEOUT_SECS (10).
 *
 * Each problem is one line naming the variable; the caller prints them and exits 2. The table
 * of settings in config.c (bounds, defaults, descriptions) drives both the loader and
 * nes_proxy_config_reference, the proxy's section of docs/configuration.md. */
#ifndef NES_PROXY_CONFIG_H
#define NES_PROXY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "net/endpoint.h"
#include "obs/log.h"
#include "proxy/allowlist.h"

#define NES_PROXY_MAX_PROBLEMS 32

typedef enum nes_proxy_mode {
    NES_PROXY_INGRESS = 1,
    NES_PROXY_EGRESS,
} nes_proxy_mode;

typedef struct nes_proxy_problems {
    char line[NES_PROXY_MAX_PROBLEMS][256];
    int n;
} nes_proxy_problems;

typedef struct nes_proxy_config {
    nes_proxy_mode mode;
    nes_log_level log_level;
    nes_endpoint listen;
    nes_endpoint enclave;  /**< ingress */
    nes_endpoint main_app; /**< ingress */
    nes_endpoint ret_listen;
    char ret_advertise[300]; /**< empty: derived once the return socket is bound */
    bool has_upstream;
    nes_endpoint upstream; /**< egress, fixed mode */
    char allowlist_path[4096];
    nes_allowlist allow; /**< egress, CONNECT mode */
    bool has_metrics;
    nes_endpoint metrics;
    unsigned threads, max_conns, idle_secs, connect_secs, grace_secs, head_secs;
    unsigned busy_poll_us; /**< relay loops' busy-poll window (us; 0: off) */
    size_t buf_bytes, head_max;
} nes_proxy_config;

/** Loads the configuration of `mode` from `envp` (NULL-terminated NAME=value strings). 0, or -1
 * with the problems in `pr`. Free with nes_proxy_config_free. */
int nes_proxy_config_load(nes_proxy_config *cfg, nes_proxy_mode mode, char *const *envp,
                          nes_proxy_problems *pr);

/** Prints the effective configuration, one NAME=value line each. */
void nes_proxy_config_print(const nes_proxy_config *cfg, FILE *out);

/** Writes the proxy's section of docs/configuration.md (core/cfgref.h) to `out`: the settings
 * of both modes from the table the loader uses, then the OTEL_* rows (obs/otel/vars.h).
 * 0, or -1. */
int nes_proxy_config_reference(FILE *out);

/** Frees what the configuration owns. */
void nes_proxy_config_free(nes_proxy_config *cfg);

#endif
