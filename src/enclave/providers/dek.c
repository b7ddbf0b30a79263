/* dek.c - the attested DEK provider thread (see dek.h). */
#include "enclave/providers/dek.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "aws/kms.h"
#include "aws/secrets.h"
#include "core/cms_unwrap.h"
#include "core/keyring.h"
#include "core/secmem.h"
#include "enclave/providers/aws_log.h"
#include "enclave/providers/dek_rules.h"
#include "enclave/state.h"
#include "net/deadline.h"
#include "nsm/nsm.h"
#include "obs/log.h"

#define TEST_NSM_WARNING                                                                           \
    "TEST NSM: attestation documents are signed by a test CA, not by AWS; real KMS refuses them. " \
    "For tests only"
#define PLAINTEXT_WARNING                                                                          \
    "ALLOW_PLAINTEXT_DEK=1: a KMS answer with the DEK in Plaintext is accepted (emulators "        \
    "only); the parent instance can read such a key"

/* The secret versions of the last good fetch, to skip KMS when nothing changed. */
typedef struct seen {
    nes_buf current, previous; /* ciphertext blobs (not secret) */
} seen;

typedef struct provider {
    /* settings (owned copies) */
    char *secret_id, *kms_key_id, *context_json;
    unsigned keep_previous, rotation_secs, retry_max_secs;
    bool allow_plaintext;
    nes_aws_config aws;
    nes_aws_credsrc *creds;
    nes_nsm *nsm;
    /* thread */
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, wake, have_keys;
    /* the provider's own copy of the keyring in use (secure memory) and what produced it */
    nes_keyring *last;
    seen seen;
    /* counters for /metrics */
    _Atomic uint64_t refreshes, errors, keys;
    _Atomic int attested, plaintext_accepted;
} provider;

static provider g = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- one fetch ------------------------------------------------------------------------------ */

static void log_fail(const char *msg, const char *step, const char *reason)
{
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_ERROR, msg);
    nes_logline_str(&l, "step", step);
    nes_logline_str(&l, "reason", reason);
    nes_logline_emit(&l);
}

static void log_aws_fail(const char *step, const nes_aws_error *e)
{
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_ERROR, "DEK fetch failed; the last good keyring stays in use");
    nes_logline_str(&l, "step", step);
    nes_logline_str(&l, "error", nes_aws_errkind_name(e->kind));
    nes_logline_str(&l, "code", e->code);
    nes_logline_str(&l, "message", e->message);
    nes_logline_int(&l, "http_status", e->http_status);
    nes_logline_emit(&l);
}

/* The blob of the secret at `stage` into `blob`. 1 found, 0 not found (AWSPREVIOUS only), -1. */
static int get_blob(nes_aws_client *c, const char *stage, nes_buf *blob)
{
    nes_secret_value v;
    memset(&v, 0, sizeof(v));
    nes_aws_error e;
    int rc = -1;
    if (nes_sm_get_secret_value(c, g.secret_id, stage, &v, &e) != 0) {
        if (e.kind == NES_AWS_ERR_NOTFOUND && strcmp(stage, "AWSPREVIOUS") == 0)
            rc = 0;
        else
            log_aws_fail(strcmp(stage, "AWSCURRENT") == 0 ? "GetSecretValue AWSCURRENT"
                                                          : "GetSecretValue AWSPREVIOUS",
                         &e);
    } else {
        char why[256];
        if (nes_dek_secret_blob(v.value.data, v.value.len, !v.is_binary, blob, why, sizeof(why)) ==
            0)
            rc = 1;
        else
            log_fail("DEK fetch failed; the last good keyring stays in use", "secret value", why);
    }
    nes_secret_value_free(&v);
    return rc;
}

