/* token_tool - drives fieldcrypt.c and keyring.c for the Python cross-checks
 * (tests/integration/test_tokens_python.py). One command per stdin line, one answer per line on
 * stdout, all in one process. Hex fields use "-" for the empty string.
 *
 *   E  <dek-hex> <ctx-hex> <pt-hex>     -> <token>                  nes_token_encrypt
 *   D  <dek-hex> <ctx-hex> <token>      -> <pt-hex> | ERR           nes_token_decrypt
 *   L  <pt-len>                          -> <nes_token_len>
 *   KL <key-file>                        -> OK <n> | ERR <status> <message>
 *   KE <key-file> <ctx-hex> <pt-hex>    -> <token> | ERR            nes_crypter_encrypt
 *   KD <key-file> <ctx-hex> <token>     -> <key-index> <pt-hex> | ERR <status>
 *   I                                    -> hmac=shani|openssl aes=aesni|openssl
 *                                           polyval=clmul|portable   (the path in use)
 *
 * NES_CRYPTO_FALLBACK (tests/testutil.h: "hmac", "aes", "polyval", "all" or a comma list) forces
 * those parts of every field key, including the crypter's, onto their fallback.
 *
 * This is a test driver: it prints tokens and plaintexts because that is its job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../testutil.h"
#include "core/fieldcrypt.h"
#include "core/keyring.h"

/* One cached field key (the cross-check reuses DEKs) and one cached keyring + crypter. */
static uint8_t cur_dek[NES_DEK_LEN];
static nes_fieldkey *cur_key;
static char *cur_path;
static nes_keyring *cur_ring;
static nes_crypter *cur_crypter;
static unsigned fallbacks; /* from NES_CRYPTO_FALLBACK */

static nes_fieldkey *key_for(const uint8_t dek[NES_DEK_LEN])
{
    if (cur_key == NULL || memcmp(dek, cur_dek, NES_DEK_LEN) != 0) {
        nes_fieldkey_free(cur_key);
        memcpy(cur_dek, dek, NES_DEK_LEN);
        cur_key = nes_fieldkey_new_impl(dek, fallbacks);
    }
    return cur_key;
}

static nes_crypter *crypter_for(const char *path, nes_err *err)
{
    if (cur_path != NULL && strcmp(path, cur_path) == 0)
        return cur_crypter;
    nes_crypter_free(cur_crypter);
    nes_keyring_free(cur_ring);
    free(cur_path);
    cur_crypter = NULL;
    cur_ring = NULL;
    cur_path = NULL;
    if (nes_keyring_load_file(path, &cur_ring, err) != NES_OK)
        return NULL;
    cur_crypter = nes_crypter_new_impl(cur_ring, fallbacks);
    cur_path = strdup(path);
    return cur_crypter;
}

