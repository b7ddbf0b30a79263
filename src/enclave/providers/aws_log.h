/* aws_log.h - AWS client log events (aws.h) as the service's JSON log lines (log.h): one line
 * per event with service, operation, HTTP status, AWS error code and message, attempt and clock
 * offset. Never a body, a secret or key material (the client does not pass them). */
#ifndef NES_ENCLAVE_PROVIDERS_AWS_LOG_H
#define NES_ENCLAVE_PROVIDERS_AWS_LOG_H

#include "aws/aws.h"

/** A nes_aws_log_fn: set cfg.log = nes_aws_log_to_service (ud unused). */
void nes_aws_log_to_service(void *ud, const nes_aws_event *ev);

#endif
