/* pb.c - the protobuf wire-format writer (see pb.h): its out-of-line parts. */
#include "enclave/otel/pb.h"

#include <string.h>

void nes_pb_put(nes_pb *w, const void *p, size_t n)
{
    if (w->err != 0)
        return;
    nes_buf *b = w->out;
    if (b->cap - b->len < n && nes_buf_reserve(b, n) != 0) {
        w->err = -1;
        return;
    }
    uint8_t *d = b->data + b->len;
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
    b->len += n;
}

void nes_pb_end(nes_pb *w, size_t mark)
{
    if (w->err != 0)
        return;
    size_t len = w->out->len - mark;
    uint8_t tmp[10];
    size_t k = nes_pb_put_varint(tmp, len);
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
    nes_pb_tag(w, (uint64_t)field << 3 | 2, n * 8, 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t b[8];
        for (int j = 0; j < 8; j++)
            b[j] = (uint8_t)(v[i] >> (8 * j));
        nes_pb_put(w, b, 8);
    }
}

void nes_pb_packed_double(nes_pb *w, unsigned field, const double *v, size_t n)
{
    nes_pb_tag(w, (uint64_t)field << 3 | 2, n * 8, 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], sizeof(u));
        uint8_t b[8];
        for (int j = 0; j < 8; j++)
            b[j] = (uint8_t)(u >> (8 * j));
        nes_pb_put(w, b, 8);
    }
}
