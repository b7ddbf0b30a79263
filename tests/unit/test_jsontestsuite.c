/* Unit tests: nes_json_validate against JSONTestSuite's test_parsing files.
 *
 * y_ files must be accepted, n_ files rejected; i_ files (implementation-defined) must behave as
 * docs/json-implementation-defined.md says, row for row, so that page cannot go stale. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/fileio.h"
#include "core/transform.h"

#define EXPECT_Y 95
#define EXPECT_N 188
#define MAX_FILES 512

typedef struct file_list {
    char *names[MAX_FILES];
    size_t n;
} file_list;

static const char *suite_dir(void)
{
    static char path[4096];
    const char *td = getenv("NES_TESTDATA");
    snprintf(path, sizeof path, "%s/JSONTestSuite/test_parsing", td ? td : "../shared/testdata");
    return path;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The suite's files whose names start with `prefix`, sorted. */
static void list_files(const char *prefix, file_list *fl)
{
    DIR *d = opendir(suite_dir());
    assert_non_null(d);
    fl->n = 0;
    const struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        assert_true(fl->n < MAX_FILES);
        fl->names[fl->n] = strdup(de->d_name);
        assert_non_null(fl->names[fl->n]);
        fl->n++;
    }
    closedir(d);
    qsort(fl->names, fl->n, sizeof fl->names[0], cmp_str);
}

static void free_files(file_list *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        free(fl->names[i]);
    fl->n = 0;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    char *data = NULL;
    nes_err err;
    if (nes_read_file(path, (size_t)1 << 26, &data, len, &err) != NES_OK)
        fail_msg("%s", err.msg);
    return (uint8_t *)data;
}

static int identity_encrypt(void *ud, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                            size_t pt_len, nes_buf *out)
{
    (void)ud;
    (void)ctx;
    (void)ctx_len;
    return nes_buf_append(out, "tok", 3) != 0 || (pt_len > 0 && pt == NULL) ? -1 : 0;
}

static nes_status identity_decrypt(void *ud, const uint8_t *ctx, size_t ctx_len, const char *tok,
                                   size_t len, nes_buf *out)
{
    (void)ud;
    (void)ctx;
    (void)ctx_len;
    return nes_buf_append(out, tok, len) != 0 ? NES_ERR_NOMEM : NES_OK;
}

static nes_pii_graph *g;

/* An automaton under which arrays are walked and every object member is PII. */
static const nes_pii_node *all_pii(void)
{
    static nes_pii_node *root;
    if (g == NULL) {
        g = nes_pii_graph_new();
        root = nes_pii_node_new(g, NULL);
        nes_pii_node *leaf = nes_pii_node_new(g, NULL);
        assert_int_equal(nes_pii_node_mark(g, leaf, NES_VT_ANY, NULL, 0), 0);
        root->items = root;
        root->wildcard = leaf;
        assert_int_equal(nes_pii_graph_finish(g), 0);
    }
    return root;
}

/* Validates one suite file with the service's defaults; fills err. The encrypt transform under
 * an all-PII automaton must agree, and what it accepts must validate after encryption. */
static nes_status check_file(const char *name, nes_err *err)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", suite_dir(), name);
    size_t len;
    uint8_t *data = read_all(path, &len);
    nes_status st = nes_json_validate(data, len, 0, err);
    static const nes_codec codec = {.encrypt = identity_encrypt, .decrypt = identity_decrypt};
    nes_transform_opts o = {.dir = NES_ENCRYPT, .root = all_pii(), .codec = &codec};
    nes_buf out = {0};
    nes_err e2;
    nes_status st2 = nes_transform(&o, data, len, &out, NULL, &e2);
    if (st2 != st || (st != NES_OK && e2.offset != err->offset))
        fail_msg("%s: transform says %s, validate says %s", name, nes_status_name(st2),
                 nes_status_name(st));
    if (st2 == NES_OK)
        assert_int_equal(nes_json_validate(out.data, out.len, 0, NULL), NES_OK);
    nes_buf_free(&out);
    free(data);
    return st;
}

