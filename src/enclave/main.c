/* main.c - nitro-enc-svc: configuration, startup, signals, reloads, graceful shutdown. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/secmem.h"
#include "enclave/config.h"
#include "enclave/conns.h"
#include "enclave/local.h"
#include "enclave/otlp_metrics.h"
#include "enclave/providers/dek.h"
#include "enclave/providers/enclave_mode.h"
#include "enclave/routes.h"
#include "enclave/server.h"
#include "enclave/state.h"
#include "enclave/tls.h"
#include "obs/log.h"
#include "obs/otel/export.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: nitro-enc-svc [--local-mode] [--config FILE] [--check-config] [--version]\n"
            "  --local-mode     keys from LOCAL_KEY_FILE, specs from LOCAL_SCHEMA_DIR, a\n"
            "                   self-signed certificate unless TLS_CERT/TLS_KEY are set;\n"
            "                   listens on tcp://127.0.0.1:8443 unless LISTEN says otherwise\n"
            "  --config FILE    YAML mapping of setting names to values, over the environment\n"
            "  --check-config   print the effective configuration (secrets redacted) and exit\n"
            "  --print-config-reference  print every setting (type, default, range) as Markdown\n");
}

static void log_tls(const char *msg, const char *cert, int ok, const char *detail)
{
    nes_logline l;
    nes_logline_begin(&l, ok ? NES_LOG_INFO : NES_LOG_ERROR, msg);
    char red[1024];
    nes_config_redact_uri(cert, red, sizeof(red));
    nes_logline_str(&l, "cert", red);
    nes_logline_str(&l, ok ? "certificate" : "reason", detail);
    nes_logline_emit(&l);
}

static void reload_tls(nes_server *srv, const char *cert, const char *key)
{
    char why[256];
    nes_creds *c = nes_creds_load(cert, key, why, sizeof(why));
    if (c == NULL) {
        atomic_fetch_add(&srv->tls_reload_errors, 1);
        log_tls("TLS reload failed; the previous certificate stays in use", cert, 0, why);
        return;
    }
    log_tls("TLS certificate reloaded", cert, 1, nes_creds_describe(c));
    nes_tls_install(c);
    atomic_fetch_add(&srv->tls_reloads, 1);
}

/* OTEL_* settings: the configuration (file overlay included) first, then the environment. */
static const char *otel_lookup(void *ud, const char *name)
{
    const char *v = nes_config_raw(ud, name);
    return v != NULL ? v : getenv(name);
}

/* The egress path of the telemetry export: the AWS layer's (AWS_EGRESS: a CONNECT proxy) when
 * one is configured, else NULL (straight to the endpoint). 1: use `aws`; 0: direct; -1: egress
 * configured but unusable here (nothing is exported rather than bypassing it). */
static int otel_egress(const nes_config *cfg, bool local, nes_aws_config *aws)
{
    const nes_aws_config *enclave = local ? NULL : nes_enclave_aws();
    if (enclave != NULL) { /* the providers' configuration: its vsock bridge is running */
        if (enclave->egress == NES_EGRESS_DIRECT)
            return 0;
        *aws = *enclave;
        return 1;
    }
    const char *e = nes_config_raw(cfg, "AWS_EGRESS");
    if (e == NULL || *e == '\0' || strcmp(e, "direct") == 0)
        return 0;
    char why[256];
    if (nes_config_aws(cfg, aws, why, sizeof(why)) != 0) {
        nes_log(NES_LOG_WARN, "telemetry export not started: %s", why);
        return -1;
    }
    if (aws->egress == NES_EGRESS_VSOCK) {
        nes_log(NES_LOG_WARN, "telemetry export not started: vsock egress needs enclave "
                              "mode's bridge");
        nes_aws_config_clear(aws);
        return -1;
    }
    return 1;
}

/* The metrics export: the same numbers as /metrics. */
static int otel_metrics(void *ud, nes_buf *out, const nes_otlp_resource *res, uint64_t start_ns,
                        uint64_t now_ns)
{
    nes_metrics_totals t;
    nes_metrics_collect(&t);
    nes_metrics_gauges g;
    nes_routes_gauges(ud, &g);
    return nes_otlp_metrics(out, res, &t, &g, start_ns, now_ns);
}

