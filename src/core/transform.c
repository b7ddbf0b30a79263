/* transform.c - the single-pass JSON splice transform (see transform.h).
 *
 * The scanner walks the body token by token. A stack holds the automaton node of every open
 * container that can still lead to PII or has members to check (node->walk), with the member
 * name or element index being read in it (for error pointers); any other container is validated
 * in one go by nes_json_skip, without lookups. Output is the input copied in bulk from a "copied
 * up to" cursor, with each PII value's byte range replaced by its token (or, on decrypt, its
 * value).
 *
 * The member check (fail closed) is on the hot path, so it is kept cheap: the scanner's steps are
 * inlined here (json_scan_impl.h) instead of called per token; a member name without escapes is
 * looked up where it stands in the input, in the node's property index (pii.h: one hash probe,
 * compared as two words and the length); and a container whose node has no PII at or below it is
 * walked in validate-and-check mode (check_only): names looked up, scalars only validated, no
 * PII logic per value. The fuzzer fuzz_transform checks every verdict, error and output byte
 * against twins of its automata without these fast paths. */
#include "core/transform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_scan.h"
#include "core/json_scan_impl.h"

/** Open containers kept without allocating. */
#define INLINE_FRAMES 32

/** Longest JSON pointer put in an error message. */
#define MAX_POINTER 160

/* An open container being walked: its node, whether it is an array, and where in it the scan
 * is (the member name token being read, or the index of the element being read). */
typedef struct frame {
    const nes_pii_node *node;
    bool array;
    bool key_escaped;
    size_t key_start, key_end; /* the name token, quotes included */
    size_t index;              /* element index; (size_t)-1 before the first */
} frame;

typedef struct tx {
    nes_direction dir;
    const nes_codec *codec;
    unsigned max_depth;
    const uint8_t *in;
    size_t len;
    nes_buf *out;
    size_t copied;           /* in[0..copied) has been written to out */
    const nes_pii_node *cur; /* node of the next value (NULL: not PII, nothing below) */
    frame *frames;           /* INLINE_FRAMES inline, or allocated */
    size_t nframes, frames_cap;
    frame inline_frames[INLINE_FRAMES];
    nes_json_scanner sc;
    nes_buf key;   /* unescaped member name */
    nes_buf plain; /* plaintext: unescaped string, minified JSON, or decrypted bytes */
    nes_buf tok;   /* token text */
    size_t fields;
    size_t unknown_passed;
    bool pass_unknown;
    nes_err e;
} tx;

/* Codecs get a real pointer even for the empty context. */
static const uint8_t *context_of(const nes_pii_node *n)
{
    static const uint8_t empty[1];
    return n->context != NULL ? n->context : empty;
}

static bool interesting(const nes_pii_node *n)
{
    return n != NULL && n->walk;
}

static nes_status fail(tx *t, nes_status st, size_t off, const char *why)
{
    return nes_err_set(&t->e, st, off, "%s", why);
}

/* Appends one pointer token (unescaped UTF-8) with RFC 6901 escapes; false when out is full. */
static bool put_token(char *out, size_t *o, size_t cap, const uint8_t *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char tmp[8];
        size_t tl = 1;
        tmp[0] = (char)k[i];
        if (k[i] == '~' || k[i] == '/') {
            tmp[0] = '~';
            tmp[1] = k[i] == '~' ? '0' : '1';
            tl = 2;
        } else if (k[i] < 0x20 || k[i] == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            tmp[0] = '\\';
            tmp[1] = 'u';
            tmp[2] = '0';
            tmp[3] = '0';
            tmp[4] = hex[k[i] >> 4];
            tmp[5] = hex[k[i] & 15];
            tl = 6;
        }
        if (*o + tl >= cap)
            return false;
        memcpy(out + *o, tmp, tl);
        *o += tl;
    }
    return true;
}

/* The JSON pointer of the value being read (every open frame's member or index), cut with
 * "..." when it does not fit in cap - 4 bytes. */
