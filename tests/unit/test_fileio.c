/* Unit tests: fileio.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>

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

/* Entries of `dir` other than . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void write_replaces_whole_file_with_mode(void **state)
{
    (void)state;
    char dir[] = "/tmp/nes-fileio-w-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/key.pem", dir);
    assert_int_equal(nes_write_file(path, "first version, longer", 21, 0600), 0);
    assert_int_equal(nes_write_file(path, "second", 6, 0644), 0); /* replaces, not appends */
    char *data = NULL;
    size_t len = 0;
    nes_err err = {0};
    assert_int_equal(nes_read_file(path, 100, &data, &len, &err), NES_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(data, "second", 6);
    free(data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644 & ~umask(umask(0)));
    assert_int_equal(entries(dir), 1);                      /* no temporary file left */
    assert_int_equal(nes_write_file(path, "", 0, 0600), 0); /* empty is a file too */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    unlink(path);
    rmdir(dir);
}

static void write_into_missing_dir_fails_with_errno(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(nes_write_file("/nonexistent-dir-nes/x.pem", "x", 1, 0600), -1);
    assert_int_equal(errno, ENOENT);
    char dir[] = "/tmp/nes-fileio-d-XXXXXX";
    assert_non_null(mkdtemp(dir));
    errno = 0;
    assert_int_equal(nes_write_file(dir, "x", 1, 0600), -1); /* a directory: rename refuses */
    assert_int_equal(errno, EISDIR);
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", dir, (long)getpid());
    assert_int_equal(access(tmp, F_OK), -1); /* the temporary file beside it is gone */
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_whole_file_nul_terminated),
        cmocka_unit_test(refuses_file_over_limit),
        cmocka_unit_test(missing_file_names_path),
        cmocka_unit_test(reads_stream_and_empty),
        cmocka_unit_test(write_replaces_whole_file_with_mode),
        cmocka_unit_test(write_into_missing_dir_fails_with_errno),
    };
    return cmocka_run_group_tests(tests, make_file, remove_file);
}
