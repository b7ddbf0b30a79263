/* bench_http_codec: cost of the HTTP/1.1 codec (src/http) per operation — request head parsing
 * (a curl-like /encrypt head and a browser-like head of ~700 bytes), the end-of-head scan,
 * chunked decoding (MB/s of a 1 MiB body in 4 KiB chunks, in place), a response head with Date
 * written into a reused buffer, and IMF-fixdate. Figures only; measure on a quiet machine.
 * Usage: bench_http_codec [seconds-per-case] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "http/chunked.h"
#include "http/request.h"
#include "http/writer.h"

static const char ENCRYPT_HEAD[] =
    "POST /encrypt HTTP/1.1\r\nHost: 127.0.0.1:8443\r\nUser-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\nContent-Type: application/json\r\nX-Schema-Name: payments\r\n"
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
    "Content-Length: 1024\r\n\r\n";

static const char BROWSER_HEAD[] =
    "GET /api/v1/customers/48213/orders?page=2&sort=-created HTTP/1.1\r\n"
    "Host: service.internal.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://service.internal.example.com/app/customers/48213\r\n"
    "Connection: keep-alive\r\nCookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark\r\n"
    "Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: same-origin\r\nIf-None-Match: \"33a64df551425fcc55e4d42a148795d9f25f89d4\"\r\n"
    "Cache-Control: max-age=0\r\n\r\n";

static nes_h1_request req;

static double per_op(double secs, double (*fn)(long), const char *name, const char *unit)
{
    long n = 1000;
    double t;
    for (;;) {
        t = fn(n);
        if (t >= secs * 1e9 || n > (1L << 40))
            break;
        n *= t > 1e6 ? (long)(secs * 1e9 / t) + 1 : 10;
    }
    double ns = t / (double)n;
    printf("%-34s %10.1f %s\n", name, ns, unit);
    return ns;
}

static double parse_encrypt(long n)
{
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (nes_h1_parse_request(ENCRYPT_HEAD, sizeof ENCRYPT_HEAD - 1, NULL, &req, NULL) <= 0)
            abort();
    return bench_now_ns() - t0;
}

static double parse_browser(long n)
{
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (nes_h1_parse_request(BROWSER_HEAD, sizeof BROWSER_HEAD - 1, NULL, &req, NULL) <= 0)
            abort();
    return bench_now_ns() - t0;
}

static double head_end_browser(long n)
{
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        size_t scan = 0;
        if (nes_h1_head_end(BROWSER_HEAD, sizeof BROWSER_HEAD - 1, &scan) == 0)
            abort();
    }
    return bench_now_ns() - t0;
}

static double write_response(long n)
{
    nes_buf b = {0};
    char date[NES_H1_DATE_LEN + 1];
    nes_h1_imf_fixdate(1796083200, date);
    nes_h1_str dn = {"Date", 4}, dv = {date, NES_H1_DATE_LEN};
    nes_h1_str ctn = {"Content-Type", 12}, ctv = {"application/json", 16};
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        b.len = 0;
        if (nes_h1_write_status_line(&b, 1, 200, NULL) != 0 || nes_h1_write_header(&b, dn, dv) ||
            nes_h1_write_header(&b, ctn, ctv) ||
            nes_h1_write_header_u64(&b, "Content-Length", 2677) || nes_h1_write_end(&b))
            abort();
    }
    double t = bench_now_ns() - t0;
    nes_buf_free(&b);
    return t;
}

static double fixdate(long n)
{
    char out[NES_H1_DATE_LEN + 1];
    unsigned sum = 0;
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        nes_h1_imf_fixdate(1796083200 + i, out);
        sum += (unsigned char)out[24];
    }
    double t = bench_now_ns() - t0;
    if (sum == 1)
        puts("");
    return t;
}

/* A 1 MiB body in 4 KiB chunks, decoded in place (the encoded copy is restored each round). */
static char *chunked_src, *chunked_work;
static size_t chunked_len;
enum { BODY = 1 << 20, CHUNK = 4096 };

static double chunked_1mib(long n)
{
    double total = 0;
    for (long i = 0; i < n; i++) {
        memcpy(chunked_work, chunked_src, chunked_len);
        double t0 = bench_now_ns();
        nes_h1_chunked c;
        nes_h1_chunked_init(&c, NULL);
        size_t used, out_len;
        if (nes_h1_chunked_decode(&c, chunked_work, chunked_len, &used, chunked_work, chunked_len,
                                  &out_len, NULL) != 1 ||
            out_len != BODY)
            abort();
        total += bench_now_ns() - t0;
    }
    return total;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.5;
    chunked_src = malloc(BODY + BODY / CHUNK * 16 + 16);
    chunked_work = malloc(BODY + BODY / CHUNK * 16 + 16);
    if (chunked_src == NULL || chunked_work == NULL)
        return 1;
    for (size_t off = 0; off < BODY; off += CHUNK) {
        chunked_len += (size_t)sprintf(chunked_src + chunked_len, "%x\r\n", CHUNK);
        memset(chunked_src + chunked_len, 'a' + (int)(off / CHUNK % 26), CHUNK);
        chunked_len += CHUNK;
        memcpy(chunked_src + chunked_len, "\r\n", 2);
        chunked_len += 2;
    }
    memcpy(chunked_src + chunked_len, "0\r\n\r\n", 5);
    chunked_len += 5;

    printf("HTTP/1.1 codec, %.2f s per case\n", secs);
    printf("%-34s %10s\n", "operation", "cost");
    char label[64];
    snprintf(label, sizeof label, "parse /encrypt head (%zu B)", sizeof ENCRYPT_HEAD - 1);
    double e = per_op(secs, parse_encrypt, label, "ns");
    snprintf(label, sizeof label, "parse browser head (%zu B)", sizeof BROWSER_HEAD - 1);
    double b = per_op(secs, parse_browser, label, "ns");
    per_op(secs, head_end_browser, "nes_h1_head_end, browser head", "ns");
    per_op(secs, write_response, "write 200 head (Date, CT, CL)", "ns");
    per_op(secs, fixdate, "nes_h1_imf_fixdate", "ns");
    double c = per_op(secs / 4, chunked_1mib, "chunked decode 1 MiB / 4 KiB chunks", "ns");
    printf("%-34s %10.0f MB/s\n", "  = chunked decode", BODY / c * 1e3);
    printf("%-34s %10.2f ns/B, %.2f ns/B\n", "  = head parsing", e / (sizeof ENCRYPT_HEAD - 1),
           b / (sizeof BROWSER_HEAD - 1));
    free(chunked_src);
    free(chunked_work);
    return 0;
}
