/* Unit tests: fileio.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/fileio.h"

static char tmpl[64];

static int make_file(void **state)
{
    (void)state;
    snprintf(tmpl, sizeof tmpl, "/tmp/nes-fileio-XXXXXX");
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return -1;
    char block[1000];
    memset(block, 'a', sizeof block);
    for (int i = 0; i < 10; i++)
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
            return -1;
    close(fd);
    return 0;
}

static int remove_file(void **state)
{
    (void)state;
    unlink(tmpl);
    return 0;
}

static void reads_whole_file_nul_terminated(void **state)
{
    (void)state;
    char *data = NULL;
    size_t len = 0;
    nes_err err;
    assert_int_equal(nes_read_file(tmpl, 10000, &data, &len, &err), NES_OK);
    assert_int_equal(len, 10000);
    assert_int_equal(data[9999], 'a');
    assert_int_equal(data[10000], '\0');
    free(data);
}

static void refuses_file_over_limit(void **state)
{
    (void)state;
    char *data = NULL;
    size_t len = 0;
    nes_err err;
    assert_int_equal(nes_read_file(tmpl, 9999, &data, &len, &err), NES_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "larger than 9999 bytes"));
    assert_int_equal(nes_read_file(tmpl, 0, &data, &len, &err), NES_ERR_LIMIT);
}

static void missing_file_names_path(void **state)
{
    (void)state;
    char *data = NULL;
    size_t len = 0;
    nes_err err;
    assert_int_equal(nes_read_file("/nonexistent/x.key", 100, &data, &len, &err), NES_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/x.key"));
    assert_int_equal(nes_read_file("/tmp", 100, &data, &len, &err), NES_ERR_IO);
}

static void reads_stream_and_empty(void **state)
{
    (void)state;
    FILE *f = fmemopen((void *)(uintptr_t) "hello", 5, "r");
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(nes_read_stream(f, "stdin", 5, &data, &len, NULL), NES_OK);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    free(data);
    fclose(f);
    FILE *e = fopen("/dev/null", "r");
    assert_int_equal(nes_read_stream(e, "empty", 5, &data, &len, NULL), NES_OK);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);
    fclose(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_whole_file_nul_terminated),
        cmocka_unit_test(refuses_file_over_limit),
        cmocka_unit_test(missing_file_names_path),
        cmocka_unit_test(reads_stream_and_empty),
    };
    return cmocka_run_group_tests(tests, make_file, remove_file);
}