static void y_files_are_accepted(void **state)
{
    (void)state;
    file_list fl;
    list_files("y_", &fl);
    size_t ok = 0;
    for (size_t i = 0; i < fl.n; i++) {
        nes_err err;
        if (check_file(fl.names[i], &err) == NES_OK)
            ok++;
        else
            printf("  REJECTED %s: %s at %zu\n", fl.names[i], err.msg, err.offset);
    }
    printf("JSONTestSuite y_: %zu of %zu accepted\n", ok, fl.n);
    assert_int_equal(fl.n, EXPECT_Y);
    assert_int_equal(ok, fl.n);
    free_files(&fl);
}

static void n_files_are_rejected(void **state)
{
    (void)state;
    file_list fl;
    list_files("n_", &fl);
    size_t rejected = 0;
    for (size_t i = 0; i < fl.n; i++) {
        nes_err err;
        nes_status st = check_file(fl.names[i], &err);
        if (st == NES_ERR_JSON || st == NES_ERR_DEPTH) {
            rejected++;
            assert_true(err.offset != (size_t)-1);
            assert_true(err.msg[0] != '\0');
        } else {
            printf("  ACCEPTED %s\n", fl.names[i]);
        }
    }
    printf("JSONTestSuite n_: %zu of %zu rejected\n", rejected, fl.n);
    assert_int_equal(fl.n, EXPECT_N);
    assert_int_equal(rejected, fl.n);
    free_files(&fl);
}

/* One row of the documented table: file name and "accept" / "reject". */
typedef struct doc_row {
    char file[256];
    char verdict[16];
} doc_row;

/* Parses rows like "| `i_x.json` | reject | reason |" from the markdown page. */
static size_t read_doc_rows(doc_row *rows, size_t max)
{
    const char *src = getenv("NES_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/json-implementation-defined.md", src ? src : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    size_t n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char file[256], verdict[16];
        if (sscanf(line, "| `%255[^`]` | %15[a-z] |", file, verdict) != 2)
            continue;
        if (strncmp(file, "i_", 2) != 0)
            continue;
        assert_true(n < max);
        snprintf(rows[n].file, sizeof rows[n].file, "%s", file);
        snprintf(rows[n].verdict, sizeof rows[n].verdict, "%s", verdict);
        n++;
    }
    fclose(f);
    return n;
}

static void i_files_match_the_documented_table(void **state)
{
    (void)state;
    file_list fl;
    list_files("i_", &fl);
    static doc_row rows[MAX_FILES];
    size_t nrows = read_doc_rows(rows, MAX_FILES);
    size_t accepted = 0, mismatches = 0;
    for (size_t i = 0; i < fl.n; i++) {
        nes_err err;
        const char *got = check_file(fl.names[i], &err) == NES_OK ? "accept" : "reject";
        accepted += got[0] == 'a';
        const doc_row *row = NULL;
        for (size_t j = 0; j < nrows && row == NULL; j++)
            if (strcmp(rows[j].file, fl.names[i]) == 0)
                row = &rows[j];
        printf("  %-50s %s%s%s\n", fl.names[i], got, got[0] == 'r' ? ": " : "",
               got[0] == 'r' ? err.msg : "");
        if (row == NULL || strcmp(row->verdict, got) != 0) {
            printf("  MISMATCH with docs: %s (documented %s)\n", fl.names[i],
                   row ? row->verdict : "nothing");
            mismatches++;
        }
    }
    printf("JSONTestSuite i_: %zu files, %zu accepted, %zu rejected\n", fl.n, accepted,
           fl.n - accepted);
    assert_int_equal(mismatches, 0);
    assert_int_equal(nrows, fl.n); /* no stale rows for files that are gone */
    free_files(&fl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(y_files_are_accepted),
        cmocka_unit_test(n_files_are_rejected),
        cmocka_unit_test(i_files_match_the_documented_table),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    nes_pii_graph_free(g);
    return failed;
}
