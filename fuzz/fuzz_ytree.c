/* fuzz_ytree.c - libFuzzer target, differential: the compact YAML tree (src/core/ytree.c) against
 * libfyaml's own document tree, which the spec loader used before. The first byte chooses JSON or
 * YAML mode; the rest is the document. Both must agree on success or failure and, when both
 * build a tree, on every node: kind, scalar text, plain style, scalar line, anchors, alias
 * targets' kinds, entry counts and order. Differences abort. One difference is by design: ytree
 * refuses an alias that names no anchor before it, which libfyaml's tree keeps.
 *
 * libfyaml's tree is built with its default depth limit (it frees its tree recursively), so
 * documents it refuses for depth are only run through ytree.
 *
 * Seeds: fuzz/corpus/ytree/ (YAML and JSON shapes, anchors, aliases, merge keys, errors) plus the
 * spec corpus; dictionary: fuzz/spec.dict. */
#include <libfyaml.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_scan.h"
#include "core/schema.h"
#include "core/ytree.h"
#include "fyaml_leak.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

static void differ(const char *what)
{
    fprintf(stderr, "fuzz_ytree: ytree and libfyaml differ: %s\n", what);
    abort();
}

static int fy_line(struct fy_node *n)
{
    struct fy_token *t = fy_node_get_scalar_token(n);
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    return m ? m->line + 1 : 0;
}

/* Compares two trees; depth is bounded by libfyaml's limit (64), so recursion is fine. */
static void compare(nes_yn *y, struct fy_node *f)
{
    if ((y == NULL) != (f == NULL))
        differ("node presence");
    if (y == NULL)
        return;
    if (fy_node_is_alias(f)) {
        if (!nes_yn_is_alias(y))
            differ("alias");
        nes_yn *yt = nes_yn_resolve(y);
        struct fy_node *ft = fy_node_resolve_alias(f);
        /* libfyaml resolves an alias to the last anchor of its name anywhere in the document,
         * ytree (as YAML says) to the last one before it: compare only what both found */
        if (yt != NULL && ft != NULL && nes_yn_is_map(yt) != fy_node_is_mapping(ft))
            differ("alias target kind");
        return;
    }
    if ((fy_node_get_anchor(f) != NULL) != nes_yn_anchored(y) && !fy_node_is_scalar(f))
        differ("anchor");
    if (fy_node_is_scalar(f)) {
        size_t fl = 0, yl = 0;
        const char *fs = fy_node_get_scalar(f, &fl);
        const char *ys = nes_yn_scalar(y, &yl);
        if (!nes_yn_is_scalar(y) || (fs == NULL) != (ys == NULL) || fl != yl ||
            (fl > 0 && memcmp(fs, ys, fl) != 0))
            differ("scalar text");
        if ((fy_node_get_style(f) == FYNS_PLAIN) != nes_yn_is_plain(y))
            differ("scalar style");
        if (fs != NULL && fy_line(f) != nes_yn_line(y))
            differ("scalar line");
        return;
    }
    if (fy_node_is_mapping(f)) {
        if (!nes_yn_is_map(y) || fy_node_mapping_item_count(f) != nes_yn_count(y))
            differ("mapping");
        void *fi = NULL, *yi = NULL;
        struct fy_node_pair *fp;
        while ((fp = fy_node_mapping_iterate(f, &fi)) != NULL) {
            nes_yn_pair *yp = nes_yn_map_iterate(y, &yi);
            if (yp == NULL)
                differ("mapping length");
            if (nes_yn_parent(nes_yn_pair_key(yp)) != y ||
                nes_yn_parent(nes_yn_pair_value(yp)) != y)
                differ("parent");
            compare(nes_yn_pair_key(yp), fy_node_pair_key(fp));
            compare(nes_yn_pair_value(yp), fy_node_pair_value(fp));
        }
        if (nes_yn_map_iterate(y, &yi) != NULL)
            differ("mapping length");
        return;
    }
    if (!nes_yn_is_seq(y) || fy_node_sequence_item_count(f) != nes_yn_count(y))
        differ("sequence");
    void *fi = NULL, *yi = NULL;
    struct fy_node *fc;
    int i = 0;
    while ((fc = fy_node_sequence_iterate(f, &fi)) != NULL) {
        nes_yn *yc = nes_yn_seq_iterate(y, &yi);
        if (yc != nes_yn_seq_at(y, i++) || nes_yn_parent(yc) != y)
            differ("sequence item");
        compare(yc, fc);
    }
    if (nes_yn_seq_iterate(y, &yi) != NULL)
        differ("sequence length");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    bool json = data[0] & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    /* the loader hands libfyaml only NUL-free UTF-8 (its scanner can loop on other bytes) */
    if (nes_utf8_valid_prefix((const uint8_t *)text, len) != len || memchr(text, '\0', len))
        return 0;

    nes_yt_opts o = {.json = json, .max_depth = NES_SPEC_MAX_NESTING};
    nes_ytree *t = NULL;
    char msg[160];
    int line;
    nes_yt_status st = nes_ytree_parse(text, len, &o, &t, msg, sizeof msg, &line);
    if ((st == NES_YT_OK) != (t != NULL))
        differ("status and tree");
    /* too deep for libfyaml's tree; or an input on which libfyaml 0.7.12 recycles a simple key
     * twice (ytree.c keeps that parser): its tree builder would free the broken list */
    if (st == NES_YT_DEEP ||
        (st == NES_YT_SYNTAX && strstr(msg, "cannot use tab for indentation") != NULL)) {
        nes_ytree_free(t);
        return 0;
    }

    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = sink;
    dc.level = FYET_ERROR;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (diag == NULL) {
        nes_ytree_free(t);
        return 0;
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pc = {
        .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_ALLOW_DUPLICATE_KEYS |
                 (json ? FYPCF_JSON_FORCE : FYPCF_JSON_NONE),
        .diag = diag,
    };
    struct fy_document *fyd = fy_document_build_from_string(&pc, text, len);
    void *it = NULL;
    struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);
    /* the depth error need not be the first: "Unsupported directive" comes before it */
    bool depth = false;
    for (struct fy_diag_error *d = e; d != NULL && !depth; d = fy_diag_errors_iterate(diag, &it))
        depth = d->msg != NULL &&
                (strstr(d->msg, "depth limit") != NULL || strstr(d->msg, "Max depth") != NULL);
    struct fy_node *root = fyd ? fy_document_root(fyd) : NULL;
    if (!depth) {
        if (st == NES_YT_OK && root == NULL)
            differ("ytree built a tree, libfyaml did not");
        /* ytree refuses aliases to no earlier anchor; libfyaml keeps them */
        bool alias = st == NES_YT_SYNTAX && strstr(msg, "names no anchor before it") != NULL;
        if (st != NES_YT_OK && root != NULL && !alias)
            differ("libfyaml built a tree, ytree did not");
        if (st == NES_YT_SYNTAX && !alias && (e == NULL || strcmp(e->msg, msg) != 0) &&
            strcmp(msg, "unexpected end of input") != 0)
            differ("error message");
        if (st == NES_YT_OK)
            compare(nes_ytree_root(t), root);
    }
    fy_document_destroy(fyd);
    fy_diag_destroy(diag);
    nes_ytree_free(t);
    return 0;
}
