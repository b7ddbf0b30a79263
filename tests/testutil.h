/* testutil.h - header-only helpers shared by the unit tests (tests/unit) and the test drivers
 * (tests/tools): hex in and out, a deterministic byte generator, and settings for the loaders
 * that read them through a lookup callback. */
#ifndef NES_TESTUTIL_H
#define NES_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/hex.h"

/** Decodes the `n` hex digits at `s` into out[0 .. n/2). 0, or -1 when n is odd or a character
 * is not a hex digit (out may be partly written then). */
static inline int tu_unhex(const char *s, size_t n, uint8_t *out)
{
    if (n % 2 != 0)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = nes_hexval(s[2 * i]), lo = nes_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/** The test drivers' hex field: "-" is the empty string. Decodes the NUL-terminated `s` into
 * `out` (room for strlen(s) / 2 bytes) and sets *n. 0, or -1 as tu_unhex. */
static inline int tu_unhex_field(const char *s, uint8_t *out, size_t *n)
{
    size_t len = strcmp(s, "-") == 0 ? 0 : strlen(s);
    if (tu_unhex(s, len, out) != 0)
        return -1;
    *n = len / 2;
    return 0;
}

/** Writes p[0..n) to `f` as lowercase hex, "-" when n is 0 (the drivers' empty field). */
static inline void tu_put_hex(FILE *f, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    if (n == 0)
        fputc('-', f);
    for (size_t i = 0; i < n; i++) {
        fputc(digits[p[i] >> 4], f);
        fputc(digits[p[i] & 15], f);
    }
}

/** The NES_FALLBACK_* flags (core/fieldcrypt.h) named by `spec`, a comma-separated list of
 * "hmac", "aes", "polyval" or "all" ("" or NULL: none) — the value of the NES_CRYPTO_FALLBACK
 * environment variable that the test drivers and benchmarks read. Returns -1 for an unknown
 * name. */
static inline int tu_fallbacks(const char *spec)
{
    int flags = 0;
    while (spec != NULL && *spec != '\0') {
        size_t n = strcspn(spec, ",");
        if (n == 4 && memcmp(spec, "hmac", 4) == 0)
            flags |= 1;
        else if (n == 3 && memcmp(spec, "aes", 3) == 0)
            flags |= 2;
        else if (n == 7 && memcmp(spec, "polyval", 7) == 0)
            flags |= 4;
        else if (n == 3 && memcmp(spec, "all", 3) == 0)
            flags |= 7;
        else if (n > 0)
            return -1;
        spec += n + (spec[n] == ',');
    }
    return flags;
}

/** True when the mapping that holds `p` carries VmFlags `flag` (two letters, e.g. "dd" for
 * MADV_DONTDUMP, "lo" for mlock) in /proc/self/smaps; false when no mapping holds `p`. (The kernel
 * merges neighbouring mappings with equal flags, so `p` need not start one.) */
static inline int tu_mapping_has_flag(const void *p, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL)
        return 0;
    char line[512];
    int in = 0, found = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = lo <= (unsigned long)(uintptr_t)p && (unsigned long)(uintptr_t)p < hi;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            for (const char *s = strstr(line + 8, flag); s != NULL; s = strstr(s + 1, flag))
                if (s[-1] == ' ' && (s[2] == ' ' || s[2] == '\n' || s[2] == '\0'))
                    found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

/** splitmix64: the next value of the deterministic sequence kept in *state. */
static inline uint64_t tu_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/** Fills p[0..n) from the sequence in *state. */
static inline void tu_rng_fill(uint64_t *state, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)tu_rng_next(state);
}

/** Settings for a loader that reads them through `lookup(ud, name)` (e.g. nes_otel_config_load):
 * `kv` is name, value, name, value, ..., NULL. Pass tu_env_lookup and a tu_env. */
typedef struct tu_env {
    const char *const *kv;
} tu_env;

/** The value of `name` in the tu_env at `ud`, NULL when it is not set. */
static inline const char *tu_env_lookup(void *ud, const char *name)
{
    const tu_env *e = ud;
    for (size_t i = 0; e->kv[i] != NULL; i += 2)
        if (strcmp(e->kv[i], name) == 0)
            return e->kv[i + 1];
    return NULL;
}

#endif
