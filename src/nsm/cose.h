/* cose.h - COSE_Sign1 with ES384 (RFC 9052 section 4.2, RFC 9053 section 2.1), the envelope of a
 * Nitro attestation document.
 *
 * The NSM returns the document as an untagged COSE_Sign1 array
 *   [protected: bstr .cbor {1: -35}, unprotected: {}, payload: bstr, signature: bstr(96)]
 * where the signature is ECDSA P-384 over SHA-384 of the CBOR Sig_structure
 *   ["Signature1", protected, h'', payload], as r || s (48 bytes each, big-endian).
 * nes_cose_sign1_es384 builds that (the test NSM signs with it); nes_cose_sign1_verify_es384
 * checks one (untagged, or with tag 18) and returns its payload (the unit tests and the test NSM's
 * self-check use it; KMS does this on the real path). Input to the verifier is bounded by
 * NES_NSM_MAX_MSG and parsed strictly (one item, no trailing bytes, definite lengths, protected
 * header exactly {1: -35}). Errors are 0/-1 with a reason in the caller's buffer. */
#ifndef NES_NSM_COSE_H
#define NES_NSM_COSE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/buf.h"

/** Appends the COSE_Sign1 of `payload` signed with the P-384 private key `key` to `out`.
 * 0, or -1 with `why`. */
int nes_cose_sign1_es384(EVP_PKEY *key, const uint8_t *payload, size_t len, nes_buf *out, char *why,
                         size_t why_len);

/** Verifies the COSE_Sign1 `doc` with the P-384 public key `pub` and appends its payload to
 * `payload`. 0, or -1 with `why` (malformed, wrong algorithm, bad signature). */
int nes_cose_sign1_verify_es384(EVP_PKEY *pub, const uint8_t *doc, size_t len, nes_buf *payload,
                                char *why, size_t why_len);

#endif
