/* Unit tests: polyval.c (both implementations, each against the RFC 8452 example, against an
 * independent bit-serial reference written here, and against each other). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../testutil.h"
#include "core/polyval.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x8452845284528452u;

static void unhex(const char *hex, uint8_t *out)
{
    assert_int_equal(tu_unhex(hex, strlen(hex), out), 0);
}

static void polyval_once(nes_polyval_impl impl, const uint8_t h[16], const uint8_t *data,
                         size_t len, uint8_t out[16])
{
    nes_polyval pv;
    nes_polyval_init(&pv, h, impl);
    nes_polyval_update(&pv, data, len);
    nes_polyval_final(&pv, out);
}

/* Bit-serial reference, straight from the definition: 256-bit carry-less product a*b, then 128
 * divisions by x modulo P (add P when the constant term is set, then shift right), i.e. a*b*x^-128
 * mod P, with P = x^128 + x^127 + x^126 + x^121 + 1. Values are little-endian bit strings. */
static void ref_dot(const uint8_t a[16], const uint8_t b[16], uint8_t out[16])
{
    uint8_t t[33] = {0}; /* one spare byte for P's x^128 term at bit 256 after shifting */
    for (int i = 0; i < 128; i++) {
        if (!((a[i / 8] >> (i % 8)) & 1))
            continue;
        for (int j = 0; j < 128; j++)
            if ((b[j / 8] >> (j % 8)) & 1)
                t[(i + j) / 8] ^= (uint8_t)(1u << ((i + j) % 8));
    }
    static const int p_bits[] = {0, 121, 126, 127, 128};
    for (int step = 0; step < 128; step++) {
        if (t[0] & 1)
            for (size_t k = 0; k < sizeof p_bits / sizeof p_bits[0]; k++)
                t[p_bits[k] / 8] ^= (uint8_t)(1u << (p_bits[k] % 8));
        for (int k = 0; k < 32; k++)
            t[k] = (uint8_t)((t[k] >> 1) | (t[k + 1] << 7));
        t[32] >>= 1;
    }
    for (int k = 16; k < 33; k++)
        assert_int_equal(t[k], 0); /* fully reduced */
    memcpy(out, t, 16);
}

static void ref_polyval(const uint8_t h[16], const uint8_t *data, size_t len, uint8_t out[16])
{
    uint8_t s[16] = {0};
    for (size_t off = 0; off < len; off += 16) {
        uint8_t blk[16] = {0};
        memcpy(blk, data + off, len - off < 16 ? len - off : 16);
        for (int k = 0; k < 16; k++)
            blk[k] ^= s[k];
        ref_dot(blk, h, s);
    }
    memcpy(out, s, 16);
}

/* The implementations to exercise: PORTABLE always, CLMUL when the CPU has it. */
static int impls(nes_polyval_impl out[2])
{
    int n = 0;
    out[n++] = NES_POLYVAL_PORTABLE;
    if (nes_polyval_clmul_available())
        out[n++] = NES_POLYVAL_CLMUL;
    return n;
}