static void run(char *line, uint8_t *a, uint8_t *b, uint8_t *c)
{
    char *save = NULL;
    char *cmd = strtok_r(line, " \n", &save);
    char *f1 = strtok_r(NULL, " \n", &save);
    char *f2 = strtok_r(NULL, " \n", &save);
    char *f3 = strtok_r(NULL, " \n", &save);
    size_t na, nb, nc;
    nes_err err;
    nes_err_clear(&err);
    if (cmd == NULL) {
        puts("ERR");
    } else if (strcmp(cmd, "I") == 0) {
        static const uint8_t dek[NES_DEK_LEN];
        nes_fieldkey *k = nes_fieldkey_new_impl(dek, fallbacks);
        unsigned fb = k != NULL ? nes_fieldkey_fallbacks(k) : 0;
        if (k == NULL)
            puts("ERR");
        else
            printf("hmac=%s aes=%s polyval=%s\n", fb & NES_FALLBACK_HMAC ? "openssl" : "shani",
                   fb & NES_FALLBACK_AES ? "openssl" : "aesni",
                   fb & NES_FALLBACK_POLYVAL ? "portable" : "clmul");
        nes_fieldkey_free(k);
    } else if (strcmp(cmd, "L") == 0 && f1 != NULL) {
        printf("%zu\n", nes_token_len(strtoull(f1, NULL, 10)));
    } else if (strcmp(cmd, "E") == 0 && f3 != NULL && tu_unhex_field(f1, a, &na) == 0 &&
               na == NES_DEK_LEN && tu_unhex_field(f2, b, &nb) == 0 &&
               tu_unhex_field(f3, c, &nc) == 0) {
        nes_fieldkey *k = key_for(a);
        char *tok = malloc(nes_token_len(nc) + 1);
        if (k != NULL && tok != NULL && nes_token_encrypt(k, b, nb, c, nc, tok) == 0) {
            tok[nes_token_len(nc)] = '\0';
            puts(tok);
        } else {
            puts("ERR");
        }
        free(tok);
    } else if (strcmp(cmd, "D") == 0 && f3 != NULL && tu_unhex_field(f1, a, &na) == 0 &&
               na == NES_DEK_LEN && tu_unhex_field(f2, b, &nb) == 0) {
        nes_fieldkey *k = key_for(a);
        const char *tok = strcmp(f3, "-") == 0 ? "" : f3;
        size_t out_len;
        if (k != NULL && nes_token_decrypt(k, b, nb, tok, strlen(tok), c, &out_len) == NES_OK) {
            tu_put_hex(stdout, c, out_len);
            fputc('\n', stdout);
        } else {
            puts("ERR");
        }
    } else if (strcmp(cmd, "KL") == 0 && f1 != NULL) {
        nes_keyring *kr = NULL;
        if (nes_keyring_load_file(f1, &kr, &err) == NES_OK)
            printf("OK %zu\n", nes_keyring_size(kr));
        else
            printf("ERR %s %s\n", nes_status_name(err.status), err.msg);
        nes_keyring_free(kr);
    } else if (strcmp(cmd, "KE") == 0 && f3 != NULL && tu_unhex_field(f2, b, &nb) == 0 &&
               tu_unhex_field(f3, c, &nc) == 0) {
        nes_crypter *cr = crypter_for(f1, &err);
        nes_buf out = {0};
        if (cr != NULL && nes_crypter_encrypt(cr, b, nb, c, nc, &out) == 0) {
            fwrite(out.data, 1, out.len, stdout);
            fputc('\n', stdout);
        } else {
            puts("ERR");
        }
        nes_buf_free(&out);
    } else if (strcmp(cmd, "KD") == 0 && f3 != NULL && tu_unhex_field(f2, b, &nb) == 0) {
        nes_crypter *cr = crypter_for(f1, &err);
        nes_buf out = {0};
        size_t idx = 0;
        nes_status st =
            cr ? nes_crypter_decrypt(cr, b, nb, f3, strlen(f3), &out, &idx) : NES_ERR_KEY;
        if (st == NES_OK) {
            printf("%zu ", idx);
            tu_put_hex(stdout, out.data, out.len);
            fputc('\n', stdout);
        } else {
            printf("ERR %s\n", nes_status_name(st));
        }
        nes_buf_free(&out);
    } else {
        puts("ERR");
    }
}

int main(void)
{
    const int fb = tu_fallbacks(getenv("NES_CRYPTO_FALLBACK"));
    if (fb < 0) {
        fputs("token_tool: bad NES_CRYPTO_FALLBACK\n", stderr);
        return 2;
    }
    fallbacks = (unsigned)fb;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint8_t *a = NULL, *b = NULL, *c = NULL;
    size_t room = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if ((size_t)n > room) { /* every field decodes to fewer bytes than the line has */
            room = (size_t)n;
            free(a), free(b), free(c);
            a = malloc(room), b = malloc(room), c = malloc(room);
            if (a == NULL || b == NULL || c == NULL)
                return 1;
        }
        run(line, a, b, c);
    }
    free(a), free(b), free(c), free(line);
    nes_fieldkey_free(cur_key);
    nes_crypter_free(cur_crypter);
    nes_keyring_free(cur_ring);
    free(cur_path);
    return fflush(stdout) == 0 ? 0 : 1;
}
