/* Unit tests: writer.c — heads that the parsers read back, refusal of anything that could split
 * a message (CR, LF, NUL, non-token names), the buffer cap, chunk framing, and IMF-fixdate
 * against the C library's gmtime_r + strftime over four thousand years of instants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "http/chunked.h"
#include "http/request.h"
#include "http/response.h"
#include "http/writer.h"
#include "testutil.h"

static nes_h1_str str(const char *s)
{
    nes_h1_str r = {s, strlen(s)};
    return r;
}

static void response_head_round_trip(void **state)
{
    (void)state;
    nes_buf b = {0};
    char date[NES_H1_DATE_LEN + 1];
    assert_int_equal(nes_h1_imf_fixdate(784111777, date), NES_H1_DATE_LEN);
    assert_string_equal(date, "Sun, 06 Nov 1994 08:49:37 GMT"); /* RFC 9110 §5.6.7 */
    assert_int_equal(nes_h1_write_status_line(&b, 1, 200, NULL), 0);
    assert_int_equal(nes_h1_write_header(&b, str("Date"), str(date)), 0);
    assert_int_equal(nes_h1_write_header(&b, str("Content-Type"), str("application/json")), 0);
    assert_int_equal(nes_h1_write_header_u64(&b, "Content-Length", 2), 0);
    assert_int_equal(nes_h1_write_end(&b), 0);
    static const char want[] = "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                               "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n";
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, b.len);
    static nes_h1_response res;
    assert_int_equal(
        nes_h1_parse_response((const char *)b.data, b.len, NULL, NES_H1_M_GET, &res, NULL),
        (int)b.len);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.content_length, 2);
    nes_buf_free(&b);

    assert_int_equal(nes_h1_write_status_line(&b, 0, 431, NULL), 0);
    assert_int_equal(nes_h1_write_status_line(&b, 1, 299, "Custom Reason"), 0);
    assert_int_equal(nes_h1_write_status_line(&b, 1, 299, ""), 0);
    static const char want2[] = "HTTP/1.0 431 Request Header Fields Too Large\r\n"
                                "HTTP/1.1 299 Custom Reason\r\nHTTP/1.1 299 \r\n";
    assert_int_equal(b.len, sizeof want2 - 1);
    assert_memory_equal(b.data, want2, b.len);
    nes_buf_free(&b);
}

static void request_head_round_trip(void **state)
{
    (void)state;
    nes_buf b = {0};
    assert_int_equal(nes_h1_write_request_line(&b, str("POST"), str("/orders?id=7")), 0);
    assert_int_equal(nes_h1_write_header(&b, str("Host"), str("app:8080")), 0);
    assert_int_equal(nes_h1_write_header(&b, str("Transfer-Encoding"), str("chunked")), 0);
    assert_int_equal(nes_h1_write_end(&b), 0);
    size_t head = b.len;
    assert_int_equal(nes_h1_write_chunk_size(&b, 0x1f), 0);
    for (int i = 0; i < 0x1f; i++)
        nes_buf_append(&b, "z", 1);
    nes_buf_append(&b, "\r\n", 2);
    assert_int_equal(nes_h1_write_last_chunk(&b), 0);
    static nes_h1_request req;
    assert_int_equal(nes_h1_parse_request((const char *)b.data, b.len, NULL, &req, NULL),
                     (int)head);
    assert_int_equal(req.framing, NES_H1_BODY_CHUNKED);
    nes_h1_chunked c;
    nes_h1_chunked_init(&c, NULL);
    char out[64];
    size_t used, out_len;
    assert_int_equal(nes_h1_chunked_decode(&c, (const char *)b.data + head, b.len - head, &used,
                                           out, sizeof out, &out_len, NULL),
                     1);
    assert_int_equal(out_len, 0x1f);
    assert_int_equal(used, b.len - head);
    assert_memory_equal(b.data + head, "1f\r\n", 4);
    nes_buf_free(&b);
}

