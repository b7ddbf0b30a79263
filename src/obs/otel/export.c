/* export.c - the OTLP/HTTP exporter thread, its queues and configuration (see export.h). */
#include "obs/otel/export.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/http.h"
#include "core/hex.h"
#include "net/deadline.h"
#include "net/loop.h"
#include "obs/log.h"
#include "obs/otel/queue.h"
#include "obs/otel/spanrec.h"
#include "obs/otel/trace.h"

enum { SIG_TRACES = 0, SIG_METRICS = 1, SIG_LOGS = 2 };
static const char *const signal_path[3] = {"/v1/traces", "/v1/metrics", "/v1/logs"};

/* ---- configuration ------------------------------------------------------------------------ */

/* "VAR: problem" (or the problem alone when var is NULL). */
static int fail(char *why, size_t len, const char *var, const char *problem)
{
    if (var != NULL)
        snprintf(why, len, "%s: %s", var, problem);
    else
        snprintf(why, len, "%s", problem);
    return -1;
}

static int parse_ms(const char *v, unsigned *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 0 || n > 86400000L)
        return -1;
    *out = (unsigned)n;
    return 0;
}

static int parse_size(const char *v, size_t *out, size_t max)
{
    unsigned n;
    if (parse_ms(v, &n) != 0 || n == 0 || n > max)
        return -1;
    *out = n;
    return 0;
}

