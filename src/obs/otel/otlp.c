/* otlp.c - OTLP/HTTP JSON encoding (see otlp.h). */
#include "obs/otel/otlp.h"

#include "obs/otel/otlp_int.h"
#include "obs/otel/pb.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIT(out, s) nes_buf_append((out), (s), sizeof(s) - 1)

/* A JSON string (quoted, escaped). */
int nes_otlp_str(nes_buf *out, const char *s, size_t n)
{
    char tmp[6 * NES_LOGLINE_MAX + 8];
    if (n > NES_LOGLINE_MAX)
        n = NES_LOGLINE_MAX;
    size_t k = nes_json_escape(tmp, sizeof(tmp), s, n);
    if (k == (size_t)-1)
        return -1;
    int rc = nes_buf_append(out, "\"", 1);
    rc |= nes_buf_append(out, tmp, k);
    rc |= nes_buf_append(out, "\"", 1);
    return rc;
}

int nes_otlp_kv_str(nes_buf *out, const char *key, const char *value)
{
    int rc = LIT(out, "{\"key\":");
    rc |= nes_otlp_str(out, key, strlen(key));
    rc |= LIT(out, ",\"value\":{\"stringValue\":");
    rc |= nes_otlp_str(out, value, strlen(value));
    rc |= LIT(out, "}}");
    return rc;
}

int nes_otlp_resource_scope(nes_buf *out, const nes_otlp_resource *res, const char *list)
{
    int rc = nes_buf_appendf(out, "{\"resource\":{\"attributes\":[");
    for (size_t i = 0; i < res->nattrs; i++) {
        if (i > 0)
            rc |= nes_buf_appendf(out, ",");
        rc |= nes_otlp_kv_str(out, res->attrs[i].key, res->attrs[i].value);
    }
    rc |= nes_buf_appendf(out, "]},\"%s\":[{\"scope\":{\"name\":\"%s\",\"version\":\"%s\"},", list,
                          NES_OTLP_SCOPE, NES_VERSION);
    return rc;
}

/* ---- protobuf: spans and log records ------------------------------------------------------ */

/* KeyValue{key, AnyValue{string_value}} as field `field`. */
static void pb_kv_str(nes_pb *w, unsigned field, const char *key, const char *value)
{
    size_t kv = nes_pb_begin(w, field);
    nes_pb_str(w, 1, key);
    size_t any = nes_pb_begin(w, 2);
    nes_pb_str(w, 1, value);
    nes_pb_end(w, any);
    nes_pb_end(w, kv);
}

/* Resource (field 1) and the start of the scope list (field 2) with its scope (field 1);
 * returns the scope list's mark. */
static size_t pb_resource_scope(nes_pb *w, const nes_otlp_resource *res)
{
    size_t r = nes_pb_begin(w, 1);
    for (size_t i = 0; i < res->nattrs; i++)
        pb_kv_str(w, 1, res->attrs[i].key, res->attrs[i].value);
    nes_pb_end(w, r);
    size_t list = nes_pb_begin(w, 2);
    size_t scope = nes_pb_begin(w, 1);
    nes_pb_str(w, 1, NES_OTLP_SCOPE);
    nes_pb_str(w, 2, NES_VERSION);
    nes_pb_end(w, scope);
    return list;
}

/* Room for the outer lengths: two varints of up to 5 bytes where nes_pb_begin left 1 each. */
#define OUTER_GAP 8

static void outer_begin(nes_otlp_batch *b, nes_buf *out)
{
    b->w = (nes_pb){.out = out};
    b->base = b->start = out->len;
    if (nes_buf_reserve(out, OUTER_GAP) != 0) {
        b->w.err = -1;
        return;
    }
    memset(out->data + out->len, 0, OUTER_GAP);
    out->len += OUTER_GAP;
}

