/* schema_doc.c - the documents of a spec: parsing (into compact trees, ytree.h; libfyaml's
 * diagnostics captured, never printed), YAML helpers, `$ref` resolution (JSON pointers, sibling
 * documents) and error locations. */
#include "core/schema_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/hex.h"

/** Longest JSON pointer shown in a message (longer ones lose their middle). */
#define SD_SHOWN_POINTER 150
/** A JSON document whose first line is longer than this gets a line break (parse_doc). */
#define SD_SPLIT_LINE 4096
/** Deepest ancestor chain walked to build a pointer. */
#define SD_MAX_ANCESTORS 512

/* ---- YAML helpers -------------------------------------------------------------------------- */

nes_yn *nes_sd_deref(nes_yn *n)
{
    if (n != NULL && nes_yn_is_alias(n))
        return nes_yn_resolve(n);
    return n;
}

nes_yn *nes_sd_get(nes_yn *map, const char *key)
{
    if (map == NULL || !nes_yn_is_map(map))
        return NULL;
    return nes_sd_deref(nes_yn_map_get(map, key, strlen(key)));
}

bool nes_sd_str(nes_yn *n, const char **s, size_t *len)
{
    if (n == NULL || !nes_yn_is_scalar(n) || nes_yn_is_alias(n))
        return false;
    size_t l = 0;
    const char *p = nes_yn_scalar(n, &l);
    if (p == NULL)
        return false;
    *s = p;
    *len = l;
    return true;
}

int nes_sd_bool(nes_yn *n)
{
    const char *s;
    size_t len;
    if (!nes_sd_str(n, &s, &len) || !nes_yn_is_plain(n))
        return -1;
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    for (size_t i = 0; i < 3; i++) {
        if (len == strlen(yes[i]) && memcmp(s, yes[i], len) == 0)
            return 1;
        if (len == strlen(no[i]) && memcmp(s, no[i], len) == 0)
            return 0;
    }
    return -1;
}

/* ---- locations ----------------------------------------------------------------------------- */

/* The key of the pair in mapping `parent` whose value is `child`. */
static nes_yn *key_of(nes_yn *parent, nes_yn *child)
{
    void *it = NULL;
    nes_yn_pair *p;
    while ((p = nes_yn_map_iterate(parent, &it)) != NULL)
        if (nes_yn_pair_value(p) == child)
            return nes_yn_pair_key(p);
    return NULL;
}

/* The line of a scalar, or of the key naming a collection, or of a collection's first entry. */
static int own_line(nes_yn *n)
{
    int line = nes_yn_line(n);
    nes_yn *p = nes_yn_parent(n);
    if (line == 0 && p != NULL && nes_yn_is_map(p))
        line = nes_yn_line(key_of(p, n));
    return line;
}

static int node_line(nes_yn *n)
{
    for (nes_yn *d = n; d != NULL;) {
        int line = own_line(d);
        if (line)
            return line;
        void *it = NULL;
        if (nes_yn_is_map(d)) {
            nes_yn_pair *p = nes_yn_map_iterate(d, &it);
            d = p ? nes_yn_pair_key(p) : NULL;
        } else if (nes_yn_is_seq(d)) {
            d = nes_yn_seq_iterate(d, &it);
        } else {
            d = NULL;
        }
    }
    for (nes_yn *u = n ? nes_yn_parent(n) : NULL; u; u = nes_yn_parent(u)) {
        int line = own_line(u);
        if (line)
            return line;
    }
    return n ? 1 : 0;
}

int nes_sd_line(nes_yn *n)
{
    return node_line(n);
}

