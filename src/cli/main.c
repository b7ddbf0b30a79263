/* nitro-enc: offline CLI (DESIGN section 1): keygen, encrypt, decrypt, schema lint. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: nitro-enc <command> [options]\n"
    "\n"
    "Encrypts and decrypts the PII fields of JSON documents, as the nitro-enc-svc service does.\n"
    "\n"
    "commands:\n"
    "  keygen        print a fresh data key line (key-file format)\n"
    "  encrypt       replace the PII fields of a JSON document with tokens\n"
    "  decrypt       restore the PII fields of a JSON document from their tokens\n"
    "  schema lint   print the PII paths an OpenAPI spec marks\n"
    "  schema push   lint specs and upload them to the service's S3 bucket\n"
    "  dek create    generate a data key with KMS and store it wrapped in Secrets Manager\n"
    "  dek rotate    add a new data key version (the old one stays as AWSPREVIOUS)\n"
    "\n"
    "`nitro-enc <command> --help` describes each command; `nitro-enc --print-config-reference`\n"
    "prints the options and environment variables as Markdown (docs/configuration.md).\n"
    "exit codes: 0 success, 1 invalid input (JSON, spec, key, token), 2 usage error\n";

int cli_fail(const nes_err *err)
{
    if (err->offset != (size_t)-1)
        fprintf(stderr, "nitro-enc: error: %s (at byte %zu)\n", err->msg, err->offset);
    else
        fprintf(stderr, "nitro-enc: error: %s\n", err->msg);
    return CLI_FAIL;
}

int cli_usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "nitro-enc %s: %s\nTry 'nitro-enc %s --help'.\n", cmd, msg, cmd);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        puts("nitro-enc " NES_VERSION);
        return CLI_OK;
    }
    if (strcmp(cmd, "--print-config-reference") == 0)
        return cli_print_reference();
    if (strcmp(cmd, "keygen") == 0)
        return cli_keygen(argc - 1, argv + 1);
    if (strcmp(cmd, "encrypt") == 0 || strcmp(cmd, "decrypt") == 0)
        return cli_crypt(argc - 1, argv + 1);
    if (strcmp(cmd, "schema") == 0)
        return cli_schema(argc - 1, argv + 1);
    if (strcmp(cmd, "dek") == 0)
        return cli_dek(argc - 1, argv + 1);
    fprintf(stderr, "nitro-enc: unknown command '%s'\n\n%s", cmd, usage);
    return CLI_USAGE;
}
