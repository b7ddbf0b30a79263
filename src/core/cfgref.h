/* cfgref.h - the configuration reference: one Markdown printer for every program's table.
 *
 * Each program keeps its settings in a table of its own shape (the service: name, type, field
 * offset, default, bounds, flags; the proxy: name, modes, bounds; the AWS layer and the
 * telemetry exporter: names and defaults) and turns it into nes_cfgref_var rows, all text, for
 * `--print-config-reference`. This printer writes one program's section of
 * docs/configuration.md from them: a `## title` heading and intro paragraph, then one `### group`
 * table per group, blocks separated by one blank line and the last row ending the text, (groups in
 * order of first appearance; rows keep their order inside a group), columns Setting, Type,
 * Default, Allowed, Description. A name listed twice in one group is printed once (the first row
 * wins), so a program may append a shared table (AWS_*, OTEL_*) after its own; the same name in two
 * groups (a setting whose default differs per mode) is printed in each.
 *
 * Cells are escaped for GitHub Markdown tables ('|' as "\|", a newline as a space); the default
 * is shown in code spans, or as plain text when it is derived at start (`def_derived`). Pure: no
 * I/O, appends to a nes_buf. */
#ifndef NES_CORE_CFGREF_H
#define NES_CORE_CFGREF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/** One setting as the reference shows it. Strings are borrowed. */
typedef struct nes_cfgref_var {
    const char *group;   /**< section, e.g. "TLS"; NULL or "": "General" */
    const char *name;    /**< the variable, e.g. "TLS_CERT" (required) */
    const char *type;    /**< e.g. "integer", "size", "string", "on/off" (required) */
    const char *def;     /**< default value; NULL: unset */
    bool def_derived;    /**< `def` describes how the default is derived (no code span) */
    const char *allowed; /**< range or allowed values; NULL: any value of the type */
    const char *help;    /**< one-line description (required, non-empty) */
} nes_cfgref_var;

/** Appends the Markdown section of one program to `out`: "## `title`", `intro` (NULL: none) as a
 * paragraph, then the group tables. Returns 0; -1 when a row lacks its name, type or help (the
 * reference promises a description for every setting) or on out of memory (`out` then holds a
 * partial section). */
int nes_cfgref_markdown(nes_buf *out, const char *title, const char *intro,
                        const nes_cfgref_var *vars, size_t n);

/** Appends the shared rows src[0..m) (the AWS_* or OTEL_* table) to v, which holds *n of `cap`
 * rows, and advances *n. Returns 0; -1 when they do not all fit (then nothing is appended: a
 * reference never silently loses rows). */
int nes_cfgref_append(nes_cfgref_var *v, size_t *n, size_t cap, const nes_cfgref_var *src,
                      size_t m);

/** Writes the range "MIN to MAX" of a numeric setting into `out` (always NUL-terminated); when
 * `size` is true, values that are whole multiples of KiB, MiB or GiB are written with that unit
 * ("1 KiB to 256 MiB"). Returns `out`. */
const char *nes_cfgref_range(unsigned long min, unsigned long max, bool size, char *out,
                             size_t out_len);

#endif
