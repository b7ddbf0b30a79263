/* json_scan_impl.h - the scanner's inner functions, for json_scan.c and for the transform's
 * validate-and-check loop (transform.c), which inlines them instead of calling nes_json_next for
 * every token; not a public interface (use json_scan.h). Everything here is static inline: each
 * including file gets its own copy, specialised to its loop. The grammar, the UTF-8 rules and the
 * error reasons are json_scan.h's. */
#ifndef NES_JSON_SCAN_IMPL_H
#define NES_JSON_SCAN_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/json_scan.h"

/* Scanner states: what may come next. */
enum {
    ST_START = 0,      /* the top-level value (empty input and a BOM are reported here) */
    ST_VALUE,          /* a value: after ':' or after ',' in an array */
    ST_VALUE_OR_CLOSE, /* after '[' */
    ST_KEY_OR_CLOSE,   /* after '{' */
    ST_AFTER,          /* after a value: ',' or the closing bracket, or the end at top level */
    ST_DONE,
    ST_FAILED,
};

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NES_SWAR 1
#else
#define NES_SWAR 0
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Bytes that end the fast run inside a string: '"', '\\', controls and every non-ASCII byte. */
static const uint8_t string_stop[256] = {
    [0x00 ... 0x1f] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xff] = 1,
};

static ALWAYS_INLINE uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* High bit set in each byte of `w` that is '"', '\\', < 0x20 or >= 0x80. Borrows may also mark
 * bytes above a marked one, never below it, so the lowest mark is exact. */
static ALWAYS_INLINE uint64_t string_stop_mask(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"');
    uint64_t b = w ^ (ONES * '\\');
    uint64_t quote = (q - ONES) & ~q;
    uint64_t bslash = (b - ONES) & ~b;
    uint64_t ctrl = (w - ONES * 0x20) & ~w;
    return (quote | bslash | ctrl | w) & HIGHS;
}

/* Index of the first byte at or after `i` that ends a plain run inside a string (or len). */
static ALWAYS_INLINE size_t find_string_stop(const uint8_t *in, size_t len, size_t i)
{
#if NES_SWAR
    while (len - i >= 8) {
        uint64_t m = string_stop_mask(load64(in + i));
        if (m != 0)
            return i + ((unsigned)__builtin_ctzll(m) >> 3);
        i += 8;
    }
#endif
    while (i < len && !string_stop[in[i]])
        i++;
    return i;
}

static ALWAYS_INLINE bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static ALWAYS_INLINE size_t skip_ws(const uint8_t *in, size_t len, size_t p)
{
    while (p < len && is_ws(in[p]))
        p++;
    return p;
}

static ALWAYS_INLINE bool is_digit(uint8_t c)
{
    return (unsigned)(c - '0') < 10u;
}

static ALWAYS_INLINE bool is_cont(uint8_t c)
{
    return (c & 0xC0) == 0x80;
}

/* Length of the well-formed UTF-8 sequence at in[i] (i < len), or 0 when it is malformed:
 * overlong, a surrogate, above U+10FFFF, or truncated. */
static inline size_t utf8_seq_len(const uint8_t *in, size_t len, size_t i)
{
    uint8_t c = in[i];
    size_t avail = len - i;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return avail >= 2 && is_cont(in[i + 1]) ? 2 : 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c < 0xF0) {
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* U+D800..U+DFFF */
        if (avail < 3 || in[i + 1] < lo || in[i + 1] > hi || !is_cont(in[i + 2]))
            return 0;
        return 3;
    }
    if (c > 0xF4)
        return 0;
    if (c == 0xF0)
        lo = 0x90; /* overlong below U+10000 */
    else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (avail < 4 || in[i + 1] < lo || in[i + 1] > hi || !is_cont(in[i + 2]) || !is_cont(in[i + 3]))
        return 0;
    return 4;
}

