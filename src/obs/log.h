/* log.h - JSON log lines on stderr (DESIGN section 9).
 *
 * One line per event: {"ts":"…","level":"…","msg":"…", fields…}. Callers add fields with the
 * nes_logline_* builders; values are JSON-escaped here. Nothing from a request body, no key and
 * no token is ever passed in: callers log names, sizes, counts and statuses only.
 *
 * Request threads never block on the log: each thread writes finished lines into its own
 * bounded ring, a writer thread drains the rings to the fd; a full ring drops the line and
 * counts it (nes_log_dropped). A ring holds NES_LOG_RING_BYTES: about 160 ms of lines at
 * 25,600 req/s on one thread while the writer cannot run (log.c has the arithmetic). Before
 * nes_log_start and after nes_log_stop lines are written directly. */
#ifndef NES_OBS_LOG_H
#define NES_OBS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum nes_log_level {
    NES_LOG_DEBUG = 0,
    NES_LOG_INFO,
    NES_LOG_WARN,
    NES_LOG_ERROR,
    NES_LOG_OFF,
} nes_log_level;

/** Bytes of finished lines each logging thread can queue while the writer is not running. */
#define NES_LOG_RING_BYTES ((size_t)1024 * 1024)

/** Longest log line (longer lines are cut and marked "truncated":true; a cut line stays one
 * valid JSON object: a field that does not fit is left out whole, a cut string keeps its
 * prefix and its closing quote). */
#define NES_LOGLINE_MAX 1024

/** A line being built. */
typedef struct nes_logline {
    char buf[NES_LOGLINE_MAX];
    size_t len;
    bool truncated;
    uint64_t time_ns; /**< the line's time (its "ts", to the nanosecond): Unix time */
} nes_logline;

/** Parses "debug", "info", "warn"/"warning", "error", "off" (case-insensitive). 0 or -1. */
int nes_log_level_parse(const char *s, nes_log_level *out);

/** The lower-case name of a level. */
const char *nes_log_level_name(nes_log_level level);

/** Sets the minimum level and the output fd (default: info, fd 2). */
void nes_log_configure(nes_log_level level, int fd);

/** True when lines at `level` are written. */
bool nes_log_enabled(nes_log_level level);

/** Starts the writer thread (lines are queued from then on). 0 or -1. */
int nes_log_start(void);

/** Flushes every queued line and stops the writer thread (lines are written directly after). */
void nes_log_stop(void);

/** Lines dropped because a thread's ring was full. */
uint64_t nes_log_dropped(void);

/** Writes `in` (n bytes) JSON-escaped (no quotes) into `out` (cap bytes, always NUL-terminated
 * when cap > 0): `"` and `\` escaped, control characters as \n, \t, \u00XX, invalid UTF-8 as
 * \ufffd. Returns the length written, or (size_t)-1 when it did not fit (out holds a prefix
 * that ends on a whole escape). */
size_t nes_json_escape(char *out, size_t cap, const char *in, size_t n);

/** Starts a line: timestamp, level, message (escaped). */
void nes_logline_begin(nes_logline *l, nes_log_level level, const char *msg);

/** Adds "key":"value" (value escaped; NULL writes null). */
void nes_logline_str(nes_logline *l, const char *key, const char *value);

/** Adds "key":"value" for a value of n bytes (escaped). */
void nes_logline_strn(nes_logline *l, const char *key, const char *value, size_t n);

/** Adds "key":number. */
void nes_logline_int(nes_logline *l, const char *key, long long value);

/** Adds "key":true|false. */
void nes_logline_bool(nes_logline *l, const char *key, bool value);

/** Closes the line (adds "}\n"). */
void nes_logline_end(nes_logline *l);

/** Closes and emits a line (queued or written, as described above). */
void nes_logline_emit(nes_logline *l);

/** Receives every emitted line and its time (nes_logline.time_ns; from the emitting thread,
 * before it is queued; the OTLP log exporter copies it). NULL removes the tap. */
typedef void (*nes_log_tap_fn)(const char *line, size_t len, uint64_t time_ns);
void nes_log_set_tap(nes_log_tap_fn fn);

/** Logs a message (printf-style; callers never format secrets or body content into it). */
void nes_log(nes_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
