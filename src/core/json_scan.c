/* json_scan.c - strict RFC 8259 pull scanner, UTF-8 checks and JSON string helpers. */
#include "core/json_scan.h"
#include "core/json_scan_impl.h"

#include <stdlib.h>
#include <string.h>

size_t nes_utf8_valid_prefix(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
#if NES_SWAR
        while (len - i >= 8 && (load64(p + i) & HIGHS) == 0)
            i += 8;
        if (i == len)
            break;
#endif
        size_t n = utf8_seq_len(p, len, i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

bool nes_utf8_valid(const uint8_t *p, size_t len)
{
    return nes_utf8_valid_prefix(p, len) == len;
}

/* ---- scanner ------------------------------------------------------------------------------ */

nes_status nes_json_scanner_init(nes_json_scanner *s, const uint8_t *in, size_t len,
                                 unsigned max_depth, nes_err *err)
{
    memset(s, 0, sizeof *s);
    s->in = in;
    s->len = len;
    s->max_depth = max_depth;
    s->err = err;
    s->state = ST_START;
    /* Every open container took one input byte, so len bounds the stack as well. */
    size_t levels = max_depth < len ? max_depth : len;
    size_t words = levels / 64 + 1;
    if (words > NES_JSON_INLINE_STACK_WORDS) {
        s->stack = calloc(words, sizeof *s->stack);
        if (s->stack == NULL) {
            s->state = ST_FAILED;
            return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
        }
    }
    return NES_OK;
}

void nes_json_scanner_free(nes_json_scanner *s)
{
    free(s->stack);
    s->stack = NULL;
}

unsigned nes_json_depth(const nes_json_scanner *s)
{
    return s->depth;
}

bool nes_json_in_array(const nes_json_scanner *s)
{
    return s->depth > 0 && !top_is_object(s);
}

nes_json_type nes_json_next(nes_json_scanner *s, nes_json_token *t)
{
    return next_token(s, t);
}

nes_json_type nes_json_skip(nes_json_scanner *s, nes_json_token *t)
{
    if (s->depth == 0 || (s->state != ST_KEY_OR_CLOSE && s->state != ST_VALUE_OR_CLOSE)) {
        t->type = NES_JSON_ERROR;
        return s->state == ST_FAILED ? NES_JSON_ERROR
                                     : scan_fail(s, NES_ERR_JSON, s->pos, "misuse");
    }
    unsigned target = s->depth - 1;
    for (;;) {
        nes_json_type k = next_token(s, t);
        if (k == NES_JSON_ERROR)
            return k;
        if ((k == NES_JSON_OBJECT_END || k == NES_JSON_ARRAY_END) && s->depth == target)
            return k;
    }
}

/* ---- string helpers ----------------------------------------------------------------------- */

static size_t utf8_put(uint8_t *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (uint8_t)(0xC0 | (cp >> 6));
        d[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (cp >> 12));
        d[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (cp >> 18));
    d[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

nes_status nes_json_unescape(const uint8_t *p, size_t len, nes_buf *out)
{
    /* An escape never unescapes to more bytes than it takes: len bounds the output. */
    if (nes_buf_reserve(out, len) != 0)
        return nes_buf_fail_status(out, len);
    uint8_t *d = out->data + out->len;
    size_t i = 0;
    while (i < len) {
        const uint8_t *bs = memchr(p + i, '\\', len - i);
        size_t run = bs != NULL ? (size_t)(bs - (p + i)) : len - i;
        memcpy(d, p + i, run);
        d += run;
        i += run;
        if (i == len)
            break;
        uint32_t cp;
        const char *why;
        size_t n = decode_escape(p, len, i, &cp, &why);
        if (n == 0)
            return NES_ERR_JSON;
        d += utf8_put(d, cp);
        i += n;
    }
    out->len = (size_t)(d - out->data);
    return NES_OK;
}

/* Escape text for bytes below 0x20 and '"', '\\' (0: copied as is). */
static const char *const escape_text[0x60] = {
    [0x00] = "\\u0000", [0x01] = "\\u0001", [0x02] = "\\u0002", [0x03] = "\\u0003",
    [0x04] = "\\u0004", [0x05] = "\\u0005", [0x06] = "\\u0006", [0x07] = "\\u0007",
    [0x08] = "\\b",     [0x09] = "\\t",     [0x0a] = "\\n",     [0x0b] = "\\u000b",
    [0x0c] = "\\f",     [0x0d] = "\\r",     [0x0e] = "\\u000e", [0x0f] = "\\u000f",
    [0x10] = "\\u0010", [0x11] = "\\u0011", [0x12] = "\\u0012", [0x13] = "\\u0013",
    [0x14] = "\\u0014", [0x15] = "\\u0015", [0x16] = "\\u0016", [0x17] = "\\u0017",
    [0x18] = "\\u0018", [0x19] = "\\u0019", [0x1a] = "\\u001a", [0x1b] = "\\u001b",
    [0x1c] = "\\u001c", [0x1d] = "\\u001d", [0x1e] = "\\u001e", [0x1f] = "\\u001f",
    ['"'] = "\\\"",     ['\\'] = "\\\\",
};

/* High bit set in each byte of `w` that must be escaped: '"', '\\' or below 0x20 (the lowest
 * mark is exact, as for string_stop_mask). */
static ALWAYS_INLINE uint64_t escape_mask(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"');
    uint64_t b = w ^ (ONES * '\\');
    uint64_t quote = (q - ONES) & ~q;
    uint64_t bslash = (b - ONES) & ~b;
    uint64_t ctrl = (w - ONES * 0x20) & ~w;
    return (quote | bslash | ctrl) & HIGHS;
}

/* Index of the first byte at or after `i` that must be escaped (or len). */
static size_t find_escape(const uint8_t *p, size_t len, size_t i)
{
#if NES_SWAR
    while (len - i >= 8) {
        uint64_t m = escape_mask(load64(p + i));
        if (m != 0)
            return i + ((unsigned)__builtin_ctzll(m) >> 3);
        i += 8;
    }
#endif
    while (i < len && (p[i] >= 0x60 || escape_text[p[i]] == NULL))
        i++;
    return i;
}

nes_status nes_json_write_string(nes_buf *out, const uint8_t *p, size_t len)
{
    if (!nes_utf8_valid(p, len))
        return NES_ERR_JSON;
    size_t need = len + 2;
    for (size_t i = find_escape(p, len, 0); i < len; i = find_escape(p, len, i + 1))
        need += strlen(escape_text[p[i]]) - 1;
    if (nes_buf_reserve(out, need) != 0)
        return nes_buf_fail_status(out, need);
    uint8_t *d = out->data + out->len;
    *d++ = '"';
    size_t i = 0;
    while (i < len) {
        size_t j = find_escape(p, len, i);
        memcpy(d, p + i, j - i);
        d += j - i;
        if (j == len)
            break;
        const char *e = escape_text[p[j]];
        size_t n = strlen(e);
        /* JSON output bytes, not a C string: no NUL belongs here. */
        memcpy(d, e, n); /* NOLINT(bugprone-not-null-terminated-result) */
        d += n;
        i = j + 1;
    }
    *d++ = '"';
    out->len = (size_t)(d - out->data);
    return NES_OK;
}

/* End (after the closing quote) of the string opening at p[i]; len when unterminated. */
static size_t string_end(const uint8_t *p, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '"')
            return i + 1;
    }
    return len;
}

nes_status nes_json_minify(const uint8_t *p, size_t len, nes_buf *out)
{
    size_t run = 0, i = 0;
    while (i < len) {
        if (p[i] == '"') {
            i = string_end(p, len, i);
            continue;
        }
        if (!is_ws(p[i])) {
            i++;
            continue;
        }
        if (nes_buf_append(out, p + run, i - run) != 0)
            return nes_buf_fail_status(out, i - run);
        i = skip_ws(p, len, i);
        run = i;
    }
    if (nes_buf_append(out, p + run, len - run) != 0)
        return nes_buf_fail_status(out, len - run);
    return NES_OK;
}
