#include "core/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int nes_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4200];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    int rc = (left == 0 && fsync(fd) == 0) ? 0 : -1;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        errno = saved;
    }
    return rc;
}
