/* loop.h - one event loop per worker thread: epoll for file descriptors, a binary min-heap of
 * timers, a queue of deferred resumptions, and tasks posted from other threads (eventfd wakeup).
 * Generic on purpose: it knows file descriptors, callbacks and deadlines, nothing of HTTP or TLS,
 * so the HTTPS server, the relay engine and proxy mode share it.
 *
 * Edge- or level-triggered is the caller's choice per descriptor (it passes epoll flags). The
 * service registers each connection once with EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET and never
 * calls epoll_ctl again for it: with edge triggering a connection that stops reading (its answer
 * is waiting for EPOLLOUT) or writing costs no syscall to mute and unmute, where level triggering
 * needs an epoll_ctl per direction change or spins. The price is the edge rule: a handler reads
 * until EAGAIN or, when it stops early (fairness: a pipelining client must not starve the others),
 * it asks to be resumed with nes_loop_defer, which calls it again (events = 0) after the current
 * batch and before the loop sleeps.
 *
 * Timers: a deadline per owner (a connection's header, body or idle deadline) lives in the owner
 * (nes_timer) and is armed in O(log n); the loop sleeps until the earliest one, so there is no
 * reaper thread and no scan. Moving an armed deadline later costs O(1): the timer keeps its place
 * in the heap and, when that place comes due, is put back at its real deadline instead of firing
 * (a connection that answers a request and moves its idle deadline does no heap operation; the
 * re-insertion happens at most once per old deadline). Moving one earlier moves it in the heap.
 * Times are CLOCK_MONOTONIC milliseconds, read once per iteration (nes_loop_now).
 *
 * Busy polling (opt-in, nes_loop_set_busy_poll; off by default): after an iteration that ran any
 * callback (I/O, posted task, timer), the loop keeps polling epoll without sleeping for a window
 * of `us` microseconds before it blocks as usual, so an answer that arrives within the window is
 * picked up without this thread being woken. Why: on a VM without guest halt polling, a thread
 * that sleeps lets its CPU halt, and waking a halted CPU is a hypervisor exit (tens of
 * microseconds) paid on every hop of a request; HAProxy's `busy-polling` exists for the same
 * reason. Ours is bounded: the window restarts at each burst and, once it passes with nothing to
 * do, the loop sleeps, so an idle loop uses no CPU. The cost is one CPU kept busy for up to `us`
 * after each burst (under steady traffic, a core per loop). The polling yields the CPU at each
 * empty poll (sched_yield), so another runnable thread on that CPU is not kept waiting behind
 * it. Timers fire at their deadlines and max_wait_ms is honoured during the window as when
 * sleeping.
 *
 * Threads: everything except nes_loop_post and nes_loop_wake runs on the loop's own thread. A
 * loop is not copied; its memory is O(timers + events per wait). */
#ifndef NES_NET_LOOP_H
#define NES_NET_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nes_loop nes_loop;
typedef struct nes_io nes_io;
typedef struct nes_timer nes_timer;
typedef struct nes_task nes_task;

/** Called with the epoll events of `io` (0 when resumed through nes_loop_defer). */
typedef void (*nes_io_cb)(nes_loop *loop, nes_io *io, uint32_t events);
/** Called when `t`'s deadline passed (the timer is disarmed first: re-arm it from here if you
 * like). */
typedef void (*nes_timer_cb)(nes_loop *loop, nes_timer *t);
/** A task posted from any thread, run on the loop's thread. */
typedef void (*nes_task_cb)(nes_loop *loop, void *arg);

/** A watched file descriptor, embedded in its owner (find the owner with offsetof). */
struct nes_io {
    int fd;
    nes_io_cb cb;
    bool deferred; /* queued by nes_loop_defer (loop-private) */
    nes_io *next_deferred;
};

/** A deadline, embedded in its owner. Zero-initialise, set `cb`, then arm with nes_timer_set. */
struct nes_timer {
    int64_t when_ms; /* armed deadline (monotonic ms) */
    int64_t key_ms;  /* its place in the heap, <= when_ms (loop-private) */
    size_t slot;     /* heap position + 1; 0: not armed (loop-private) */
    nes_timer_cb cb;
};

/** A task node, owned by the poster until its callback ran. */
struct nes_task {
    nes_task_cb cb;
    void *arg;
    nes_task *next;
};

/** A new loop that collects at most `max_events` events per wait (0: 256). NULL on failure. */
nes_loop *nes_loop_new(unsigned max_events);

/** Frees the loop (descriptors stay open; their owners close them). */
void nes_loop_free(nes_loop *loop);

/** Sets the busy-poll window (see above): after an iteration that ran a callback, poll without
 * sleeping for up to `us` microseconds before blocking. 0 (the default) turns it off. */
void nes_loop_set_busy_poll(nes_loop *loop, unsigned us);

/** Watches io->fd for `events` (EPOLLIN, EPOLLOUT, EPOLLET, EPOLLEXCLUSIVE...). 0 or -1 (errno). */
int nes_loop_add(nes_loop *loop, nes_io *io, uint32_t events);

/** Changes the events watched for io. 0 or -1 (errno). */
int nes_loop_mod(nes_loop *loop, nes_io *io, uint32_t events);

/** Stops watching io (call before closing its fd) and drops a pending deferral. */
void nes_loop_del(nes_loop *loop, nes_io *io);

/** Calls io's callback with events = 0 after the current batch, before the loop sleeps again.
 * Queuing an io that is already queued does nothing. */
void nes_loop_defer(nes_loop *loop, nes_io *io);

/** Arms (or moves) `t` to fire at `when_ms` (monotonic ms). O(1) when `t` is armed and the
 * deadline moves later, O(log n) otherwise. */
void nes_timer_set(nes_loop *loop, nes_timer *t, int64_t when_ms);

/** Disarms `t` (nothing when not armed). */
void nes_timer_stop(nes_loop *loop, nes_timer *t);

/** True while `t` is armed. */
bool nes_timer_armed(const nes_timer *t);

/** Armed timers. */
size_t nes_loop_timers(const nes_loop *loop);

/** The monotonic time in ms read at the start of the current iteration. */
int64_t nes_loop_now(const nes_loop *loop);

/** Monotonic clock in ms, read now. */
int64_t nes_mono_ms(void);

/** Runs `task` on the loop's thread soon (thread-safe; wakes the loop). The node must stay valid
 * until its callback ran. */
void nes_loop_post(nes_loop *loop, nes_task *task);

/** Runs one iteration: waits up to `max_wait_ms` (-1: until an event or the next timer), then
 * dispatches events, due timers, posted tasks and deferred resumptions. Returns the number of
 * callbacks run, or -1 when epoll failed. */
int nes_loop_run_once(nes_loop *loop, int max_wait_ms);

/** Runs iterations until nes_loop_stop is called on this loop's thread. */
void nes_loop_run(nes_loop *loop);

/** Makes nes_loop_run return after the current iteration (call from the loop's thread, e.g. in a
 * posted task). */
void nes_loop_stop(nes_loop *loop);

#endif
