/* Unit tests: gcmsiv.c against RFC 8452 Appendix C.2/C.3 (AES-256) and Wycheproof
 * aes_gcm_siv_test.json (keySize 256), under both POLYVAL implementations, plus in-place use,
 * tampering, empty inputs and length limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libfyaml.h>

#include "../testutil.h"
#include "core/aesni.h"
#include "core/gcmsiv.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x5eed0000c0ffee11u;

/* A byte string decoded from hex; data is never NULL (so memcmp on empty strings is fine). */
typedef struct bytes {
    uint8_t *data;
    size_t len;
} bytes;

static bytes from_hex(const char *hex, size_t n)
{
    bytes b = {malloc(n / 2 + 1), n / 2};
    assert_non_null(b.data);
    assert_int_equal(tu_unhex(hex, n, b.data), 0);
    return b;
}

static bytes concat(bytes a, bytes b)
{
    bytes r = {malloc(a.len + b.len + 1), a.len + b.len};
    assert_non_null(r.data);
    memcpy(r.data, a.data, a.len);
    memcpy(r.data + a.len, b.data, b.len);
    return r;
}

/* The hex string under `key` in mapping `n`, decoded; the key must exist. */
static bytes field_hex(struct fy_node *n, const char *key)
{
    size_t len = 0;
    const char *s = fy_node_mapping_lookup_scalar_by_simple_key(n, &len, key, FY_NT);
    if (s == NULL)
        fail_msg("missing field \"%s\"", key);
    return from_hex(s, len);
}

static long field_long(struct fy_node *n, const char *key)
{
    size_t len = 0;
    const char *s = fy_node_mapping_lookup_scalar_by_simple_key(n, &len, key, FY_NT);
    if (s == NULL || len == 0 || len > 20)
        fail_msg("missing or bad number \"%s\"", key);
    char buf[24];
    memcpy(buf, s, len);
    buf[len] = '\0';
    return strtol(buf, NULL, 10);
}

static int field_is(struct fy_node *n, const char *key, const char *want)
{
    size_t len = 0;
    const char *s = fy_node_mapping_lookup_scalar_by_simple_key(n, &len, key, FY_NT);
    if (s == NULL)
        fail_msg("missing field \"%s\"", key);
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

static struct fy_document *load_json(const char *rel)
{
    const char *dir = getenv("NES_TESTDATA");
    if (dir == NULL)
        fail_msg("NES_TESTDATA is not set");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct fy_document *doc = fy_document_build_from_file(NULL, path);
    if (doc == NULL)
        fail_msg("cannot parse %s", path);
    return doc;
}

/* One implementation path of the AEAD: the AES back end and the POLYVAL back end. */
typedef struct path {
    nes_aes_impl aes;
    nes_polyval_impl polyval;
} path;

static const path AUTO_PATH = {NES_AES_AUTO, NES_POLYVAL_AUTO};

/* The paths to run every vector under: each AES back end (OpenSSL, and AES-NI when the CPU has
 * it) with each POLYVAL back end (portable, and PCLMULQDQ when the CPU has it). */
static int impls(path out[4])
{
    int n = 0;
    for (int a = 0; a < 2; a++) {
        if (a == 1 && !nes_aesni_available())
            continue;
        for (int p = 0; p < 2; p++) {
            if (p == 1 && !nes_polyval_clmul_available())
                continue;
            out[n].aes = a == 1 ? NES_AES_NI : NES_AES_OPENSSL;
            out[n++].polyval = p == 1 ? NES_POLYVAL_CLMUL : NES_POLYVAL_PORTABLE;
        }
    }
    return n;
}

static const char *impl_name(path p)
{
    static const char *names[3][3] = {{"auto", "auto+portable", "auto+clmul"},
                                      {"openssl+auto", "openssl+portable", "openssl+clmul"},
                                      {"aesni+auto", "aesni+portable", "aesni+clmul"}};
    return names[p.aes][p.polyval];
}

/* A context on path p; a forced AES back end must really be the one in use. */
static nes_gcmsiv *new_ctx(const uint8_t *key, path p)
{
    nes_gcmsiv *ctx = nes_gcmsiv_new_impl(key, p.aes);
    assert_non_null(ctx);
    if (p.aes != NES_AES_AUTO)
        assert_int_equal(nes_gcmsiv_aes_impl(ctx), p.aes);
    nes_gcmsiv_set_polyval_impl(ctx, p.polyval);
    return ctx;
}

/* A valid vector: seal gives exactly ct||tag (also in place) and open gives the plaintext back
 * (also in place). */
static void check_valid(const char *id, path impl, bytes key, bytes nonce, bytes aad, bytes pt,
                        bytes ct_tag)
{
    assert_int_equal(key.len, NES_GCMSIV_KEY_LEN);
    assert_int_equal(nonce.len, NES_GCMSIV_NONCE_LEN);
    assert_int_equal(ct_tag.len, pt.len + NES_GCMSIV_TAG_LEN);
    nes_gcmsiv *ctx = new_ctx(key.data, impl);
    uint8_t *buf = malloc(ct_tag.len);
    assert_non_null(buf);

    memset(buf, 0xee, ct_tag.len);
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce.data, aad.data, aad.len, pt.data, pt.len, buf), 0);
    if (memcmp(buf, ct_tag.data, ct_tag.len) != 0)
        fail_msg("%s (%s): seal mismatch", id, impl_name(impl));

    memset(buf, 0xee, ct_tag.len);
    assert_int_equal(
        nes_gcmsiv_open(ctx, nonce.data, aad.data, aad.len, ct_tag.data, ct_tag.len, buf), 0);
    if (memcmp(buf, pt.data, pt.len) != 0)
        fail_msg("%s (%s): open mismatch", id, impl_name(impl));

    memcpy(buf, pt.data, pt.len); /* in place */
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce.data, aad.data, aad.len, buf, pt.len, buf), 0);
    assert_memory_equal(buf, ct_tag.data, ct_tag.len);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce.data, aad.data, aad.len, buf, ct_tag.len, buf), 0);
    assert_memory_equal(buf, pt.data, pt.len);

    free(buf);
    nes_gcmsiv_free(ctx);
}

