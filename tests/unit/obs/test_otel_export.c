/* test_otel_export.c - the exporter's own counters (nes_otel_counters, obs/otel/export.h), read
 * the way a program reports them: all zero without an exporter; items sent to a receiver that
 * answers 200; drops on a full queue and failed requests against a port that refuses. The
 * receiver is a small HTTP/1.1 responder on a free port (bound to port 0). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../testutil.h"
#include "core/buf.h"
#include "obs/log.h"
#include "obs/otel/export.h"
#include "obs/otel/trace.h"

/* How long a condition may take on a loaded machine before the test fails. */
#define WAIT_MS 20000

/* A socket bound to a free port of 127.0.0.1, listening or not (connections to a bound socket
 * that does not listen are refused, and no other process can take its port meanwhile). */
static int bound_socket(bool listening, unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    if (listening)
        assert_int_equal(listen(fd, 8), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* The receiver: answers every request 200 with an empty body, keeping the connection. */
typedef struct receiver {
    int lfd;
    atomic_bool stop;
    atomic_uint requests;
    pthread_t thread;
} receiver;

/* Serves one connection until the peer closes it or the receiver stops. */
static void serve(receiver *r, int fd)
{
    char buf[1 << 16];
    size_t have = 0;
    while (!atomic_load(&r->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n <= 0)
            return;
        have += (size_t)n;
        for (;;) { /* every complete request in the buffer */
            char *end = memmem(buf, have, "\r\n\r\n", 4);
            if (end == NULL)
                break;
            size_t head = (size_t)(end - buf) + 4, body = 0;
            for (char *l = buf; l < end; l++) {
                if (strncasecmp(l, "\ncontent-length:", 16) == 0)
                    body = strtoul(l + 16, NULL, 10);
            }
            if (head + body > sizeof(buf))
                return; /* larger than this receiver takes: the request fails */
            if (have < head + body)
                break;
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
            if (write(fd, ok, sizeof(ok) - 1) != (ssize_t)sizeof(ok) - 1)
                return;
            atomic_fetch_add(&r->requests, 1);
            memmove(buf, buf + head + body, have - head - body);
            have -= head + body;
        }
    }
}

static void *receive(void *arg)
{
    receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd p = {.fd = r->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve(r, fd);
        close(fd);
    }
    return NULL;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The exporter's counters once `done` holds for them, or when WAIT_MS have passed. */
static nes_otel_stats wait_for(bool (*done)(const nes_otel_stats *s))
{
    nes_otel_stats s;
    uint64_t until = now_ms() + WAIT_MS;
    for (;;) {
        nes_otel_counters(&s);
        if (done(&s) || now_ms() > until)
            return s;
        struct timespec d = {.tv_nsec = 10 * 1000000};
        nanosleep(&d, NULL);
    }
}

/* Ends `n` sampled root spans and emits `n` log lines (to /dev/null and the exporter's tap). */
static void produce(int n)
{
    for (int i = 0; i < n; i++) {
        nes_span s;
        nes_trace_span_begin(&s, "test", NES_SPAN_INTERNAL, NULL, NULL);
        nes_trace_span_end(&s);
        nes_log(NES_LOG_INFO, "line %d", i);
    }
}

/* A metrics body the receiver takes (its content is the program's business). */
static int tiny_metrics(void *ud, nes_buf *out, const nes_otlp_resource *res, uint64_t start_ns,
                        uint64_t now_ns)
{
    (void)res;
    (void)start_ns;
    (void)now_ns;
    atomic_fetch_add((atomic_uint *)ud, 1);
    return nes_buf_appendf(out, "{\"resourceMetrics\":[]}");
}

static void start(const char *const *kv, nes_otel_metrics_fn metrics, void *ud)
{
    tu_env e = {.kv = kv};
    nes_otel_config c;
    char why[256] = "";
    assert_int_equal(nes_otel_config_load(&c, "test", tu_env_lookup, &e, why, sizeof(why)), 0);
    assert_true(c.enabled);
    assert_int_equal(nes_otel_start(&c, NULL, metrics, ud, why, sizeof(why)), 0);
    assert_true(nes_otel_running());
}

static void zero_without_an_exporter(void **state)
{
    (void)state;
    nes_otel_stats s;
    memset(&s, 0xff, sizeof(s));
    nes_otel_counters(&s);
    nes_otel_stats zero = {0};
    assert_memory_equal(&s, &zero, sizeof(s));
}

static bool all_sent(const nes_otel_stats *s)
{
    return s->exported[0] == 10 && s->exported[1] >= 1 && s->exported[2] == 10;
}

static void counts_items_sent(void **state)
{
    (void)state;
    receiver r = {0};
    unsigned port;
    r.lfd = bound_socket(true, &port);
    assert_int_equal(pthread_create(&r.thread, NULL, receive, &r), 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    const char *kv[] = {"OTEL_EXPORTER_OTLP_ENDPOINT",
                        url,
                        "OTEL_BSP_SCHEDULE_DELAY",
                        "20",
                        "OTEL_METRIC_EXPORT_INTERVAL",
                        "20",
                        NULL};
    atomic_uint metric_calls = 0;
    start(kv, tiny_metrics, &metric_calls);
    produce(10);
    nes_otel_stats s = wait_for(all_sent);
    assert_int_equal(s.exported[0], 10);
    assert_true(s.exported[1] >= 1);
    assert_true(s.exported[1] <= atomic_load(&metric_calls));
    assert_int_equal(s.exported[2], 10);
    assert_int_equal(s.spans_dropped, 0);
    assert_int_equal(s.logs_dropped, 0);
    assert_int_equal(s.export_failures, 0);
    assert_true(atomic_load(&r.requests) >= 3); /* spans, logs, metrics: one request at least */
    nes_otel_stop();
    assert_false(nes_otel_running());
    nes_otel_counters(&s); /* stopped: nothing to report */
    assert_int_equal(s.exported[0], 0);
    atomic_store(&r.stop, true);
    pthread_join(r.thread, NULL);
    close(r.lfd);
}

static bool failed(const nes_otel_stats *s)
{
    return s->export_failures > 0;
}

static void counts_drops_and_failures(void **state)
{
    (void)state;
    unsigned port;
    int fd = bound_socket(false, &port); /* connections are refused */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    /* a queue of 2 items and a day between batches: the queue fills at once, and the early
     * export of its backlog fails */
    const char *kv[] = {"OTEL_EXPORTER_OTLP_ENDPOINT",
                        url,
                        "OTEL_BSP_MAX_QUEUE_SIZE",
                        "2",
                        "OTEL_BSP_SCHEDULE_DELAY",
                        "86400000",
                        "OTEL_METRIC_EXPORT_INTERVAL",
                        "86400000",
                        NULL};
    start(kv, NULL, NULL);
    produce(200);
    nes_otel_stats s;
    nes_otel_counters(&s);
    assert_true(s.spans_dropped > 0 && s.spans_dropped <= 200);
    assert_true(s.logs_dropped > 0 && s.logs_dropped <= 200);
    s = wait_for(failed);
    assert_true(s.export_failures > 0);
    assert_int_equal(s.exported[0] + s.exported[1] + s.exported[2], 0);
    nes_otel_stop();
    close(fd);
}

int main(void)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    nes_log_configure(NES_LOG_INFO, null);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zero_without_an_exporter),
        cmocka_unit_test(counts_items_sent),
        cmocka_unit_test(counts_drops_and_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    close(null);
    return rc;
}
