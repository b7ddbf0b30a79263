/* transform.h - the strict JSON splice transform (DESIGN sections 4 and 6).
 *
 * One pass over the body validates RFC 8259 (UTF-8, escapes and surrogate pairs, numbers, nesting
 * up to max_depth) while following the PII automaton. The output is the input with every byte that
 * is not a PII value copied verbatim and each PII value replaced: on encrypt by the quoted token
 * (strings encrypt their unescaped UTF-8 bytes; numbers, booleans, objects and arrays their
 * minified JSON text; null stays null); on decrypt by the original value (a JSON string, or the
 * raw JSON text, by the node's value type). Duplicate keys: every occurrence is transformed.
 *
 * Value types (DESIGN section 4, pii.h): a PII value whose JSON type its node does not allow is
 * NES_ERR_TYPE (null is always allowed and stays null). NES_VT_STRING encrypts a string's
 * unescaped bytes and decrypt puts back a JSON string; NES_VT_JSON encrypts the minified JSON
 * text of a non-string; NES_VT_ANY the minified JSON text of any value, a string with its quotes
 * (escaped as nes_json_write_string does, so equal strings give equal tokens). Decrypt of
 * NES_VT_JSON and NES_VT_ANY puts the plaintext back as it is, and only when it is exactly what
 * encrypt produces for a value of an allowed type (minified JSON nesting within the depth left
 * at that position), else NES_ERR_TOKEN: no value comes back with another type. So decrypt then
 * encrypt gives the same tokens again. A PII value on decrypt must be a token string (or null);
 * plaintext that is not UTF-8 where a string is due is NES_ERR_TOKEN.
 *
 * Fail closed (DESIGN section 6, pii.h): an object member that its node does not declare is
 * NES_ERR_UNKNOWN_MEMBER when the node is closed, unless opts.unknown is NES_UNKNOWN_PASS; a
 * member that passes undeclared is counted in stats.unknown_passed. Both directions check. The
 * two errors carry the value's RFC 6901 JSON pointer in the message (keys as written, `~0`, `~1`;
 * control characters as \uXXXX; cut with "..." past 160 bytes) and the byte offset of the member
 * name or value, never the value. Errors come in input order: decrypt may stop at a bad token
 * before a later syntax error.
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

/** What an object member that a closed node does not declare does (see pii.h, nes_members). */
typedef enum nes_unknown_policy {
    NES_UNKNOWN_REJECT = 0, /**< as the spec says: refused where closed, passes where open */
    NES_UNKNOWN_PASS,       /**< passes everywhere (counted): the service-wide opt-out */
} nes_unknown_policy;

typedef struct nes_transform_opts {
    nes_direction dir;
    const nes_pii_node *root; /**< NULL: any value (the body is only validated and copied) */
    const nes_codec *codec;   /**< required when root has PII */
    unsigned max_depth;       /**< 0: NES_DEFAULT_MAX_DEPTH */
    nes_unknown_policy unknown;
} nes_transform_opts;

typedef struct nes_transform_stats {
    size_t fields;         /**< PII values encrypted or decrypted */
    size_t unknown_passed; /**< undeclared members that passed (open nodes, NES_UNKNOWN_PASS) */
} nes_transform_stats;

/** Transforms `in` (len bytes) into `out` (appended; out->max caps it). Returns NES_OK, or
 * NES_ERR_JSON / NES_ERR_DEPTH (err->offset set), NES_ERR_TOKEN (decrypt: a PII value is not a
 * token that opens to a value of an allowed type; offset set), NES_ERR_UNKNOWN_MEMBER,
 * NES_ERR_TYPE (pointer and offset set), NES_ERR_LIMIT (output cap), NES_ERR_NOMEM,
 * NES_ERR_CRYPTO.
 * On error `out` may hold a partial result that the caller must discard. `stats` may be NULL;
 * on error it still holds the counts up to the error. */
nes_status nes_transform(const nes_transform_opts *opts, const uint8_t *in, size_t len,
                         nes_buf *out, nes_transform_stats *stats, nes_err *err);

/** Validates `in` as one RFC 8259 JSON text (same rules as nes_transform). */
nes_status nes_json_validate(const uint8_t *in, size_t len, unsigned max_depth, nes_err *err);

#endif
