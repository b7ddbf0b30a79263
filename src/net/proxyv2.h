/* proxyv2.h - the PROXY protocol version 2 header (HAProxy's proxy-protocol.txt, section 2.2):
 * a strict parser and a builder. Pure code: bytes in, a struct out; no I/O, no allocation.
 *
 * The ingress sidecar writes one header at the start of every connection it opens to the
 * enclave: command PROXY, the client's and the sidecar's TCP addresses, and one TLV of type
 * NES_PP2_TYPE_RETURN (0xE0, in the range the spec reserves for custom use, 0xE0-0xEF) whose
 * value is the ASCII endpoint URI the enclave connects to for proxy mode's forward path
 * (e.g. "vsock://3:5001"). The service parses the header before TLS starts.
 *
 * Parsing is strict: the 12-byte signature, version 2, command LOCAL or PROXY, family UNSPEC,
 * INET, INET6 or UNIX with transport UNSPEC, STREAM or DGRAM, an address block at least as long
 * as the family needs, a TLV walk that must end exactly at the declared length (a TLV running
 * past it is an error), at most NES_PP2_TLV_MAX TLVs, a whole header of at most NES_PP2_MAX_LEN
 * bytes (65,551 is the protocol's limit; ours is far lower because nothing legitimate comes
 * near it), a CRC32C TLV (0x03) that must match, at most one return TLV and its value printable
 * ASCII. Every error names the byte offset where it was found, never the bytes. The parser can
 * be fed a prefix: it answers "need more" until the header is complete, but rejects a wrong
 * signature byte, version or an oversized length as soon as it sees it.
 *
 * Round trip: nes_pp2_build(nes_pp2_parse(x)) reproduces x byte for byte (TLVs are kept in
 * order, values by reference into the parsed buffer), which the fuzzer checks. */
#ifndef NES_NET_PROXYV2_H
#define NES_NET_PROXYV2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/error.h"

/** Fixed part: signature (12), version/command (1), family/transport (1), length (2). */
#define NES_PP2_FIXED_LEN 16
/** Longest header accepted or built (fixed part included). */
#define NES_PP2_MAX_LEN 1024
/** Most TLVs in one header. */
#define NES_PP2_TLV_MAX 16
/** The custom TLV carrying the sidecar's return endpoint URI (ASCII, no NUL). */
#define NES_PP2_TYPE_RETURN 0xE0
/** Standard TLV types this module knows by name. */
#define NES_PP2_TYPE_CRC32C 0x03
#define NES_PP2_TYPE_NOOP 0x04
/** Longest return URI. */
#define NES_PP2_RETURN_MAX 255

typedef enum nes_pp2_cmd {
    NES_PP2_LOCAL = 0,
    NES_PP2_PROXY = 1,
} nes_pp2_cmd;

typedef enum nes_pp2_family {
    NES_PP2_AF_UNSPEC = 0,
    NES_PP2_AF_INET = 1,
    NES_PP2_AF_INET6 = 2,
    NES_PP2_AF_UNIX = 3,
} nes_pp2_family;

typedef enum nes_pp2_transport {
    NES_PP2_TP_UNSPEC = 0,
    NES_PP2_TP_STREAM = 1,
    NES_PP2_TP_DGRAM = 2,
} nes_pp2_transport;

/** One TLV; `value` points into the parsed buffer (or the caller's bytes when building). */
typedef struct nes_pp2_tlv {
    uint8_t type;
    uint16_t len;
    const uint8_t *value;
} nes_pp2_tlv;

/** A header. Addresses are in network byte order as on the wire: INET 4 bytes, INET6 16, UNIX
 * 108 (a NUL-padded path); ports in host order. */
typedef struct nes_pp2 {
    nes_pp2_cmd cmd;
    nes_pp2_family family;
    nes_pp2_transport transport;
    uint8_t src_addr[108], dst_addr[108];
    uint16_t src_port, dst_port;
    nes_pp2_tlv tlv[NES_PP2_TLV_MAX];
    size_t ntlv;
    const uint8_t *ret; /**< the NES_PP2_TYPE_RETURN value, or NULL */
    size_t ret_len;
} nes_pp2;

/** Result of nes_pp2_parse. */
typedef enum nes_pp2_result {
    NES_PP2_NEED_MORE = 0, /**< a valid prefix: feed more bytes */
    NES_PP2_DONE = 1,      /**< a whole header; *consumed is its length */
    NES_PP2_ERROR = -1,    /**< invalid; err has the offset and reason */
} nes_pp2_result;

/** Parses the header at the start of buf[0..len). On NES_PP2_DONE `out` is filled (TLV values
 * point into `buf`) and *consumed is the header's length; the bytes after it are the stream. */
nes_pp2_result nes_pp2_parse(const uint8_t *buf, size_t len, nes_pp2 *out, size_t *consumed,
                             nes_err *err);

/** Fills `h` for command PROXY, transport STREAM, from a connection's peer (`src`) and local
 * (`dst`) addresses. Same-family AF_INET, AF_INET6 and AF_UNIX pairs map to their family; any
 * other pair (different families, vsock) to UNSPEC with no addresses. No TLVs yet. */
void nes_pp2_from_sockaddrs(nes_pp2 *h, const struct sockaddr *src, const struct sockaddr *dst);

/** Appends a TLV (value by reference: it must outlive the build). 0, or -1 when full. */
int nes_pp2_add_tlv(nes_pp2 *h, uint8_t type, const void *value, uint16_t len);

/** Writes `h` to out[0..cap). A NES_PP2_TYPE_CRC32C TLV, if present, is written as given (the
 * builder never adds one; the parser checks one it finds). Returns the length, or -1 when it
 * exceeds cap or NES_PP2_MAX_LEN, or `h` is not valid (unknown command, family or transport). */
int nes_pp2_build(const nes_pp2 *h, uint8_t *out, size_t cap);

/** CRC32C (Castagnoli) of buf[0..len), as the CRC32C TLV carries it. */
uint32_t nes_pp2_crc32c(const uint8_t *buf, size_t len);

#endif
