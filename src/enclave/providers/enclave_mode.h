/* enclave_mode.h - the providers of enclave mode, started and stopped as one (DESIGN sections 3,
 * 5, 6): the AWS client configuration (aws.h: endpoints, egress, credentials) built from the
 * service's settings, the attested DEK provider (dek.h) and the S3 spec provider. main.c calls
 * these four functions where local mode calls local.h. */
#ifndef NES_ENCLAVE_MODE_H
#define NES_ENCLAVE_MODE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "enclave/config.h"

/** Builds the AWS configuration from `cfg` (nes_config_aws) and starts the providers; the service
 * answers /readyz 503 until they have published keys and specs. Spec refresh failures are
 * added to `schema_errors` (/metrics). 0, or -1 with `why` (a bad AWS setting, the NSM cannot
 * be opened, an egress this build cannot reach). */
int nes_enclave_providers_start(const nes_config *cfg, _Atomic uint64_t *schema_errors, char *why,
                                size_t why_len);

/** The AWS configuration the providers use (egress and its vsock bridge included), for other
 * clients that must leave through the same path (the telemetry export); NULL until started. */
const nes_aws_config *nes_enclave_aws(void);

/** SIGHUP: fetch keys and specs now. */
void nes_enclave_providers_reload(void);

/** Stops the providers and wipes what they hold (safe when not started). */
void nes_enclave_providers_stop(void);

#endif
