/* schema.c - the public schema API: loading a spec (operations, roots, servers), root selection
 * and proxy-mode operation matching. Compilation is in schema_compile.c, documents and
 * references in schema_doc.c. */
#include "core/schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/fileio.h"
#include "core/pathtmpl.h"
#include "core/schema_int.h"

typedef struct spec_op {
    char *operation_id; /* NULL when absent */
    char method[8];
    char *path;
    nes_pii_node *root; /* NULL without a JSON request body */
    bool webhook;       /* from `webhooks`: path is its name, never matched */
} spec_op;

struct nes_spec {
    char *name;
    nes_pii_graph *g;
    char *pii_root_ref;     /* the x-pii-root text, or NULL */
    nes_pii_node *pii_root; /* its compiled node */
    nes_pii_node *empty;    /* root of JSON bodies that constrain nothing */
    spec_op *ops;
    size_t nops, cap_ops;
    char **bases; /* path prefixes of servers[].url ("/v1"), tried by nes_spec_match */
    size_t nbases;
    size_t nodes;
};

static const char *const methods[] = {"get",     "put",  "post",  "delete",
                                      "options", "head", "patch", "trace"};

static nes_status oom(nes_err *err)
{
    return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
}

/* ---- loading ------------------------------------------------------------------------------- */

typedef struct loader {
    nes_spec *spec;
    nes_sd_docs ds;
    nes_sc *sc;
    nes_err *err;
    bool pass; /* x-pii-unknown-fields: pass at the spec root */
} loader;

/* The spec root's x-pii-unknown-fields ("pass" or "reject"). */
static nes_status load_unknown_fields(loader *l)
{
    nes_yn *v = nes_sd_get(l->ds.docs[0].root, "x-pii-unknown-fields");
    const char *s;
    size_t len;
    if (v == NULL)
        return NES_OK;
    if (nes_sd_str(v, &s, &len) && len == 4 && memcmp(s, "pass", 4) == 0)
        l->pass = true;
    else if (!nes_sd_str(v, &s, &len) || len != 6 || memcmp(s, "reject", 6) != 0)
        return nes_sd_fail(&l->ds, 0, v, NULL, NES_ERR_SPEC, l->err,
                           "x-pii-unknown-fields must be \"pass\" or \"reject\"");
    return NES_OK;
}

static nes_status check_version(loader *l)
{
    nes_yn *root = l->ds.docs[0].root;
    if (root == NULL)
        return nes_err_set(l->err, NES_ERR_SPEC, (size_t)-1, "%s: empty document",
                           l->ds.docs[0].shown);
    if (!nes_yn_is_map(root))
        return nes_sd_fail(&l->ds, 0, root, NULL, NES_ERR_SPEC, l->err,
                           "the document is not a mapping");
    const char *v;
    size_t len;
    nes_yn *ver = nes_sd_get(root, "openapi");
    if (nes_sd_str(ver, &v, &len) && len >= 2 && v[0] == '3' && v[1] == '.')
        return NES_OK;
    if (ver != NULL)
        return nes_sd_fail(&l->ds, 0, ver, NULL, NES_ERR_SPEC, l->err,
                           "unsupported OpenAPI version (3.0 and 3.1 are supported)");
    if (nes_sd_get(root, "swagger") != NULL)
        return nes_sd_fail(&l->ds, 0, root, NULL, NES_ERR_SPEC, l->err,
                           "Swagger 2.0 is not supported: convert the spec to OpenAPI 3");
    return nes_sd_fail(&l->ds, 0, root, NULL, NES_ERR_SPEC, l->err,
                       "not an OpenAPI 3 document (no \"openapi\" field)");
}

