/* trace.c - span ids, traceparent, sampling, the current span (see trace.h). */
#include "obs/otel/trace.h"

#include "obs/otel/spanrec.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define RAND_BUF 4096 /* one getrandom(2) per ~170 span ids */

static _Thread_local uint8_t t_rand[RAND_BUF];
static _Thread_local size_t t_rand_left;
static _Thread_local const nes_span *t_current;
static _Thread_local uint64_t t_sm_state; /* span ids: SplitMix64, seeded from the CSPRNG */
static _Thread_local bool t_sm_seeded;
/* The calling thread's open group (nes_trace_group_open): the record being gathered */
typedef struct group {
    bool open;
    unsigned n;           /* spans in rec */
    size_t len;           /* bytes in rec (the head included) */
    uint8_t root_id[8];   /* the span whose end hands the record over */
    uint8_t trace_id[16]; /* the spans gathered: this trace's */
    uint8_t rec[NES_SPANREC_MAX];
} group;
static _Thread_local group t_group;
_Static_assert(NES_SPANREC_HEAD + NES_SPANREC_SPAN_MAX <= NES_SPANREC_MAX,
               "a span always fits an emptied group");
static _Atomic(nes_trace_sink_fn) g_sink;
static _Atomic uint64_t g_ratio_bound = UINT64_MAX; /* sampled when id < bound; MAX: always */
static _Atomic bool g_ratio_all = true;

void nes_trace_random(uint8_t *out, size_t n)
{
    while (n > 0) {
        if (t_rand_left == 0) {
            size_t got = 0;
            while (got < RAND_BUF) {
                ssize_t r = getrandom(t_rand + got, RAND_BUF - got, 0);
                if (r > 0)
                    got += (size_t)r;
            }
            t_rand_left = RAND_BUF;
        }
        size_t k = n < t_rand_left ? n : t_rand_left;
        uint8_t *src = t_rand + RAND_BUF - t_rand_left;
        memcpy(out, src, k);
        memset(src, 0, k); /* ids already used are not kept */
        t_rand_left -= k;
        out += k;
        n -= k;
    }
}

uint64_t nes_trace_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A span id: SplitMix64 (Steele, Lea, Flood 2014) over a per-thread seed from getrandom(2).
 * Span ids need to be unique within a trace, not secret; trace ids stay CSPRNG output. */
static void span_id(uint8_t out[8])
{
    if (!t_sm_seeded) {
        nes_trace_random((uint8_t *)&t_sm_state, sizeof(t_sm_state));
        t_sm_seeded = true;
    }
    uint64_t z;
    do {
        z = (t_sm_state += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        z ^= z >> 31;
    } while (z == 0); /* an all-zero span id is invalid */
    memcpy(out, &z, 8);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* W3C: lower-case hex only */
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
        any |= out[i];
    }
    return any ? 0 : -1;
}

int nes_traceparent_parse(const char *v, nes_trace_ctx *out)
{
    if (v == NULL)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t len = strnlen(v, NES_TRACEPARENT_LEN + 2);
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len < NES_TRACEPARENT_LEN)
        return -1;
    int vh = hexval(v[0]), vl = hexval(v[1]);
    if (vh < 0 || vl < 0)
        return -1;
    unsigned ver = (unsigned)(vh << 4 | vl);
    if (ver == 0xff || v[2] != '-' || v[35] != '-' || v[52] != '-')
        return -1;
    /* version 00 is exactly 55 characters; a later version may append "-..." */
    if (ver == 0 && len != NES_TRACEPARENT_LEN)
        return -1;
    if (ver != 0 && len > NES_TRACEPARENT_LEN && v[NES_TRACEPARENT_LEN] != '-')
        return -1;
    nes_trace_ctx c;
    if (unhex(v + 3, c.trace_id, 16) != 0 || unhex(v + 36, c.span_id, 8) != 0)
        return -1;
    int fh = hexval(v[53]), flo = hexval(v[54]);
    if (fh < 0 || flo < 0)
        return -1;
    c.flags = (uint8_t)(fh << 4 | flo);
    *out = c;
    return 0;
}

