/* test_otel.c - telemetry building blocks: traceparent (a table of cases), span ids and
 * parenting, ratio sampling, the drop-counting queue (also under four producer threads), the
 * protobuf writer (a table of cases), the OTLP encoders (spans and log records as protobuf, read
 * back by a small wire-format reader here; metrics as JSON) and the OTEL_* configuration (a
 * table of cases). The end-to-end checks with
 * a real OTLP receiver are tests/integration/test_otel.py. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../testutil.h"
#include "enclave/otlp_metrics.h"
#include "enclave/providers/aws_log.h"
#include "obs/log.h"
#include "obs/otel/codec_span.h"
#include "obs/otel/export.h"
#include "obs/otel/otlp.h"
#include "obs/otel/pb.h"
#include "obs/otel/queue.h"
#include "obs/otel/spanrec.h"
#include "obs/otel/trace.h"

#define TP_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define TP_SPAN "00f067aa0ba902b7"

static void traceparent_cases(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        unsigned flags;
    } cases[] = {
        {"00-" TP_TRACE "-" TP_SPAN "-01", 0, 1},
        {"00-" TP_TRACE "-" TP_SPAN "-00", 0, 0},
        {"  00-" TP_TRACE "-" TP_SPAN "-01\t", 0, 1},    /* OWS around a header value */
        {"01-" TP_TRACE "-" TP_SPAN "-01-future", 0, 1}, /* a later version may add fields */
        {"01-" TP_TRACE "-" TP_SPAN "-01", 0, 1},
        {"00-" TP_TRACE "-" TP_SPAN "-01-x", -1, 0}, /* version 00 has exactly four */
        {"01-" TP_TRACE "-" TP_SPAN "-01x", -1, 0},
        {"ff-" TP_TRACE "-" TP_SPAN "-01", -1, 0}, /* version ff is invalid */
        {"00-00000000000000000000000000000000-" TP_SPAN "-01", -1, 0},
        {"00-" TP_TRACE "-0000000000000000-01", -1, 0},
        {"00-4BF92F3577B34DA6A3CE929D0E0E4736-" TP_SPAN "-01", -1, 0}, /* upper-case hex */
        {"00-" TP_TRACE "_" TP_SPAN "-01", -1, 0},
        {"00-" TP_TRACE "-" TP_SPAN "-0g", -1, 0},
        {"00-" TP_TRACE "-" TP_SPAN, -1, 0},
        {"", -1, 0},
        {NULL, -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_trace_ctx c;
        int rc = nes_traceparent_parse(cases[i].in, &c);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %d", i, cases[i].in ? cases[i].in : "NULL", rc);
        if (rc == 0) {
            assert_int_equal(c.flags & 1, cases[i].flags);
            assert_int_equal(c.trace_id[0], 0x4b);
            assert_int_equal(c.trace_id[15], 0x36);
            assert_int_equal(c.span_id[7], 0xb7);
        }
    }
}

static void spans_parent_and_format(void **state)
{
    (void)state;
    nes_trace_ctx remote;
    assert_int_equal(nes_traceparent_parse("00-" TP_TRACE "-" TP_SPAN "-01", &remote), 0);
    nes_span root, child, fresh, fresh2;
    nes_trace_span_begin(&root, "root", NES_SPAN_SERVER, NULL, &remote);
    nes_trace_span_begin(&child, "child", NES_SPAN_INTERNAL, &root, NULL);
    nes_trace_span_begin(&fresh, "fresh", NES_SPAN_INTERNAL, NULL, NULL);
    nes_trace_span_begin(&fresh2, "fresh", NES_SPAN_INTERNAL, NULL, NULL);
    assert_memory_equal(root.trace_id, remote.trace_id, 16);
    assert_memory_equal(root.parent_id, remote.span_id, 8);
    assert_true(root.sampled);
    assert_memory_equal(child.trace_id, root.trace_id, 16);
    assert_memory_equal(child.parent_id, root.span_id, 8);
    assert_memory_not_equal(child.span_id, root.span_id, 8);
    assert_memory_not_equal(fresh.trace_id, fresh2.trace_id, 16);
    static const uint8_t zero[8] = {0};
    assert_memory_equal(fresh.parent_id, zero, 8);
    char tp[NES_TRACEPARENT_LEN + 1];
    nes_traceparent_format(&child, tp);
    assert_int_equal(strlen(tp), NES_TRACEPARENT_LEN);
    assert_memory_equal(tp, "00-" TP_TRACE "-", 36);
    assert_string_equal(tp + 52, "-01");
    nes_trace_ctx back;
    assert_int_equal(nes_traceparent_parse(tp, &back), 0);
    assert_memory_equal(back.span_id, child.span_id, 8);
    /* an unsampled remote parent is followed */
    remote.flags = 0;
    nes_trace_span_begin(&root, "root", NES_SPAN_SERVER, NULL, &remote);
    assert_false(root.sampled);
    nes_traceparent_format(&root, tp);
    assert_string_equal(tp + 52, "-00");
    /* attributes: fixed capacity, strings cut */
    for (int i = 0; i < NES_SPAN_MAX_ATTRS + 3; i++)
        nes_trace_span_attr_int(&fresh, "k", i);
    assert_int_equal(fresh.nattr, NES_SPAN_MAX_ATTRS);
    char longv[200];
    memset(longv, 'a', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    nes_trace_span_begin(&fresh, "f", NES_SPAN_INTERNAL, NULL, NULL);
    nes_trace_span_attr_str(&fresh, "s", longv);
    assert_int_equal(strlen(fresh.attr[0].s), NES_SPAN_ATTR_STR - 1);
    nes_trace_span_end(&fresh);
    assert_true(fresh.end_ns >= fresh.start_ns);
}

static void ratio_sampling(void **state)
{
    (void)state;
    uint8_t id[16] = {0};
    assert_true(nes_trace_ratio_samples(id, 0.5));
    memset(id + 8, 0xff, 8);
    assert_false(nes_trace_ratio_samples(id, 0.5));
    assert_true(nes_trace_ratio_samples(id, 1.0));
    memset(id, 0, 16);
    assert_false(nes_trace_ratio_samples(id, 0.0));
    /* about a quarter of fresh traces at 0.25 */
    nes_trace_set_ratio(0.25);
    int sampled = 0;
    for (int i = 0; i < 4000; i++) {
        nes_span s;
        nes_trace_span_begin(&s, "s", NES_SPAN_INTERNAL, NULL, NULL);
        sampled += s.sampled;
    }
    assert_in_range(sampled, 800, 1200);
    nes_trace_set_ratio(1.0);
}

/* Pushes a record of n bytes (each byte `fill`); false when refused. */
static bool ring_push(nes_otq *q, size_t n, unsigned char fill)
{
    unsigned char *p = nes_otq_reserve(q, n);
    if (p == NULL)
        return false;
    memset(p, fill, n);
    nes_otq_commit(q, p);
    return true;
}

/* Pops the oldest record: its length (0 when none), checking every byte is `fill`. */
static size_t ring_pop(nes_otq *q, unsigned char fill)
{
    size_t len = 0;
    const unsigned char *p = nes_otq_peek(q, &len);
    if (p == NULL)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] != fill)
            fail_msg("byte %zu of a %zu-byte record: %u, not %u", i, len, p[i], fill);
    nes_otq_release(q);
    return len;
}