/* Servers' URL paths ("https://api.example.com/v1" -> "/v1"), without templated ones. */
static nes_status load_servers(loader *l)
{
    nes_yn *servers = nes_sd_get(l->ds.docs[0].root, "servers");
    if (servers == NULL || !nes_yn_is_seq(servers))
        return NES_OK;
    nes_spec *spec = l->spec;
    int count = nes_yn_count(servers);
    char **bases = calloc((size_t)count + 1, sizeof *bases);
    if (bases == NULL)
        return oom(l->err);
    spec->bases = bases;
    size_t nbases = 0; /* == spec->nbases, kept current for nes_spec_free on failure */
    void *it = NULL;
    nes_yn *srv;
    while ((srv = nes_yn_seq_iterate(servers, &it)) != NULL) {
        const char *url;
        size_t len;
        if (!nes_sd_str(nes_sd_get(nes_sd_deref(srv), "url"), &url, &len))
            continue;
        const char *p = url, *end = url + len;
        const char *scheme = memmem(url, len, "://", 3); /* scalars are not NUL-terminated */
        if (scheme != NULL) {
            p = memchr(scheme + 3, '/', (size_t)(end - scheme - 3));
            if (p == NULL)
                continue;
        } else if (len == 0 || url[0] != '/') {
            continue;
        }
        size_t n = (size_t)(end - p);
        const char *q = memchr(p, '?', n);
        if (q != NULL)
            n = (size_t)(q - p);
        while (n > 0 && p[n - 1] == '/')
            n--;
        if (n == 0 || memchr(p, '{', n) != NULL || memchr(p, '#', n) != NULL)
            continue;
        bool dup = false;
        for (size_t i = 0; i < nbases && !dup; i++)
            dup = strlen(bases[i]) == n && memcmp(bases[i], p, n) == 0;
        if (dup)
            continue;
        if ((bases[nbases] = nes_dup_bytes(p, n)) == NULL)
            return oom(l->err);
        spec->nbases = ++nbases;
    }
    return NES_OK;
}

/* application/json, application/<anything>+json and (a body that may be anything) * / *. */
static bool json_media(const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && s[n] != ';')
        n++;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if ((n == 3 && memcmp(s, "*/*", 3) == 0) ||
        (n == 16 && strncasecmp(s, "application/json", 16) == 0))
        return true;
    return n > 17 && strncasecmp(s, "application/", 12) == 0 &&
           strncasecmp(s + n - 5, "+json", 5) == 0;
}

static nes_status empty_node(loader *l, nes_pii_node **out)
{
    if (l->spec->empty == NULL) {
        if ((l->spec->empty = nes_pii_node_new(l->spec->g, NULL)) == NULL)
            return oom(l->err);
        l->spec->empty->members = NES_MEMBERS_ANY; /* a body that constrains nothing */
    }
    *out = l->spec->empty;
    return NES_OK;
}

/* The root of an operation's JSON request body (the union of its JSON media types' schemas), or
 * NULL when it has none. */
static nes_status body_root(loader *l, uint32_t doc, nes_yn *op, nes_pii_node **out)
{
    *out = NULL;
    nes_yn *rb = nes_sd_get(op, "requestBody");
    if (rb == NULL)
        return NES_OK;
    nes_sd_ref body;
    nes_status st = nes_sd_follow(&l->ds, (nes_sd_ref){rb, doc}, &body, l->err);
    if (st != NES_OK)
        return st;
    if (!nes_yn_is_map(body.node))
        return nes_sd_fail(&l->ds, body.doc, body.node, NULL, NES_ERR_SPEC, l->err,
                           "requestBody must be a mapping");
    nes_yn *content = nes_sd_get(body.node, "content");
    if (content == NULL || !nes_yn_is_map(content))
        return NES_OK;
    int count = nes_yn_count(content);
    nes_sd_ref *set = malloc((count > 0 ? (size_t)count : 1) * sizeof *set);
    if (set == NULL)
        return oom(l->err);
    size_t n = 0;
    bool json = false;
    void *it = NULL;
    nes_yn_pair *p;
    while ((p = nes_yn_map_iterate(content, &it)) != NULL && n < (size_t)count) {
        const char *mt;
        size_t len;
        if (!nes_sd_str(nes_sd_deref(nes_yn_pair_key(p)), &mt, &len) || !json_media(mt, len))
            continue;
        json = true;
        nes_yn *schema = nes_sd_get(nes_sd_deref(nes_yn_pair_value(p)), "schema");
        if (schema != NULL)
            set[n++] = (nes_sd_ref){schema, body.doc};
    }
    if (json && n > 0)
        st = nes_sc_compile(l->sc, set, n, l->pass, out, l->err);
    free(set);
    if (!json || st != NES_OK)
        return st;
    return *out != NULL ? NES_OK : empty_node(l, out);
}

