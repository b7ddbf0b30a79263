/* polyval.h - POLYVAL (RFC 8452 section 3): carry-less multiplication with PCLMULQDQ where the
 * CPU has it, a constant-time portable implementation otherwise. Both are always compiled and
 * both are tested. */
#ifndef NES_POLYVAL_H
#define NES_POLYVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Which implementation nes_polyval_init picks. */
typedef enum nes_polyval_impl {
    NES_POLYVAL_AUTO = 0, /**< PCLMULQDQ when available, else portable */
    NES_POLYVAL_PORTABLE,
    NES_POLYVAL_CLMUL,
} nes_polyval_impl;

/** Running POLYVAL state over a hash key H. */
typedef struct nes_polyval {
    uint8_t s[16];
    uint8_t h[16];
    nes_polyval_impl impl; /**< resolved: PORTABLE or CLMUL */
} nes_polyval;

/** True when this CPU supports the PCLMULQDQ implementation (always false off x86). */
bool nes_polyval_clmul_available(void);

/** Starts a POLYVAL computation with hash key `h`. `impl` AUTO picks the fastest available;
 * asking for CLMUL on a CPU without it falls back to PORTABLE. */
void nes_polyval_init(nes_polyval *pv, const uint8_t h[16], nes_polyval_impl impl);

/** Absorbs `len` bytes (`data` may be NULL when len is 0). Each call's final partial block is
 * zero-padded, so callers pass AAD and message in separate calls, each padded as RFC 8452
 * requires; splitting one input over several calls gives the same result only when every call but
 * the last covers whole 16-byte blocks. */
void nes_polyval_update(nes_polyval *pv, const uint8_t *data, size_t len);

/** The whole of GCM-SIV's POLYVAL in one call (RFC 8452 section 4): POLYVAL(h, pad(aad) ||
 * pad(msg) || LE64(8 * aad_len) || LE64(8 * msg_len)) into `out`. Same result as init, three
 * updates and final, without the state round trips through memory (the hot path of a field
 * token). `aad` / `msg` may be NULL when their length is 0; `impl` as for nes_polyval_init. */
void nes_polyval_aead(const uint8_t h[16], nes_polyval_impl impl, const uint8_t *aad,
                      size_t aad_len, const uint8_t *msg, size_t msg_len, uint8_t out[16]);

/** Writes the 16-byte result and wipes the state (pv needs nes_polyval_init before reuse). */
void nes_polyval_final(nes_polyval *pv, uint8_t out[16]);

#endif
