/* otlp.c - OTLP/HTTP JSON encoding (see otlp.h). */
#include "enclave/otel/otlp.h"

#include "enclave/otel/otlp_int.h"
#include "enclave/otel/pb.h"

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

/* Each message's length is counted before it is written (no nested message is moved into place
 * afterwards): the span's, and each attribute's. */
void nes_otlp_add_span(nes_otlp_batch *b, const nes_spanrec_span *s)
{
    nes_pb *w = &b->w;
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
    nes_pb_begin_len(w, 2, len);
    nes_pb_bytes(w, 1, s->trace_id, 16);
    nes_pb_bytes(w, 2, s->span_id, 8);
    if (parent)
        nes_pb_bytes(w, 4, s->parent_id, 8);
    nes_pb_bytes(w, 5, s->name, name);
    nes_pb_varint(w, 6, s->kind);
    nes_pb_fixed64(w, 7, s->start_ns);
    nes_pb_fixed64(w, 8, s->end_ns);
    for (unsigned k = 0; k < nattr; k++) {
        const nes_spanrec_attr *at = &s->attr[k];
        nes_pb_begin_len(w, 9, kv[k]);
        nes_pb_bytes(w, 1, at->key, kl[k]);
        if (at->is_int) {
            nes_pb_begin_len(w, 2, 1 + vl[k]);
            nes_pb_varint(w, 3, (uint64_t)at->i);
        } else {
            nes_pb_begin_len(w, 2, nes_pb_field_len(vl[k]));
            nes_pb_bytes(w, 1, at->s, vl[k]);
        }
    }
    if (s->error) { /* Status{code: STATUS_CODE_ERROR}; unset is the default */
        nes_pb_begin_len(w, 15, 2);
        nes_pb_varint(w, 3, 2);
    }
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
    size_t scan = len < 96 ? len : 96; /* the level is among the first fields */
    const char *p = memmem(line, scan, tag, sizeof(tag) - 1);
    if (p == NULL)
        return 9;
    p += sizeof(tag) - 1;
    size_t rest = (size_t)(line + len - p);
    static const struct {
        const char *name;
        uint8_t sev;
    } levels[] = {{"debug\"", 5}, {"info\"", 9}, {"warn\"", 13}, {"error\"", 17}};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        size_t n = strlen(levels[i].name);
        if (rest >= n && memcmp(p, levels[i].name, n) == 0)
            return levels[i].sev;
    }
    return 9;
}

void nes_otlp_add_log(nes_otlp_batch *b, const nes_otlp_log *l)
{
    nes_pb *w = &b->w;
    size_t len = l->len < sizeof(l->line) ? l->len : sizeof(l->line);
    while (len > 0 && (l->line[len - 1] == '\n' || l->line[len - 1] == '\r'))
        len--;
    const char *sev = severity_text(l->severity);
    size_t sevlen = strlen(sev), body = nes_pb_field_len(len);
    /* the lengths counted first: nothing is moved into place afterwards */
    nes_pb_begin_len(w, 2,
                     9 + 1 + nes_pb_varint_len(l->severity) + nes_pb_field_len(sevlen) +
                         nes_pb_field_len(body) + (l->has_span ? 18 + 10 : 0) + 9);
    nes_pb_fixed64(w, 1, l->time_ns);
    nes_pb_varint(w, 2, l->severity);
    nes_pb_bytes(w, 3, sev, sevlen);
    nes_pb_begin_len(w, 5, body);
    nes_pb_bytes(w, 1, l->line, len); /* a log line is valid UTF-8 (log.h) */
    if (l->has_span) {
        nes_pb_bytes(w, 9, l->trace_id, 16);
        nes_pb_bytes(w, 10, l->span_id, 8);
    }
    nes_pb_fixed64(w, 11, l->time_ns);
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
