/* config.c - nitro-enc-proxy configuration (see config.h). */
#include "proxy/config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfgref.h"
#include "core/fileio.h"
#include "net/cfgref_print.h"
#include "obs/otel/vars.h"

static void problem(nes_proxy_problems *pr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void problem(nes_proxy_problems *pr, const char *fmt, ...)
{
    if (pr->n == NES_PROXY_MAX_PROBLEMS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pr->line[pr->n++], sizeof(pr->line[0]), fmt, ap);
    va_end(ap);
}

static const char *env(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (char *const *e = envp; e != NULL && *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* The settings: one table for loading (bounds, defaults) and for the reference. Numeric rows
 * (max > 0) take their default from `def` too. A name may have one row per mode. */
enum { M_IN = 1, M_EG = 2, M_BOTH = 3 };
#define G_ALL "Both modes"
#define G_IN "ingress (pod sidecar)"
#define G_EG "egress (parent instance)"
#define G_OBS NES_OTEL_VARS_GROUP
#define URI "endpoint URI: tcp://HOST:PORT, unix:///PATH, vsock://CID:PORT"
#define HOSTPORT "host:port or an endpoint URI"

/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): a small constant table */
typedef struct pvar {
    const char *name;
    unsigned modes;
    unsigned long min, max; /* numeric when max > 0 */
    const char *def;        /* NULL: unset */
    bool derived;           /* def describes how the default is derived */
    const char *allowed;    /* text rows: the form of the value */
    const char *group, *help;
} pvar;

static const pvar vars[] = {
    {"WORKER_THREADS", M_BOTH, 0, 256, "0", false, NULL, G_ALL,
     "relay threads, one event loop each (0: one per online CPU)"},
    {"MAX_CONNECTIONS", M_BOTH, 1, 1000000, "4096", false, NULL, G_ALL,
     "relayed connections open at most; more are refused"},
    {"IDLE_TIMEOUT_SECS", M_BOTH, 1, 86400, "300", false, NULL, G_ALL,
     "a relayed connection with no byte either way is closed after this"},
    {"CONNECT_TIMEOUT_SECS", M_BOTH, 1, 3600, "10", false, NULL, G_ALL,
     "bound on connecting to the target"},
    {"SHUTDOWN_GRACE_SECS", M_BOTH, 0, 3600, "20", false, NULL, G_ALL,
     "on SIGTERM, time left to open connections before the process exits"},
    {"RELAY_BUFFER_BYTES", M_BOTH, 4096, 16u << 20, "65536", false, NULL, G_ALL,
     "buffer per direction of each connection (bytes)"},
    {"BUSY_POLL_US", M_BOTH, 0, 1000000, "0", false, NULL, G_ALL,
     "after each burst of traffic a relay thread polls without sleeping for this long (us) "
     "before it blocks: lower latency on VMs without guest halt polling, for up to this much "
     "CPU per burst (0: off)"},
    {"LISTEN_PORT", M_IN, 0, 65535, "8443", false, NULL, G_IN,
     "TCP port the application's clients connect to (when LISTEN is unset)"},
    {"LISTEN", M_IN, 0, 0, "tcp://0.0.0.0:LISTEN_PORT", true, URI, G_IN,
     "where client connections are accepted (wins over LISTEN_PORT)"},
    {"ENCLAVE_CID", M_IN, 0, 0xFFFFFFFEul, NULL, false, NULL, G_IN,
     "vsock CID of the enclave (required unless ENCLAVE is set)"},
    {"ENCLAVE_PORT", M_IN, 0, 0xFFFFFFFFul, "443", false, NULL, G_IN,
     "vsock port of nitro-enc-svc in the enclave"},
    {"ENCLAVE", M_IN, 0, 0, NULL, false, URI, G_IN,
     "the enclave's endpoint (wins over ENCLAVE_CID and ENCLAVE_PORT)"},
    {"MAIN_APP_ADDR", M_IN, 0, 0, NULL, false, HOSTPORT, G_IN,
     "the application the enclave's proxy mode forwards to (required)"},
    {"RETURN_LISTEN", M_IN, 0, 0, "vsock://any:0", false, URI, G_IN,
     "where the enclave's connections to the application arrive (port 0: any free port)"},
    {"RETURN_ADVERTISE", M_IN, 0, 0, "vsock://3:PORT of RETURN_LISTEN (else its own URI)", true,
     URI, G_IN, "the return endpoint announced to the enclave in each PROXY v2 header"},
    {"LISTEN_PORT", M_EG, 0, 0xFFFFFFFFul, "8000", false, NULL, G_EG,
     "vsock port the enclave's AWS and telemetry calls arrive on (when LISTEN is unset)"},
    {"LISTEN", M_EG, 0, 0, "vsock://any:LISTEN_PORT", true, URI, G_EG,
     "where the enclave's connections are accepted (wins over LISTEN_PORT)"},
    {"UPSTREAM", M_EG, 0, 0, NULL, false, HOSTPORT, G_EG,
     "fixed forward: every connection goes there (exactly one of UPSTREAM and ALLOWLIST)"},
    {"ALLOWLIST", M_EG, 0, 0, NULL, false, "a YAML file", G_EG,
     "CONNECT mode: the host:port targets allowed (exactly one of UPSTREAM and ALLOWLIST)"},
    {"HEAD_MAX_BYTES", M_BOTH, 256, 65536, "8192", false, NULL, G_EG,
     "CONNECT mode: largest CONNECT request head"},
    {"HEAD_TIMEOUT_SECS", M_BOTH, 1, 3600, "10", false, NULL, G_EG,
     "CONNECT mode: bound on receiving the CONNECT request head"},
    {"LOG_LEVEL", M_BOTH, 0, 0, "info", false, "debug, info, warn, error, off", G_OBS,
     "least severe JSON log line written to stderr"},
    {"METRICS_ADDR", M_BOTH, 0, 0, NULL, false, HOSTPORT, G_OBS,
     "where GET /metrics (Prometheus text) is served; unset: no metrics listener"},
};
#define NVARS (sizeof(vars) / sizeof(vars[0]))

static const pvar *var(nes_proxy_mode mode, const char *name)
{
    for (size_t i = 0; i < NVARS; i++)
        if ((vars[i].modes & (unsigned)mode) && strcmp(vars[i].name, name) == 0)
            return &vars[i];
    return NULL; /* not reached: every name read is in the table (a unit test checks) */
}

/* A numeric setting within its row's bounds; its default when unset. */
static void get_uint(char *const *envp, const char *name, nes_proxy_mode mode, unsigned long *out,
                     nes_proxy_problems *pr)
{
    const pvar *r = var(mode, name);
    const char *v = env(envp, name);
    *out = (r != NULL && r->def != NULL) ? strtoul(r->def, NULL, 10) : 0;
    if (v == NULL || r == NULL)
        return;
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (*v == '\0' || *v == '-' || *v == '+' || *end != '\0' || x < r->min || x > r->max) {
        problem(pr, "%s: want a whole number %lu-%lu", name, r->min, r->max);
        return;
    }
    *out = x;
}

/* An endpoint from a URI, or from host:port (as tcp://host:port) when `hostport_ok`. */
static int get_ep(char *const *envp, const char *name, bool hostport_ok, nes_endpoint *ep,
                  nes_proxy_problems *pr)
{
    const char *v = env(envp, name);
    if (v == NULL)
        return 0;
    char buf[600], why[200];
    if (hostport_ok && strstr(v, "://") == NULL && strncmp(v, "unix:", 5) != 0) {
        snprintf(buf, sizeof(buf), "tcp://%s", v);
        v = buf;
    }
    if (nes_endpoint_parse(v, ep, why, sizeof(why)) != 0) {
        problem(pr, "%s: %s", name, why);
        return -1;
    }
    return 1;
}

static void load_allowlist(nes_proxy_config *cfg, const char *path, nes_proxy_problems *pr)
{
    snprintf(cfg->allowlist_path, sizeof(cfg->allowlist_path), "%s", path);
    nes_err err;
    char *data = NULL;
    size_t len = 0;
    if (nes_read_file(path, (size_t)4 << 20, &data, &len, &err) != NES_OK) {
        problem(pr, "ALLOWLIST: cannot read %s: %s", path, err.msg);
        return;
    }
    char why[200];
    if (nes_allowlist_parse(data, len, &cfg->allow, why, sizeof(why)) != 0)
        problem(pr, "ALLOWLIST: %s: %s", path, why);
    else if (cfg->allow.n == 0)
        problem(pr, "ALLOWLIST: %s allows nothing", path);
    free(data);
}

int nes_proxy_config_load(nes_proxy_config *cfg, nes_proxy_mode mode, char *const *envp,
                          nes_proxy_problems *pr)
{
    memset(cfg, 0, sizeof(*cfg));
    memset(pr, 0, sizeof(*pr));
    cfg->mode = mode;
    nes_log_level_parse(var(mode, "LOG_LEVEL")->def, &cfg->log_level);
    const char *lv = env(envp, "LOG_LEVEL");
    if (lv != NULL && nes_log_level_parse(lv, &cfg->log_level) != 0)
        problem(pr, "LOG_LEVEL: want debug, info, warn, error or off");
    unsigned long x;
    get_uint(envp, "WORKER_THREADS", mode, &x, pr);
    cfg->threads = (unsigned)x;
    get_uint(envp, "MAX_CONNECTIONS", mode, &x, pr);
    cfg->max_conns = (unsigned)x;
    get_uint(envp, "IDLE_TIMEOUT_SECS", mode, &x, pr);
    cfg->idle_secs = (unsigned)x;
    get_uint(envp, "CONNECT_TIMEOUT_SECS", mode, &x, pr);
    cfg->connect_secs = (unsigned)x;
    get_uint(envp, "SHUTDOWN_GRACE_SECS", mode, &x, pr);
    cfg->grace_secs = (unsigned)x;
    get_uint(envp, "HEAD_TIMEOUT_SECS", mode, &x, pr);
    cfg->head_secs = (unsigned)x;
    get_uint(envp, "RELAY_BUFFER_BYTES", mode, &x, pr);
    cfg->buf_bytes = x;
    get_uint(envp, "BUSY_POLL_US", mode, &x, pr);
    cfg->busy_poll_us = (unsigned)x;
    get_uint(envp, "HEAD_MAX_BYTES", mode, &x, pr);
    cfg->head_max = x;
    cfg->has_metrics = get_ep(envp, "METRICS_ADDR", true, &cfg->metrics, pr) > 0;

    unsigned long port;
    if (mode == NES_PROXY_INGRESS) {
        get_uint(envp, "LISTEN_PORT", mode, &port, pr);
        if (get_ep(envp, "LISTEN", false, &cfg->listen, pr) == 0) {
            char uri[64];
            snprintf(uri, sizeof(uri), "tcp://0.0.0.0:%lu", port);
            nes_endpoint_parse(uri, &cfg->listen, NULL, 0);
        }
        int e = get_ep(envp, "ENCLAVE", false, &cfg->enclave, pr);
        if (e == 0) {
            unsigned long cid, eport;
            get_uint(envp, "ENCLAVE_PORT", mode, &eport, pr);
            if (env(envp, "ENCLAVE_CID") == NULL) {
                problem(pr, "ENCLAVE_CID: required (or set ENCLAVE to an endpoint URI)");
            } else {
                get_uint(envp, "ENCLAVE_CID", mode, &cid, pr);
                cfg->enclave.kind = NES_EP_VSOCK;
                cfg->enclave.cid = (uint32_t)cid;
                cfg->enclave.vport = (uint32_t)eport;
            }
        }
        if (env(envp, "MAIN_APP_ADDR") == NULL)
            problem(pr, "MAIN_APP_ADDR: required (host:port or an endpoint URI)");
        else
            get_ep(envp, "MAIN_APP_ADDR", true, &cfg->main_app, pr);
        if (get_ep(envp, "RETURN_LISTEN", false, &cfg->ret_listen, pr) == 0)
            nes_endpoint_parse("vsock://any:0", &cfg->ret_listen, NULL, 0);
        const char *adv = env(envp, "RETURN_ADVERTISE");
        if (adv != NULL) {
            nes_endpoint tmp;
            char why[200];
            if (strlen(adv) >= sizeof(cfg->ret_advertise) ||
                nes_endpoint_parse(adv, &tmp, why, sizeof(why)) != 0)
                problem(pr, "RETURN_ADVERTISE: want an endpoint URI");
            else
                snprintf(cfg->ret_advertise, sizeof(cfg->ret_advertise), "%s", adv);
        }
    } else {
        get_uint(envp, "LISTEN_PORT", mode, &port, pr);
        if (get_ep(envp, "LISTEN", false, &cfg->listen, pr) == 0) {
            cfg->listen.kind = NES_EP_VSOCK;
            cfg->listen.cid = NES_EP_VSOCK_ANY;
            cfg->listen.vport = (uint32_t)port;
        }
        const char *up = env(envp, "UPSTREAM"), *al = env(envp, "ALLOWLIST");
        if ((up == NULL) == (al == NULL))
            problem(pr, "UPSTREAM, ALLOWLIST: set exactly one (fixed forward or CONNECT)");
        else if (up != NULL)
            cfg->has_upstream = get_ep(envp, "UPSTREAM", true, &cfg->upstream, pr) > 0;
        else
            load_allowlist(cfg, al, pr);
    }
    return pr->n == 0 ? 0 : -1;
}

static void print_ep(FILE *out, const char *name, const nes_endpoint *ep)
{
    char uri[NES_EP_HOST_MAX + NES_EP_PATH_MAX + 32];
    fprintf(out, "%s=%s\n", name, nes_endpoint_format(ep, uri, sizeof(uri)));
}

void nes_proxy_config_print(const nes_proxy_config *cfg, FILE *out)
{
    fprintf(out, "MODE=%s\n", cfg->mode == NES_PROXY_INGRESS ? "ingress" : "egress");
    fprintf(out, "LOG_LEVEL=%s\n", nes_log_level_name(cfg->log_level));
    print_ep(out, "LISTEN", &cfg->listen);
    if (cfg->mode == NES_PROXY_INGRESS) {
        print_ep(out, "ENCLAVE", &cfg->enclave);
        print_ep(out, "MAIN_APP_ADDR", &cfg->main_app);
        print_ep(out, "RETURN_LISTEN", &cfg->ret_listen);
        fprintf(out, "RETURN_ADVERTISE=%s\n",
                cfg->ret_advertise[0] ? cfg->ret_advertise : "(derived at start)");
    } else if (cfg->has_upstream) {
        print_ep(out, "UPSTREAM", &cfg->upstream);
    } else {
        fprintf(out, "ALLOWLIST=%s (%zu entries)\n", cfg->allowlist_path, cfg->allow.n);
        fprintf(out, "HEAD_MAX_BYTES=%zu\nHEAD_TIMEOUT_SECS=%u\n", cfg->head_max, cfg->head_secs);
    }
    if (cfg->has_metrics)
        print_ep(out, "METRICS_ADDR", &cfg->metrics);
    else
        fprintf(out, "METRICS_ADDR=(off)\n");
    fprintf(out, "WORKER_THREADS=%u%s\n", cfg->threads, cfg->threads == 0 ? " (cores)" : "");
    fprintf(out, "MAX_CONNECTIONS=%u\nIDLE_TIMEOUT_SECS=%u\nCONNECT_TIMEOUT_SECS=%u\n",
            cfg->max_conns, cfg->idle_secs, cfg->connect_secs);
    fprintf(out, "SHUTDOWN_GRACE_SECS=%u\nRELAY_BUFFER_BYTES=%zu\n", cfg->grace_secs,
            cfg->buf_bytes);
    fprintf(out, "BUSY_POLL_US=%u%s\n", cfg->busy_poll_us, cfg->busy_poll_us == 0 ? " (off)" : "");
}

void nes_proxy_config_free(nes_proxy_config *cfg)
{
    nes_allowlist_free(&cfg->allow);
}

int nes_proxy_config_reference(FILE *out)
{
    nes_cfgref_var v[NVARS + 32];
    char range[NVARS][64];
    size_t n = 0;
    for (size_t i = 0; i < NVARS; i++) {
        const pvar *r = &vars[i];
        v[n++] = (nes_cfgref_var){
            .group = r->group,
            .name = r->name,
            .type =
                r->max > 0 ? "integer" : (strcmp(r->name, "LOG_LEVEL") == 0 ? "level" : "string"),
            .def = r->def,
            .def_derived = r->derived,
            .allowed = r->max > 0
                           ? nes_cfgref_range(r->min, r->max, false, range[i], sizeof(range[i]))
                           : r->allowed,
            .help = r->help};
    }
    if (nes_cfgref_append(v, &n, sizeof(v) / sizeof(v[0]), nes_otel_vars, nes_otel_vars_n) != 0)
        return -1;
    return nes_cfgref_print(
        out, "nitro-enc-proxy",
        "Environment variables only; `nitro-enc-proxy ingress|egress --check-config` prints the "
        "effective values. A setting of one mode is ignored by the other.",
        v, n);
}
