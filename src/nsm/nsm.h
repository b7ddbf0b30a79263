/* nsm.h - the Nitro Secure Module: attestation documents for the enclave (DESIGN section 5).
 *
 * One interface, two implementations, chosen by the NSM_DEVICE setting:
 *
 *   "/dev/nsm" (or any path)  the real device: one ioctl per call carrying a CBOR request and a
 *                             CBOR answer (nsm_dev.c; the ioctl layout is documented there);
 *   "test:DIR"                a test NSM (nsm_test.c) for machines without Nitro hardware: it
 *                             answers the same CBOR requests with attestation documents of the
 *                             AWS layout, signed (COSE_Sign1, ES384) by a leaf certificate under a
 *                             P-384 test CA kept in DIR (ca.key, ca.crt; created if missing).
 *                             KMS would never accept it; a KMS stand-in that trusts DIR/ca.crt
 * does.
 *
 * Both go through the same CBOR encoder and strict decoder (nsm_cbor.h), so the only code the
 * test NSM does not exercise is the ioctl itself. A handle is used by one thread at a time (the
 * DEK provider's); the real device serialises calls in the kernel anyway. */
#ifndef NES_NSM_H
#define NES_NSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "nsm/nsm_cbor.h"

/** Prefix of NSM_DEVICE that selects the test NSM. */
#define NES_NSM_TEST_PREFIX "test:"
/** Number of PCRs the test NSM reports (the AWS document carries 0..15). */
#define NES_NSM_TEST_PCRS 16
/** PCR length of the SHA-384 NSM. */
#define NES_NSM_PCR_LEN 48

typedef struct nes_nsm nes_nsm;

/** Opens the NSM named by `device` (see above). NULL with `why` when the device cannot be opened
 * or the test CA cannot be created/loaded. */
nes_nsm *nes_nsm_open(const char *device, char *why, size_t why_len);

/** True for the test NSM (callers log a loud warning and report it on /readyz). */
bool nes_nsm_is_test(const nes_nsm *n);

/** A short description for logs: "/dev/nsm", or "test NSM (CA in DIR)". */
const char *nes_nsm_name(const nes_nsm *n);

/** Asks for an attestation document carrying `public_key` (a DER SubjectPublicKeyInfo) and the
 * optional `user_data` / `nonce` (p = NULL: absent); each at most NES_NSM_MAX_FIELD bytes. The
 * document (a COSE_Sign1) is appended to `doc`. 0, or -1 with `why`. */
int nes_nsm_attest(nes_nsm *n, nes_nsm_bytes public_key, nes_nsm_bytes user_data,
                   nes_nsm_bytes nonce, nes_buf *doc, char *why, size_t why_len);

/** Reads PCR `index` into `pcr` (NES_NSM_MAX_PCR bytes of room): its length and lock state.
 * 0, or -1 with `why` (an index the module does not have is "NSM refused: InvalidIndex"). */
int nes_nsm_describe_pcr(nes_nsm *n, unsigned index, uint8_t *pcr, size_t *len, bool *locked,
                         char *why, size_t why_len);

/** Closes the device or frees the test NSM's keys (NULL is fine). */
void nes_nsm_close(nes_nsm *n);

/* ---- implementations (nsm_dev.c, nsm_test.c) behind nes_nsm_open ---------------------------- */

/** One request/answer exchange: `req` in, the answer appended to `ans`. 0, or -1 with `why`. */
typedef int (*nes_nsm_transact_fn)(void *impl, const uint8_t *req, size_t req_len, nes_buf *ans,
                                   char *why, size_t why_len);

/** Opens the real device at `path`. NULL with `why`. */
void *nes_nsm_dev_open(const char *path, char *why, size_t why_len);
/** The real device's exchange: one NSM ioctl. */
int nes_nsm_dev_transact(void *impl, const uint8_t *req, size_t req_len, nes_buf *ans, char *why,
                         size_t why_len);
/** Closes the real device. */
void nes_nsm_dev_close(void *impl);

/** Opens (creating when missing) the test NSM with its CA in `dir`. NULL with `why`. */
void *nes_nsm_test_open(const char *dir, char *why, size_t why_len);
/** The test NSM's exchange: decodes the request, answers like the device. */
int nes_nsm_test_transact(void *impl, const uint8_t *req, size_t req_len, nes_buf *ans, char *why,
                          size_t why_len);
/** Frees the test NSM. */
void nes_nsm_test_close(void *impl);

#endif
