/* log.c - JSON log lines, per-thread rings drained by one writer thread (see log.h). */
#include "obs/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

/* Each logging thread's queue: a byte ring of finished lines, drained every 5 ms (every 80 ms while
 * idle).
 *
 * Sizing: an access line is 200-260 bytes. At 25,600 req/s (the soak that dropped 0.8 % of its
 * lines with 256 KiB rings) the service writes ~6.4 MB/s of access log, so a 5 ms period moves
 * ~32 KB: the drain itself is never the limit (one writev per period, straight from the rings).
 * Drops come from the writer not running - descheduled on a saturated machine, or blocked in
 * write(2) on a full stderr pipe whose reader lags - while request threads keep logging. A ring
 * must hold the lines of the longest such stall: 1 MiB is ~4,000 lines, 160 ms of the whole
 * 25.6k req/s on one thread (320 ms when two workers share the load), against ~40 ms with the
 * old 256 KiB. A longer stall drops lines, counted in nes_log_lines_dropped_total; request
 * threads never wait for the log. Memory: 1 MiB per logging thread, touched as the ring wraps. */
#define RING_BYTES NES_LOG_RING_BYTES
#define MAX_RINGS 64
#define WRITER_PERIOD_NS 5000000L
#define WRITER_IDLE_NS 80000000L

typedef struct ring {
    _Atomic uint64_t head; /* bytes the owner has written (whole lines only) */
    _Atomic uint64_t tail; /* bytes the writer thread has consumed */
    char data[RING_BYTES];
} ring;

static _Atomic int g_level = NES_LOG_INFO;
static int g_fd = 2;
static ring *g_rings[MAX_RINGS];
static _Atomic int g_nrings;
static _Atomic bool g_started;
static _Atomic bool g_running;
static _Atomic uint64_t g_dropped;
static pthread_t g_writer;
static _Thread_local ring *t_ring;
static _Thread_local bool t_ring_failed;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int nes_log_level_parse(const char *s, nes_log_level *out)
{
    if (s == NULL)
        return -1;
    for (int i = NES_LOG_DEBUG; i <= NES_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (nes_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = NES_LOG_WARN;
        return 0;
    }
    if (strcasecmp(s, "trace") == 0) {
        *out = NES_LOG_DEBUG;
        return 0;
    }
    return -1;
}

const char *nes_log_level_name(nes_log_level level)
{
    return (level >= NES_LOG_DEBUG && level <= NES_LOG_OFF) ? level_names[level] : "?";
}

void nes_log_configure(nes_log_level level, int fd)
{
    atomic_store(&g_level, (int)level);
    g_fd = fd;
}

bool nes_log_enabled(nes_log_level level)
{
    return level != NES_LOG_OFF &&
           (int)level >= atomic_load_explicit(&g_level, memory_order_relaxed);
}

uint64_t nes_log_dropped(void)
{
    return atomic_load(&g_dropped);
}

/* Length of the UTF-8 sequence starting at s (n bytes available), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* Whether a JSON string holds byte c as it is (printable ASCII but quote and backslash): a bit
 * test where four comparisons took ~9 instructions per byte (a request's access line has ~90
 * such bytes in its keys and values). */
static inline bool plain(unsigned char c)
{
    static const uint64_t bits[2] = {0xfffffffb00000000u, 0x7fffffffefffffffu};
    return c < 128 && ((bits[c >> 6] >> (c & 63)) & 1u);
}

size_t nes_json_escape(char *out, size_t cap, const char *in, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (cap == 0)
        return (size_t)-1;
    for (size_t i = 0; i < n;) {
        /* A run of printable ASCII without quote or backslash is copied as it is. */
        size_t run = i;
        while (run < n && plain(s[run]))
            run++;
        if (run > i) {
            size_t k = run - i;
            if (o + k + 1 > cap)
                k = cap - 1 - o; /* the prefix that fits, then report the overflow */
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
            if (i < run) {
                out[o] = '\0';
                return (size_t)-1;
            }
            continue;
        }
        char esc[8];
        size_t elen = 0, consumed = 1;
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = (char)(c == '\n' ? 'n' : (c == '\r' ? 'r' : 't'));
            elen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        } else if (c < 0x80) {
            esc[0] = (char)c;
            elen = 1;
        } else {
            size_t ul = utf8_len(s + i, n - i);
            if (ul == 0) {
                static const char repl[6] = {'\\', 'u', 'f', 'f', 'f', 'd'};
                for (size_t k = 0; k < sizeof(repl); k++)
                    esc[k] = repl[k];
                elen = 6;
            } else {
                for (size_t k = 0; k < ul; k++)
                    esc[k] = (char)s[i + k];
                elen = ul;
                consumed = ul;
            }
        }
        if (o + elen + 1 > cap) {
            out[o] = '\0';
            return (size_t)-1;
        }
        memcpy(out + o, esc, elen);
        o += elen;
        i += consumed;
    }
    out[o] = '\0';
    return o;
}

