/* transform.h - the strict JSON splice transform (DESIGN sections 4 and 6).
 *
 * One pass over the body validates RFC 8259 (UTF-8, escapes and surrogate pairs, numbers, nesting
 * up to max_depth) while following the PII automaton. The output is the input with every byte that
 * is not a PII value copied verbatim and each PII value replaced: on encrypt by the quoted token
 * (strings encrypt their unescaped UTF-8 bytes; numbers, booleans, objects and arrays their
 * minified JSON text; null stays null); on decrypt by the original value (a JSON string, or the
 * raw JSON text, by the node's value type). Duplicate keys: every occurrence is transformed.
 *
 * Decrypt puts back, for NES_VT_STRING, always a JSON string; for NES_VT_JSON and NES_VT_ANY, the
 * raw plaintext when it is exactly what encrypt produces for a non-string value (minified JSON
 * whose value is a number, boolean, object or array, nesting within the depth left at that
 * position), else a JSON string. So decrypt then encrypt gives the same tokens again. A PII value
 * on decrypt must be a token string (or null); plaintext that is not UTF-8 where a string is due
 * is NES_ERR_TOKEN. Errors come in input order: decrypt may stop at a bad token before a later
 * syntax error.
 *
 * Memory is bounded by the body: no recursion, a depth stack of max_depth entries, output at most
 * a constant factor over the input. Errors give a byte offset and a reason, never content. */
#ifndef NES_TRANSFORM_H
#define NES_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/pii.h"

#define NES_DEFAULT_MAX_DEPTH 128

typedef enum nes_direction {
    NES_ENCRYPT = 0,
    NES_DECRYPT,
} nes_direction;

typedef struct nes_transform_opts {
    nes_direction dir;
    const nes_pii_node *root; /**< NULL: nothing is PII (the body is only validated and copied) */
    const nes_codec *codec;   /**< required when root has PII */
    unsigned max_depth;       /**< 0: NES_DEFAULT_MAX_DEPTH */
} nes_transform_opts;

typedef struct nes_transform_stats {
    size_t fields; /**< PII values encrypted or decrypted */
} nes_transform_stats;

/** Transforms `in` (len bytes) into `out` (appended; out->max caps it). Returns NES_OK, or
 * NES_ERR_JSON / NES_ERR_DEPTH (err->offset set), NES_ERR_TOKEN (decrypt: a PII value is not a
 * token that opens; offset set), NES_ERR_LIMIT (output cap), NES_ERR_NOMEM, NES_ERR_CRYPTO.
 * On error `out` may hold a partial result that the caller must discard. `stats` may be NULL. */
nes_status nes_transform(const nes_transform_opts *opts, const uint8_t *in, size_t len,
                         nes_buf *out, nes_transform_stats *stats, nes_err *err);

/** Validates `in` as one RFC 8259 JSON text (same rules as nes_transform). */
nes_status nes_json_validate(const uint8_t *in, size_t len, unsigned max_depth, nes_err *err);

#endif
