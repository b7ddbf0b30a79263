/* local.h - the local-mode providers (DESIGN section 8): the keyring from LOCAL_KEY_FILE
 * (created with a fresh key on first start) and the specs from LOCAL_SCHEMA_DIR, each
 * <name>.yaml|.yml|.json becoming the spec <name>. They publish into the state (state.h) the
 * same way the AWS providers do. */
#ifndef NES_ENCLAVE_LOCAL_H
#define NES_ENCLAVE_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/schema.h"

/** Creates `dir` (and its parents) with mode 0700 when missing. 0 or -1. */
int nes_local_mkdirs(const char *dir);

/** Makes sure the key file exists (creating it with one fresh key, mode 0600, and a loud
 * warning), then loads and publishes it when it changed since the last call (or `force`).
 * 0, or -1 (logged; the previous keyring stays). */
int nes_local_keys_refresh(const char *key_file, bool force);

/** Loads the specs of `dir` that are new or changed since the last call (all when `force`),
 * drops those whose files went away, and publishes the set when anything changed. A spec that
 * fails to load keeps its last good version. Returns the number of specs that failed. */
int nes_local_specs_refresh(const char *dir, bool force);

/** Sets the limits every later spec load uses (SPEC_MAX_DOCUMENTS); defaults until called. */
void nes_local_set_spec_limits(const nes_spec_limits *lim);

/** Frees what the providers keep (at exit). */
void nes_local_free(void);

/** The spec name of a file name: the part before .yaml, .yml or .json; 0 when the file is not
 * a spec. Writes at most name_len - 1 characters. */
int nes_local_spec_name(const char *file, char *name, size_t name_len);

#endif
