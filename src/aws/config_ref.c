/* config_ref.c - reference rows of the AWS_* variables (see config_ref.h). */
#include "aws/config_ref.h"

#include <string.h>

#define G NES_AWS_CONFIG_GROUP

const nes_cfgref_var nes_aws_config_ref[] = {
    {G, "AWS_REGION", "string", NULL, false, "a region name such as eu-west-1",
     "AWS region of every call (required; else AWS_DEFAULT_REGION)"},
    {G, "AWS_DEFAULT_REGION", "string", NULL, false, "a region name",
     "the region when AWS_REGION is unset"},
    {G, "AWS_ENDPOINT_URL", "URL", "https://SERVICE.REGION.amazonaws.com", true,
     "http:// or https:// URL",
     "endpoint of every AWS service (emulators such as moto); "
     "S3 is then addressed path-style"},
    {G, "AWS_ENDPOINT_URL_KMS", "URL", "AWS_ENDPOINT_URL", true, "http:// or https:// URL",
     "KMS endpoint (wins over AWS_ENDPOINT_URL)"},
    {G, "AWS_ENDPOINT_URL_SECRETS_MANAGER", "URL", "AWS_ENDPOINT_URL", true,
     "http:// or https:// URL", "Secrets Manager endpoint (wins over AWS_ENDPOINT_URL)"},
    {G, "AWS_ENDPOINT_URL_S3", "URL", "AWS_ENDPOINT_URL", true, "http:// or https:// URL",
     "S3 endpoint (wins over AWS_ENDPOINT_URL)"},
    {G, "AWS_EGRESS", "string", "direct", false, "direct, tcp://HOST:PORT, vsock://CID:PORT",
     "how calls leave the process: straight, an HTTP CONNECT proxy, or a vsock proxy"},
    {G, "AWS_EGRESS_MODE", "string", "connect", false, "connect, forward",
     "what the egress proxy speaks: CONNECT for every host, or a fixed port forward"},
    {G, "VSOCK_PROXY_CID", "integer", NULL, false, "0 to 4294967295",
     "vsock egress CID when AWS_EGRESS is unset (with VSOCK_PROXY_PORT)"},
    {G, "VSOCK_PROXY_PORT", "integer", "8000", false, "1 to 4294967295",
     "vsock egress port that goes with VSOCK_PROXY_CID"},
    {G, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "URL", "http://169.254.169.254", false,
     "http:// or https:// URL",
     "IMDSv2 endpoint for the instance role's credentials (through the egress path)"},
    {G, "AWS_ACCESS_KEY_ID", "string", NULL, false, NULL,
     "static access key (with AWS_SECRET_ACCESS_KEY); unset: IMDSv2 credentials"},
    {G, "AWS_SECRET_ACCESS_KEY", "string", NULL, false, NULL,
     "static secret key (secret: never printed)"},
    {G, "AWS_SESSION_TOKEN", "string", NULL, false, NULL,
     "session token of temporary static credentials (secret: never printed)"},
    {G, "AWS_CONNECT_TIMEOUT_MS", "integer (ms)", "3000", false, "10 to 600000",
     "bound on connecting to an endpoint"},
    {G, "AWS_TIMEOUT_MS", "integer (ms)", "10000", false, "10 to 3600000",
     "bound on one attempt of a call"},
    {G, "AWS_MAX_ATTEMPTS", "integer", "4", false, "1 to 20",
     "attempts per call (throttling, 5xx and connection errors retried with backoff)"},
    {G, "AWS_CA_BUNDLE", "string", NULL, false, "a PEM file",
     "CA bundle for TLS to the endpoints (unset: the system's)"},
};

const size_t nes_aws_config_ref_n = sizeof(nes_aws_config_ref) / sizeof(nes_aws_config_ref[0]);

const nes_cfgref_var *nes_aws_config_ref_find(const char *name)
{
    for (size_t i = 0; i < nes_aws_config_ref_n; i++)
        if (strcmp(nes_aws_config_ref[i].name, name) == 0)
            return &nes_aws_config_ref[i];
    return NULL;
}