void nes_otlp_batch_begin(nes_otlp_batch *b, nes_buf *out, const nes_otlp_resource *res)
{
    outer_begin(b, out);
    b->top = nes_pb_begin(&b->w, 1); /* ResourceSpans or ResourceLogs */
    b->list = pb_resource_scope(&b->w, res);
}

/* A span's attribute as a KeyValue's content length (its key's and value's lengths in *kl, *vl:
 * the string's length, or the int's varint). */
static size_t attr_len(const nes_spanrec_attr *at, size_t *kl, size_t *vl)
{
    *kl = strlen(at->key);
    size_t any;
    if (at->is_int) {
        *vl = nes_pb_varint_len((uint64_t)at->i);
        any = 1 + *vl;
    } else {
        *vl = at->len;
        any = nes_pb_field_len(*vl);
    }
    return nes_pb_field_len(*kl) + nes_pb_field_len(any);
}

/* The span writer's steps at p (room checked once for the whole span): a one-byte tag, then a
 * varint or `n` bytes; each returns the position after it. */
static inline uint8_t *put_tag_varint(uint8_t *p, uint8_t tag, uint64_t v)
{
    *p++ = tag;
    return p + nes_pb_put_varint(p, v);
}

static inline uint8_t *put_tag_bytes(uint8_t *p, uint8_t tag, const void *src, size_t n)
{
    p = put_tag_varint(p, tag, n);
    memcpy(p, src, n);
    return p + n;
}

