#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

nes_status nes_err_set(nes_err *err, nes_status status, size_t offset, const char *fmt, ...)
{
    if (err == NULL)
        return status;
    err->status = status;
    err->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    /* The analyzer loses the va_start state through glibc's _FORTIFY_SOURCE inline wrapper of
     * vsnprintf (the report disappears with -U_FORTIFY_SOURCE). */
    vsnprintf(err->msg, sizeof err->msg, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    va_end(ap);
    return status;
}

void nes_msgf(char *buf, size_t len, const char *fmt, ...)
{
    if (buf == NULL || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is just above */
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

void nes_err_clear(nes_err *err)
{
    if (err == NULL)
        return;
    err->status = NES_OK;
    err->offset = (size_t)-1;
    err->msg[0] = '\0';
}

const char *nes_status_name(nes_status status)
{
    switch (status) {
    case NES_OK:
        return "ok";
    case NES_ERR_JSON:
        return "invalid_json";
    case NES_ERR_DEPTH:
        return "too_deep";
    case NES_ERR_TOKEN:
        return "invalid_token";
    case NES_ERR_SPEC:
        return "invalid_spec";
    case NES_ERR_ROOT:
        return "ambiguous_root";
    case NES_ERR_KEY:
        return "invalid_key";
    case NES_ERR_LIMIT:
        return "limit_exceeded";
    case NES_ERR_NOMEM:
        return "out_of_memory";
    case NES_ERR_IO:
        return "io_error";
    case NES_ERR_CRYPTO:
        return "crypto_error";
    case NES_ERR_UNKNOWN_MEMBER:
        return "unknown_member";
    case NES_ERR_TYPE:
        return "pii_type";
    }
    return "unknown";
}
