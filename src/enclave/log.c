/* log.c - JSON log lines, per-thread rings drained by one writer thread (see log.h). */
#include "enclave/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define RING_SLOTS 128u
#define MAX_RINGS 64

typedef struct ring {
    _Atomic uint32_t head; /* next slot the owner writes */
    _Atomic uint32_t tail; /* next slot the writer thread reads */
    uint16_t lens[RING_SLOTS];
    char slots[RING_SLOTS][NES_LOGLINE_MAX];
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

size_t nes_json_escape(char *out, size_t cap, const char *in, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (cap == 0)
        return (size_t)-1;
    for (size_t i = 0; i < n;) {
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
    put_raw(l, ",\"", 2);
    put_escaped(l, key, strlen(key));
    put_raw(l, "\":", 2);
}

void nes_logline_begin(nes_logline *l, nes_log_level level, const char *msg)
{
    struct timespec ts;
    struct tm tm;
    char tbuf[64];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(tbuf, sizeof(tbuf), "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000);
    l->len = 0;
    l->truncated = false;
    put_raw(l, tbuf, (size_t)n);
    put_raw(l, ",\"level\":\"", 10);
    put_raw(l, nes_log_level_name(level), strlen(nes_log_level_name(level)));
    put_raw(l, "\",\"msg\":\"", 9);
    put_escaped(l, msg, strlen(msg));
    put_raw(l, "\"", 1);
}

void nes_logline_str(nes_logline *l, const char *key, const char *value)
{
    if (value == NULL) {
        put_key(l, key);
        put_raw(l, "null", 4);
        return;
    }
    nes_logline_strn(l, key, value, strlen(value));
}

void nes_logline_strn(nes_logline *l, const char *key, const char *value, size_t n)
{
    put_key(l, key);
    put_raw(l, "\"", 1);
    put_escaped(l, value, n);
    put_raw(l, "\"", 1);
}

void nes_logline_int(nes_logline *l, const char *key, long long value)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%lld", value);
    put_key(l, key);
    put_raw(l, num, (size_t)n);
}

void nes_logline_bool(nes_logline *l, const char *key, bool value)
{
    put_key(l, key);
    put_raw(l, value ? "true" : "false", value ? 4 : 5);
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

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
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

void nes_logline_emit(nes_logline *l)
{
    nes_logline_end(l);
    if (!atomic_load_explicit(&g_started, memory_order_acquire)) {
        write_all(g_fd, l->buf, l->len);
        return;
    }
    ring *r = my_ring();
    if (r == NULL) {
        write_all(g_fd, l->buf, l->len); /* more threads than rings: rare, write directly */
        return;
    }
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - tail >= RING_SLOTS) {
        atomic_fetch_add_explicit(&g_dropped, 1, memory_order_relaxed);
        return;
    }
    uint32_t slot = head % RING_SLOTS;
    memcpy(r->slots[slot], l->buf, l->len);
    r->lens[slot] = (uint16_t)l->len;
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
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

/* Drains every ring once; returns the number of lines written. */
static size_t drain(char *batch, size_t batch_cap)
{
    size_t lines = 0, used = 0;
    int n = atomic_load(&g_nrings);
    if (n > MAX_RINGS)
        n = MAX_RINGS;
    for (int i = 0; i < n; i++) {
        ring *r = g_rings[i];
        if (r == NULL)
            continue;
        uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        while (tail != head) {
            uint32_t slot = tail % RING_SLOTS;
            size_t len = r->lens[slot];
            if (used + len > batch_cap) {
                write_all(g_fd, batch, used);
                used = 0;
            }
            memcpy(batch + used, r->slots[slot], len);
            used += len;
            tail++;
            lines++;
        }
        atomic_store_explicit(&r->tail, tail, memory_order_release);
    }
    if (used > 0)
        write_all(g_fd, batch, used);
    return lines;
}

static void *writer_main(void *arg)
{
    (void)arg;
    static char batch[64 * 1024];
    while (atomic_load(&g_running)) {
        if (drain(batch, sizeof(batch)) == 0) {
            struct timespec ts = {0, 10000000L};
            nanosleep(&ts, NULL);
        }
    }
    drain(batch, sizeof(batch));
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
    static char batch[16 * 1024];
    drain(batch, sizeof(batch));
}
