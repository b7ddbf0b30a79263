/* test_loop.c - the event loop (src/net/loop.c): timers fire in deadline order however they were
 * armed, moved and stopped (a table of operations checked against a plain model), a deadline
 * moved later (kept in place in the heap) never fires early, the loop
 * sleeps until the earliest deadline, descriptors dispatch, deferred resumptions run after the
 * batch, tasks posted from another thread wake the loop and run in posting order (and stop it,
 * busy polling or not). Busy polling: with the window on, an event that comes within it is
 * handled without the loop thread sleeping (its voluntary context switches, counted by the
 * kernel, stay put), with it off the same scenario sleeps; after the window an idle loop sleeps
 * and uses next to no CPU; timers and max_wait_ms still end the wait on time, never early. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/loop.h"

#define NT 64

typedef struct tt {
    nes_timer t;
    int id;
} tt;

static int fired[4 * NT];
static size_t nfired;

static void on_timer(nes_loop *loop, nes_timer *t)
{
    (void)loop;
    fired[nfired++] = ((tt *)t)->id;
}

/* Operations on timers: set id to `when` (relative to a base in the past, so all are due), or
 * stop id (when = -1). */
typedef struct op {
    int id;
    int64_t when;
} op;

static const op table[] = {
    {0, 50}, {1, 10}, {2, 30}, {3, 30}, {4, 5}, {1, 60}, /* move later */
    {2, 1},                                              /* move earlier */
    {5, 20}, {3, -1},                                    /* stop */
    {6, 40}, {7, 40}, {4, -1}, {4, 45},                  /* stop then re-arm */
    {8, 0},  {9, 99}, {9, -1}, {8, 70},
};

static void timers_fire_in_deadline_order(void **state)
{
    (void)state;
    nes_loop *loop = nes_loop_new(0);
    assert_non_null(loop);
    tt ts[NT];
    memset(ts, 0, sizeof(ts));
    int64_t model[NT];
    for (int i = 0; i < NT; i++) {
        ts[i].t.cb = on_timer;
        ts[i].id = i;
        model[i] = -1;
    }
    int64_t base = nes_mono_ms() - 1000;
    for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
        const op *o = &table[k];
        if (o->when < 0)
            nes_timer_stop(loop, &ts[o->id].t);
        else
            nes_timer_set(loop, &ts[o->id].t, base + o->when);
        model[o->id] = o->when;
        assert_int_equal(nes_timer_armed(&ts[o->id].t), o->when >= 0);
    }
    size_t armed = 0;
    for (int i = 0; i < NT; i++)
        armed += model[i] >= 0;
    assert_int_equal(nes_loop_timers(loop), armed);
    nfired = 0;
    nes_loop_run_once(loop, 0);
    assert_int_equal(nfired, armed);
    assert_int_equal(nes_loop_timers(loop), 0);
    for (size_t i = 1; i < nfired; i++)
        assert_true(model[fired[i - 1]] <= model[fired[i]]);
    for (size_t i = 0; i < nfired; i++)
        assert_true(model[fired[i]] >= 0);
    nes_loop_free(loop);
}

static void random_timers_match_a_model(void **state)
{
    (void)state;
    nes_loop *loop = nes_loop_new(0);
    tt ts[NT];
    memset(ts, 0, sizeof(ts));
    int64_t model[NT];
    for (int i = 0; i < NT; i++) {
        ts[i].t.cb = on_timer;
        ts[i].id = i;
        model[i] = -1;
    }
    srand(11);
    int64_t base = nes_mono_ms() - 100000;
    for (int k = 0; k < 5000; k++) {
        int id = rand() % NT;
        if (rand() % 4 == 0) {
            nes_timer_stop(loop, &ts[id].t);
            model[id] = -1;
        } else {
            model[id] = rand() % 1000;
            nes_timer_set(loop, &ts[id].t, base + model[id]);
        }
    }
    size_t armed = 0;
    for (int i = 0; i < NT; i++)
        armed += model[i] >= 0;
    nfired = 0;
    nes_loop_run_once(loop, 0);
    assert_int_equal(nfired, armed);
    for (size_t i = 1; i < nfired; i++)
        assert_true(model[fired[i - 1]] <= model[fired[i]]);
    nes_loop_free(loop);
}

