/* server.h - the HTTPS server (DESIGN sections 2 and 3): libmicrohttpd with a worker pool on
 * epoll and no listen socket of its own; the service's acceptor accepts each connection,
 * runs the pre-TLS step (where the PROXY v2 header will be read) and hands the socket to the
 * daemon with MHD_add_connection. */
#ifndef NES_ENCLAVE_SERVER_H
#define NES_ENCLAVE_SERVER_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enclave/config.h"

typedef struct nes_server {
    const nes_config *cfg;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int stop_fd; /* eventfd that wakes the acceptor to stop */
    pthread_t acceptor;
    bool acceptor_running;
    int bound_port; /* tcp/vsock port actually bound (useful with port 0) */
    char *client_ca_pem;
    _Atomic bool draining;
    _Atomic long inflight;
    _Atomic uint64_t rejected;
    _Atomic uint64_t tls_reloads, tls_reload_errors, schema_refresh_errors;
} nes_server;

/** The embedded OpenAPI description of this service (docs/openapi.yaml). */
extern const char nes_openapi_yaml[];
/** Its length in bytes. */
extern const size_t nes_openapi_yaml_len;

/** Starts the daemon and the acceptor on cfg->listen_ep. The current TLS credential set must be
 * installed (nes_tls_install) first. 0, or -1 with a reason. */
int nes_server_start(nes_server *s, const nes_config *cfg, char *why, size_t why_len);

/** Stops accepting new connections (closes the listener); open ones continue. */
void nes_server_stop_accepting(nes_server *s);

/** Marks the server draining (responses carry Connection: close) and waits until no request is
 * in flight or `grace_ms` passed. Returns the requests still in flight. */
long nes_server_drain(nes_server *s, int64_t grace_ms);

/** Stops the daemon (closing every connection) and frees the server. */
void nes_server_stop(nes_server *s);

/** The access handler and completion callback (routes.c). */
enum MHD_Result nes_routes_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls);

/** Called by the daemon when a request ends (answered or aborted). */
void nes_routes_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe);

#endif
