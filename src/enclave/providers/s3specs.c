/* s3specs.c - specs from S3, refreshed with conditional GETs (see s3specs.h). */
#include "enclave/providers/s3specs.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/s3.h"
#include "core/schema.h"
#include "enclave/local.h"
#include "enclave/metrics.h"
#include "enclave/state.h"
#include "net/deadline.h"
#include "obs/log.h"
#include "obs/otel/trace.h"

/* An object kept from the last refresh (body and ETag), for If-None-Match. */
typedef struct obj {
    char *key;
    char etag[NES_S3_MAX_ETAG];
    char *data;
    size_t len;
    bool used;   /* fetched or confirmed during the current refresh */
    bool failed; /* the fetch failed during the current refresh */
} obj;

/* A document a compiled spec was built from, and the ETag it had. */
typedef struct dep {
    char *key;
    char etag[NES_S3_MAX_ETAG];
} dep;

/* A spec name seen in the listing: its last good version (ref, NULL when it never loaded) and
 * the documents it came from; after a failed compile, the documents of the failed version too,
 * so that the same broken version is neither compiled, logged nor counted again. */
typedef struct entry {
    char name[128];
    nes_spec_ref *ref;
    dep *deps;
    size_t ndeps;
    dep *bad;
    size_t nbad;
} entry;

struct nes_s3specs {
    nes_aws_config aws;
    nes_aws_credsrc *creds;
    char *bucket, *prefix;
    unsigned refresh_secs;
    size_t max_bytes;
    _Atomic uint64_t *errors;

    pthread_mutex_t mu; /* one refresh at a time: everything below up to `smu` */
    nes_aws_client *client;
    obj *objs;
    size_t nobjs, capobjs;
    entry *entries;
    size_t nentries;

    pthread_mutex_t smu; /* stats, stop flag */
    pthread_cond_t cv;
    nes_s3specs_stats st;
    bool stop, started;
    pthread_t th;
};

static void count_error(nes_s3specs *p)
{
    if (p->errors != NULL)
        atomic_fetch_add(p->errors, 1);
    pthread_mutex_lock(&p->smu);
    p->st.errors++;
    pthread_mutex_unlock(&p->smu);
}

nes_s3specs *nes_s3specs_new(const nes_s3specs_config *cfg, char *why, size_t why_len)
{
    if (cfg->aws == NULL || cfg->creds == NULL || cfg->bucket == NULL || *cfg->bucket == '\0') {
        nes_msgf(why, why_len, "S3 spec provider: bucket and AWS settings are required");
        return NULL;
    }
    nes_s3specs *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        nes_msgf(why, why_len, "out of memory");
        return NULL;
    }
    p->aws = *cfg->aws;
    p->creds = cfg->creds;
    p->bucket = strdup(cfg->bucket);
    p->prefix = strdup(cfg->prefix ? cfg->prefix : "");
    p->refresh_secs = cfg->refresh_secs ? cfg->refresh_secs : 300;
    p->max_bytes = cfg->max_bytes ? cfg->max_bytes : (8u << 20);
    p->errors = cfg->errors;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->smu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->client = nes_aws_client_new(&p->aws, p->creds);
    if (p->bucket == NULL || p->prefix == NULL || p->client == NULL) {
        nes_msgf(why, why_len, "S3 spec provider: cannot create the AWS client");
        nes_s3specs_free(p);
        return NULL;
    }
    return p;
}

/* ---- the object cache --------------------------------------------------------------------- */

static obj *find_obj(nes_s3specs *p, const char *key)
{
    for (size_t i = 0; i < p->nobjs; i++)
        if (strcmp(p->objs[i].key, key) == 0)
            return &p->objs[i];
    return NULL;
}

static obj *add_obj(nes_s3specs *p, const char *key)
{
    if (p->nobjs == p->capobjs) {
        size_t ncap = p->capobjs ? p->capobjs * 2 : 32;
        obj *o = realloc(p->objs, ncap * sizeof(*o));
        if (o == NULL)
            return NULL;
        p->objs = o;
        p->capobjs = ncap;
    }
    obj *o = &p->objs[p->nobjs];
    memset(o, 0, sizeof(*o));
    o->key = strdup(key);
    if (o->key == NULL)
        return NULL;
    p->nobjs++;
    return o;
}

/* The object `key`, fetched at most once per refresh (a 304 keeps the kept copy). NULL when it
 * cannot be fetched (logged by the client; `why` says what failed). */
