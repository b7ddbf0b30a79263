/* awslog.h - the AWS client layer's log events (aws.h: nes_aws_event) as the service's JSON log
 * lines, for the enclave-mode providers. An event carries the service, operation, HTTP status,
 * AWS error code and (sanitised) message, never a body or a secret; debug events follow
 * LOG_LEVEL like everything else. */
#ifndef NES_ENCLAVE_AWSLOG_H
#define NES_ENCLAVE_AWSLOG_H

#include "aws/aws.h"

/** A nes_aws_log_fn: writes `ev` as one log line (`ud` unused). */
void nes_awslog_event(void *ud, const nes_aws_event *ev);

#endif