/* The byte ring: sizes, refusals, full, wrap-around past the ring's end, emptying. */
static void ring_basics(void **state)
{
    (void)state;
    assert_int_equal(nes_otq_record_size(1), 16);
    assert_int_equal(nes_otq_record_size(8), 16);
    assert_int_equal(nes_otq_record_size(9), 24);
    assert_null(nes_otq_new(0, 8));
    assert_null(nes_otq_new(64, 0));
    assert_null(nes_otq_new((size_t)1 << 31, 8));
    nes_otq *q = nes_otq_new(100, 40); /* 128 bytes after rounding */
    assert_non_null(q);
    assert_int_equal(nes_otq_size(q), 128);
    assert_null(nes_otq_reserve(q, 0));  /* an empty record is refused */
    assert_null(nes_otq_reserve(q, 41)); /* so is one over the largest */
    assert_int_equal(nes_otq_used(q), 0);
    size_t len = 99;
    assert_null(nes_otq_peek(q, &len));
    /* variable sizes fill it: 16 + 24 + 48 + 40 = 128, then full */
    assert_true(ring_push(q, 3, 'a'));
    assert_true(ring_push(q, 16, 'b'));
    assert_true(ring_push(q, 40, 'c'));
    assert_true(ring_push(q, 32, 'd'));
    assert_int_equal(nes_otq_used(q), 128);
    assert_false(ring_push(q, 1, 'x'));
    assert_int_equal(ring_pop(q, 'a'), 3);
    assert_false(ring_push(q, 9, 'x')); /* 24 bytes: only 16 free */
    assert_true(ring_push(q, 8, 'e'));  /* 16 fit */
    assert_int_equal(ring_pop(q, 'b'), 16);
    assert_int_equal(ring_pop(q, 'c'), 40);
    assert_int_equal(ring_pop(q, 'd'), 32);
    assert_int_equal(ring_pop(q, 'e'), 8);
    assert_int_equal(ring_pop(q, 0), 0);
    assert_int_equal(nes_otq_used(q), 0);
    /* many laps of records of every size, at every offset (a record near the end runs on past
     * it) with a few held at once */
    unsigned char fill = 0;
    size_t held = 0;
    for (int r = 0; r < 3000; r++) {
        size_t n = 1 + (size_t)(r * 7) % 40;
        if (ring_push(q, n, (unsigned char)(fill + held)))
            held++;
        else
            assert_true(held > 0);
        if (held == 3 || (r % 5) == 0) {
            while (held > 0) {
                assert_true(ring_pop(q, fill) > 0);
                fill++;
                held--;
            }
        }
    }
    while (held-- > 0)
        assert_true(ring_pop(q, fill++) > 0);
    assert_int_equal(nes_otq_used(q), 0);
    nes_otq_free(q);
    nes_otq_free(NULL);
}

/* A reserved record not committed holds the consumer up (the ones behind it too); emptied, the
 * ring starts its next records at the start of a lap. */
static void ring_uncommitted_and_reset(void **state)
{
    (void)state;
    nes_otq *q = nes_otq_new(256, 16);
    assert_non_null(q);
    unsigned char *first = nes_otq_reserve(q, 16); /* the first payload of a lap */
    assert_non_null(first);
    memset(first, 'a', 16);
    nes_otq_commit(q, first);
    unsigned char *held = nes_otq_reserve(q, 5);
    assert_non_null(held);
    assert_true(ring_push(q, 7, 'c'));
    assert_int_equal(ring_pop(q, 'a'), 16);
    size_t len;
    assert_null(nes_otq_peek(q, &len)); /* 'b' is not committed: neither it nor 'c' shows */
    memset(held, 'b', 5);
    nes_otq_commit(q, held);
    assert_int_equal(ring_pop(q, 'b'), 5);
    assert_int_equal(ring_pop(q, 'c'), 7);
    assert_int_equal(nes_otq_used(q), 0);
    /* emptied 24+16+16 = 56 bytes into the lap (at least a largest record, 24): the next
     * record lands at the lap's start, round after round */
    for (int i = 0; i < 3; i++) {
        unsigned char *p = nes_otq_reserve(q, 4);
        assert_ptr_equal(p, first);
        memset(p, 'y', 4);
        nes_otq_commit(q, p);
        assert_true(ring_push(q, 16, 'x'));
        assert_int_equal(ring_pop(q, 'y'), 4);
        assert_int_equal(ring_pop(q, 'x'), 16); /* 16 + 24 = 40 bytes in: back to the start */
    }
    /* emptied 16 bytes in (less than a largest record): it goes on from there */
    assert_true(ring_push(q, 4, 'z'));
    assert_int_equal(ring_pop(q, 'z'), 4);
    unsigned char *p = nes_otq_reserve(q, 4);
    assert_ptr_equal(p, first + 16);
    nes_otq_commit(q, p);
    assert_int_equal(ring_pop(q, 0), 4); /* never written: free bytes read 0 */
    nes_otq_free(q);
}

typedef struct prod {
    nes_otq *q;
    int id;
    int pushed, refused;
    _Atomic int *finished;
} prod;

enum { PROD_N = 20000 };

static void *producer(void *arg)
{
    prod *p = arg;
    for (int i = 0; i < PROD_N; i++) {
        size_t n = 8 + (size_t)(i % 13) * 8; /* 8 to 104 bytes */
        uint32_t *r = nes_otq_reserve(p->q, n);
        for (int tries = 0; r == NULL && tries < 20; tries++) { /* let the consumer in */
            sched_yield();
            r = nes_otq_reserve(p->q, n);
        }
        if (r == NULL) {
            p->refused++;
            continue;
        }
        r[0] = (uint32_t)p->id;
        r[1] = (uint32_t)i;
        memset(r + 2, p->id, n - 8);
        nes_otq_commit(p->q, r);
        p->pushed++;
    }
    atomic_fetch_add(p->finished, 1);
    return NULL;
}

/* Four producers and the consumer at once on a small ring (it fills and laps many times): every
 * record arrives once, whole, in order per producer; pushed plus refused is what was offered. */
static void ring_many_producers(void **state)
{
    (void)state;
    nes_otq *q = nes_otq_new(4096, 128);
    assert_non_null(q);
    _Atomic int finished = 0;
    prod p[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (prod){.q = q, .id = i, .finished = &finished};
        pthread_create(&t[i], NULL, producer, &p[i]);
    }
    int64_t last[4] = {-1, -1, -1, -1};
    uint64_t got = 0, pushed = 0;
    for (;;) {
        bool all_done = atomic_load(&finished) == 4; /* read before the final drain */
        size_t len;
        const uint32_t *r;
        while ((r = nes_otq_peek(q, &len)) != NULL) {
            assert_true(r[0] < 4);
            assert_true((int64_t)r[1] > last[r[0]]);
            assert_int_equal(len, 8 + (size_t)(r[1] % 13) * 8);
            const unsigned char *b = (const unsigned char *)(r + 2);
            for (size_t k = 0; k + 8 < len; k++)
                assert_int_equal(b[k], r[0]);
            last[r[0]] = r[1];
            got++;
            nes_otq_release(q);
        }
        if (all_done)
            break;
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        pushed += (uint64_t)p[i].pushed;
        assert_int_equal(p[i].pushed + p[i].refused, PROD_N);
    }
    assert_int_equal(got, pushed);
    assert_true(got > 3 * 4096 / 16); /* the ring lapped a few times at least */
    assert_int_equal(nes_otq_used(q), 0);
    nes_otq_free(q);
}

/* The protobuf writer: each case writes one field and must give exactly these bytes (checked
 * against the protobuf encoding documentation's examples, e.g. 150 as 96 01). */