static obj *fetch(nes_s3specs *p, const char *key, char *why, size_t why_len)
{
    obj *o = find_obj(p, key);
    if (o != NULL && o->used)
        return o->failed ? NULL : o;
    if (o == NULL && (o = add_obj(p, key)) == NULL) {
        nes_msgf(why, why_len, "out of memory");
        return NULL;
    }
    o->used = true;
    o->failed = false;
    nes_buf body = {0};
    char etag[NES_S3_MAX_ETAG] = "";
    nes_aws_error err;
    nes_s3_get_result r =
        nes_s3_get_object(p->client, p->bucket, key, o->data != NULL ? o->etag : NULL, p->max_bytes,
                          &body, etag, &err);
    if (r == NES_S3_GET_NOT_MODIFIED) {
        pthread_mutex_lock(&p->smu);
        p->st.not_modified++;
        pthread_mutex_unlock(&p->smu);
        return o;
    }
    if (r == NES_S3_GET_FAILED) {
        nes_buf_free(&body);
        o->failed = true;
        nes_msgf(why, why_len, "s3://%s/%s: %s%s%s", p->bucket, key, err.code,
                 err.code[0] ? ": " : "", err.message);
        return NULL;
    }
    free(o->data);
    o->data = (char *)body.data;
    o->len = body.len;
    if (o->data == NULL)
        o->data = calloc(1, 1);
    snprintf(o->etag, sizeof(o->etag), "%s", etag);
    return o;
}

/* ---- compiling ---------------------------------------------------------------------------- */

typedef struct reader_ctx {
    nes_s3specs *p;
    dep *deps;
    size_t ndeps;
    bool oom;
} reader_ctx;

static int add_dep(reader_ctx *rc, const obj *o)
{
    dep *d = realloc(rc->deps, (rc->ndeps + 1) * sizeof(*d));
    if (d == NULL)
        return -1;
    rc->deps = d;
    d[rc->ndeps].key = strdup(o->key);
    if (d[rc->ndeps].key == NULL)
        return -1;
    snprintf(d[rc->ndeps].etag, sizeof(d[rc->ndeps].etag), "%s", o->etag);
    rc->ndeps++;
    return 0;
}

static void free_deps(dep *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(d[i].key);
    free(d);
}

static nes_status read_sibling(void *ud, const char *name, char **data, size_t *len, nes_err *err)
{
    reader_ctx *rc = ud;
    size_t klen = strlen(rc->p->prefix) + strlen(name) + 1;
    char *key = malloc(klen);
    if (key == NULL)
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
    snprintf(key, klen, "%s%s", rc->p->prefix, name);
    char why[300];
    obj *o = fetch(rc->p, key, why, sizeof(why));
    free(key);
    if (o == NULL)
        return nes_err_set(err, NES_ERR_IO, (size_t)-1, "%s cannot be fetched", name);
    *data = nes_dup_bytes(o->data, o->len);
    if (*data == NULL || add_dep(rc, o) != 0)
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory");
    *len = o->len;
    return NES_OK;
}

/* True when every document of `d` still has the ETag it had. */
static bool unchanged(nes_s3specs *p, const dep *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char why[300];
        obj *o = fetch(p, d[i].key, why, sizeof(why));
        if (o == NULL || strcmp(o->etag, d[i].etag) != 0)
            return false;
    }
    return n > 0;
}

static entry *find_entry(entry *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

static void log_spec(nes_log_level lvl, const char *msg, const char *name, const char *bucket,
                     const char *key, const char *reason)
{
    nes_logline l;
    nes_logline_begin(&l, lvl, msg);
    nes_logline_str(&l, "spec", name);
    nes_logline_str(&l, "bucket", bucket);
    nes_logline_str(&l, "key", key);
    if (reason != NULL)
        nes_logline_str(&l, "reason", reason);
    nes_logline_emit(&l);
}

/* Moves `old` (may be NULL) into `out`: the last good version and what is known of it. */
static void carry(entry *old, entry *out, const char *name)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    if (old == NULL)
        return;
    *out = *old;
    old->ref = NULL;
    old->deps = old->bad = NULL;
    old->ndeps = old->nbad = 0;
}

/* Loads the spec `name` from object `key` into `out` (which takes over `old`). Returns 1 when a
 * new version was compiled, 0 when nothing changed, -1 on a new failure (logged; the last good
 * version, if any, stays in `out`). */