/* %-decodes in place (W3C Baggage octets, as OTEL_*_HEADERS and attributes use). */
static void pct_decode(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        int hi = r[0] == '%' && r[1] ? nes_hexval(r[1]) : -1;
        int lo = hi >= 0 && r[2] ? nes_hexval(r[2]) : -1;
        if (lo >= 0) {
            *w++ = (char)(unsigned char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static void trim(char **s)
{
    while (**s == ' ' || **s == '\t')
        (*s)++;
    size_t n = strlen(*s);
    while (n > 0 && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\t'))
        (*s)[--n] = '\0';
}

/* Calls `fn` for each k=v of a comma list; -1 when one is malformed or fn refuses. */
static int each_pair(const char *list, int (*fn)(void *, const char *, const char *), void *ud)
{
    char buf[4096];
    if (strlen(list) >= sizeof(buf))
        return -1;
    snprintf(buf, sizeof(buf), "%s", list);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL)
            return -1;
        *eq = '\0';
        char *k = item, *v = eq + 1;
        trim(&k);
        trim(&v);
        pct_decode(k);
        pct_decode(v);
        if (*k == '\0' || fn(ud, k, v) != 0)
            return -1;
    }
    return 0;
}

int nes_otel_config_set_attr(nes_otel_config *cfg, const char *key, const char *value)
{
    size_t i = 0;
    while (i < cfg->nattrs && strcmp(cfg->attrs[i].key, key) != 0)
        i++;
    if (i == NES_OTEL_MAX_ATTRS || strlen(key) >= sizeof(cfg->attrs[i].key) ||
        strlen(value) >= sizeof(cfg->attrs[i].value))
        return -1;
    snprintf(cfg->attrs[i].key, sizeof(cfg->attrs[i].key), "%s", key);
    snprintf(cfg->attrs[i].value, sizeof(cfg->attrs[i].value), "%s", value);
    if (i == cfg->nattrs)
        cfg->nattrs++;
    return 0;
}

static int add_attr(void *ud, const char *k, const char *v)
{
    return nes_otel_config_set_attr(ud, k, v);
}

static int add_header(void *ud, const char *k, const char *v)
{
    nes_otel_config *cfg = ud;
    for (const char *p = k; *p; p++) /* a token: no separators, no control characters */
        if (*p <= ' ' || *p == ':' || *p >= 127)
            return -1;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 127)
            return -1;
    size_t used = strlen(cfg->headers);
    int n = snprintf(cfg->headers + used, sizeof(cfg->headers) - used, "%s: %s\n", k, v);
    return n < 0 || (size_t)n >= sizeof(cfg->headers) - used ? -1 : 0;
}

static int url_ok(const char *u)
{
    return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

int nes_otel_config_load(nes_otel_config *cfg, const char *service, nes_otel_lookup_fn lookup,
                         void *ud, char *why, size_t why_len)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_ms = 10000;
    cfg->bsp_delay_ms = 5000;
    cfg->metric_interval_ms = 60000;
    cfg->max_queue = 2048;
    cfg->max_batch = 512;
    cfg->ratio = 1.0;
    const char *v;
#define GET(name) ((v = lookup(ud, name)) != NULL && *v != '\0')
    static const char *const per_signal[3] = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                              "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                                              "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"};
    if (GET("OTEL_EXPORTER_OTLP_ENDPOINT")) {
        if (!url_ok(v) || strlen(v) > 900)
            return fail(why, why_len, "OTEL_EXPORTER_OTLP_ENDPOINT",
                        "must be an http:// or https:// URL");
        size_t n = strlen(v);
        while (n > 0 && v[n - 1] == '/')
            n--;
        for (int i = 0; i < 3; i++)
            snprintf(cfg->url[i], sizeof(cfg->url[i]), "%.*s%s", (int)n, v, signal_path[i]);
    }
    for (int i = 0; i < 3; i++) {
        if (GET(per_signal[i])) {
            if (!url_ok(v) || strlen(v) >= sizeof(cfg->url[i]))
                return fail(why, why_len, per_signal[i], "must be an http:// or https:// URL");
            snprintf(cfg->url[i], sizeof(cfg->url[i]), "%s", v);
        }
        if (cfg->url[i][0] != '\0')
            cfg->enabled = true;
    }
    if (GET("OTEL_EXPORTER_OTLP_CERTIFICATE") &&
        (size_t)snprintf(cfg->ca_file, sizeof(cfg->ca_file), "%s", v) >= sizeof(cfg->ca_file))
        return fail(why, why_len, "OTEL_EXPORTER_OTLP_CERTIFICATE", "path too long");
    if (GET("OTEL_EXPORTER_OTLP_PROTOCOL") && strcmp(v, "http/json") != 0 &&
        strcmp(v, "http/protobuf") != 0)
        return fail(why, why_len, "OTEL_EXPORTER_OTLP_PROTOCOL",
                    "only OTLP/HTTP is exported (http/protobuf or http/json)");
    if (GET("OTEL_SDK_DISABLED") && strcasecmp(v, "true") == 0)
        cfg->enabled = false;
    if (GET("OTEL_EXPORTER_OTLP_HEADERS") && each_pair(v, add_header, cfg) != 0)
        return fail(why, why_len, "OTEL_EXPORTER_OTLP_HEADERS",
                    "expected name=value,name=value (header names and values)");
    if (GET("OTEL_EXPORTER_OTLP_TIMEOUT") &&
        (parse_ms(v, &cfg->timeout_ms) != 0 || cfg->timeout_ms == 0))
        return fail(why, why_len, "OTEL_EXPORTER_OTLP_TIMEOUT",
                    "expected milliseconds (1 to 86400000)");
    if (GET("OTEL_BSP_SCHEDULE_DELAY") && parse_ms(v, &cfg->bsp_delay_ms) != 0)
        return fail(why, why_len, "OTEL_BSP_SCHEDULE_DELAY", "expected milliseconds");
    if (GET("OTEL_METRIC_EXPORT_INTERVAL") &&
        (parse_ms(v, &cfg->metric_interval_ms) != 0 || cfg->metric_interval_ms == 0))
        return fail(why, why_len, "OTEL_METRIC_EXPORT_INTERVAL", "expected milliseconds");
    if (GET("OTEL_BSP_MAX_QUEUE_SIZE") && parse_size(v, &cfg->max_queue, 1u << 20) != 0)
        return fail(why, why_len, "OTEL_BSP_MAX_QUEUE_SIZE", "expected 1 to 1048576");
    if (GET("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") && parse_size(v, &cfg->max_batch, 1u << 16) != 0)
        return fail(why, why_len, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "expected 1 to 65536");
    if (cfg->max_batch > cfg->max_queue)
        cfg->max_batch = cfg->max_queue;
    if (GET("OTEL_TRACES_SAMPLER")) {
        if (strcmp(v, "always_off") == 0 || strcmp(v, "parentbased_always_off") == 0)
            cfg->ratio = 0;
        else if (strcmp(v, "always_on") != 0 && strcmp(v, "parentbased_always_on") != 0 &&
                 strcmp(v, "traceidratio") != 0 && strcmp(v, "parentbased_traceidratio") != 0)
            return fail(why, why_len, "OTEL_TRACES_SAMPLER",
                        "unknown sampler (parentbased_traceidratio, parentbased_always_on, "
                        "parentbased_always_off)");
    }
    if (GET("OTEL_TRACES_SAMPLER_ARG")) {
        char *end;
        double r = strtod(v, &end);
        if (end == v || *end != '\0' || !(r >= 0 && r <= 1))
            return fail(why, why_len, "OTEL_TRACES_SAMPLER_ARG", "expected a ratio from 0 to 1");
        const char *smp = lookup(ud, "OTEL_TRACES_SAMPLER");
        if (smp == NULL || strstr(smp, "traceidratio") != NULL)
            cfg->ratio = r;
    }
    if (nes_otel_config_set_attr(cfg, "service.name", service) != 0)
        return fail(why, why_len, NULL, "service name too long");
    if (GET("OTEL_RESOURCE_ATTRIBUTES") && each_pair(v, add_attr, cfg) != 0)
        return fail(why, why_len, "OTEL_RESOURCE_ATTRIBUTES",
                    "expected key=value,key=value (at most 24, short values)");
    if (GET("OTEL_SERVICE_NAME") && nes_otel_config_set_attr(cfg, "service.name", v) != 0)
        return fail(why, why_len, "OTEL_SERVICE_NAME", "too long");
#undef GET
    return 0;
}

/* ---- the exporter ------------------------------------------------------------------------- */

/* A signal's queue, in shards: each producing thread starts at its own shard (round robin by
 * first use), so two request threads do not contend for one ring's head; a thread whose shard is
 * full tries the others, so the whole capacity serves any number of threads. The exporter drains
 * them all. The capacity is OTEL_BSP_MAX_QUEUE_SIZE items at `item_bytes` each (SPAN_BYTES,
 * LOG_BYTES), split between the shards; a capacity too small for two of the largest records a
 * shard is one shard (of at least one largest record). */
#define NSHARD 4
/* Ring bytes per configured item: a request's span record takes ~330 bytes for its four spans
 * (~82 a span), its access line's log record ~240 (40 bytes and the line). */
#define SPAN_BYTES 96u
#define LOG_BYTES 256u
typedef struct qset {
    nes_otq *q[NSHARD];
    int n; /* shards */
    size_t item_bytes;
    _Atomic uint64_t dropped; /* items refused: spans, or log records */
} qset;

static _Atomic unsigned g_next_shard;
static _Thread_local int t_shard = -1;

/* Room for a record of n bytes in the caller's shard or, when full, another (*q: which). NULL
 * when every shard is full: the caller counts the drop. */
static void *qset_reserve(qset *qs, size_t n, nes_otq **q)
{
    if (t_shard < 0)
        t_shard = (int)(atomic_fetch_add(&g_next_shard, 1) % NSHARD);
    for (int k = 0; k < qs->n; k++) {
        *q = qs->q[(t_shard + k) % qs->n];
        void *p = nes_otq_reserve(*q, n);
        if (p != NULL)
            return p;
    }
    return NULL;
}

static void qset_free(qset *qs)
{
    if (qs == NULL)
        return;
    for (int i = 0; i < qs->n; i++)
        nes_otq_free(qs->q[i]);
    free(qs);
}

static qset *qset_new(size_t items, size_t item_bytes, size_t max_record)
{
    qset *qs = calloc(1, sizeof(*qs));
    if (qs == NULL)
        return NULL;
    qs->item_bytes = item_bytes;
    size_t total = items * item_bytes;
    qs->n = total / NSHARD >= 2 * nes_otq_record_size(max_record) ? NSHARD : 1;
    size_t each = (total + (size_t)qs->n - 1) / (size_t)qs->n;
    for (int i = 0; i < qs->n; i++) {
        qs->q[i] = nes_otq_new(each, max_record);
        if (qs->q[i] == NULL) {
            qset_free(qs);
            return NULL;
        }
    }
    return qs;
}

static uint64_t qset_dropped(const qset *qs)
{
    return qs != NULL ? atomic_load_explicit(&qs->dropped, memory_order_relaxed) : 0;
}

typedef struct exporter {
    nes_otel_config cfg;
    nes_aws_config egress;
    bool has_egress;
    nes_otel_metrics_fn metrics;
    void *metrics_ud;
    qset *spans, *logs;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    _Atomic bool stopping; /* stop asked: the thread sends no further batch of a backlog */
    bool final;            /* the last flush, after the thread ended: it sends them all */
    uint64_t start_ns;
    CURL *curl;
    nes_buf body;               /* the body being sent */
    struct curl_slist *hdrs[2]; /* protobuf (traces, logs), JSON (metrics) */
    _Atomic uint64_t failures;
    _Atomic uint64_t exported[3];
} exporter;

static _Atomic(exporter *) g_exp;
static _Atomic bool g_running;

/* A span record (spanrec.h: a request's spans, or one span) copied into the queue as it is. */
static void span_sink(const void *rec, size_t len, unsigned nspans)
{
    exporter *e = g_exp;
    if (e == NULL)
        return;
    nes_otq *q;
    void *p = qset_reserve(e->spans, len, &q);
    if (p == NULL) {
        atomic_fetch_add_explicit(&e->spans->dropped, nspans, memory_order_relaxed);
        return;
    }
    memcpy(p, rec, len);
    nes_otq_commit(q, p);
}

/* A log record written in place, its line's bytes only, at the line's own time. */
static void log_tap(const char *line, size_t len, uint64_t time_ns)
{
    exporter *e = g_exp;
    if (e == NULL || e->logs == NULL)
        return;
    if (len > NES_LOGLINE_MAX)
        len = NES_LOGLINE_MAX;
    nes_otq *q;
    nes_otlp_log *r = qset_reserve(e->logs, offsetof(nes_otlp_log, line) + len, &q);
    if (r == NULL) {
        atomic_fetch_add_explicit(&e->logs->dropped, 1, memory_order_relaxed);
        return;
    }
    r->time_ns = time_ns;
    const nes_span *cur = nes_trace_current();
    r->has_span = cur != NULL;
    if (cur != NULL) {
        memcpy(r->trace_id, cur->trace_id, 16);
        memcpy(r->span_id, cur->span_id, 8);
    }
    r->len = (uint16_t)len;
    memcpy(r->line, line, len);
    r->severity = nes_otlp_severity_of(line, len);
    nes_otq_commit(q, r);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* One POST; true when the receiver answered 2xx. */
static bool post(exporter *e, int sig, const uint8_t *body, size_t len)
{
    CURL *h = e->curl;
    curl_easy_setopt(h, CURLOPT_URL, e->cfg.url[sig]);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, e->hdrs[sig == SIG_METRICS]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    bool ok = rc == CURLE_OK && status >= 200 && status < 300;
    if (!ok)
        atomic_fetch_add(&e->failures, 1);
    return ok;
}

static void export_queue(exporter *e, int sig, qset *qs)
{
    if (qs == NULL || e->cfg.url[sig][0] == '\0')
        return;
    nes_otlp_resource res = {.attrs = e->cfg.attrs, .nattrs = e->cfg.nattrs};
    for (;;) {
        nes_buf *b = &e->body; /* kept from batch to batch: no allocation once grown */
        b->len = 0;
        nes_otlp_batch batch;
        nes_otlp_batch_begin(&batch, b, &res);
        size_t n = 0, len;
        const void *item;
        nes_spanrec_span sp;
        /* encoded from where the producers put them, shard after shard (a span record expands
         * into its spans); a batch may pass max_batch by a record's spans less one */
        for (int i = 0; i < qs->n; i++) {
            while (n < e->cfg.max_batch && (item = nes_otq_peek(qs->q[i], &len)) != NULL) {
                if (sig == SIG_TRACES) {
                    size_t off = NES_SPANREC_HEAD;
                    while (nes_spanrec_next(item, len, &off, &sp)) {
                        nes_otlp_add_span(&batch, &sp);
                        n++;
                    }
                } else {
                    nes_otlp_add_log(&batch, item);
                    n++;
                }
                nes_otq_release(qs->q[i]);
            }
        }
        if (n == 0)
            break;
        bool sent =
            nes_otlp_end(&batch) == 0 && post(e, sig, b->data + batch.start, b->len - batch.start);
        if (sent)
            atomic_fetch_add(&e->exported[sig], n);
        /* a failed batch is lost (counted); the rest waits for the next period, so a receiver
         * that is down costs one timeout per period, also at shutdown */
        if (!sent || n < e->cfg.max_batch ||
            (atomic_load_explicit(&e->stopping, memory_order_relaxed) && !e->final))
            break;
    }
}

static void export_metrics(exporter *e)
{
    if (e->cfg.url[SIG_METRICS][0] == '\0' || e->metrics == NULL)
        return;
    nes_otlp_resource res = {.attrs = e->cfg.attrs, .nattrs = e->cfg.nattrs};
    nes_buf b = {0};
    b.max = (size_t)16 << 20;
    if (e->metrics(e->metrics_ud, &b, &res, e->start_ns, nes_trace_now_ns()) == 0 &&
        nes_buf_append(&b, "", 1) == 0) {
        b.len--;
        if (post(e, SIG_METRICS, b.data, b.len))
            atomic_fetch_add(&e->exported[SIG_METRICS], 1);
    }
    nes_buf_free(&b);
}

/* The exporter's clock: the event loop's monotonic milliseconds. */
static uint64_t mono_ms(void)
{
    return (uint64_t)nes_mono_ms();
}

/* True when a queue holds about a full batch (in bytes, at its bytes per item), or a shard is
 * half full: exported before its period ends, so a busy service fills batches instead of
 * dropping (the thread looks every POLL_MS, never woken by a producer). */
#define POLL_MS 50u
static bool backlog(const exporter *e, const qset *qs)
{
    if (qs == NULL)
        return false;
    size_t n = 0;
    for (int i = 0; i < qs->n; i++) {
        size_t k = nes_otq_used(qs->q[i]);
        if (k >= nes_otq_size(qs->q[i]) / 2)
            return true;
        n += k;
    }
    return n >= e->cfg.max_batch * qs->item_bytes;
}

static void *run(void *arg)
{
    exporter *e = arg;
    pthread_setname_np(pthread_self(), "nes-otel"); /* per-thread CPU in /proc shows its name */
    uint64_t next_batch = mono_ms() + e->cfg.bsp_delay_ms;
    uint64_t next_metrics = mono_ms() + e->cfg.metric_interval_ms;
    bool hold = false; /* an early export failed: wait for the period (a receiver that is down
                        * or refusing costs one attempt per period, as without a backlog) */
    pthread_mutex_lock(&e->mu);
    while (!e->stop) {
        uint64_t now = mono_ms();
        uint64_t next = next_batch < next_metrics ? next_batch : next_metrics;
        bool early = !hold && (backlog(e, e->spans) || backlog(e, e->logs));
        if (now < next && !early) {
            uint64_t wait = next - now < POLL_MS ? next - now : POLL_MS;
            struct timespec ts = nes_deadline_after(CLOCK_MONOTONIC, wait);
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&e->mu);
        if (now >= next_batch || early) {
            uint64_t failed = atomic_load(&e->failures);
            export_queue(e, SIG_TRACES, e->spans);
            export_queue(e, SIG_LOGS, e->logs);
            hold = atomic_load(&e->failures) != failed;
            if (now >= next_batch)
                next_batch = mono_ms() + (e->cfg.bsp_delay_ms ? e->cfg.bsp_delay_ms : 1);
        }
        if (now >= next_metrics) {
            export_metrics(e);
            next_metrics = mono_ms() + e->cfg.metric_interval_ms;
        }
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

static void free_exporter(exporter *e)
{
    if (e == NULL)
        return;
    qset_free(e->spans);
    qset_free(e->logs);
    nes_buf_free(&e->body);
    curl_slist_free_all(e->hdrs[0]);
    curl_slist_free_all(e->hdrs[1]);
    if (e->curl != NULL)
        curl_easy_cleanup(e->curl);
    nes_aws_config_clear(&e->egress);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}

int nes_otel_start(const nes_otel_config *cfg, const nes_aws_config *egress,
                   nes_otel_metrics_fn metrics, void *ud, char *why, size_t why_len)
{
    if (!cfg->enabled || g_exp != NULL)
        return 0;
    exporter *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return fail(why, why_len, NULL, "out of memory");
    e->cfg = *cfg;
    pthread_mutex_init(&e->mu, NULL);
    pthread_condattr_t ca; /* the waits below are on CLOCK_MONOTONIC deadlines */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    e->metrics = metrics;
    e->metrics_ud = ud;
    e->start_ns = nes_trace_now_ns();
    if (cfg->url[SIG_TRACES][0] != '\0')
        e->spans = qset_new(cfg->max_queue, SPAN_BYTES, NES_SPANREC_MAX);
    if (cfg->url[SIG_LOGS][0] != '\0')
        e->logs = qset_new(cfg->max_queue, LOG_BYTES, sizeof(nes_otlp_log));
    e->curl = curl_easy_init();
    if ((cfg->url[SIG_TRACES][0] != '\0' && e->spans == NULL) ||
        (cfg->url[SIG_LOGS][0] != '\0' && e->logs == NULL) || e->curl == NULL) {
        free_exporter(e);
        return fail(why, why_len, NULL, "OTLP exporter: out of memory");
    }
    CURL *h = e->curl;
    if (egress != NULL) {
        e->egress = *egress;
        memset(&e->egress.creds, 0, sizeof(e->egress.creds)); /* not needed here */
        e->has_egress = true;
        nes_aws_curl_egress(h, &e->egress);
    } else {
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    }
    if (cfg->ca_file[0] != '\0')
        curl_easy_setopt(h, CURLOPT_CAINFO, e->cfg.ca_file);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    /* a batch's body goes out in a few large sends instead of 64 KiB pieces with a poll each */
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "nitro-enc-svc/" NES_VERSION);
    static const char *const ctype[2] = {"Content-Type: application/x-protobuf",
                                         "Content-Type: application/json"};
    for (int k = 0; k < 2; k++) {
        e->hdrs[k] = curl_slist_append(NULL, ctype[k]);
        struct curl_slist *x = /* no "Expect: 100-continue" wait before a body over 1 MiB */
            e->hdrs[k] != NULL ? curl_slist_append(e->hdrs[k], "Expect:") : NULL;
        if (x != NULL)
            e->hdrs[k] = x;
        char line[2048];
        const char *p = cfg->headers;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            snprintf(line, sizeof(line), "%.*s", (int)n, p);
            struct curl_slist *t = curl_slist_append(e->hdrs[k], line);
            if (t != NULL)
                e->hdrs[k] = t;
            p += n + (nl ? 1 : 0);
        }
    }
    if (e->hdrs[0] == NULL || e->hdrs[1] == NULL) {
        free_exporter(e);
        return fail(why, why_len, NULL, "OTLP exporter: out of memory");
    }
    nes_trace_set_ratio(cfg->ratio);
    g_exp = e;
    if (pthread_create(&e->thread, NULL, run, e) != 0) {
        g_exp = NULL;
        free_exporter(e);
        return fail(why, why_len, NULL, "OTLP exporter: cannot start its thread");
    }
    if (e->spans != NULL)
        nes_trace_set_sink(span_sink);
    if (e->logs != NULL)
        nes_log_set_tap(log_tap);
    atomic_store(&g_running, true);
    return 0;
}

bool nes_otel_running(void)
{
    return atomic_load(&g_running);
}

void nes_otel_stop(void)
{
    exporter *e = g_exp;
    if (e == NULL)
        return;
    nes_trace_set_sink(NULL);
    nes_log_set_tap(NULL);
    atomic_store(&e->stopping, true);
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    e->final = true;
    /* the last flush: one request per signal, at most a second each, so a slow collector
     * cannot hold the shutdown */
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS,
                     (long)(e->cfg.timeout_ms < 1000 ? e->cfg.timeout_ms : 1000));
    export_queue(e, SIG_TRACES, e->spans);
    export_queue(e, SIG_LOGS, e->logs);
    export_metrics(e);
    atomic_store(&g_running, false);
    g_exp = NULL;
    free_exporter(e);
}

void nes_otel_counters(nes_otel_stats *s)
{
    memset(s, 0, sizeof(*s));
    exporter *e = g_exp;
    if (e == NULL)
        return;
    s->spans_dropped = qset_dropped(e->spans);
    s->logs_dropped = qset_dropped(e->logs);
    s->export_failures = atomic_load(&e->failures);
    for (int i = 0; i < 3; i++)
        s->exported[i] = atomic_load(&e->exported[i]);
}
