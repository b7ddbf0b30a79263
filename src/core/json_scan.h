/* json_scan.h - a strict RFC 8259 pull scanner and the string helpers the transform needs.
 *
 * The scanner returns one token per call (nes_json_next) and validates everything on the way:
 * structure (an explicit container stack of at most max_depth entries: no recursion), strings
 * (UTF-8 without overlongs, UTF-8-encoded surrogates, code points over U+10FFFF or truncated
 * sequences; escapes, with \u surrogates only as proper pairs, so every string unescapes to valid
 * UTF-8; no raw control characters), the number grammar, the three literals, and that nothing but
 * whitespace (space, tab, LF, CR) follows the one top-level value. A byte order mark, empty input
 * and a lone top-level scalar follow RFC 8259: the first two are rejected, the last accepted.
 *
 * Errors carry the byte offset and a short fixed reason ("invalid UTF-8", "expected ':'"), never
 * input content. */
#ifndef NES_JSON_SCAN_H
#define NES_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

/** Token kinds returned by nes_json_next. */
typedef enum nes_json_type {
    NES_JSON_ERROR = 0,  /**< invalid input; the scanner's err is set and it stays in error */
    NES_JSON_END,        /**< the complete text has been consumed */
    NES_JSON_OBJECT,     /**< '{' */
    NES_JSON_OBJECT_END, /**< '}' */
    NES_JSON_ARRAY,      /**< '[' */
    NES_JSON_ARRAY_END,  /**< ']' */
    NES_JSON_KEY,        /**< a member name; the ':' after it has been consumed as well */
    NES_JSON_STRING,     /**< a string value */
    NES_JSON_NUMBER,
    NES_JSON_TRUE,
    NES_JSON_FALSE,
    NES_JSON_NULL,
} nes_json_type;

/** One token: its kind and byte range [start, end) in the input. Strings and keys include their
 * quotes; `escaped` tells whether a string or key holds a backslash escape (when false its
 * content is already the unescaped UTF-8). */
typedef struct nes_json_token {
    nes_json_type type;
    bool escaped;
    size_t start;
    size_t end;
} nes_json_token;

/** Words of the inline container stack (one bit per level: object or array). */
#define NES_JSON_INLINE_STACK_WORDS 4

/** Scanner state. Treat the fields as private; use the functions below. */
typedef struct nes_json_scanner {
    /* Read-only while scanning. */
    const uint8_t *in;
    size_t len;
    uint64_t *stack; /**< bit i: container at depth i+1 is an object */
    nes_err *err;
    unsigned max_depth; /**< containers allowed to be open at once */
    /* Written for a token and read back at the next: after the read-only fields, not between
     * them, so that a compiler loading neighbours in one wide load does not take one of these
     * with them (such a load cannot take its value from the store still in flight: a
     * store-forwarding stall per token). */
    unsigned depth; /**< containers currently open */
    int state;
    size_t pos;
    uint64_t inline_stack[NES_JSON_INLINE_STACK_WORDS];
} nes_json_scanner;

/** Prepares `s` to scan `in` (len bytes). At most `max_depth` containers may be open at once
 * (0: only a top-level scalar is accepted); deeper nesting fails with NES_ERR_DEPTH. Errors are
 * recorded in `err` (may be NULL). Returns NES_OK, or NES_ERR_NOMEM when a large stack cannot be
 * allocated. Pair with nes_json_scanner_free. */
nes_status nes_json_scanner_init(nes_json_scanner *s, const uint8_t *in, size_t len,
                                 unsigned max_depth, nes_err *err);

/** Releases what nes_json_scanner_init allocated (safe to call twice). */
void nes_json_scanner_free(nes_json_scanner *s);

/** Scans the next token into `t` and returns its kind. NES_JSON_ERROR means the input is invalid
 * (err holds NES_ERR_JSON or NES_ERR_DEPTH, the offset and the reason); every later call returns
 * NES_JSON_ERROR again. After NES_JSON_END, later calls return NES_JSON_END. */
nes_json_type nes_json_next(nes_json_scanner *s, nes_json_token *t);

/** Right after nes_json_next returned NES_JSON_OBJECT or NES_JSON_ARRAY: validates the rest of
 * that container and consumes it through its closing bracket, whose token goes to `t`. Returns
 * the closing token's kind, or NES_JSON_ERROR. Faster than calling nes_json_next in a loop. */
nes_json_type nes_json_skip(nes_json_scanner *s, nes_json_token *t);

/** Containers currently open (0 at top level). */
unsigned nes_json_depth(const nes_json_scanner *s);

/** Returns true when the innermost open container is an array (false at top level). */
bool nes_json_in_array(const nes_json_scanner *s);

/** Checks that `p` (len bytes) is well-formed UTF-8 (no overlongs, surrogates or code points over
 * U+10FFFF). */
bool nes_utf8_valid(const uint8_t *p, size_t len);

/** The length of the longest well-formed UTF-8 prefix of `p` (len bytes): the offset of the first
 * byte that does not start a complete, valid sequence, or `len` when all of it is valid. */
size_t nes_utf8_valid_prefix(const uint8_t *p, size_t len);

/** Appends the unescaped UTF-8 bytes of a string's content (the bytes between the quotes of a
 * string the scanner accepted) to `out`. Malformed escapes are still rejected safely. Returns
 * NES_OK, NES_ERR_JSON (malformed escape), NES_ERR_LIMIT (out->max reached) or NES_ERR_NOMEM. */
nes_status nes_json_unescape(const uint8_t *p, size_t len, nes_buf *out);

/** Appends `p` (len bytes of UTF-8) to `out` as a quoted JSON string: '"' and '\\' and the
 * control characters below U+0020 are escaped, everything else is copied. Returns NES_OK,
 * NES_ERR_JSON when `p` is not valid UTF-8 (nothing appended), NES_ERR_LIMIT or NES_ERR_NOMEM. */
nes_status nes_json_write_string(nes_buf *out, const uint8_t *p, size_t len);

/** Appends the JSON text `p` (len bytes, which the scanner accepted) to `out` without the
 * whitespace outside strings; strings are copied verbatim. Returns NES_OK, NES_ERR_LIMIT or
 * NES_ERR_NOMEM. */
nes_status nes_json_minify(const uint8_t *p, size_t len, nes_buf *out);

#endif
