/* spanrec.c - spans packed into a record and read back (see spanrec.h). */
#include "obs/otel/spanrec.h"

#include <string.h>

#define FIXED (8 + 8 + sizeof(const char *) + 8 + 8 + 3)

void nes_spanrec_head(uint8_t *out, const nes_span *s)
{
    memcpy(out, s->trace_id, NES_SPANREC_HEAD);
}

size_t nes_spanrec_put(uint8_t *out, size_t room, const nes_span *s)
{
    unsigned n = s->nattr < NES_SPAN_MAX_ATTRS ? s->nattr : NES_SPAN_MAX_ATTRS;
    size_t len[NES_SPAN_MAX_ATTRS];
    size_t need = FIXED;
    for (unsigned k = 0; k < n; k++) {
        const nes_span_attr *a = &s->attr[k];
        len[k] = a->is_int ? 8 : a->len < NES_SPAN_ATTR_STR ? a->len : NES_SPAN_ATTR_STR - 1;
        need += sizeof(a->key) + 1 + len[k];
    }
    if (need > room)
        return 0;
    uint8_t *p = out;
    memcpy(p, s->span_id, 8);
    memcpy(p + 8, s->parent_id, 8);
    p += 16;
    memcpy(p, &s->name, sizeof(s->name));
    p += sizeof(s->name);
    memcpy(p, &s->start_ns, 8);
    memcpy(p + 8, &s->end_ns, 8);
    p += 16;
    *p++ = s->kind;
    *p++ = s->error;
    *p++ = (uint8_t)n;
    for (unsigned k = 0; k < n; k++) {
        const nes_span_attr *a = &s->attr[k];
        memcpy(p, &a->key, sizeof(a->key));
        p += sizeof(a->key);
        if (a->is_int) {
            *p++ = NES_SPANREC_INT;
            memcpy(p, &a->i, 8);
        } else {
            *p++ = (uint8_t)len[k];
            memcpy(p, a->s, len[k]);
        }
        p += len[k];
    }
    return need;
}

int nes_spanrec_next(const uint8_t *rec, size_t len, size_t *off, nes_spanrec_span *s)
{
    size_t at = *off;
    if (len < NES_SPANREC_HEAD || at > len || len - at < FIXED)
        return 0;
    const uint8_t *p = rec + at, *end = rec + len;
    s->trace_id = rec;
    s->span_id = p;
    s->parent_id = p + 8;
    p += 16;
    memcpy(&s->name, p, sizeof(s->name));
    p += sizeof(s->name);
    memcpy(&s->start_ns, p, 8);
    memcpy(&s->end_ns, p + 8, 8);
    p += 16;
    s->kind = *p++;
    s->error = *p++ != 0;
    unsigned n = *p++;
    if (n > NES_SPAN_MAX_ATTRS)
        return 0;
    s->nattr = 0;
    for (unsigned k = 0; k < n; k++) {
        nes_spanrec_attr *a = &s->attr[k];
        if ((size_t)(end - p) < sizeof(a->key) + 1)
            return 0;
        memcpy(&a->key, p, sizeof(a->key));
        p += sizeof(a->key);
        unsigned tag = *p++;
        a->is_int = tag == NES_SPANREC_INT;
        size_t take = a->is_int ? 8 : tag;
        if ((!a->is_int && take >= NES_SPAN_ATTR_STR) || take > (size_t)(end - p))
            return 0;
        if (a->is_int)
            memcpy(&a->i, p, 8);
        a->s = (const char *)p;
        a->len = take;
        p += take;
        s->nattr = k + 1;
    }
    *off = (size_t)(p - rec);
    return 1;
}
