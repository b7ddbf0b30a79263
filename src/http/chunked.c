/* chunked.c - the chunked transfer coding decoder (see chunked.h). */
#include "http/chunked.h"

#include "core/hex.h"
#include "http/h1_int.h"

#include <string.h>

enum {
    CS_SIZE0,       /* first hex digit of a chunk-size */
    CS_SIZE,        /* more digits, an extension or the line end */
    CS_EXT_SEMI,    /* after an extension: ";" (after BWS) or the line end */
    CS_EXT_WS,      /* whitespace seen: more of it or ";" */
    CS_EXT_NAME0,   /* after ";": BWS, then the extension name */
    CS_EXT_NAME,    /* in the name */
    CS_EXT_NAME_WS, /* whitespace after the name: "=" or ";" */
    CS_EXT_VAL0,    /* after "=": BWS, then token or quoted-string */
    CS_EXT_VAL,     /* in a token value */
    CS_EXT_QUOTED,  /* in a quoted-string value */
    CS_EXT_QESC,    /* after a backslash in a quoted-string */
    CS_SIZE_LF,     /* CR seen at the end of a chunk line */
    CS_DATA,        /* chunk data */
    CS_DATA_END,    /* the line end after chunk data */
    CS_DATA_LF,     /* CR seen after chunk data */
    CS_TR_LINE,     /* start of a trailer line (or the final empty line) */
    CS_TR_NAME,     /* in a trailer field name */
    CS_TR_VALUE,    /* in a trailer field value */
    CS_TR_LF,       /* CR seen at the end of a trailer field line */
    CS_END_LF,      /* CR seen on the final empty line */
    CS_DONE,
    CS_FAILED,
};

void nes_h1_chunked_init(nes_h1_chunked *c, const nes_h1_limits *lim)
{
    nes_h1_limits tmp;
    const nes_h1_limits *l = nes_h1_limits_or_default(lim, &tmp);
    memset(c, 0, sizeof *c);
    c->lim = *l;
    c->state = CS_SIZE0;
}

bool nes_h1_chunked_done(const nes_h1_chunked *c)
{
    return c->state == CS_DONE;
}

static int is_ws(unsigned char b)
{
    return b == ' ' || b == '\t';
}

/* qdtext: HTAB / SP / 0x21 / 0x23-0x5B / 0x5D-0x7E / obs-text */
static int qdtext(unsigned char b)
{
    return b == '\t' || b == ' ' || b == 0x21 || (b >= 0x23 && b <= 0x5b) ||
           (b >= 0x5d && b <= 0x7e) || b >= 0x80;
}

