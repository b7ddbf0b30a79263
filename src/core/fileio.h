/* fileio.h - bounded reads of whole files and streams (specs, key files, request bodies), and
 * whole-file writes that replace a file atomically (generated keys and certificates). */
#ifndef NES_FILEIO_H
#define NES_FILEIO_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/error.h"

/** Reads all of `path` (at most `max` bytes) into a malloc'd buffer with a NUL after the data.
 * Returns NES_OK with *data and *len set; NES_ERR_IO (message names the path and errno text) or
 * NES_ERR_LIMIT (larger than `max`). */
nes_status nes_read_file(const char *path, size_t max, char **data, size_t *len, nes_err *err);

/** As nes_read_file for an open stream (e.g. stdin); `what` names it in messages. */
nes_status nes_read_stream(FILE *f, const char *what, size_t max, char **data, size_t *len,
                           nes_err *err);

/** Writes `len` bytes to `path` with permissions `mode`: into `path`.tmp<pid> first, fsync'd,
 * then renamed over `path`, so a reader sees the old file or the whole new one, never a part.
 * Returns 0, or -1 with errno set (the temporary file is removed then). */
int nes_write_file(const char *path, const void *data, size_t len, mode_t mode);

#endif