static void put_raw(nes_logline *l, const char *s, size_t n)
{
    /* Keep room for the closing "}\n" and the truncation marker. */
    const size_t reserve = 24;
    if (l->truncated || l->len + n + reserve > sizeof(l->buf)) {
        l->truncated = true;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_escaped(nes_logline *l, const char *s, size_t n)
{
    const size_t reserve = 24;
    if (l->truncated)
        return;
    size_t room = sizeof(l->buf) - l->len - reserve;
    if (room == 0) {
        l->truncated = true;
        return;
    }
    size_t w = nes_json_escape(l->buf + l->len, room, s, n);
    if (w == (size_t)-1) {
        l->len += strlen(l->buf + l->len);
        l->truncated = true;
        return;
    }
    l->len += w;
}

static void put_key(nes_logline *l, const char *key)
{
    /* The usual key (a short name with nothing to escape) is copied as it is, in one pass; the
     * same room is kept as put_raw keeps. Anything else takes the escaping path. */
    size_t n = strlen(key);
    if (!l->truncated && n <= 64 && l->len + n + 4 + 24 <= sizeof(l->buf)) {
        char *o = l->buf + l->len;
        size_t i = 0;
        for (; i < n; i++) {
            unsigned char c = (unsigned char)key[i];
            if (!plain(c))
                break;
            o[2 + i] = (char)c;
        }
        if (i == n) {
            o[0] = ',';
            o[1] = '"';
            o[2 + n] = '"';
            o[3 + n] = ':';
            l->len += n + 4;
            return;
        }
    }
    put_raw(l, ",\"", 2);
    put_escaped(l, key, strlen(key));
    put_raw(l, "\":", 2);
}

/* A line stays valid JSON when it is cut: a field that did not fit is removed whole (back to
 * `mark`, the length before it), except a string value whose opening quote made it in, which
 * keeps its prefix (cut at a whole escape) and gets its closing quote. put_raw keeps room for
 * that quote, the truncation marker and the closing "}\n". */
static void cut_field(nes_logline *l, bool was_truncated, size_t mark, size_t value_start)
{
    if (was_truncated || !l->truncated)
        return;
    if (value_start != 0 && l->len >= value_start)
        l->buf[l->len++] = '"';
    else
        l->len = mark;
}

/* {"ts":"YYYY-MM-DDTHH:MM:SS of the thread's last line: formatted once per second (gmtime_r
 * takes glibc's time-zone lock on every call). */
static _Thread_local time_t t_ts_sec = -1;
static _Thread_local char t_ts_prefix[48];
static _Thread_local size_t t_ts_len;

void nes_logline_begin(nes_logline *l, nes_log_level level, const char *msg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != t_ts_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        int n = snprintf(t_ts_prefix, sizeof(t_ts_prefix),
                         "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        t_ts_len = n > 0 && (size_t)n < sizeof(t_ts_prefix) ? (size_t)n : 0;
        t_ts_sec = ts.tv_sec;
    }
    l->time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    long ms = ts.tv_nsec / 1000000;
    char frac[7] = {
        '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z', '"'};
    l->len = 0;
    l->truncated = false;
    put_raw(l, t_ts_prefix, t_ts_len);
    put_raw(l, frac, 6);
    put_raw(l, ",\"level\":\"", 10);
    put_raw(l, nes_log_level_name(level), strlen(nes_log_level_name(level)));
    put_raw(l, "\",\"msg\":\"", 9);
    size_t value_start = l->len;
    put_escaped(l, msg, strlen(msg));
    put_raw(l, "\"", 1);
    cut_field(l, false, value_start, value_start);
}

void nes_logline_str(nes_logline *l, const char *key, const char *value)
{
    if (value == NULL) {
        bool was = l->truncated;
        size_t mark = l->len;
        put_key(l, key);
        put_raw(l, "null", 4);
        cut_field(l, was, mark, 0);
        return;
    }
    nes_logline_strn(l, key, value, strlen(value));
}

void nes_logline_strn(nes_logline *l, const char *key, const char *value, size_t n)
{
    bool was = l->truncated;
    size_t mark = l->len;
    put_key(l, key);
    put_raw(l, "\"", 1);
    size_t value_start = l->truncated ? 0 : l->len;
    put_escaped(l, value, n);
    put_raw(l, "\"", 1);
    cut_field(l, was, mark, value_start);
}

void nes_logline_int(nes_logline *l, const char *key, long long value)
{
    char num[24];
    size_t i = sizeof(num);
    unsigned long long u = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        num[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (value < 0)
        num[--i] = '-';
    bool was = l->truncated;
    size_t mark = l->len;
    put_key(l, key);
    put_raw(l, num + i, sizeof(num) - i);
    cut_field(l, was, mark, 0);
}

void nes_logline_bool(nes_logline *l, const char *key, bool value)
{
    bool was = l->truncated;
    size_t mark = l->len;
    put_key(l, key);
    put_raw(l, value ? "true" : "false", value ? 4 : 5);
    cut_field(l, was, mark, 0);
}

void nes_logline_end(nes_logline *l)
{
    if (l->truncated) {
        static const char mark[] = ",\"truncated\":true";
        memcpy(l->buf + l->len, mark, sizeof(mark) - 1);
        l->len += sizeof(mark) - 1;
    }
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
}

static void writev_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
}

/* One line written directly (before the writer thread runs, or without a ring). */
static void write_line(int fd, nes_logline *l)
{
    struct iovec v = {.iov_base = l->buf, .iov_len = l->len};
    writev_all(fd, &v, 1);
}

static ring *my_ring(void)
{
    if (t_ring != NULL || t_ring_failed)
        return t_ring;
    int i = atomic_fetch_add(&g_nrings, 1);
    if (i >= MAX_RINGS) {
        t_ring_failed = true;
        return NULL;
    }
    ring *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        t_ring_failed = true;
        return NULL;
    }
    g_rings[i] = r;
    t_ring = r;
    return r;
}

static _Atomic(nes_log_tap_fn) g_tap;

void nes_log_set_tap(nes_log_tap_fn fn)
{
    atomic_store_explicit(&g_tap, fn, memory_order_release);
}

void nes_logline_emit(nes_logline *l)
{
    nes_logline_end(l);
    nes_log_tap_fn tap = atomic_load_explicit(&g_tap, memory_order_acquire);
    if (tap != NULL)
        tap(l->buf, l->len, l->time_ns);
    if (!atomic_load_explicit(&g_started, memory_order_acquire)) {
        write_line(g_fd, l);
        return;
    }
    ring *r = my_ring();
    if (r == NULL) {
        write_line(g_fd, l); /* more threads than rings: rare, write directly */
        return;
    }
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - tail + l->len > RING_BYTES) {
        atomic_fetch_add_explicit(&g_dropped, 1, memory_order_relaxed);
        return;
    }
    size_t off = (size_t)(head % RING_BYTES);
    size_t first = RING_BYTES - off < l->len ? RING_BYTES - off : l->len;
    memcpy(r->data + off, l->buf, first);
    memcpy(r->data, l->buf + first, l->len - first);
    atomic_store_explicit(&r->head, head + l->len, memory_order_release);
}

