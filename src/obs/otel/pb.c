/* pb.c - the protobuf wire-format writer (see pb.h): its out-of-line parts. */
#include "obs/otel/pb.h"

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
