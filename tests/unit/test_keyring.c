/* Unit tests: keyring.c (keyrings, key files, key generation, crypter, codec adapter). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>

#include "core/b64url.h"
#include "core/keyring.h"

/* Three DEKs and their key-file lines (padded standard base64, computed independently with
 * Python's base64 module). */
static uint8_t DEKS[3][32];
static const char *LINES[3] = {
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
    "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=",
};

static int setup(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 32; i++)
            DEKS[k][i] = (uint8_t)(32 * k + i);
    return 0;
}

static nes_status parse(const char *text, nes_keyring **kr, nes_err *err)
{
    nes_err_clear(err);
    return nes_keyring_parse(text, strlen(text), kr, err);
}

/* ---- keyrings ------------------------------------------------------------------------------- */

static void keyring_new_copies_keys(void **state)
{
    (void)state;
    uint8_t deks[2][32];
    memcpy(deks, DEKS, sizeof deks);
    nes_keyring *kr = nes_keyring_new((const uint8_t(*)[32])deks, 2);
    assert_non_null(kr);
    memset(deks, 0, sizeof deks); /* the keyring holds its own copy */
    assert_int_equal(nes_keyring_size(kr), 2);
    assert_memory_equal(nes_keyring_key(kr, 0), DEKS[0], 32);
    assert_memory_equal(nes_keyring_key(kr, 1), DEKS[1], 32);
    assert_null(nes_keyring_key(kr, 2));
    nes_keyring_free(kr);
    nes_keyring_free(NULL);
}

static void keyring_new_bounds(void **state)
{
    (void)state;
    static uint8_t many[NES_KEYRING_MAX + 1][32];
    assert_null(nes_keyring_new((const uint8_t(*)[32])many, 0));
    assert_null(nes_keyring_new(NULL, 1));
    assert_null(nes_keyring_new((const uint8_t(*)[32])many, NES_KEYRING_MAX + 1));
    nes_keyring *kr = nes_keyring_new((const uint8_t(*)[32])many, NES_KEYRING_MAX);
    assert_non_null(kr);
    assert_int_equal(nes_keyring_size(kr), NES_KEYRING_MAX);
    nes_keyring_free(kr);
}

/* ---- key files ------------------------------------------------------------------------------ */

static void parse_good_file(void **state)
{
    (void)state;
    char text[512];
    snprintf(text, sizeof text,
             "# nitro-enc dev keys\n"
             "\n"
             "%s\r\n" /* CRLF */
             "   # indented comment\n"
             "\t%s  \t\n" /* surrounding whitespace */
             "%s",        /* no final newline */
             LINES[0], LINES[1], LINES[2]);
    nes_keyring *kr = NULL;
    nes_err err;
    assert_int_equal(parse(text, &kr, &err), NES_OK);
    assert_int_equal(nes_keyring_size(kr), 3);
    for (size_t i = 0; i < 3; i++)
        assert_memory_equal(nes_keyring_key(kr, i), DEKS[i], 32);
    nes_keyring_free(kr);
}

