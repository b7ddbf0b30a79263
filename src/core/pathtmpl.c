/* pathtmpl.c - path template matching and specificity (see pathtmpl.h). */
#include "core/pathtmpl.h"

#include <stdint.h>
#include <string.h>

/* Matches one path segment against a template segment: each "{name}" matches one or more
 * characters; the rest is literal. Glob matching with a single backtrack point. */
static bool seg_match(const char *t, size_t tn, const char *s, size_t sn)
{
    size_t p = 0, i = 0, star = SIZE_MAX, mark = 0;
    while (i < sn) {
        const char *close = p < tn && t[p] == '{' ? memchr(t + p, '}', tn - p) : NULL;
        if (close != NULL) {
            star = (size_t)(close - t) + 1;
            p = star;
            mark = ++i;
        } else if (p < tn && t[p] == s[i]) {
            p++;
            i++;
        } else if (star != SIZE_MAX) {
            p = star;
            i = ++mark;
        } else {
            return false;
        }
    }
    return p == tn;
}

bool nes_path_template_match(const char *tmpl, size_t tlen, const char *path, size_t plen)
{
    if (tlen == 0 || tmpl[0] != '/' || plen == 0 || path[0] != '/')
        return false;
    const char *t = tmpl + 1, *p = path + 1;
    size_t tl = tlen - 1, pl = plen - 1;
    for (;;) {
        const char *te = memchr(t, '/', tl), *pe = memchr(p, '/', pl);
        size_t ts = te ? (size_t)(te - t) : tl, ps = pe ? (size_t)(pe - p) : pl;
        if (!seg_match(t, ts, p, ps))
            return false;
        if (te == NULL || pe == NULL)
            return te == NULL && pe == NULL;
        t = te + 1;
        tl -= ts + 1;
        p = pe + 1;
        pl -= ps + 1;
    }
}

/* 2 literal, 1 literal and variables mixed, 0 one whole-segment variable. */
static int seg_kind(const char *t, size_t n)
{
    if (n == 0 || memchr(t, '{', n) == NULL)
        return 2;
    const char *close = memchr(t, '}', n);
    if (close == NULL)
        return 2; /* an unclosed '{' is literal */
    return t[0] == '{' && close == t + n - 1 ? 0 : 1;
}

int nes_path_template_cmp(const char *a, const char *b)
{
    for (;;) {
        size_t an = strcspn(a, "/"), bn = strcspn(b, "/");
        int d = seg_kind(a, an) - seg_kind(b, bn);
        if (d != 0)
            return d;
        if (a[an] == '\0' || b[bn] == '\0')
            return 0;
        a += an + 1;
        b += bn + 1;
    }
}

/* True when s[0..n) is "." or "..", each dot possibly written %2e / %2E. */
static bool dot_segment(const char *s, size_t n)
{
    size_t dots = 0, i = 0;
    while (i < n) {
        if (s[i] == '.') {
            i++;
        } else if (n - i >= 3 && s[i] == '%' && s[i + 1] == '2' && (s[i + 2] | 0x20) == 'e') {
            i += 3;
        } else {
            return false;
        }
        dots++;
    }
    return dots == 1 || dots == 2;
}

bool nes_path_is_clean(const char *path, size_t len)
{
    if (len == 0 || path[0] != '/')
        return false;
    size_t i = 1;
    while (i <= len) {
        const char *e = memchr(path + i, '/', len - i);
        size_t n = e ? (size_t)(e - (path + i)) : len - i;
        if (n == 0 && e != NULL)
            return false; /* "//" */
        if (dot_segment(path + i, n))
            return false;
        i += n + 1;
    }
    return true;
}
