/* enclave_mode.c - the AWS configuration and the enclave-mode providers (see enclave_mode.h). */
#include "enclave/providers/enclave_mode.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "aws/aws.h"
#include "core/error.h"
#include "enclave/providers/aws_log.h"
#include "enclave/providers/dek.h"
#include "enclave/providers/s3specs.h"
#include "net/bridge.h"
#include "obs/log.h"

static nes_aws_config g_aws;
static nes_aws_credsrc *g_creds;
static bool g_curl;
static nes_s3specs *g_specs;
static nes_bridge *g_bridge; /* vsock egress only */
/* SIGHUP's spec refresh runs on its own thread: with S3 away it can take the AWS timeouts and
 * retries, and the signal thread must stay free for SIGTERM. */
static pthread_t g_reload;
static bool g_reload_started;
static atomic_bool g_reload_busy;

static void *reload_specs(void *arg)
{
    (void)arg;
    (void)nes_s3specs_refresh(g_specs);
    atomic_store(&g_reload_busy, false);
    return NULL;
}

int nes_enclave_providers_start(const nes_config *cfg, _Atomic uint64_t *schema_errors, char *why,
                                size_t why_len)
{
    char awhy[300];
    if (nes_config_aws(cfg, &g_aws, awhy, sizeof(awhy)) != 0) {
        nes_msgf(why, why_len, "AWS settings: %s", awhy);
        return -1;
    }
    if (g_aws.egress == NES_EGRESS_VSOCK && g_aws.bridge_path[0] == '\0') {
        /* libcurl cannot reach vsock: an in-process Unix socket relayed to the parent's egress
         * proxy by the relay engine (src/net/bridge.h) stands in for it. */
        nes_endpoint ep = {.kind = NES_EP_VSOCK, .cid = g_aws.vsock_cid, .vport = g_aws.vsock_port};
        char bwhy[200];
        g_bridge = nes_bridge_start(&ep, NULL, bwhy, sizeof(bwhy));
        if (g_bridge == NULL || nes_aws_config_set_bridge(&g_aws, nes_bridge_path(g_bridge)) != 0) {
            nes_msgf(why, why_len, "AWS egress bridge to vsock://%u:%u: %s",
                     (unsigned)g_aws.vsock_cid, g_aws.vsock_port,
                     g_bridge == NULL ? bwhy : "bridge name too long");
            return -1;
        }
    }
    g_aws.log = nes_aws_log_to_service;
    g_aws.on_call = nes_aws_call_to_service;
    if (nes_aws_global_init() != 0) {
        nes_msgf(why, why_len, "libcurl cannot be initialised");
        return -1;
    }
    g_curl = true;
    g_creds = nes_aws_credsrc_new(&g_aws);
    if (g_creds == NULL) {
        nes_msgf(why, why_len, "out of memory");
        return -1;
    }
    nes_dek_settings ds = {
        .secret_id = cfg->secret_arn,
        .kms_key_id = cfg->kms_key_id,
        .context_json = cfg->dek_context,
        .nsm_device = cfg->nsm_device,
        .keep_previous = cfg->dek_keep_previous,
        .rotation_secs = cfg->dek_rotation_secs,
        .retry_max_secs = cfg->dek_retry_max_secs,
        .allow_plaintext = cfg->allow_plaintext_dek != 0,
        .aws = &g_aws,
        .creds = g_creds,
    };
    if (nes_dek_start(&ds, why, why_len) != 0)
        return -1;
    nes_s3specs_config sc = {
        .aws = &g_aws,
        .creds = g_creds,
        .bucket = cfg->s3_bucket,
        .prefix = cfg->s3_prefix ? cfg->s3_prefix : "",
        .refresh_secs = cfg->schema_refresh_secs,
        .max_bytes = cfg->schema_max_bytes,
        .errors = schema_errors,
    };
    g_specs = nes_s3specs_new(&sc, why, why_len);
    if (g_specs == NULL || nes_s3specs_start(g_specs) != 0) {
        if (g_specs != NULL)
            nes_msgf(why, why_len, "cannot start the S3 spec provider");
        return -1;
    }
    return 0;
}

const nes_aws_config *nes_enclave_aws(void)
{
    return g_creds != NULL ? &g_aws : NULL;
}

void nes_enclave_providers_reload(void)
{
    nes_dek_refresh_soon();
    if (g_specs == NULL || atomic_load(&g_reload_busy))
        return; /* a refresh is under way already */
    if (g_reload_started)
        pthread_join(g_reload, NULL);
    atomic_store(&g_reload_busy, true);
    g_reload_started = pthread_create(&g_reload, NULL, reload_specs, NULL) == 0;
    if (!g_reload_started)
        atomic_store(&g_reload_busy, false);
}

void nes_enclave_providers_stop(void)
{
    if (g_reload_started)
        pthread_join(g_reload, NULL);
    g_reload_started = false;
    nes_s3specs_free(g_specs);
    g_specs = NULL;
    nes_dek_stop();
    nes_aws_credsrc_free(g_creds);
    g_creds = NULL;
    nes_aws_config_clear(&g_aws);
    nes_bridge_stop(g_bridge, 1000);
    g_bridge = NULL;
    if (g_curl)
        nes_aws_global_cleanup();
    g_curl = false;
}