static int load_one(nes_s3specs *p, const char *name, const char *key, entry *old, entry *out)
{
    char why[300];
    obj *main_obj = fetch(p, key, why, sizeof(why));
    if (main_obj == NULL) {
        carry(old, out, name);
        log_spec(NES_LOG_ERROR,
                 out->ref ? "spec cannot be fetched; its last good version stays"
                          : "spec cannot be fetched",
                 name, p->bucket, key, why);
        return -1;
    }
    if (old != NULL && unchanged(p, old->bad, old->nbad)) {
        carry(old, out, name); /* the same broken version as last time */
        return 0;
    }
    if (old != NULL && old->ref != NULL && unchanged(p, old->deps, old->ndeps)) {
        carry(old, out, name);
        free_deps(out->bad, out->nbad); /* back to the good version */
        out->bad = NULL;
        out->nbad = 0;
        return 0;
    }
    reader_ctx rc = {.p = p};
    if (add_dep(&rc, main_obj) != 0) {
        free_deps(rc.deps, rc.ndeps);
        carry(old, out, name);
        return -1;
    }
    const char *file = key + strlen(p->prefix);
    nes_spec *spec = NULL;
    nes_err err;
    nes_err_clear(&err);
    nes_status st =
        nes_spec_load(file, main_obj->data, main_obj->len, read_sibling, &rc, &spec, &err);
    pthread_mutex_lock(&p->smu);
    p->st.compiles++;
    pthread_mutex_unlock(&p->smu);
    carry(old, out, name);
    if (st != NES_OK) {
        free_deps(out->bad, out->nbad);
        out->bad = rc.deps;
        out->nbad = rc.ndeps;
        log_spec(NES_LOG_ERROR,
                 out->ref ? "spec failed to load; its last good version stays"
                          : "spec failed to load",
                 name, p->bucket, key, err.msg);
        nes_metrics_spec_refresh_error(name);
        return -1;
    }
    nes_spec_ref *ref = nes_spec_ref_new(name, spec);
    if (ref == NULL) {
        free_deps(rc.deps, rc.ndeps);
        return -1;
    }
    nes_metrics_spec_register(name);
    nes_spec_ref_release(out->ref);
    free_deps(out->deps, out->ndeps);
    free_deps(out->bad, out->nbad);
    out->ref = ref;
    out->deps = rc.deps;
    out->ndeps = rc.ndeps;
    out->bad = NULL;
    out->nbad = 0;
    log_spec(NES_LOG_INFO, "spec loaded", name, p->bucket, key, NULL);
    return 1;
}

static void free_entries(entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        nes_spec_ref_release(v[i].ref);
        free_deps(v[i].deps, v[i].ndeps);
        free_deps(v[i].bad, v[i].nbad);
    }
    free(v);
}

