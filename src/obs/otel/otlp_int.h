/* otlp_int.h - the JSON pieces otlp.c and the service's metrics encoder (enclave/otlp_metrics.c)
 * share: a quoted string, a string attribute, the resource and scope opening. */
#ifndef NES_OBS_OTEL_OTLP_INT_H
#define NES_OBS_OTEL_OTLP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "obs/otel/otlp.h"

/** A quoted, escaped JSON string. 0 or -1. */
int nes_otlp_str(nes_buf *out, const char *s, size_t n);

/** {"key":K,"value":{"stringValue":V}}. 0 or -1. */
int nes_otlp_kv_str(nes_buf *out, const char *key, const char *value);

/** `{"resource":{...},"<list>":[{"scope":{...},` - the caller continues the scope object. */
int nes_otlp_resource_scope(nes_buf *out, const nes_otlp_resource *res, const char *list);

#endif