void nes_log(nes_log_level level, const char *fmt, ...)
{
    if (!nes_log_enabled(level))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is just above */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    nes_logline l;
    nes_logline_begin(&l, level, msg);
    nes_logline_emit(&l);
}

/* Writes what every ring holds with one writev (straight from the rings); returns the bytes. */
static size_t drain(void)
{
    struct iovec iov[2 * MAX_RINGS];
    uint64_t heads[MAX_RINGS];
    int niov = 0;
    size_t bytes = 0;
    int n = atomic_load(&g_nrings);
    if (n > MAX_RINGS)
        n = MAX_RINGS;
    for (int i = 0; i < n; i++) {
        ring *r = g_rings[i];
        heads[i] = 0;
        if (r == NULL)
            continue;
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        heads[i] = head;
        if (head == tail)
            continue;
        size_t off = (size_t)(tail % RING_BYTES), len = (size_t)(head - tail);
        size_t first = RING_BYTES - off < len ? RING_BYTES - off : len;
        iov[niov++] = (struct iovec){.iov_base = r->data + off, .iov_len = first};
        if (len > first)
            iov[niov++] = (struct iovec){.iov_base = r->data, .iov_len = len - first};
        bytes += len;
    }
    if (niov == 0)
        return 0;
    writev_all(g_fd, iov, niov);
    for (int i = 0; i < n; i++)
        if (g_rings[i] != NULL && heads[i] != 0)
            atomic_store_explicit(&g_rings[i]->tail, heads[i], memory_order_release);
    return bytes;
}

static void *writer_main(void *arg)
{
    (void)arg;
    long period = WRITER_PERIOD_NS;
    while (atomic_load(&g_running)) {
        /* Sleep between drains unless a ring filled a quarter in one period (catch up). An idle
         * service's writer backs off to WRITER_IDLE_NS (12 wake-ups a second, not 200): the
         * first line after a quiet spell waits at most that long, and the lines of one such
         * period (~2,000 at 25k req/s) fit a ring many times over. */
        size_t moved = drain();
        if (moved >= RING_BYTES / 4)
            continue;
        period = moved > 0 ? WRITER_PERIOD_NS
                           : (period * 2 > WRITER_IDLE_NS ? WRITER_IDLE_NS : period * 2);
        struct timespec ts = {0, period};
        nanosleep(&ts, NULL);
    }
    drain();
    return NULL;
}

int nes_log_start(void)
{
    if (atomic_load(&g_started))
        return 0;
    atomic_store(&g_running, true);
    if (pthread_create(&g_writer, NULL, writer_main, NULL) != 0) {
        atomic_store(&g_running, false);
        return -1;
    }
    (void)pthread_setname_np(g_writer, "nes-log"); /* top -H, /proc/PID/task/TID/comm */
    atomic_store_explicit(&g_started, true, memory_order_release);
    return 0;
}

void nes_log_stop(void)
{
    if (!atomic_load(&g_started))
        return;
    atomic_store(&g_running, false);
    pthread_join(g_writer, NULL);
    atomic_store(&g_started, false);
    drain();
}
