/* cms_unwrap.h - the enclave side of KMS Decrypt with a Recipient (DESIGN section 5).
 *
 * KMS answers an attested Decrypt with `CiphertextForRecipient`: a CMS EnvelopedData (RFC 5652)
 * whose content is the DEK, encrypted under a fresh AES-256-CBC content key, which is itself
 * encrypted to the RSA public key named in the attestation document with RSAES-OAEP (SHA-256,
 * MGF1-SHA-256). This module owns both ends of that exchange:
 *
 *   nes_recipient_new     a fresh RSA-2048 key pair (one per unwrap);
 *   nes_recipient_spki    its public half as DER SubjectPublicKeyInfo, for the NSM to attest;
 *   nes_cms_unwrap        the EnvelopedData -> exactly NES_DEK_LEN bytes, or a refusal;
 *   nes_recipient_free    the key pair freed (OpenSSL clears the private numbers on free).
 *
 * Accepted input: DER or indefinite-length BER (what `openssl cms -stream` and KMS produce), at
 * most NES_CMS_MAX_LEN bytes, of content type envelopedData, whose every recipient info is a
 * key-transport one (version 0: issuer and serial, or version 2: subject key identifier) with
 * RSAES-OAEP as its algorithm (PKCS#1 v1.5 key transport is refused: it is the padding-oracle
 * one). Decryption runs with CMS_DEBUG_DECRYPT, so a wrong key is an error rather than OpenSSL's
 * random-key fallback, and the plaintext must be exactly NES_DEK_LEN bytes (notes/aws-curl-cms.md:
 * that fallback "succeeds" with garbage a few times in a thousand). The plaintext passes through
 * an OpenSSL secure-memory BIO (wiped when freed) straight into the caller's buffer, which should
 * be nes_secure_alloc memory. Pure code: no I/O, no globals; errors name what is wrong, never
 * bytes of the input or of the key. */
#ifndef NES_CMS_UNWRAP_H
#define NES_CMS_UNWRAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/fieldcrypt.h"

/** Largest CiphertextForRecipient accepted (KMS's are under 1 KiB for a 32-byte DEK). */
#define NES_CMS_MAX_LEN 16384
/** Size of the ephemeral RSA key in bits. */
#define NES_RECIPIENT_BITS 2048

/** An ephemeral RSA key pair, the recipient of one attested Decrypt. */
typedef struct nes_recipient nes_recipient;

/** Generates a fresh RSA-2048 key pair. NES_OK, or NES_ERR_CRYPTO / NES_ERR_NOMEM (*out NULL). */
nes_status nes_recipient_new(nes_recipient **out, nes_err *err);

/** A recipient over a fixed RSA private key given as PEM text (`len` bytes), for fuzzing and
 * tests that need reproducible inputs; the service always uses nes_recipient_new. NES_OK, or
 * NES_ERR_KEY when the text is not an RSA private key of at least 2048 bits. */
nes_status nes_recipient_from_pem(const char *pem, size_t len, nes_recipient **out, nes_err *err);

/** The public key as DER SubjectPublicKeyInfo: a pointer into `r` (valid while it lives) and
 * its length. */
const uint8_t *nes_recipient_spki(const nes_recipient *r, size_t *len);

/** Frees the key pair (NULL is fine); the private key's numbers are cleared by OpenSSL. */
void nes_recipient_free(nes_recipient *r);

/** Decrypts the EnvelopedData `cms` (`len` bytes) with `r`'s private key into `dek`.
 * NES_OK; NES_ERR_LIMIT when len is 0 or above NES_CMS_MAX_LEN; NES_ERR_KEY when the input is
 * not such an EnvelopedData, no recipient info opens with this key, or the content is not
 * exactly NES_DEK_LEN bytes (message says which); NES_ERR_NOMEM. `dek` is only written on
 * success (and wiped on any failure after decryption began). */
nes_status nes_cms_unwrap(const nes_recipient *r, const uint8_t *cms, size_t len,
                          uint8_t dek[NES_DEK_LEN], nes_err *err);

#endif