static void pb_writer_cases(void **state)
{
    (void)state;
    static const struct {
        int kind; /* 0 varint, 1 fixed64, 2 bytes of `len` 'x's, 3 double */
        unsigned field;
        uint64_t v;
        size_t len;
        const char *want; /* hex of the first bytes */
        size_t total;     /* length of the whole encoding */
    } cases[] = {
        {0, 1, 150, 0, "089601", 3},
        {0, 1, 0, 0, "0800", 2},
        {0, 2, 127, 0, "107f", 2},
        {0, 2, 128, 0, "108001", 3},
        {0, 15, 1, 0, "7801", 2},
        {0, 16, 1, 0, "800101", 3}, /* field 16: a two-byte tag */
        {0, 3, UINT64_MAX, 0, "18ffffffffffffffffff01", 11},
        {0, 3, (uint64_t)INT64_MIN, 0, "1880808080808080808001", 11},
        {1, 7, 0x0102030405060708u, 0, "390807060504030201", 9},
        {2, 5, 0, 3, "2a03787878", 5},
        {2, 5, 0, 0, "2a00", 2},
        {2, 1, 0, 127, "0a7f7878", 129},
        {2, 1, 0, 128, "0a80017878", 131},
        {2, 1, 0, 20000, "0aa09c017878", 20004},
        {3, 4, 0, 0, "21000000000000f83f", 9}, /* 1.5 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_buf b = {0};
        nes_pb w = {.out = &b};
        char *x = malloc(cases[i].len + 1);
        assert_non_null(x);
        memset(x, 'x', cases[i].len);
        switch (cases[i].kind) {
        case 0:
            nes_pb_varint(&w, cases[i].field, cases[i].v);
            break;
        case 1:
            nes_pb_fixed64(&w, cases[i].field, cases[i].v);
            break;
        case 2:
            nes_pb_bytes(&w, cases[i].field, x, cases[i].len);
            break;
        default:
            nes_pb_double(&w, cases[i].field, 1.5);
        }
        free(x);
        char hex[64] = "";
        for (size_t k = 0; k < b.len && 2 * k + 2 < sizeof(hex) && 2 * k < strlen(cases[i].want);
             k++)
            snprintf(hex + 2 * k, 3, "%02x", b.data[k]);
        if (w.err != 0 || b.len != cases[i].total || strcmp(hex, cases[i].want) != 0)
            fail_msg("case %zu: err %d, %zu bytes, %s", i, w.err, b.len, hex);
        /* the same bytes as a nested message's content: begin/end give the same length prefix */
        if (cases[i].kind == 2) {
            nes_buf n = {0};
            nes_pb wn = {.out = &n};
            size_t m = nes_pb_begin(&wn, cases[i].field);
            assert_int_equal(nes_buf_reserve(&n, cases[i].len), 0);
            memset(n.data + n.len, 'x', cases[i].len);
            n.len += cases[i].len;
            nes_pb_end(&wn, m);
            assert_int_equal(wn.err, 0);
            assert_int_equal(n.len, b.len);
            assert_memory_equal(n.data, b.data, b.len);
            nes_buf_free(&n);
        }
        nes_buf_free(&b);
    }
    /* a buffer that refuses to grow: the error sticks, nothing is written after it */
    nes_buf b = {.max = 4};
    nes_pb w = {.out = &b};
    nes_pb_varint(&w, 1, 1);
    assert_int_equal(w.err, 0);
    nes_pb_bytes(&w, 2, "abcdef", 6);
    assert_int_equal(w.err, -1);
    nes_pb_varint(&w, 1, 1);
    assert_int_equal(w.err, -1);
    nes_buf_free(&b);
}

/* Lengths counted ahead (nes_pb_varint_len, nes_pb_field_len) agree with what the writer
 * writes, and a message begun with its known length (nes_pb_begin_len) equals the same message
 * from nes_pb_begin/nes_pb_end. */
static void pb_known_lengths(void **state)
{
    (void)state;
    static const uint64_t vals[] = {0,         1,       127,     128,        16383,
                                    16384,     2097151, 2097152, UINT32_MAX, (uint64_t)INT64_MIN,
                                    UINT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t tmp[10];
        assert_int_equal(nes_pb_varint_len(vals[i]), nes_pb_put_varint(tmp, vals[i]));
    }
    static const size_t sizes[] = {0, 1, 126, 127, 128, 300, 20000};
    char *x = malloc(20000);
    assert_non_null(x);
    memset(x, 'x', 20000);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        nes_buf a = {0}, b = {0};
        nes_pb wa = {.out = &a}, wb = {.out = &b};
        size_t m = nes_pb_begin(&wa, 5);
        nes_pb_bytes(&wa, 1, x, sizes[i]);
        nes_pb_end(&wa, m);
        nes_pb_begin_len(&wb, 5, nes_pb_field_len(sizes[i]));
        nes_pb_bytes(&wb, 1, x, sizes[i]);
        assert_int_equal(wa.err, 0);
        assert_int_equal(wb.err, 0);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        assert_int_equal(a.len, nes_pb_field_len(nes_pb_field_len(sizes[i])));
        nes_buf_free(&a);
        nes_buf_free(&b);
    }
    free(x);
}

/* A small protobuf reader for the checks below: field `field` (the first, or the `nth`) of the
 * message p[0..n): its varint or fixed64 value in *v, or its bytes in *val / *vlen. */
static bool pb_field(const uint8_t *p, size_t n, unsigned field, int nth, uint64_t *v,
                     const uint8_t **val, size_t *vlen)
{
    size_t i = 0;
    while (i < n) {
        uint64_t tag = 0, x = 0;
        for (int sh = 0; i < n; sh += 7) {
            tag |= (uint64_t)(p[i] & 0x7f) << sh;
            if (!(p[i++] & 0x80))
                break;
        }
        unsigned wire = tag & 7;
        const uint8_t *start = NULL;
        size_t len = 0;
        if (wire == 0) {
            for (int sh = 0; i < n; sh += 7) {
                x |= (uint64_t)(p[i] & 0x7f) << sh;
                if (!(p[i++] & 0x80))
                    break;
            }
        } else if (wire == 1) {
            for (int k = 7; k >= 0; k--)
                x = x << 8 | p[i + (size_t)k];
            i += 8;
        } else if (wire == 2) {
            for (int sh = 0; i < n; sh += 7) {
                len |= (size_t)(p[i] & 0x7f) << sh;
                if (!(p[i++] & 0x80))
                    break;
            }
            start = p + i;
            i += len;
        } else {
            return false;
        }
        if (i > n)
            return false;
        if ((tag >> 3) == field && nth-- == 0) {
            if (v != NULL)
                *v = x;
            if (val != NULL) {
                *val = start;
                *vlen = len;
            }
            return true;
        }
    }
    return false;
}

/* The message at a path of (field, nth) pairs from the top. */
static bool pb_path(const uint8_t *p, size_t n, const int *path, size_t depth, const uint8_t **out,
                    size_t *out_len)
{
    for (size_t d = 0; d < depth; d++)
        if (!pb_field(p, n, (unsigned)path[2 * d], path[2 * d + 1], NULL, &p, &n))
            return false;
    *out = p;
    *out_len = n;
    return true;
}

/* Adds `s` as the exporter does: packed into a span record, read back in place, encoded. */
static void add_span(nes_otlp_batch *bt, const nes_span *s)
{
    uint8_t rec[NES_SPANREC_HEAD + NES_SPANREC_SPAN_MAX];
    nes_spanrec_head(rec, s);
    size_t len =
        NES_SPANREC_HEAD + nes_spanrec_put(rec + NES_SPANREC_HEAD, NES_SPANREC_SPAN_MAX, s);
    size_t off = NES_SPANREC_HEAD;
    nes_spanrec_span v;
    assert_int_equal(nes_spanrec_next(rec, len, &off, &v), 1);
    assert_int_equal(off, len);
    nes_otlp_add_span(bt, &v);
}

/* A body through the exporter's own path (nes_otlp_batch_begin, an add per item, nes_otlp_end):
 * 0 with the body at *body (*len bytes), or -1. `logs`: log records, else spans. */
