#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nes_buf_reserve(nes_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX - b->len)
        return -1;
    size_t need = b->len + extra;
    if (b->max != 0 && need > b->max)
        return -1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max != 0 && cap > b->max)
        cap = b->max;
    /* No realloc: the old block is wiped before it is freed (buffers may hold plaintext). */
    uint8_t *p = malloc(cap);
    if (p == NULL)
        return -1;
    if (b->data != NULL) {
        memcpy(p, b->data, b->len);
        explicit_bzero(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int nes_buf_append(nes_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (nes_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int nes_buf_vappendf(nes_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    size_t room = b->cap - b->len;
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): the caller's va_start */
    int n = vsnprintf(room > 0 ? (char *)b->data + b->len : NULL, room, fmt, ap);
    if (n >= 0 && (size_t)n >= room) { /* too long for the room left: grow, format again */
        if (nes_buf_reserve(b, (size_t)n + 1) != 0)
            n = -1;
        else
            n = vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    if (n < 0)
        return -1;
    b->len += (size_t)n;
    return 0;
}

int nes_buf_appendf(nes_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = nes_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

nes_status nes_buf_fail_status(const nes_buf *b, size_t n)
{
    if (b->max != 0 && (n > b->max || b->len > b->max - n))
        return NES_ERR_LIMIT;
    return NES_ERR_NOMEM;
}

void nes_buf_free(nes_buf *b)
{
    if (b->data != NULL)
        explicit_bzero(b->data, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *nes_dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p == NULL)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