/* An invalid vector: open fails and leaves the output zeroed. */
static void check_invalid(const char *id, path impl, bytes key, bytes nonce, bytes aad,
                          bytes ct_tag)
{
    nes_gcmsiv *ctx = new_ctx(key.data, impl);
    uint8_t *buf = malloc(ct_tag.len + 1);
    assert_non_null(buf);
    memset(buf, 0xee, ct_tag.len + 1);
    if (nes_gcmsiv_open(ctx, nonce.data, aad.data, aad.len, ct_tag.data, ct_tag.len, buf) == 0)
        fail_msg("%s (%s): invalid ciphertext opened", id, impl_name(impl));
    for (size_t i = 0; ct_tag.len >= NES_GCMSIV_TAG_LEN && i < ct_tag.len - NES_GCMSIV_TAG_LEN; i++)
        assert_int_equal(buf[i], 0);
    free(buf);
    nes_gcmsiv_free(ctx);
}

static void free_bytes(bytes *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i].data);
}

/* ---- vector files --------------------------------------------------------------------------- */

/* RFC 8452 Appendix C.2 (24 vectors) and C.3 (2 counter-wrap vectors), AES-256. */
static void rfc8452_vectors(void **state)
{
    (void)state;
    struct fy_document *doc = load_json("rfc8452/rfc8452_appendix_c2_c3_aes256.json");
    struct fy_node *vectors =
        fy_node_by_path(fy_document_root(doc), "/vectors", FY_NT, FYNWF_DONT_FOLLOW);
    assert_non_null(vectors);
    const int in_file = fy_node_sequence_item_count(vectors);
    path list[4];
    const int nimpl = impls(list);
    for (int k = 0; k < nimpl; k++) {
        int ran = 0, c2 = 0, c3 = 0;
        void *iter = NULL;
        struct fy_node *v;
        while ((v = fy_node_sequence_iterate(vectors, &iter)) != NULL) {
            char id[32];
            size_t idlen = 0;
            const char *s = fy_node_mapping_lookup_scalar_by_simple_key(v, &idlen, "id", FY_NT);
            assert_non_null(s);
            snprintf(id, sizeof id, "%.*s", (int)idlen, s);
            bytes f[7] = {field_hex(v, "key"),        field_hex(v, "nonce"),
                          field_hex(v, "aad"),        field_hex(v, "plaintext"),
                          field_hex(v, "ciphertext"), field_hex(v, "tag"),
                          field_hex(v, "result")};
            bytes joined = concat(f[4], f[5]);
            assert_int_equal(joined.len, f[6].len); /* result == ciphertext || tag */
            assert_memory_equal(joined.data, f[6].data, f[6].len);
            check_valid(id, list[k], f[0], f[1], f[2], f[3], f[6]);
            free(joined.data);
            free_bytes(f, 7);
            ran++;
            c2 += strncmp(id, "C.2-", 4) == 0;
            c3 += strncmp(id, "C.3-", 4) == 0;
        }
        print_message("rfc8452 (%s): %d vectors (C.2: %d, C.3: %d)\n", impl_name(list[k]), ran, c2,
                      c3);
        assert_true(ran > 0);
        assert_int_equal(ran, in_file);
        assert_int_equal(c2, 24);
        assert_int_equal(c3, 2);
    }
    fy_document_destroy(doc);
}

