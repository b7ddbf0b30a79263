/* bench_transform: throughput of nes_transform (encrypt and decrypt) on bodies of about 1 KiB,
 * 64 KiB and 1 MiB with sparse PII (3 PII fields per record of about 1 KiB), beside memcpy of
 * the same bytes and plain validation. Two codecs: the real one (nes_crypter: HMAC nonce,
 * AES-256-GCM-SIV, base64url) and the tests' fake one (tests/fake_codec.h: token = "T" + hex +
 * "~" + context) that isolates the JSON work. "closed" runs the fake codec with the automaton of a
 * spec that declares every member of the record (fail closed: every member is looked up and
 * checked, DESIGN section 6), against the hand-built automaton that only knows the PII paths.
 * Usage: bench_transform [seconds-per-case] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tests/fake_codec.h"
#include "bench_common.h"
#include "core/keyring.h"
#include "core/schema.h"
#include "core/transform.h"

/* The record's schema with every member declared (the service refuses undeclared ones). */
static const char record_spec[] = "openapi: 3.1.0\n"
                                  "x-pii-root: '#/$defs/Body'\n"
                                  "$defs:\n"
                                  "  Body: {type: array, items: {$ref: '#/$defs/Record'}}\n"
                                  "  Record:\n"
                                  "    type: object\n"
                                  "    properties:\n"
                                  "      id: {type: integer}\n"
                                  "      name: {type: string}\n"
                                  "      email: {type: string, x-pii: true}\n"
                                  "      ssn: {type: string, x-pii: true, x-pii-context: ssn}\n"
                                  "      active: {type: boolean}\n"
                                  "      balance: {type: number}\n"
                                  "      address:\n"
                                  "        type: object\n"
                                  "        properties:\n"
                                  "          street: {type: string}\n"
                                  "          city: {type: string}\n"
                                  "          zip: {type: string, x-pii: true}\n"
                                  "      tags: {type: array, items: {type: string}}\n"
                                  "      notes: {type: string}\n"
                                  "      history:\n"
                                  "        type: array\n"
                                  "        items:\n"
                                  "          type: object\n"
                                  "          properties:\n"
                                  "            ts: {type: string}\n"
                                  "            event: {type: string}\n"
                                  "            ok: {type: boolean}\n"
                                  "            score: {type: number}\n"
                                  "            items: {type: array, items: {type: integer}}\n"
                                  "            meta:\n"
                                  "              type: object\n"
                                  "              properties:\n"
                                  "                ip: {type: string}\n"
                                  "                agent: {type: string}\n"
                                  "                lang: {type: string}\n"
                                  "                tz: {type: [string, 'null']}\n"
                                  "      preferences:\n"
                                  "        type: object\n"
                                  "        properties:\n"
                                  "          theme: {type: string}\n"
                                  "          font: {type: string}\n"
                                  "          size: {type: integer}\n"
                                  "          alerts:\n"
                                  "            type: object\n"
                                  "            properties: {email: {type: boolean}, sms: {type: "
                                  "boolean}, push: {type: boolean}}\n";

/* One record of about 1 KiB: ssn, email and address.zip are PII; history has none. */
static int record(char *p, size_t cap, unsigned i)
{
    return snprintf(
        p, cap,
        "{\"id\":%u,\"name\":\"Customer %u\",\"email\":\"user%u@example.com\","
        "\"ssn\":\"%03u-45-%04u\",\"active\":true,\"balance\":%u.25,"
        "\"address\":{\"street\":\"%u Main Street\",\"city\":\"Springfield\",\"zip\":\"%05u\"},"
        "\"tags\":[\"gold\",\"newsletter\",\"beta\"],"
        "\"notes\":\"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
        "tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam.\","
        "\"history\":[{\"ts\":\"2024-01-01T00:00:00Z\",\"event\":\"login\",\"ok\":true,"
        "\"score\":12.5},{\"ts\":\"2024-01-02T10:11:12Z\",\"event\":\"purchase\",\"ok\":true,"
        "\"score\":-3.75e2,\"items\":[1,2,3,4,5,6,7,8]},{\"ts\":\"2024-01-03T08:00:00Z\","
        "\"event\":\"logout\",\"ok\":false,\"score\":0,\"meta\":{\"ip\":\"10.0.0.1\","
        "\"agent\":\"Mozilla/5.0 (X11; Linux x86_64)\",\"lang\":\"en-US\",\"tz\":null}}],"
        "\"preferences\":{\"theme\":\"dark\",\"font\":\"mono\",\"size\":14,\"alerts\":"
        "{\"email\":false,\"sms\":true,\"push\":true}}}",
        i, i, i, i % 1000, i % 10000, i, i, i % 100000);
}