int nes_h1_chunked_decode(nes_h1_chunked *c, const char *in, size_t in_len, size_t *in_used,
                          char *out, size_t out_cap, size_t *out_len, nes_h1_error *err)
{
    const unsigned char *b = (const unsigned char *)in;
    size_t i = 0, o = 0;
    int rc = 0;
    const char *why = NULL;
    int status = 400;
    *in_used = 0;
    *out_len = 0;
    if (c->error.status != 0) {
        if (err != NULL)
            *err = c->error;
        return -1;
    }
    while (i < in_len && c->state != CS_DONE) {
        if (c->state == CS_DATA) {
            size_t n = in_len - i;
            if (c->remaining < n)
                n = (size_t)c->remaining;
            if (out_cap - o < n)
                n = out_cap - o;
            if (n == 0)
                break; /* out is full */
            memmove(out + o, in + i, n);
            o += n;
            i += n;
            c->remaining -= n;
            if (c->remaining == 0)
                c->state = CS_DATA_END;
            continue;
        }
        unsigned char ch = b[i];
        int line_end = 0;
        switch (c->state) {
        case CS_SIZE0:
        case CS_SIZE:
            if (h1_is(ch, H1_HEX)) {
                if (++c->count > c->lim.max_chunk_size_digits) {
                    why = "chunk size has too many digits";
                    break;
                }
                if (c->remaining > (UINT64_MAX >> 4)) {
                    why = "chunk size too large";
                    break;
                }
                c->remaining = c->remaining << 4 | (uint64_t)nes_hexval((char)ch);
                c->state = CS_SIZE;
                break;
            }
            if (c->state == CS_SIZE0) {
                why = "invalid chunk size";
                break;
            }
            c->count = 0;
            c->state = CS_EXT_SEMI;
            continue; /* the same byte again as the start of the extensions */
        case CS_EXT_SEMI:
        case CS_EXT_WS:
            if (ch == ';')
                c->state = CS_EXT_NAME0;
            else if (is_ws(ch))
                c->state = CS_EXT_WS;
            else if (c->state == CS_EXT_SEMI && (ch == '\r' || ch == '\n'))
                line_end = 1;
            else
                why = "invalid chunk extension";
            break;
        case CS_EXT_NAME0:
            if (h1_is(ch, H1_TCHAR))
                c->state = CS_EXT_NAME;
            else if (!is_ws(ch))
                why = "invalid chunk extension";
            break;
        case CS_EXT_NAME:
        case CS_EXT_NAME_WS:
            if (c->state == CS_EXT_NAME && h1_is(ch, H1_TCHAR))
                break;
            if (ch == '=')
                c->state = CS_EXT_VAL0;
            else if (ch == ';')
                c->state = CS_EXT_NAME0;
            else if (is_ws(ch))
                c->state = CS_EXT_NAME_WS;
            else if (c->state == CS_EXT_NAME && (ch == '\r' || ch == '\n'))
                line_end = 1;
            else
                why = "invalid chunk extension";
            break;
        case CS_EXT_VAL0:
            if (ch == '"')
                c->state = CS_EXT_QUOTED;
            else if (h1_is(ch, H1_TCHAR))
                c->state = CS_EXT_VAL;
            else if (!is_ws(ch))
                why = "invalid chunk extension";
            break;
        case CS_EXT_VAL:
            if (h1_is(ch, H1_TCHAR))
                break;
            if (ch == ';')
                c->state = CS_EXT_NAME0;
            else if (is_ws(ch))
                c->state = CS_EXT_WS;
            else if (ch == '\r' || ch == '\n')
                line_end = 1;
            else
                why = "invalid chunk extension";
            break;
        case CS_EXT_QUOTED:
            if (ch == '"')
                c->state = CS_EXT_SEMI;
            else if (ch == '\\')
                c->state = CS_EXT_QESC;
            else if (!qdtext(ch))
                why = "invalid chunk extension";
            break;
        case CS_EXT_QESC:
            if (ch == '\t' || ch == ' ' || h1_is(ch, H1_VCHAR) || ch >= 0x80)
                c->state = CS_EXT_QUOTED;
            else
                why = "invalid chunk extension";
            break;
        case CS_SIZE_LF:
            if (ch != '\n') {
                why = "bare CR in chunk line";
                break;
            }
            line_end = 2;
            break;
        case CS_DATA_END:
            if (ch == '\r')
                c->state = CS_DATA_LF;
            else if (ch == '\n')
                c->state = CS_SIZE0;
            else
                why = "chunk data longer than its size";
            break;
        case CS_DATA_LF:
            if (ch == '\n')
                c->state = CS_SIZE0;
            else
                why = "bare CR after chunk data";
            break;
        case CS_TR_LINE:
            if (ch == '\r')
                c->state = CS_END_LF;
            else if (ch == '\n')
                c->state = CS_DONE;
            else if (is_ws(ch))
                why = "obsolete line folding in trailer";
            else if (h1_is(ch, H1_TCHAR))
                c->state = CS_TR_NAME;
            else
                why = ch == ':' ? "empty field name in trailer" : "invalid trailer field name";
            break;
        case CS_TR_NAME:
            if (ch == ':')
                c->state = CS_TR_VALUE;
            else if (is_ws(ch))
                why = "whitespace before colon in trailer";
            else if (!h1_is(ch, H1_TCHAR))
                why = "invalid trailer field name";
            break;
        case CS_TR_VALUE:
            if (ch == '\r')
                c->state = CS_TR_LF;
            else if (ch == '\n')
                c->state = CS_TR_LINE;
            else if (!h1_is(ch, H1_FVAL))
                why = ch == 0 ? "NUL in trailer field value" : "control character in trailer";
            break;
        case CS_TR_LF:
        case CS_END_LF:
            if (ch != '\n')
                why = "bare CR in trailer section";
            else
                c->state = c->state == CS_TR_LF ? CS_TR_LINE : CS_DONE;
            break;
        default:
            why = "chunked decoder state";
            break;
        }
        if (why == NULL && line_end != 0) {
            if (line_end == 1 && ch == '\r') {
                c->state = CS_SIZE_LF;
            } else if (c->remaining == 0) {
                c->state = CS_TR_LINE; /* last-chunk: the trailer section follows */
            } else if (c->body_bytes > UINT64_MAX - c->remaining) {
                why = "chunked body too large";
            } else {
                c->body_bytes += c->remaining;
                c->state = CS_DATA;
            }
            if (c->state != CS_SIZE_LF)
                c->count = 0;
        }
        if (why == NULL) {
            if (c->state >= CS_EXT_SEMI && c->state < CS_SIZE_LF &&
                ++c->count > c->lim.max_chunk_ext_bytes)
                why = "chunk extension too long";
            else if (c->state >= CS_TR_LINE && ++c->trailer_bytes > c->lim.max_trailer_bytes) {
                why = "trailer section too large";
                status = 431;
            }
        }
        if (why != NULL) {
            nes_h1_fail(&c->error, status, why, (size_t)(c->consumed + i));
            c->state = CS_FAILED;
            if (err != NULL)
                *err = c->error;
            c->consumed += i;
            *in_used = i;
            *out_len = o;
            return -1;
        }
        i++;
    }
    if (c->state == CS_DONE)
        rc = 1;
    c->consumed += i;
    *in_used = i;
    *out_len = o;
    return rc;
}

int nes_h1_chunked_next(nes_h1_chunked *c, const char *in, size_t in_len, size_t *in_used,
                        const char **data, size_t *data_len, nes_h1_error *err)
{
    char none;
    size_t out_len;
    *data = NULL;
    *data_len = 0;
    /* With no output room the decoder stops at the first chunk data byte. */
    int rc = nes_h1_chunked_decode(c, in, in_len, in_used, &none, 0, &out_len, err);
    if (rc != 0 || c->state != CS_DATA || *in_used == in_len)
        return rc;
    size_t n = in_len - *in_used;
    if (c->remaining < n)
        n = (size_t)c->remaining;
    *data = in + *in_used;
    *data_len = n;
    *in_used += n;
    c->consumed += n;
    c->remaining -= n;
    if (c->remaining == 0)
        c->state = CS_DATA_END;
    return 0;
}
