/* secmem.h - memory for key material: locked (mlock), excluded from core dumps
 * (MADV_DONTDUMP), wiped on release. */
#ifndef NES_SECMEM_H
#define NES_SECMEM_H

#include <stddef.h>

/** Allocates `n` zeroed bytes of page-backed memory, locked and excluded from dumps when the
 * system allows (locking is best effort: an RLIMIT_MEMLOCK refusal is not an error). Each call is
 * its own mmap: page-aligned, rounded up to whole pages (n = 0 gives one page), so use it for
 * long-lived key material, not per request. Returns NULL on allocation failure. LeakSanitizer
 * does not scan these pages: heap objects referenced only from here (the OpenSSL contexts of a
 * field key or crypter) are reported as leaks unless freed before exit. */
void *nes_secure_alloc(size_t n);

/** Wipes (explicit_bzero over the whole pages), unlocks and unmaps memory from nes_secure_alloc
 * (`n` as allocated; NULL is fine). */
void nes_secure_free(void *p, size_t n);

/** Makes the process non-dumpable (PR_SET_DUMPABLE 0: no core dumps, no ptrace attach by
 * same-uid processes, /proc/PID/mem closed to them) and sets RLIMIT_CORE to 0 (soft and hard).
 * Call it early in main. Returns 0, or -1 if either step failed (both are attempted). */
int nes_secure_process(void);

#endif