/* A JSON array of records totalling about `target` bytes. */
static char *make_body(size_t target, size_t *len)
{
    char *body = malloc(target + 4096);
    size_t n = 0;
    body[n++] = '[';
    /* Records are about 830 bytes: stop before one would overshoot the target. */
    for (unsigned i = 0; i == 0 || n + 832 <= target; i++) {
        if (i > 0)
            body[n++] = ',';
        n += (size_t)record(body + n, target + 4096 - n, i);
    }
    body[n++] = ']';
    *len = n;
    return body;
}

typedef enum { K_MEMCPY, K_VALIDATE, K_ENCRYPT, K_DECRYPT } kind;

/* Runs one case for about `secs` seconds; returns MB/s over the input size. */
static double run(kind k, const nes_transform_opts *opts, const uint8_t *in, size_t len,
                  double secs)
{
    nes_buf out = {0};
    nes_buf_reserve(&out, len * 3);
    size_t iters = 0;
    double t0 = bench_now_ns(), t1;
    do {
        for (int r = 0; r < 16; r++) {
            out.len = 0;
            nes_status st = NES_OK;
            if (k == K_MEMCPY)
                memcpy(out.data, in, len);
            else if (k == K_VALIDATE)
                st = nes_json_validate(in, len, 0, NULL);
            else
                st = nes_transform(opts, in, len, &out, NULL, NULL);
            if (st != NES_OK) {
                fprintf(stderr, "transform failed: %s\n", nes_status_name(st));
                exit(1);
            }
            __asm__ volatile("" ::"r"(out.data) : "memory");
        }
        iters += 16;
        t1 = bench_now_ns();
    } while (t1 - t0 < secs * 1e9);
    nes_buf_free(&out);
    return (double)len * (double)iters / (t1 - t0) * 1e3; /* bytes/ns -> MB/s */
}

/* The hand-built automaton that knows only the PII paths (ssn, email, address.zip of every
 * record); an undeclared member passes and is counted (NES_MEMBERS_PASS: the enc/dec columns) or
 * is any value, neither looked at nor counted (NES_MEMBERS_ANY: the member check off). */
static nes_pii_graph *pii_paths_graph(nes_members members, const nes_pii_node **root_out)
{
    nes_pii_graph *g = nes_pii_graph_new();
    nes_pii_node *root = nes_pii_node_new(g, "Body");
    nes_pii_node *rec = nes_pii_node_new(g, "Record");
    nes_pii_node *addr = nes_pii_node_new(g, "Address");
    nes_pii_node *ssn = nes_pii_node_new(g, NULL);
    nes_pii_node *email = nes_pii_node_new(g, NULL);
    nes_pii_node *zip = nes_pii_node_new(g, NULL);
    root->items = rec;
    nes_pii_node_set_prop(g, rec, "ssn", 3, ssn);
    nes_pii_node_set_prop(g, rec, "email", 5, email);
    nes_pii_node_set_prop(g, rec, "address", 7, addr);
    nes_pii_node_set_prop(g, addr, "zip", 3, zip);
    nes_pii_node_mark(g, ssn, NES_VT_STRING, "ssn", 3);
    nes_pii_node_mark(g, email, NES_VT_STRING, NULL, 0);
    nes_pii_node_mark(g, zip, NES_VT_ANY, NULL, 0);
    root->members = rec->members = addr->members = (uint8_t)members;
    nes_pii_graph_finish(g);
    *root_out = root;
    return g;
}