static void sleeps_until_the_earliest_deadline(void **state)
{
    (void)state;
    nes_loop *loop = nes_loop_new(0);
    tt a = {.t.cb = on_timer, .id = 1}, b = {.t.cb = on_timer, .id = 2};
    int64_t t0 = nes_mono_ms();
    nes_timer_set(loop, &b.t, t0 + 400);
    nes_timer_set(loop, &a.t, t0 + 60);
    nfired = 0;
    while (nfired == 0)
        nes_loop_run_once(loop, -1);
    int64_t waited = nes_mono_ms() - t0;
    assert_int_equal(fired[0], 1);
    assert_int_equal(nfired, 1);
    assert_true(waited >= 60);
    assert_true(nes_timer_armed(&b.t));
    nes_timer_stop(loop, &b.t);
    assert_int_equal(nes_loop_timers(loop), 0);
    nes_loop_free(loop);
}

/* A deadline moved later keeps its heap place (no heap work) but must not fire at the old time;
 * moved earlier again, it fires at the new one. */
static void a_deadline_moved_later_does_not_fire_early(void **state)
{
    (void)state;
    nes_loop *loop = nes_loop_new(0);
    tt a = {.t.cb = on_timer, .id = 1}, b = {.t.cb = on_timer, .id = 2};
    int64_t t0 = nes_mono_ms();
    nes_timer_set(loop, &a.t, t0 + 20);
    nes_timer_set(loop, &a.t, t0 + 100000); /* later: stays in place */
    nes_timer_set(loop, &b.t, t0 + 120);
    nfired = 0;
    while (nfired == 0)
        nes_loop_run_once(loop, -1);
    assert_true(nes_mono_ms() - t0 >= 120);
    assert_int_equal(nfired, 1);
    assert_int_equal(fired[0], 2);
    assert_true(nes_timer_armed(&a.t));
    assert_int_equal(nes_loop_timers(loop), 1);
    nes_timer_set(loop, &a.t, t0); /* earlier than its place: due now */
    nes_loop_run_once(loop, 0);
    assert_int_equal(nfired, 2);
    assert_int_equal(fired[1], 1);
    assert_false(nes_timer_armed(&a.t));
    assert_int_equal(nes_loop_timers(loop), 0);
    nes_loop_free(loop);
}

typedef struct watcher {
    nes_io io;
    uint32_t events[8];
    int calls;
    nes_loop *defer_again; /* defer itself once from the callback */
} watcher;

static void on_io(nes_loop *loop, nes_io *io, uint32_t events)
{
    watcher *w = (watcher *)io;
    w->events[w->calls++ % 8] = events;
    if (w->defer_again != NULL && events != 0) {
        nes_loop_defer(loop, io);
        w->defer_again = NULL;
    }
}

