/* b64url.h - strict base64: the URL-safe alphabet without padding (tokens, RFC 4648 section 5)
 * and the standard alphabet with padding (key files, section 4). Decoders accept only the
 * canonical encoding: no padding where none belongs, no whitespace, zero trailing bits. */
#ifndef NES_B64URL_H
#define NES_B64URL_H

#include <stddef.h>
#include <stdint.h>

/** Length of the unpadded base64url encoding of `n` bytes. */
size_t nes_b64url_encoded_len(size_t n);

/** Writes the unpadded base64url encoding of `in` to `out` (nes_b64url_encoded_len(n) bytes, no
 * terminator); returns the number of characters written. In-place encoding is allowed when the
 * input occupies the last `n` bytes of the output area
 * (`in == (uint8_t *)out + nes_b64url_encoded_len(n) - n`); no other overlap is. */
size_t nes_b64url_encode(const uint8_t *in, size_t n, char *out);

/** Decodes canonical unpadded base64url. `out` must hold n * 3 / 4 bytes. Returns the decoded
 * length, or -1 on any non-canonical input (bad character, padding, n % 4 == 1, non-zero
 * trailing bits); on failure the bytes already written to `out` are wiped. Uses lookup tables:
 * meant for public data (tokens); secrets belong in the standard-alphabet functions. */
long nes_b64url_decode(const char *in, size_t n, uint8_t *out);

/** Decodes canonical padded standard base64 (`n` % 4 == 0, '=' only as the final one or two
 * characters, zero trailing bits, no whitespace). `out` must hold n / 4 * 3 bytes. Returns the
 * decoded length or -1 (output wiped as for nes_b64url_decode). Constant-time character mapping
 * (no secret-indexed tables or branches): decoding a key leaks only its length and validity. */
long nes_b64_decode(const char *in, size_t n, uint8_t *out);

/** Writes the padded standard base64 encoding of `in` (4 * ceil(n/3) characters, no terminator);
 * returns the number of characters written. `in` and `out` must not overlap. Constant-time
 * character mapping, as nes_b64_decode. */
size_t nes_b64_encode(const uint8_t *in, size_t n, char *out);

#endif
