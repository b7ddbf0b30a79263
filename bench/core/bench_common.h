/* bench_common.h - header-only helpers shared by the benchmarks in bench/core. It needs nothing
 * but libc, so bench_boringssl_gcmsiv (linked against BoringSSL, never libnes) can use it too. */
#ifndef NES_BENCH_COMMON_H
#define NES_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/** CPU time of the calling thread in nanoseconds. The benchmarks are single-threaded and
 * CPU-bound, so on a quiet machine this equals wall-clock time; on a busy one (CI, helpers sharing
 * cores) it leaves out the time other processes held the core, which wall-clock time counts. */
static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/** The fixed key every benchmark uses (byte i = 7i + 1), so runs are comparable. */
static inline void bench_key(uint8_t *key, size_t n)
{
    for (size_t i = 0; i < n; i++)
        key[i] = (uint8_t)(i * 7 + 1);
}

#endif
