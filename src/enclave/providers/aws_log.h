/* aws_log.h - AWS client log events (aws.h) as the service's JSON log lines (log.h): one line
 * per event with service, operation, HTTP status, AWS error code and message, attempt and clock
 * offset. Never a body, a secret or key material (the client does not pass them). */
#ifndef NES_ENCLAVE_PROVIDERS_AWS_LOG_H
#define NES_ENCLAVE_PROVIDERS_AWS_LOG_H

#include "aws/aws.h"

/** A nes_aws_log_fn: set cfg.log = nes_aws_log_to_service (ud unused). */
void nes_aws_log_to_service(void *ud, const nes_aws_event *ev);

/** A nes_aws_call_fn: set cfg.on_call = nes_aws_call_to_service (ud unused). Counts the call in
 * the metrics (nes_aws_call_duration_seconds, nes_aws_call_errors_total by service) and records
 * a client span "aws.<service>.<operation>" under the thread's current span (a DEK or spec
 * refresh span), or as its own trace when there is none. */
void nes_aws_call_to_service(void *ud, nes_aws_service svc, const char *operation,
                             uint64_t latency_us, bool ok);

#endif
