/* cfgref.c - Markdown tables of settings (see cfgref.h). */
#include "core/cfgref.h"

#include <stdio.h>
#include <string.h>

static int put(nes_buf *out, const char *s)
{
    return nes_buf_append(out, s, strlen(s));
}

/* A table cell: '|' escaped, newlines as spaces; `code` puts it in a code span. */
static int cell(nes_buf *out, const char *s, bool code)
{
    if (put(out, code ? " `" : " ") != 0)
        return -1;
    for (const char *c = s; *c; c++) {
        int rc;
        if (*c == '|')
            rc = put(out, "\\|");
        else if (*c == '\n' || *c == '\r')
            rc = put(out, " ");
        else
            rc = nes_buf_append(out, c, 1);
        if (rc != 0)
            return -1;
    }
    return put(out, code ? "` |" : " |");
}

static const char *group_of(const nes_cfgref_var *v)
{
    return (v->group == NULL || v->group[0] == '\0') ? "General" : v->group;
}

/* True when row i repeats the name of an earlier row of its group. */
static bool seen_before(const nes_cfgref_var *vars, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(vars[j].name, vars[i].name) == 0 &&
            strcmp(group_of(&vars[j]), group_of(&vars[i])) == 0)
            return true;
    return false;
}

/* True when a row before i has i's group (its table is written already). */
static bool group_before(const nes_cfgref_var *vars, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(group_of(&vars[j]), group_of(&vars[i])) == 0)
            return true;
    return false;
}

static int row(nes_buf *out, const nes_cfgref_var *v)
{
    if (put(out, "|") != 0 || cell(out, v->name, true) != 0 || cell(out, v->type, false) != 0)
        return -1;
    if (v->def == NULL || v->def[0] == '\0') {
        if (cell(out, v->def == NULL ? "unset" : "empty", false) != 0)
            return -1;
    } else if (cell(out, v->def, !v->def_derived) != 0) {
        return -1;
    }
    if (cell(out, v->allowed != NULL ? v->allowed : "", false) != 0 ||
        cell(out, v->help, false) != 0)
        return -1;
    return put(out, "\n");
}

int nes_cfgref_markdown(nes_buf *out, const char *title, const char *intro,
                        const nes_cfgref_var *vars, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (vars[i].name == NULL || vars[i].name[0] == '\0' || vars[i].type == NULL ||
            vars[i].help == NULL || vars[i].help[0] == '\0')
            return -1;
    if (put(out, "## `") != 0 || put(out, title) != 0 || put(out, "`\n") != 0)
        return -1;
    if (intro != NULL && (put(out, "\n") != 0 || put(out, intro) != 0 || put(out, "\n") != 0))
        return -1;
    for (size_t g = 0; g < n; g++) {
        if (seen_before(vars, g) || group_before(vars, g))
            continue;
        const char *group = group_of(&vars[g]);
        if (put(out, "\n### ") != 0 || put(out, group) != 0 ||
            put(out, "\n\n| Setting | Type | Default | Allowed | Description |\n"
                     "|---|---|---|---|---|\n") != 0)
            return -1;
        for (size_t i = g; i < n; i++)
            if (strcmp(group_of(&vars[i]), group) == 0 && !seen_before(vars, i) &&
                row(out, &vars[i]) != 0)
                return -1;
    }
    return 0;
}

static void num(unsigned long v, bool size, char *out, size_t out_len)
{
    static const char *const unit[] = {"GiB", "MiB", "KiB"};
    for (int u = 0; size && v != 0 && u < 3; u++) {
        unsigned shift = (unsigned)(30 - 10 * u);
        if (v % (1ul << shift) == 0) {
            snprintf(out, out_len, "%lu %s", v >> shift, unit[u]);
            return;
        }
    }
    snprintf(out, out_len, "%lu", v);
}

int nes_cfgref_append(nes_cfgref_var *v, size_t *n, size_t cap, const nes_cfgref_var *src, size_t m)
{
    if (*n > cap || m > cap - *n)
        return -1;
    for (size_t i = 0; i < m; i++)
        v[(*n)++] = src[i];
    return 0;
}

const char *nes_cfgref_range(unsigned long min, unsigned long max, bool size, char *out,
                             size_t out_len)
{
    char a[32], b[32];
    num(min, size, a, sizeof(a));
    num(max, size, b, sizeof(b));
    if (out_len > 0)
        snprintf(out, out_len, "%s to %s", a, b);
    return out;
}