static void pointer_of(tx *t, char *out, size_t cap)
{
    size_t o = 0, lim = cap - 4; /* room kept for "..." and the NUL */
    bool full = false;
    for (size_t i = 0; i < t->nframes && !full; i++) {
        const frame *f = &t->frames[i];
        if (o + 1 >= lim) {
            full = true;
            break;
        }
        out[o++] = '/';
        if (f->array) {
            char num[24];
            int n = snprintf(num, sizeof num, "%zu", f->index);
            if (n < 0 || o + (size_t)n >= lim) {
                full = true;
            } else {
                memcpy(out + o, num, (size_t)n);
                o += (size_t)n;
            }
            continue;
        }
        const uint8_t *k = t->in + f->key_start + 1;
        size_t klen = f->key_end - f->key_start - 2;
        if (f->key_escaped) {
            t->key.len = 0;
            if (nes_json_unescape(k, klen, &t->key) != NES_OK) {
                full = true;
                break;
            }
            k = t->key.data;
            klen = t->key.len;
        }
        full = !put_token(out, &o, lim, k, klen);
    }
    if (full) {
        /* cut at a UTF-8 boundary, then mark the cut */
        while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
            o--;
        if (o > 0 && (unsigned char)out[o - 1] >= 0xC0)
            o--;
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* Records an error that names the current value's pointer. */
static nes_status fail_at(tx *t, nes_status st, size_t off, const char *fmt_before,
                          const char *after)
{
    char ptr[MAX_POINTER + 8];
    pointer_of(t, ptr, sizeof ptr);
    return nes_err_set(&t->e, st, off, "%s \"%s\" %s", fmt_before, ptr, after);
}

static nes_status buf_fail(tx *t, nes_status st, size_t off)
{
    if (st == NES_ERR_LIMIT)
        return fail(t, st, off, "output exceeds the size limit");
    return fail(t, NES_ERR_NOMEM, off, "out of memory");
}

/* Writes in[copied..upto) to the output. */
static nes_status flush(tx *t, size_t upto)
{
    size_t n = upto - t->copied;
    if (nes_buf_append(t->out, t->in + t->copied, n) != 0)
        return buf_fail(t, nes_buf_fail_status(t->out, n), t->copied);
    t->copied = upto;
    return NES_OK;
}

/* Doubles the frame stack (push found it full). */
static nes_status grow_frames(tx *t)
{
    size_t cap = t->frames_cap > 0 ? t->frames_cap * 2 : INLINE_FRAMES;
    frame *p = malloc(cap * sizeof *p);
    if (p == NULL)
        return fail(t, NES_ERR_NOMEM, (size_t)-1, "out of memory");
    memcpy(p, t->frames, t->nframes * sizeof *p);
    if (t->frames != t->inline_frames)
        free(t->frames);
    t->frames = p;
    t->frames_cap = cap;
    return NES_OK;
}

static inline nes_status push(tx *t, const nes_pii_node *n, bool array)
{
    if (t->nframes == t->frames_cap && grow_frames(t) != NES_OK)
        return t->e.status;
    t->frames[t->nframes++] = (frame){.node = n, .array = array, .index = (size_t)-1};
    t->cur = array ? n->items : NULL;
    return NES_OK;
}

static void pop(tx *t)
{
    t->nframes--;
    const frame *top = t->nframes > 0 ? &t->frames[t->nframes - 1] : NULL;
    t->cur = top != NULL && top->array ? top->node->items : NULL;
}

/* An undeclared member: refused, or passed and counted. */
static nes_status undeclared(tx *t, const nes_json_token *tk, nes_member_kind kind)
{
    t->cur = NULL;
    if (kind == NES_MEMBER_UNKNOWN && !t->pass_unknown)
        return fail_at(t, NES_ERR_UNKNOWN_MEMBER, tk->start, "member",
                       "is not declared by the spec");
    t->unknown_passed++;
    return NES_OK;
}

/* lookup() for every name the fast path does not take: escaped names and nodes without a
 * property index, or (not_a_prop: the unescaped name was probed and is no property) names left to
 * the patterns, the wildcard and `members`. */
static nes_status lookup_slow(tx *t, const nes_json_token *tk, const nes_pii_node *obj,
                              bool not_a_prop)
{
    if (not_a_prop) {
        const uint8_t *k = t->in + tk->start + 1;
        nes_member_kind kind =
            nes_pii_lookup_unlisted(obj, (const char *)k, tk->end - tk->start - 2, &t->cur);
        return kind == NES_MEMBER_DECLARED ? NES_OK : undeclared(t, tk, kind);
    }
    if (obj->nprops == 0 && obj->npatterns == 0) {
        t->cur = obj->wildcard;
        if (obj->wildcard != NULL || obj->members == NES_MEMBERS_ANY)
            return NES_OK;
        return undeclared(
            t, tk, obj->members == NES_MEMBERS_CLOSED ? NES_MEMBER_UNKNOWN : NES_MEMBER_PASS);
    }
    const uint8_t *k = t->in + tk->start + 1;
    size_t klen = tk->end - tk->start - 2;
    if (tk->escaped) {
        t->key.len = 0;
        nes_status st = nes_json_unescape(k, klen, &t->key);
        if (st != NES_OK)
            return st == NES_ERR_JSON ? fail(t, st, tk->start, "invalid escape")
                                      : fail(t, NES_ERR_NOMEM, tk->start, "out of memory");
        k = t->key.data;
        klen = t->key.len;
    }
    nes_member_kind kind = nes_pii_lookup(obj, (const char *)k, klen, &t->cur);
    return kind == NES_MEMBER_DECLARED ? NES_OK : undeclared(t, tk, kind);
}

/* The node for the member whose name token is `tk`, in the object on top of the stack. The
 * declared-member path is one hash probe on the name as it stands in the input (no unescaping,
 * no copy), inlined into the scanning loops. */
static inline __attribute__((always_inline)) nes_status lookup(tx *t, const nes_json_token *tk)
{
    frame *top = &t->frames[t->nframes - 1];
    const nes_pii_node *obj = top->node;
    top->key_start = tk->start;
    top->key_end = tk->end;
    top->key_escaped = tk->escaped;
    if (tk->escaped || obj->slots == NULL)
        return lookup_slow(t, tk, obj, false);
    const uint8_t *k = t->in + tk->start + 1;
    size_t klen = tk->end - tk->start - 2;
    uint64_t head, tail = 0;
    if (NES_SWAR && tk->start + 9 <= t->len) {
        static const uint64_t first_bytes[9] = {0,
                                                0xff,
                                                0xffff,
                                                0xffffff,
                                                0xffffffff,
                                                0xffffffffffULL,
                                                0xffffffffffffULL,
                                                0xffffffffffffffULL,
                                                UINT64_MAX};
        memcpy(&head, k, 8);
        head &= first_bytes[klen < 8 ? klen : 8];
        if (klen > 8)
            memcpy(&tail, k + klen - 8, 8);
    } else {
        nes_pii_key_words((const char *)k, klen, &head, &tail);
    }
    const nes_pii_edge *e = nes_pii_find_prop(obj, (const char *)k, klen, head, tail);
    if (e == NULL)
        return lookup_slow(t, tk, obj, true);
    t->cur = e->node;
    return NES_OK;
}

/* Writes the token in t->tok as a JSON string in place of in[start..end). */
static nes_status splice_token(tx *t, size_t start, size_t end)
{
    nes_status st = flush(t, start);
    if (st != NES_OK)
        return st;
    st = nes_json_write_string(t->out, t->tok.data, t->tok.len);
    if (st == NES_ERR_JSON)
        return fail(t, NES_ERR_CRYPTO, start, "codec produced a token that is not UTF-8");
    if (st != NES_OK)
        return buf_fail(t, st, start);
    t->copied = end;
    t->fields++;
    return NES_OK;
}

/* Puts the encrypting form of the value `tk` (its plaintext) in t->plain, or points *pt at it
 * in the input. Containers are consumed here; *end is set past the value. */
static nes_status plaintext_of(tx *t, const nes_json_token *tk, nes_value_type vt,
                               const uint8_t **pt, size_t *pt_len, size_t *end)
{
    const uint8_t *in = t->in;
    *end = tk->end;
    if (tk->type == NES_JSON_STRING && vt == NES_VT_ANY) {
        /* the string as JSON text, escaped canonically so equal strings give equal tokens */
        nes_status st = NES_OK;
        t->plain.len = 0;
        if (tk->escaped) {
            t->tok.len = 0;
            st = nes_json_unescape(in + tk->start + 1, tk->end - tk->start - 2, &t->tok);
            if (st == NES_OK)
                st = nes_json_write_string(&t->plain, t->tok.data, t->tok.len);
        } else {
            st = nes_json_write_string(&t->plain, in + tk->start + 1, tk->end - tk->start - 2);
        }
        if (st != NES_OK)
            return fail(t, st == NES_ERR_JSON ? st : NES_ERR_NOMEM, tk->start, "cannot read value");
        *pt = t->plain.data;
        *pt_len = t->plain.len;
        return NES_OK;
    }
    if (tk->type == NES_JSON_STRING && !tk->escaped) {
        *pt = in + tk->start + 1;
        *pt_len = tk->end - tk->start - 2;
        return NES_OK;
    }
    if (tk->type != NES_JSON_STRING && tk->type != NES_JSON_OBJECT && tk->type != NES_JSON_ARRAY) {
        *pt = in + tk->start;
        *pt_len = tk->end - tk->start;
        return NES_OK;
    }
    nes_status st;
    t->plain.len = 0;
    if (tk->type == NES_JSON_STRING) {
        st = nes_json_unescape(in + tk->start + 1, tk->end - tk->start - 2, &t->plain);
    } else {
        nes_json_token close;
        if (nes_json_skip(&t->sc, &close) == NES_JSON_ERROR)
            return t->e.status;
        *end = close.end;
        st = nes_json_minify(in + tk->start, close.end - tk->start, &t->plain);
    }
    if (st != NES_OK)
        return fail(t, st == NES_ERR_JSON ? st : NES_ERR_NOMEM, tk->start, "cannot read value");
    *pt = t->plain.data;
    *pt_len = t->plain.len;
    return NES_OK;
}

/* The NES_JT_* bit of a value token's JSON type (0 for null). */
static unsigned jt_of(nes_json_type k)
{
    switch (k) {
    case NES_JSON_STRING:
        return NES_JT_STRING;
    case NES_JSON_NUMBER:
        return NES_JT_NUMBER;
    case NES_JSON_TRUE:
    case NES_JSON_FALSE:
        return NES_JT_BOOLEAN;
    case NES_JSON_OBJECT:
        return NES_JT_OBJECT;
    case NES_JSON_ARRAY:
        return NES_JT_ARRAY;
    default:
        return 0;
    }
}

static unsigned allowed_types(const nes_pii_node *n)
{
    return n->types != 0 ? n->types : NES_JT_ALL;
}

static nes_status encrypt_value(tx *t, const nes_json_token *tk, const nes_pii_node *n)
{
    if (tk->type == NES_JSON_NULL)
        return NES_OK;
    unsigned jt = jt_of(tk->type);
    if ((jt & allowed_types(n)) == 0 || (n->type == NES_VT_STRING && jt != NES_JT_STRING) ||
        (n->type == NES_VT_JSON && jt == NES_JT_STRING))
        return fail_at(t, NES_ERR_TYPE, tk->start, "PII value",
                       "has a JSON type that its schema does not allow");
    const uint8_t *pt = NULL;
    size_t pt_len = 0, end = 0;
    nes_status st = plaintext_of(t, tk, n->type, &pt, &pt_len, &end);
    if (st != NES_OK)
        return st;
    t->tok.len = 0;
    if (t->codec->encrypt(t->codec->ud, context_of(n), n->context_len, pt, pt_len, &t->tok) != 0)
        return fail(t, NES_ERR_CRYPTO, tk->start, "encryption failed");
    return splice_token(t, tk->start, end);
}

/* The NES_JT_* type of p[0..len) when it is minified JSON (not null) that nests at most `depth`
 * containers: exactly what encrypting such a value would have produced; else 0. */
static unsigned raw_json_type(const uint8_t *p, size_t len, unsigned depth)
{
    if (len == 0 || p[0] == 'n')
        return 0;
    nes_json_scanner sc;
    if (nes_json_scanner_init(&sc, p, len, depth, NULL) != NES_OK)
        return 0;
    nes_json_token tk;
    size_t prev = 0;
    bool ok = true;
    unsigned type = 0;
    for (;;) {
        nes_json_type k = nes_json_next(&sc, &tk);
        if (k == NES_JSON_ERROR) {
            ok = false;
            break;
        }
        if (type == 0)
            type = jt_of(k);
        /* Between two tokens of minified JSON there is nothing, a ',' or a ':'. */
        size_t gap = tk.start - prev;
        if (gap > 1 || (gap == 1 && p[prev] != ',' && p[prev] != ':')) {
            ok = false;
            break;
        }
        if (k == NES_JSON_END)
            break;
        prev = tk.end;
    }
    nes_json_scanner_free(&sc);
    return ok ? type : 0;
}

/* Writes the decrypted plaintext in t->plain in place of in[start..end), by the node's type. */
static nes_status splice_plaintext(tx *t, const nes_pii_node *n, size_t start, size_t end)
{
    nes_status st = flush(t, start);
    if (st != NES_OK)
        return st;
    unsigned depth = t->max_depth - nes_json_depth(&t->sc);
    if (n->type != NES_VT_STRING) {
        unsigned jt = raw_json_type(t->plain.data, t->plain.len, depth);
        if (jt == 0 || (jt & allowed_types(n)) == 0 ||
            (n->type == NES_VT_JSON && jt == NES_JT_STRING))
            return fail(t, NES_ERR_TOKEN, start,
                        "decrypted value is not JSON of a type the schema allows");
        if (nes_buf_append(t->out, t->plain.data, t->plain.len) != 0)
            return buf_fail(t, nes_buf_fail_status(t->out, t->plain.len), start);
    } else {
        st = nes_json_write_string(t->out, t->plain.data, t->plain.len);
        if (st == NES_ERR_JSON)
            return fail(t, NES_ERR_TOKEN, start, "decrypted value is not valid UTF-8");
        if (st != NES_OK)
            return buf_fail(t, st, start);
    }
    t->copied = end;
    t->fields++;
    return NES_OK;
}

static nes_status decrypt_value(tx *t, const nes_json_token *tk, const nes_pii_node *n)
{
    if (tk->type == NES_JSON_NULL)
        return NES_OK;
    if (tk->type != NES_JSON_STRING)
        return fail(t, NES_ERR_TOKEN, tk->start, "expected a token string");
    const uint8_t *tok = t->in + tk->start + 1;
    size_t tok_len = tk->end - tk->start - 2;
    if (tk->escaped) {
        t->tok.len = 0;
        if (nes_json_unescape(tok, tok_len, &t->tok) != NES_OK)
            return fail(t, NES_ERR_NOMEM, tk->start, "out of memory");
        tok = t->tok.data;
        tok_len = t->tok.len;
    }
    t->plain.len = 0;
    nes_status st = t->codec->decrypt(t->codec->ud, context_of(n), n->context_len,
                                      (const char *)tok, tok_len, &t->plain);
    if (st == NES_ERR_NOMEM)
        return fail(t, st, tk->start, "out of memory");
    if (st != NES_OK)
        return fail(t, NES_ERR_TOKEN, tk->start, "token does not decrypt");
    return splice_plaintext(t, n, tk->start, tk->end);
}

/* Validate-and-check mode, for the container whose '{' or '[' was just read and whose node `n`
 * has no PII at or below it: only its member names are looked up (and refused or counted as
 * lookup() does), with the frames kept for error pointers; scalars are validated and passed over,
 * containers without members to check are skipped whole. The scanner's steps are inlined here
 * (json_scan_impl.h) rather than called per token. Consumes the container through its closing
 * bracket. */
static nes_status check_only(tx *t, const nes_pii_node *n, bool array)
{
    size_t base = t->nframes;
    nes_status st = push(t, n, array);
    nes_json_token tk;
    while (st == NES_OK) {
        nes_json_type k = next_token(&t->sc, &tk);
        if (k == NES_JSON_KEY) {
            st = lookup(t, &tk);
            continue;
        }
        if (k == NES_JSON_OBJECT_END || k == NES_JSON_ARRAY_END) {
            pop(t);
            if (t->nframes == base)
                return NES_OK;
            continue;
        }
        if (k == NES_JSON_ERROR)
            return t->e.status;
        frame *top = &t->frames[t->nframes - 1];
        if (top->array)
            top->index++;
        if (k != NES_JSON_OBJECT && k != NES_JSON_ARRAY)
            continue;
        if (interesting(t->cur)) {
            st = push(t, t->cur, k == NES_JSON_ARRAY);
        } else {
            nes_json_token close;
            if (nes_json_skip(&t->sc, &close) == NES_JSON_ERROR)
                return t->e.status;
        }
    }
    return st;
}

static nes_status on_value(tx *t, const nes_json_token *tk)
{
    if (t->nframes > 0 && t->frames[t->nframes - 1].array)
        t->frames[t->nframes - 1].index++;
    const nes_pii_node *n = t->cur;
    bool container = tk->type == NES_JSON_OBJECT || tk->type == NES_JSON_ARRAY;
    if (!interesting(n)) {
        nes_json_token close;
        if (container && nes_json_skip(&t->sc, &close) == NES_JSON_ERROR)
            return t->e.status;
        return NES_OK;
    }
    if (n->pii)
        return t->dir == NES_ENCRYPT ? encrypt_value(t, tk, n) : decrypt_value(t, tk, n);
    if (container && !n->has_pii_below)
        return check_only(t, n, tk->type == NES_JSON_ARRAY);
    if (container)
        return push(t, n, tk->type == NES_JSON_ARRAY);
    return NES_OK;
}

static nes_status run(tx *t)
{
    nes_json_token tk;
    for (;;) {
        nes_status st = NES_OK;
        nes_json_type k = next_token(&t->sc, &tk);
        switch (k) {
        case NES_JSON_ERROR:
            return t->e.status;
        case NES_JSON_END:
            return flush(t, t->len);
        case NES_JSON_KEY:
            st = lookup(t, &tk);
            break;
        case NES_JSON_OBJECT_END:
        case NES_JSON_ARRAY_END:
            pop(t);
            break;
        default:
            st = on_value(t, &tk);
            break;
        }
        if (st != NES_OK)
            return st;
    }
}

nes_status nes_transform(const nes_transform_opts *opts, const uint8_t *in, size_t len,
                         nes_buf *out, nes_transform_stats *stats, nes_err *err)
{
    nes_err_clear(err);
    if (stats != NULL)
        *stats = (nes_transform_stats){0};
    tx t = {.dir = opts->dir,
            .codec = opts->codec,
            .max_depth = opts->max_depth ? opts->max_depth : NES_DEFAULT_MAX_DEPTH,
            .in = in,
            .len = len,
            .out = out,
            .cur = interesting(opts->root) ? opts->root : NULL,
            .pass_unknown = opts->unknown == NES_UNKNOWN_PASS,
            .frames_cap = INLINE_FRAMES};
    t.frames = t.inline_frames;
    nes_err_clear(&t.e);
    nes_status st = NES_OK;
    const nes_codec *c = opts->codec;
    bool has_pii = t.cur != NULL && (t.cur->pii || t.cur->has_pii_below);
    if (has_pii && (c == NULL || c->encrypt == NULL || c->decrypt == NULL))
        st = fail(&t, NES_ERR_CRYPTO, (size_t)-1, "no codec for a schema with PII");
    if (st == NES_OK)
        st = nes_json_scanner_init(&t.sc, in, len, t.max_depth, &t.e);
    if (st == NES_OK) {
        if (out->max == 0 || (out->len <= out->max && len <= out->max - out->len))
            (void)nes_buf_reserve(out, len);
        st = run(&t);
    }
    nes_json_scanner_free(&t.sc);
    if (t.frames != t.inline_frames)
        free(t.frames);
    nes_buf_free(&t.key);
    nes_buf_free(&t.plain);
    nes_buf_free(&t.tok);
    if (st != NES_OK && err != NULL)
        *err = t.e;
    if (stats != NULL) {
        stats->fields = st == NES_OK ? t.fields : 0;
        stats->unknown_passed = t.unknown_passed;
    }
    return st;
}

nes_status nes_json_validate(const uint8_t *in, size_t len, unsigned max_depth, nes_err *err)
{
    nes_err e;
    nes_err_clear(&e);
    nes_json_scanner sc;
    nes_status st =
        nes_json_scanner_init(&sc, in, len, max_depth ? max_depth : NES_DEFAULT_MAX_DEPTH, &e);
    nes_json_token tk;
    while (st == NES_OK) {
        nes_json_type k = nes_json_next(&sc, &tk);
        if (k == NES_JSON_OBJECT || k == NES_JSON_ARRAY)
            k = nes_json_skip(&sc, &tk);
        if (k == NES_JSON_ERROR)
            st = e.status;
        else if (k == NES_JSON_END)
            break;
    }
    nes_json_scanner_free(&sc);
    if (err != NULL)
        *err = e;
    return st;
}
