/* pb.c - the protobuf wire-format writer (see pb.h). */
#include "enclave/otel/pb.h"

#include <string.h>

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2 };

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Room for n more bytes at the end of the buffer (NULL after a failure). The writers below put
 * their bytes there directly: a tag is one or two bytes, and a call to memcpy for each would
 * cost more than the encoding. */
static uint8_t *room(nes_pb *w, size_t n)
{
    if (w->err != 0)
        return NULL;
    if (w->out->cap - w->out->len < n && nes_buf_reserve(w->out, n) != 0) {
        w->err = -1;
        return NULL;
    }
    return w->out->data + w->out->len;
}

static void append(nes_pb *w, const void *p, size_t n)
{
    uint8_t *d = room(w, n);
    if (d == NULL)
        return;
    const uint8_t *src = p;
    if (n >= 8 && n <= 16) { /* ids, short names: two overlapping fixed-size moves */
        memcpy(d, src, 8);
        memcpy(d + n - 8, src + n - 8, 8);
    } else if (n < 8) {
        for (size_t i = 0; i < n; i++)
            d[i] = src[i];
    } else {
        memcpy(d, src, n);
    }
    w->out->len += n;
}

/* A tag and, for a varint field or a length, its value: written in place when the buffer has
 * room (the usual case), else through `append`, which grows it. */
static void tag_varint(nes_pb *w, unsigned field, unsigned wire, uint64_t v, int with_value)
{
    nes_buf *b = w->out;
    if (w->err == 0 && b->cap - b->len >= 20) {
        uint8_t *d = b->data + b->len;
        size_t n = put_varint(d, (uint64_t)field << 3 | wire);
        if (with_value)
            n += put_varint(d + n, v);
        b->len += n;
        return;
    }
    uint8_t tmp[20];
    size_t n = put_varint(tmp, (uint64_t)field << 3 | wire);
    if (with_value)
        n += put_varint(tmp + n, v);
    append(w, tmp, n);
}

void nes_pb_varint(nes_pb *w, unsigned field, uint64_t v)
{
    tag_varint(w, field, WIRE_VARINT, v, 1);
}

void nes_pb_fixed64(nes_pb *w, unsigned field, uint64_t v)
{
    uint8_t tmp[16];
    size_t n = put_varint(tmp, (uint64_t)field << 3 | WIRE_I64);
    for (int i = 0; i < 8; i++)
        tmp[n++] = (uint8_t)(v >> (8 * i));
    append(w, tmp, n);
}

void nes_pb_double(nes_pb *w, unsigned field, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    nes_pb_fixed64(w, field, u);
}

void nes_pb_bytes(nes_pb *w, unsigned field, const void *p, size_t n)
{
    tag_varint(w, field, WIRE_LEN, n, 1);
    if (n > 0)
        append(w, p, n);
}

void nes_pb_str(nes_pb *w, unsigned field, const char *s)
{
    nes_pb_bytes(w, field, s, strlen(s));
}

size_t nes_pb_begin(nes_pb *w, unsigned field)
{
    tag_varint(w, field, WIRE_LEN, 0, 1); /* the length byte, filled in by nes_pb_end */
    return w->out->len;
}

void nes_pb_end(nes_pb *w, size_t mark)
{
    if (w->err != 0)
        return;
    size_t len = w->out->len - mark;
    uint8_t tmp[10];
    size_t k = put_varint(tmp, len);
    if (k > 1) {
        if (nes_buf_reserve(w->out, k - 1) != 0) {
            w->err = -1;
            return;
        }
        memmove(w->out->data + mark + k - 1, w->out->data + mark, len);
        w->out->len += k - 1;
    }
    memcpy(w->out->data + mark - 1, tmp, k);
}

void nes_pb_packed_fixed64(nes_pb *w, unsigned field, const uint64_t *v, size_t n)
{
    tag_varint(w, field, WIRE_LEN, n * 8, 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t b[8];
        for (int j = 0; j < 8; j++)
            b[j] = (uint8_t)(v[i] >> (8 * j));
        append(w, b, 8);
    }
}

void nes_pb_packed_double(nes_pb *w, unsigned field, const double *v, size_t n)
{
    tag_varint(w, field, WIRE_LEN, n * 8, 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], sizeof(u));
        uint8_t b[8];
        for (int j = 0; j < 8; j++)
            b[j] = (uint8_t)(u >> (8 * j));
        append(w, b, 8);
    }
}
