/* httputil.h - small HTTP pieces with no server dependency: routing table, content-type check,
 * the JSON error body (DESIGN section 7). */
#ifndef NES_ENCLAVE_HTTPUTIL_H
#define NES_ENCLAVE_HTTPUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "enclave/metrics.h"

/** The route of a request path (query string ignored); NES_ROUTE_OTHER when unknown. */
nes_route nes_route_of(const char *path);

/** The one method a route accepts besides HEAD for GET routes ("POST" or "GET"), NULL for
 * NES_ROUTE_OTHER. */
const char *nes_route_method(nes_route r);

/** True when `method` is allowed on `r` (GET routes also take HEAD). */
bool nes_route_allows(nes_route r, const char *method);

/** True for a JSON media type: application/json or application/<x>+json, any case, with
 * optional parameters of which a charset must be utf-8. NULL is false. */
bool nes_content_type_is_json(const char *value);

/** True when `s` is a short printable name safe to echo in a message or log (letters, digits,
 * '-', '_', '.', at most 64 characters). */
bool nes_safe_name(const char *s);

/** Appends {"error":{"code":…,"message":…[,"offset":N]}} to `out` (strings JSON-escaped;
 * offset omitted when (size_t)-1). 0 or -1. */
int nes_error_json(nes_buf *out, const char *code, const char *message, size_t offset);

#endif
