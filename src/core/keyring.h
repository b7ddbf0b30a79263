/* keyring.h - the DEKs in use (DESIGN section 4) and the per-thread crypter over them.
 *
 * A keyring is immutable once built and may be read by many threads at once; its raw keys live
 * in secure memory. Key-file format: one DEK per line as standard padded base64 (44 characters);
 * the first line is the current key, later lines are previous keys; blank lines and lines
 * starting with '#' are ignored, and so is whitespace (space, tab, CR) around a line, so CRLF files
 * work. The key itself must be canonical: exactly 44 characters, one '=', zero trailing bits.
 *
 * A crypter is one thread's working set over a keyring (a field key per DEK). Encrypt uses the
 * current key; decrypt tries the current key, then each previous key (the GCM-SIV tag makes
 * trial decryption safe). */
#ifndef NES_KEYRING_H
#define NES_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/fieldcrypt.h"

/** Upper bound on keys in one keyring (current + previous). */
#define NES_KEYRING_MAX 16
/** Length of a key line without its newline. */
#define NES_KEY_LINE_LEN 44

typedef struct nes_keyring nes_keyring;
typedef struct nes_crypter nes_crypter;

/** Builds a keyring from `n` DEKs (1 <= n <= NES_KEYRING_MAX, current first). The bytes are
 * copied into secure memory. NULL when n is out of range or allocation fails. */
nes_keyring *nes_keyring_new(const uint8_t (*deks)[NES_DEK_LEN], size_t n);

/** Parses key-file text (`len` bytes; NUL is an ordinary, invalid byte). On success sets *out
 * to a new keyring. Errors (*out = NULL): NES_ERR_KEY for a malformed line ("key file line N:
 * ...", err->offset = the line's first byte) or a file without keys, NES_ERR_LIMIT for more than
 * NES_KEYRING_MAX keys, NES_ERR_NOMEM. Messages name the line number, never its content. */
nes_status nes_keyring_parse(const char *text, size_t len, nes_keyring **out, nes_err *err);

/** Reads and parses a key file. The file must be a regular file of at most 64 KiB
 * (NES_ERR_LIMIT otherwise); its text is read into secure memory and wiped after parsing. Open and
 * read failures are NES_ERR_IO with the path and errno text; otherwise as nes_keyring_parse.
 * Prints nothing. */
nes_status nes_keyring_load_file(const char *path, nes_keyring **out, nes_err *err);

/** Number of keys (>= 1). */
size_t nes_keyring_size(const nes_keyring *kr);

/** The i-th key (0 = current), 32 bytes in secure memory, valid while the keyring lives; NULL
 * when i >= nes_keyring_size(kr). */
const uint8_t *nes_keyring_key(const nes_keyring *kr, size_t i);

/** Wipes and frees a keyring (NULL is fine). */
void nes_keyring_free(nes_keyring *kr);

/** Fills `dek` with 32 fresh random bytes from OpenSSL's private DRBG (RAND_priv_bytes).
 * Returns 0 or -1. */
int nes_keygen(uint8_t dek[NES_DEK_LEN]);

/** Writes the key-file line of `dek` (44 characters and a NUL) to `line`. */
void nes_key_line(const uint8_t dek[NES_DEK_LEN], char line[NES_KEY_LINE_LEN + 1]);

/** Creates a crypter over `kr` (which must outlive it): one field key per DEK, derived up front
 * so the request path never derives. Not thread-safe: one crypter per thread. NULL on failure. */
nes_crypter *nes_crypter_new(const nes_keyring *kr);

/** Test hook: as nes_crypter_new, with every field key made by nes_fieldkey_new_impl(dek,
 * fallbacks) so the key-file tests can run each implementation path. */
nes_crypter *nes_crypter_new_impl(const nes_keyring *kr, unsigned fallbacks);

/** Wipes and frees a crypter (NULL is fine). */
void nes_crypter_free(nes_crypter *c);

/** Appends the token of `pt` under the current key and context `ctx` to `out`. Returns 0, or -1
 * when `out` cannot grow by nes_token_len(pt_len) (cap or memory; `out` unchanged) or
 * nes_token_encrypt fails. */
int nes_crypter_encrypt(nes_crypter *c, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                        size_t pt_len, nes_buf *out);

/** Decrypts `tok` with the current key, then the previous ones; appends the plaintext to `out`.
 * Returns NES_OK (and the index of the key that opened it in *key_index when not NULL),
 * NES_ERR_TOKEN when the token is malformed (checked once, before any key) or no key opens it,
 * NES_ERR_NOMEM when `out` cannot grow. The ciphertext is decoded into `out`'s spare room and
 * opened in place, so `out` needs room for the plaintext plus 16 bytes; on failure out->len is
 * unchanged and the spare room that held the ciphertext is wiped. */
nes_status nes_crypter_decrypt(nes_crypter *c, const uint8_t *ctx, size_t ctx_len, const char *tok,
                               size_t len, nes_buf *out, size_t *key_index);

/** A codec (for nes_transform) whose hooks call nes_crypter_encrypt / nes_crypter_decrypt on
 * `c`. */
nes_codec nes_crypter_codec(nes_crypter *c);

#endif
