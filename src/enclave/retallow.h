/* retallow.h - which return endpoints a PROXY v2 header may name (PROXY_RETURN_ALLOW, proxy
 * mode, DESIGN section 3). With PROXY_PROTOCOL=on and no UPSTREAM, the service forwards each
 * request to the endpoint in the header's TLV 0xE0, so whoever reaches the service's port would
 * choose where the enclave connects. The allowlist bounds that choice: a header whose return
 * endpoint matches no entry closes the connection (one log line), before TLS.
 *
 * The setting is a comma-separated list (spaces around entries are ignored), at most
 * NES_RETALLOW_MAX entries:
 *   peer                 the host that connected: vsock://PEER_CID:* and tcp://PEER_ADDRESS:*
 *                        (the default: the ingress sidecar announces a port on its own host)
 *   vsock://CID:PORT     exact; CID may be `peer` (the connecting peer's CID), PORT may be `*`
 *   tcp://ADDRESS:PORT   ADDRESS an IPv4 or bracketed IPv6 literal, or `peer`; PORT may be `*`
 *   unix:///path         exact path
 * tcp addresses compare as addresses (::ffff:127.0.0.1 is not 127.0.0.1; names are refused: no
 * lookup, and a return endpoint is always a literal). Pure code: the caller supplies the peer's
 * address. */
#ifndef NES_ENCLAVE_RETALLOW_H
#define NES_ENCLAVE_RETALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/endpoint.h"

/** Most entries in PROXY_RETURN_ALLOW. */
#define NES_RETALLOW_MAX 16

/** One entry. */
typedef struct nes_retallow_entry {
    nes_ep_kind kind;
    bool peer_host; /**< the host part is the connecting peer's */
    bool any_port;  /**< `*` */
    uint8_t addr[16];
    int family;    /**< tcp: AF_INET or AF_INET6 (unless peer_host) */
    uint16_t port; /**< tcp */
    uint32_t cid, vport;
    char path[NES_EP_PATH_MAX + 1]; /**< unix */
} nes_retallow_entry;

/** A parsed allowlist. */
typedef struct nes_retallow {
    size_t n;
    nes_retallow_entry e[NES_RETALLOW_MAX];
} nes_retallow;

/** The connecting peer (from getpeername): family AF_INET/AF_INET6 with addr, or AF_VSOCK with
 * cid; any other family (unix) matches no `peer` entry. */
typedef struct nes_retallow_peer {
    int family;
    uint8_t addr[16]; /**< AF_INET: the first 4 bytes */
    uint32_t cid;
} nes_retallow_peer;

/** Parses `list` into `out`. 0, or -1 with a one-line reason in `why`. An empty list is refused
 * (leave the setting at its default `peer` instead). */
int nes_retallow_parse(const char *list, nes_retallow *out, char *why, size_t why_len);

/** True when the return endpoint URI `ret` parses and matches an entry for `peer`. */
bool nes_retallow_match(const nes_retallow *a, const char *ret, const nes_retallow_peer *peer);

#endif