static size_t put_escaped(char *out, size_t o, size_t cap, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o + 3 < cap; i++) {
        if (s[i] == '~' || s[i] == '/') {
            out[o++] = '~';
            out[o++] = s[i] == '~' ? '0' : '1';
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* Writes "#/a/b~1c" for node `n` into out (NUL-terminated, middle elided when long). */
static void node_pointer(nes_yn *n, char *out, size_t cap)
{
    nes_yn *chain[SD_MAX_ANCESTORS] = {0};
    size_t depth = 0;
    bool cut = false;
    for (nes_yn *u = n; u != NULL; u = nes_yn_parent(u)) {
        if (depth == SD_MAX_ANCESTORS) {
            cut = true;
            break;
        }
        chain[depth++] = u;
    }
    char full[2048];
    size_t o = 0;
    full[o++] = '#';
    if (cut)
        o += (size_t)snprintf(full + o, sizeof full - o, "/...");
    for (size_t i = depth; i-- > 1 && o + 8 < sizeof full;) {
        nes_yn *parent = chain[i], *child = chain[i - 1];
        full[o++] = '/';
        if (nes_yn_is_map(parent)) {
            const char *k;
            size_t klen;
            if (nes_sd_str(key_of(parent, child), &k, &klen))
                o = put_escaped(full, o, sizeof full, k, klen);
            else
                full[o++] = '?';
        } else {
            int idx = 0;
            void *it = NULL;
            nes_yn *item;
            while ((item = nes_yn_seq_iterate(parent, &it)) != NULL && item != child)
                idx++;
            o += (size_t)snprintf(full + o, sizeof full - o, "%d", idx);
        }
    }
    if (o >= sizeof full)
        o = sizeof full - 1;
    full[o] = '\0';
    if (o < SD_SHOWN_POINTER && o < cap) {
        memcpy(out, full, o + 1);
        return;
    }
    /* keep the start and, mostly, the end: "#/components/.../properties/number" */
    size_t keep = (SD_SHOWN_POINTER < cap ? SD_SHOWN_POINTER : cap) - 5;
    size_t head = keep / 4, tail = keep - head;
    snprintf(out, cap, "%.*s/...%s", (int)head, full, full + o - tail);
}

nes_status nes_sd_fail(const nes_sd_docs *ds, uint32_t doc, nes_yn *at, nes_yn *line_at,
                       nes_status st, nes_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return st;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *name = doc < ds->n ? ds->docs[doc].shown : "?";
    char ptr[SD_SHOWN_POINTER + 8];
    node_pointer(at, ptr, sizeof ptr);
    int line = line_at ? node_line(line_at) : 0;
    if (line == 0)
        line = node_line(at);
    return nes_err_set(err, st, (size_t)-1, "%s:%d: %s: %s", name, line, ptr, what);
}

/* ---- parsing ------------------------------------------------------------------------------- */

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

/* The offset of the document's first '{' or '[' (after a BOM and white space), or len. */
static size_t first_bracket(const char *data, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    return i < len && (data[i] == '{' || data[i] == '[') ? i : len;
}

static bool looks_like_json(const char *data, size_t len)
{
    return first_bracket(data, len) < len;
}

/* Parses one document into d->tree; on failure fills msg/line. */
static nes_yt_status build(nes_sd_docs *ds, nes_sd_doc *d, const char *data, size_t len, bool json,
                           char *msg, size_t cap, int *line)
{
    if (ds->nodes >= NES_SPEC_MAX_YAML_NODES) { /* earlier documents took every node */
        *line = 1;
        return NES_YT_LARGE;
    }
    nes_yt_opts o = {.json = json,
                     .max_depth = NES_SPEC_MAX_NESTING,
                     .max_nodes = NES_SPEC_MAX_YAML_NODES - ds->nodes,
                     .split = d->split != NULL};
    nes_yt_status st = nes_ytree_parse(data, len, &o, &d->tree, msg, cap, line);
    ds->nodes += nes_ytree_nodes(d->tree);
    return st;
}

static nes_status parse_doc(nes_sd_docs *ds, nes_sd_doc *d, const char *data, size_t len,
                            nes_err *err)
{
    char msg[160];
    int line = 0;
    /* Specs are UTF-8 text: checked here, on the bytes as read, before the JSON line split below
     * moves offsets and lines */
    size_t bad = nes_ytree_check_text(data, len, msg, sizeof msg, &line);
    if (bad < len)
        return nes_err_set(err, NES_ERR_SPEC, bad, "%s:%d: %s", d->shown, line, msg);
    nes_yt_status st = NES_YT_EMPTY;
    bool json_name = ends_with_ci(d->rel, ".json");
    if (json_name || looks_like_json(data, len)) {
        /* libfyaml holds every token of a line while the flow collection that opens it may
         * still turn out to be a key: a minified 8 MB JSON spec was tokenized whole before any
         * node was built (3x the memory, 5x the time). Keys never span lines, so one line break
         * after the first bracket lets the scanner release tokens as it goes; messages take the
         * line back (nes_yt_opts.split). */
        size_t b = first_bracket(data, len);
        const char *nl = b < len ? memchr(data + b, '\n', len - b) : NULL;
        if (b < len && (nl ? (size_t)(nl - data) : len) - b > SD_SPLIT_LINE &&
            (d->split = malloc(len + 1)) != NULL) {
            memcpy(d->split, data, b + 1);
            d->split[b + 1] = '\n';
            memcpy(d->split + b + 2, data + b + 1, len - b - 1);
            data = d->split;
            len++;
        }
        st = build(ds, d, data, len, true, msg, sizeof msg, &line);
        if (st == NES_YT_SYNTAX && json_name)
            return nes_err_set(err, NES_ERR_SPEC, (size_t)-1, "%s:%d: invalid JSON: %s", d->shown,
                               line, msg);
    }
    if (st == NES_YT_SYNTAX || st == NES_YT_EMPTY)
        st = build(ds, d, data, len, false, msg, sizeof msg, &line);
    if (st == NES_YT_NOMEM)
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
    if (st == NES_YT_EMPTY)
        return nes_err_set(err, NES_ERR_SPEC, (size_t)-1, "%s: empty document", d->shown);
    if (st == NES_YT_LARGE)
        return nes_err_set(err, NES_ERR_LIMIT, (size_t)-1,
                           "%s:%d: the spec's documents hold more than %u YAML nodes together",
                           d->shown, line, NES_SPEC_MAX_YAML_NODES);
    if (st == NES_YT_DEEP)
        return nes_err_set(err, NES_ERR_LIMIT, (size_t)-1,
                           "%s:%d: nested deeper than %d levels: move deeply nested inline schemas "
                           "into components/schemas and $ref them",
                           d->shown, line, NES_SPEC_MAX_NESTING);
    if (st != NES_YT_OK)
        return nes_err_set(err, NES_ERR_SPEC, (size_t)-1, "%s:%d: invalid YAML: %s", d->shown, line,
                           msg);
    d->root = nes_sd_deref(nes_ytree_root(d->tree));
    return nes_sd_check(ds, (uint32_t)(d - ds->docs), err);
}

static nes_status add_doc(nes_sd_docs *ds, const char *rel, char *owned, const char *data,
                          size_t len, uint32_t *index, nes_err *err)
{
    if (ds->n == ds->max_docs) {
        free(owned);
        return nes_err_set(err, NES_ERR_LIMIT, (size_t)-1,
                           "%s: too many referenced documents (limit %zu, the spec included; "
                           "raise SPEC_MAX_DOCUMENTS)",
                           ds->n ? ds->docs[0].shown : rel, ds->max_docs);
    }
    if (ds->n == ds->cap_docs) {
        size_t cap = ds->cap_docs ? 2 * ds->cap_docs : 8;
        nes_sd_doc *docs = realloc(ds->docs, cap * sizeof *docs);
        if (docs == NULL) {
            free(owned);
            return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
        }
        ds->docs = docs;
        ds->cap_docs = cap;
    }
    if (len > NES_SPEC_MAX_BYTES - ds->bytes) {
        free(owned);
        return nes_err_set(err, NES_ERR_LIMIT, (size_t)-1,
                           "%s%s: documents exceed %u bytes together", ds->prefix, rel,
                           NES_SPEC_MAX_BYTES);
    }
    nes_sd_doc *d = &ds->docs[ds->n];
    memset(d, 0, sizeof *d);
    size_t plen = strlen(ds->prefix), rlen = strlen(rel);
    d->owned = owned;
    d->rel = nes_dup_bytes(rel, rlen);
    d->shown = malloc(plen + rlen + 1);
    ds->n++; /* from here on nes_sd_close frees it */
    if (d->rel == NULL || d->shown == NULL)
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
    memcpy(d->shown, ds->prefix, plen);
    memcpy(d->shown + plen, rel, rlen + 1);
    ds->bytes += len;
    *index = (uint32_t)(ds->n - 1);
    return parse_doc(ds, d, data, len, err);
}

nes_status nes_sd_open(nes_sd_docs *ds, const char *name, const char *data, size_t len,
                       nes_doc_reader reader, void *reader_ud, size_t max_docs, nes_err *err)
{
    memset(ds, 0, sizeof *ds);
    ds->max_docs = max_docs ? max_docs : NES_SPEC_DEFAULT_MAX_DOCS;
    ds->reader = reader;
    ds->reader_ud = reader_ud;
    const char *slash = strrchr(name, '/');
    size_t plen = slash ? (size_t)(slash - name) + 1 : 0;
    ds->prefix = nes_dup_bytes(name, plen);
    if (ds->prefix == NULL)
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
    if (name[plen] == '\0')
        return nes_err_set(err, NES_ERR_SPEC, (size_t)-1, "spec name \"%s\" names no file", name);
    uint32_t index;
    return add_doc(ds, name + plen, NULL, data, len, &index, err);
}

void nes_sd_close(nes_sd_docs *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        nes_sd_doc *d = &ds->docs[i];
        nes_ytree_free(d->tree);
        free(d->owned);
        free(d->split);
        free(d->rel);
        free(d->shown);
    }
    free(ds->docs);
    nes_sd_index_free(ds->index);
    free(ds->prefix);
    memset(ds, 0, sizeof *ds);
}

/* ---- references ---------------------------------------------------------------------------- */

/* %-decodes s[0..n) into out (n+1 bytes); false on a malformed escape or a NUL. */
static bool pct_decode(const char *s, size_t n, char *out, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return false;
            int hi = nes_hexval(s[i + 1]), lo = nes_hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    *outlen = o;
    return true;
}

/* Joins the directory of `base` with the relative path `ref` and removes "." and ".."
 * segments. -1 when the result would leave the spec's directory or is too long. */
static int join_name(const char *base, const char *ref, char *out, size_t cap)
{
    char work[2 * NES_SD_MAX_NAME];
    const char *slash = strrchr(base, '/');
    size_t dlen = slash ? (size_t)(slash - base) + 1 : 0;
    int wl = snprintf(work, sizeof work, "%.*s%s", (int)dlen, base, ref);
    if (wl < 0 || (size_t)wl >= sizeof work)
        return -1;
    size_t starts[NES_SD_MAX_NAME];
    size_t depth = 0, o = 0, n = (size_t)wl;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && work[j] != '/')
            j++;
        size_t sl = j - i;
        if (sl == 2 && work[i] == '.' && work[i + 1] == '.') {
            if (depth == 0)
                return -1;
            o = starts[--depth];
        } else if (sl > 0 && !(sl == 1 && work[i] == '.')) {
            if (depth == NES_SD_MAX_NAME || o + sl + 2 > cap)
                return -1;
            starts[depth++] = o;
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, work + i, sl);
            o += sl;
        }
        i = j + 1;
    }
    if (o == 0)
        return -1;
    out[o] = '\0';
    return 0;
}

