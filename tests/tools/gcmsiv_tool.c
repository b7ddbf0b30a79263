/* gcmsiv_tool - line-oriented AES-256-GCM-SIV driver for the Python cross-check.
 *
 * Reads lines "seal|open <key hex> <nonce hex> <aad hex> <data hex>" from stdin ("-" stands for
 * empty hex) and prints one line per input line: the result in lowercase hex ("-" when empty),
 * "FAIL" when open rejects the input, or "ERROR" for a malformed line. The line "impl" prints the
 * implementation path in use, "aes=openssl|aesni polyval=portable|clmul". Options:
 *   --portable   use the portable POLYVAL implementation instead of the automatic choice.
 * NES_CRYPTO_FALLBACK (tests/testutil.h: "aes", "polyval", "all", ...) forces those parts onto
 * their fallback (OpenSSL AES, portable POLYVAL).
 * Exit status: 0, or 1 when any line was malformed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../testutil.h"
#include "core/fieldcrypt.h"
#include "core/gcmsiv.h"

/* Decodes the hex field `s` ("-" = empty) into a new buffer; returns -1 on bad hex. */
static int unhex(const char *s, uint8_t **out, size_t *out_len)
{
    uint8_t *b = malloc(strlen(s) / 2 + 1);
    if (b == NULL || tu_unhex_field(s, b, out_len) != 0) {
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

static void print_hex(const uint8_t *b, size_t n)
{
    tu_put_hex(stdout, b, n);
    fputc('\n', stdout);
}

/* Handles one line; returns 0, or -1 when it is malformed. */
static int run_line(char *line, nes_aes_impl aes, nes_polyval_impl impl)
{
    char *save = NULL;
    char *tok[6];
    int ntok = 0;
    for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL;
         t = strtok_r(NULL, " \t\r\n", &save))
        if (ntok < 6)
            tok[ntok++] = t;
        else
            return -1;
    if (ntok == 1 && strcmp(tok[0], "impl") == 0) {
        static const uint8_t key[NES_GCMSIV_KEY_LEN];
        nes_gcmsiv *ctx = nes_gcmsiv_new_impl(key, aes);
        if (ctx == NULL)
            return -1;
        printf("aes=%s polyval=%s\n", nes_gcmsiv_aes_impl(ctx) == NES_AES_NI ? "aesni" : "openssl",
               impl != NES_POLYVAL_PORTABLE && nes_polyval_clmul_available() ? "clmul"
                                                                             : "portable");
        nes_gcmsiv_free(ctx);
        return 0;
    }
    if (ntok != 5)
        return -1;
    const int seal = strcmp(tok[0], "seal") == 0;
    if (!seal && strcmp(tok[0], "open") != 0)
        return -1;
    uint8_t *f[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0, 0, 0, 0};
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = unhex(tok[i + 1], &f[i], &len[i]);
    if (rc == 0 && (len[0] != NES_GCMSIV_KEY_LEN || len[1] != NES_GCMSIV_NONCE_LEN))
        rc = -1;
    nes_gcmsiv *ctx = rc == 0 ? nes_gcmsiv_new_impl(f[0], aes) : NULL;
    uint8_t *out = rc == 0 ? malloc(len[3] + NES_GCMSIV_TAG_LEN) : NULL;
    if (ctx == NULL || out == NULL) {
        rc = -1;
    } else {
        nes_gcmsiv_set_polyval_impl(ctx, impl);
        if (seal) {
            if (nes_gcmsiv_seal(ctx, f[1], f[2], len[2], f[3], len[3], out) == 0)
                print_hex(out, len[3] + NES_GCMSIV_TAG_LEN);
            else
                puts("FAIL");
        } else {
            if (nes_gcmsiv_open(ctx, f[1], f[2], len[2], f[3], len[3], out) == 0)
                print_hex(out, len[3] - NES_GCMSIV_TAG_LEN);
            else
                puts("FAIL");
        }
    }
    nes_gcmsiv_free(ctx);
    free(out);
    for (int i = 0; i < 4; i++)
        free(f[i]);
    return rc;
}

int main(int argc, char **argv)
{
    nes_polyval_impl impl = NES_POLYVAL_AUTO;
    const int fb = tu_fallbacks(getenv("NES_CRYPTO_FALLBACK"));
    if (fb < 0) {
        fprintf(stderr, "%s: bad NES_CRYPTO_FALLBACK\n", argv[0]);
        return 2;
    }
    const nes_aes_impl aes = (fb & NES_FALLBACK_AES) ? NES_AES_OPENSSL : NES_AES_AUTO;
    if (fb & NES_FALLBACK_POLYVAL)
        impl = NES_POLYVAL_PORTABLE;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--portable") == 0) {
            impl = NES_POLYVAL_PORTABLE;
        } else {
            fprintf(stderr, "usage: %s [--portable] < lines\n", argv[0]);
            return 2;
        }
    }
    char *line = NULL;
    size_t cap = 0;
    int status = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        if (run_line(line, aes, impl) != 0) {
            puts("ERROR");
            status = 1;
        }
    }
    free(line);
    return fflush(stdout) == 0 ? status : 1;
}