/* KMS Decrypt of `blob` with a fresh recipient and attestation; the DEK into `dek`. 0 or -1. */
static int unwrap(nes_aws_client *c, const nes_buf *blob, uint8_t dek[NES_DEK_LEN],
                  nes_dek_origin *origin)
{
    char why[300];
    nes_recipient *r = NULL;
    nes_buf doc = {0};
    uint8_t *pt = nes_secure_alloc(NES_KMS_MAX_PLAINTEXT);
    nes_kms_decrypted ans;
    memset(&ans, 0, sizeof(ans));
    ans.plaintext = pt;
    ans.plaintext_cap = pt ? NES_KMS_MAX_PLAINTEXT : 0;
    int rc = -1;
    nes_err err;
    nes_err_clear(&err);
    if (pt == NULL || nes_recipient_new(&r, &err) != NES_OK) {
        log_fail("DEK fetch failed; the last good keyring stays in use", "ephemeral key",
                 err.msg[0] ? err.msg : "out of memory");
        goto out;
    }
    size_t spki_len;
    const uint8_t *spki = nes_recipient_spki(r, &spki_len);
    if (nes_nsm_attest(g.nsm, (nes_nsm_bytes){spki, spki_len}, (nes_nsm_bytes){0},
                       (nes_nsm_bytes){0}, &doc, why, sizeof(why)) != 0) {
        log_fail("DEK fetch failed; the last good keyring stays in use", "attestation", why);
        goto out;
    }
    nes_kms_recipient rcp = {doc.data, doc.len};
    nes_aws_error e;
    if (nes_kms_decrypt(c, g.kms_key_id, blob->data, blob->len, g.context_json, &rcp, &ans, &e) !=
        0) {
        log_aws_fail("KMS Decrypt", &e);
        goto out;
    }
    const uint8_t *cfr = ans.for_recipient.len ? ans.for_recipient.data : NULL;
    if (nes_dek_from_answer(r, cfr, ans.for_recipient.len, ans.has_plaintext ? pt : NULL,
                            ans.plaintext_len, g.allow_plaintext, dek, origin, why,
                            sizeof(why)) != 0) {
        log_fail("DEK refused; the last good keyring stays in use", "KMS answer", why);
        goto out;
    }
    rc = 0;
out:
    nes_kms_decrypted_free(&ans); /* wipes pt */
    nes_secure_free(pt, NES_KMS_MAX_PLAINTEXT);
    nes_buf_free(&doc);
    nes_recipient_free(r);
    return rc;
}