/* Wycheproof aes_gcm_siv_test.json: every test of every keySize-256 group. */
static void wycheproof_vectors(void **state)
{
    (void)state;
    struct fy_document *doc = load_json("wycheproof/aes_gcm_siv_test.json");
    struct fy_node *root = fy_document_root(doc);
    const long declared = field_long(root, "numberOfTests");
    struct fy_node *groups = fy_node_by_path(root, "/testGroups", FY_NT, FYNWF_DONT_FOLLOW);
    assert_non_null(groups);
    path list[4];
    const int nimpl = impls(list);
    for (int k = 0; k < nimpl; k++) {
        long valid = 0, invalid = 0, acceptable = 0, other_sizes = 0;
        void *giter = NULL;
        struct fy_node *g;
        while ((g = fy_node_sequence_iterate(groups, &giter)) != NULL) {
            struct fy_node *tests = fy_node_by_path(g, "/tests", FY_NT, FYNWF_DONT_FOLLOW);
            assert_non_null(tests);
            if (field_long(g, "keySize") != 256) {
                other_sizes += fy_node_sequence_item_count(tests);
                continue;
            }
            assert_int_equal(field_long(g, "tagSize"), 128);
            void *titer = NULL;
            struct fy_node *t;
            while ((t = fy_node_sequence_iterate(tests, &titer)) != NULL) {
                char id[32];
                snprintf(id, sizeof id, "tcId %ld", field_long(t, "tcId"));
                bytes f[6] = {field_hex(t, "key"), field_hex(t, "iv"), field_hex(t, "aad"),
                              field_hex(t, "msg"), field_hex(t, "ct"), field_hex(t, "tag")};
                bytes ct_tag = concat(f[4], f[5]);
                if (field_is(t, "result", "valid")) {
                    check_valid(id, list[k], f[0], f[1], f[2], f[3], ct_tag);
                    valid++;
                } else if (field_is(t, "result", "invalid")) {
                    /* this API only takes 96-bit nonces; an invalid test with another size is
                     * rejected by construction and there is nothing to call */
                    if (f[1].len == NES_GCMSIV_NONCE_LEN)
                        check_invalid(id, list[k], f[0], f[1], f[2], ct_tag);
                    invalid++;
                } else {
                    /* "acceptable": either outcome is allowed; when it opens, it must give the
                     * message */
                    if (f[1].len == NES_GCMSIV_NONCE_LEN && ct_tag.len >= NES_GCMSIV_TAG_LEN) {
                        nes_gcmsiv *ctx = new_ctx(f[0].data, list[k]);
                        uint8_t *out = malloc(ct_tag.len);
                        assert_non_null(out);
                        if (nes_gcmsiv_open(ctx, f[1].data, f[2].data, f[2].len, ct_tag.data,
                                            ct_tag.len, out) == 0)
                            assert_memory_equal(out, f[3].data, f[3].len);
                        free(out);
                        nes_gcmsiv_free(ctx);
                    }
                    acceptable++;
                }
                free(ct_tag.data);
                free_bytes(f, 6);
            }
        }
        print_message("wycheproof (%s): %ld keySize-256 tests (%ld valid, %ld invalid, "
                      "%ld acceptable); %ld other key sizes not run; file declares %ld\n",
                      impl_name(list[k]), valid + invalid + acceptable, valid, invalid, acceptable,
                      other_sizes, declared);
        assert_true(valid > 0);
        assert_true(invalid > 0);
        assert_int_equal(valid + invalid + acceptable + other_sizes, declared);
    }
    fy_document_destroy(doc);
}

