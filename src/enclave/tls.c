/* tls.c - credential sets, reload, PKCS#11, self-signed dev certificates, client checks. */
#include "enclave/tls.h"

#include <gnutls/crypto.h>
#include <gnutls/pkcs11.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fileio.h"

#define MAX_CHAIN 16
#define MAX_KEY_HANDLES 64

struct nes_creds {
    _Atomic long refs;
    gnutls_pcert_st certs[MAX_CHAIN];
    unsigned ncerts;
    gnutls_privkey_t keys[MAX_KEY_HANDLES];
    unsigned nkeys;
    char desc[256];
};

typedef struct deferred {
    nes_creds *c;
    struct deferred *next;
} deferred;

static _Atomic(nes_creds *) g_cur;
static _Atomic long g_readers;
static pthread_mutex_t g_defer_lock = PTHREAD_MUTEX_INITIALIZER;
static deferred *g_deferred;
static unsigned g_key_handles = 1;
static char *g_pin;
static gnutls_datum_t g_ticket;
static _Atomic unsigned g_thread_seq;
static _Thread_local int t_key_index = -1;

static int pin_cb(void *ud, int attempt, const char *token_url, const char *token_label,
                  unsigned flags, char *pin, size_t pin_max)
{
    (void)ud;
    (void)token_url;
    (void)token_label;
    (void)flags;
    /* One try only: a wrong PIN must not walk the token towards lock-out. */
    if (g_pin == NULL || attempt > 0 || strlen(g_pin) + 1 > pin_max)
        return -1;
    memcpy(pin, g_pin, strlen(g_pin) + 1);
    return 0;
}

static char *read_pin_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return NULL;
    char line[256];
    char *r = fgets(line, sizeof(line), f) ? strdup(line) : NULL;
    fclose(f);
    explicit_bzero(line, sizeof(line));
    if (r != NULL)
        r[strcspn(r, "\r\n")] = '\0';
    return r;
}

int nes_tls_init(const char *pkcs11_module, const char *pin, const char *pin_file,
                 unsigned key_handles, char *why, size_t why_len)
{
    int rc = gnutls_global_init();
    if (rc < 0) {
        nes_msgf(why, why_len, "gnutls init: %s", gnutls_strerror(rc));
        return -1;
    }
    g_key_handles =
        key_handles == 0 ? 1 : (key_handles > MAX_KEY_HANDLES ? MAX_KEY_HANDLES : key_handles);
    if (pin != NULL)
        g_pin = strdup(pin);
    else if (pin_file != NULL && (g_pin = read_pin_file(pin_file)) == NULL) {
        nes_msgf(why, why_len, "PKCS11_PIN_FILE: cannot read it");
        return -1;
    }
    if (pkcs11_module != NULL) {
        rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL);
        if (rc >= 0)
            rc = gnutls_pkcs11_add_provider(pkcs11_module, NULL);
        if (rc < 0) {
            nes_msgf(why, why_len, "PKCS11_MODULE %s: %s", pkcs11_module, gnutls_strerror(rc));
            return -1;
        }
    }
    gnutls_pkcs11_set_pin_function(pin_cb, NULL);
    return 0;
}

void nes_tls_deinit(void)
{
    if (g_pin != NULL) {
        explicit_bzero(g_pin, strlen(g_pin));
        free(g_pin);
        g_pin = NULL;
    }
    if (g_ticket.data != NULL) {
        gnutls_memset(g_ticket.data, 0, g_ticket.size);
        gnutls_free(g_ticket.data);
        g_ticket.data = NULL;
    }
    gnutls_global_deinit();
}

static void creds_free(nes_creds *c)
{
    for (unsigned i = 0; i < c->ncerts; i++)
        gnutls_pcert_deinit(&c->certs[i]);
    for (unsigned i = 0; i < c->nkeys; i++)
        gnutls_privkey_deinit(c->keys[i]);
    free(c);
}

void nes_creds_release(nes_creds *c)
{
    if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
        creds_free(c);
}

static bool is_url(const char *s)
{
    return strncmp(s, "pkcs11:", 7) == 0;
}

