/* bridge.h - an in-process Unix socket relayed to an endpoint, for libcurl (DESIGN section 3).
 *
 * libcurl 7.88 cannot connect to a vsock endpoint (notes/aws-curl-cms.md), but it can talk to a
 * Unix socket. A bridge is a listener in the abstract Unix namespace (no file on disk, gone when
 * the process exits) whose every connection the relay engine (relay.h) ties to `target`
 * (typically the parent's egress proxy, vsock://3:PORT; tcp:// and unix:// work the same, which is
 * how the tests run it). Bytes pass untouched both ways, TLS included, so curl's certificate
 * check still applies to the URL's host.
 *
 * Use with libcurl:
 *
 *     nes_bridge *b = nes_bridge_start(&egress_ep, NULL, why, sizeof why);
 *     // fixed-forward egress: the URL as usual, the connection through the bridge
 *     curl_easy_setopt(h, CURLOPT_ABSTRACT_UNIX_SOCKET, nes_bridge_name(b));
 *     // CONNECT egress: libcurl 7.88 ignores a proxy when a Unix socket is set, so give it a
 *     // placeholder TCP proxy (CURLOPT_PROXY "http://127.0.0.1:9", CURLOPT_HTTPPROXYTUNNEL 1)
 *     // and in CURLOPT_OPENSOCKETFUNCTION return a socket(AF_UNIX) with the address rewritten
 *     // to the bridge's abstract name; the egress proxy checks CONNECT host:443 on its allowlist
 *
 * nes_bridge_name() returns the name WITHOUT the leading NUL byte, as
 * CURLOPT_ABSTRACT_UNIX_SOCKET wants it; nes_bridge_path() returns "@name", the usual textual
 * spelling (ss, socat ABSTRACT-CONNECT). Connect to it yourself with nes_bridge_connect().
 *
 * One worker thread per bridge by default (the AWS calls are few); the bridge is thread-safe to
 * use from any number of curl handles. nes_bridge_stop drains for up to `grace_ms` and frees. */
#ifndef NES_NET_BRIDGE_H
#define NES_NET_BRIDGE_H

#include <stddef.h>

#include "net/endpoint.h"
#include "net/relay.h"

typedef struct nes_bridge nes_bridge;

/** Longest bridge name (fits sun_path with its leading NUL). */
#define NES_BRIDGE_NAME_MAX 100

/** Starts a bridge to `target`. `opts` may be NULL (one thread, defaults of relay.h). The name is
 * unique per process and bridge ("nes-bridge-<pid>-<n>"). Returns NULL with a reason in `why`. */
nes_bridge *nes_bridge_start(const nes_endpoint *target, const nes_relay_opts *opts, char *why,
                             size_t why_len);

/** The abstract socket name without its leading NUL (for CURLOPT_ABSTRACT_UNIX_SOCKET). */
const char *nes_bridge_name(const nes_bridge *b);

/** "@" followed by the name (for logs and tools). */
const char *nes_bridge_path(const nes_bridge *b);

/** Opens a blocking, close-on-exec connection to the bridge; the fd, or -1 with errno set. */
int nes_bridge_connect(const nes_bridge *b);

/** The bridge's counters (see relay.h). */
void nes_bridge_stats(const nes_bridge *b, nes_relay_stats *s);

/** Stops accepting, lets open connections finish for up to `grace_ms`, frees. NULL is fine. */
void nes_bridge_stop(nes_bridge *b, unsigned grace_ms);

#endif
