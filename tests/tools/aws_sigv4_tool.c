/* aws_sigv4_tool - prints our SigV4 signature for a request described on stdin, for the pytest
 * that compares it with botocore's (tests/integration/test_aws_sigv4.py).
 *
 * Input lines (values in hex so any byte passes; "-" is empty):
 *   method GET | service s3 | region us-east-1 | host HOST | path HEX | time UNIX
 *   query HEXNAME HEXVALUE|novalue | header NAME HEXVALUE | payload HEX
 *   access AKID | secret HEX | token HEX
 * Output lines: authorization, amz_date, path, query (each "name value"). Exit 1 when signing
 * fails, 2 on malformed input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "../testutil.h"

#define MAXF 32

static char *unhex_str(const char *s)
{
    size_t n = strlen(s);
    char *out = calloc(n / 2 + 2, 1);
    size_t len = 0;
    if (out == NULL || tu_unhex_field(s, (uint8_t *)out, &len) != 0) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

int main(void)
{
    static char line[1 << 20];
    nes_sigv4_request r = {0};
    nes_sigv4_pair q[MAXF], h[MAXF];
    char *owned[4 * MAXF + 16];
    size_t nowned = 0;
    char *payload = NULL;
    size_t payload_len = 0;
    while (fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (sp == NULL)
            continue;
        *sp = '\0';
        const char *k = line;
        char *v = sp + 1;
        char *v2 = strchr(v, ' ');
        if (v2 != NULL)
            *v2++ = '\0';
        char *dup = NULL;
        if (strcmp(k, "method") == 0 || strcmp(k, "service") == 0 || strcmp(k, "region") == 0 ||
            strcmp(k, "host") == 0 || strcmp(k, "access") == 0 || strcmp(k, "time") == 0 ||
            strcmp(k, "header") == 0)
            dup = strdup(v);
        else
            dup = unhex_str(v);
        if (dup == NULL || nowned >= sizeof(owned) / sizeof(owned[0]) - 1)
            return 2;
        owned[nowned++] = dup;
        if (strcmp(k, "method") == 0) {
            r.method = dup;
        } else if (strcmp(k, "service") == 0) {
            r.service = dup;
        } else if (strcmp(k, "region") == 0) {
            r.region = dup;
        } else if (strcmp(k, "host") == 0) {
            r.host = dup;
        } else if (strcmp(k, "access") == 0) {
            r.access_key = dup;
        } else if (strcmp(k, "time") == 0) {
            r.now = (time_t)strtoll(dup, NULL, 10);
        } else if (strcmp(k, "path") == 0) {
            r.path = dup;
        } else if (strcmp(k, "secret") == 0) {
            r.secret_key = dup;
        } else if (strcmp(k, "token") == 0) {
            r.session_token = dup;
        } else if (strcmp(k, "payload") == 0) {
            payload = dup;
            payload_len = strcmp(v, "-") == 0 ? 0 : strlen(v) / 2;
        } else if (strcmp(k, "query") == 0 && v2 != NULL && r.nquery < MAXF) {
            char *val = strcmp(v2, "novalue") == 0 ? NULL : unhex_str(v2);
            if (val != NULL)
                owned[nowned++] = val;
            q[r.nquery].name = dup;
            q[r.nquery++].value = val;
        } else if (strcmp(k, "header") == 0 && v2 != NULL && r.nheaders < MAXF) {
            char *val = unhex_str(v2);
            if (val == NULL)
                return 2;
            owned[nowned++] = val;
            h[r.nheaders].name = dup;
            h[r.nheaders++].value = val;
        } else {
            return 2;
        }
    }
    char hash[65];
    nes_sigv4_sha256_hex(payload ? payload : "", payload_len, hash);
    r.payload_hash = hash;
    r.query = q;
    r.headers = h;
    nes_sigv4_result res = {0};
    int rc = nes_sigv4_sign(&r, &res);
    if (rc == 0) {
        printf("authorization %s\n", res.authorization);
        printf("amz_date %s\n", res.amz_date);
        printf("path %s\n", (const char *)res.wire_path.data);
        printf("query %s\n", (const char *)res.wire_query.data);
        printf("payload_hash %s\n", hash);
    }
    nes_sigv4_result_free(&res);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    return rc == 0 ? 0 : 1;
}
