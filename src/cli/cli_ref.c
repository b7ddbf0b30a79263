/* cli_ref.c - `nitro-enc --print-config-reference`: the CLI's section of docs/configuration.md,
 * its commands' options (a test checks that every option of the getopt tables of src/cli is
 * listed) and the AWS_* variables the AWS commands read (aws/config_ref.h). */
#include <stdio.h>

#include "aws/config_ref.h"
#include "cli/cli.h"
#include "core/cfgref.h"
#include "core/transform.h"
#include "net/cfgref_print.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define G_CRYPT "Options of `nitro-enc encrypt` and `nitro-enc decrypt`"
#define G_SCHEMA "Options of `nitro-enc schema lint` and `nitro-enc schema push`"
#define G_DEK "Options of `nitro-enc dek create` and `nitro-enc dek rotate`"

static const nes_cfgref_var options[] = {
    {G_CRYPT, "--spec FILE", "path", NULL, false, "OpenAPI 3.0 or 3.1, YAML or JSON",
     "spec whose x-pii marks select the fields (required)"},
    {G_CRYPT, "--key KEYFILE", "path", NULL, false, "one base64 key per line",
     "key file; the first key encrypts, every key decrypts (required)"},
    {G_CRYPT, "--operation ID", "string", NULL, false, "an operationId of the spec",
     "operation whose request body is the document's schema (when the spec has several)"},
    {G_CRYPT, "--max-depth N", "integer", STR(NES_DEFAULT_MAX_DEPTH), false, "1 to 100000",
     "deepest JSON nesting accepted"},
    {G_CRYPT, "--unknown-fields", "string", "reject", false, "reject, pass",
     "members no schema declares: refused, or passed unchanged and counted on stderr"},
    {G_CRYPT, "INPUT", "path", "standard input", true, NULL, "the JSON document"},
    {G_SCHEMA, "FILE", "path", NULL, false, "OpenAPI 3.0 or 3.1, YAML or JSON",
     "spec to lint (one) or to push (one or more)"},
    {G_SCHEMA, "--operation ID", "string", NULL, false, "an operationId of the spec",
     "lint: operation whose request body is the root (when the spec has several)"},
    {G_SCHEMA, "--bucket BUCKET", "string", NULL, false, NULL,
     "push: the service's S3_BUCKET (required)"},
    {G_SCHEMA, "--prefix PREFIX", "string", "schemas/", false, NULL,
     "push: the service's S3_PREFIX"},
    {G_DEK, "--kms-key-id ID", "string", NULL, false, "key id, ARN or alias/NAME",
     "KMS key that wraps the new data key (required)"},
    {G_DEK, "--secret-id NAME|ARN", "string", NULL, false, NULL,
     "the secret: the service's SECRET_ARN (required)"},
    {G_DEK, "--encryption-context JSON", "string", NULL, false, "JSON object of strings",
     "KMS encryption context; must match the service's DEK_ENCRYPTION_CONTEXT"},
};

int cli_print_reference(void)
{
    enum { NOPT = sizeof(options) / sizeof(options[0]) };
    nes_cfgref_var v[NOPT + 32];
    size_t n = 0;
    for (size_t i = 0; i < NOPT; i++)
        v[n++] = options[i];
    if (nes_cfgref_append(v, &n, sizeof(v) / sizeof(v[0]), nes_aws_config_ref,
                          nes_aws_config_ref_n) != 0)
        return CLI_FAIL;
    int rc = nes_cfgref_print(stdout, "nitro-enc",
                              "Command-line options of each command (`nitro-enc COMMAND "
                              "--help` says more); `schema push` and `dek` read the AWS_* "
                              "variables below from the environment (the service's rules).",
                              v, n);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}
