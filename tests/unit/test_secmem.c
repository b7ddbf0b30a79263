/* Unit tests: secmem.c. What is observable without reading freed memory: the allocation is
 * zeroed, page-aligned, usable over whole pages, marked do-not-dump (and locked when the limit
 * allows) in /proc/self/smaps, and gone from the address space once freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/secmem.h"

static size_t page(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static int mapped(void *p, size_t len)
{
    unsigned char vec[64];
    return mincore(p, len, vec) == 0;
}

/* Returns the VmFlags line of the mapping that starts at p ("" when not found). */
static void vmflags(const void *p, char *flags, size_t cap)
{
    flags[0] = '\0';
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    int in = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = lo == (unsigned long)(uintptr_t)p;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(flags, cap, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}

static int has_flag(const char *flags, const char *flag)
{
    char want[8];
    snprintf(want, sizeof want, " %s", flag);
    for (const char *s = strstr(flags, want); s != NULL; s = strstr(s + 1, want))
        if (s[3] == ' ' || s[3] == '\n' || s[3] == '\0')
            return 1;
    return 0;
}

static void alloc_sizes_are_page_rounded_zeroed_and_usable(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 32, 64, page() - 1, page(), page() + 1, 3 * page() + 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        size_t rounded = n == 0 ? page() : (n + page() - 1) / page() * page();
        uint8_t *p = nes_secure_alloc(n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % page(), 0);
        for (size_t j = 0; j < rounded; j++)
            assert_int_equal(p[j], 0);
        memset(p, 0x5a, rounded); /* the whole rounded area belongs to the caller */
        assert_true(mapped(p, rounded));
        nes_secure_free(p, n);
        assert_false(mapped(p, rounded));
        assert_int_equal(errno, ENOMEM);
    }
}

static void alloc_is_dontdump_and_locked_when_allowed(void **state)
{
    (void)state;
    uint8_t *p = nes_secure_alloc(32);
    assert_non_null(p);
    char flags[512];
    vmflags(p, flags, sizeof flags);
    assert_true(flags[0] != '\0');
    assert_true(has_flag(flags, "dd")); /* MADV_DONTDUMP */
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
#ifndef __SANITIZE_ADDRESS__ /* ASan intercepts mlock and ignores it */
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 64 * page())
        assert_true(has_flag(flags, "lo")); /* mlock took effect */
#endif
    nes_secure_free(p, 32);
}

/* Locking is best effort: with RLIMIT_MEMLOCK at zero, allocation still succeeds. */
static void alloc_works_without_memlock(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit zero = {0, 0};
        if (setrlimit(RLIMIT_MEMLOCK, &zero) != 0)
            _exit(2);
        uint8_t *p = nes_secure_alloc(100);
        if (p == NULL)
            _exit(3);
        p[99] = 1;
        nes_secure_free(p, 100);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void free_null_is_noop(void **state)
{
    (void)state;
    nes_secure_free(NULL, 0);
    nes_secure_free(NULL, 100);
}

static void alloc_overflow_fails(void **state)
{
    (void)state;
    assert_null(nes_secure_alloc(SIZE_MAX));
    assert_null(nes_secure_alloc(SIZE_MAX - 1));
}

/* In a child, so that the test runner itself stays dumpable. */
static void secure_process_disables_dumps(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (nes_secure_process() != 0)
            _exit(2);
        if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
            _exit(3);
        struct rlimit rl;
        if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
            _exit(4);
        if (nes_secure_process() != 0) /* idempotent */
            _exit(5);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alloc_sizes_are_page_rounded_zeroed_and_usable),
        cmocka_unit_test(alloc_is_dontdump_and_locked_when_allowed),
        cmocka_unit_test(alloc_works_without_memlock),
        cmocka_unit_test(free_null_is_noop),
        cmocka_unit_test(alloc_overflow_fails),
        cmocka_unit_test(secure_process_disables_dumps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