static nes_status add_op(loader *l, const char *method, const char *path, size_t plen, nes_yn *op,
                         uint32_t doc, bool webhook)
{
    nes_spec *spec = l->spec;
    nes_yn *idn = nes_sd_get(op, "operationId");
    const char *id = NULL;
    size_t idlen = 0;
    if (idn != NULL && !nes_sd_str(idn, &id, &idlen))
        return nes_sd_fail(&l->ds, doc, idn, NULL, NES_ERR_SPEC, l->err,
                           "operationId must be a string");
    for (size_t i = 0; id != NULL && i < spec->nops; i++)
        if (spec->ops[i].operation_id != NULL && strlen(spec->ops[i].operation_id) == idlen &&
            memcmp(spec->ops[i].operation_id, id, idlen) == 0)
            return nes_sd_fail(&l->ds, doc, idn, NULL, NES_ERR_SPEC, l->err,
                               "duplicate operationId \"%.*s\"", idlen > 64 ? 64 : (int)idlen, id);
    if (spec->nops == spec->cap_ops) {
        size_t cap = spec->cap_ops ? 2 * spec->cap_ops : 16;
        spec_op *ops = realloc(spec->ops, cap * sizeof *ops);
        if (ops == NULL)
            return oom(l->err);
        spec->ops = ops;
        spec->cap_ops = cap;
    }
    spec_op *o = &spec->ops[spec->nops];
    memset(o, 0, sizeof *o);
    snprintf(o->method, sizeof o->method, "%s", method);
    o->path = nes_dup_bytes(path, plen);
    o->operation_id = id ? nes_dup_bytes(id, idlen) : NULL;
    o->webhook = webhook;
    spec->nops++; /* from here on nes_spec_free frees it */
    if (o->path == NULL || (id != NULL && o->operation_id == NULL))
        return oom(l->err);
    nes_pii_node *root;
    nes_status st = body_root(l, doc, op, &root);
    spec->ops[spec->nops - 1].root = root;
    return st;
}

/* Adds the operations of one path item: its own, then those of the item its `$ref` names (and
 * so on along the chain) for methods it does not define itself (3.1 allows both). */
static nes_status add_item_ops(loader *l, nes_yn *value, const char *path, size_t plen,
                               bool webhook)
{
    nes_sd_ref cur = {nes_sd_deref(value), 0};
    bool done[sizeof methods / sizeof methods[0]] = {false};
    for (int hops = 0;; hops++) {
        if (cur.node == NULL || !nes_yn_is_map(cur.node))
            return nes_sd_fail(&l->ds, cur.doc, cur.node ? cur.node : value, NULL, NES_ERR_SPEC,
                               l->err, "a path item must be a mapping");
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            nes_yn *op = nes_sd_get(cur.node, methods[m]);
            if (op == NULL || done[m])
                continue;
            if (!nes_yn_is_map(op))
                return nes_sd_fail(&l->ds, cur.doc, op, NULL, NES_ERR_SPEC, l->err,
                                   "an operation must be a mapping");
            done[m] = true;
            nes_status st = add_op(l, methods[m], path, plen, op, cur.doc, webhook);
            if (st != NES_OK)
                return st;
        }
        nes_yn *ref = nes_sd_get(cur.node, "$ref");
        if (ref == NULL)
            return NES_OK;
        const char *s;
        size_t len;
        if (hops == NES_SPEC_MAX_REF_DEPTH)
            return nes_sd_fail(&l->ds, cur.doc, cur.node, ref, NES_ERR_SPEC, l->err,
                               "$ref chain longer than %d", NES_SPEC_MAX_REF_DEPTH);
        if (!nes_sd_str(ref, &s, &len))
            return nes_sd_fail(&l->ds, cur.doc, cur.node, ref, NES_ERR_SPEC, l->err,
                               "$ref must be a string");
        nes_status st = nes_sd_resolve(&l->ds, cur.doc, cur.node, ref, s, len, &cur, l->err);
        if (st != NES_OK)
            return st;
    }
}

