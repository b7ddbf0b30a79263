/* nitro-enc schema push: lint every spec, then upload them to s3://BUCKET/PREFIX<name> where the
 * service's S3 spec provider reads them. Nothing is uploaded when any spec fails its lint. */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3.h"
#include "cli/cli.h"
#include "core/fileio.h"
#include "core/schema.h"

static const char usage[] =
    "usage: nitro-enc schema push FILE... --bucket BUCKET [--prefix PREFIX]\n"
    "\n"
    "Lints each OpenAPI spec FILE (as `schema lint` loads it, with its sibling $refs) and, when\n"
    "every one passes, uploads each to s3://BUCKET/PREFIX<file name>: the service serves\n"
    "<name>.yaml|.yml|.json as the spec <name>. Push sibling files a spec $refs along with it.\n"
    "Nothing is uploaded when a spec fails.\n"
    "\n"
    "  --bucket BUCKET    the service's S3_BUCKET\n"
    "  --prefix PREFIX    the service's S3_PREFIX (default schemas/)\n"
    "\n"
    "AWS settings as the service: AWS_REGION, AWS_ENDPOINT_URL[_S3], credentials, AWS_EGRESS.\n"
    "exit codes: 0 success, 1 a spec failed its lint or AWS failed, 2 usage error\n";

int cli_schema_push(int argc, char **argv)
{
    static const struct option opts[] = {{"bucket", required_argument, NULL, 'b'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *bucket = NULL, *prefix = "schemas/";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:p:h", opts, NULL)) != -1) {
        if (c == 'b') {
            bucket = optarg;
        } else if (c == 'p') {
            prefix = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        } else {
            return cli_usage_error("schema", "unknown option");
        }
    }
    if (bucket == NULL || *bucket == '\0')
        return cli_usage_error("schema", "push needs --bucket");
    if (optind >= argc)
        return cli_usage_error("schema", "push needs at least one FILE");

    int failed = 0;
    for (int i = optind; i < argc; i++) {
        nes_err err;
        nes_err_clear(&err);
        nes_spec *spec = NULL;
        if (nes_spec_load_file(argv[i], &spec, &err) != NES_OK) {
            fprintf(stderr, "nitro-enc: %s: refused: %s\n", argv[i], err.msg);
            failed++;
        } else {
            fprintf(stderr, "nitro-enc: %s: lint ok\n", argv[i]);
        }
        nes_spec_free(spec);
    }
    if (failed > 0) {
        fprintf(stderr, "nitro-enc: error: %d spec%s failed the lint; nothing uploaded\n", failed,
                failed == 1 ? "" : "s");
        return CLI_FAIL;
    }

    cli_aws a = {0};
    int rc = cli_aws_open("schema", &a);
    if (rc != CLI_OK)
        return rc;
    for (int i = optind; i < argc && rc == CLI_OK; i++) {
        char *data = NULL;
        size_t len = 0;
        nes_err ferr;
        nes_err_clear(&ferr);
        if (nes_read_file(argv[i], NES_SPEC_MAX_BYTES, &data, &len, &ferr) != NES_OK) {
            rc = cli_fail(&ferr);
            break;
        }
        char *copy = strdup(argv[i]);
        const char *base = copy ? basename(copy) : argv[i];
        size_t klen = strlen(prefix) + strlen(base) + 1;
        char *key = malloc(klen);
        if (key != NULL) {
            snprintf(key, klen, "%s%s", prefix, base);
            size_t bl = strlen(base);
            bool json = bl > 5 && strcmp(base + bl - 5, ".json") == 0;
            nes_aws_error err;
            fprintf(stderr, "nitro-enc: uploading %s to s3://%s/%s\n", argv[i], bucket, key);
            if (nes_s3_put_object(a.client, bucket, key, data, len,
                                  json ? "application/json" : "application/yaml", &err) != 0)
                rc = cli_aws_fail("S3 PutObject", &err);
            else
                printf("s3://%s/%s\n", bucket, key);
        } else {
            rc = CLI_FAIL;
        }
        free(key);
        free(copy);
        free(data);
    }
    cli_aws_close(&a);
    if (fflush(stdout) != 0)
        rc = CLI_FAIL;
    return rc;
}
