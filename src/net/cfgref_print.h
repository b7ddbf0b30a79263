/* cfgref_print.h - `--print-config-reference` of every program: one program's section of
 * docs/configuration.md (core/cfgref.h builds it from the program's rows) written to a stream.
 *
 * src/core stays I/O-free, so the stdio half lives here: src/net is the lowest floor that may do
 * I/O and that all three programs link (nitro-enc-svc and nitro-enc-proxy directly, nitro-enc
 * through the AWS layer), and STYLE.md's place for what several programs share. */
#ifndef NES_NET_CFGREF_PRINT_H
#define NES_NET_CFGREF_PRINT_H

#include <stddef.h>
#include <stdio.h>

#include "core/cfgref.h"

/** Writes what nes_cfgref_markdown() makes of `title`, `intro` and vars[0..n) to `out` (no flush).
 * Returns 0; -1 when the section cannot be made (a row lacks its name, type or help, or out of
 * memory: then nothing is written) or `out` takes less than all of it. */
int nes_cfgref_print(FILE *out, const char *title, const char *intro, const nes_cfgref_var *vars,
                     size_t n);

#endif