/* Operations under `paths` and, for 3.1, `webhooks` (by name: selectable by operationId). */
static nes_status load_ops(loader *l)
{
    static const char *const sections[] = {"paths", "webhooks"};
    for (size_t sec = 0; sec < 2; sec++) {
        nes_yn *paths = nes_sd_get(l->ds.docs[0].root, sections[sec]);
        if (paths == NULL)
            continue;
        if (!nes_yn_is_map(paths))
            return nes_sd_fail(&l->ds, 0, paths, NULL, NES_ERR_SPEC, l->err, "%s must be a mapping",
                               sections[sec]);
        void *it = NULL;
        nes_yn_pair *p;
        while ((p = nes_yn_map_iterate(paths, &it)) != NULL) {
            const char *path;
            size_t plen;
            nes_yn *key = nes_sd_deref(nes_yn_pair_key(p));
            if (!nes_sd_str(key, &path, &plen))
                return nes_sd_fail(&l->ds, 0, paths, NULL, NES_ERR_SPEC, l->err,
                                   "%s keys must be strings", sections[sec]);
            if (nes_yn_pair_value(p) == NULL)
                continue;
            nes_status st = add_item_ops(l, nes_yn_pair_value(p), path, plen, sec == 1);
            if (st != NES_OK)
                return st;
        }
    }
    return NES_OK;
}

static nes_status load_pii_root(loader *l)
{
    nes_yn *root = l->ds.docs[0].root;
    nes_yn *xr = nes_sd_get(root, "x-pii-root");
    if (xr == NULL)
        return NES_OK;
    const char *s;
    size_t len;
    if (!nes_sd_str(xr, &s, &len) || len == 0)
        return nes_sd_fail(&l->ds, 0, xr, NULL, NES_ERR_SPEC, l->err,
                           "x-pii-root must be a reference such as \"#/components/schemas/X\"");
    nes_sd_ref target;
    nes_status st = nes_sd_resolve(&l->ds, 0, xr, NULL, s, len, &target, l->err);
    if (st == NES_OK)
        st = nes_sc_compile(l->sc, &target, 1, l->pass, &l->spec->pii_root, l->err);
    if (st == NES_OK && l->spec->pii_root == NULL)
        st = empty_node(l, &l->spec->pii_root);
    if (st == NES_OK && (l->spec->pii_root_ref = nes_dup_bytes(s, len)) == NULL)
        st = oom(l->err);
    return st;
}

nes_status nes_spec_load(const char *name, const char *data, size_t len, nes_doc_reader reader,
                         void *reader_ud, nes_spec **out, nes_err *err)
{
    return nes_spec_load_limits(name, data, len, reader, reader_ud, NULL, out, err);
}