static int local_tls_paths(const nes_config *cfg, const char **cert, const char **key, char *cbuf,
                           char *kbuf, size_t len)
{
    if (cfg->tls_cert != NULL) {
        *cert = cfg->tls_cert;
        *key = cfg->tls_key;
        return 0;
    }
    snprintf(cbuf, len, "%s/tls.crt", cfg->local_state_dir);
    snprintf(kbuf, len, "%s/tls.key", cfg->local_state_dir);
    *cert = cbuf;
    *key = kbuf;
    if (access(cbuf, R_OK) == 0 && access(kbuf, R_OK) == 0)
        return 0;
    char why[256];
    if (nes_local_mkdirs(cfg->local_state_dir) != 0 ||
        nes_tls_selfsigned(cbuf, kbuf, why, sizeof(why)) != 0) {
        fprintf(stderr, "nitro-enc-svc: cannot create a local certificate in %s\n",
                cfg->local_state_dir);
        return -1;
    }
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_WARN, "created a self-signed certificate for local mode");
    nes_logline_str(&l, "cert", cbuf);
    nes_logline_emit(&l);
    return 0;
}

int main(int argc, char **argv)
{
    bool local = false, check = false;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--local-mode") == 0) {
            local = true;
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check = true;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            file = argv[i] + 9;
        } else if (strcmp(argv[i], "--print-config-reference") == 0) {
            return nes_config_reference(stdout) == 0 ? 0 : 1;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("nitro-enc-svc %s\n", NES_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "nitro-enc-svc: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    uint64_t t0 = nes_now_us();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    nes_config cfg;
    nes_config_problems problems;
    if (nes_config_load(&cfg, local, environ, file, ncpu > 0 ? (unsigned)ncpu : 1, &problems) !=
        0) {
        for (int i = 0; i < problems.n; i++)
            fprintf(stderr, "nitro-enc-svc: config: %s\n", problems.line[i]);
        if (problems.more > 0)
            fprintf(stderr, "nitro-enc-svc: config: ... and %d more problems\n", problems.more);
        nes_config_free(&cfg);
        return 2;
    }
    if (check) {
        nes_config_print(&cfg, stdout);
        nes_config_free(&cfg);
        return 0;
    }
    nes_log_configure(cfg.log_level, 2);
    nes_otel_config otel;
    {
        char owhy[256];
        if (nes_otel_config_load(&otel, "nitro-enc-svc", otel_lookup, &cfg, owhy, sizeof(owhy)) !=
            0) {
            fprintf(stderr, "nitro-enc-svc: config: %s\n", owhy);
            nes_config_free(&cfg);
            return 2;
        }
    }
    if (nes_secure_process() != 0)
        nes_log(NES_LOG_WARN, "could not make the process non-dumpable");

    /* Signals are taken by this thread with sigtimedwait; every thread started from here on
     * inherits the mask. SIGPIPE is ignored: a peer that goes away is an error return. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char why[256], cbuf[4200], kbuf[4200];
    const char *cert, *key;
    int rc = 1;
    nes_server srv;
    memset(&srv, 0, sizeof(srv));
    if (local_tls_paths(&cfg, &cert, &key, cbuf, kbuf, sizeof(cbuf)) != 0)
        goto out_cfg;
    if (nes_tls_init(cfg.pkcs11_module, cfg.pkcs11_pin, cfg.pkcs11_pin_file, cfg.worker_threads,
                     why, sizeof(why)) != 0) {
        fprintf(stderr, "nitro-enc-svc: %s\n", why);
        goto out_cfg;
    }
    nes_creds *creds = nes_creds_load(cert, key, why, sizeof(why));
    if (creds == NULL) {
        fprintf(stderr, "nitro-enc-svc: %s\n", why);
        goto out_tls;
    }
    log_tls("TLS certificate loaded", cert, 1, nes_creds_describe(creds));
    nes_tls_install(creds);
    nes_log_start();

    if (local) { /* keys and specs from files */
        nes_local_keys_refresh(cfg.local_key_file, true);
        nes_local_set_spec_limits(&(nes_spec_limits){.max_docs = cfg.spec_max_documents});
        int failed = nes_local_specs_refresh(cfg.local_schema_dir, true);
        atomic_fetch_add(&srv.schema_refresh_errors, (uint64_t)failed);
    }

    uint64_t errs = atomic_load(&srv.schema_refresh_errors);
    if (nes_server_start(&srv, &cfg, why, sizeof(why)) != 0) {
        nes_log(NES_LOG_ERROR, "cannot start: %s", why);
        goto out_state;
    }
    atomic_store(&srv.schema_refresh_errors, errs);
    /* enclave mode: keys (attested KMS) and specs (S3) arrive from the providers' threads */
    if (!local && nes_enclave_providers_start(&cfg, &srv.schema_refresh_errors, why, sizeof(why))) {
        nes_log(NES_LOG_ERROR, "cannot start enclave mode: %s", why);
        fprintf(stderr, "nitro-enc-svc: enclave mode: %s\n", why);
        nes_server_stop(&srv);
        rc = 2;
        goto out_state;
    }
    if (otel.enabled) {
        if (!local && nes_dek_pcr0() != NULL)
            nes_otel_config_set_attr(&otel, "aws.nitro.pcr0", nes_dek_pcr0());
        nes_aws_config aws;
        int eg = otel_egress(&cfg, local, &aws);
        if (eg >= 0 &&
            nes_otel_start(&otel, eg ? &aws : NULL, otel_metrics, &srv, why, sizeof(why)) != 0)
            nes_log(NES_LOG_WARN, "telemetry export not started: %s", why);
        if (eg > 0)
            nes_aws_config_clear(&aws);
    }
    {
        char uri[400];
        nes_logline l;
        nes_logline_begin(&l, NES_LOG_INFO, "listening");
        nes_logline_str(&l, "listen", nes_endpoint_format(&cfg.listen_ep, uri, sizeof(uri)));
        nes_logline_int(&l, "port", srv.bound_port);
        nes_logline_int(&l, "workers", cfg.worker_threads);
        nes_logline_bool(&l, "local_mode", local);
        nes_logline_int(&l, "startup_ms", (long long)((nes_now_us() - t0) / 1000));
        nes_logline_emit(&l);
    }

    nes_file_stamp cert_st, key_st;
    nes_file_stamp_get(cert, &cert_st);
    nes_file_stamp_get(key, &key_st);
    int64_t next_tls = nes_now_ms(), next_specs = nes_now_ms();
    for (;;) {
        struct timespec ts = {0, 250000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        int64_t now = nes_now_ms();
        if (sig == SIGTERM || sig == SIGINT) {
            nes_logline l;
            nes_logline_begin(&l, NES_LOG_INFO,
                              "shutting down: no new connections, finishing "
                              "requests in flight");
            nes_logline_int(&l, "grace_secs", cfg.shutdown_grace_secs);
            nes_logline_emit(&l);
            break;
        }
        if (sig == SIGHUP) {
            nes_log(NES_LOG_INFO, "SIGHUP: reloading certificate, keys and specs");
            reload_tls(&srv, cert, key);
            nes_file_stamp_get(cert, &cert_st);
            nes_file_stamp_get(key, &key_st);
            if (local) {
                nes_local_keys_refresh(cfg.local_key_file, false);
                atomic_fetch_add(&srv.schema_refresh_errors,
                                 (uint64_t)nes_local_specs_refresh(cfg.local_schema_dir, false));
            } else {
                nes_enclave_providers_reload();
            }
        }
        nes_tls_tick();
        nes_state_reclaim();
        if (cfg.tls_reload_check_secs > 0 && now >= next_tls) {
            next_tls = now + (int64_t)cfg.tls_reload_check_secs * 1000;
            nes_file_stamp c2, k2;
            nes_file_stamp_get(cert, &c2);
            nes_file_stamp_get(key, &k2);
            if (nes_file_stamp_changed(&c2, &cert_st) || nes_file_stamp_changed(&k2, &key_st)) {
                cert_st = c2;
                key_st = k2;
                reload_tls(&srv, cert, key);
            }
            if (local)
                nes_local_keys_refresh(cfg.local_key_file, false);
        }
        if (local && now >= next_specs) {
            next_specs = now + (int64_t)cfg.schema_refresh_secs * 1000;
            atomic_fetch_add(&srv.schema_refresh_errors,
                             (uint64_t)nes_local_specs_refresh(cfg.local_schema_dir, false));
        }
    }
    nes_server_stop_accepting(&srv);
    long left = nes_server_drain(&srv, (int64_t)cfg.shutdown_grace_secs * 1000);
    nes_server_stop(&srv);
    nes_otel_stop();
    nes_log(left ? NES_LOG_WARN : NES_LOG_INFO, "stopped (%ld requests cut at the grace limit)",
            left);
    rc = 0;
out_state:
    nes_enclave_providers_stop();
    nes_state_shutdown();
    nes_local_free();
    nes_tls_shutdown();
    nes_log_stop();
out_tls:
    nes_tls_deinit();
out_cfg:
    nes_config_free(&cfg);
    return rc;
}
