/* h1.h - the shared vocabulary of the strict HTTP/1.1 codec (RFC 9112): byte slices, header
 * fields, limits and the refusal record.
 *
 * The codec is pure code in the sense of src/core: bytes in, structs out; no I/O, no threads, no
 * globals (only constant tables), no allocation. Parsed names and values are slices into the
 * caller's buffer, so they stay valid as long as those bytes do.
 *
 * Modules (each header explains its part):
 *   http/request.h   request head parser (server side)
 *   http/response.h  response head parser (proxy mode's upstream side)
 *   http/chunked.h   incremental chunked body decoder (both sides)
 *   http/writer.h    status line, request line, header fields, IMF-fixdate into a caller buffer
 *
 * A server connection, in short (proxy mode's upstream side is the same with
 * nes_h1_parse_response and NES_H1_BODY_CLOSE):
 *     on new bytes in buf[0 .. len):
 *       if (!nes_h1_head_end(buf, len, &scan) && len < lim.max_head_bytes) wait for more;
 *       n = nes_h1_parse_request(buf, len, &lim, &req, &err);
 *       n < 0: answer err.status, close, read nothing more;  n == 0: wait for more;
 *       n > 0: the body starts at buf + n: LENGTH -> req.content_length bytes; CHUNKED ->
 *              nes_h1_chunked_next() until it returns 1; NONE -> nothing. The next pipelined
 *              request starts right after it: move on, scan = 0. Answer with writer.h; close
 *              after the answer unless req.keep_alive.
 *
 * Refusals: every parser reports the first problem by position (the byte offset where it is
 * found) with the HTTP status a server answers it with and a fixed reason string that never
 * quotes input. Because problems are judged in byte order and each judgement depends only on
 * the bytes before its offset, a message fed whole, split at any byte or byte by byte gives the
 * same result; tests/unit/http checks exactly that. What is accepted and refused, and why, is
 * the table in docs/http-framing.md (checked by tests/unit/http/test_h1_framing_doc.c). */
#ifndef NES_HTTP_H1_H
#define NES_HTTP_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A byte slice into the caller's buffer (not NUL-terminated). */
typedef struct nes_h1_str {
    const char *p;
    size_t len;
} nes_h1_str;

/** One field line: name and value (leading and trailing whitespace removed; may be empty). */
typedef struct nes_h1_header {
    nes_h1_str name;
    nes_h1_str value;
} nes_h1_header;

/** Hard upper bound of header fields a parsed head can hold (limits.max_headers is clamped to
 * it). */
#define NES_H1_MAX_HEADERS 128

/** Bounds for every input (the refusal status in brackets). Zero in any field means "the
 * default" (nes_h1_limits_default), so `nes_h1_limits lim = {.max_head_bytes = 8192};` works. */
typedef struct nes_h1_limits {
    size_t max_head_bytes;        /**< request/response head incl. empty lines [431]; 16384
                                       (at most INT_MAX) */
    size_t max_target_bytes;      /**< request-target [414]; 8192 */
    size_t max_headers;           /**< field lines in a head [431]; 100 (<= NES_H1_MAX_HEADERS) */
    size_t max_chunk_size_digits; /**< hex digits of one chunk-size, leading zeros too [400]; 16 */
    size_t max_chunk_ext_bytes;   /**< bytes of one chunk's extensions [400]; 1024 */
    size_t max_trailer_bytes;     /**< the whole trailer section [431]; 8192 */
} nes_h1_limits;

/** The defaults above. */
extern const nes_h1_limits nes_h1_limits_default;

/** A refusal: the status a server answers with (400, 414, 417, 431, 501, 505; 502 for every
 * response-side problem), a fixed reason (static storage, never input content) and the byte
 * offset of the problem from the start of the parsed buffer. */
typedef struct nes_h1_error {
    int status;
    const char *reason;
    size_t offset;
} nes_h1_error;

/** How a message body is delimited (RFC 9112 §6.3). */
typedef enum nes_h1_framing {
    NES_H1_BODY_NONE = 0, /**< no body (no Content-Length, no Transfer-Encoding; or 1xx/204/304,
                               responses to HEAD) */
    NES_H1_BODY_LENGTH,   /**< exactly content_length bytes (may be 0) */
    NES_H1_BODY_CHUNKED,  /**< chunked coding: decode with http/chunked.h */
    NES_H1_BODY_CLOSE,    /**< responses only: the body runs until the server closes */
} nes_h1_framing;

/** Well-known methods (RFC 9110 §9 plus PATCH); anything else is NES_H1_M_OTHER with its name in
 * method_name. Methods are case-sensitive ("get" is OTHER). */
typedef enum nes_h1_method {
    NES_H1_M_OTHER = 0,
    NES_H1_M_GET,
    NES_H1_M_HEAD,
    NES_H1_M_POST,
    NES_H1_M_PUT,
    NES_H1_M_DELETE,
    NES_H1_M_CONNECT,
    NES_H1_M_OPTIONS,
    NES_H1_M_TRACE,
    NES_H1_M_PATCH,
} nes_h1_method;

/** ASCII case-insensitive equality of a slice and a NUL-terminated string. */
bool nes_h1_str_eq_nocase(nes_h1_str s, const char *lit);

/** The first header among headers[0..n) whose name equals `name` (ASCII case-insensitive), or
 * NULL. */
const nes_h1_header *nes_h1_header_find(const nes_h1_header *headers, size_t n, const char *name);

/** Where a head ends, found incrementally so a caller that receives bytes piecemeal does linear
 * work overall: scans buf[*scan .. len) for the empty line that closes a head (CRLF or bare LF,
 * after any leading empty lines) and returns the head's length, or 0 when it is not there yet;
 * *scan is where the next call may resume (start with *scan = 0, keep the same buffer start).
 * It only finds the end: the parsers judge the bytes. A caller calls a parser when this returns
 * non-zero, or when len reaches limits.max_head_bytes (the parser then refuses), or at any time
 * it wants an early refusal (e.g. a bad request line). */
size_t nes_h1_head_end(const char *buf, size_t len, size_t *scan);

#endif