nes_status nes_spec_load_limits(const char *name, const char *data, size_t len,
                                nes_doc_reader reader, void *reader_ud, const nes_spec_limits *lim,
                                nes_spec **out, nes_err *err)
{
    *out = NULL;
    nes_err_clear(err);
    if (name == NULL || (data == NULL && len > 0))
        return nes_err_set(err, NES_ERR_SPEC, (size_t)-1, "no spec given");
    if (len > NES_SPEC_MAX_BYTES)
        return nes_err_set(err, NES_ERR_LIMIT, (size_t)-1, "%s: larger than %u bytes", name,
                           NES_SPEC_MAX_BYTES);
    loader *l = calloc(1, sizeof *l);
    nes_spec *spec = calloc(1, sizeof *spec);
    if (l == NULL || spec == NULL) {
        free(l);
        free(spec);
        return oom(err);
    }
    l->spec = spec;
    l->err = err;
    nes_status st = NES_OK;
    /* messages name the spec by its file name, never a path of the machine */
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    if ((spec->name = nes_dup_bytes(base, strlen(base))) == NULL ||
        (spec->g = nes_pii_graph_new()) == NULL)
        st = oom(err);
    if (st == NES_OK)
        st = nes_sd_open(&l->ds, name, data ? data : "", len, reader, reader_ud,
                         lim ? lim->max_docs : 0, err);
    if (st == NES_OK && (l->sc = nes_sc_new(&l->ds, spec->g)) == NULL)
        st = oom(err);
    if (st == NES_OK)
        st = check_version(l);
    if (st == NES_OK)
        st = load_unknown_fields(l);
    if (st == NES_OK)
        st = load_servers(l);
    if (st == NES_OK)
        st = load_ops(l);
    if (st == NES_OK)
        st = load_pii_root(l);
    if (st == NES_OK && nes_pii_graph_finish(spec->g) != 0)
        st = oom(err);
    if (l->sc != NULL)
        spec->nodes = nes_sc_node_count(l->sc) + (spec->empty != NULL);
    nes_sc_free(l->sc);
    nes_sd_close(&l->ds);
    free(l);
    if (st != NES_OK) {
        nes_spec_free(spec);
        return st;
    }
    *out = spec;
    return NES_OK;
}

void nes_spec_free(nes_spec *spec)
{
    if (spec == NULL)
        return;
    for (size_t i = 0; i < spec->nops; i++) {
        free(spec->ops[i].operation_id);
        free(spec->ops[i].path);
    }
    free(spec->ops);
    for (size_t i = 0; i < spec->nbases; i++)
        free(spec->bases[i]);
    free(spec->bases);
    free(spec->pii_root_ref);
    nes_pii_graph_free(spec->g);
    free(spec->name);
    free(spec);
}

/* ---- files --------------------------------------------------------------------------------- */

/* The spec's directory, as given and resolved (symbolic links followed). */
typedef struct spec_dir {
    const char *dir;
    char *real; /* NULL when the directory cannot be resolved */
} spec_dir;

/* Reads sibling documents from the spec's directory; refuses absolute names, "..", and names
 * whose resolved path (symbolic links followed) is not inside the resolved directory. */
static nes_status dir_reader(void *ud, const char *name, char **data, size_t *len, nes_err *err)
{
    const spec_dir *sd = ud;
    bool dotdot = false;
    for (const char *s = name; *s;) {
        size_t n = strcspn(s, "/");
        dotdot = dotdot || (n == 2 && s[0] == '.' && s[1] == '.');
        s += n + (s[n] == '/');
    }
    if (name[0] == '\0' || name[0] == '/' || dotdot)
        return nes_err_set(err, NES_ERR_IO, (size_t)-1,
                           "refusing to read a document outside the spec's directory");
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", sd->dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return nes_err_set(err, NES_ERR_IO, (size_t)-1, "path too long");
    char *real = realpath(path, NULL);
    if (real == NULL)
        return nes_read_file(path, NES_SPEC_MAX_BYTES, data, len, err); /* names the error */
    size_t rl = sd->real ? strlen(sd->real) : 0;
    bool inside = sd->real != NULL && (strcmp(sd->real, "/") == 0
                                           ? real[0] == '/'
                                           : strncmp(real, sd->real, rl) == 0 && real[rl] == '/');
    nes_status st = inside ? nes_read_file(real, NES_SPEC_MAX_BYTES, data, len, err)
                           : nes_err_set(err, NES_ERR_IO, (size_t)-1,
                                         "refusing to follow a symbolic link that leaves the "
                                         "spec's directory");
    free(real);
    return st;
}