static bool same(const nes_buf *a, const nes_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void copy_buf(nes_buf *dst, const nes_buf *src)
{
    dst->len = 0;
    if (src->len > 0)
        (void)nes_buf_append(dst, src->data, src->len);
}

/* The DEK of `blob` when the last good fetch already unwrapped it (a rotation moves AWSCURRENT to
 * AWSPREVIOUS: no second KMS call for it). */
static bool reuse(const nes_buf *blob, uint8_t dek[NES_DEK_LEN], nes_dek_origin *o)
{
    const uint8_t *k = NULL;
    if (g.last == NULL || blob->len == 0)
        return false;
    if (same(blob, &g.seen.current))
        k = nes_keyring_key(g.last, 0);
    else if (same(blob, &g.seen.previous) && !same(&g.seen.previous, &g.seen.current))
        k = nes_keyring_key(g.last, 1);
    if (k == NULL)
        return false;
    memcpy(dek, k, NES_DEK_LEN);
    *o = atomic_load(&g.attested) ? NES_DEK_ATTESTED : NES_DEK_PLAINTEXT;
    return true;
}

/* One fetch; publishes on success. 0, or -1 (logged). */
static int fetch(nes_aws_client *c)
{
    nes_buf cur = {0}, prev = {0};
    /* {current, previous} DEKs and the ring being built, in secure memory */
    size_t ring_bytes = (size_t)(2 + NES_KEYRING_MAX) * NES_DEK_LEN;
    uint8_t(*keys)[NES_DEK_LEN] = nes_secure_alloc(ring_bytes);
    int rc = -1;
    int have_prev = 0;
    if (keys == NULL) {
        log_fail("DEK fetch failed; the last good keyring stays in use", "memory",
                 "cannot allocate locked memory");
        goto out;
    }
    if (get_blob(c, "AWSCURRENT", &cur) != 1)
        goto out;
    if (g.keep_previous >= 1 && g.last != NULL && same(&cur, &g.seen.current)) {
        /* stages move together: AWSCURRENT unchanged means AWSPREVIOUS is too */
        copy_buf(&prev, &g.seen.previous);
        have_prev = prev.len > 0;
    } else if (g.keep_previous >= 1 && (have_prev = get_blob(c, "AWSPREVIOUS", &prev)) < 0) {
        goto out;
    }
    if (g.last != NULL && same(&cur, &g.seen.current) && same(&prev, &g.seen.previous)) {
        rc = 0; /* nothing changed: no KMS call, no new keyring */
        atomic_fetch_add(&g.refreshes, 1);
        goto out;
    }
    nes_dek_origin o1 = NES_DEK_ATTESTED, o2 = NES_DEK_ATTESTED;
    if (!reuse(&cur, keys[0], &o1) && unwrap(c, &cur, keys[0], &o1) != 0)
        goto out;
    if (have_prev == 1 && !same(&cur, &prev) && !reuse(&prev, keys[1], &o2) &&
        unwrap(c, &prev, keys[1], &o2) != 0)
        goto out;
    uint8_t(*ring)[NES_DEK_LEN] = keys + 2;
    size_t n = nes_dek_ring(keys[0], have_prev == 1 && !same(&cur, &prev) ? keys[1] : NULL, g.last,
                            g.keep_previous, ring);
    nes_keyring *pub = nes_keyring_new((const uint8_t(*)[NES_DEK_LEN])ring, n);
    nes_keyring *mine = nes_keyring_new((const uint8_t(*)[NES_DEK_LEN])ring, n);
    if (pub == NULL || mine == NULL || nes_state_publish_keys(pub) != 0) {
        nes_keyring_free(mine);
        log_fail("DEK fetch failed; the last good keyring stays in use", "publish",
                 "out of memory");
        goto out;
    }
    bool rotated = g.last != NULL;
    nes_keyring_free(g.last);
    g.last = mine;
    copy_buf(&g.seen.current, &cur);
    copy_buf(&g.seen.previous, &prev);
    bool attested = o1 == NES_DEK_ATTESTED && o2 == NES_DEK_ATTESTED;
    atomic_store(&g.attested, attested ? 1 : 0);
    atomic_store(&g.keys, n);
    atomic_fetch_add(&g.refreshes, 1);
    nes_logline l;
    nes_logline_begin(&l, attested ? NES_LOG_INFO : NES_LOG_WARN,
                      attested ? (rotated ? "DEK rotated" : "DEK loaded")
                               : "DEK loaded from a KMS Plaintext answer (ALLOW_PLAINTEXT_DEK=1)");
    nes_logline_int(&l, "keys", (long long)n);
    nes_logline_bool(&l, "attested", attested);
    nes_logline_str(&l, "nsm", nes_nsm_name(g.nsm));
    nes_logline_emit(&l);
    if (!attested)
        atomic_store(&g.plaintext_accepted, 1);
    rc = 0;
out:
    if (rc != 0)
        atomic_fetch_add(&g.errors, 1);
    nes_secure_free(keys, ring_bytes);
    nes_buf_free(&cur);
    nes_buf_free(&prev);
    return rc;
}

/* ---- the thread ----------------------------------------------------------------------------- */

static void *run(void *arg)
{
    (void)arg;
    nes_aws_client *c = nes_aws_client_new(&g.aws, g.creds);
    unsigned failures = 0;
    for (;;) {
        pthread_mutex_lock(&g.mu);
        bool stop = g.stop;
        g.wake = false;
        pthread_mutex_unlock(&g.mu);
        if (stop)
            break;
        int rc = c != NULL ? fetch(c) : -1;
        if (c == NULL) {
            atomic_fetch_add(&g.errors, 1);
            log_fail("DEK fetch failed", "AWS client", "libcurl could not be initialised");
        }
        failures = rc == 0 ? 0 : failures + 1;
        pthread_mutex_lock(&g.mu);
        if (rc == 0)
            g.have_keys = true;
        pthread_cond_broadcast(&g.cv);
        uint32_t rnd = 0;
        if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
            rnd = (uint32_t)time(NULL);
        uint64_t ms = nes_dek_delay_ms(failures, g.rotation_secs, g.retry_max_secs, rnd);
        struct timespec until = nes_deadline_after(CLOCK_MONOTONIC, ms);
        while (!g.stop && !g.wake)
            if (pthread_cond_timedwait(&g.cv, &g.mu, &until) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&g.mu);
    }
    nes_aws_client_free(c);
    nes_state_thread_done();
    return NULL;
}

static void warn(const char *msg, const char *key, const char *val)
{
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_WARN, msg);
    if (key != NULL)
        nes_logline_str(&l, key, val);
    nes_logline_emit(&l);
}

/* PCR0 in hex once read (the image measurement, for telemetry's resource attributes). */
static char g_pcr0[2 * NES_NSM_MAX_PCR + 1];

/* PCR0..2 (image, kernel, application) in the log: what a KMS key policy's PCR conditions name. */
static void log_pcrs(void)
{
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_INFO, "NSM measurements");
    nes_logline_str(&l, "nsm", nes_nsm_name(g.nsm));
    for (unsigned i = 0; i <= 2; i++) {
        uint8_t pcr[NES_NSM_MAX_PCR];
        size_t len = 0;
        bool locked = false;
        char why[200], hex[2 * NES_NSM_MAX_PCR + 1], key[8];
        snprintf(key, sizeof(key), "pcr%u", i);
        if (nes_nsm_describe_pcr(g.nsm, i, pcr, &len, &locked, why, sizeof(why)) != 0) {
            nes_logline_str(&l, key, why);
            continue;
        }
        for (size_t k = 0; k < len; k++)
            snprintf(hex + 2 * k, 3, "%02x", pcr[k]);
        hex[2 * len] = '\0';
        nes_logline_str(&l, key, hex);
        if (i == 0)
            memcpy(g_pcr0, hex, 2 * len + 1);
    }
    nes_logline_emit(&l);
}

