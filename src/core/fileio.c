#include "core/fileio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

nes_status nes_read_stream(FILE *f, const char *what, size_t max, char **data, size_t *len,
                           nes_err *err)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "%s: out of memory", what);
    for (;;) {
        if (cap - n < 2) {
            size_t ncap = cap * 2;
            if (ncap > max + 2)
                ncap = max + 2;
            char *p = realloc(buf, ncap);
            if (p == NULL) {
                free(buf);
                return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "%s: out of memory", what);
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n > max) {
            free(buf);
            return nes_err_set(err, NES_ERR_LIMIT, (size_t)-1, "%s: larger than %zu bytes", what,
                               max);
        }
        if (got == 0) {
            if (ferror(f)) {
                int e = errno;
                free(buf);
                return nes_err_set(err, NES_ERR_IO, (size_t)-1, "%s: read failed: %s", what,
                                   strerror(e));
            }
            break;
        }
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return NES_OK;
}

nes_status nes_read_file(const char *path, size_t max, char **data, size_t *len, nes_err *err)
{
    FILE *f = fopen(path, "rbe"); /* e: O_CLOEXEC (glibc) */
    if (f == NULL)
        return nes_err_set(err, NES_ERR_IO, (size_t)-1, "%s: %s", path, strerror(errno));
    nes_status st = nes_read_stream(f, path, max, data, len, err);
    fclose(f);
    return st;
}