static void put_hex(char *out, const uint8_t *in, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
}

void nes_traceparent_format(const nes_span *s, char out[NES_TRACEPARENT_LEN + 1])
{
    memcpy(out, "00-", 3);
    put_hex(out + 3, s->trace_id, 16);
    out[35] = '-';
    put_hex(out + 36, s->span_id, 8);
    out[52] = '-';
    out[53] = '0';
    out[54] = s->sampled ? '1' : '0';
    out[55] = '\0';
}

void nes_trace_set_ratio(double ratio)
{
    if (!(ratio > 0)) { /* also NaN */
        atomic_store(&g_ratio_all, false);
        atomic_store(&g_ratio_bound, 0);
    } else if (ratio >= 1) {
        atomic_store(&g_ratio_all, true);
        atomic_store(&g_ratio_bound, UINT64_MAX);
    } else {
        atomic_store(&g_ratio_all, false);
        atomic_store(&g_ratio_bound, (uint64_t)(ratio * 18446744073709551616.0));
    }
}

static uint64_t low64(const uint8_t id[16])
{
    uint64_t v = 0;
    for (int i = 8; i < 16; i++)
        v = v << 8 | id[i];
    return v;
}

bool nes_trace_ratio_samples(const uint8_t trace_id[16], double ratio)
{
    if (ratio >= 1)
        return true;
    if (!(ratio > 0))
        return false;
    return low64(trace_id) < (uint64_t)(ratio * 18446744073709551616.0);
}

/* The ids and fields of a span; the caller sets start_ns. True when it goes somewhere (sampled
 * while an exporter runs). */
static bool span_init(nes_span *s, const char *name, nes_span_kind kind, const nes_span *parent,
                      const nes_trace_ctx *remote)
{
    s->name = name != NULL ? name : "unnamed"; /* the exporter encodes it with strlen */
    s->kind = (uint8_t)kind;
    s->nattr = 0;
    s->error = false;
    s->end_ns = 0;
    if (parent != NULL) {
        memcpy(s->trace_id, parent->trace_id, 16);
        memcpy(s->parent_id, parent->span_id, 8);
        s->sampled = parent->sampled;
    } else if (remote != NULL) {
        memcpy(s->trace_id, remote->trace_id, 16);
        memcpy(s->parent_id, remote->span_id, 8);
        s->sampled = (remote->flags & 1) != 0;
    } else {
        nes_trace_random(s->trace_id, 16);
        memset(s->parent_id, 0, 8);
        s->sampled =
            atomic_load_explicit(&g_ratio_all, memory_order_relaxed) ||
            low64(s->trace_id) < atomic_load_explicit(&g_ratio_bound, memory_order_relaxed);
    }
    span_id(s->span_id);
    return s->sampled && atomic_load_explicit(&g_sink, memory_order_relaxed) != NULL;
}

void nes_trace_span_begin(nes_span *s, const char *name, nes_span_kind kind, const nes_span *parent,
                          const nes_trace_ctx *remote)
{
    /* the clock only for a span that goes somewhere (a read is ~20 ns) */
    s->start_ns = span_init(s, name, kind, parent, remote) ? nes_trace_now_ns() : 0;
}

void nes_trace_span_begin_at(nes_span *s, const char *name, nes_span_kind kind,
                             const nes_span *parent, uint64_t start_ns)
{
    s->start_ns = span_init(s, name, kind, parent, NULL) ? start_ns : 0;
}

static nes_span_attr *next_attr(nes_span *s, const char *key)
{
    if (s->nattr >= NES_SPAN_MAX_ATTRS)
        return NULL;
    nes_span_attr *a = &s->attr[s->nattr++];
    a->key = key;
    return a;
}

