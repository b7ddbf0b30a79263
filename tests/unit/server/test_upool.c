/* Unit tests: upool.c (idle upstream connections per endpoint: LIFO, expiry, caps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "enclave/upool.h"

static void take_is_lifo_per_key(void **state)
{
    (void)state;
    static nes_upool p;
    nes_upool_init(&p, 8, 1000);
    assert_int_equal(nes_upool_take(&p, "tcp://a:1", 0, NULL), -1);
    assert_int_equal(nes_upool_put(&p, "tcp://a:1", 10, NULL, 0, NULL), -1);
    assert_int_equal(nes_upool_put(&p, "tcp://b:1", 20, NULL, 1, NULL), -1);
    assert_int_equal(nes_upool_put(&p, "tcp://a:1", 11, NULL, 2, NULL), -1);
    assert_int_equal(nes_upool_count(&p, NULL), 3);
    assert_int_equal(nes_upool_count(&p, "tcp://a:1"), 2);
    assert_int_equal(nes_upool_take(&p, "tcp://a:1", 3, NULL), 11);
    assert_int_equal(nes_upool_take(&p, "tcp://a:1", 3, NULL), 10);
    assert_int_equal(nes_upool_take(&p, "tcp://a:1", 3, NULL), -1);
    assert_int_equal(nes_upool_take(&p, "tcp://b:1", 3, NULL), 20);
    assert_int_equal(nes_upool_count(&p, NULL), 0);
}

static void expired_entries_are_not_handed_out(void **state)
{
    (void)state;
    static nes_upool p;
    int c1 = 0, c2 = 0;
    nes_upool_init(&p, 8, 100);
    nes_upool_put(&p, "k", 1, &c1, 0, NULL);
    nes_upool_put(&p, "k", 2, &c2, 50, NULL);
    assert_int_equal(nes_upool_next_expiry(&p), 100);
    /* at 120 fd 1 is too old: take skips it, expire hands it back for closing */
    assert_int_equal(nes_upool_take(&p, "k", 120, NULL), 2);
    nes_upool_put(&p, "k", 2, &c2, 120, NULL);
    void *out[4];
    assert_int_equal(nes_upool_expire(&p, 120, out, 4), 1);
    assert_ptr_equal(out[0], &c1);
    assert_int_equal(nes_upool_count(&p, "k"), 1);
    assert_int_equal(nes_upool_expire(&p, 219, out, 4), 0);
    assert_int_equal(nes_upool_expire(&p, 220, out, 4), 1);
    assert_ptr_equal(out[0], &c2);
    assert_int_equal(nes_upool_next_expiry(&p), INT64_MAX);
}

/* Expire hands back the oldest first, at most `cap` a call; drain the newest first. */
static void expire_and_drain_in_batches(void **state)
{
    (void)state;
    static nes_upool p;
    int c[5];
    void *out[2];
    nes_upool_init(&p, 8, 100);
    for (int i = 0; i < 5; i++)
        nes_upool_put(&p, i % 2 ? "a" : "b", i, &c[i], i, NULL);
    assert_int_equal(nes_upool_expire(&p, 102, out, 2), 2); /* fds 0..2 are due */
    assert_ptr_equal(out[0], &c[0]);
    assert_ptr_equal(out[1], &c[1]);
    assert_int_equal(nes_upool_expire(&p, 102, out, 2), 1);
    assert_ptr_equal(out[0], &c[2]);
    assert_int_equal(nes_upool_expire(&p, 102, out, 2), 0);
    assert_int_equal(nes_upool_count(&p, NULL), 2);
    nes_upool_put(&p, "a", 9, &c[0], 50, NULL);
    assert_int_equal(nes_upool_drain(&p, out, 2), 2);
    assert_ptr_equal(out[0], &c[0]);
    assert_ptr_equal(out[1], &c[4]);
    assert_int_equal(nes_upool_drain(&p, out, 2), 1);
    assert_ptr_equal(out[0], &c[3]);
    assert_int_equal(nes_upool_drain(&p, out, 2), 0);
    assert_int_equal(nes_upool_count(&p, NULL), 0);
}

