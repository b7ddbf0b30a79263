/* nsm_cbor.h - the CBOR messages of the Nitro Secure Module (NSM) API, both directions.
 *
 * The NSM driver carries one CBOR request and one CBOR response per call (the message layout of
 * aws-nitro-enclaves-nsm-api's `Request`/`Response` enums, serde's externally tagged form):
 *
 *   {"Attestation": {"user_data": bstr|null, "nonce": bstr|null, "public_key": bstr|null}}
 *     -> {"Attestation": {"document": bstr}}             (a COSE_Sign1, see cose.h)
 *   {"DescribePCR": {"index": uint}}
 *     -> {"DescribePCR": {"lock": bool, "data": bstr}}
 *   any request -> {"Error": "InvalidArgument" | "InvalidIndex" | ...}
 *
 * Encoders build requests (the service) and answers (the test NSM); decoders read answers (the
 * service) and requests (the test NSM). Decoders are strict and bounded, since the answer comes
 * from a device or a file the service does not control: at most NES_NSM_MAX_MSG bytes, one
 * complete CBOR item and nothing after it (truncated input is "truncated", extra bytes are
 * "trailing bytes"), definite-length strings, exactly the expected keys with the expected types,
 * byte strings within their own bounds. Errors are 0/-1 with a reason in the caller's buffer
 * that names the structural problem, never bytes of the message. Uses libcbor; no I/O. */
#ifndef NES_NSM_CBOR_H
#define NES_NSM_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/** Largest request or response (the driver's NSM_RESPONSE_MAX_SIZE, 0x3000). */
#define NES_NSM_MAX_MSG 0x3000
/** Largest public_key, user_data or nonce the NSM accepts (its documented 1024-byte limit). */
#define NES_NSM_MAX_FIELD 1024
/** Largest PCR value (SHA-512 PCRs; SHA-384 ones are 48 bytes). */
#define NES_NSM_MAX_PCR 64

/** Deepest nesting of containers and tags accepted (NSM messages use 3). */
#define NES_NSM_MAX_DEPTH 16

/** Checks that `msg` is exactly one well-formed CBOR item (RFC 8949 section 3) whose every declared
 * length and count fits in the input, nested at most NES_NSM_MAX_DEPTH deep, with nothing after
 * it. Run before handing bytes to libcbor, which allocates a container of the declared size up
 * front (a 5-byte input could claim a billion items). 0, or -1 with `why` ("truncated",
 * "malformed ...", "nested too deep", "trailing bytes"). */
int nes_nsm_cbor_check(const uint8_t *msg, size_t len, char *why, size_t why_len);

/** A byte string field that may be absent (null). */
typedef struct nes_nsm_bytes {
    const uint8_t *p; /**< NULL: null */
    size_t len;
} nes_nsm_bytes;

/** Request kinds. */
typedef enum nes_nsm_req_kind {
    NES_NSM_REQ_ATTESTATION = 1,
    NES_NSM_REQ_DESCRIBE_PCR,
} nes_nsm_req_kind;

/** A decoded request. Byte fields point into `storage` (owned, freed by nes_nsm_request_free). */
typedef struct nes_nsm_request {
    nes_nsm_req_kind kind;
    nes_nsm_bytes public_key, user_data, nonce; /**< Attestation */
    unsigned index;                             /**< DescribePCR */
    nes_buf storage;
} nes_nsm_request;

/** Appends the Attestation request to `out`. Each field may be NULL (CBOR null); each at most
 * NES_NSM_MAX_FIELD bytes. 0, or -1 with `why`. */
int nes_nsm_encode_attestation_req(nes_nsm_bytes public_key, nes_nsm_bytes user_data,
                                   nes_nsm_bytes nonce, nes_buf *out, char *why, size_t why_len);

/** Appends the DescribePCR request for PCR `index` to `out`. 0 or -1. */
int nes_nsm_encode_describe_pcr_req(unsigned index, nes_buf *out, char *why, size_t why_len);

/** Decodes a request (test NSM side). 0, or -1 with `why` (`req` then holds nothing to free). */
int nes_nsm_decode_request(const uint8_t *msg, size_t len, nes_nsm_request *req, char *why,
                           size_t why_len);

/** Frees what nes_nsm_decode_request kept. */
void nes_nsm_request_free(nes_nsm_request *req);

/** Appends {"Attestation": {"document": doc}} to `out`. 0 or -1. */
int nes_nsm_encode_attestation_ans(const uint8_t *doc, size_t len, nes_buf *out, char *why,
                                   size_t why_len);

/** Appends {"DescribePCR": {"lock": locked, "data": pcr}} to `out`. 0 or -1. */
int nes_nsm_encode_describe_pcr_ans(bool locked, const uint8_t *pcr, size_t len, nes_buf *out,
                                    char *why, size_t why_len);

/** Appends {"Error": code} to `out` (code: an NSM ErrorCode name such as "InvalidArgument"). */
int nes_nsm_encode_error_ans(const char *code, nes_buf *out, char *why, size_t why_len);

/** Decodes an Attestation answer: the document is appended to `doc`. An {"Error": code} answer
 * is -1 with "NSM refused: <code>" (the code only when it is a short ASCII word). */
int nes_nsm_decode_attestation_ans(const uint8_t *msg, size_t len, nes_buf *doc, char *why,
                                   size_t why_len);

/** Decodes a DescribePCR answer into `pcr` (NES_NSM_MAX_PCR bytes of room), *pcr_len and
 * *locked. Errors as nes_nsm_decode_attestation_ans. */
int nes_nsm_decode_describe_pcr_ans(const uint8_t *msg, size_t len, uint8_t *pcr, size_t *pcr_len,
                                    bool *locked, char *why, size_t why_len);

#endif