int nes_s3specs_refresh(nes_s3specs *p)
{
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nobjs; i++)
        p->objs[i].used = p->objs[i].failed = false;
    nes_s3_list list = {0};
    nes_aws_error aerr;
    if (nes_s3_list_objects(p->client, p->bucket, p->prefix, NES_S3SPECS_MAX_LISTED, &list,
                            &aerr) != 0) {
        nes_s3_list_free(&list);
        nes_logline l;
        nes_logline_begin(&l, NES_LOG_ERROR, "spec listing failed; the current specs stay in use");
        nes_logline_str(&l, "bucket", p->bucket);
        nes_logline_str(&l, "prefix", p->prefix);
        nes_logline_str(&l, "aws_code", aerr.code);
        nes_logline_str(&l, "reason", aerr.message);
        nes_logline_emit(&l);
        pthread_mutex_unlock(&p->mu);
        count_error(p);
        return -1;
    }
    entry *next = calloc(NES_S3SPECS_MAX, sizeof(entry));
    size_t nnext = 0;
    int failed = 0;
    bool changed = false;
    size_t plen = strlen(p->prefix);
    for (size_t i = 0; next != NULL && i < list.n; i++) {
        const char *key = list.objects[i].key;
        char name[128];
        if (strncmp(key, p->prefix, plen) != 0 || strchr(key + plen, '/') != NULL ||
            !nes_local_spec_name(key + plen, name, sizeof(name)))
            continue;
        if (find_entry(next, nnext, name) != NULL) {
            nes_log(NES_LOG_WARN, "spec %s: more than one object; using the first", name);
            continue;
        }
        if (nnext >= NES_S3SPECS_MAX) {
            nes_log(NES_LOG_WARN, "more than %d specs under the prefix; the rest are ignored",
                    NES_S3SPECS_MAX);
            break;
        }
        entry *old = find_entry(p->entries, p->nentries, name);
        bool had = old != NULL && old->ref != NULL;
        int r = load_one(p, name, key, old, &next[nnext]);
        if (r < 0) {
            failed++;
            count_error(p);
        }
        changed = changed || r == 1 || had != (next[nnext].ref != NULL);
        nnext++;
    }
    nes_s3_list_free(&list);
    if (next == NULL) {
        pthread_mutex_unlock(&p->mu);
        count_error(p);
        return -1;
    }
    for (size_t i = 0; i < p->nentries; i++)
        if (find_entry(next, nnext, p->entries[i].name) == NULL && p->entries[i].ref != NULL) {
            changed = true;
            nes_log(NES_LOG_INFO, "spec %s removed (its object is gone)", p->entries[i].name);
        }
    bool published;
    pthread_mutex_lock(&p->smu);
    published = p->st.published;
    pthread_mutex_unlock(&p->smu);
    size_t nspecs = 0;
    nes_spec_ref *refs[NES_S3SPECS_MAX];
    for (size_t i = 0; i < nnext; i++)
        if (next[i].ref != NULL)
            refs[nspecs++] = next[i].ref;
    if (changed || !published) {
        if (nes_state_publish_specs(refs, nspecs) == 0) {
            published = true;
        } else {
            failed++;
            count_error(p);
        }
    }
    free_entries(p->entries, p->nentries);
    p->entries = next;
    p->nentries = nnext;
    /* Forget the objects nothing used this time. */
    size_t k = 0;
    for (size_t i = 0; i < p->nobjs; i++) {
        if (p->objs[i].used && !p->objs[i].failed) {
            p->objs[k++] = p->objs[i];
        } else {
            free(p->objs[i].key);
            free(p->objs[i].data);
        }
    }
    p->nobjs = k;
    pthread_mutex_lock(&p->smu);
    p->st.refreshes++;
    p->st.specs = nspecs;
    p->st.published = published;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->smu);
    pthread_mutex_unlock(&p->mu);
    return failed;
}

/* ---- background thread -------------------------------------------------------------------- */

static void *run(void *arg)
{
    nes_s3specs *p = arg;
    for (;;) {
        nes_span sp; /* a background span; the S3 calls are its children (aws_log.h) */
        nes_trace_span_begin(&sp, "spec.refresh", NES_SPAN_INTERNAL, NULL, NULL);
        nes_trace_set_current(&sp);
        int failed = nes_s3specs_refresh(p);
        nes_trace_span_attr_int(&sp, "nes.specs.failed", failed);
        if (failed != 0)
            nes_trace_span_error(&sp);
        nes_trace_span_end(&sp);
        nes_trace_set_current(NULL);
        nes_state_reclaim();
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)p->refresh_secs;
        pthread_mutex_lock(&p->smu);
        while (!p->stop) {
            if (pthread_cond_timedwait(&p->cv, &p->smu, &until) == ETIMEDOUT)
                break;
        }
        bool stop = p->stop;
        pthread_mutex_unlock(&p->smu);
        if (stop)
            break;
    }
    nes_state_thread_done();
    return NULL;
}

int nes_s3specs_start(nes_s3specs *p)
{
    if (p->started)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&p->th, NULL, run, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    p->started = true;
    return 0;
}

bool nes_s3specs_wait_ready(nes_s3specs *p, unsigned timeout_ms)
{
    struct timespec until = nes_deadline_after(CLOCK_REALTIME, timeout_ms);
    pthread_mutex_lock(&p->smu);
    while (!p->st.published)
        if (pthread_cond_timedwait(&p->cv, &p->smu, &until) == ETIMEDOUT)
            break;
    bool ok = p->st.published;
    pthread_mutex_unlock(&p->smu);
    return ok;
}

void nes_s3specs_get_stats(nes_s3specs *p, nes_s3specs_stats *out)
{
    pthread_mutex_lock(&p->smu);
    *out = p->st;
    pthread_mutex_unlock(&p->smu);
}

void nes_s3specs_free(nes_s3specs *p)
{
    if (p == NULL)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->smu);
        p->stop = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->smu);
        pthread_join(p->th, NULL);
    }
    nes_aws_client_free(p->client);
    free_entries(p->entries, p->nentries);
    for (size_t i = 0; i < p->nobjs; i++) {
        free(p->objs[i].key);
        free(p->objs[i].data);
    }
    free(p->objs);
    free(p->bucket);
    free(p->prefix);
    nes_aws_config_clear(&p->aws);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->smu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