static bool has_scheme(const char *s)
{
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    while (s[i] && s[i] != '/' && s[i] != ':')
        i++;
    return s[i] == ':';
}

/* The index of the document named `file` (decoded) as referenced from document `from`, loading
 * it through the reader on first use. */
static nes_status find_doc(nes_sd_docs *ds, uint32_t from, nes_yn *at, nes_yn *line_at,
                           const char *file, uint32_t *index, nes_err *err)
{
    if (file[0] == '/' || has_scheme(file) || strchr(file, '\\') != NULL)
        return nes_sd_fail(ds, from, at, line_at, NES_ERR_SPEC, err,
                           "$ref \"%s\": only relative references to sibling documents are "
                           "supported",
                           file);
    char rel[NES_SD_MAX_NAME];
    if (join_name(ds->docs[from].rel, file, rel, sizeof rel) != 0)
        return nes_sd_fail(ds, from, at, line_at, NES_ERR_SPEC, err,
                           "$ref \"%s\" leaves the spec's directory", file);
    for (size_t i = 0; i < ds->n; i++) {
        if (strcmp(ds->docs[i].rel, rel) == 0) {
            *index = (uint32_t)i;
            return NES_OK;
        }
    }
    if (ds->reader == NULL)
        return nes_sd_fail(ds, from, at, line_at, NES_ERR_SPEC, err,
                           "$ref to \"%s\" but no reader for sibling documents", rel);
    nes_err rerr;
    nes_err_clear(&rerr);
    char *data = NULL;
    size_t len = 0;
    nes_status st = ds->reader(ds->reader_ud, rel, &data, &len, &rerr);
    if (st != NES_OK) {
        free(data);
        return nes_sd_fail(ds, from, at, line_at, st == NES_ERR_LIMIT ? st : NES_ERR_SPEC, err,
                           "cannot read \"%s\": %s", rel, rerr.msg[0] ? rerr.msg : "read failed");
    }
    if (data == NULL && len > 0)
        return nes_sd_fail(ds, from, at, line_at, NES_ERR_SPEC, err, "cannot read \"%s\"", rel);
    return add_doc(ds, rel, data, data ? data : "", len, index, err);
}

