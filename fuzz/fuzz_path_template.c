/* fuzz_path_template - libFuzzer target for the path template matcher (src/core/pathtmpl.c).
 *
 * The input is "template\npath". Properties checked:
 *   - no crash, no read past either slice, bounded work;
 *   - a template matches itself when it has no '{' (a literal template is its own path);
 *   - a match keeps the segment count ('/' count) of template and path equal;
 *   - specificity is antisymmetric: cmp(a, b) and cmp(b, a) have opposite signs;
 *   - a clean path has no "/../" segment. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pathtmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count(const char *s, size_t n, char c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == c;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t tn = nl ? (size_t)(nl - in) : size;
    const char *path = nl ? nl + 1 : in + size;
    size_t pn = nl ? size - tn - 1 : 0;
    /* exact-size copies so ASan sees any over-read */
    char *t = malloc(tn + 1), *p = malloc(pn + 1);
    if (t == NULL || p == NULL)
        abort();
    memcpy(t, in, tn);
    t[tn] = '\0';
    memcpy(p, path, pn);
    p[pn] = '\0';
    bool m = nes_path_template_match(t, tn, p, pn);
    if (m && count(t, tn, '/') != count(p, pn, '/'))
        abort();
    if (tn > 0 && t[0] == '/' && memchr(t, '{', tn) == NULL && strlen(t) == tn &&
        !nes_path_template_match(t, tn, t, tn))
        abort();
    if (strlen(t) == tn && strlen(p) == pn) {
        int a = nes_path_template_cmp(t, p), b = nes_path_template_cmp(p, t);
        if ((a > 0 && b >= 0) || (a < 0 && b <= 0) || (a == 0 && b != 0))
            abort();
    }
    if (nes_path_is_clean(p, pn)) {
        for (size_t i = 0; i + 4 <= pn; i++)
            if (memcmp(p + i, "/../", 4) == 0)
                abort();
    }
    free(t);
    free(p);
    return 0;
}
