/* codec_span.c - a codec that times the real one (see codec_span.h). */
#include "obs/otel/codec_span.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
/* The time-stamp counter: invariant (constant rate) on every CPU a Nitro Enclave runs on. */
static inline uint64_t ticks(void)
{
    return __rdtsc();
}
#else
static inline uint64_t ticks(void)
{
    return nes_trace_now_ns();
}
#endif

static void account(nes_timed_codec *t, uint64_t t0, uint64_t t1)
{
    if (t->calls++ == 0)
        t->first_tick = t0;
    t->last_tick = t1;
    t->busy_ticks += t1 - t0;
}

static int timed_encrypt(void *ud, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                         size_t pt_len, nes_buf *out)
{
    nes_timed_codec *t = ud;
    if (t->calls == 0)
        t->first_ns = nes_trace_now_ns(); /* the one clock read before the first field */
    uint64_t t0 = ticks();
    int rc = t->inner->encrypt(t->inner->ud, ctx, ctx_len, pt, pt_len, out);
    account(t, t0, ticks());
    return rc;
}

static nes_status timed_decrypt(void *ud, const uint8_t *ctx, size_t ctx_len, const char *tok,
                                size_t len, nes_buf *out)
{
    nes_timed_codec *t = ud;
    if (t->calls == 0)
        t->first_ns = nes_trace_now_ns(); /* the one clock read before the first field */
    uint64_t t0 = ticks();
    nes_status st = t->inner->decrypt(t->inner->ud, ctx, ctx_len, tok, len, out);
    account(t, t0, ticks());
    return st;
}

void nes_timed_codec_init(nes_timed_codec *t, const nes_codec *inner)
{
    *t = (nes_timed_codec){.inner = inner};
    t->codec.encrypt = inner->encrypt ? timed_encrypt : NULL;
    t->codec.decrypt = inner->decrypt ? timed_decrypt : NULL;
    t->codec.ud = t;
}

void nes_timed_codec_span(nes_timed_codec *t, const nes_span *parent, bool decrypt)
{
    if (t->calls == 0)
        return;
    /* ticks to nanoseconds with this request's own rate: the clock and the counter read at the
     * first field and now (the span's begin reads the clock: that read serves as "now") */
    nes_span sp;
    uint64_t now_tick = ticks();
    nes_trace_span_begin(&sp, decrypt ? "crypto.decrypt" : "crypto.encrypt", NES_SPAN_INTERNAL,
                         parent, NULL);
    uint64_t now_ns = sp.start_ns;
    t->now_ns = now_ns;
    double scale = now_tick > t->first_tick && now_ns > t->first_ns
                       ? (double)(now_ns - t->first_ns) / (double)(now_tick - t->first_tick)
                       : 0.0;
    t->last_ns = t->first_ns + (uint64_t)((double)(t->last_tick - t->first_tick) * scale);
    t->busy_ns = (uint64_t)((double)t->busy_ticks * scale);
    if (t->last_ns > now_ns && now_ns >= t->first_ns) /* (the clock may have been stepped) */
        t->last_ns = now_ns;
    if (t->busy_ns > t->last_ns - t->first_ns)
        t->busy_ns = t->last_ns - t->first_ns;
    sp.start_ns = t->first_ns;
    nes_trace_span_attr_int(&sp, "nes.fields", t->calls);
    nes_trace_span_attr_int(&sp, "nes.crypto.busy_ns", (int64_t)t->busy_ns);
    nes_trace_span_end_at(&sp, t->last_ns);
}