static int encode(nes_buf *b, const nes_otlp_resource *res, const void *items, size_t n, bool logs,
                  const uint8_t **body, size_t *len)
{
    nes_otlp_batch bt;
    nes_otlp_batch_begin(&bt, b, res);
    for (size_t i = 0; i < n; i++) {
        if (logs)
            nes_otlp_add_log(&bt, (const nes_otlp_log *)items + i);
        else
            add_span(&bt, (const nes_span *)items + i);
    }
    if (nes_otlp_end(&bt) != 0)
        return -1;
    *body = b->data + bt.start;
    *len = b->len - bt.start;
    return 0;
}

static void otlp_protobuf_shapes(void **state)
{
    (void)state;
    nes_otlp_kv kv[2] = {{"service.name", "svc \"q\""}, {"aws.nitro.pcr0", "ab01"}};
    nes_otlp_resource res = {.attrs = kv, .nattrs = 2};
    nes_span sp[2];
    nes_trace_span_begin(&sp[0], "POST /encrypt", NES_SPAN_SERVER, NULL, NULL);
    nes_trace_span_attr_str(&sp[0], "http.route", "encrypt");
    nes_trace_span_attr_int(&sp[0], "http.response.status_code", 200);
    nes_trace_span_attr_int(&sp[0], "neg", INT64_MIN);
    nes_trace_span_error(&sp[0]);
    nes_trace_span_end(&sp[0]);
    nes_trace_span_begin(&sp[1], "schema.resolve", NES_SPAN_INTERNAL, &sp[0], NULL);
    nes_trace_span_end(&sp[1]);
    nes_buf b = {0};
    const uint8_t *body = NULL;
    size_t blen = 0;
    assert_int_equal(encode(&b, &res, sp, 2, false, &body, &blen), 0);
    const uint8_t *m, *val;
    size_t mlen, vlen;
    uint64_t v;
    /* resource_spans[0].resource.attributes[0] = {service.name, "svc \"q\""} */
    static const int attr0[] = {1, 0, 1, 0, 1, 0};
    assert_true(pb_path(body, blen, attr0, 3, &m, &mlen));
    assert_true(pb_field(m, mlen, 1, 0, NULL, &val, &vlen));
    assert_int_equal(vlen, 12);
    assert_memory_equal(val, "service.name", 12);
    /* scope_spans[0].scope.name */
    static const int scope[] = {1, 0, 2, 0, 1, 0};
    assert_true(pb_path(body, blen, scope, 3, &m, &mlen));
    assert_true(pb_field(m, mlen, 1, 0, NULL, &val, &vlen));
    assert_memory_equal(val, NES_OTLP_SCOPE, strlen(NES_OTLP_SCOPE));
    /* spans[0]: ids, name, kind, times, attributes, status ERROR; no parent */
    static const int span0[] = {1, 0, 2, 0, 2, 0};
    assert_true(pb_path(body, blen, span0, 3, &m, &mlen));
    assert_true(pb_field(m, mlen, 1, 0, NULL, &val, &vlen));
    assert_int_equal(vlen, 16);
    assert_memory_equal(val, sp[0].trace_id, 16);
    assert_true(pb_field(m, mlen, 2, 0, NULL, &val, &vlen));
    assert_memory_equal(val, sp[0].span_id, 8);
    assert_false(pb_field(m, mlen, 4, 0, NULL, &val, &vlen));
    assert_true(pb_field(m, mlen, 5, 0, NULL, &val, &vlen));
    assert_int_equal(vlen, 13);
    assert_memory_equal(val, "POST /encrypt", 13);
    assert_true(pb_field(m, mlen, 6, 0, &v, NULL, NULL));
    assert_int_equal(v, 2);
    assert_true(pb_field(m, mlen, 7, 0, &v, NULL, NULL));
    assert_true(v == sp[0].start_ns);
    assert_true(pb_field(m, mlen, 8, 0, &v, NULL, NULL));
    assert_true(v == sp[0].end_ns);
    const uint8_t *a;
    size_t alen;
    assert_true(pb_field(m, mlen, 9, 2, NULL, &a, &alen)); /* the third attribute: neg */
    assert_true(pb_field(a, alen, 2, 0, NULL, &val, &vlen));
    assert_true(pb_field(val, vlen, 3, 0, &v, NULL, NULL));
    assert_true(v == (uint64_t)INT64_MIN);
    assert_true(pb_field(m, mlen, 15, 0, NULL, &val, &vlen));
    assert_true(pb_field(val, vlen, 3, 0, &v, NULL, NULL));
    assert_int_equal(v, 2);
    /* spans[1]: its parent; status left unset */
    static const int span1[] = {1, 0, 2, 0, 2, 1};
    assert_true(pb_path(body, blen, span1, 3, &m, &mlen));
    assert_true(pb_field(m, mlen, 4, 0, NULL, &val, &vlen));
    assert_memory_equal(val, sp[0].span_id, 8);
    assert_false(pb_field(m, mlen, 15, 0, NULL, &val, &vlen));
    nes_buf_free(&b);

    nes_otlp_log l = {.time_ns = 5, .severity = 13, .has_span = 1};
    memcpy(l.trace_id, sp[0].trace_id, 16);
    memcpy(l.span_id, sp[0].span_id, 8);
    const char *line = "{\"level\":\"warn\",\"msg\":\"x\\n\"}\n";
    l.len = (uint16_t)strlen(line);
    memcpy(l.line, line, l.len);
    assert_int_equal(nes_otlp_severity_of(line, l.len), 13);
    assert_int_equal(nes_otlp_severity_of("{}", 2), 9);
    static const struct {
        const char *line;
        uint8_t sev;
    } sevs[] = {
        /* where log.c puts the level, each level */
        {"{\"ts\":\"2026-12-01T01:21:23.197Z\",\"level\":\"debug\",\"msg\":\"m\"}", 5},
        {"{\"ts\":\"2026-12-01T01:21:23.197Z\",\"level\":\"info\",\"msg\":\"m\"}", 9},
        {"{\"ts\":\"2026-12-01T01:21:23.197Z\",\"level\":\"warn\",\"msg\":\"m\"}", 13},
        {"{\"ts\":\"2026-12-01T01:21:23.197Z\",\"level\":\"error\",\"msg\":\"m\"}", 17},
        /* elsewhere: searched for */
        {"{\"ts\":\"12026-12-01T01:21:23.197Z\",\"level\":\"error\"}", 17},
        {"{\"level\":\"debug\"}", 5},
        /* cut short, or not a level: info */
        {"{\"ts\":\"2026-12-01T01:21:23.197Z\",\"level\":\"erro", 9},
        {"{\"ts\":\"2026-12-01T01:21:23.197Z\",\"level\":\"e", 9},
        {"{\"ts\":\"2026-12-01T01:21:23.197Z\",\"level\":\"", 9},
        {"{\"level\":\"warning\"}", 9},
        {"{\"msg\":\"\\\"level\\\":\\\"error\"}", 9},
    };
    for (size_t i = 0; i < sizeof(sevs) / sizeof(sevs[0]); i++)
        assert_int_equal(nes_otlp_severity_of(sevs[i].line, strlen(sevs[i].line)), sevs[i].sev);
    assert_int_equal(encode(&b, &res, &l, 1, true, &body, &blen), 0);
    static const int rec[] = {1, 0, 2, 0, 2, 0};
    assert_true(pb_path(body, blen, rec, 3, &m, &mlen));
    assert_true(pb_field(m, mlen, 1, 0, &v, NULL, NULL));
    assert_int_equal(v, 5);
    assert_true(pb_field(m, mlen, 11, 0, &v, NULL, NULL));
    assert_int_equal(v, 5);
    assert_true(pb_field(m, mlen, 2, 0, &v, NULL, NULL));
    assert_int_equal(v, 13);
    assert_true(pb_field(m, mlen, 3, 0, NULL, &val, &vlen));
    assert_memory_equal(val, "WARN", 4);
    assert_true(pb_field(m, mlen, 5, 0, NULL, &a, &alen)); /* body: the line without its \n */
    assert_true(pb_field(a, alen, 1, 0, NULL, &val, &vlen));
    assert_int_equal(vlen, strlen(line) - 1);
    assert_memory_equal(val, line, vlen);
    assert_true(pb_field(m, mlen, 9, 0, NULL, &val, &vlen));
    assert_memory_equal(val, sp[0].trace_id, 16);
    assert_true(pb_field(m, mlen, 10, 0, NULL, &val, &vlen));
    assert_memory_equal(val, sp[0].span_id, 8);
    nes_buf_free(&b);

    /* a bounded buffer refuses instead of growing */
    b.max = 64;
    assert_int_equal(encode(&b, &res, sp, 2, false, &body, &blen), -1);
    nes_buf_free(&b);
}

