/* aws_log.c - AWS client events as JSON log lines (see aws_log.h). */
#include "enclave/providers/aws_log.h"

#include <stdio.h>

#include "enclave/metrics.h"
#include "obs/log.h"
#include "obs/otel/trace.h"

void nes_aws_log_to_service(void *ud, const nes_aws_event *ev)
{
    (void)ud;
    static const nes_log_level levels[] = {NES_LOG_DEBUG, NES_LOG_INFO, NES_LOG_WARN,
                                           NES_LOG_ERROR};
    nes_log_level lvl = (unsigned)ev->level < 4 ? levels[ev->level] : NES_LOG_ERROR;
    if (!nes_log_enabled(lvl))
        return;
    nes_logline l;
    nes_logline_begin(&l, lvl, ev->msg);
    nes_logline_str(&l, "aws_service", ev->service);
    nes_logline_str(&l, "aws_operation", ev->operation);
    if (ev->http_status != 0)
        nes_logline_int(&l, "http_status", ev->http_status);
    if (ev->code != NULL && ev->code[0] != '\0')
        nes_logline_str(&l, "aws_code", ev->code);
    if (ev->message != NULL && ev->message[0] != '\0')
        nes_logline_str(&l, "aws_message", ev->message);
    nes_logline_int(&l, "attempt", ev->attempt);
    if (ev->skew_secs != 0)
        nes_logline_int(&l, "clock_offset_secs", ev->skew_secs);
    nes_logline_emit(&l);
}

void nes_aws_call_to_service(void *ud, nes_aws_service svc, const char *operation,
                             uint64_t latency_us, bool ok)
{
    (void)ud;
    nes_metrics_aws_call((int)svc, latency_us, !ok);
    static const char *const names[NES_AWS_NSERVICES] = {"aws.kms", "aws.secretsmanager", "aws.s3"};
    nes_span sp;
    nes_trace_span_begin(&sp, (unsigned)svc < NES_AWS_NSERVICES ? names[svc] : "aws",
                         NES_SPAN_CLIENT, nes_trace_current(), NULL);
    sp.start_ns = sp.start_ns > latency_us * 1000u ? sp.start_ns - latency_us * 1000u : 0;
    nes_trace_span_attr_str(&sp, "rpc.service", nes_aws_service_name(svc));
    nes_trace_span_attr_str(&sp, "rpc.method", operation != NULL ? operation : "");
    if (!ok)
        nes_trace_span_error(&sp);
    nes_trace_span_end(&sp);
}