static void descriptors_and_deferrals(void **state)
{
    (void)state;
    nes_loop *loop = nes_loop_new(4);
    int p[2];
    assert_int_equal(pipe(p), 0);
    watcher w = {.io = {.fd = p[0], .cb = on_io}};
    assert_int_equal(nes_loop_add(loop, &w.io, EPOLLIN | EPOLLET), 0);
    assert_int_equal(nes_loop_run_once(loop, 0), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    w.defer_again = loop;
    nes_loop_run_once(loop, 1000);
    /* the readable event, then the deferred resumption in the same iteration */
    assert_int_equal(w.calls, 2);
    assert_true(w.events[0] & EPOLLIN);
    assert_int_equal(w.events[1], 0);
    /* edge-triggered: no new event without new data */
    assert_int_equal(nes_loop_run_once(loop, 0), 0);
    /* a deferral dropped by nes_loop_del never runs */
    nes_loop_defer(loop, &w.io);
    nes_loop_defer(loop, &w.io); /* twice: queued once */
    nes_loop_del(loop, &w.io);
    assert_int_equal(nes_loop_run_once(loop, 0), 0);
    assert_int_equal(w.calls, 2);
    close(p[0]);
    close(p[1]);
    nes_loop_free(loop);
}

/* ---- busy polling ------------------------------------------------------------------------ */

/* Times the loop thread gave up its CPU to wait (the kernel's count for this thread). */
static long sleeps(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
    return ru.ru_nvcsw;
}

static int64_t thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what the pipe has (level-triggered watch), counting calls. */
static void on_readable(nes_loop *loop, nes_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    char b[16];
    ssize_t n = read(io->fd, b, sizeof(b));
    (void)n;
    ((watcher *)io)->calls++;
}

typedef struct late_writer {
    int fd;
    unsigned delay_us;
    int64_t wrote_ms; /* when the byte went in */
} late_writer;

static void *write_later(void *arg)
{
    late_writer *lw = arg;
    usleep(lw->delay_us);
    lw->wrote_ms = nes_mono_ms();
    if (write(lw->fd, "b", 1) != 1) /* no cmocka assertion off the test's thread */
        lw->wrote_ms = -1;
    return NULL;
}

static void task_noop(nes_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

/* A loop with a busy-poll window of `us` handles one event (the window opens), then another
 * thread writes to the pipe 20 ms later while the loop waits for it. Returns the loop thread's
 * sleeps during that wait, or -1 when the writer came later than `us` (a loaded box: retry). */
static long sleeps_waiting_for_a_late_write(unsigned us)
{
    nes_loop *loop = nes_loop_new(0);
    assert_non_null(loop);
    nes_loop_set_busy_poll(loop, us);
    int p[2];
    assert_int_equal(pipe(p), 0);
    watcher w = {.io = {.fd = p[0], .cb = on_readable}};
    assert_int_equal(nes_loop_add(loop, &w.io, EPOLLIN), 0);
    assert_int_equal(write(p[1], "a", 1), 1);
    assert_true(nes_loop_run_once(loop, -1) >= 1); /* handled: the window opens now */
    int64_t opened = nes_mono_ms();
    late_writer lw = {.fd = p[1], .delay_us = 20000};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, write_later, &lw), 0);
    long before = sleeps();
    while (w.calls < 2)
        assert_true(nes_loop_run_once(loop, -1) >= 0);
    long slept = sleeps() - before;
    pthread_join(th, NULL);
    assert_true(lw.wrote_ms >= 0);
    close(p[0]);
    close(p[1]);
    nes_loop_free(loop);
    if (us > 0 && lw.wrote_ms - opened >= (int64_t)us / 1000 - 1)
        return -1;
    return slept;
}

static void busy_poll_takes_an_event_without_sleeping(void **state)
{
    (void)state;
    /* off: the loop sleeps in epoll_wait until the write */
    assert_true(sleeps_waiting_for_a_late_write(0) >= 1);
    /* on (a window of 1 s, far longer than the 20 ms the writer takes): no sleep at all */
    long slept = -1;
    for (int attempt = 0; attempt < 3 && slept < 0; attempt++)
        slept = sleeps_waiting_for_a_late_write(1000000);
    if (slept < 0)
        fail_msg("the writer thread never ran within 1 s in three attempts");
    assert_int_equal(slept, 0);
}

/* After the window an idle loop sleeps: over 400 ms of nothing (a timer ends it) the loop thread
 * slept and used about the window's 10 ms of CPU, far from the 400 ms of a loop that kept
 * spinning. */
static void busy_poll_window_ends_and_the_loop_sleeps(void **state)
{
    (void)state;
    nes_loop *loop = nes_loop_new(0);
    nes_loop_set_busy_poll(loop, 10000);
    int p[2];
    assert_int_equal(pipe(p), 0);
    watcher w = {.io = {.fd = p[0], .cb = on_readable}};
    assert_int_equal(nes_loop_add(loop, &w.io, EPOLLIN), 0);
    assert_int_equal(write(p[1], "a", 1), 1);
    assert_true(nes_loop_run_once(loop, -1) >= 1);
    tt a = {.t.cb = on_timer, .id = 1};
    int64_t t0 = nes_mono_ms(), cpu0 = thread_cpu_ms();
    long before = sleeps();
    nes_timer_set(loop, &a.t, t0 + 400);
    nfired = 0;
    while (nfired == 0)
        nes_loop_run_once(loop, -1);
    int64_t cpu = thread_cpu_ms() - cpu0;
    assert_true(nes_mono_ms() - t0 >= 400);
    assert_true(sleeps() - before >= 1);
    if (cpu >= 100)
        fail_msg("the idle loop used %lld ms of CPU in 400 ms", (long long)cpu);
    close(p[0]);
    close(p[1]);
    nes_loop_free(loop);
}

static int64_t fired_at_ms;

static void on_timer_at(nes_loop *loop, nes_timer *t)
{
    (void)loop;
    (void)t;
    fired_at_ms = nes_mono_ms();
    nfired++;
}