/* ---- behaviour ------------------------------------------------------------------------------ */

typedef struct sample {
    uint8_t key[32];
    uint8_t nonce[12];
    uint8_t aad[13];
    uint8_t pt[37];
    uint8_t ct[37 + 16];
} sample;

static void make_sample(sample *s, path impl)
{
    tu_rng_fill(&rng_state, s->key, sizeof s->key);
    tu_rng_fill(&rng_state, s->nonce, sizeof s->nonce);
    tu_rng_fill(&rng_state, s->aad, sizeof s->aad);
    tu_rng_fill(&rng_state, s->pt, sizeof s->pt);
    nes_gcmsiv *ctx = new_ctx(s->key, impl);
    assert_int_equal(
        nes_gcmsiv_seal(ctx, s->nonce, s->aad, sizeof s->aad, s->pt, sizeof s->pt, s->ct), 0);
    nes_gcmsiv_free(ctx);
}

/* Opens s->ct (after the caller's changes) and returns the result; out is checked zeroed on
 * failure. */
static int try_open(const sample *s, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                    size_t aad_len, const uint8_t *ct, size_t ct_len, path impl)
{
    nes_gcmsiv *ctx = new_ctx(key, impl);
    uint8_t out[sizeof s->pt + 1];
    memset(out, 0xee, sizeof out);
    const int rc = nes_gcmsiv_open(ctx, nonce, aad, aad_len, ct, ct_len, out);
    if (rc != 0)
        for (size_t i = 0; i < ct_len - NES_GCMSIV_TAG_LEN; i++)
            assert_int_equal(out[i], 0);
    else
        assert_memory_equal(out, s->pt, sizeof s->pt);
    nes_gcmsiv_free(ctx);
    return rc;
}

