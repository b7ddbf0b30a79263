/* secmem.c - page-backed memory for key material.
 *
 * Every allocation is its own anonymous mapping, rounded up to whole pages, so that locking,
 * dump exclusion and unmapping never touch unrelated data. The mapping is wiped with
 * explicit_bzero before it is unlocked and returned to the kernel. */
#include "core/secmem.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

static size_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

/* Rounds n (>= 1) up to a whole number of pages; 0 when that overflows. */
static size_t round_to_pages(size_t n)
{
    size_t ps = page_size();
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - (ps - 1))
        return 0;
    return (n + ps - 1) / ps * ps;
}

void *nes_secure_alloc(size_t n)
{
    size_t len = round_to_pages(n);
    if (len == 0)
        return NULL;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Both are best effort: an RLIMIT_MEMLOCK refusal or an old kernel is not an error. */
    (void)madvise(p, len, MADV_DONTDUMP);
    (void)mlock(p, len);
    return p; /* anonymous mappings are zero-filled */
}

void nes_secure_free(void *p, size_t n)
{
    if (p == NULL)
        return;
    size_t len = round_to_pages(n);
    explicit_bzero(p, len);
    (void)munlock(p, len);
    (void)munmap(p, len);
}

int nes_secure_process(void)
{
    int rc = 0;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        rc = -1;
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0)
        rc = -1;
    return rc;
}