/* Each bad file is rejected with the right status, a message naming the line, and no key text. */
static void parse_errors_name_the_line(void **state)
{
    (void)state;
    char not_b64[45], short31[45], long33[45], bits[45], url[45];
    memcpy(not_b64, LINES[1], 45);
    not_b64[10] = '!';
    /* 31 and 33 bytes also take 44 characters */
    uint8_t raw[33] = {0};
    nes_b64_encode(raw, 31, short31);
    short31[44] = '\0';
    nes_b64_encode(raw, 33, long33);
    long33[44] = '\0';
    memcpy(bits, LINES[1], 45);
    bits[42] = 'A' + 9; /* 'J': the last character's low two bits set */
    memcpy(url, LINES[1], 45);
    url[5] = '-';
    char trunc43[45], spaced[46];
    memcpy(trunc43, LINES[0], 43);
    trunc43[43] = '\0';
    memcpy(spaced, LINES[0], 22);
    spaced[22] = ' ';
    memcpy(spaced + 23, LINES[0] + 22, 23);
    char buf[2048];
    const struct {
        const char *pre, *arg, *post;
        nes_status st;
        const char *words;
    } cases[] = {
        {"", not_b64, "\n", NES_ERR_KEY, "line 1: not canonical padded base64"},
        {"# c\n\n", short31, "\n", NES_ERR_KEY, "line 3: key is 31 bytes, expected 32"},
        {"", long33, "\n", NES_ERR_KEY, "line 1: key is 33 bytes, expected 32"},
        {"", bits, "\n", NES_ERR_KEY, "line 1: not canonical"},
        {"", url, "\n", NES_ERR_KEY, "line 1: not canonical"},
        {"x\n", "", "\n", NES_ERR_KEY, "line 1: expected a 44-character base64 key, found 1"},
        {"", trunc43, "\n", NES_ERR_KEY, "line 1: expected a 44-character base64 key, found 43"},
        {"", LINES[0], "=\n", NES_ERR_KEY, "found 45"},
        {"", spaced, "\n", NES_ERR_KEY, "line 1: expected"}, /* space inside */
        {"", "", "", NES_ERR_KEY, "no key"},
        {"# only a comment\n\n  \n", "", "", NES_ERR_KEY, "no key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "%s%s%s", cases[i].pre, cases[i].arg, cases[i].post);
        nes_keyring *kr = (nes_keyring *)1;
        nes_err err;
        assert_int_equal(parse(text, &kr, &err), cases[i].st);
        assert_null(kr);
        assert_int_equal(err.status, cases[i].st);
        if (strstr(err.msg, cases[i].words) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].words);
        if (cases[i].arg[0] != '\0') /* the message never carries the line's content */
            assert_null(strstr(err.msg, cases[i].arg + 8));
    }
    /* good lines first: the error still points at the bad one, with its byte offset */
    snprintf(buf, sizeof buf, "%s\n%s\n%s\n", LINES[0], LINES[1], not_b64);
    nes_keyring *kr = NULL;
    nes_err err;
    assert_int_equal(parse(buf, &kr, &err), NES_ERR_KEY);
    assert_non_null(strstr(err.msg, "line 3:"));
    assert_int_equal(err.offset, 90);
    /* an embedded NUL is a bad character */
    char withnul[46];
    memcpy(withnul, LINES[0], 44);
    withnul[44] = '\n';
    withnul[7] = '\0';
    assert_int_equal(nes_keyring_parse(withnul, 45, &kr, &err), NES_ERR_KEY);
}

static void parse_too_many_keys(void **state)
{
    (void)state;
    char text[2048] = "";
    for (int i = 0; i < NES_KEYRING_MAX; i++) {
        strcat(text, LINES[i % 3]);
        strcat(text, "\n");
    }
    nes_keyring *kr = NULL;
    nes_err err;
    assert_int_equal(parse(text, &kr, &err), NES_OK);
    assert_int_equal(nes_keyring_size(kr), NES_KEYRING_MAX);
    nes_keyring_free(kr);
    strcat(text, "# a comment does not count\n");
    strcat(text, LINES[0]);
    assert_int_equal(parse(text, &kr, &err), NES_ERR_LIMIT);
    assert_null(kr);
    assert_non_null(strstr(err.msg, "line 18: more than 16 keys"));
}