/* Every single-bit change of ciphertext, tag, AAD, nonce or key, and every truncation, fails. */
static void tampering_fails(void **state)
{
    (void)state;
    path list[4];
    const int nimpl = impls(list);
    for (int k = 0; k < nimpl; k++) {
        sample s;
        make_sample(&s, list[k]);
        assert_int_equal(
            try_open(&s, s.key, s.nonce, s.aad, sizeof s.aad, s.ct, sizeof s.ct, list[k]), 0);
        for (size_t bit = 0; bit < 8 * sizeof s.ct; bit++) { /* ciphertext and tag */
            s.ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(
                try_open(&s, s.key, s.nonce, s.aad, sizeof s.aad, s.ct, sizeof s.ct, list[k]), -1);
            s.ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        for (size_t bit = 0; bit < 8 * sizeof s.aad; bit++) {
            s.aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(
                try_open(&s, s.key, s.nonce, s.aad, sizeof s.aad, s.ct, sizeof s.ct, list[k]), -1);
            s.aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        for (size_t bit = 0; bit < 8 * sizeof s.nonce; bit++) {
            s.nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(
                try_open(&s, s.key, s.nonce, s.aad, sizeof s.aad, s.ct, sizeof s.ct, list[k]), -1);
            s.nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        for (size_t bit = 0; bit < 8 * sizeof s.key; bit += 7) {
            s.key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            assert_int_equal(
                try_open(&s, s.key, s.nonce, s.aad, sizeof s.aad, s.ct, sizeof s.ct, list[k]), -1);
            s.key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* shorter AAD, no AAD, shorter ciphertext: all fail */
        assert_int_equal(
            try_open(&s, s.key, s.nonce, s.aad, sizeof s.aad - 1, s.ct, sizeof s.ct, list[k]), -1);
        assert_int_equal(try_open(&s, s.key, s.nonce, NULL, 0, s.ct, sizeof s.ct, list[k]), -1);
        for (size_t len = NES_GCMSIV_TAG_LEN; len < sizeof s.ct; len++)
            assert_int_equal(try_open(&s, s.key, s.nonce, s.aad, sizeof s.aad, s.ct, len, list[k]),
                             -1);
        /* and the untouched sample still opens */
        assert_int_equal(
            try_open(&s, s.key, s.nonce, s.aad, sizeof s.aad, s.ct, sizeof s.ct, list[k]), 0);
    }
}

/* Empty message, empty AAD, both empty (NULL pointers allowed); the results differ from each
 * other and round-trip. */
static void empty_message_and_aad(void **state)
{
    (void)state;
    uint8_t key[32], nonce[12], aad[5], pt[3];
    tu_rng_fill(&rng_state, key, sizeof key);
    tu_rng_fill(&rng_state, nonce, sizeof nonce);
    tu_rng_fill(&rng_state, aad, sizeof aad);
    tu_rng_fill(&rng_state, pt, sizeof pt);
    nes_gcmsiv *ctx = new_ctx(key, AUTO_PATH);
    uint8_t both[16], no_pt[16], no_aad[3 + 16], out[3];
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce, NULL, 0, NULL, 0, both), 0);
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce, aad, sizeof aad, NULL, 0, no_pt), 0);
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce, NULL, 0, pt, sizeof pt, no_aad), 0);
    assert_memory_not_equal(both, no_pt, 16);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce, NULL, 0, both, sizeof both, NULL), 0);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce, aad, sizeof aad, no_pt, sizeof no_pt, NULL), 0);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce, NULL, 0, no_pt, sizeof no_pt, NULL), -1);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce, aad, sizeof aad, both, sizeof both, NULL), -1);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce, NULL, 0, no_aad, sizeof no_aad, out), 0);
    assert_memory_equal(out, pt, sizeof pt);
    nes_gcmsiv_free(ctx);
}

/* Lengths over the RFC limits, short ciphertexts and missing buffers are rejected before anything
 * is read or written (the buffers here are far smaller than the lengths claimed). */
static void length_limits_and_arguments(void **state)
{
    (void)state;
    uint8_t key[32] = {1}, nonce[12] = {2}, small[32] = {3}, out[64];
    nes_gcmsiv *ctx = new_ctx(key, AUTO_PATH);
    const size_t over = (size_t)NES_GCMSIV_MAX_LEN + 1;
    memset(out, 0xee, sizeof out);
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce, small, 0, small, over, out), -1);
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce, small, over, small, 1, out), -1);
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce, small, SIZE_MAX, small, SIZE_MAX, out), -1);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce, small, 0, small, over + NES_GCMSIV_TAG_LEN, out),
                     -1);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce, small, over, small, 16, out), -1);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce, small, 0, small, SIZE_MAX, out), -1);
    for (size_t len = 0; len < NES_GCMSIV_TAG_LEN; len++)
        assert_int_equal(nes_gcmsiv_open(ctx, nonce, NULL, 0, small, len, out), -1);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0xee); /* nothing written */
    /* NULL where a length says there is data */
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce, NULL, 1, small, 1, out), -1);
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce, NULL, 0, NULL, 1, out), -1);
    assert_int_equal(nes_gcmsiv_seal(ctx, nonce, NULL, 0, small, 1, NULL), -1);
    assert_int_equal(nes_gcmsiv_seal(NULL, nonce, NULL, 0, small, 1, out), -1);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce, NULL, 0, small, 17, NULL), -1);
    assert_int_equal(nes_gcmsiv_open(ctx, nonce, NULL, 0, NULL, 16, out), -1);
    /* the limit itself is inclusive: exactly 2^36 passes the check (not run: 64 GiB) */
    nes_gcmsiv_free(ctx);
    nes_gcmsiv_free(NULL);
}

/* Messages across the keystream batch sizes (8, 4, 1 blocks and a partial one) and the
 * 8/4-block POLYVAL paths, in place and not: every implementation path gives the bytes of the
 * all-fallback path (OpenSSL AES, portable POLYVAL), and everything round-trips. */
