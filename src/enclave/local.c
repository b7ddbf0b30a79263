/* local.c - key file and spec directory providers for --local-mode (see local.h). */
#include "enclave/local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/keyring.h"
#include "core/schema.h"
#include "enclave/metrics.h"
#include "enclave/state.h"
#include "enclave/tls.h"
#include "obs/log.h"
#include "obs/otel/trace.h"

#define MAX_SPECS 1024

typedef struct entry {
    char name[128];
    nes_file_stamp stamp;
    nes_spec_ref *ref;
} entry;

static entry *g_entries;
static size_t g_nentries;
static nes_file_stamp g_key_stamp;
static bool g_specs_published;
static nes_spec_limits g_spec_limits;

void nes_local_set_spec_limits(const nes_spec_limits *lim)
{
    g_spec_limits = *lim;
}

int nes_local_mkdirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int create_key_file(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (nes_local_mkdirs(dir) != 0)
            return -1;
    }
    uint8_t dek[NES_DEK_LEN];
    char line[NES_KEY_LINE_LEN + 2];
    if (nes_keygen(dek) != 0)
        return -1;
    nes_key_line(dek, line);
    explicit_bzero(dek, sizeof(dek));
    line[NES_KEY_LINE_LEN] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        explicit_bzero(line, sizeof(line));
        return errno == EEXIST ? 0 : -1;
    }
    static const char head[] = "# nitro-enc-svc DEVELOPMENT key (local mode). Never use it for "
                               "real data.\n";
    ssize_t a = write(fd, head, sizeof(head) - 1);
    ssize_t b = write(fd, line, NES_KEY_LINE_LEN + 1);
    explicit_bzero(line, sizeof(line));
    close(fd);
    if (a != (ssize_t)sizeof(head) - 1 || b != NES_KEY_LINE_LEN + 1)
        return -1;
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_WARN,
                      "DEVELOPMENT KEY CREATED: local mode generated a fresh data key; tokens "
                      "made with it are for development only and the key file is not protected "
                      "like a production DEK");
    nes_logline_str(&l, "key_file", path);
    nes_logline_emit(&l);
    return 0;
}

static int load_keys(const char *key_file, const nes_file_stamp *stp);

int nes_local_keys_refresh(const char *key_file, bool force)
{
    if (access(key_file, F_OK) != 0 && create_key_file(key_file) != 0) {
        nes_log(NES_LOG_ERROR, "cannot create the local key file %s", key_file);
        return -1;
    }
    nes_file_stamp st;
    nes_file_stamp_get(key_file, &st);
    if (!force && !nes_file_stamp_changed(&st, &g_key_stamp))
        return 0;
    nes_span sp; /* a background span: the key load and the log lines it writes */
    nes_trace_span_begin(&sp, "dek.refresh", NES_SPAN_INTERNAL, NULL, NULL);
    nes_trace_set_current(&sp);
    int rc = load_keys(key_file, &st);
    if (rc != 0)
        nes_trace_span_error(&sp);
    nes_trace_span_end(&sp);
    nes_trace_set_current(NULL);
    return rc;
}

static int load_keys(const char *key_file, const nes_file_stamp *stp)
{
    nes_file_stamp st = *stp;
    nes_keyring *kr = NULL;
    nes_err err;
    nes_err_clear(&err);
    if (nes_keyring_load_file(key_file, &kr, &err) != NES_OK) {
        nes_logline l;
        nes_logline_begin(&l, NES_LOG_ERROR, "key file not loaded; previous keys stay in use");
        nes_logline_str(&l, "key_file", key_file);
        nes_logline_str(&l, "reason", err.msg);
        nes_logline_emit(&l);
        return -1;
    }
    size_t n = nes_keyring_size(kr);
    if (nes_state_publish_keys(kr) != 0)
        return -1;
    g_key_stamp = st;
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_INFO, "keyring loaded");
    nes_logline_str(&l, "key_file", key_file);
    nes_logline_int(&l, "keys", (long long)n);
    nes_logline_emit(&l);
    return 0;
}

int nes_local_spec_name(const char *file, char *name, size_t name_len)
{
    static const char *const exts[] = {".yaml", ".yml", ".json"};
    size_t n = strlen(file);
    if (file[0] == '.')
        return 0;
    for (size_t i = 0; i < 3; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcmp(file + n - e, exts[i]) == 0) {
            if (n - e + 1 > name_len)
                return 0;
            memcpy(name, file, n - e);
            name[n - e] = '\0';
            return 1;
        }
    }
    return 0;
}