#define SKIP_WITHOUT_CLMUL()                                                                       \
    do {                                                                                           \
        if (!nes_polyval_clmul_available()) {                                                      \
            print_message("CPU lacks PCLMULQDQ: CLMUL case skipped\n");                            \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- tests ---------------------------------------------------------------------------------- */

/* RFC 8452 section 3 / Appendix A example. */
static const char *const rfc_h = "25629347589242761d31f826ba4b757b";
static const char *const rfc_x = "4f4f95668c83dfb6401762bb2d01a262"
                                 "d1a24ddd2721d006bbe45f20d3c9f362";
static const char *const rfc_out = "f7a3b47b846119fae5b7866cf5e5b77e";

static void check_rfc_example(nes_polyval_impl impl)
{
    uint8_t h[16], x[32], want[16], got[16];
    unhex(rfc_h, h);
    unhex(rfc_x, x);
    unhex(rfc_out, want);
    polyval_once(impl, h, x, sizeof x, got);
    assert_memory_equal(got, want, 16);
    /* the same over two update calls, one block each */
    nes_polyval pv;
    nes_polyval_init(&pv, h, impl);
    nes_polyval_update(&pv, x, 16);
    nes_polyval_update(&pv, x + 16, 16);
    nes_polyval_final(&pv, got);
    assert_memory_equal(got, want, 16);
}

static void rfc_example_portable(void **state)
{
    (void)state;
    check_rfc_example(NES_POLYVAL_PORTABLE);
}

static void rfc_example_clmul(void **state)
{
    (void)state;
    SKIP_WITHOUT_CLMUL();
    check_rfc_example(NES_POLYVAL_CLMUL);
}

static void rfc_example_reference(void **state)
{
    (void)state;
    uint8_t h[16], x[32], want[16], got[16];
    unhex(rfc_h, h);
    unhex(rfc_x, x);
    unhex(rfc_out, want);
    ref_polyval(h, x, sizeof x, got);
    assert_memory_equal(got, want, 16); /* the reference itself is right */
}

static void impl_resolution(void **state)
{
    (void)state;
    uint8_t h[16] = {1};
    nes_polyval pv;
    nes_polyval_init(&pv, h, NES_POLYVAL_PORTABLE);
    assert_int_equal(pv.impl, NES_POLYVAL_PORTABLE);
    nes_polyval_init(&pv, h, NES_POLYVAL_AUTO);
    assert_int_equal(pv.impl,
                     nes_polyval_clmul_available() ? NES_POLYVAL_CLMUL : NES_POLYVAL_PORTABLE);
    nes_polyval_init(&pv, h, NES_POLYVAL_CLMUL);
    assert_int_equal(pv.impl,
                     nes_polyval_clmul_available() ? NES_POLYVAL_CLMUL : NES_POLYVAL_PORTABLE);
    print_message("PCLMULQDQ available: %s\n", nes_polyval_clmul_available() ? "yes" : "no");
}

/* Random keys and lengths 0..300 (covering the 4-block aggregated path and its tail): each
 * implementation equals the bit-serial reference. */
static void random_vs_reference(void **state)
{
    (void)state;
    nes_polyval_impl list[2];
    const int n = impls(list);
    uint8_t h[16], data[300], want[16], got[16];
    for (int iter = 0; iter < 400; iter++) {
        const size_t len = (size_t)(tu_rng_next(&rng_state) % (sizeof data + 1));
        tu_rng_fill(&rng_state, h, sizeof h);
        tu_rng_fill(&rng_state, data, len);
        ref_polyval(h, data, len, want);
        for (int k = 0; k < n; k++) {
            polyval_once(list[k], h, data, len, got);
            assert_memory_equal(got, want, 16);
        }
    }
}

/* CLMUL and PORTABLE agree on many random inputs, including edge-value keys. */
static void clmul_equals_portable(void **state)
{
    (void)state;
    SKIP_WITHOUT_CLMUL();
    static uint8_t data[4096 + 15];
    uint8_t h[16], a[16], b[16];
    for (int iter = 0; iter < 5000; iter++) {
        size_t len = (size_t)(iter < 4000 ? tu_rng_next(&rng_state) % 260
                                          : tu_rng_next(&rng_state) % sizeof data);
        tu_rng_fill(&rng_state, h, sizeof h);
        if (iter % 50 == 0)
            memset(h, iter % 100 == 0 ? 0xff : 0x00, sizeof h);
        if (iter % 50 == 25) { /* single-bit keys: x^0 and x^127 */
            memset(h, 0, sizeof h);
            if (iter % 100 == 25)
                h[0] = 0x01;
            else
                h[15] = 0x80;
        }
        tu_rng_fill(&rng_state, data, len);
        if (iter % 7 == 0)
            memset(data, 0xff, len);
        polyval_once(NES_POLYVAL_PORTABLE, h, data, len, a);
        polyval_once(NES_POLYVAL_CLMUL, h, data, len, b);
        assert_memory_equal(a, b, 16);
    }
}

/* A final partial block is zero-padded: update(data, n) == update(zero-padded data, 16*ceil(n/16)),
 * and trailing data past the partial block has no effect. */
static void partial_block_padding(void **state)
{
    (void)state;
    nes_polyval_impl list[2];
    const int n = impls(list);
    uint8_t h[16], data[80], padded[80], a[16], b[16];
    for (int k = 0; k < n; k++) {
        for (size_t len = 1; len <= sizeof data; len++) {
            if (len % 16 == 0)
                continue;
            tu_rng_fill(&rng_state, h, sizeof h);
            tu_rng_fill(&rng_state, data, sizeof data);
            memset(padded, 0, sizeof padded);
            memcpy(padded, data, len);
            polyval_once(list[k], h, data, len, a);
            polyval_once(list[k], h, padded, (len + 15) / 16 * 16, b);
            assert_memory_equal(a, b, 16);
            /* a different byte after `len` must not matter */
            data[len] ^= 0x5a;
            polyval_once(list[k], h, data, len, b);
            assert_memory_equal(a, b, 16);
            /* but a change inside does */
            data[len - 1] ^= 0x01;
            polyval_once(list[k], h, data, len, b);
            assert_memory_not_equal(a, b, 16);
        }
    }
}

/* Splitting the input at block boundaries over several update calls gives the same result;
 * an update of 0 bytes (with NULL data) changes nothing. */
static void update_splits(void **state)
{
    (void)state;
    nes_polyval_impl list[2];
    const int n = impls(list);
    static uint8_t data[1024 + 9];
    uint8_t h[16], whole[16], split[16];
    for (int k = 0; k < n; k++) {
        for (int iter = 0; iter < 200; iter++) {
            const size_t len = (size_t)(tu_rng_next(&rng_state) % sizeof data);
            tu_rng_fill(&rng_state, h, sizeof h);
            tu_rng_fill(&rng_state, data, len);
            polyval_once(list[k], h, data, len, whole);
            nes_polyval pv;
            nes_polyval_init(&pv, h, list[k]);
            size_t off = 0;
            while (off < len) {
                size_t chunk =
                    16 * (size_t)(tu_rng_next(&rng_state) % 9); /* 0..128 bytes, whole blocks */
                if (chunk >= len - off)
                    chunk = len - off; /* the last piece may be partial */
                nes_polyval_update(&pv, data + off, chunk);
                nes_polyval_update(&pv, NULL, 0);
                off += chunk;
            }
            nes_polyval_final(&pv, split);
            assert_memory_equal(whole, split, 16);
        }
    }
}

/* Separate update calls pad separately: "A" then "B" differs from "AB" (this is how AAD and
 * message stay apart in GCM-SIV). */
static void separate_updates_pad_separately(void **state)
{
    (void)state;
    uint8_t h[16], data[10], a[16], b[16];
    tu_rng_fill(&rng_state, h, sizeof h);
    tu_rng_fill(&rng_state, data, sizeof data);
    polyval_once(NES_POLYVAL_AUTO, h, data, sizeof data, a);
    nes_polyval pv;
    nes_polyval_init(&pv, h, NES_POLYVAL_AUTO);
    nes_polyval_update(&pv, data, 5);
    nes_polyval_update(&pv, data + 5, 5);
    nes_polyval_final(&pv, b);
    assert_memory_not_equal(a, b, 16);
}

static void empty_input_is_zero_and_final_wipes(void **state)
{
    (void)state;
    nes_polyval_impl list[2];
    const int n = impls(list);
    const uint8_t zero[16] = {0};
    uint8_t h[16], out[16];
    tu_rng_fill(&rng_state, h, sizeof h);
    for (int k = 0; k < n; k++) {
        nes_polyval pv;
        nes_polyval_init(&pv, h, list[k]);
        nes_polyval_update(&pv, NULL, 0);
        nes_polyval_final(&pv, out);
        assert_memory_equal(out, zero, 16);
        assert_memory_equal(pv.h, zero, 16); /* the key is gone */
        assert_memory_equal(pv.s, zero, 16);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc_example_reference),
        cmocka_unit_test(rfc_example_portable),
        cmocka_unit_test(rfc_example_clmul),
        cmocka_unit_test(impl_resolution),
        cmocka_unit_test(random_vs_reference),
        cmocka_unit_test(clmul_equals_portable),
        cmocka_unit_test(partial_block_padding),
        cmocka_unit_test(update_splits),
        cmocka_unit_test(separate_updates_pad_separately),
        cmocka_unit_test(empty_input_is_zero_and_final_wipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