/* The member check's cost: the spec's automaton (every member looked up) with undeclared members
 * refused (UNKNOWN_FIELDS=reject, the default) and passed (pass), against the hand-built
 * automaton that follows only the PII paths (no member check: what the transform did before fail
 * closed). Same body, same run; the ratios are what "within noise" is read off. */
static void member_check_lines(const nes_transform_opts *off, const nes_transform_opts *rej,
                               const nes_transform_opts *pass, const char *what, const uint8_t *in,
                               size_t len, double secs)
{
    /* alternate the three so drifting load hits each alike; keep each one's best round */
    double b_off = 0, b_rej = 0, b_pass = 0;
    for (int round = 0; round < 3; round++) {
        double o = run(K_ENCRYPT, off, in, len, secs / 3);
        double r = run(K_ENCRYPT, rej, in, len, secs / 3);
        double p = run(K_ENCRYPT, pass, in, len, secs / 3);
        b_off = o > b_off ? o : b_off;
        b_rej = r > b_rej ? r : b_rej;
        b_pass = p > b_pass ? p : b_pass;
    }
    printf("member check, %-11s 1 MiB encrypt: off %6.0f | reject %6.0f (%.3f) | pass %6.0f "
           "(%.3f)  MB/s (ratio to off)\n",
           what, b_off, b_rej, b_rej / b_off, b_pass, b_pass / b_off);
}

/* One named case of the count mode. */
typedef struct named_case {
    const char *name;
    const nes_transform_opts *opts;
} named_case;

/* The count mode: case `name` of cases[0..n) `reps` times on the 64 KiB body; prints the sum of
 * the output lengths. 0, 1 when a transform fails, 2 for an unknown case. */
static int count_mode(const char *name, long reps, const named_case *cases, size_t n)
{
    const nes_transform_opts *o = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(cases[i].name, name) == 0)
            o = cases[i].opts;
    if (o == NULL) {
        fprintf(stderr, "unknown case %s\n", name);
        return 2;
    }
    size_t len;
    char *body = make_body(64 * 1024, &len);
    nes_buf out = {0};
    size_t sum = 0;
    int rc = 0;
    for (long r = 0; r < reps && rc == 0; r++) {
        out.len = 0;
        if (nes_transform(o, (const uint8_t *)body, len, &out, NULL, NULL) != NES_OK)
            rc = 1;
        sum += out.len;
    }
    if (rc == 0)
        printf("%zu\n", sum);
    nes_buf_free(&out);
    free(body);
    return rc;
}

