/* nitro-enc schema lint */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/schema.h"

#define NES_STR_(x) #x
#define NES_STR(x) NES_STR_(x)

static const char usage[] =
    "usage: nitro-enc schema lint FILE [--operation ID]\n"
    "       nitro-enc schema push FILE... --bucket BUCKET [--prefix PREFIX]  (push --help)\n"
    "\n"
    "Loads the OpenAPI spec FILE and prints, one per line and sorted, the paths of the fields\n"
    "its x-pii marks select in the request body: `user.address.ssn`, `orders[].card_number`\n"
    "(`[]`: every array element), `labels.*` (`*`: every value of a map). A recursive schema\n"
    "prints each path up to its first re-entry, marked ' (recursive)'; `$` is the whole body.\n"
    "\n"
    "Then it lists, sorted, the open places of the body: where a member that the spec does not\n"
    "declare passes instead of being refused (fail closed). Each is one line\n"
    "  open: PATH (REASON)\n"
    "where PATH ends in `.*` for an object whose undeclared members pass, and REASON is\n"
    "`any value` ({} or true), `free-form object` (additionalProperties: true, {}, or an object\n"
    "schema that declares no member) or `x-pii-unknown-fields: pass`.\n"
    "\n"
    "  --operation ID    operationId whose request body is the root (needed when the spec has\n"
    "                    several JSON request bodies and no x-pii-root)\n"
    "\n"
    "exit codes: 0 success, 1 invalid spec or ambiguous root, 2 usage error\n";

static int print_path(void *ud, const char *path)
{
    (void)ud;
    return puts(path) < 0 ? 1 : 0;
}

static int print_open(void *ud, const char *path, nes_open_kind kind)
{
    (void)ud;
    static const char *const why[] = {"any value", "free-form object",
                                      "x-pii-unknown-fields: pass"};
    return printf("open: %s (%s)\n", path, why[kind]) < 0 ? 1 : 0;
}

int cli_schema(int argc, char **argv)
{
    static const struct option opts[] = {{"operation", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "push") == 0)
        return cli_schema_push(argc - 1, argv + 1);
    if (strcmp(argv[1], "lint") != 0)
        return cli_usage_error("schema", "the subcommands are 'lint' and 'push'");
    argc--;
    argv++;
    const char *operation = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'o') {
            operation = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        } else {
            return cli_usage_error("schema", "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("schema", "lint takes exactly one FILE");

    nes_err err;
    nes_err_clear(&err);
    nes_spec *spec = NULL;
    const nes_pii_node *root = NULL;
    int rc = CLI_FAIL;
    if (nes_spec_load_file(argv[optind], &spec, &err) != NES_OK ||
        nes_spec_root(spec, operation, &root, &err) != NES_OK) {
        rc = cli_fail(&err);
    } else {
        int prc = nes_pii_paths(root, print_path, NULL);
        if (prc == 0)
            prc = nes_pii_open(root, print_open, NULL);
        if (prc == 0 && fflush(stdout) == 0) {
            rc = CLI_OK;
        } else {
            const char *why = "cannot write the output";
            if (prc == NES_PII_PATHS_TOO_MANY)
                why = "too many PII paths to list (more than " NES_STR(NES_PII_MAX_PATHS) ")";
            else if (prc == NES_PII_PATHS_TOO_LONG)
                why = "a PII path is longer than " NES_STR(
                    NES_PII_MAX_PATH_LEN) " characters "
                                          "(the schema nests too deeply to list its paths)";
            else if (prc < 0)
                why = "out of memory";
            nes_err_set(&err, NES_ERR_LIMIT, (size_t)-1, "%s", why);
            rc = cli_fail(&err);
        }
    }
    nes_spec_free(spec);
    return rc;
}