static void long_messages_in_place(void **state)
{
    (void)state;
    static const size_t lens[] = {0,   1,   15,  16,  17,  63,   64,   65,  127,
                                  128, 129, 511, 512, 513, 1024, 3000, 8193};
    const path ref_path = {NES_AES_OPENSSL, NES_POLYVAL_PORTABLE};
    path list[4];
    const int nimpl = impls(list);
    uint8_t key[32], nonce[12], aad[70];
    tu_rng_fill(&rng_state, key, sizeof key);
    nes_gcmsiv *ref = new_ctx(key, ref_path);
    for (int k = 0; k < nimpl; k++) {
        nes_gcmsiv *other = new_ctx(key, list[k]);
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            const size_t len = lens[i], aad_len = (size_t)(tu_rng_next(&rng_state) % sizeof aad);
            tu_rng_fill(&rng_state, nonce, sizeof nonce);
            tu_rng_fill(&rng_state, aad, aad_len);
            uint8_t *pt = malloc(len + 1), *a = malloc(len + 16), *b = malloc(len + 16);
            assert_true(pt != NULL && a != NULL && b != NULL);
            tu_rng_fill(&rng_state, pt, len);
            assert_int_equal(nes_gcmsiv_seal(ref, nonce, aad, aad_len, pt, len, a), 0);
            memcpy(b, pt, len);
            assert_int_equal(nes_gcmsiv_seal(other, nonce, aad, aad_len, b, len, b), 0);
            if (memcmp(a, b, len + 16) != 0)
                fail_msg("%s: %zu bytes differ from the fallback path", impl_name(list[k]), len);
            if (len > 0)
                assert_memory_not_equal(a, pt, len);
            assert_int_equal(nes_gcmsiv_open(ref, nonce, aad, aad_len, b, len + 16, b), 0);
            assert_memory_equal(b, pt, len);
            assert_int_equal(nes_gcmsiv_open(other, nonce, aad, aad_len, a, len + 16, a), 0);
            assert_memory_equal(a, pt, len);
            free(pt);
            free(a);
            free(b);
        }
        nes_gcmsiv_free(other);
    }
    nes_gcmsiv_free(ref);
}

/* A context reused for many messages (different nonces, interleaved seal/open) gives the same
 * bytes as a fresh context per message: the per-message re-keying leaves no state behind. */
static void reuse_on_path(const uint8_t key[32], path p)
{
    uint8_t nonce[12], pt[100], a[116], b[116];
    nes_gcmsiv *reused = new_ctx(key, p);
    for (int i = 0; i < 50; i++) {
        const size_t len = (size_t)(tu_rng_next(&rng_state) % sizeof pt);
        tu_rng_fill(&rng_state, nonce, sizeof nonce);
        tu_rng_fill(&rng_state, pt, len);
        assert_int_equal(nes_gcmsiv_seal(reused, nonce, pt, len / 3, pt, len, a), 0);
        nes_gcmsiv *fresh = new_ctx(key, p);
        assert_int_equal(nes_gcmsiv_seal(fresh, nonce, pt, len / 3, pt, len, b), 0);
        nes_gcmsiv_free(fresh);
        assert_memory_equal(a, b, len + 16);
        if (i % 2 == 0) { /* a failing open in between must not disturb the next message */
            a[0] ^= 1;
            assert_int_equal(nes_gcmsiv_open(reused, nonce, pt, len / 3, a, len + 16, b), -1);
        }
    }
    nes_gcmsiv_free(reused);
}

static void context_reuse_matches_fresh(void **state)
{
    (void)state;
    uint8_t key[32];
    tu_rng_fill(&rng_state, key, sizeof key);
    path list[4];
    const int nimpl = impls(list);
    for (int k = 0; k < nimpl; k++)
        reuse_on_path(key, list[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc8452_vectors),
        cmocka_unit_test(wycheproof_vectors),
        cmocka_unit_test(tampering_fails),
        cmocka_unit_test(empty_message_and_aad),
        cmocka_unit_test(length_limits_and_arguments),
        cmocka_unit_test(long_messages_in_place),
        cmocka_unit_test(context_reuse_matches_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