static entry *find_entry(const char *name)
{
    for (size_t i = 0; i < g_nentries; i++)
        if (strcmp(g_entries[i].name, name) == 0)
            return &g_entries[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_specs(const char *dir, bool force);

int nes_local_specs_refresh(const char *dir, bool force)
{
    nes_span sp; /* a background span: one pass over the spec directory */
    nes_trace_span_begin(&sp, "spec.refresh", NES_SPAN_INTERNAL, NULL, NULL);
    nes_trace_set_current(&sp);
    int failed = load_specs(dir, force);
    nes_trace_span_attr_int(&sp, "nes.specs.failed", failed);
    if (failed != 0)
        nes_trace_span_error(&sp);
    nes_trace_span_end(&sp);
    nes_trace_set_current(NULL);
    return failed;
}

static int load_specs(const char *dir, bool force)
{
    DIR *d = opendir(dir);
    int failed = 0;
    bool changed = false;
    entry *next = calloc(MAX_SPECS, sizeof(entry));
    size_t nnext = 0;
    char *files[MAX_SPECS];
    size_t nfiles = 0;
    if (next == NULL) {
        if (d != NULL)
            closedir(d);
        return 1;
    }
    if (d == NULL) {
        if (!g_specs_published || g_nentries > 0)
            nes_log(NES_LOG_WARN, "spec directory %s cannot be read: %s", dir, strerror(errno));
    } else {
        struct dirent *de;
        while ((de = readdir(d)) != NULL && nfiles < MAX_SPECS) {
            char name[128];
            if (nes_local_spec_name(de->d_name, name, sizeof(name)))
                files[nfiles++] = strdup(de->d_name);
        }
        closedir(d);
        qsort(files, nfiles, sizeof(files[0]), cmp_str); /* .json before .yaml: stable choice */
    }
    for (size_t i = 0; i < nfiles; i++) {
        if (files[i] == NULL)
            continue;
        char name[128], path[4096];
        nes_local_spec_name(files[i], name, sizeof(name));
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        bool dup = false;
        for (size_t j = 0; j < nnext; j++)
            dup = dup || strcmp(next[j].name, name) == 0;
        if (dup) {
            nes_log(NES_LOG_WARN, "spec %s: more than one file; using the first", name);
            continue;
        }
        entry *e = &next[nnext];
        snprintf(e->name, sizeof(e->name), "%s", name);
        nes_file_stamp_get(path, &e->stamp);
        entry *old = find_entry(name);
        if (old != NULL && !force && !nes_file_stamp_changed(&old->stamp, &e->stamp)) {
            nes_spec_ref_retain(old->ref);
            e->ref = old->ref;
            nnext++;
            continue;
        }
        nes_spec *spec = NULL;
        nes_err err;
        nes_err_clear(&err);
        if (nes_spec_load_file_limits(path, &g_spec_limits, &spec, &err) != NES_OK) {
            failed++;
            nes_logline l;
            nes_metrics_spec_refresh_error(name);
            nes_logline_begin(&l, NES_LOG_ERROR,
                              old ? "spec failed to load; its last good version stays"
                                  : "spec failed to load");
            nes_logline_str(&l, "spec", name);
            nes_logline_str(&l, "reason", err.msg);
            nes_logline_emit(&l);
            if (old != NULL) {
                nes_spec_ref_retain(old->ref);
                e->ref = old->ref;
                e->stamp = old->stamp;
                nnext++;
            }
            continue;
        }
        e->ref = nes_spec_ref_new(name, spec);
        if (e->ref == NULL) {
            failed++;
            continue;
        }
        changed = true;
        nnext++;
        nes_metrics_spec_register(name);
        nes_logline l;
        nes_logline_begin(&l, NES_LOG_INFO, "spec loaded");
        nes_logline_str(&l, "spec", name);
        nes_logline_emit(&l);
    }
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    if (nnext != g_nentries)
        changed = true;
    if (changed || !g_specs_published) {
        nes_spec_ref *refs[MAX_SPECS];
        for (size_t i = 0; i < nnext; i++)
            refs[i] = next[i].ref;
        if (nes_state_publish_specs(refs, nnext) == 0)
            g_specs_published = true;
    }
    for (size_t i = 0; i < g_nentries; i++)
        nes_spec_ref_release(g_entries[i].ref);
    free(g_entries);
    g_entries = next;
    g_nentries = nnext;
    return failed;
}

void nes_local_free(void)
{
    for (size_t i = 0; i < g_nentries; i++)
        nes_spec_ref_release(g_entries[i].ref);
    free(g_entries);
    g_entries = NULL;
    g_nentries = 0;
}