/* Bodies whose outer lengths take 1, 2 or 3 varint bytes (the lengths are written in front of
 * the items, nes_otlp_end), in an empty buffer or after bytes already there. Each decodes to one
 * ResourceSpans covering the body exactly, with every span in order. */
static void otlp_outer_lengths(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        bool prefix; /* bytes before the body */
    } cases[] = {
        {1, false}, {1, true}, {2, false}, {300, true}, {300, false}, {3000, false}, {3000, true},
    };
    nes_otlp_resource res = {0};
    enum { MAXN = 3000 };
    nes_span *sp = calloc(MAXN, sizeof(*sp));
    assert_non_null(sp);
    for (size_t i = 0; i < MAXN; i++) {
        nes_trace_span_begin(&sp[i], "s", NES_SPAN_INTERNAL, NULL, NULL);
        nes_trace_span_end(&sp[i]);
    }
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        nes_buf b = {0};
        if (cases[c].prefix)
            assert_int_equal(nes_buf_append(&b, "xyz", 3), 0);
        nes_otlp_batch bt;
        nes_otlp_batch_begin(&bt, &b, &res);
        for (size_t i = 0; i < cases[c].n; i++)
            add_span(&bt, &sp[i]);
        assert_int_equal(nes_otlp_end(&bt), 0);
        assert_true(bt.start >= bt.base && bt.start <= bt.base + 8);
        assert_int_equal(bt.base, cases[c].prefix ? 3 : 0);
        if (cases[c].prefix)
            assert_memory_equal(b.data, "xyz", 3);
        const uint8_t *body = b.data + bt.start;
        size_t len = b.len - bt.start;
        const uint8_t *top, *m, *val;
        size_t tlen, mlen, vlen;
        assert_true(pb_field(body, len, 1, 0, NULL, &top, &tlen));
        assert_true(top + tlen == body + len); /* the one field covers the body */
        assert_false(pb_field(body, len, 1, 1, NULL, &m, &mlen));
        assert_true(pb_field(top, tlen, 2, 0, NULL, &m, &mlen)); /* scope_spans */
        assert_true(m + mlen == body + len);
        for (size_t i = 0; i<cases[c].n; i += cases[c].n> 10 ? 97 : 1) {
            const uint8_t *s;
            size_t slen;
            assert_true(pb_field(m, mlen, 2, (int)i, NULL, &s, &slen));
            assert_true(pb_field(s, slen, 2, 0, NULL, &val, &vlen));
            assert_memory_equal(val, sp[i].span_id, 8);
        }
        assert_false(pb_field(m, mlen, 2, (int)cases[c].n, NULL, &val, &vlen));
        nes_buf_free(&b);
    }
    free(sp);
}

/* Metrics stay OTLP/HTTP JSON (otlp.h says why). */
static void otlp_json_shapes(void **state)
{
    (void)state;
    nes_otlp_kv kv[2] = {{"service.name", "svc \"q\""}, {"aws.nitro.pcr0", "ab01"}};
    nes_otlp_resource res = {.attrs = kv, .nattrs = 2};
    nes_buf b = {0};
    const char *j;
    nes_metrics_totals t;
    memset(&t, 0, sizeof(t));
    t.requests[NES_ROUTE_ENCRYPT][0] = 3;
    t.latency_bucket[NES_ROUTE_ENCRYPT][1] = 3;
    t.upstream_conns[1] = 5;
    t.upstream_errors[NES_UPERR_TIMEOUT] = 7;
    t.upstream_head_bucket[2] = 4;
    nes_metrics_gauges g = {.keyring_size = 1, .dek_age_seconds = 2};
    assert_int_equal(nes_otlp_metrics(&b, &res, &t, &g, 1, 2), 0);
    assert_int_equal(nes_buf_append(&b, "", 1), 0);
    j = (const char *)b.data;
    assert_non_null(strstr(j, "\"name\":\"nes_http_requests\""));
    assert_non_null(strstr(j, "{\"key\":\"status\",\"value\":{\"stringValue\":\"200\"}}"));
    assert_non_null(strstr(j, "\"count\":\"3\",\"sum\":0.000000,\"bucketCounts\":[\"0\",\"3\","));
    assert_non_null(strstr(j, "\"explicitBounds\":[5e-05,7.5e-05,"));
    /* proxy mode's upstream series: labelled sums and an unlabelled histogram */
    assert_non_null(strstr(j,
                           "{\"key\":\"pool\",\"value\":{\"stringValue\":\"reused\"}}],"
                           "\"startTimeUnixNano\":\"1\",\"timeUnixNano\":\"2\",\"asInt\":\"5\"}"));
    assert_non_null(strstr(j,
                           "{\"key\":\"kind\",\"value\":{\"stringValue\":\"timeout\"}}],"
                           "\"startTimeUnixNano\":\"1\",\"timeUnixNano\":\"2\",\"asInt\":\"7\"}"));
    const char *h = strstr(j, "\"name\":\"nes_upstream_response_head_seconds\"");
    assert_non_null(h);
    assert_non_null(strstr(h, "\"dataPoints\":[{\"startTimeUnixNano\":\"1\",\"timeUnixNano\":\"2\","
                              "\"count\":\"4\""));
    nes_buf_free(&b);

    /* a bounded buffer refuses instead of growing */
    b.max = 64;
    assert_int_equal(nes_otlp_metrics(&b, &res, &t, &g, 1, 2), -1);
    nes_buf_free(&b);
}

/* Prometheus text to OTLP: each case's text, whether it converts, and pieces of the result. */
static void prometheus_to_otlp_cases(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        const char *want[3];
    } cases[] = {
        {"# TYPE p_total counter\np_total 5\n",
         0,
         {"{\"name\":\"p\",\"sum\":{\"dataPoints\":[{\"attributes\":[],", "\"asInt\":\"5\"}",
          "\"aggregationTemporality\":2,\"isMonotonic\":true}"}},
        {"# HELP g Open.\n# TYPE g gauge\ng 2.5\n",
         0,
         {"{\"name\":\"g\",\"gauge\":{\"dataPoints\":[", "\"asDouble\":2.5}]}}", NULL}},
        {"# TYPE b_total counter\nb_total{direction=\"up\"} "
         "7\nb_total{direction=\"down\",x=\"a\\\"b\"} 9\n",
         0,
         {"{\"key\":\"direction\",\"value\":{\"stringValue\":\"up\"}}],",
          "{\"key\":\"x\",\"value\":{\"stringValue\":\"a\\\"b\"}}", "\"asInt\":\"9\""}},
        {"# TYPE h histogram\nh_bucket{le=\"1\"} 1\n# TYPE c_total counter\nc_total 1\n",
         0,
         {"\"name\":\"c\"", NULL, NULL}},                           /* histograms are left out */
        {"# TYPE c_total counter\nc_total{a=\"x} 1\n", -1, {NULL}}, /* unterminated label */
        {"# TYPE c_total counter\nother 1\n", -1, {NULL}},          /* not the family */
        {"# TYPE c_total counter\nc_total abc\n", -1, {NULL}},      /* not a number */
        {"# TYPE c_total\n", -1, {NULL}},                           /* no type */
        {"", 0, {"\"metrics\":[]", NULL, NULL}},
    };
    nes_otlp_kv kv[1] = {{"service.name", "p"}};
    nes_otlp_resource res = {.attrs = kv, .nattrs = 1};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nes_buf b = {0};
        int rc = nes_otlp_from_prometheus(&b, &res, cases[i].text, strlen(cases[i].text), 1, 2);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d", i, rc);
        if (rc == 0) {
            assert_int_equal(nes_buf_append(&b, "", 1), 0);
            for (int w = 0; w < 3 && cases[i].want[w] != NULL; w++)
                if (strstr((const char *)b.data, cases[i].want[w]) == NULL)
                    fail_msg("case %zu: no %s in %s", i, cases[i].want[w], (char *)b.data);
            assert_null(strstr((const char *)b.data, "\"name\":\"h\""));
        }
        nes_buf_free(&b);
    }
}