int nes_dek_start(const nes_dek_settings *s, char *why, size_t why_len)
{
    g.stop = g.wake = g.have_keys = false;
    atomic_store(&g.refreshes, 0);
    atomic_store(&g.errors, 0);
    atomic_store(&g.keys, 0);
    atomic_store(&g.attested, 0);
    atomic_store(&g.plaintext_accepted, 0);
    g.nsm = nes_nsm_open(s->nsm_device, why, why_len);
    if (g.nsm == NULL)
        return -1;
    g.secret_id = strdup(s->secret_id);
    g.kms_key_id = strdup(s->kms_key_id);
    g.context_json = s->context_json ? strdup(s->context_json) : NULL;
    g.keep_previous =
        s->keep_previous > NES_KEYRING_MAX - 1 ? NES_KEYRING_MAX - 1 : s->keep_previous;
    g.rotation_secs = s->rotation_secs;
    g.retry_max_secs = s->retry_max_secs;
    g.allow_plaintext = s->allow_plaintext;
    g.aws = *s->aws;
    g.aws.log = nes_aws_log_to_service;
    g.aws.log_ud = NULL;
    g.creds = s->creds;
    if (nes_nsm_is_test(g.nsm))
        warn(TEST_NSM_WARNING, "nsm", nes_nsm_name(g.nsm));
    if (g.allow_plaintext)
        warn(PLAINTEXT_WARNING, NULL, NULL);
    log_pcrs();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g.cv, &ca);
    pthread_condattr_destroy(&ca);
    if (g.secret_id == NULL || g.kms_key_id == NULL ||
        (s->context_json != NULL && g.context_json == NULL) ||
        pthread_create(&g.thread, NULL, run, NULL) != 0) {
        nes_msgf(why, why_len, "cannot start the DEK provider");
        nes_dek_stop();
        return -1;
    }
    g.running = true;
    return 0;
}

void nes_dek_refresh_soon(void)
{
    pthread_mutex_lock(&g.mu);
    g.wake = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

bool nes_dek_wait_first(long timeout_ms)
{
    struct timespec until =
        nes_deadline_after(CLOCK_MONOTONIC, timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
    pthread_mutex_lock(&g.mu);
    while (!g.have_keys && g.running)
        if (pthread_cond_timedwait(&g.cv, &g.mu, &until) == ETIMEDOUT)
            break;
    bool have = g.have_keys;
    pthread_mutex_unlock(&g.mu);
    return have;
}

void nes_dek_stop(void)
{
    if (g.running) {
        pthread_mutex_lock(&g.mu);
        g.stop = true;
        pthread_cond_broadcast(&g.cv);
        pthread_mutex_unlock(&g.mu);
        pthread_join(g.thread, NULL);
        g.running = false;
        pthread_cond_destroy(&g.cv);
    }
    nes_nsm_close(g.nsm);
    g.nsm = NULL;
    nes_keyring_free(g.last);
    g.last = NULL;
    nes_buf_free(&g.seen.current);
    nes_buf_free(&g.seen.previous);
    free(g.secret_id);
    free(g.kms_key_id);
    free(g.context_json);
    g.secret_id = g.kms_key_id = g.context_json = NULL;
}

void nes_dek_fill_gauges(nes_metrics_gauges *m)
{
    if (g.nsm == NULL)
        return;
    m->dek_provider = 1;
    m->dek_refreshes = atomic_load(&g.refreshes);
    m->dek_refresh_errors = atomic_load(&g.errors);
    m->dek_keys = atomic_load(&g.keys);
    m->dek_attested = atomic_load(&g.attested);
    m->nsm_test = nes_nsm_is_test(g.nsm) ? 1 : 0;
}

const char *nes_dek_pcr0(void)
{
    return g_pcr0[0] != '\0' ? g_pcr0 : NULL;
}

const char *nes_dek_warning(void)
{
    bool test = g.nsm != NULL && nes_nsm_is_test(g.nsm);
    bool plain = atomic_load(&g.plaintext_accepted) != 0;
    if (test && plain)
        return TEST_NSM_WARNING "; " PLAINTEXT_WARNING;
    return test ? TEST_NSM_WARNING : plain ? PLAINTEXT_WARNING : NULL;
}
