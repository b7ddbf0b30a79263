/* awslog.c - AWS client events as JSON log lines (see awslog.h). */
#include "enclave/providers/awslog.h"

#include "enclave/log.h"

void nes_awslog_event(void *ud, const nes_aws_event *ev)
{
    (void)ud;
    static const nes_log_level level[] = {NES_LOG_DEBUG, NES_LOG_INFO, NES_LOG_WARN, NES_LOG_ERROR};
    nes_log_level lv = (unsigned)ev->level < 4 ? level[ev->level] : NES_LOG_ERROR;
    if (!nes_log_enabled(lv))
        return;
    nes_logline l;
    nes_logline_begin(&l, lv, ev->msg ? ev->msg : "AWS event");
    if (ev->service != NULL)
        nes_logline_str(&l, "service", ev->service);
    if (ev->operation != NULL)
        nes_logline_str(&l, "operation", ev->operation);
    if (ev->http_status != 0)
        nes_logline_int(&l, "http_status", ev->http_status);
    if (ev->code != NULL && ev->code[0] != '\0')
        nes_logline_str(&l, "code", ev->code);
    if (ev->message != NULL && ev->message[0] != '\0')
        nes_logline_str(&l, "message", ev->message);
    if (ev->attempt > 0)
        nes_logline_int(&l, "attempt", ev->attempt);
    if (ev->skew_secs != 0)
        nes_logline_int(&l, "clock_offset_secs", ev->skew_secs);
    nes_logline_emit(&l);
}