static int load_chain(nes_creds *c, const char *cert, char *why, size_t why_len)
{
    int rc;
    if (is_url(cert)) {
        gnutls_x509_crt_t crt;
        gnutls_x509_crt_init(&crt);
        rc = gnutls_x509_crt_import_url(crt, cert, 0);
        if (rc >= 0)
            rc = gnutls_pcert_import_x509(&c->certs[0], crt, 0);
        gnutls_x509_crt_deinit(crt);
        if (rc < 0) {
            nes_msgf(why, why_len, "TLS_CERT (pkcs11 URI): %s", gnutls_strerror(rc));
            return -1;
        }
        c->ncerts = 1;
        return 0;
    }
    gnutls_datum_t data = {NULL, 0};
    rc = gnutls_load_file(cert, &data);
    if (rc < 0) {
        nes_msgf(why, why_len, "TLS_CERT %s: %s", cert, gnutls_strerror(rc));
        return -1;
    }
    unsigned n = MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_raw(c->certs, &n, &data, GNUTLS_X509_FMT_PEM, 0);
    gnutls_free(data.data);
    if (rc < 0 || n == 0) {
        nes_msgf(why, why_len, "TLS_CERT %s: %s", cert,
                 rc < 0 ? gnutls_strerror(rc) : "no certificate");
        return -1;
    }
    c->ncerts = n;
    return 0;
}

