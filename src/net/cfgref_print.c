/* cfgref_print.c - a configuration reference section to a stream (see cfgref_print.h). */
#include "net/cfgref_print.h"

#include "core/buf.h"

int nes_cfgref_print(FILE *out, const char *title, const char *intro, const nes_cfgref_var *vars,
                     size_t n)
{
    nes_buf b = {0};
    int rc = nes_cfgref_markdown(&b, title, intro, vars, n);
    if (rc == 0 && fwrite(b.data, 1, b.len, out) != b.len)
        rc = -1;
    nes_buf_free(&b);
    return rc;
}
