/* deadline.h - absolute deadlines for pthread_cond_timedwait: "now on this clock, plus so many
 * milliseconds", normalised (0 <= tv_nsec < 1e9). The event loop counts its own monotonic
 * milliseconds (loop.h); this is for the background threads that sleep on a condition variable
 * (the DEK refresher on CLOCK_MONOTONIC, the spec refresher on CLOCK_REALTIME): the clock passed
 * must be the one the condition variable waits on. */
#ifndef NES_NET_DEADLINE_H
#define NES_NET_DEADLINE_H

#include <stdint.h>
#include <time.h>

/** The time `ms` milliseconds after now on `clock`. */
struct timespec nes_deadline_after(clockid_t clock, uint64_t ms);

#endif