/* The sink: records unpacked into spans (g_sunk), records counted (g_nrec) with their spans
 * (g_recspans[i]: the i-th record's). */
static nes_span g_sunk[16];
static int g_nsunk, g_nrec;
static unsigned g_recspans[16];
static void test_sink(const void *rec, size_t len, unsigned nspans)
{
    size_t off = NES_SPANREC_HEAD;
    nes_spanrec_span v;
    unsigned n = 0;
    while (nes_spanrec_next(rec, len, &off, &v)) {
        if (g_nsunk < 16) { /* back as a nes_span, to compare with what was ended */
            nes_span *sp = &g_sunk[g_nsunk++];
            memset(sp, 0, sizeof(*sp));
            memcpy(sp->trace_id, v.trace_id, 16);
            memcpy(sp->span_id, v.span_id, 8);
            memcpy(sp->parent_id, v.parent_id, 8);
            sp->name = v.name;
            sp->sampled = true;
            sp->error = v.error;
            sp->kind = v.kind;
            sp->nattr = (uint8_t)v.nattr;
            sp->start_ns = v.start_ns;
            sp->end_ns = v.end_ns;
            for (unsigned k = 0; k < v.nattr; k++) {
                nes_span_attr *a = &sp->attr[k];
                a->key = v.attr[k].key;
                a->is_int = v.attr[k].is_int;
                if (a->is_int) {
                    a->i = v.attr[k].i;
                } else {
                    assert_true(v.attr[k].len < NES_SPAN_ATTR_STR);
                    memcpy(a->s, v.attr[k].s, v.attr[k].len);
                    a->len = (uint8_t)v.attr[k].len;
                }
            }
        }
        n++;
    }
    assert_int_equal(off, len); /* the record is its spans, nothing else */
    assert_int_equal(n, nspans);
    if (g_nrec < 16)
        g_recspans[g_nrec++] = nspans;
}

static char g_tapped[NES_LOGLINE_MAX];
static uint64_t g_tapped_ns;
static void test_tap(const char *line, size_t len, uint64_t time_ns)
{
    snprintf(g_tapped, sizeof(g_tapped), "%.*s", (int)len, line);
    g_tapped_ns = time_ns;
}

/* The sink gets sampled spans only; the AWS observer counts and records a child of the current
 * span; the log tap sees every emitted line; ids come from the CSPRNG buffer. */
static void sink_aws_observer_and_tap(void **state)
{
    (void)state;
    g_nsunk = 0;
    nes_trace_set_sink(test_sink);
    nes_span bg;
    nes_trace_span_begin(&bg, "dek.refresh", NES_SPAN_INTERNAL, NULL, NULL);
    nes_trace_set_current(&bg);
    assert_ptr_equal(nes_trace_current(), &bg);
    nes_aws_call_to_service(NULL, NES_AWS_KMS, "Decrypt", 1500, false);
    nes_trace_set_current(NULL);
    assert_null(nes_trace_current());
    nes_trace_span_end(&bg);
    nes_trace_ctx unsampled;
    assert_int_equal(nes_traceparent_parse("00-" TP_TRACE "-" TP_SPAN "-00", &unsampled), 0);
    nes_span off;
    nes_trace_span_begin(&off, "off", NES_SPAN_SERVER, NULL, &unsampled);
    nes_trace_span_end(&off); /* not sampled: not sunk */
    assert_true(bg.start_ns != 0 && bg.end_ns >= bg.start_ns);
    assert_true(off.start_ns == 0 && off.end_ns == 0); /* nor timed: no clock read */
    nes_trace_set_sink(NULL);
    assert_int_equal(g_nsunk, 2);
    nes_span nowhere; /* sampled, no exporter: not timed, not sunk */
    nes_trace_span_begin(&nowhere, "nowhere", NES_SPAN_INTERNAL, &bg, NULL);
    assert_true(nowhere.sampled && nowhere.start_ns == 0);
    nes_trace_set_sink(test_sink); /* an exporter from now on: a span begun before stays out */
    nes_trace_span_end(&nowhere);
    nes_trace_set_sink(NULL);
    assert_int_equal(g_nsunk, 2);
    assert_string_equal(g_sunk[0].name, "aws.kms");
    assert_int_equal(g_sunk[0].kind, NES_SPAN_CLIENT);
    assert_true(g_sunk[0].error);
    assert_memory_equal(g_sunk[0].parent_id, bg.span_id, 8);
    assert_true(g_sunk[0].end_ns - g_sunk[0].start_ns >= 1500000);
    assert_string_equal(g_sunk[0].attr[1].s, "Decrypt");
    assert_string_equal(g_sunk[1].name, "dek.refresh");
    nes_metrics_totals t;
    nes_metrics_collect(&t);
    assert_int_equal(t.aws_calls[NES_AWS_KMS], 1);
    assert_int_equal(t.aws_errors[NES_AWS_KMS], 1);

    uint64_t before = nes_trace_now_ns();
    nes_log_set_tap(test_tap);
    nes_log(NES_LOG_ERROR, "tapped %d", 7);
    nes_log_set_tap(NULL);
    assert_non_null(strstr(g_tapped, "\"msg\":\"tapped 7\""));
    /* the line's own time comes with it: the clock read its "ts" was formatted from */
    assert_true(g_tapped_ns >= before && g_tapped_ns <= nes_trace_now_ns());
    char ms[8];
    snprintf(ms, sizeof(ms), ".%03u", (unsigned)(g_tapped_ns / 1000000 % 1000));
    assert_non_null(strstr(g_tapped, ms));
    nes_log(NES_LOG_ERROR, "not tapped");
    assert_null(strstr(g_tapped, "not tapped"));

    uint8_t a[32] = {0}, b[32] = {0};
    nes_trace_random(a, sizeof(a));
    nes_trace_random(b, sizeof(b));
    assert_memory_not_equal(a, b, sizeof(a));
    assert_true(nes_trace_now_ns() > 1600000000ull * 1000000000ull);
}

/* Two spans alike as the exporter sees them. */
static void same_span(const nes_span *got, const nes_span *w)
{
    assert_ptr_equal(got->name, w->name);
    assert_memory_equal(got->trace_id, w->trace_id, 16);
    assert_memory_equal(got->span_id, w->span_id, 8);
    assert_memory_equal(got->parent_id, w->parent_id, 8);
    assert_true(got->start_ns == w->start_ns && got->end_ns == w->end_ns);
    assert_int_equal(got->kind, w->kind);
    assert_int_equal(got->error, w->error);
    assert_int_equal(got->nattr, w->nattr);
    for (unsigned k = 0; k < w->nattr; k++) {
        assert_ptr_equal(got->attr[k].key, w->attr[k].key);
        assert_int_equal(got->attr[k].is_int, w->attr[k].is_int);
        if (w->attr[k].is_int)
            assert_true(got->attr[k].i == w->attr[k].i);
        else
            assert_string_equal(got->attr[k].s, w->attr[k].s);
    }
}

