/* cli_aws.c - what the AWS commands of `nitro-enc` share: the client from the environment (the
 * same rules as the service, aws.h) and log events as stderr lines. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

static const char *env_lookup(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

static void log_event(void *ud, const nes_aws_event *ev)
{
    (void)ud;
    if (ev->level < NES_AWS_LOG_WARN)
        return;
    fprintf(stderr, "nitro-enc: aws %s %s: %s", ev->service ? ev->service : "",
            ev->operation ? ev->operation : "", ev->msg);
    if (ev->http_status)
        fprintf(stderr, " (HTTP %ld)", ev->http_status);
    if (ev->code != NULL && ev->code[0] != '\0')
        fprintf(stderr, ": %s", ev->code);
    if (ev->message != NULL && ev->message[0] != '\0')
        fprintf(stderr, ": %s", ev->message);
    if (ev->skew_secs != 0)
        fprintf(stderr, " (clock offset %+lld s)", ev->skew_secs);
    fputc('\n', stderr);
}

int cli_aws_open(const char *cmd, cli_aws *a)
{
    char why[300];
    if (nes_aws_config_load(&a->cfg, env_lookup, NULL, why, sizeof(why)) != 0) {
        fprintf(stderr, "nitro-enc %s: %s\n", cmd, why);
        return CLI_USAGE;
    }
    a->cfg.log = log_event;
    if (nes_aws_global_init() != 0 || (a->creds = nes_aws_credsrc_new(&a->cfg)) == NULL ||
        (a->client = nes_aws_client_new(&a->cfg, a->creds)) == NULL) {
        fprintf(stderr, "nitro-enc %s: cannot initialise the AWS client\n", cmd);
        cli_aws_close(a);
        return CLI_FAIL;
    }
    return CLI_OK;
}

void cli_aws_close(cli_aws *a)
{
    nes_aws_client_free(a->client);
    nes_aws_credsrc_free(a->creds);
    nes_aws_config_clear(&a->cfg);
    a->client = NULL;
    a->creds = NULL;
}

int cli_aws_fail(const char *what, const nes_aws_error *err)
{
    fprintf(stderr, "nitro-enc: error: %s failed: %s%s%s\n", what, err->code,
            err->code[0] ? ": " : "", err->message);
    return CLI_FAIL;
}