static int load_key(nes_creds *c, const char *key, char *why, size_t why_len)
{
    unsigned handles = is_url(key) ? g_key_handles : 1;
    gnutls_datum_t data = {NULL, 0};
    int rc = 0;
    if (!is_url(key) && (rc = gnutls_load_file(key, &data)) < 0) {
        nes_msgf(why, why_len, "TLS_KEY %s: %s", key, gnutls_strerror(rc));
        return -1;
    }
    for (unsigned i = 0; i < handles; i++) {
        gnutls_privkey_t k;
        gnutls_privkey_init(&k);
        if (is_url(key))
            rc = gnutls_privkey_import_url(k, key, 0);
        else
            rc = gnutls_privkey_import_x509_raw(k, &data, GNUTLS_X509_FMT_PEM, NULL, 0);
        if (rc < 0) {
            gnutls_privkey_deinit(k);
            break;
        }
        c->keys[c->nkeys++] = k;
    }
    if (data.data != NULL) {
        gnutls_memset(data.data, 0, data.size);
        gnutls_free(data.data);
    }
    if (rc < 0) {
        nes_msgf(why, why_len, "TLS_KEY: cannot load the key: %s", gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

static int check_pair(nes_creds *c, char *why, size_t why_len)
{
    static unsigned char probe[] = "nitro-enc-svc key check";
    gnutls_datum_t data = {probe, sizeof(probe) - 1}, sig = {0};
    int pk = gnutls_privkey_get_pk_algorithm(c->keys[0], NULL);
    gnutls_sign_algorithm_t algo = gnutls_pk_to_sign((gnutls_pk_algorithm_t)pk, GNUTLS_DIG_SHA256);
    int rc = gnutls_privkey_sign_data(c->keys[0], GNUTLS_DIG_SHA256, 0, &data, &sig);
    if (rc >= 0)
        rc = gnutls_pubkey_verify_data2(c->certs[0].pubkey, algo, 0, &data, &sig);
    gnutls_free(sig.data);
    if (rc < 0) {
        nes_msgf(why, why_len, "TLS_CERT and TLS_KEY do not match (%s)", gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

static void describe(nes_creds *c)
{
    gnutls_x509_crt_t crt;
    snprintf(c->desc, sizeof(c->desc), "?");
    if (gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, &c->certs[0].cert, GNUTLS_X509_FMT_DER) >= 0) {
        char dn[160];
        size_t dn_len = sizeof(dn);
        if (gnutls_x509_crt_get_dn(crt, dn, &dn_len) < 0)
            snprintf(dn, sizeof(dn), "?");
        time_t exp = gnutls_x509_crt_get_expiration_time(crt);
        struct tm tm;
        char when[32] = "?";
        if (gmtime_r(&exp, &tm) != NULL)
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(c->desc, sizeof(c->desc), "%s, expires %s", dn, when);
    }
    gnutls_x509_crt_deinit(crt);
}

nes_creds *nes_creds_load(const char *cert, const char *key, char *why, size_t why_len)
{
    nes_creds *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        nes_msgf(why, why_len, "out of memory");
        return NULL;
    }
    atomic_init(&c->refs, 1);
    if (load_chain(c, cert, why, why_len) != 0 || load_key(c, key, why, why_len) != 0 ||
        check_pair(c, why, why_len) != 0) {
        creds_free(c);
        return NULL;
    }
    describe(c);
    return c;
}

void nes_creds_get(nes_creds *c, gnutls_pcert_st **certs, unsigned *ncerts, gnutls_privkey_t *key)
{
    if (t_key_index < 0)
        t_key_index = (int)atomic_fetch_add(&g_thread_seq, 1);
    *certs = c->certs;
    *ncerts = c->ncerts;
    *key = c->keys[(unsigned)t_key_index % c->nkeys];
}

const char *nes_creds_describe(const nes_creds *c)
{
    return c->desc;
}

nes_creds *nes_tls_acquire(void)
{
    atomic_fetch_add(&g_readers, 1);
    nes_creds *c = atomic_load(&g_cur);
    if (c != NULL)
        atomic_fetch_add(&c->refs, 1);
    atomic_fetch_sub(&g_readers, 1);
    return c;
}

void nes_tls_tick(void)
{
    pthread_mutex_lock(&g_defer_lock);
    /* Any reader that could have loaded a replaced pointer registered itself in g_readers
     * before loading it; once the count is seen at zero after the swap, they are all done. */
    if (g_deferred != NULL && atomic_load(&g_readers) == 0) {
        while (g_deferred != NULL) {
            deferred *d = g_deferred;
            g_deferred = d->next;
            nes_creds_release(d->c);
            free(d);
        }
    }
    pthread_mutex_unlock(&g_defer_lock);
}

void nes_tls_install(nes_creds *c)
{
    nes_creds *old = atomic_exchange(&g_cur, c);
    if (old != NULL) {
        deferred *d = malloc(sizeof(*d));
        pthread_mutex_lock(&g_defer_lock);
        if (d != NULL) {
            d->c = old;
            d->next = g_deferred;
            g_deferred = d;
        } /* else: leak the old set rather than risk freeing it under a reader */
        pthread_mutex_unlock(&g_defer_lock);
    }
    nes_tls_tick();
}

int nes_tls_reload(const char *cert, const char *key, char *why, size_t why_len)
{
    nes_creds *c = nes_creds_load(cert, key, why, why_len);
    if (c == NULL)
        return -1;
    nes_tls_install(c);
    return 0;
}

void nes_tls_shutdown(void)
{
    nes_creds *c = atomic_exchange(&g_cur, NULL);
    nes_creds_release(c);
    nes_tls_tick();
}

void nes_file_stamp_get(const char *path, nes_file_stamp *st)
{
    struct stat sb;
    memset(st, 0, sizeof(*st));
    if (path == NULL || is_url(path) || stat(path, &sb) != 0)
        return;
    st->exists = true;
    st->dev = (uint64_t)sb.st_dev;
    st->ino = (uint64_t)sb.st_ino;
    st->size = (uint64_t)sb.st_size;
    st->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

bool nes_file_stamp_changed(const nes_file_stamp *a, const nes_file_stamp *b)
{
    return a->exists != b->exists || a->dev != b->dev || a->ino != b->ino || a->size != b->size ||
           a->mtime_ns != b->mtime_ns;
}

/* A fresh P-256 key and a certificate skeleton (serial, validity, subject, key, key id). */
static int cert_start(gnutls_x509_privkey_t *key, gnutls_x509_crt_t *crt, const char *dn,
                      time_t now)
{
    unsigned char serial[16], id[64];
    size_t idlen = sizeof(id);
    int g;
    if ((g = gnutls_x509_privkey_init(key)) < 0 ||
        (g = gnutls_x509_privkey_generate(
             *key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0 ||
        (g = gnutls_x509_crt_init(crt)) < 0 || (g = gnutls_x509_crt_set_version(*crt, 3)) < 0 ||
        (g = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) < 0)
        return g;
    serial[0] &= 0x7f;
    serial[0] |= 0x01; /* positive, 16 bytes */
    if ((g = gnutls_x509_crt_set_serial(*crt, serial, sizeof(serial))) < 0 ||
        (g = gnutls_x509_crt_set_activation_time(*crt, now - 3600)) < 0 ||
        (g = gnutls_x509_crt_set_expiration_time(*crt, now + (time_t)365 * 86400)) < 0 ||
        (g = gnutls_x509_crt_set_dn(*crt, dn, NULL)) < 0 ||
        (g = gnutls_x509_crt_set_key(*crt, *key)) < 0 ||
        (g = gnutls_x509_privkey_get_key_id(*key, GNUTLS_KEYID_USE_SHA1, id, &idlen)) < 0 ||
        (g = gnutls_x509_crt_set_subject_key_id(*crt, id, idlen)) < 0)
        return g;
    return 0;
}

int nes_tls_selfsigned(const char *cert_path, const char *key_path, char *why, size_t why_len)
{
    gnutls_x509_privkey_t ca_key = NULL, key = NULL;
    gnutls_x509_crt_t ca = NULL, crt = NULL;
    gnutls_datum_t kpem = {0}, cpem = {0}, capem = {0}, chain = {0};
    int rc = -1, g;
    unsigned char ca_id[64];
    size_t ca_idlen = sizeof(ca_id);
    static const unsigned char ip4[4] = {127, 0, 0, 1};
    static const unsigned char ip6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    time_t now = time(NULL);

    /* The local CA: signs this one leaf, then its key is dropped (never written anywhere). */
    if ((g = cert_start(&ca_key, &ca, "CN=nitro-enc-svc local CA,O=nitro-enc-svc local mode",
                        now)) < 0 ||
        (g = gnutls_x509_crt_set_basic_constraints(ca, 1, 0)) < 0 ||
        (g = gnutls_x509_crt_set_key_usage(ca, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) <
            0 ||
        (g = gnutls_x509_crt_sign2(ca, ca, ca_key, GNUTLS_DIG_SHA256, 0)) < 0 ||
        (g = gnutls_x509_crt_get_subject_key_id(ca, ca_id, &ca_idlen, NULL)) < 0)
        goto out;
    /* The leaf the service presents: CA:FALSE, digitalSignature, serverAuth, localhost. */
    if ((g = cert_start(&key, &crt, "CN=localhost,O=nitro-enc-svc local mode", now)) < 0 ||
        (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                                  GNUTLS_FSAN_SET)) < 0 ||
        (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip4, 4,
                                                  GNUTLS_FSAN_APPEND)) < 0 ||
        (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip6, 16,
                                                  GNUTLS_FSAN_APPEND)) < 0 ||
        (g = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
        (g = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (g = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
        (g = gnutls_x509_crt_set_authority_key_id(crt, ca_id, ca_idlen)) < 0 ||
        (g = gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0)) < 0 ||
        (g = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kpem)) < 0 ||
        (g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem)) < 0 ||
        (g = gnutls_x509_crt_export2(ca, GNUTLS_X509_FMT_PEM, &capem)) < 0)
        goto out;
    /* TLS_CERT holds the chain: the leaf, then the CA (what clients trust). */
    chain.size = cpem.size + capem.size;
    chain.data = gnutls_malloc(chain.size);
    if (chain.data == NULL) {
        g = GNUTLS_E_MEMORY_ERROR;
        goto out;
    }
    memcpy(chain.data, cpem.data, cpem.size);
    memcpy(chain.data + cpem.size, capem.data, capem.size);
    if (nes_write_file(key_path, kpem.data, kpem.size, 0600) != 0 ||
        nes_write_file(cert_path, chain.data, chain.size, 0644) != 0) {
        nes_msgf(why, why_len, "cannot write %s / %s", cert_path, key_path);
        goto done;
    }
    rc = 0;
    goto done;
out:
    nes_msgf(why, why_len, "self-signed certificate: %s", gnutls_strerror(g));
done:
    if (kpem.data != NULL) {
        gnutls_memset(kpem.data, 0, kpem.size);
        gnutls_free(kpem.data);
    }
    gnutls_free(cpem.data);
    gnutls_free(capem.data);
    gnutls_free(chain.data);
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    if (ca != NULL)
        gnutls_x509_crt_deinit(ca);
    if (key != NULL)
        gnutls_x509_privkey_deinit(key);
    if (ca_key != NULL)
        gnutls_x509_privkey_deinit(ca_key);
    return rc;
}

int nes_tls_ticket_key_init(void)
{
    return gnutls_session_ticket_key_generate(&g_ticket) < 0 ? -1 : 0;
}

void nes_tls_enable_tickets(gnutls_session_t session)
{
    if (g_ticket.data != NULL)
        gnutls_session_ticket_enable_server(session, &g_ticket);
}

static bool listed(char *const *allowed, size_t n, const char *id, size_t id_len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(allowed[i]) == id_len && memcmp(allowed[i], id, id_len) == 0)
            return true;
    return false;
}

int nes_tls_peer_allowed(gnutls_session_t session, char *const *allowed, size_t n, char *who,
                         size_t who_len)
{
    if (who_len > 0)
        who[0] = '\0';
    unsigned npeers = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &npeers);
    if (peers == NULL || npeers == 0)
        return 0;
    static unsigned char client_oid[] = GNUTLS_KP_TLS_WWW_CLIENT;
    gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID, .data = client_oid};
    unsigned status = 0;
    if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) < 0 || status != 0)
        return 0;
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return 0;
    int ok = 0;
    if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) >= 0) {
        char buf[512];
        size_t len = sizeof(buf) - 1;
        if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &len) >= 0) {
            buf[len] = '\0';
            snprintf(who, who_len, "%s", buf);
            if (listed(allowed, n, buf, len))
                ok = 1;
        }
        for (unsigned i = 0; !ok; i++) {
            unsigned critical = 0;
            len = sizeof(buf) - 1;
            int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &len, &critical);
            if (type < 0)
                break;
            if ((type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_URI ||
                 type == GNUTLS_SAN_RFC822NAME) &&
                listed(allowed, n, buf, len)) {
                buf[len] = '\0';
                snprintf(who, who_len, "%s", buf);
                ok = 1;
            }
        }
    }
    gnutls_x509_crt_deinit(crt);
    return ok;
}