static inline uint8_t *put_tag_fixed64(uint8_t *p, uint8_t tag, uint64_t v)
{
    *p++ = tag;
    for (int i = 0; i < 8; i++) /* little-endian (one move on x86-64 and arm64) */
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

/* Span's protobuf tags: field << 3 | wire type (0 varint, 1 fixed64, 2 length-delimited). */
enum {
    TAG_SPAN = 2 << 3 | 2,     /* ScopeSpans.spans */
    TAG_TRACE_ID = 1 << 3 | 2, /* Span fields */
    TAG_SPAN_ID = 2 << 3 | 2,
    TAG_PARENT_ID = 4 << 3 | 2,
    TAG_NAME = 5 << 3 | 2,
    TAG_KIND = 6 << 3 | 0,
    TAG_START = 7 << 3 | 1,
    TAG_END = 8 << 3 | 1,
    TAG_ATTR = 9 << 3 | 2,
    TAG_STATUS = 15 << 3 | 2,
    TAG_KV_KEY = 1 << 3 | 2, /* KeyValue */
    TAG_KV_VALUE = 2 << 3 | 2,
    TAG_ANY_STR = 1 << 3 | 2, /* AnyValue */
    TAG_ANY_INT = 3 << 3 | 0,
    TAG_STATUS_CODE = 3 << 3 | 0, /* Status */
};

/* Each message's length is counted first (nothing is moved into place afterwards), the room for
 * the whole span reserved once, and the fields written with constant tags and no further check:
 * the span's, and each attribute's. */
void nes_otlp_add_span(nes_otlp_batch *b, const nes_spanrec_span *s)
{
    nes_pb *w = &b->w;
    if (w->err != 0)
        return;
    uint64_t pid;
    memcpy(&pid, s->parent_id, 8);
    bool parent = pid != 0; /* all zero: a root span */
    size_t name = strlen(s->name);
    unsigned nattr = s->nattr < NES_SPAN_MAX_ATTRS ? s->nattr : NES_SPAN_MAX_ATTRS;
    size_t kv[NES_SPAN_MAX_ATTRS], kl[NES_SPAN_MAX_ATTRS], vl[NES_SPAN_MAX_ATTRS];
    size_t len = 18 + 10 + (parent ? 10 : 0) + nes_pb_field_len(name) + 1 +
                 nes_pb_varint_len(s->kind) + 9 + 9 + (s->error ? 4 : 0);
    for (unsigned k = 0; k < nattr; k++) {
        kv[k] = attr_len(&s->attr[k], &kl[k], &vl[k]);
        len += nes_pb_field_len(kv[k]);
    }
    nes_buf *out = w->out;
    size_t need = nes_pb_field_len(len);
    if (out->cap - out->len < need && nes_buf_reserve(out, need) != 0) {
        w->err = -1;
        return;
    }
    uint8_t *p = put_tag_varint(out->data + out->len, TAG_SPAN, len);
    p = put_tag_bytes(p, TAG_TRACE_ID, s->trace_id, 16);
    p = put_tag_bytes(p, TAG_SPAN_ID, s->span_id, 8);
    if (parent)
        p = put_tag_bytes(p, TAG_PARENT_ID, s->parent_id, 8);
    p = put_tag_bytes(p, TAG_NAME, s->name, name);
    p = put_tag_varint(p, TAG_KIND, s->kind);
    p = put_tag_fixed64(p, TAG_START, s->start_ns);
    p = put_tag_fixed64(p, TAG_END, s->end_ns);
    for (unsigned k = 0; k < nattr; k++) {
        const nes_spanrec_attr *at = &s->attr[k];
        p = put_tag_varint(p, TAG_ATTR, kv[k]);
        p = put_tag_bytes(p, TAG_KV_KEY, at->key, kl[k]);
        if (at->is_int) {
            p = put_tag_varint(p, TAG_KV_VALUE, 1 + vl[k]);
            p = put_tag_varint(p, TAG_ANY_INT, (uint64_t)at->i);
        } else {
            p = put_tag_varint(p, TAG_KV_VALUE, nes_pb_field_len(vl[k]));
            p = put_tag_bytes(p, TAG_ANY_STR, at->s, vl[k]);
        }
    }
    if (s->error) { /* Status{code: STATUS_CODE_ERROR}; unset is the default */
        p = put_tag_varint(p, TAG_STATUS, 2);
        p = put_tag_varint(p, TAG_STATUS_CODE, 2);
    }
    out->len = (size_t)(p - out->data);
}

int nes_otlp_end(nes_otlp_batch *b)
{
    if (b->w.err != 0)
        return b->w.err;
    /* [gap][tag][len][resource, scope list tag][len][scope, items]: the lengths' varints go in
     * place of the 1-byte placeholders, the short part between them moved toward the gap */
    uint8_t *d = b->w.out->data;
    size_t end = b->w.out->len;
    uint8_t v2[10], v1[10];
    size_t k2 = nes_pb_put_varint(v2, end - b->list);
    size_t k1 = nes_pb_put_varint(v1, end - b->top + k2 - 1);
    if (k1 + k2 - 2 > OUTER_GAP)
        return b->w.err = -1; /* a body of more than 2^28 bytes: refused by the buffer's cap */
    size_t mid = b->list - 1 - b->top; /* the resource and the scope list's tag */
    uint8_t tag = d[b->top - 2];
    size_t at = b->list - k2 - mid;
    memmove(d + at, d + b->top, mid); /* first: the second length may overwrite its old place */
    memcpy(d + b->list - k2, v2, k2);
    at -= k1;
    memcpy(d + at, v1, k1);
    d[--at] = tag;
    b->start = at;
    return 0;
}

static const char *severity_text(uint8_t sev)
{
    return sev >= 17 ? "ERROR" : sev >= 13 ? "WARN" : sev >= 9 ? "INFO" : "DEBUG";
}

uint8_t nes_otlp_severity_of(const char *line, size_t len)
{
    static const char tag[] = "\"level\":\"";
    /* where log.c puts it: after {"ts":"<24-character UTC time>", (else searched for among the
     * first fields) */
    enum { AT = 7 + 24 + 2 };
    const char *p = len > AT + sizeof(tag) && memcmp(line + AT, tag, sizeof(tag) - 1) == 0
                        ? line + AT
                        : memmem(line, len < 96 ? len : 96, tag, sizeof(tag) - 1);
    if (p == NULL)
        return 9;
    p += sizeof(tag) - 1;
    size_t rest = (size_t)(line + len - p);
#define LEVEL_IS(name) (rest >= sizeof(name) - 1 && memcmp(p, name, sizeof(name) - 1) == 0)
    switch (rest > 0 ? p[0] : 0) { /* (constant-length compares: a few moves, no calls) */
    case 'd':
        return LEVEL_IS("debug\"") ? 5 : 9;
    case 'w':
        return LEVEL_IS("warn\"") ? 13 : 9;
    case 'e':
        return LEVEL_IS("error\"") ? 17 : 9;
    default:
        return 9; /* info, or not a level log.c writes */
    }
#undef LEVEL_IS
}

void nes_otlp_add_log(nes_otlp_batch *b, const nes_otlp_log *l)
{
    nes_pb *w = &b->w;
    if (w->err != 0)
        return;
    size_t len = l->len < sizeof(l->line) ? l->len : sizeof(l->line);
    while (len > 0 && (l->line[len - 1] == '\n' || l->line[len - 1] == '\r'))
        len--;
    const char *sev = severity_text(l->severity);
    size_t sevlen = strlen(sev), body = nes_pb_field_len(len);
    /* the lengths counted first (nothing is moved into place afterwards), the room reserved once:
     * LogRecord{1 time, 2 severity_number, 3 severity_text, 5 body{AnyValue 1 string}, 9
     * trace_id, 10 span_id, 11 observed_time} as ScopeLogs field 2 */
    size_t rec = 9 + 1 + nes_pb_varint_len(l->severity) + nes_pb_field_len(sevlen) +
                 nes_pb_field_len(body) + (l->has_span ? 18 + 10 : 0) + 9;
    nes_buf *out = w->out;
    size_t need = nes_pb_field_len(rec);
    if (out->cap - out->len < need && nes_buf_reserve(out, need) != 0) {
        w->err = -1;
        return;
    }
    uint8_t *p = put_tag_varint(out->data + out->len, 2 << 3 | 2, rec);
    p = put_tag_fixed64(p, 1 << 3 | 1, l->time_ns);
    p = put_tag_varint(p, 2 << 3 | 0, l->severity);
    p = put_tag_bytes(p, 3 << 3 | 2, sev, sevlen);
    p = put_tag_varint(p, 5 << 3 | 2, body);
    p = put_tag_bytes(p, 1 << 3 | 2, l->line, len); /* a log line is valid UTF-8 (log.h) */
    if (l->has_span) {
        p = put_tag_bytes(p, 9 << 3 | 2, l->trace_id, 16);
        p = put_tag_bytes(p, 10 << 3 | 2, l->span_id, 8);
    }
    p = put_tag_fixed64(p, 11 << 3 | 1, l->time_ns);
    out->len = (size_t)(p - out->data);
}

/* ---- Prometheus text to OTLP ------------------------------------------------------------- */

/* Appends one point's attributes from a label set `{a="x",b="y"}` (escapes kept simple: \\,
 * \", \n). Returns the position after the closing brace, or NULL when malformed. */
static const char *labels(nes_buf *out, const char *p, const char *end, int *rc)
{
    int n = 0;
    p++; /* '{' */
    while (p < end && *p != '}') {
        const char *k = p;
        while (p < end && *p != '=')
            p++;
        if (p + 1 >= end || p[1] != '"')
            return NULL;
        char key[64], val[256];
        size_t kl = (size_t)(p - k), vl = 0;
        if (kl == 0 || kl >= sizeof(key))
            return NULL;
        memcpy(key, k, kl);
        key[kl] = '\0';
        p += 2;
        while (p < end && *p != '"') {
            char c = *p++;
            if (c == '\\' && p < end) {
                c = *p++;
                if (c == 'n')
                    c = '\n';
            }
            if (vl + 1 < sizeof(val))
                val[vl++] = c;
        }
        if (p >= end)
            return NULL;
        val[vl] = '\0';
        p++; /* closing quote */
        *rc |= nes_buf_appendf(out, "%s", n++ ? "," : "");
        *rc |= nes_otlp_kv_str(out, key, val);
        if (p < end && *p == ',')
            p++;
    }
    return p < end ? p + 1 : NULL;
}

int nes_otlp_from_prometheus(nes_buf *out, const nes_otlp_resource *res, const char *text,
                             size_t len, uint64_t start_ns, uint64_t now_ns)
{
    int rc = nes_buf_appendf(out, "{\"resourceMetrics\":[");
    rc |= nes_otlp_resource_scope(out, res, "scopeMetrics");
    rc |= nes_buf_appendf(out, "\"metrics\":[");
    const char *p = text, *end = text + len;
    char type[16] = "", fam[128] = "";
    bool open = false, counter = false;
    int nmetrics = 0, npoints = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if (eol - p > 7 && memcmp(p, "# TYPE ", 7) == 0) {
            if (open)
                rc |= nes_buf_appendf(out, counter ? "],\"aggregationTemporality\":2,"
                                                     "\"isMonotonic\":true}}"
                                                   : "]}}");
            open = false;
            if (sscanf(p + 7, "%127s %15s", fam, type) != 2)
                return -1;
            counter = strcmp(type, "counter") == 0;
            if (counter || strcmp(type, "gauge") == 0 || strcmp(type, "untyped") == 0) {
                char name[128];
                size_t fl = strlen(fam);
                /* OTLP names a counter without Prometheus' _total */
                if (counter && fl > 6 && strcmp(fam + fl - 6, "_total") == 0)
                    fl -= 6;
                snprintf(name, sizeof(name), "%.*s", (int)fl, fam);
                rc |= nes_buf_appendf(out, "%s{\"name\":", nmetrics++ ? "," : "");
                rc |= nes_otlp_str(out, name, strlen(name));
                rc |= nes_buf_appendf(out, ",\"%s\":{\"dataPoints\":[", counter ? "sum" : "gauge");
                open = true;
                npoints = 0;
            }
        } else if (open && *p != '#' && eol > p) {
            size_t fl = strlen(fam);
            const char *q = p;
            if ((size_t)(eol - p) <= fl || memcmp(p, fam, fl) != 0)
                return -1;
            q += fl;
            rc |= nes_buf_appendf(out, "%s{\"attributes\":[", npoints++ ? "," : "");
            if (q < eol && *q == '{') {
                q = labels(out, q, eol, &rc);
                if (q == NULL)
                    return -1;
            }
            rc |= nes_buf_appendf(out, "],");
            while (q < eol && *q == ' ')
                q++;
            char num[64];
            size_t nl = (size_t)(eol - q);
            if (nl == 0 || nl >= sizeof(num))
                return -1;
            memcpy(num, q, nl);
            num[nl] = '\0';
            char *e;
            double v = strtod(num, &e);
            if (e == num || (*e != '\0' && *e != ' '))
                return -1;
            if (counter && !(v >= 0.0 && v < 18446744073709551616.0))
                return -1; /* a counter is a u64: negative, NaN or too large is malformed */
            rc |= nes_buf_appendf(out, "\"startTimeUnixNano\":\"%llu\",\"timeUnixNano\":\"%llu\",",
                                  (unsigned long long)start_ns, (unsigned long long)now_ns);
            if (counter)
                rc |= nes_buf_appendf(out, "\"asInt\":\"%llu\"}", (unsigned long long)v);
            else
                rc |= nes_buf_appendf(out, "\"asDouble\":%.17g}", v);
        }
        p = eol + 1;
    }
    if (open)
        rc |= nes_buf_appendf(out, counter ? "],\"aggregationTemporality\":2,\"isMonotonic\":true}}"
                                           : "]}}");
    rc |= nes_buf_appendf(out, "]}]}]}");
    return rc == 0 ? 0 : -1;
}