nes_status nes_spec_load_file(const char *path, nes_spec **out, nes_err *err)
{
    return nes_spec_load_file_limits(path, NULL, out, err);
}

nes_status nes_spec_load_file_limits(const char *path, const nes_spec_limits *lim, nes_spec **out,
                                     nes_err *err)
{
    *out = NULL;
    nes_err_clear(err);
    char *data;
    size_t len;
    nes_status st = nes_read_file(path, NES_SPEC_MAX_BYTES, &data, &len, err);
    if (st != NES_OK)
        return st;
    const char *slash = strrchr(path, '/');
    char *dir = slash ? nes_dup_bytes(path, slash == path ? 1 : (size_t)(slash - path))
                      : nes_dup_bytes(".", 1);
    if (dir == NULL) {
        st = oom(err);
    } else {
        spec_dir sd = {.dir = dir, .real = realpath(dir, NULL)};
        st = nes_spec_load_limits(path, data, len, dir_reader, &sd, lim, out, err);
        free(sd.real);
    }
    free(dir);
    free(data);
    return st;
}

/* ---- roots --------------------------------------------------------------------------------- */

/* Appends a shown operation name (operationId, else "METHOD /path") to a choice list. */
static void list_op(const spec_op *op, char *buf, size_t cap, size_t *o, size_t *shown)
{
    char item[96];
    if (op->operation_id != NULL)
        snprintf(item, sizeof item, "%s", op->operation_id);
    else
        snprintf(item, sizeof item, "%s %s", op->method, op->path);
    size_t n = strlen(item);
    if (*o + n + 3 >= cap)
        return;
    *o += (size_t)snprintf(buf + *o, cap - *o, "%s%s", *shown ? ", " : "", item);
    (*shown)++;
}

static void choices(const nes_spec *spec, char *buf, size_t cap)
{
    size_t o = 0, shown = 0, total = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < spec->nops; i++) {
        if (spec->ops[i].root == NULL)
            continue;
        total++;
        if (shown == total - 1) /* stop at the first that does not fit, room kept for the note */
            list_op(&spec->ops[i], buf, cap - 24, &o, &shown);
    }
    if (shown < total)
        snprintf(buf + o, cap - o, ", ... (%zu more)", total - shown);
}

/* A printable, bounded copy of untrusted text for a message. */
static void printable(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        char c = *s;
        if (c < 0x20 || c >= 0x7f || c == '"')
            c = '?';
        out[o++] = c;
    }
    if (*s)
        out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o] = '\0';
}

/* Records NES_ERR_ROOT: `head` followed by the choice list, cut so that it fits the message. */
static nes_status root_error(const nes_spec *spec, nes_err *err, const char *head, bool list)
{
    char items[sizeof err->msg];
    size_t hl = strlen(head), room = sizeof items;
    if (hl + 48 < sizeof err->msg)
        room = sizeof err->msg - hl;
    else
        room = 48;
    items[0] = '\0';
    if (list)
        choices(spec, items, room);
    return nes_err_set(err, NES_ERR_ROOT, (size_t)-1, "%s%s", head, items);
}