/* While busy polling, a timer inside the window fires at its deadline without the loop
 * sleeping, one after the window fires on time too (never early), and run_once returns when its
 * max_wait_ms is over rather than when the window closes. */
static void busy_poll_keeps_deadlines(void **state)
{
    (void)state;
    nes_loop *loop = nes_loop_new(0);
    nes_loop_set_busy_poll(loop, 1000000);
    nes_task kick = {.cb = task_noop};
    nes_loop_post(loop, &kick);
    assert_true(nes_loop_run_once(loop, -1) >= 1); /* window open for 1 s */
    tt a = {.t.cb = on_timer_at, .id = 1};
    int64_t when = nes_mono_ms() + 50;
    long before = sleeps();
    nes_timer_set(loop, &a.t, when);
    nfired = 0;
    while (nfired == 0)
        nes_loop_run_once(loop, -1);
    assert_true(fired_at_ms >= when);
    if (fired_at_ms - when > 500)
        fail_msg("the timer fired %lld ms late", (long long)(fired_at_ms - when));
    assert_int_equal(sleeps() - before, 0);

    /* the window reopened when the timer ran; a wait bounded by max_wait_ms ends on time */
    int64_t t0 = nes_mono_ms();
    assert_int_equal(nes_loop_run_once(loop, 30), 0);
    int64_t waited = nes_mono_ms() - t0;
    assert_true(waited >= 29); /* ms clock granularity */
    if (waited > 600)
        fail_msg("run_once(30) returned after %lld ms", (long long)waited);

    /* a short window, a timer beyond it: the loop sleeps for the rest and fires on time */
    nes_loop_set_busy_poll(loop, 5000);
    nes_loop_post(loop, &kick);
    assert_true(nes_loop_run_once(loop, -1) >= 1);
    when = nes_mono_ms() + 60;
    nes_timer_set(loop, &a.t, when);
    before = sleeps();
    nfired = 0;
    while (nfired == 0)
        nes_loop_run_once(loop, -1);
    assert_true(fired_at_ms >= when);
    assert_true(sleeps() - before >= 1);
    nes_loop_free(loop);
}

static int order[16];
static int norder;

static void task_cb(nes_loop *loop, void *arg)
{
    order[norder++] = (int)(intptr_t)arg;
    if ((intptr_t)arg == 99)
        nes_loop_stop(loop);
}

static void *poster(void *arg)
{
    nes_loop *loop = arg;
    static nes_task tasks[4];
    usleep(50000);
    for (int i = 0; i < 3; i++) {
        tasks[i] = (nes_task){.cb = task_cb, .arg = (void *)(intptr_t)(i + 1)};
        nes_loop_post(loop, &tasks[i]);
    }
    tasks[3] = (nes_task){.cb = task_cb, .arg = (void *)(intptr_t)99};
    nes_loop_post(loop, &tasks[3]);
    return NULL;
}

/* state: the busy-poll window (us) or NULL for none; the stop works either way */
static void posted_tasks_wake_the_loop_in_order(void **state)
{
    nes_loop *loop = nes_loop_new(0);
    if (*state != NULL)
        nes_loop_set_busy_poll(loop, *(const unsigned *)*state);
    norder = 0;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poster, loop), 0);
    nes_loop_run(loop); /* returns when task 99 stops it */
    pthread_join(th, NULL);
    assert_int_equal(norder, 4);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 3);
    assert_int_equal(order[3], 99);
    nes_loop_free(loop);
}

static unsigned busy_window = 200000; /* not const: cmocka takes a void * */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_fire_in_deadline_order),
        cmocka_unit_test(random_timers_match_a_model),
        cmocka_unit_test(sleeps_until_the_earliest_deadline),
        cmocka_unit_test(a_deadline_moved_later_does_not_fire_early),
        cmocka_unit_test(descriptors_and_deferrals),
        cmocka_unit_test(posted_tasks_wake_the_loop_in_order),
        cmocka_unit_test_prestate(posted_tasks_wake_the_loop_in_order, (void *)&busy_window),
        cmocka_unit_test(busy_poll_takes_an_event_without_sleeping),
        cmocka_unit_test(busy_poll_window_ends_and_the_loop_sleeps),
        cmocka_unit_test(busy_poll_keeps_deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
