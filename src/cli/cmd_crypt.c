/* nitro-enc encrypt | decrypt */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fileio.h"
#include "core/keyring.h"
#include "core/schema.h"
#include "core/transform.h"

static const char usage_fmt[] =
    "usage: nitro-enc %s --spec FILE --key KEYFILE [--operation ID] [--max-depth N]\n"
    "                 [--unknown-fields reject|pass] [INPUT]\n"
    "\n"
    "%s\n"
    "Reads JSON from INPUT (or standard input when INPUT is absent or '-') and writes the\n"
    "result to standard output. Every byte that is not a PII value is copied unchanged.\n"
    "\n"
    "  --spec FILE       OpenAPI 3.0/3.1 spec (YAML or JSON) whose x-pii marks select the fields\n"
    "  --key KEYFILE     key file: one base64 key per line, the first is the current key%s\n"
    "  --operation ID    operationId whose request body is the document's schema (needed when\n"
    "                    the spec has several JSON request bodies and no x-pii-root)\n"
    "  --max-depth N     nesting limit (default %d)\n"
    "  --unknown-fields reject|pass\n"
    "                    a member that no schema of the spec declares at its place: refused\n"
    "                    (reject, the default; the error names its JSON pointer) or passed\n"
    "                    unchanged and counted on standard error (pass)\n"
    "\n"
    "exit codes: 0 success, 1 invalid JSON, spec, key or token, a member the spec does not\n"
    "declare or a PII value of a type its schema does not allow, 2 usage error\n";

typedef struct crypt_args {
    nes_direction dir;
    const char *spec, *key, *operation, *input;
    unsigned max_depth;
    nes_unknown_policy unknown;
} crypt_args;

/* parse_args' result besides the exit codes: --help was printed, exit with CLI_OK. */
enum { PARSED_HELP = -1 };

/* Fills `a` (input defaults to "-", standard input). CLI_OK to run, else an exit code. */
static int parse_args(int argc, char **argv, crypt_args *a)
{
    static const struct option opts[] = {
        {"spec", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        {"operation", required_argument, NULL, 'o'},
        {"max-depth", required_argument, NULL, 'd'},
        {"unknown-fields", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:k:o:d:u:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            a->spec = optarg;
            break;
        case 'k':
            a->key = optarg;
            break;
        case 'o':
            a->operation = optarg;
            break;
        case 'd': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v == 0 || v > 100000)
                return cli_usage_error(cmd, "--max-depth takes a number from 1 to 100000");
            a->max_depth = (unsigned)v;
            break;
        }
        case 'u':
            if (strcmp(optarg, "reject") == 0)
                a->unknown = NES_UNKNOWN_REJECT;
            else if (strcmp(optarg, "pass") == 0)
                a->unknown = NES_UNKNOWN_PASS;
            else
                return cli_usage_error(cmd, "--unknown-fields takes reject or pass");
            break;
        case 'h':
            if (a->dir == NES_ENCRYPT)
                printf(usage_fmt, cmd,
                       "Replaces each PII field with a v1.<nonce>.<ciphertext> token.", "",
                       NES_DEFAULT_MAX_DEPTH);
            else
                printf(usage_fmt, cmd, "Restores each PII field from its token, with its type.",
                       ";\n                    tokens of any key in the file are opened",
                       NES_DEFAULT_MAX_DEPTH);
            return PARSED_HELP;
        default:
            return cli_usage_error(cmd, "unknown option");
        }
    }
    if (a->spec == NULL)
        return cli_usage_error(cmd, "--spec FILE is required");
    if (a->key == NULL)
        return cli_usage_error(cmd, "--key KEYFILE is required");
    if (argc - optind > 1)
        return cli_usage_error(cmd, "takes at most one INPUT");
    if (optind < argc)
        a->input = argv[optind];
    return CLI_OK;
}

static nes_status read_input(const char *input, char **data, size_t *len, nes_err *err)
{
    if (strcmp(input, "-") == 0)
        return nes_read_stream(stdin, "standard input", CLI_MAX_INPUT, data, len, err);
    return nes_read_file(input, CLI_MAX_INPUT, data, len, err);
}

/* Loads spec and keys, transforms the input, writes the result. */
static int run(const crypt_args *a)
{
    nes_err err;
    nes_err_clear(&err);
    nes_spec *spec = NULL;
    nes_keyring *kr = NULL;
    nes_crypter *crypter = NULL;
    char *in = NULL;
    size_t in_len = 0;
    nes_buf out = {0};
    const nes_pii_node *root = NULL;
    int rc = CLI_FAIL;

    if (nes_spec_load_file(a->spec, &spec, &err) != NES_OK ||
        nes_spec_root(spec, a->operation, &root, &err) != NES_OK ||
        nes_keyring_load_file(a->key, &kr, &err) != NES_OK ||
        read_input(a->input, &in, &in_len, &err) != NES_OK) {
        rc = cli_fail(&err);
        goto done;
    }
    crypter = nes_crypter_new(kr);
    if (crypter == NULL) {
        nes_err_set(&err, NES_ERR_CRYPTO, (size_t)-1, "cannot prepare the keys");
        rc = cli_fail(&err);
        goto done;
    }
    nes_codec codec = nes_crypter_codec(crypter);
    nes_transform_opts opts = {.dir = a->dir,
                               .root = root,
                               .codec = &codec,
                               .max_depth = a->max_depth,
                               .unknown = a->unknown};
    nes_transform_stats stats;
    if (nes_transform(&opts, (const uint8_t *)in, in_len, &out, &stats, &err) != NES_OK) {
        rc = cli_fail(&err);
        goto done;
    }
    if (stats.unknown_passed > 0)
        fprintf(stderr, "nitro-enc: %zu member%s that the spec does not declare passed unchanged\n",
                stats.unknown_passed, stats.unknown_passed == 1 ? "" : "s");
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        fputs("nitro-enc: error: cannot write the output\n", stderr);
        goto done;
    }
    rc = CLI_OK;
done:
    nes_buf_free(&out);
    if (in != NULL) {
        explicit_bzero(in, in_len);
        free(in);
    }
    nes_crypter_free(crypter);
    nes_keyring_free(kr);
    nes_spec_free(spec);
    return rc;
}

int cli_crypt(int argc, char **argv)
{
    crypt_args a = {.dir = strcmp(argv[0], "decrypt") == 0 ? NES_DECRYPT : NES_ENCRYPT,
                    .input = "-"};
    int rc = parse_args(argc, argv, &a);
    if (rc == PARSED_HELP)
        return CLI_OK;
    if (rc != CLI_OK)
        return rc;
    return run(&a);
}