static inline int hex_val(uint8_t c)
{
    if (is_digit(c))
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The code unit of the 4 hex digits at p (avail bytes there), or -1. */
static inline long hex4(const uint8_t *p, size_t avail)
{
    if (avail < 4)
        return -1;
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hex_val(p[k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Decodes the escape at p[i] == '\\' (\uXXXX with its low surrogate when it is a high one).
 * Returns the escape's length and sets *cp, or 0 with *why set. */
static inline size_t decode_escape(const uint8_t *p, size_t len, size_t i, uint32_t *cp,
                                   const char **why)
{
    *why = "invalid escape";
    if (len - i < 2)
        return 0;
    switch (p[i + 1]) {
    case '"':
    case '\\':
    case '/':
        *cp = p[i + 1];
        return 2;
    case 'b':
        *cp = '\b';
        return 2;
    case 'f':
        *cp = '\f';
        return 2;
    case 'n':
        *cp = '\n';
        return 2;
    case 'r':
        *cp = '\r';
        return 2;
    case 't':
        *cp = '\t';
        return 2;
    case 'u':
        break;
    default:
        return 0;
    }
    long hi = hex4(p + i + 2, len - i - 2);
    if (hi < 0) {
        *why = "invalid \\u escape";
        return 0;
    }
    *why = "lone surrogate in \\u escape";
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return 0;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = (uint32_t)hi;
        return 6;
    }
    if (len - i < 12 || p[i + 6] != '\\' || p[i + 7] != 'u')
        return 0;
    long lo = hex4(p + i + 8, len - i - 8);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return 0;
    *cp = 0x10000u + (((uint32_t)hi - 0xD800u) << 10) + ((uint32_t)lo - 0xDC00u);
    return 12;
}

static ALWAYS_INLINE uint64_t *stack_words(nes_json_scanner *s)
{
    return s->stack != NULL ? s->stack : s->inline_stack;
}

static ALWAYS_INLINE bool top_is_object(const nes_json_scanner *s)
{
    const uint64_t *w = s->stack != NULL ? s->stack : s->inline_stack;
    unsigned i = s->depth - 1;
    return (w[i / 64] >> (i % 64)) & 1u;
}

__attribute__((cold)) static inline nes_json_type scan_fail(nes_json_scanner *s, nes_status st,
                                                            size_t off, const char *why)
{
    s->state = ST_FAILED;
    s->pos = off;
    nes_err_set(s->err, st, off, "%s", why);
    return NES_JSON_ERROR;
}

static ALWAYS_INLINE nes_json_type emit(nes_json_scanner *s, nes_json_token *t, nes_json_type type,
                                        size_t start, size_t end, int next_state)
{
    t->type = type;
    t->escaped = false;
    t->start = start;
    t->end = end;
    s->pos = end;
    s->state = next_state;
    return type;
}

static ALWAYS_INLINE nes_json_type open_container(nes_json_scanner *s, nes_json_token *t, size_t p,
                                                  bool object)
{
    if (s->depth >= s->max_depth)
        return scan_fail(s, NES_ERR_DEPTH, p, "nesting too deep");
    unsigned i = s->depth++;
    uint64_t *w = stack_words(s);
    uint64_t bit = 1ULL << (i % 64);
    w[i / 64] = object ? (w[i / 64] | bit) : (w[i / 64] & ~bit);
    if (object)
        return emit(s, t, NES_JSON_OBJECT, p, p + 1, ST_KEY_OR_CLOSE);
    return emit(s, t, NES_JSON_ARRAY, p, p + 1, ST_VALUE_OR_CLOSE);
}

static ALWAYS_INLINE nes_json_type close_container(nes_json_scanner *s, nes_json_token *t, size_t p,
                                                   nes_json_type type)
{
    s->depth--;
    return emit(s, t, type, p, p + 1, ST_AFTER);
}

/* Scans the string whose opening quote is at p; fills t's range and escaped flag. */
static ALWAYS_INLINE bool scan_string(nes_json_scanner *s, size_t p, nes_json_token *t)
{
    const uint8_t *in = s->in;
    size_t len = s->len, i = p + 1;
    bool escaped = false;
    for (;;) {
        i = find_string_stop(in, len, i);
        if (i >= len) {
            scan_fail(s, NES_ERR_JSON, p, "unterminated string");
            return false;
        }
        uint8_t c = in[i];
        if (c == '"')
            break;
        size_t n;
        if (c == '\\') {
            const char *why;
            uint32_t cp;
            n = decode_escape(in, len, i, &cp, &why);
            if (n == 0) {
                scan_fail(s, NES_ERR_JSON, i, why);
                return false;
            }
            escaped = true;
        } else if (c < 0x20) {
            scan_fail(s, NES_ERR_JSON, i, "control character in string");
            return false;
        } else if ((n = utf8_seq_len(in, len, i)) == 0) {
            scan_fail(s, NES_ERR_JSON, i, "invalid UTF-8");
            return false;
        }
        i += n;
    }
    t->escaped = escaped;
    t->start = p;
    t->end = i + 1;
    return true;
}

/* Scans the number at p; returns its end, or 0 with *bad at the offending byte. */
static ALWAYS_INLINE size_t scan_number(const uint8_t *in, size_t len, size_t p, size_t *bad)
{
    size_t i = p;
    if (in[i] == '-')
        i++;
    if (i < len && in[i] == '0') {
        i++;
    } else if (i < len && is_digit(in[i])) {
        while (++i < len && is_digit(in[i]))
            ;
    } else {
        *bad = i;
        return 0;
    }
    if (i < len && in[i] == '.') {
        if (++i >= len || !is_digit(in[i])) {
            *bad = i;
            return 0;
        }
        while (++i < len && is_digit(in[i]))
            ;
    }
    if (i < len && (in[i] == 'e' || in[i] == 'E')) {
        i++;
        if (i < len && (in[i] == '+' || in[i] == '-'))
            i++;
        if (i >= len || !is_digit(in[i])) {
            *bad = i;
            return 0;
        }
        while (++i < len && is_digit(in[i]))
            ;
    }
    return i;
}

static ALWAYS_INLINE uint32_t load32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* "true", "false" or "null" at p (word is the literal, n its length: 4 or 5). */
static ALWAYS_INLINE nes_json_type scan_literal(nes_json_scanner *s, nes_json_token *t, size_t p,
                                                const char *word, size_t n, nes_json_type type)
{
    const uint8_t *in = s->in + p;
    if (s->len - p < n || load32(in) != load32((const uint8_t *)word) || (n == 5 && in[4] != 'e'))
        return scan_fail(s, NES_ERR_JSON, p, "invalid literal");
    return emit(s, t, type, p, p + n, ST_AFTER);
}

static ALWAYS_INLINE nes_json_type scan_value(nes_json_scanner *s, size_t p, nes_json_token *t)
{
    if (p >= s->len)
        return scan_fail(s, NES_ERR_JSON, p, "unexpected end of input");
    uint8_t c = s->in[p];
    switch (c) {
    case '"':
        if (!scan_string(s, p, t))
            return NES_JSON_ERROR;
        t->type = NES_JSON_STRING;
        s->pos = t->end;
        s->state = ST_AFTER;
        return NES_JSON_STRING;
    case '{':
        return open_container(s, t, p, true);
    case '[':
        return open_container(s, t, p, false);
    case 't':
        return scan_literal(s, t, p, "true", 4, NES_JSON_TRUE);
    case 'f':
        return scan_literal(s, t, p, "false", 5, NES_JSON_FALSE);
    case 'n':
        return scan_literal(s, t, p, "null", 4, NES_JSON_NULL);
    default:
        break;
    }
    if (c != '-' && !is_digit(c))
        return scan_fail(s, NES_ERR_JSON, p, "expected a value");
    size_t bad = p;
    size_t end = scan_number(s->in, s->len, p, &bad);
    if (end == 0)
        return scan_fail(s, NES_ERR_JSON, bad, "invalid number");
    return emit(s, t, NES_JSON_NUMBER, p, end, ST_AFTER);
}

/* A member name at p, then ':'. */
static ALWAYS_INLINE nes_json_type scan_key(nes_json_scanner *s, size_t p, nes_json_token *t,
                                            const char *why)
{
    if (p >= s->len)
        return scan_fail(s, NES_ERR_JSON, p, "unexpected end of input");
    if (s->in[p] != '"')
        return scan_fail(s, NES_ERR_JSON, p, why);
    if (!scan_string(s, p, t))
        return NES_JSON_ERROR;
    size_t q = t->end;
    if (q < s->len && s->in[q] != ':')
        q = skip_ws(s->in, s->len, q);
    if (q >= s->len || s->in[q] != ':')
        return scan_fail(s, NES_ERR_JSON, q, "expected ':'");
    t->type = NES_JSON_KEY;
    s->pos = q + 1;
    s->state = ST_VALUE;
    return NES_JSON_KEY;
}

static ALWAYS_INLINE nes_json_type after_value(nes_json_scanner *s, size_t p, nes_json_token *t)
{
    size_t len = s->len;
    if (s->depth == 0) {
        if (p < len)
            return scan_fail(s, NES_ERR_JSON, p, "unexpected data after the JSON text");
        return emit(s, t, NES_JSON_END, p, p, ST_DONE);
    }
    if (p >= len)
        return scan_fail(s, NES_ERR_JSON, p, "unexpected end of input");
    uint8_t c = s->in[p];
    bool object = top_is_object(s);
    if (c == ',') {
        p = skip_ws(s->in, len, p + 1);
        return object ? scan_key(s, p, t, "expected '\"'") : scan_value(s, p, t);
    }
    if (object && c == '}')
        return close_container(s, t, p, NES_JSON_OBJECT_END);
    if (!object && c == ']')
        return close_container(s, t, p, NES_JSON_ARRAY_END);
    return scan_fail(s, NES_ERR_JSON, p, object ? "expected ',' or '}'" : "expected ',' or ']'");
}

static inline nes_json_type scan_start(nes_json_scanner *s, size_t p, nes_json_token *t)
{
    const uint8_t *in = s->in;
    if (s->len >= 3 && in[0] == 0xEF && in[1] == 0xBB && in[2] == 0xBF)
        return scan_fail(s, NES_ERR_JSON, 0, "byte order mark not allowed");
    if (p >= s->len)
        return scan_fail(s, NES_ERR_JSON, p, "empty input");
    return scan_value(s, p, t);
}

static ALWAYS_INLINE nes_json_type next_token(nes_json_scanner *s, nes_json_token *t)
{
    const uint8_t *in = s->in;
    size_t len = s->len, p = s->pos;
    if (p < len && is_ws(in[p]))
        p = skip_ws(in, len, p + 1);
    switch (s->state) {
    case ST_AFTER:
        return after_value(s, p, t);
    case ST_VALUE:
        return scan_value(s, p, t);
    case ST_KEY_OR_CLOSE:
        if (p < len && in[p] == '}')
            return close_container(s, t, p, NES_JSON_OBJECT_END);
        return scan_key(s, p, t, "expected '\"' or '}'");
    case ST_VALUE_OR_CLOSE:
        if (p < len && in[p] == ']')
            return close_container(s, t, p, NES_JSON_ARRAY_END);
        return scan_value(s, p, t);
    case ST_START:
        return scan_start(s, p, t);
    case ST_DONE:
        return emit(s, t, NES_JSON_END, len, len, ST_DONE);
    default:
        t->type = NES_JSON_ERROR;
        return NES_JSON_ERROR;
    }
}

#endif