static void refuses_splitting(void **state)
{
    (void)state;
    nes_buf b = {0};
    static const char *bad_values[] = {"a\r\nX: y", "a\nb", "a\rb", " lead", "trail\t", "x\x01"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        assert_int_equal(nes_h1_write_header(&b, str("X"), str(bad_values[i])), -1);
        assert_int_equal(nes_h1_write_status_line(&b, 1, 200, bad_values[i]), -1);
    }
    nes_h1_str nul = {"a\0b", 3};
    assert_int_equal(nes_h1_write_header(&b, str("X"), nul), -1);
    static const char *bad_names[] = {"", "X Y", "X:", "X\r\n", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        assert_int_equal(nes_h1_write_header(&b, str(bad_names[i]), str("v")), -1);
    assert_int_equal(nes_h1_write_header_u64(&b, "Bad Name", 1), -1);
    assert_int_equal(nes_h1_write_request_line(&b, str("GE T"), str("/")), -1);
    assert_int_equal(nes_h1_write_request_line(&b, str("GET"), str("/a b")), -1);
    assert_int_equal(nes_h1_write_request_line(&b, str("GET"), str("")), -1);
    assert_int_equal(nes_h1_write_status_line(&b, 1, 99, NULL), -1);
    assert_int_equal(nes_h1_write_status_line(&b, 1, 1000, NULL), -1);
    assert_int_equal(nes_h1_write_status_line(&b, 2, 200, NULL), -1);
    assert_int_equal(nes_h1_write_chunk_size(&b, 0), -1);
    assert_int_equal(b.len, 0); /* nothing appended by any refusal */
    /* obs-text and inner whitespace are fine */
    assert_int_equal(nes_h1_write_header(&b, str("X"), str("caf\xc3\xa9 a\tb")), 0);
    assert_int_equal(nes_h1_write_header(&b, str("X"), str("")), 0);
    nes_buf_free(&b);
}

static void buffer_cap(void **state)
{
    (void)state;
    nes_buf b = {.max = 20};
    assert_int_equal(nes_h1_write_status_line(&b, 1, 200, NULL), 0); /* 17 bytes */
    assert_int_equal(nes_h1_write_header(&b, str("A"), str("b")), -1);
    assert_int_equal(b.len, 17);
    assert_int_equal(nes_h1_write_end(&b), 0);
    assert_int_equal(nes_h1_write_end(&b), -1);
    nes_buf_free(&b);
}

static void numbers(void **state)
{
    (void)state;
    nes_buf b = {0};
    assert_int_equal(nes_h1_write_header_u64(&b, "N", 0), 0);
    assert_int_equal(nes_h1_write_header_u64(&b, "N", UINT64_MAX), 0);
    assert_int_equal(nes_h1_write_chunk_size(&b, 1), 0);
    assert_int_equal(nes_h1_write_chunk_size(&b, UINT64_MAX), 0);
    static const char want[] = "N: 0\r\nN: 18446744073709551615\r\n1\r\nffffffffffffffff\r\n";
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, b.len);
    nes_buf_free(&b);
    assert_string_equal(nes_h1_reason(505), "HTTP Version Not Supported");
    assert_string_equal(nes_h1_reason(417), "Expectation Failed");
    assert_string_equal(nes_h1_reason(299), "Unknown");
}

static void imf_fixdate_matches_libc(void **state)
{
    (void)state;
    const int64_t fixed[] = {0,          -1,           86399,        86400,
                             951782400,  951868800,    4107542400,   -2203891200,
                             1709164800, 253402300799, -62135596800, 1796083200};
    uint64_t rng = 7;
    for (size_t i = 0; i < 20000 + sizeof fixed / sizeof fixed[0]; i++) {
        int64_t t =
            i < sizeof fixed / sizeof fixed[0]
                ? fixed[i]
                : INT64_C(-62135596800) + (int64_t)(tu_rng_next(&rng) % UINT64_C(315537897600));
        char got[NES_H1_DATE_LEN + 1], want[64];
        assert_int_equal(nes_h1_imf_fixdate(t, got), NES_H1_DATE_LEN);
        time_t tt = (time_t)t;
        struct tm tm;
        assert_non_null(gmtime_r(&tt, &tm));
        /* %a and %b are the C locale's English names; %Y without padding below year 1000 */
        static const char *wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char *mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        snprintf(want, sizeof want, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday],
                 tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (strcmp(got, want) != 0)
            fail_msg("t=%lld got %s want %s", (long long)t, got, want);
    }
    char out[NES_H1_DATE_LEN + 1];
    assert_int_equal(nes_h1_imf_fixdate(INT64_C(253402300800), out), 0);
    assert_int_equal(nes_h1_imf_fixdate(INT64_C(-62135596801), out), 0);
    assert_int_equal(nes_h1_imf_fixdate(INT64_MIN, out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(response_head_round_trip),
        cmocka_unit_test(request_head_round_trip),
        cmocka_unit_test(refuses_splitting),
        cmocka_unit_test(buffer_cap),
        cmocka_unit_test(numbers),
        cmocka_unit_test(imf_fixdate_matches_libc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