static char *temp_file(const char *content, size_t len)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/nes-keyring-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static void load_file(void **state)
{
    (void)state;
    char text[256];
    snprintf(text, sizeof text, "%s\n%s\n", LINES[2], LINES[0]);
    char *path = temp_file(text, strlen(text));
    nes_keyring *kr = NULL;
    nes_err err;
    nes_err_clear(&err);
    assert_int_equal(nes_keyring_load_file(path, &kr, &err), NES_OK);
    assert_int_equal(nes_keyring_size(kr), 2);
    assert_memory_equal(nes_keyring_key(kr, 0), DEKS[2], 32);
    assert_memory_equal(nes_keyring_key(kr, 1), DEKS[0], 32);
    nes_keyring_free(kr);
    unlink(path);

    /* parse errors come through */
    path = temp_file("\n\nnot a key\n", 11);
    assert_int_equal(nes_keyring_load_file(path, &kr, &err), NES_ERR_KEY);
    assert_non_null(strstr(err.msg, "line 3"));
    unlink(path);

    /* exactly 64 KiB is accepted, one byte more is not */
    size_t max = 64 * 1024;
    char *big = malloc(max + 1);
    assert_non_null(big);
    memset(big, '#', max + 1);
    memcpy(big, LINES[1], 44);
    big[44] = '\n';
    path = temp_file(big, max);
    assert_int_equal(nes_keyring_load_file(path, &kr, &err), NES_OK);
    assert_memory_equal(nes_keyring_key(kr, 0), DEKS[1], 32);
    nes_keyring_free(kr);
    unlink(path);
    path = temp_file(big, max + 1);
    assert_int_equal(nes_keyring_load_file(path, &kr, &err), NES_ERR_LIMIT);
    assert_null(kr);
    unlink(path);
    free(big);

    assert_int_equal(nes_keyring_load_file("/nonexistent/keys", &kr, &err), NES_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/keys"));
    assert_int_equal(nes_keyring_load_file("/tmp", &kr, &err), NES_ERR_IO);
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_null(kr);
}

static void keygen_and_key_line(void **state)
{
    (void)state;
    uint8_t a[32], b[32], zero[32] = {0};
    assert_int_equal(nes_keygen(a), 0);
    assert_int_equal(nes_keygen(b), 0);
    assert_memory_not_equal(a, b, 32);
    assert_memory_not_equal(a, zero, 32);

    char line[NES_KEY_LINE_LEN + 1];
    memset(line, 'x', sizeof line);
    nes_key_line(DEKS[0], line);
    assert_string_equal(line, LINES[0]);
    /* a generated key survives the trip through a key file */
    nes_key_line(a, line);
    assert_int_equal(strlen(line), NES_KEY_LINE_LEN);
    nes_keyring *kr = NULL;
    nes_err err;
    assert_int_equal(parse(line, &kr, &err), NES_OK);
    assert_memory_equal(nes_keyring_key(kr, 0), a, 32);
    nes_keyring_free(kr);
}

/* ---- crypter -------------------------------------------------------------------------------- */

static nes_keyring *ring(size_t first, size_t n)
{
    uint8_t deks[3][32];
    for (size_t i = 0; i < n; i++)
        memcpy(deks[i], DEKS[(first + i) % 3], 32);
    nes_keyring *kr = nes_keyring_new((const uint8_t(*)[32])deks, n);
    assert_non_null(kr);
    return kr;
}

static void crypter_encrypts_with_current_key(void **state)
{
    (void)state;
    nes_keyring *kr = ring(1, 3); /* current: DEKS[1] */
    nes_crypter *c = nes_crypter_new(kr);
    assert_non_null(c);
    nes_buf out = {0};
    assert_int_equal(nes_buf_append(&out, "prefix:", 7), 0);
    assert_int_equal(
        nes_crypter_encrypt(c, (const uint8_t *)"ssn", 3, (const uint8_t *)"123-45-6789", 11, &out),
        0);
    /* same as a field key of the current DEK, appended after the existing bytes */
    nes_fieldkey *k = nes_fieldkey_new(DEKS[1]);
    char want[128];
    assert_int_equal(
        nes_token_encrypt(k, (const uint8_t *)"ssn", 3, (const uint8_t *)"123-45-6789", 11, want),
        0);
    assert_int_equal(out.len, 7 + nes_token_len(11));
    assert_memory_equal(out.data, "prefix:", 7);
    assert_memory_equal(out.data + 7, want, nes_token_len(11));
    nes_fieldkey_free(k);
    nes_buf_free(&out);
    nes_crypter_free(c);
    nes_crypter_free(NULL);
    nes_keyring_free(kr);
}

/* A crypter on the fallback path (nes_crypter_new_impl) writes the same tokens and opens tokens
 * of every key of the ring. */
static void crypter_fallback_path_agrees(void **state)
{
    (void)state;
    nes_keyring *kr = ring(0, 3);
    nes_crypter *fast = nes_crypter_new(kr), *slow = nes_crypter_new_impl(kr, NES_FALLBACK_ALL);
    assert_true(fast != NULL && slow != NULL);
    const uint8_t *ctx = (const uint8_t *)"email";
    const uint8_t *pt = (const uint8_t *)"alice@example.com";
    nes_buf a = {0}, b = {0}, out = {0};
    assert_int_equal(nes_crypter_encrypt(fast, ctx, 5, pt, 17, &a), 0);
    assert_int_equal(nes_crypter_encrypt(slow, ctx, 5, pt, 17, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    for (size_t i = 0; i < 3; i++) {
        nes_fieldkey *k = nes_fieldkey_new(DEKS[i]);
        char tok[128];
        assert_int_equal(nes_token_encrypt(k, ctx, 5, pt, 17, tok), 0);
        size_t idx = 99;
        out.len = 0;
        assert_int_equal(nes_crypter_decrypt(slow, ctx, 5, tok, nes_token_len(17), &out, &idx),
                         NES_OK);
        assert_int_equal(idx, i);
        assert_memory_equal(out.data, pt, 17);
        nes_fieldkey_free(k);
    }
    nes_buf_free(&a);
    nes_buf_free(&b);
    nes_buf_free(&out);
    nes_crypter_free(fast);
    nes_crypter_free(slow);
    nes_keyring_free(kr);
}

static void crypter_decrypts_with_previous_keys(void **state)
{
    (void)state;
    nes_keyring *kr = ring(0, 3);
    nes_crypter *c = nes_crypter_new(kr);
    const uint8_t *ctx = (const uint8_t *)"email";
    const uint8_t *pt = (const uint8_t *)"alice@example.com";
    for (size_t i = 0; i < 3; i++) {
        nes_fieldkey *k = nes_fieldkey_new(DEKS[i]);
        char tok[128];
        assert_int_equal(nes_token_encrypt(k, ctx, 5, pt, 17, tok), 0);
        nes_buf out = {0};
        assert_int_equal(nes_buf_append(&out, "x", 1), 0);
        size_t idx = 99;
        assert_int_equal(nes_crypter_decrypt(c, ctx, 5, tok, nes_token_len(17), &out, &idx),
                         NES_OK);
        assert_int_equal(idx, i);
        assert_int_equal(out.len, 1 + 17);
        assert_memory_equal(out.data + 1, pt, 17);
        /* key_index may be NULL; wrong context fails under every key */
        assert_int_equal(nes_crypter_decrypt(c, ctx, 5, tok, nes_token_len(17), &out, NULL),
                         NES_OK);
        assert_int_equal(out.len, 1 + 34);
        assert_int_equal(nes_crypter_decrypt(c, ctx, 4, tok, nes_token_len(17), &out, &idx),
                         NES_ERR_TOKEN);
        assert_int_equal(out.len, 1 + 34);
        nes_buf_free(&out);
        nes_fieldkey_free(k);
    }
    nes_crypter_free(c);
    nes_keyring_free(kr);
}

static void crypter_rejects_unknown_key_and_malformed(void **state)
{
    (void)state;
    nes_keyring *kr = ring(0, 2); /* DEKS[0], DEKS[1] */
    nes_crypter *c = nes_crypter_new(kr);
    nes_fieldkey *stranger = nes_fieldkey_new(DEKS[2]);
    char tok[128];
    assert_int_equal(nes_token_encrypt(stranger, NULL, 0, (const uint8_t *)"secret", 6, tok), 0);
    size_t len = nes_token_len(6);
    nes_buf out = {0};
    size_t idx = 99;
    assert_int_equal(nes_crypter_decrypt(c, NULL, 0, tok, len, &out, &idx), NES_ERR_TOKEN);
    assert_int_equal(out.len, 0);
    assert_int_equal(idx, 99);
    assert_true(out.cap >= 22);
    for (size_t i = 0; i < 22; i++) /* the decoded ciphertext (6 + 16 bytes) is wiped */
        assert_int_equal(out.data[i], 0);
    const char *bad[] = {"", "v1.", "v2.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", "not a token",
                         "v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(nes_crypter_decrypt(c, NULL, 0, bad[i], strlen(bad[i]), &out, &idx),
                         NES_ERR_TOKEN);
    assert_int_equal(out.len, 0);
    nes_buf_free(&out);
    nes_fieldkey_free(stranger);
    nes_crypter_free(c);
    nes_keyring_free(kr);
}

static void crypter_respects_buffer_cap(void **state)
{
    (void)state;
    nes_keyring *kr = ring(0, 1);
    nes_crypter *c = nes_crypter_new(kr);
    nes_buf small = {.max = 40};
    assert_int_equal(nes_crypter_encrypt(c, NULL, 0, (const uint8_t *)"x", 1, &small), -1);
    assert_int_equal(small.len, 0);
    nes_buf big = {0};
    assert_int_equal(
        nes_crypter_encrypt(c, NULL, 0, (const uint8_t *)"0123456789abcdef0123456789", 26, &big),
        0);
    nes_buf tiny = {.max = 8};
    assert_int_equal(nes_crypter_decrypt(c, NULL, 0, (const char *)big.data, big.len, &tiny, NULL),
                     NES_ERR_NOMEM);
    nes_buf_free(&tiny);
    nes_buf_free(&small);
    nes_buf_free(&big);
    nes_crypter_free(c);
    nes_keyring_free(kr);
}

static void codec_calls_the_crypter(void **state)
{
    (void)state;
    nes_keyring *kr = ring(2, 2); /* DEKS[2], DEKS[0] */
    nes_crypter *c = nes_crypter_new(kr);
    nes_codec codec = nes_crypter_codec(c);
    assert_ptr_equal(codec.ud, c);
    nes_buf tok = {0}, direct = {0}, pt = {0};
    const uint8_t *ctx = (const uint8_t *)"phone";
    assert_int_equal(codec.encrypt(codec.ud, ctx, 5, (const uint8_t *)"+1 555 0100", 11, &tok), 0);
    assert_int_equal(nes_crypter_encrypt(c, ctx, 5, (const uint8_t *)"+1 555 0100", 11, &direct),
                     0);
    assert_int_equal(tok.len, direct.len);
    assert_memory_equal(tok.data, direct.data, tok.len);
    assert_int_equal(codec.decrypt(codec.ud, ctx, 5, (const char *)tok.data, tok.len, &pt), NES_OK);
    assert_int_equal(pt.len, 11);
    assert_memory_equal(pt.data, "+1 555 0100", 11);
    /* a token under the previous key opens through the codec too */
    nes_fieldkey *prev = nes_fieldkey_new(DEKS[0]);
    char t[128];
    assert_int_equal(nes_token_encrypt(prev, ctx, 5, (const uint8_t *)"z", 1, t), 0);
    assert_int_equal(codec.decrypt(codec.ud, ctx, 5, t, nes_token_len(1), &pt), NES_OK);
    assert_int_equal(pt.len, 12);
    assert_int_equal(pt.data[11], 'z');
    assert_int_equal(codec.decrypt(codec.ud, ctx, 4, t, nes_token_len(1), &pt), NES_ERR_TOKEN);
    nes_fieldkey_free(prev);
    nes_buf_free(&tok);
    nes_buf_free(&direct);
    nes_buf_free(&pt);
    nes_crypter_free(c);
    nes_keyring_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keyring_new_copies_keys),
        cmocka_unit_test(keyring_new_bounds),
        cmocka_unit_test(parse_good_file),
        cmocka_unit_test(parse_errors_name_the_line),
        cmocka_unit_test(parse_too_many_keys),
        cmocka_unit_test(load_file),
        cmocka_unit_test(keygen_and_key_line),
        cmocka_unit_test(crypter_encrypts_with_current_key),
        cmocka_unit_test(crypter_fallback_path_agrees),
        cmocka_unit_test(crypter_decrypts_with_previous_keys),
        cmocka_unit_test(crypter_rejects_unknown_key_and_malformed),
        cmocka_unit_test(crypter_respects_buffer_cap),
        cmocka_unit_test(codec_calls_the_crypter),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
