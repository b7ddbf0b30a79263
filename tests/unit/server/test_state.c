/* test_state.c - snapshots: publish keys/specs, readiness, lookups, per-thread crypters, and
 * readers racing publishers (run under ASan by `make asan`). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "enclave/state.h"

static nes_keyring *ring_of(uint8_t fill)
{
    uint8_t dek[1][NES_DEK_LEN];
    memset(dek[0], fill, NES_DEK_LEN);
    return nes_keyring_new((const uint8_t(*)[NES_DEK_LEN])dek, 1);
}

static void readiness_and_lookup(void **state)
{
    (void)state;
    const nes_snapshot *s = nes_state_enter();
    assert_false(nes_snapshot_ready(s));
    assert_null(nes_state_crypter(s));
    assert_int_equal(nes_snapshot_keys_time(s), 0);
    nes_state_leave();

    assert_int_equal(nes_state_publish_keys(ring_of(1)), 0);
    s = nes_state_enter();
    assert_false(nes_snapshot_ready(s)); /* keys but no spec */
    assert_non_null(nes_state_crypter(s));
    assert_true(nes_snapshot_keys_time(s) > 0);
    nes_state_leave();

    nes_spec_ref *b = nes_spec_ref_new("beta", NULL), *a = nes_spec_ref_new("alpha", NULL);
    nes_spec_ref *refs[] = {b, a};
    assert_int_equal(nes_state_publish_specs(refs, 2), 0);
    s = nes_state_enter();
    assert_true(nes_snapshot_ready(s));
    assert_int_equal(nes_snapshot_nspecs(s), 2);
    assert_string_equal(nes_spec_ref_name(a), "alpha");
    assert_null(nes_snapshot_spec(s, "gamma")); /* the NULL specs of this test read as absent */
    nes_state_leave();

    nes_spec_ref *dup[] = {a, a};
    assert_int_equal(nes_state_publish_specs(dup, 2), -1);
    nes_spec_ref_release(a);
    nes_spec_ref_release(b);
    assert_int_equal(nes_state_publish_specs(NULL, 0), 0);
    s = nes_state_enter();
    assert_false(nes_snapshot_ready(s));
    nes_state_leave();
    nes_state_thread_done();
    nes_state_thread_done(); /* twice is fine */
    nes_state_shutdown();
}

static atomic_bool g_stop;
static atomic_long g_reads;

static void *reader(void *arg)
{
    (void)arg;
    uint8_t pt[] = "value";
    while (!atomic_load(&g_stop)) {
        const nes_snapshot *s = nes_state_enter();
        nes_crypter *c = nes_state_crypter(s);
        if (c != NULL) {
            nes_buf out = {0};
            assert_int_equal(nes_crypter_encrypt(c, NULL, 0, pt, sizeof(pt) - 1, &out), 0);
            nes_buf_free(&out);
        }
        (void)nes_snapshot_spec(s, "alpha");
        nes_state_leave();
        atomic_fetch_add(&g_reads, 1);
    }
    return NULL;
}

static void readers_race_publishers(void **state)
{
    (void)state;
    pthread_t t[4];
    atomic_store(&g_stop, false);
    assert_int_equal(nes_state_publish_keys(ring_of(9)), 0);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    for (int i = 0; i < 300; i++) {
        /* let the readers in between publishes (bounded wait) */
        long seen = atomic_load(&g_reads);
        for (int spin = 0; spin < 100000 && atomic_load(&g_reads) < seen + 4; spin++)
            sched_yield();
        if (i % 2 == 0) {
            assert_int_equal(nes_state_publish_keys(ring_of((uint8_t)i)), 0);
        } else {
            nes_spec_ref *r = nes_spec_ref_new("alpha", NULL);
            assert_int_equal(nes_state_publish_specs(&r, 1), 0);
            nes_spec_ref_release(r);
        }
        nes_state_reclaim();
    }
    atomic_store(&g_stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_true(atomic_load(&g_reads) > 0);
    nes_state_reclaim();
    nes_state_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readiness_and_lookup),
        cmocka_unit_test(readers_race_publishers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