nes_status nes_spec_root(const nes_spec *spec, const char *operation_id, const nes_pii_node **root,
                         nes_err *err)
{
    *root = NULL;
    if (spec->pii_root != NULL) {
        *root = spec->pii_root;
        return NES_OK;
    }
    char head[sizeof err->msg];
    if (operation_id != NULL && operation_id[0] != '\0') {
        char shown[72];
        printable(operation_id, shown, sizeof shown);
        for (size_t i = 0; i < spec->nops; i++) {
            const spec_op *op = &spec->ops[i];
            if (op->operation_id == NULL || strcmp(op->operation_id, operation_id) != 0)
                continue;
            if (op->root == NULL)
                return nes_err_set(err, NES_ERR_ROOT, (size_t)-1,
                                   "%s: operation \"%s\" has no JSON request body", spec->name,
                                   shown);
            *root = op->root;
            return NES_OK;
        }
        bool any = false;
        for (size_t i = 0; i < spec->nops; i++)
            any = any || spec->ops[i].root != NULL;
        snprintf(head, sizeof head, "%s: unknown operationId \"%s\"%s", spec->name, shown,
                 any ? "; operations with a JSON body: " : "");
        return root_error(spec, err, head, any);
    }
    const nes_pii_node *only = NULL;
    size_t count = 0;
    for (size_t i = 0; i < spec->nops; i++) {
        if (spec->ops[i].root != NULL) {
            only = spec->ops[i].root;
            count++;
        }
    }
    if (count == 1) {
        *root = only;
        return NES_OK;
    }
    if (count == 0)
        return nes_err_set(err, NES_ERR_ROOT, (size_t)-1,
                           "%s: no operation has a JSON request body and there is no x-pii-root",
                           spec->name);
    snprintf(head, sizeof head,
             "%s: %zu operations have a JSON request body; choose one by operationId: ", spec->name,
             count);
    return root_error(spec, err, head, true);
}

/* ---- operations and proxy matching --------------------------------------------------------- */

size_t nes_spec_operation_count(const nes_spec *spec)
{
    return spec->nops;
}

static void fill_op(const spec_op *op, nes_spec_op *out)
{
    out->operation_id = op->operation_id;
    out->method = op->method;
    out->path = op->path;
    out->root = op->root;
    out->webhook = op->webhook;
}

bool nes_spec_operation(const nes_spec *spec, size_t i, nes_spec_op *out)
{
    if (i >= spec->nops)
        return false;
    fill_op(&spec->ops[i], out);
    return true;
}

const char *nes_spec_pii_root(const nes_spec *spec)
{
    return spec->pii_root_ref;
}

size_t nes_spec_node_count(const nes_spec *spec)
{
    return spec->nodes;
}

static const spec_op *match_in(const nes_spec *spec, const char *method, const char *path,
                               size_t plen)
{
    const spec_op *best = NULL;
    for (size_t i = 0; i < spec->nops; i++) {
        const spec_op *op = &spec->ops[i];
        if (op->webhook || strcasecmp(op->method, method) != 0 ||
            !nes_path_template_match(op->path, strlen(op->path), path, plen))
            continue;
        if (best == NULL || nes_path_template_cmp(op->path, best->path) > 0)
            best = op;
    }
    return best;
}

bool nes_spec_find_op(const nes_spec *spec, const char *method, const char *path, size_t path_len,
                      nes_spec_op *out)
{
    if (method == NULL || path == NULL)
        return false;
    const char *q = memchr(path, '?', path_len);
    if (q != NULL)
        path_len = (size_t)(q - path);
    const spec_op *op = match_in(spec, method, path, path_len);
    for (size_t i = 0; op == NULL && i < spec->nbases; i++) {
        size_t bl = strlen(spec->bases[i]);
        if (path_len < bl || memcmp(path, spec->bases[i], bl) != 0)
            continue;
        if (path_len == bl)
            op = match_in(spec, method, "/", 1);
        else if (path[bl] == '/')
            op = match_in(spec, method, path + bl, path_len - bl);
    }
    if (op == NULL)
        return false;
    fill_op(op, out);
    return true;
}

const nes_pii_node *nes_spec_match(const nes_spec *spec, const char *method, const char *path,
                                   size_t path_len)
{
    nes_spec_op op;
    return nes_spec_find_op(spec, method, path, path_len, &op) ? op.root : NULL;
}
