/* secmem.h - memory for key material: locked (mlock), excluded from core dumps
 * (MADV_DONTDUMP), wiped on release. */
#ifndef NES_SECMEM_H
#define NES_SECMEM_H

#include <stddef.h>

/** Allocates `n` zeroed bytes of page-backed memory, locked and excluded from dumps when the
 * system allows (locking is best effort: an RLIMIT_MEMLOCK refusal is not an error). Returns NULL
 * on allocation failure. */
void *nes_secure_alloc(size_t n);

/** Wipes and releases memory from nes_secure_alloc (`n` as allocated; NULL is fine). */
void nes_secure_free(void *p, size_t n);

/** Makes the process non-dumpable (PR_SET_DUMPABLE 0) and disables core files. Returns 0 or -1. */
int nes_secure_process(void);

#endif
