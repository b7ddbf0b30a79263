/* test_deadline.c - nes_deadline_after (net/deadline.h): now plus the milliseconds, normalised,
 * on the clock asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "net/deadline.h"

static int64_t ns_of(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void now_plus_ms_normalised(void **state)
{
    (void)state;
    static const uint64_t ms[] = {0, 1, 999, 1000, 1001, 1999, 86400000};
    static const clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME};
    for (size_t c = 0; c < sizeof(clocks) / sizeof(clocks[0]); c++) {
        for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
            struct timespec before, after;
            clock_gettime(clocks[c], &before);
            struct timespec d = nes_deadline_after(clocks[c], ms[i]);
            clock_gettime(clocks[c], &after);
            assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
            int64_t want = (int64_t)ms[i] * 1000000LL;
            assert_true(ns_of(d) - ns_of(before) >= want);
            assert_true(ns_of(d) - ns_of(after) <= want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(now_plus_ms_normalised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
