/* test_hex.c - nes_hexval (core/hex.h) over every byte: the 22 hex digits have their values,
 * everything else is -1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/hex.h"

static void every_byte(void **state)
{
    (void)state;
    static const char digits[] = "0123456789abcdefABCDEF";
    static const int values[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                 11, 12, 13, 14, 15, 10, 11, 12, 13, 14, 15};
    for (int b = 0; b < 256; b++) {
        const char *at = b != 0 ? memchr(digits, b, sizeof(digits) - 1) : NULL;
        int want = at != NULL ? values[at - digits] : -1;
        assert_int_equal(nes_hexval((char)b), want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
