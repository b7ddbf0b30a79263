/* endpoint.h - endpoint URIs (DESIGN section 3): tcp://HOST:PORT, unix:///path,
 * vsock://CID:PORT. One parser and one listen/connect path for every address in the config, so
 * production (vsock) and tests (tcp, unix) share the code. */
#ifndef NES_NET_ENDPOINT_H
#define NES_NET_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** Longest host name or literal address accepted in a tcp:// URI. */
#define NES_EP_HOST_MAX 255
/** Longest path of a unix:// socket (sun_path less its terminator). */
#define NES_EP_PATH_MAX 107
/** The vsock CID meaning "any local CID" (VMADDR_CID_ANY), written `any` in a URI. */
#define NES_EP_VSOCK_ANY 0xFFFFFFFFu

typedef enum nes_ep_kind {
    NES_EP_TCP = 1,
    NES_EP_UNIX,
    NES_EP_VSOCK,
} nes_ep_kind;

/** A parsed endpoint. */
typedef struct nes_endpoint {
    nes_ep_kind kind;
    char host[NES_EP_HOST_MAX + 1]; /**< tcp: name or literal (IPv6 without brackets) */
    uint16_t port;                  /**< tcp port */
    char path[NES_EP_PATH_MAX + 1]; /**< unix: socket path */
    uint32_t cid;                   /**< vsock: context id (NES_EP_VSOCK_ANY for any) */
    uint32_t vport;                 /**< vsock: port */
} nes_endpoint;

/** Parses `uri` into `ep`. Accepted forms: `tcp://HOST:PORT` (HOST a name, an IPv4 literal or a
 * bracketed IPv6 literal; PORT 0-65535), `unix:///absolute/path` (or `unix:relative/path`),
 * `vsock://CID:PORT` (CID a decimal number or `any`). Returns 0, or -1 with a one-line reason
 * (naming what is wrong, not echoing secrets) in `why` (may be NULL). */
int nes_endpoint_parse(const char *uri, nes_endpoint *ep, char *why, size_t why_len);

/** Writes the canonical URI of `ep` to `out` (always NUL-terminated); returns `out`. */
const char *nes_endpoint_format(const nes_endpoint *ep, char *out, size_t out_len);

/** Opens a listening socket (non-blocking, close-on-exec; tcp: SO_REUSEADDR and IPV6_V6ONLY off;
 * unix: a stale socket file at the path is replaced) with `backlog`. Returns the fd, or -1 with
 * errno set and a reason in `why`. */
int nes_endpoint_listen(const nes_endpoint *ep, int backlog, char *why, size_t why_len);

/** Connects a blocking, close-on-exec stream socket to `ep` (tcp: the first address of the host
 * that accepts). Returns the fd, or -1 with a reason in `why`. */
int nes_endpoint_connect(const nes_endpoint *ep, char *why, size_t why_len);

/** The local port a bound tcp or vsock socket `fd` listens on (useful with port 0), or -1. */
int nes_endpoint_bound_port(int fd);

#endif
