/* nitro-enc dek create | rotate: a fresh DEK from KMS GenerateDataKey, its wrapped form stored in
 * Secrets Manager (DESIGN section 5). The plaintext key never leaves locked memory and is wiped as
 * soon as KMS has answered: only the CiphertextBlob is stored, nothing is printed but the secret's
 * ARN and version. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "aws/kms.h"
#include "aws/secrets.h"
#include "cli/cli.h"
#include "core/secmem.h"

static const char usage[] =
    "usage: nitro-enc dek create --kms-key-id ID --secret-id NAME|ARN [--encryption-context JSON]\n"
    "       nitro-enc dek rotate --kms-key-id ID --secret-id NAME|ARN [--encryption-context JSON]\n"
    "\n"
    "Generates a fresh 32-byte data key with KMS GenerateDataKey (AES_256) under the KMS key ID\n"
    "and stores its KMS-wrapped form (CiphertextBlob, as SecretBinary) in Secrets Manager:\n"
    "  create   creates the secret; when it exists already, adds a new version as rotate does\n"
    "  rotate   adds a new version to an existing secret: it becomes AWSCURRENT and the\n"
    "           previous current version AWSPREVIOUS (the service keeps decrypting with it)\n"
    "The plaintext key is never printed or written. Prints the secret's ARN and version id.\n"
    "\n"
    "  --kms-key-id ID              KMS key id, ARN or alias/NAME that wraps the data key\n"
    "  --secret-id NAME|ARN         the secret (SECRET_ARN of the service)\n"
    "  --encryption-context JSON    KMS encryption context, a JSON object of strings (must\n"
    "                               match the service's DEK_ENCRYPTION_CONTEXT)\n"
    "\n"
    "AWS settings as the service: AWS_REGION, AWS_ENDPOINT_URL[_KMS|_SECRETS_MANAGER],\n"
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN or IMDSv2, AWS_EGRESS.\n"
    "exit codes: 0 success, 1 AWS refused or failed, 2 usage error\n";

int cli_dek(int argc, char **argv)
{
    static const struct option opts[] = {{"kms-key-id", required_argument, NULL, 'k'},
                                         {"secret-id", required_argument, NULL, 's'},
                                         {"encryption-context", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    bool rotate = strcmp(sub, "rotate") == 0;
    if (!rotate && strcmp(sub, "create") != 0)
        return cli_usage_error("dek", "the subcommands are 'create' and 'rotate'");
    argc--;
    argv++;
    const char *key_id = NULL, *secret_id = NULL, *ctx = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:s:c:h", opts, NULL)) != -1) {
        if (c == 'k') {
            key_id = optarg;
        } else if (c == 's') {
            secret_id = optarg;
        } else if (c == 'c') {
            ctx = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        } else {
            return cli_usage_error("dek", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("dek", "takes no positional arguments");
    if (key_id == NULL || *key_id == '\0' || secret_id == NULL || *secret_id == '\0')
        return cli_usage_error("dek", "--kms-key-id and --secret-id are required");

    cli_aws a = {0};
    int rc = cli_aws_open("dek", &a);
    if (rc != CLI_OK)
        return rc;
    uint8_t *dek = nes_secure_alloc(32);
    nes_buf blob = {0};
    nes_aws_error err;
    char arn[512] = "", version[96] = "";
    if (dek == NULL) {
        fputs("nitro-enc: error: cannot allocate locked memory\n", stderr);
        rc = CLI_FAIL;
        goto out;
    }
    fprintf(stderr, "nitro-enc: generating a data key with KMS key %s\n", key_id);
    if (nes_kms_generate_data_key(a.client, key_id, ctx, dek, &blob, &err) != 0) {
        rc = cli_aws_fail("KMS GenerateDataKey", &err);
        goto out;
    }
    explicit_bzero(dek, 32); /* only the wrapped form is kept */

    bool is_arn = strncmp(secret_id, "arn:", 4) == 0;
    if (!rotate && !is_arn) {
        fprintf(stderr, "nitro-enc: creating secret %s\n", secret_id);
        if (nes_sm_create_secret(a.client, secret_id, blob.data, blob.len, arn, sizeof(arn),
                                 &err) == 0) {
            nes_secret_value v = {0};
            if (nes_sm_get_secret_value(a.client, secret_id, NULL, &v, &err) == 0)
                snprintf(version, sizeof(version), "%s", v.version_id);
            nes_secret_value_free(&v);
            printf("%s %s\n", arn, version);
            rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
            goto out;
        }
        if (strcmp(err.code, "ResourceExistsException") != 0) {
            rc = cli_aws_fail("Secrets Manager CreateSecret", &err);
            goto out;
        }
        fprintf(stderr, "nitro-enc: secret %s exists; adding a new version\n", secret_id);
    } else {
        fprintf(stderr, "nitro-enc: adding a new version to secret %s\n", secret_id);
    }
    if (nes_sm_put_secret_value(a.client, secret_id, blob.data, blob.len, version, sizeof(version),
                                &err) != 0) {
        rc = cli_aws_fail("Secrets Manager PutSecretValue", &err);
        goto out;
    }
    nes_secret_value v = {0};
    if (nes_sm_get_secret_value(a.client, secret_id, NULL, &v, &err) == 0)
        snprintf(arn, sizeof(arn), "%s", v.arn);
    nes_secret_value_free(&v);
    fprintf(stderr, "nitro-enc: new version is AWSCURRENT; the previous one is AWSPREVIOUS\n");
    printf("%s %s\n", arn[0] ? arn : secret_id, version);
    rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
out:
    nes_secure_free(dek, 32);
    nes_buf_free(&blob);
    cli_aws_close(&a);
    return rc;
}
