/* awsjson.h - reading and writing the small JSON 1.1 documents of KMS, Secrets Manager and IMDS
 * (internal to src/aws), on the project's strict scanner (core/json_scan.h). Only top-level
 * members of an object are read; everything else is validated and skipped. */
#ifndef NES_AWS_AWSJSON_H
#define NES_AWS_AWSJSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/** Appends the unescaped string value of the top-level member `name` of the JSON object `json`
 * (len bytes) to `out`. 1 when found, 0 when absent (or null), -1 when the text is not a JSON
 * object, the member is not a string, or `out` is full. `out` may be NULL to only check (the
 * whole text is validated either way). */
int nes_awsjson_string(const uint8_t *json, size_t len, const char *name, nes_buf *out);

/** As nes_awsjson_string for a member holding standard base64: appends the decoded bytes. The
 * intermediate text is wiped. 1, 0 or -1 (also for invalid base64). */
int nes_awsjson_b64(const uint8_t *json, size_t len, const char *name, nes_buf *out);

/** Appends `"name":` and the JSON string of `value` (NUL-terminated) to `out`, preceded by ','
 * unless `out` ends with '{'. 0 or -1. */
int nes_awsjson_put_str(nes_buf *out, const char *name, const char *value);

/** As nes_awsjson_put_str with the standard base64 of `p` (n bytes) as the value. */
int nes_awsjson_put_b64(nes_buf *out, const char *name, const uint8_t *p, size_t n);

/** Appends `"name":` and `raw` verbatim (a JSON text the caller checked), as above. */
int nes_awsjson_put_raw(nes_buf *out, const char *name, const char *raw);

/** True when `text` is one JSON object whose members are all strings (EncryptionContext). */
int nes_awsjson_is_string_map(const char *text);

#endif