/* Walks the decoded JSON pointer `ptr` ("" or "/a/b") from `node`. NULL when absent. */
static nes_yn *walk_pointer(nes_sd_docs *ds, nes_yn *node, const char *ptr, char *tok)
{
    const char *p = ptr;
    while (node != NULL && *p == '/') {
        p++;
        size_t t = 0;
        while (*p && *p != '/') {
            if (*p == '~') {
                if (p[1] != '0' && p[1] != '1')
                    return NULL;
                tok[t++] = p[1] == '0' ? '~' : '/';
                p += 2;
            } else {
                tok[t++] = *p++;
            }
        }
        tok[t] = '\0';
        if (nes_yn_is_map(node)) {
            node = nes_sd_lookup(ds, node, tok, t);
        } else if (nes_yn_is_seq(node)) {
            if (t == 0 || t > 9 || (t > 1 && tok[0] == '0') || strspn(tok, "0123456789") != t)
                return NULL;
            char *end;
            long idx = strtol(tok, &end, 10); /* 1 to 9 digits: always in range */
            if (end != tok + t || idx >= nes_yn_count(node))
                return NULL;
            node = nes_sd_deref(nes_yn_seq_at(node, (int)idx));
        } else {
            return NULL;
        }
    }
    return node;
}

nes_status nes_sd_resolve(nes_sd_docs *ds, uint32_t from, nes_yn *at, nes_yn *line_at,
                          const char *ref, size_t len, nes_sd_ref *out, nes_err *err)
{
    char shown[96];
    snprintf(shown, sizeof shown, "%.*s%s", len > 80 ? 80 : (int)len, ref, len > 80 ? "..." : "");
    const char *hash = memchr(ref, '#', len);
    size_t flen = hash ? (size_t)(hash - ref) : len;
    const char *frag = hash ? hash + 1 : ref + len;
    size_t fraglen = len - flen - (hash ? 1 : 0);
    char *buf = malloc(2 * (len + 1));
    if (buf == NULL)
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
    char *dec = buf, *tok = buf + len + 1;
    dec[0] = '\0';
    size_t dlen = 0;
    nes_status st = NES_OK;
    uint32_t doc = from;
    if (flen > 0) {
        if (!pct_decode(ref, flen, dec, &dlen) || dlen >= NES_SD_MAX_NAME)
            st = nes_sd_fail(ds, from, at, line_at, NES_ERR_SPEC, err,
                             "$ref \"%s\": malformed document name", shown);
        else
            st = find_doc(ds, from, at, line_at, dec, &doc, err);
    }
    if (st == NES_OK && !pct_decode(frag, fraglen, dec, &dlen))
        st = nes_sd_fail(ds, from, at, line_at, NES_ERR_SPEC, err,
                         "$ref \"%s\": malformed %%-escape", shown);
    if (st == NES_OK && dlen > 0 && dec[0] != '/')
        st = nes_sd_fail(ds, from, at, line_at, NES_ERR_SPEC, err,
                         "$ref \"%s\": only JSON pointer fragments (\"#/...\") are supported",
                         shown);
    if (st == NES_OK) {
        nes_yn *target = walk_pointer(ds, ds->docs[doc].root, dec, tok);
        if (target == NULL)
            st = nes_sd_fail(ds, from, at, line_at, NES_ERR_SPEC, err,
                             "$ref target \"%s\" not found", shown);
        else
            *out = (nes_sd_ref){.node = target, .doc = doc};
    }
    free(buf);
    return st;
}

nes_status nes_sd_follow(nes_sd_docs *ds, nes_sd_ref in, nes_sd_ref *out, nes_err *err)
{
    nes_sd_ref cur = {.node = nes_sd_deref(in.node), .doc = in.doc};
    for (int hops = 0;; hops++) {
        nes_yn *ref = nes_sd_get(cur.node, "$ref");
        if (ref == NULL) {
            *out = cur;
            return NES_OK;
        }
        if (hops == NES_SPEC_MAX_REF_DEPTH)
            return nes_sd_fail(ds, cur.doc, cur.node, ref, NES_ERR_SPEC, err,
                               "$ref chain longer than %d", NES_SPEC_MAX_REF_DEPTH);
        const char *s;
        size_t len;
        if (!nes_sd_str(ref, &s, &len))
            return nes_sd_fail(ds, cur.doc, cur.node, ref, NES_ERR_SPEC, err,
                               "$ref must be a string");
        nes_status st = nes_sd_resolve(ds, cur.doc, cur.node, ref, s, len, &cur, err);
        if (st != NES_OK)
            return st;
    }
}
