/* otlp_int.h - the JSON pieces otlp.c and otlp_metrics.c share (internal to src/enclave/otel). */
#ifndef NES_ENCLAVE_OTEL_OTLP_INT_H
#define NES_ENCLAVE_OTEL_OTLP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "enclave/otel/otlp.h"

/** A quoted, escaped JSON string. 0 or -1. */
int nes_otlp_str(nes_buf *out, const char *s, size_t n);

/** {"key":K,"value":{"stringValue":V}}. 0 or -1. */
int nes_otlp_kv_str(nes_buf *out, const char *key, const char *value);

/** `{"resource":{...},"<list>":[{"scope":{...},` - the caller continues the scope object. */
int nes_otlp_resource_scope(nes_buf *out, const nes_otlp_resource *res, const char *list);

#endif
