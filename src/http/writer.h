/* writer.h - serialising HTTP/1.1 heads into a caller's buffer (core/buf.h): status line,
 * request line, header fields, chunk framing, and the IMF-fixdate of RFC 9110 §5.6.7.
 *
 * Every writer checks what it writes, so no caller can split a response by passing a value with
 * CR or LF in it: names must be tokens, values VCHAR / obs-text / SP / HTAB without leading or
 * trailing whitespace, reasons likewise. Each returns 0, or -1 when the input is invalid or the
 * buffer cannot grow (b->max, or allocation; nothing is appended then). A reused nes_buf that
 * already has room does not allocate. Caching the Date string per second is the caller's job. */
#ifndef NES_HTTP_WRITER_H
#define NES_HTTP_WRITER_H

#include "core/buf.h"
#include "http/h1.h"

#include <stdint.h>

/** Length of an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). */
#define NES_H1_DATE_LEN 29

/** The RFC 9110 reason phrase of `status` ("OK", "Bad Request", ...), or "Unknown" for codes
 * without one. */
const char *nes_h1_reason(int status);

/** Appends "HTTP/1.<minor> <status> <reason>\r\n"; `reason` NULL means nes_h1_reason(status).
 * status must be 100..999, minor 0 or 1. */
int nes_h1_write_status_line(nes_buf *b, int minor, int status, const char *reason);

/** Appends "<method> <target> HTTP/1.1\r\n" (method a token, target visible ASCII). */
int nes_h1_write_request_line(nes_buf *b, nes_h1_str method, nes_h1_str target);

/** Appends "<name>: <value>\r\n". */
int nes_h1_write_header(nes_buf *b, nes_h1_str name, nes_h1_str value);

/** Appends "<name>: <decimal v>\r\n" (e.g. Content-Length). */
int nes_h1_write_header_u64(nes_buf *b, const char *name, uint64_t v);

/** Appends the empty line that ends a head. */
int nes_h1_write_end(nes_buf *b);

/** Appends a chunk-size line "<hex n>\r\n" (n > 0; the data and its CRLF follow). */
int nes_h1_write_chunk_size(nes_buf *b, uint64_t n);

/** Appends the end of a chunked body: "0\r\n\r\n" (no trailers). */
int nes_h1_write_last_chunk(nes_buf *b);

/** Writes the IMF-fixdate of `t` (seconds since the Unix epoch, UTC; 0001..9999 AD) into out
 * (NES_H1_DATE_LEN bytes and a NUL). Returns NES_H1_DATE_LEN, or 0 when t is out of range. */
size_t nes_h1_imf_fixdate(int64_t t, char out[NES_H1_DATE_LEN + 1]);

#endif
