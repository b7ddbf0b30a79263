/* allowlist.h - the egress proxy's CONNECT allowlist: which host:port pairs the enclave may
 * reach through the parent.
 *
 * The file is YAML in the shape of AWS's vsock-proxy allowlist, so operators can reuse theirs:
 *
 *     allowlist:
 *     - {address: kms.eu-west-1.amazonaws.com, port: 443}
 *     - {address: "*.s3.eu-west-1.amazonaws.com", port: 443}
 *
 * `address` is a host name (letters, digits, '-', '.'; at most 253 bytes), an IPv4 literal, or
 * `*.` followed by a host name: the pattern matches every name that ends in `.suffix` with at
 * least one more label in front (not the suffix itself). `port` is 1-65535. Names compare
 * case-insensitively. Anything else in the file (another key, a missing port, a port out of
 * range, more than NES_ALLOWLIST_MAX entries) is an error naming the entry. Pure: the text comes
 * in as bytes (the fuzzer's input), nothing is resolved. */
#ifndef NES_PROXY_ALLOWLIST_H
#define NES_PROXY_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Most entries in one allowlist. */
#define NES_ALLOWLIST_MAX 1024
/** Longest host name. */
#define NES_HOST_MAX 253

typedef struct nes_allow_entry {
    char host[NES_HOST_MAX + 1]; /**< lower case; for a pattern, the suffix after "*." */
    bool wildcard;
    uint16_t port;
} nes_allow_entry;

typedef struct nes_allowlist {
    nes_allow_entry *e;
    size_t n;
} nes_allowlist;

/** Parses `len` bytes of YAML into `al` (free with nes_allowlist_free). 0, or -1 with a one-line
 * reason in `why`. */
int nes_allowlist_parse(const char *yaml, size_t len, nes_allowlist *al, char *why, size_t why_len);

/** True when `host` (n bytes) and `port` are allowed. */
bool nes_allowlist_match(const nes_allowlist *al, const char *host, size_t n, uint16_t port);

/** True when host[0..n) is a valid host name or IPv4 literal as the allowlist and CONNECT accept
 * them (letters, digits, '-', '.', no empty label, no leading or trailing '-' in a label). */
bool nes_host_valid(const char *host, size_t n);

/** Frees the entries; `al` may be reused. */
void nes_allowlist_free(nes_allowlist *al);

#endif
