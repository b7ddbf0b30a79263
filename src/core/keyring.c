/* keyring.c - DEKs in secure memory, key files, and the per-thread crypter. */
#include "core/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/b64url.h"
#include "core/gcmsiv.h"
#include "core/secmem.h"

struct nes_keyring {
    size_t n;
    uint8_t keys[NES_KEYRING_MAX][NES_DEK_LEN];
};

struct nes_crypter {
    const nes_keyring *kr;
    nes_fieldkey *fk[NES_KEYRING_MAX];
};

/* ---- keyring ---------------------------------------------------------------------------------*/

nes_keyring *nes_keyring_new(const uint8_t (*deks)[NES_DEK_LEN], size_t n)
{
    if (deks == NULL || n == 0 || n > NES_KEYRING_MAX)
        return NULL;
    nes_keyring *kr = nes_secure_alloc(sizeof *kr);
    if (kr == NULL)
        return NULL;
    kr->n = n;
    memcpy(kr->keys, deks, n * NES_DEK_LEN);
    return kr;
}

size_t nes_keyring_size(const nes_keyring *kr)
{
    return kr->n;
}

const uint8_t *nes_keyring_key(const nes_keyring *kr, size_t i)
{
    return i < kr->n ? kr->keys[i] : NULL;
}

void nes_keyring_free(nes_keyring *kr)
{
    nes_secure_free(kr, sizeof *kr);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

nes_status nes_keyring_parse(const char *text, size_t len, nes_keyring **out, nes_err *err)
{
    *out = NULL;
    /* Decoded keys go straight to secure memory; 33 bytes of room for a 44-character line. */
    struct scratch {
        uint8_t keys[NES_KEYRING_MAX][NES_DEK_LEN];
        uint8_t line[NES_KEY_LINE_LEN / 4 * 3];
    } *s = nes_secure_alloc(sizeof *s);
    if (s == NULL)
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory for keys");
    nes_status st = NES_OK;
    size_t n = 0, lineno = 0, pos = 0;
    while (pos < len && st == NES_OK) {
        const char *eol = memchr(text + pos, '\n', len - pos);
        size_t end = eol ? (size_t)(eol - text) : len;
        size_t b = pos, e = end;
        size_t line_off = pos;
        lineno++;
        pos = eol ? end + 1 : len;
        while (b < e && is_space(text[b]))
            b++;
        while (e > b && is_space(text[e - 1]))
            e--;
        if (b == e || text[b] == '#')
            continue;
        if (e - b != NES_KEY_LINE_LEN) {
            st = nes_err_set(err, NES_ERR_KEY, line_off,
                             "key file line %zu: expected a %d-character base64 key, found %zu "
                             "characters",
                             lineno, NES_KEY_LINE_LEN, e - b);
        } else if (n == NES_KEYRING_MAX) {
            st = nes_err_set(err, NES_ERR_LIMIT, line_off, "key file line %zu: more than %d keys",
                             lineno, NES_KEYRING_MAX);
        } else {
            long got = nes_b64_decode(text + b, NES_KEY_LINE_LEN, s->line);
            if (got < 0)
                st = nes_err_set(err, NES_ERR_KEY, line_off,
                                 "key file line %zu: not canonical padded base64", lineno);
            else if (got != NES_DEK_LEN)
                st = nes_err_set(err, NES_ERR_KEY, line_off,
                                 "key file line %zu: key is %ld bytes, expected %d", lineno, got,
                                 NES_DEK_LEN);
            else
                memcpy(s->keys[n++], s->line, NES_DEK_LEN);
        }
    }
    if (st == NES_OK && n == 0)
        st = nes_err_set(err, NES_ERR_KEY, (size_t)-1, "key file holds no key");
    if (st == NES_OK) {
        *out = nes_keyring_new((const uint8_t(*)[NES_DEK_LEN])s->keys, n);
        if (*out == NULL)
            st = nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory for keys");
    }
    nes_secure_free(s, sizeof *s);
    return st;
}

/* Key files are tiny; anything bigger is not one. */
enum { KEY_FILE_MAX = 64 * 1024 };

nes_status nes_keyring_load_file(const char *path, nes_keyring **out, nes_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return nes_err_set(err, NES_ERR_IO, (size_t)-1, "cannot open key file %s: %s", path,
                           strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return nes_err_set(err, NES_ERR_IO, (size_t)-1, "key file %s is not a regular file", path);
    }
    if (sb.st_size > KEY_FILE_MAX) {
        close(fd);
        return nes_err_set(err, NES_ERR_LIMIT, (size_t)-1, "key file %s is larger than %d bytes",
                           path, KEY_FILE_MAX);
    }
    /* The text is key material too: read it into secure memory, one byte of room to notice a
     * file that grew after fstat. */
    char *buf = nes_secure_alloc(KEY_FILE_MAX + 1);
    if (buf == NULL) {
        close(fd);
        return nes_err_set(err, NES_ERR_NOMEM, (size_t)-1, "out of memory for key file");
    }
    size_t len = 0;
    nes_status st = NES_OK;
    while (len <= KEY_FILE_MAX) {
        ssize_t r = read(fd, buf + len, KEY_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = nes_err_set(err, NES_ERR_IO, (size_t)-1, "cannot read key file %s: %s", path,
                             strerror(errno));
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (st == NES_OK && len > KEY_FILE_MAX)
        st = nes_err_set(err, NES_ERR_LIMIT, (size_t)-1, "key file %s is larger than %d bytes",
                         path, KEY_FILE_MAX);
    if (st == NES_OK)
        st = nes_keyring_parse(buf, len, out, err);
    nes_secure_free(buf, KEY_FILE_MAX + 1);
    return st;
}

int nes_keygen(uint8_t dek[NES_DEK_LEN])
{
    return RAND_priv_bytes(dek, NES_DEK_LEN) == 1 ? 0 : -1;
}

void nes_key_line(const uint8_t dek[NES_DEK_LEN], char line[NES_KEY_LINE_LEN + 1])
{
    line[nes_b64_encode(dek, NES_DEK_LEN, line)] = '\0';
}

/* ---- crypter ---------------------------------------------------------------------------------*/

nes_crypter *nes_crypter_new(const nes_keyring *kr)
{
    return nes_crypter_new_impl(kr, 0);
}

nes_crypter *nes_crypter_new_impl(const nes_keyring *kr, unsigned fallbacks)
{
    nes_crypter *c = nes_secure_alloc(sizeof *c);
    if (c == NULL)
        return NULL;
    c->kr = kr;
    for (size_t i = 0; i < kr->n; i++) {
        c->fk[i] = nes_fieldkey_new_impl(kr->keys[i], fallbacks);
        if (c->fk[i] == NULL) {
            nes_crypter_free(c);
            return NULL;
        }
    }
    return c;
}

void nes_crypter_free(nes_crypter *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < NES_KEYRING_MAX; i++)
        nes_fieldkey_free(c->fk[i]);
    nes_secure_free(c, sizeof *c);
}

int nes_crypter_encrypt(nes_crypter *c, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                        size_t pt_len, nes_buf *out)
{
    if (pt_len > NES_GCMSIV_MAX_LEN)
        return -1;
    size_t tl = nes_token_len(pt_len);
    if (nes_buf_reserve(out, tl) != 0)
        return -1;
    if (nes_token_encrypt(c->fk[0], ctx, ctx_len, pt, pt_len, (char *)out->data + out->len) != 0)
        return -1;
    out->len += tl;
    return 0;
}

nes_status nes_crypter_decrypt(nes_crypter *c, const uint8_t *ctx, size_t ctx_len, const char *tok,
                               size_t len, nes_buf *out, size_t *key_index)
{
    /* Room for the decoded ciphertext, which is opened in place (the plaintext is 16 bytes
     * shorter): at most 3/4 of its base64url text. */
    if (len < NES_TOKEN_MIN_LEN)
        return NES_ERR_TOKEN;
    if (nes_buf_reserve(out, (len - NES_TOKEN_CT_OFFSET) / 4 * 3 + 2) != 0)
        return NES_ERR_NOMEM;
    uint8_t *dst = out->data + out->len;
    uint8_t nonce[12];
    size_t ct_len = 0;
    for (size_t i = 0; i < c->kr->n; i++) {
        /* A failed in-place open wipes the ciphertext: decode it again for each key. */
        if (nes_token_parse(tok, len, nonce, dst, &ct_len) != 0)
            return NES_ERR_TOKEN;
        if (nes_token_open(c->fk[i], ctx, ctx_len, nonce, dst, ct_len, dst) == NES_OK) {
            out->len += ct_len - NES_GCMSIV_TAG_LEN;
            if (key_index != NULL)
                *key_index = i;
            return NES_OK;
        }
    }
    explicit_bzero(dst, ct_len);
    return NES_ERR_TOKEN;
}

static int codec_encrypt(void *ud, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                         size_t pt_len, nes_buf *out)
{
    return nes_crypter_encrypt(ud, ctx, ctx_len, pt, pt_len, out);
}

static nes_status codec_decrypt(void *ud, const uint8_t *ctx, size_t ctx_len, const char *tok,
                                size_t len, nes_buf *out)
{
    return nes_crypter_decrypt(ud, ctx, ctx_len, tok, len, out, NULL);
}

nes_codec nes_crypter_codec(nes_crypter *c)
{
    nes_codec codec = {.encrypt = codec_encrypt, .decrypt = codec_decrypt, .ud = c};
    return codec;
}