int main(int argc, char **argv)
{
    /* "bench_transform count CASE N": runs one case N times on the 64 KiB body and prints
     * nothing but a checksum, for instruction counts (perf stat, callgrind) that a busy machine
     * does not disturb. CASE: off, reject, pass, enc (fake codec), off-c, reject-c, pass-c, enc-c
     * (real codec); "enc" is the enc(fake)/encrypt columns' automaton. */
    const char *count_case = argc > 3 && strcmp(argv[1], "count") == 0 ? argv[2] : NULL;
    long count_n = count_case != NULL ? atol(argv[3]) : 0;
    double secs = argc > 1 && count_case == NULL ? atof(argv[1]) : 0.5;
    const nes_pii_node *root = NULL, *root_any = NULL;
    nes_pii_graph *g = pii_paths_graph(NES_MEMBERS_PASS, &root);
    nes_pii_graph *g_any = pii_paths_graph(NES_MEMBERS_ANY, &root_any);
    nes_codec fake = {.encrypt = fake_encrypt, .decrypt = fake_decrypt};
    nes_spec *spec = NULL;
    const nes_pii_node *closed = NULL;
    nes_err serr;
    if (nes_spec_load("record.yaml", record_spec, sizeof record_spec - 1, NULL, NULL, &spec,
                      &serr) != NES_OK ||
        nes_spec_root(spec, NULL, &closed, &serr) != NES_OK) {
        fprintf(stderr, "record spec: %s\n", serr.msg);
        return 1;
    }
    nes_transform_opts fclosed = {.dir = NES_ENCRYPT, .root = closed, .codec = &fake};
    nes_transform_opts fpass = fclosed;
    fpass.unknown = NES_UNKNOWN_PASS;
    nes_transform_opts fenc = {.dir = NES_ENCRYPT, .root = root, .codec = &fake};
    nes_transform_opts foff = {.dir = NES_ENCRYPT, .root = root_any, .codec = &fake};
    nes_transform_opts fdec = {.dir = NES_DECRYPT, .root = root, .codec = &fake};
    uint8_t dek[1][NES_DEK_LEN];
    bench_key(dek[0], NES_DEK_LEN);
    nes_keyring *kr = nes_keyring_new(dek, 1);
    nes_crypter *crypter = kr ? nes_crypter_new(kr) : NULL;
    if (crypter == NULL)
        return 1;
    nes_codec real = nes_crypter_codec(crypter);
    nes_transform_opts rclosed = fclosed;
    rclosed.codec = &real;
    nes_transform_opts rpass = fpass;
    rpass.codec = &real;
    nes_transform_opts enc = {.dir = NES_ENCRYPT, .root = root, .codec = &real};
    nes_transform_opts off = {.dir = NES_ENCRYPT, .root = root_any, .codec = &real};
    nes_transform_opts dec = {.dir = NES_DECRYPT, .root = root, .codec = &real};

    int rc = 0;
    if (count_case != NULL) {
        const named_case cases[] = {
            {"off", &foff},  {"reject", &fclosed},   {"pass", &fpass},   {"enc", &fenc},
            {"off-c", &off}, {"reject-c", &rclosed}, {"pass-c", &rpass}, {"enc-c", &enc}};
        rc = count_mode(count_case, count_n, cases, sizeof cases / sizeof cases[0]);
        goto done;
    }

    const size_t sizes[] = {1024, 64 * 1024, 1024 * 1024};
    printf("%-8s %8s %7s | %9s %9s | %9s %9s %9s | %9s %9s %9s  (MB/s)\n", "body", "bytes",
           "fields", "memcpy", "validate", "enc(fake)", "dec(fake)", "closed", "encrypt", "decrypt",
           "closed");
    for (size_t i = 0; rc == 0 && i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len;
        char *body = make_body(sizes[i], &len);
        nes_buf tokens = {0}, ftokens = {0};
        nes_transform_stats stats;
        const uint8_t *in = (const uint8_t *)body;
        if (nes_transform(&enc, in, len, &tokens, &stats, NULL) != NES_OK ||
            nes_transform(&fenc, in, len, &ftokens, NULL, NULL) != NES_OK)
            rc = 1;
        if (rc == 0) {
            double m = run(K_MEMCPY, &enc, in, len, secs);
            double v = run(K_VALIDATE, &enc, in, len, secs);
            double fe = run(K_ENCRYPT, &fenc, in, len, secs);
            double fd = run(K_DECRYPT, &fdec, ftokens.data, ftokens.len, secs);
            double fc = run(K_ENCRYPT, &fclosed, in, len, secs);
            double e = run(K_ENCRYPT, &enc, in, len, secs);
            double d = run(K_DECRYPT, &dec, tokens.data, tokens.len, secs);
            double ec = run(K_ENCRYPT, &rclosed, in, len, secs);
            printf("%-8s %8zu %7zu | %9.0f %9.0f | %9.0f %9.0f %9.0f | %9.0f %9.0f %9.0f\n",
                   i == 0   ? "1 KiB"
                   : i == 1 ? "64 KiB"
                            : "1 MiB",
                   len, stats.fields, m, v, fe, fd, fc, e, d, ec);
            if (i == 2) {
                printf("\n");
                member_check_lines(&foff, &fclosed, &fpass, "JSON-only,", in, len, 3 * secs);
                member_check_lines(&off, &rclosed, &rpass, "with crypto,", in, len, 3 * secs);
            }
        }
        nes_buf_free(&tokens);
        nes_buf_free(&ftokens);
        free(body);
    }
done:
    nes_crypter_free(crypter);
    nes_keyring_free(kr);
    nes_pii_graph_free(g);
    nes_pii_graph_free(g_any);
    nes_spec_free(spec);
    return rc;
}
