/* s3specs.h - the spec provider of enclave mode (DESIGN section 6): the specs under
 * s3://BUCKET/PREFIX, compiled and published into the state (state.h) like the local provider's.
 *
 * Every refresh lists the prefix (all pages) and takes each top-level object named
 * <name>.yaml|.yml|.json as the spec <name> (a name given twice: the first in key order wins).
 * Each object the specs use is fetched with If-None-Match against the copy kept from the last
 * refresh, so an unchanged object costs a 304; sibling `$ref`s ("common.yaml",
 * "defs/ids.yaml") are read from other objects under the same prefix. A spec is compiled again
 * only when one of its documents changed. A spec that fails to fetch or compile keeps its last
 * good version (logged with the loader's location: document, line, JSON pointer) and counts an
 * error; a spec whose object is gone from the listing is dropped. The set is published atomically
 * when it changed, so request threads never wait on a refresh. An object over max_bytes is
 * refused from its Content-Length (or the transfer is cut at the cap), never read whole.
 *
 * A background thread refreshes every refresh_secs, the first time at once. A failed listing
 * (S3 unreachable) changes nothing and counts an error. */
#ifndef NES_ENCLAVE_PROVIDERS_S3SPECS_H
#define NES_ENCLAVE_PROVIDERS_S3SPECS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"

/** Most specs (top-level objects) under the prefix; more are ignored with a warning. */
#define NES_S3SPECS_MAX 1024
/** Most objects a listing may return (deeper sibling files included). */
#define NES_S3SPECS_MAX_LISTED 10000

/** What the provider needs. */
typedef struct nes_s3specs_config {
    const nes_aws_config *aws; /**< copied */
    nes_aws_credsrc *creds;    /**< borrowed: must outlive the provider */
    const char *bucket;        /**< copied */
    const char *prefix;        /**< copied; "" or e.g. "schemas/" */
    unsigned refresh_secs;     /**< SCHEMA_REFRESH_INTERVAL_SECS */
    size_t max_bytes;          /**< SCHEMA_MAX_BYTES: cap per object */
    _Atomic uint64_t *errors;  /**< counter for /metrics (schema refresh errors), or NULL */
} nes_s3specs_config;

/** Counters of the refreshes so far. */
typedef struct nes_s3specs_stats {
    uint64_t refreshes;    /**< refreshes completed (listing succeeded) */
    uint64_t errors;       /**< listing, fetch and compile failures */
    uint64_t compiles;     /**< specs compiled */
    uint64_t not_modified; /**< conditional GETs answered 304 */
    size_t specs;          /**< specs in the current set */
    bool published;        /**< a set has been published at least once */
} nes_s3specs_stats;

typedef struct nes_s3specs nes_s3specs;

/** Creates the provider (no network yet). NULL with `why` set when the settings are invalid or
 * memory runs out. */
nes_s3specs *nes_s3specs_new(const nes_s3specs_config *cfg, char *why, size_t why_len);

/** One refresh now, on the calling thread (serialised with the background thread). Returns the
 * number of failures (0: everything loaded), or -1 when the listing itself failed. */
int nes_s3specs_refresh(nes_s3specs *p);

/** Starts the background thread (first refresh at once). 0 or -1. */
int nes_s3specs_start(nes_s3specs *p);

/** Waits up to timeout_ms for the first published set. True when published. */
bool nes_s3specs_wait_ready(nes_s3specs *p, unsigned timeout_ms);

/** Copies the counters. */
void nes_s3specs_get_stats(nes_s3specs *p, nes_s3specs_stats *out);

/** Stops the thread (if started) and frees the provider and its references (the published set
 * stays in the state until replaced or nes_state_shutdown). NULL is fine. */
void nes_s3specs_free(nes_s3specs *p);

#endif
