/* aws_tool - drives the AWS client layer and the S3 spec provider for the pytest suite
 * (tests/integration/test_aws_*.py). Settings come from the environment, as for the programs.
 *
 *   aws_tool kms-generate KEYID              GenerateDataKey; prints "ok blob=<n>"
 *   aws_tool kms-decrypt KEYID BLOBHEX       Decrypt; prints "ok plaintext=<n>" (length only)
 *   aws_tool sm-get SECRET [STAGE]           prints "ok version=<id> binary=<0|1> len=<n>"
 *   aws_tool s3-list BUCKET PREFIX MAX       prints "ok n=<count>" then one key per line
 *   aws_tool s3-get BUCKET KEY MAX [ETAG]    prints "ok len=<n> etag=<e>" or "not-modified"
 *   aws_tool specs BUCKET PREFIX MAXBYTES    the spec provider; stdin commands:
 *        refresh  -> "refresh rc=<r> specs=<name:ops:nodes,...> errors=<n> not_modified=<n>"
 *        show     -> the same line without refreshing (rc=0)
 *        start    -> starts the background thread (AWS_TEST_REFRESH_SECS), waits for the first
 *                    set: "start rc=<r> ready=<0|1>"
 * Failures print "error kind=<kind> code=<code> status=<http> attempts=<n> message=<msg>" and
 * exit 1; usage errors exit 2. AWS events are logged as the service logs them (stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../testutil.h"
#include "aws/kms.h"
#include "aws/s3.h"
#include "aws/secrets.h"
#include "enclave/providers/aws_log.h"
#include "enclave/providers/s3specs.h"
#include "enclave/state.h"
#include "obs/log.h"

static const char *env_lookup(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

static int fail(const nes_aws_error *e)
{
    printf("error kind=%s code=%s status=%ld attempts=%d message=%s\n",
           nes_aws_errkind_name(e->kind), e->code, e->http_status, e->attempts, e->message);
    return 1;
}

static int specs(nes_aws_config *cfg, nes_aws_credsrc *cr, char **argv)
{
    _Atomic uint64_t errors = 0;
    const char *every = getenv("AWS_TEST_REFRESH_SECS");
    nes_s3specs_config sc = {.aws = cfg,
                             .creds = cr,
                             .bucket = argv[0],
                             .prefix = argv[1],
                             .refresh_secs = every ? (unsigned)strtoul(every, NULL, 10) : 3600,
                             .max_bytes = (size_t)strtoull(argv[2], NULL, 10),
                             .errors = &errors};
    char why[256];
    nes_s3specs *p = nes_s3specs_new(&sc, why, sizeof(why));
    if (p == NULL) {
        printf("error %s\n", why);
        return 1;
    }
    char line[256];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        int rc = 0;
        if (strncmp(line, "start", 5) == 0) {
            rc = nes_s3specs_start(p);
            printf("start rc=%d ready=%d\n", rc, nes_s3specs_wait_ready(p, 10000));
            fflush(stdout);
            continue;
        }
        if (strncmp(line, "refresh", 7) == 0)
            rc = nes_s3specs_refresh(p);
        else if (strncmp(line, "show", 4) != 0)
            continue;
        nes_s3specs_stats st;
        nes_s3specs_get_stats(p, &st);
        printf("refresh rc=%d specs=", rc);
        const nes_snapshot *s = nes_state_enter();
        static const char *const names[] = {"payments", "twoops", "main", "a", "b", "c", "big"};
        int first = 1;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            const nes_spec *sp = nes_snapshot_spec(s, names[i]);
            if (sp == NULL)
                continue;
            printf("%s%s:%zu:%zu", first ? "" : ",", names[i], nes_spec_operation_count(sp),
                   nes_spec_node_count(sp));
            first = 0;
        }
        printf(" total=%zu errors=%llu not_modified=%llu\n", nes_snapshot_nspecs(s),
               (unsigned long long)atomic_load(&errors), (unsigned long long)st.not_modified);
        nes_state_leave();
        fflush(stdout);
        nes_state_reclaim();
    }
    nes_s3specs_free(p);
    nes_state_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    nes_log_configure(NES_LOG_INFO, 2);
    nes_aws_config cfg;
    char why[300];
    if (nes_aws_config_load(&cfg, env_lookup, NULL, why, sizeof(why)) != 0) {
        printf("error kind=config message=%s\n", why);
        return 2;
    }
    cfg.log = nes_aws_log_to_service;
    cfg.on_call = nes_aws_call_to_service; /* metrics and spans of each call (issue 12) */
    if (getenv("AWS_TEST_BRIDGE") != NULL)
        nes_aws_config_set_bridge(&cfg, getenv("AWS_TEST_BRIDGE"));
    nes_aws_global_init();
    nes_aws_credsrc *cr = nes_aws_credsrc_new(&cfg);
    nes_aws_client *c = nes_aws_client_new(&cfg, cr);
    const char *cmd = argv[1];
    nes_aws_error err;
    int rc = 2;
    if (strcmp(cmd, "kms-generate") == 0) {
        uint8_t dek[32];
        nes_buf blob = {0};
        rc = nes_kms_generate_data_key(c, argv[2], NULL, dek, &blob, &err) ? fail(&err) : 0;
        if (rc == 0) {
            printf("ok blob=%zu hex=", blob.len);
            tu_put_hex(stdout, blob.data, blob.len);
            printf("\n");
        }
        explicit_bzero(dek, sizeof(dek));
        nes_buf_free(&blob);
    } else if (strcmp(cmd, "kms-decrypt") == 0 && argc >= 4) {
        size_t n = strlen(argv[3]) / 2;
        uint8_t *blob = malloc(n + 1), pt[64];
        if (blob != NULL && tu_unhex(argv[3], strlen(argv[3]), blob) == 0) {
            nes_kms_decrypted out = {.plaintext = pt, .plaintext_cap = sizeof(pt)};
            rc = nes_kms_decrypt(c, argv[2], blob, n, NULL, NULL, &out, &err) ? fail(&err) : 0;
            if (rc == 0)
                printf("ok plaintext=%zu\n", out.plaintext_len);
            nes_kms_decrypted_free(&out);
        }
        free(blob);
    } else if (strcmp(cmd, "sm-get") == 0) {
        nes_secret_value v = {0};
        rc = nes_sm_get_secret_value(c, argv[2], argc > 3 ? argv[3] : NULL, &v, &err) ? fail(&err)
                                                                                      : 0;
        if (rc == 0)
            printf("ok version=%s binary=%d len=%zu\n", v.version_id, v.is_binary, v.value.len);
        nes_secret_value_free(&v);
    } else if (strcmp(cmd, "s3-list") == 0 && argc >= 5) {
        nes_s3_list l = {0};
        rc = nes_s3_list_objects(c, argv[2], argv[3], (size_t)strtoull(argv[4], NULL, 10), &l, &err)
                 ? fail(&err)
                 : 0;
        if (rc == 0) {
            printf("ok n=%zu\n", l.n);
            for (size_t i = 0; i < l.n; i++)
                printf("%s %s %llu\n", l.objects[i].key, l.objects[i].etag,
                       (unsigned long long)l.objects[i].size);
        }
        nes_s3_list_free(&l);
    } else if (strcmp(cmd, "s3-get") == 0 && argc >= 5) {
        nes_buf body = {0};
        char etag[NES_S3_MAX_ETAG];
        nes_s3_get_result r =
            nes_s3_get_object(c, argv[2], argv[3], argc > 5 ? argv[5] : NULL,
                              (size_t)strtoull(argv[4], NULL, 10), &body, etag, &err);
        if (r == NES_S3_GET_FAILED)
            rc = fail(&err);
        else if (r == NES_S3_GET_NOT_MODIFIED)
            rc = (printf("not-modified\n"), 0);
        else
            rc = (printf("ok len=%zu etag=%s\n", body.len, etag), 0);
        nes_buf_free(&body);
    } else if (strcmp(cmd, "specs") == 0 && argc >= 5) {
        rc = specs(&cfg, cr, argv + 2);
    }
    printf("skew=%lld\n", nes_aws_client_skew(c));
    nes_aws_client_free(c);
    nes_aws_credsrc_free(cr);
    nes_aws_config_clear(&cfg);
    nes_aws_global_cleanup();
    return rc;
}