static void per_key_cap_evicts_the_oldest_of_the_key(void **state)
{
    (void)state;
    static nes_upool p;
    nes_upool_init(&p, 2, 1000);
    assert_int_equal(nes_upool_put(&p, "a", 1, NULL, 0, NULL), -1);
    assert_int_equal(nes_upool_put(&p, "b", 9, NULL, 0, NULL), -1);
    assert_int_equal(nes_upool_put(&p, "a", 2, NULL, 1, NULL), -1);
    assert_int_equal(nes_upool_put(&p, "a", 3, NULL, 2, NULL), 1);
    assert_int_equal(nes_upool_count(&p, "a"), 2);
    assert_int_equal(nes_upool_count(&p, "b"), 1);
}

static void total_cap_evicts_the_oldest_overall(void **state)
{
    (void)state;
    static nes_upool p;
    nes_upool_init(&p, NES_UPOOL_MAX, 1000);
    char key[16];
    for (int i = 0; i < NES_UPOOL_MAX; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(nes_upool_put(&p, key, 100 + i, NULL, i, NULL), -1);
    }
    assert_int_equal(nes_upool_put(&p, "new", 7, NULL, 99, NULL), 100);
    assert_int_equal(nes_upool_count(&p, NULL), NES_UPOOL_MAX);
    assert_int_equal(nes_upool_count(&p, "k0"), 0);
}

static void long_key_is_refused_and_drain_empties(void **state)
{
    (void)state;
    static nes_upool p;
    nes_upool_init(&p, 4, 1000);
    char key[NES_UPOOL_KEY_MAX + 10];
    memset(key, 'x', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    assert_int_equal(nes_upool_put(&p, key, 5, NULL, 0, NULL), 5);
    nes_upool_put(&p, "a", 1, NULL, 0, NULL);
    nes_upool_put(&p, "b", 2, NULL, 0, NULL);
    void *out[1];
    size_t total = 0, n;
    while ((n = nes_upool_drain(&p, out, 1)) > 0)
        total += n;
    assert_int_equal(total, 2);
    assert_int_equal(nes_upool_count(&p, NULL), 0);
}

/* Each descriptor's pointer comes back with it (take, eviction, expiry, drain); remove finds a
 * parked descriptor wherever it is. */
static void data_travels_with_its_descriptor_and_remove(void **state)
{
    (void)state;
    nes_upool p;
    int a = 0, b = 0, c = 0;
    void *d = NULL, *ds[4] = {0};
    nes_upool_init(&p, 2, 100);
    assert_int_equal(nes_upool_put(&p, "k", 1, &a, 0, &d), -1);
    assert_null(d);
    assert_int_equal(nes_upool_put(&p, "k", 2, &b, 1, &d), -1);
    assert_int_equal(nes_upool_put(&p, "k", 3, &c, 2, &d), 1); /* per-key cap: the oldest */
    assert_ptr_equal(d, &a);
    assert_int_equal(nes_upool_take(&p, "k", 3, &d), 3);
    assert_ptr_equal(d, &c);
    assert_int_equal(nes_upool_remove(&p, 3), 0); /* no longer parked */
    nes_upool_put(&p, "j", 7, &c, 3, NULL);
    assert_int_equal(nes_upool_remove(&p, 2), 1);
    assert_int_equal(nes_upool_remove(&p, 2), 0);
    assert_int_equal(nes_upool_count(&p, "k"), 0);
    assert_int_equal(nes_upool_expire(&p, 103, ds, 4), 1);
    assert_ptr_equal(ds[0], &c);
    char key[NES_UPOOL_KEY_MAX + 1];
    memset(key, 'x', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    assert_int_equal(nes_upool_put(&p, key, 9, &b, 0, &d), 9); /* refused: itself back */
    assert_ptr_equal(d, &b);
    nes_upool_put(&p, "z", 8, &a, 200, NULL);
    assert_int_equal(nes_upool_drain(&p, ds, 4), 1);
    assert_ptr_equal(ds[0], &a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(take_is_lifo_per_key),
        cmocka_unit_test(expired_entries_are_not_handed_out),
        cmocka_unit_test(expire_and_drain_in_batches),
        cmocka_unit_test(per_key_cap_evicts_the_oldest_of_the_key),
        cmocka_unit_test(total_cap_evicts_the_oldest_overall),
        cmocka_unit_test(long_key_is_refused_and_drain_empties),
        cmocka_unit_test(data_travels_with_its_descriptor_and_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
