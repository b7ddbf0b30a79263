/* keyring.h - the DEKs in use (DESIGN section 4) and the per-thread crypter over them.
 *
 * A keyring is immutable once built and may be read by many threads at once; its raw keys live
 * in secure memory. Key-file format: one DEK per line as standard padded base64 (44 characters);
 * the first line is the current key, later lines are previous keys; blank lines and lines
 * starting with '#' are ignored.
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

/** Builds a keyring from `n` DEKs (n >= 1, current first). The bytes are copied. NULL on
 * failure. */
nes_keyring *nes_keyring_new(const uint8_t (*deks)[NES_DEK_LEN], size_t n);

/** Parses key-file text. Errors name the line number, never its content. */
nes_status nes_keyring_parse(const char *text, size_t len, nes_keyring **out, nes_err *err);

/** Reads and parses a key file. */
nes_status nes_keyring_load_file(const char *path, nes_keyring **out, nes_err *err);

/** Number of keys (>= 1). */
size_t nes_keyring_size(const nes_keyring *kr);

/** The i-th key (0 = current), 32 bytes in secure memory, valid while the keyring lives. */
const uint8_t *nes_keyring_key(const nes_keyring *kr, size_t i);

/** Wipes and frees a keyring (NULL is fine). */
void nes_keyring_free(nes_keyring *kr);

/** Fills `dek` with 32 fresh random bytes from the OpenSSL DRBG. Returns 0 or -1. */
int nes_keygen(uint8_t dek[NES_DEK_LEN]);

/** Writes the key-file line of `dek` (44 characters and a NUL) to `line`. */
void nes_key_line(const uint8_t dek[NES_DEK_LEN], char line[NES_KEY_LINE_LEN + 1]);

/** Creates a crypter over `kr` (which must outlive it). NULL on failure. */
nes_crypter *nes_crypter_new(const nes_keyring *kr);

/** Wipes and frees a crypter (NULL is fine). */
void nes_crypter_free(nes_crypter *c);

/** Appends the token of `pt` under the current key and context `ctx` to `out`. Returns 0 or -1. */
int nes_crypter_encrypt(nes_crypter *c, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                        size_t pt_len, nes_buf *out);

/** Decrypts `tok` with the current key, then the previous ones; appends the plaintext to `out`.
 * Returns NES_OK (and the index of the key that opened it in *key_index when not NULL),
 * NES_ERR_TOKEN when no key opens it, NES_ERR_NOMEM when `out` cannot grow. */
nes_status nes_crypter_decrypt(nes_crypter *c, const uint8_t *ctx, size_t ctx_len, const char *tok,
                               size_t len, nes_buf *out, size_t *key_index);

/** A codec (for nes_transform) whose hooks call nes_crypter_encrypt / nes_crypter_decrypt on
 * `c`. */
nes_codec nes_crypter_codec(nes_crypter *c);

#endif
