/* error.h - one error record shared by every core module.
 *
 * Messages never carry input content (no PII, no key bytes): they name what is wrong and where
 * (a byte offset for JSON, a file/line/JSON pointer for specs). */
#ifndef NES_ERROR_H
#define NES_ERROR_H

#include <stddef.h>

/** Error classes; the service maps them to HTTP statuses. */
typedef enum nes_status {
    NES_OK = 0,
    NES_ERR_JSON,   /**< body is not valid JSON (offset set) */
    NES_ERR_DEPTH,  /**< nesting deeper than the configured limit (offset set) */
    NES_ERR_TOKEN,  /**< a field that should hold a token does not, or it fails to decrypt */
    NES_ERR_SPEC,   /**< an OpenAPI spec cannot be loaded or compiled */
    NES_ERR_ROOT,   /**< no single root schema: the message names the choices */
    NES_ERR_KEY,    /**< key material missing or malformed */
    NES_ERR_LIMIT,  /**< an input exceeds a fixed bound */
    NES_ERR_NOMEM,  /**< allocation failed */
    NES_ERR_IO,     /**< a file could not be read */
    NES_ERR_CRYPTO, /**< the crypto library failed */
    NES_ERR_UNKNOWN_MEMBER, /**< a body member no schema declares at its place (pointer in msg) */
    NES_ERR_TYPE, /**< a PII value of a JSON type its schema does not allow (pointer in msg) */
} nes_status;

/** An error: class, byte offset into the input where it applies (or (size_t)-1), message. */
typedef struct nes_err {
    nes_status status;
    size_t offset;
    char msg[256];
} nes_err;

/** Records an error (printf-style message) in `err` when it is not NULL; returns `status`. */
nes_status nes_err_set(nes_err *err, nes_status status, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Formats a message into `buf` (`len` bytes, NUL-terminated, truncated when longer); does nothing
 * when `buf` is NULL or `len` is 0. For interfaces that report errors into a caller's text
 * buffer. */
void nes_msgf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Resets `err` to NES_OK with an empty message and no offset. */
void nes_err_clear(nes_err *err);

/** A short stable name for a status ("json", "depth", "token", ...), for error codes. */
const char *nes_status_name(nes_status status);

#endif