/* A request's spans in one record: children as they end, the server span last, the same spans
 * (names, ids, parents, times, attributes, status) as one by one. Other traces' spans go alone;
 * a group closed before its root hands over what it holds; an open group is handed over by the
 * next; a group that outgrows a record is handed over in parts, none lost. */
static void span_groups(void **state)
{
    (void)state;
    g_nsunk = g_nrec = 0;
    nes_trace_set_sink(test_sink);
    nes_span root, schema, body, other, late;
    nes_trace_span_begin(&root, "POST /encrypt", NES_SPAN_SERVER, NULL, NULL);
    nes_trace_span_attr_str(&root, "http.route", "/encrypt");
    nes_trace_group_open(&root);
    nes_trace_span_begin(&schema, "schema.resolve", NES_SPAN_INTERNAL, &root, NULL);
    nes_trace_span_attr_int(&schema, "nes.schema.found", 1);
    nes_trace_span_end(&schema);
    nes_trace_span_begin(&other, "spec.refresh", NES_SPAN_INTERNAL, NULL, NULL);
    nes_trace_span_end(&other); /* another trace: alone, at once */
    assert_int_equal(g_nrec, 1);
    assert_int_equal(g_recspans[0], 1);
    same_span(&g_sunk[0], &other);
    nes_trace_span_begin(&body, "body.encrypt", NES_SPAN_INTERNAL, &root, NULL);
    nes_trace_span_attr_int(&body, "nes.fields", -3);
    nes_trace_span_attr_str(&body, "s", "\xc3\xa9t\xc3\xa9");
    nes_trace_span_error(&body);
    nes_trace_span_end(&body);
    assert_int_equal(g_nrec, 1); /* gathered */
    nes_trace_span_attr_int(&root, "http.response.status_code", 200);
    nes_trace_span_end(&root);
    assert_int_equal(g_nrec, 2);
    assert_int_equal(g_recspans[1], 3);
    same_span(&g_sunk[1], &schema);
    same_span(&g_sunk[2], &body);
    same_span(&g_sunk[3], &root);
    /* after its root, a span of the trace goes alone */
    nes_trace_span_begin(&late, "upstream", NES_SPAN_CLIENT, &root, NULL);
    nes_trace_span_end(&late);
    assert_int_equal(g_nrec, 3);
    assert_int_equal(g_recspans[2], 1);
    same_span(&g_sunk[4], &late);
    /* closed before its root (proxy mode): the children now, the root later, alone */
    nes_trace_span_begin(&root, "HTTP request", NES_SPAN_SERVER, NULL, NULL);
    nes_trace_group_open(&root);
    nes_trace_span_begin(&schema, "schema.resolve", NES_SPAN_INTERNAL, &root, NULL);
    nes_trace_span_end(&schema);
    nes_trace_group_close();
    assert_int_equal(g_nrec, 4);
    nes_trace_span_end(&root);
    assert_int_equal(g_nrec, 5);
    assert_int_equal(g_recspans[3] + g_recspans[4], 2);
    same_span(&g_sunk[6], &root);
    /* an open group is handed over by the next; an empty one hands over nothing */
    nes_trace_span_begin(&root, "a", NES_SPAN_SERVER, NULL, NULL);
    nes_trace_group_open(&root);
    nes_trace_span_begin(&schema, "child", NES_SPAN_INTERNAL, &root, NULL);
    nes_trace_span_end(&schema);
    nes_trace_span_begin(&other, "b", NES_SPAN_SERVER, NULL, NULL);
    nes_trace_group_open(&other);
    assert_int_equal(g_nrec, 6);
    nes_trace_group_close();
    nes_trace_group_close();
    assert_int_equal(g_nrec, 6);
    /* many children with long attributes: handed over in parts of at most NES_SPANREC_MAX */
    g_nsunk = g_nrec = 0;
    char longv[NES_SPAN_ATTR_STR + 8];
    memset(longv, 'v', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    nes_trace_span_begin(&root, "big", NES_SPAN_SERVER, NULL, NULL);
    nes_trace_group_open(&root);
    for (int i = 0; i < 12; i++) {
        nes_span c;
        nes_trace_span_begin(&c, "c", NES_SPAN_INTERNAL, &root, NULL);
        for (int k = 0; k < NES_SPAN_MAX_ATTRS; k++)
            nes_trace_span_attr_str(&c, "k", longv);
        nes_trace_span_end(&c);
    }
    nes_trace_span_end(&root);
    unsigned total = 0;
    for (int i = 0; i < g_nrec; i++)
        total += g_recspans[i];
    assert_int_equal(total, 13);
    assert_true(g_nrec >= 5); /* full-size spans: one or two to a record */
    same_span(&g_sunk[12], &root);
    /* a root that goes nowhere opens no group */
    nes_trace_ctx unsampled;
    assert_int_equal(nes_traceparent_parse("00-" TP_TRACE "-" TP_SPAN "-00", &unsampled), 0);
    g_nrec = 0;
    nes_trace_span_begin(&root, "off", NES_SPAN_SERVER, NULL, &unsampled);
    nes_trace_group_open(&root);
    nes_trace_span_begin(&other, "bg", NES_SPAN_INTERNAL, NULL, NULL);
    nes_trace_span_end(&other);
    assert_int_equal(g_nrec, 1);
    nes_trace_span_end(&root);
    assert_int_equal(g_nrec, 1);
    nes_trace_set_sink(NULL);
}

static int fake_encrypt(void *ud, const uint8_t *ctx, size_t ctx_len, const uint8_t *pt,
                        size_t pt_len, nes_buf *out)
{
    (void)ud;
    (void)ctx;
    (void)ctx_len;
    return nes_buf_append(out, pt, pt_len);
}

static void timed_codec_span(void **state)
{
    (void)state;
    nes_codec inner = {.encrypt = fake_encrypt};
    nes_timed_codec t;
    nes_timed_codec_init(&t, &inner);
    assert_null(t.codec.decrypt);
    g_nsunk = 0;
    nes_trace_set_sink(test_sink);
    nes_span parent;
    nes_trace_span_begin(&parent, "body.encrypt", NES_SPAN_INTERNAL, NULL, NULL);
    nes_timed_codec_span(&t, &parent, false); /* no field yet: no span */
    assert_int_equal(g_nsunk, 0);
    assert_true(t.now_ns == 0); /* no clock read for the caller either */
    nes_buf b = {0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(t.codec.encrypt(t.codec.ud, NULL, 0, (const uint8_t *)"ab", 2, &b), 0);
    assert_int_equal(b.len, 6);
    nes_buf_free(&b);
    nes_timed_codec_span(&t, &parent, false);
    nes_trace_set_sink(NULL);
    assert_int_equal(g_nsunk, 1);
    assert_string_equal(g_sunk[0].name, "crypto.encrypt");
    assert_memory_equal(g_sunk[0].parent_id, parent.span_id, 8);
    assert_int_equal(g_sunk[0].attr[0].i, 3);
    assert_true(g_sunk[0].start_ns == t.first_ns && g_sunk[0].end_ns == t.last_ns);
    assert_true((uint64_t)g_sunk[0].attr[1].i <= t.last_ns - t.first_ns);
    assert_true(t.now_ns >= t.last_ns && t.now_ns > parent.start_ns); /* the pass's end */
}

/* A child begun at a time read already: that start, the parent's trace, no clock of its own; given
 * 0, or unsampled, or without a sink, it goes nowhere. */
static void span_begin_at(void **state)
{
    (void)state;
    static const struct {
        uint64_t at;
        unsigned sunk; /* spans the sink gets */
        bool sink, sampled;
    } cases[] = {
        {1234567890123u, 1, true, true},
        {0, 0, true, true},
        {1234567890123u, 0, true, false},
        {1234567890123u, 0, false, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        g_nsunk = 0;
        nes_trace_set_sink(cases[i].sink ? test_sink : NULL);
        nes_span parent, sp;
        nes_trace_span_begin(&parent, "root", NES_SPAN_SERVER, NULL, NULL);
        parent.sampled = cases[i].sampled;
        nes_trace_span_begin_at(&sp, "step", NES_SPAN_INTERNAL, &parent, cases[i].at);
        assert_int_equal(sp.start_ns, cases[i].sunk ? cases[i].at : 0);
        assert_memory_equal(sp.trace_id, parent.trace_id, 16);
        assert_memory_equal(sp.parent_id, parent.span_id, 8);
        nes_trace_span_end(&sp);
        nes_trace_set_sink(NULL);
        assert_int_equal(g_nsunk, cases[i].sunk);
        if (cases[i].sunk) {
            assert_true(g_sunk[0].start_ns == cases[i].at && g_sunk[0].end_ns > cases[i].at);
            assert_string_equal(g_sunk[0].name, "step");
        }
    }
}

static void config_cases(void **state)
{
    (void)state;
    static const struct {
        const char *kv[8];
        int rc;
        const char *why; /* substring of the refusal */
    } cases[] = {
        {{NULL}, 0, NULL},
        {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/", NULL}, 0, NULL},
        {{"OTEL_EXPORTER_OTLP_ENDPOINT", "c:4318", NULL}, -1, "OTEL_EXPORTER_OTLP_ENDPOINT"},
        {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t/x", NULL}, 0, NULL},
        {{"OTEL_EXPORTER_OTLP_HEADERS", "a=b,c = d%20e", NULL}, 0, NULL},
        {{"OTEL_EXPORTER_OTLP_HEADERS", "secret", NULL}, -1, "OTEL_EXPORTER_OTLP_HEADERS"},
        {{"OTEL_EXPORTER_OTLP_HEADERS", "a b=c", NULL}, -1, "OTEL_EXPORTER_OTLP_HEADERS"},
        {{"OTEL_EXPORTER_OTLP_HEADERS", "a=b%0d%0aX: y", NULL}, -1, "OTEL_EXPORTER_OTLP_HEADERS"},
        {{"OTEL_TRACES_SAMPLER_ARG", "0.1", NULL}, 0, NULL},
        {{"OTEL_TRACES_SAMPLER_ARG", "2", NULL}, -1, "OTEL_TRACES_SAMPLER_ARG"},
        {{"OTEL_TRACES_SAMPLER_ARG", "nan", NULL}, -1, "OTEL_TRACES_SAMPLER_ARG"},
        {{"OTEL_TRACES_SAMPLER", "always_off", NULL}, 0, NULL},
        {{"OTEL_TRACES_SAMPLER", "jaeger_remote", NULL}, -1, "OTEL_TRACES_SAMPLER"},
        {{"OTEL_BSP_SCHEDULE_DELAY", "-1", NULL}, -1, "OTEL_BSP_SCHEDULE_DELAY"},
        {{"OTEL_METRIC_EXPORT_INTERVAL", "0", NULL}, -1, "OTEL_METRIC_EXPORT_INTERVAL"},
        {{"OTEL_EXPORTER_OTLP_TIMEOUT", "0", NULL}, -1, "OTEL_EXPORTER_OTLP_TIMEOUT"},
        {{"OTEL_BSP_MAX_QUEUE_SIZE", "0", NULL}, -1, "OTEL_BSP_MAX_QUEUE_SIZE"},
        {{"OTEL_RESOURCE_ATTRIBUTES", "a=1,b", NULL}, -1, "OTEL_RESOURCE_ATTRIBUTES"},
        {{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", NULL}, -1, "OTEL_EXPORTER_OTLP_PROTOCOL"},
        {{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", NULL}, 0, NULL},
        {{"OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ssl/ca.pem", NULL}, 0, NULL},
        {{"OTEL_RESOURCE_ATTRIBUTES", "k8s.node.name=n1,team=a%2Cb", NULL}, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tu_env e = {.kv = cases[i].kv};
        nes_otel_config c;
        char why[256] = "";
        int rc = nes_otel_config_load(&c, "svc", tu_env_lookup, &e, why, sizeof(why));
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d (%s)", i, rc, why);
        if (rc != 0) {
            assert_non_null(strstr(why, cases[i].why));
            assert_null(strstr(why, "secret"));
        }
    }
    /* what the values become */
    const char *kv[] = {"OTEL_EXPORTER_OTLP_ENDPOINT",
                        "http://c:4318/",
                        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                        "http://l/logs",
                        "OTEL_EXPORTER_OTLP_HEADERS",
                        "api-key=a%3Db , x=y",
                        "OTEL_SERVICE_NAME",
                        "mine",
                        "OTEL_RESOURCE_ATTRIBUTES",
                        "service.name=theirs,team=a%2Cb",
                        "OTEL_TRACES_SAMPLER_ARG",
                        "0.25",
                        "OTEL_BSP_MAX_QUEUE_SIZE",
                        "100",
                        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                        "512",
                        NULL};
    tu_env e = {.kv = kv};
    nes_otel_config c;
    char why[256];
    assert_int_equal(nes_otel_config_load(&c, "svc", tu_env_lookup, &e, why, sizeof(why)), 0);
    assert_true(c.enabled);
    assert_string_equal(c.url[0], "http://c:4318/v1/traces");
    assert_string_equal(c.url[1], "http://c:4318/v1/metrics");
    assert_string_equal(c.url[2], "http://l/logs");
    assert_string_equal(c.headers, "api-key: a=b\nx: y\n");
    assert_true(c.ratio == 0.25);
    assert_int_equal(c.max_batch, 100); /* never more than the queue */
    assert_int_equal(c.nattrs, 2);
    assert_string_equal(c.attrs[0].key, "service.name");
    assert_string_equal(c.attrs[0].value, "mine"); /* OTEL_SERVICE_NAME wins */
    assert_string_equal(c.attrs[1].value, "a,b");
    assert_int_equal(nes_otel_config_set_attr(&c, "aws.nitro.pcr0", "00ff"), 0);
    assert_int_equal(c.nattrs, 3);
    /* disabled */
    const char *kv2[] = {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c", "OTEL_SDK_DISABLED", "true",
                         NULL};
    e.kv = kv2;
    assert_int_equal(nes_otel_config_load(&c, "svc", tu_env_lookup, &e, why, sizeof(why)), 0);
    assert_false(c.enabled);
    /* starting a disabled exporter does nothing */
    assert_int_equal(nes_otel_start(&c, NULL, NULL, NULL, why, sizeof(why)), 0);
    assert_false(nes_otel_running());
    nes_otel_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traceparent_cases),
        cmocka_unit_test(spans_parent_and_format),
        cmocka_unit_test(ratio_sampling),
        cmocka_unit_test(ring_basics),
        cmocka_unit_test(ring_uncommitted_and_reset),
        cmocka_unit_test(ring_many_producers),
        cmocka_unit_test(pb_writer_cases),
        cmocka_unit_test(otlp_protobuf_shapes),
        cmocka_unit_test(otlp_outer_lengths),
        cmocka_unit_test(pb_known_lengths),
        cmocka_unit_test(otlp_json_shapes),
        cmocka_unit_test(config_cases),
        cmocka_unit_test(prometheus_to_otlp_cases),
        cmocka_unit_test(sink_aws_observer_and_tap),
        cmocka_unit_test(timed_codec_span),
        cmocka_unit_test(span_begin_at),
        cmocka_unit_test(span_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