void nes_trace_span_attr_str(nes_span *s, const char *key, const char *value)
{
    nes_span_attr *a = next_attr(s, key);
    if (a == NULL)
        return;
    a->is_int = false;
    size_t n = value ? strnlen(value, NES_SPAN_ATTR_STR - 1) : 0;
    if (n == NES_SPAN_ATTR_STR - 1) /* cut: not inside a UTF-8 sequence (OTLP strings are UTF-8) */
        while (n > 0 && ((unsigned char)value[n] & 0xC0) == 0x80)
            n--;
    if (n > 0)
        memcpy(a->s, value, n);
    a->s[n] = '\0';
    a->len = (uint8_t)n;
}

void nes_trace_span_attr_int(nes_span *s, const char *key, int64_t value)
{
    nes_span_attr *a = next_attr(s, key);
    if (a == NULL)
        return;
    a->is_int = true;
    a->i = value;
}

void nes_trace_span_error(nes_span *s)
{
    s->error = true;
}

void nes_trace_span_end(nes_span *s)
{
    nes_trace_span_end_at(s, s->start_ns != 0 ? nes_trace_now_ns() : 0);
}

/* a == b for n (8 or 16) bytes, as word compares (memcmp here is a call) */
static inline bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t u, v;
        memcpy(&u, a + i, 8);
        memcpy(&v, b + i, 8);
        x |= u ^ v;
    }
    return x == 0;
}

/* Hands the group's record to the sink (when it holds a span) and empties it. */
static void group_hand_over(group *g)
{
    nes_trace_sink_fn fn = atomic_load_explicit(&g_sink, memory_order_acquire);
    if (g->n > 0 && fn != NULL)
        fn(g->rec, g->len, g->n);
    g->n = 0;
    g->len = NES_SPANREC_HEAD;
}

void nes_trace_group_open(const nes_span *root)
{
    group *g = &t_group;
    if (g->open)
        nes_trace_group_close();
    if (!root->sampled || root->start_ns == 0)
        return;
    g->open = true;
    memcpy(g->root_id, root->span_id, 8);
    memcpy(g->trace_id, root->trace_id, 16);
    nes_spanrec_head(g->rec, root);
    g->n = 0;
    g->len = NES_SPANREC_HEAD;
}

void nes_trace_group_close(void)
{
    group *g = &t_group;
    if (!g->open)
        return;
    group_hand_over(g);
    g->open = false;
}

void nes_trace_span_end_at(nes_span *s, uint64_t end_ns)
{
    s->end_ns = end_ns;
    if (!s->sampled || s->start_ns == 0) /* (not timed: no exporter ran when it began) */
        return;
    nes_trace_sink_fn fn = atomic_load_explicit(&g_sink, memory_order_acquire);
    if (fn == NULL)
        return;
    group *g = &t_group;
    if (g->open && same_bytes(s->trace_id, g->trace_id, 16)) {
        size_t k = nes_spanrec_put(g->rec + g->len, sizeof(g->rec) - g->len, s);
        if (k == 0) { /* full: what it holds goes first */
            group_hand_over(g);
            k = nes_spanrec_put(g->rec + g->len, sizeof(g->rec) - g->len, s);
        }
        g->len += k;
        g->n += k != 0;
        if (same_bytes(s->span_id, g->root_id, 8))
            nes_trace_group_close();
        return;
    }
    uint8_t rec[NES_SPANREC_HEAD + NES_SPANREC_SPAN_MAX]; /* a span alone: a record of one */
    nes_spanrec_head(rec, s);
    size_t k = nes_spanrec_put(rec + NES_SPANREC_HEAD, sizeof(rec) - NES_SPANREC_HEAD, s);
    fn(rec, NES_SPANREC_HEAD + k, 1);
}

void nes_trace_set_current(const nes_span *s)
{
    t_current = s;
}

const nes_span *nes_trace_current(void)
{
    return t_current;
}

void nes_trace_set_sink(nes_trace_sink_fn fn)
{
    atomic_store_explicit(&g_sink, fn, memory_order_release);
}
