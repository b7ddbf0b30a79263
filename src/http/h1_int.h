/* h1_int.h - internals shared by the codec's parsers (not part of the API): character classes,
 * the field-line loop of heads and its list and Content-Length helpers. */
#ifndef NES_HTTP_H1_INT_H
#define NES_HTTP_H1_INT_H

#include "http/h1.h"

#include <stdint.h>

enum {
    H1_TCHAR = 1,  /* token character (RFC 9110 §5.6.2) */
    H1_VCHAR = 2,  /* visible ASCII 0x21..0x7e */
    H1_FVAL = 4,   /* field-value byte: VCHAR, obs-text 0x80..0xff, SP, HTAB */
    H1_HEX = 8,    /* hex digit */
    H1_DIGIT = 16, /* decimal digit */
    H1_HOST = 32,  /* uri-host [":" port] byte: unreserved, pct-encoded, sub-delims, ":[]" */
};

/** Character classes of every byte (a constant table). */
extern const uint8_t nes_h1_ctab[256];

static inline int h1_is(unsigned char c, int cls)
{
    return (nes_h1_ctab[c] & cls) != 0;
}

/** ASCII case-insensitive equality of s (of length n) and lit. */
int nes_h1_eq_nocase_n(const char *s, const char *lit, size_t n);

/** nes_h1_eq_nocase_n for a literal of lowercase letters, digits and '-' only, and s from a
 * parsed head (no CR, no CTL but HTAB): then s[i] | 0x20 == lit[i] is exact. */
int nes_h1_eq_lower_n(const char *s, const char *lit, size_t n);

/** Whether slice s (from a parsed head) equals `lit` (a literal of lowercase letters, digits and
 * '-'), ASCII case-insensitively; the length test comes first and is a constant. */
#define H1_IS(s, lit) ((s).len == sizeof(lit) - 1 && nes_h1_eq_lower_n((s).p, lit, sizeof(lit) - 1))

/** Records a refusal (when err is not NULL) and returns -1. */
int nes_h1_fail(nes_h1_error *err, int status, const char *reason, size_t offset);

/** The effective limit: lim's field, or the default when lim is NULL or the field is 0. */
const nes_h1_limits *nes_h1_limits_or_default(const nes_h1_limits *lim, nes_h1_limits *tmp);

/** "Need more bytes", or 431 when the head already fills limits.max_head_bytes. */
int nes_h1_need_more(size_t len, const nes_h1_limits *lim, nes_h1_error *err);

/** Parses field lines from buf[p], the start of the line after the start line, up to and
 * including the empty line that ends the head; buf[0 .. n) is all that may be read. Stores up to
 * max_headers fields in hs (*nh counts them). Returns the offset after the empty line (> 0), 0
 * when more bytes are needed, -1 when refused (request-side statuses: 400, 431). */
long nes_h1_parse_fields(const char *buf, size_t n, size_t p, size_t max_headers, nes_h1_header *hs,
                         size_t *nh, nes_h1_error *err);

/** Splits a comma-separated list (RFC 9110 §5.6.1): the next non-empty element after *pos with
 * its surrounding whitespace removed; 0 when there is none left. */
int nes_h1_list_next(nes_h1_str v, size_t *pos, nes_h1_str *elem);

/** True when s is a non-empty token. */
int nes_h1_is_token(nes_h1_str s);

/** Content-Length value: 1*DIGIT up to 2^63-1. 0 with *out set, or -1. */
int nes_h1_parse_length(nes_h1_str v, uint64_t *out);

/** Folds the Content-Length fields of hs[0..n): sets *found and *len. Returns 0, or -1 with
 * err (status 400) when one is invalid or two differ. */
int nes_h1_content_length(const nes_h1_header *hs, size_t n, int *found, uint64_t *len,
                          nes_h1_error *err, const char *base);

/** Transfer-Encoding fields of hs[0..n): 0 when absent, 1 when the codings are exactly
 * "chunked", -1 refused (400 malformed or chunked twice, 501 another coding). */
int nes_h1_transfer_encoding(const nes_h1_header *hs, size_t n, nes_h1_error *err,
                             const char *base);

/** Connection fields of hs[0..n): sets *close / *keep_alive for those tokens. 0, or -1 (400)
 * when a value is not a token list. */
int nes_h1_connection(const nes_h1_header *hs, size_t n, int *close, int *keep_alive,
                      nes_h1_error *err, const char *base);

#endif
