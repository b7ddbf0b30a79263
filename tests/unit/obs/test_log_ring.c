/* test_log_ring.c - the queued log path under load: two threads emit lines as fast as they
 * can; none is dropped at this rate, none is torn, and each thread's lines stay in order. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "obs/log.h"

#define LINES 20000

static long ids[2] = {0, 1};

static void *emitter(void *arg)
{
    long id = *(long *)arg;
    for (long i = 0; i < LINES; i++) {
        nes_logline l;
        nes_logline_begin(&l, NES_LOG_INFO, "request");
        nes_logline_int(&l, "thread", id);
        nes_logline_int(&l, "seq", i);
        nes_logline_str(&l, "route", "encrypt");
        nes_logline_emit(&l);
        if (i % 100 == 99)
            usleep(1000); /* at most ~100k lines/s: 2-3x one service thread's peak rate */
    }
    return NULL;
}

static void lines_survive_two_busy_threads(void **state)
{
    (void)state;
    char path[] = "/tmp/nes-log-ring-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    nes_log_configure(NES_LOG_INFO, fd);
    assert_int_equal(nes_log_start(), 0);
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, emitter, &ids[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    nes_log_stop();
    assert_int_equal(nes_log_dropped(), 0);

    FILE *f = fdopen(fd, "r");
    assert_non_null(f);
    rewind(f);
    char line[NES_LOGLINE_MAX + 2];
    long next[2] = {0, 0};
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, "\"thread\":");
        assert_non_null(p);
        char *end;
        long th = strtol(p + 9, &end, 10);
        assert_int_equal(strncmp(end, ",\"seq\":", 7), 0);
        long seq = strtol(end + 7, &end, 10);
        assert_int_equal(*end, ',');
        assert_true(th == 0 || th == 1);
        assert_int_equal(seq, next[th]);
        next[th]++;
        assert_int_equal(strncmp(line, "{\"ts\":\"", 7), 0);
        assert_non_null(strstr(line, "\"route\":\"encrypt\"}\n"));
    }
    assert_int_equal(next[0], LINES);
    assert_int_equal(next[1], LINES);
    fclose(f);
    nes_log_configure(NES_LOG_INFO, 2);
}

static void int_fields_and_timestamps(void **state)
{
    (void)state;
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_INFO, "m");
    nes_logline_int(&l, "zero", 0);
    nes_logline_int(&l, "neg", -9223372036854775807LL - 1);
    nes_logline_int(&l, "big", 9223372036854775807LL);
    nes_logline_end(&l);
    l.buf[l.len] = '\0';
    assert_non_null(strstr(l.buf, ",\"zero\":0,\"neg\":-9223372036854775808,"
                                  "\"big\":9223372036854775807}\n"));
    /* {"ts":"2026-11-25T07:40:00.123Z" */
    assert_int_equal(l.buf[7 + 4], '-');
    assert_int_equal(l.buf[7 + 10], 'T');
    assert_int_equal(l.buf[7 + 19], '.');
    assert_int_equal(l.buf[7 + 23], 'Z');
    assert_int_equal(l.buf[7 + 24], '"');
}

/* Capacity: the writer is stalled (its pipe is full and nobody reads it) while one thread logs
 * 160 ms worth of access lines at 25,600 req/s (~250-byte lines): none is dropped, and all of
 * them arrive, whole and in order, once the pipe is read again. */
#define STALL_LINES 4000

static void *pipe_reader(void *arg)
{
    int fd = *(int *)arg;
    static long counted[2]; /* [0] lines, [1] lines in order */
    char buf[65536];
    long lines = 0, expect = 0;
    size_t have = 0;
    char line[NES_LOGLINE_MAX + 1];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (have < sizeof(line) - 1)
                line[have++] = buf[i];
            if (buf[i] != '\n')
                continue;
            line[have] = '\0';
            const char *p = strstr(line, "\"seq\":");
            if (p != NULL && strtol(p + 6, NULL, 10) == expect)
                expect++;
            lines++;
            have = 0;
        }
    }
    counted[0] = lines;
    counted[1] = expect;
    return counted;
}

static void rings_hold_a_stalled_writer(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    uint64_t dropped = nes_log_dropped();
    nes_log_configure(NES_LOG_INFO, p[1]);
    assert_int_equal(nes_log_start(), 0);
    char pad[140];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    size_t bytes = 0;
    for (long i = 0; i < STALL_LINES; i++) {
        nes_logline l;
        nes_logline_begin(&l, NES_LOG_INFO, "request");
        nes_logline_str(&l, "route", "encrypt");
        nes_logline_int(&l, "seq", i);
        nes_logline_str(&l, "pad", pad);
        nes_logline_int(&l, "latency_us", 123);
        bytes += l.len + 2;
        nes_logline_emit(&l);
    }
    assert_true(bytes > STALL_LINES * 240);
    assert_int_equal(nes_log_dropped() - dropped, 0);
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, pipe_reader, &p[0]), 0);
    nes_log_stop();
    close(p[1]);
    void *res;
    pthread_join(reader, &res);
    long *counted = res;
    assert_int_equal(counted[0], STALL_LINES);
    assert_int_equal(counted[1], STALL_LINES);
    close(p[0]);
    nes_log_configure(NES_LOG_INFO, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(int_fields_and_timestamps),
        cmocka_unit_test(lines_survive_two_busy_threads),
        cmocka_unit_test(rings_hold_a_stalled_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
