/* writer.c - HTTP/1.1 head serialisation and IMF-fixdate (see writer.h). */
#include "http/writer.h"

#include "http/h1_int.h"

#include <string.h>

const char *nes_h1_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* A field value, reason or target as writers accept it: `cls` bytes, no whitespace at either
 * end. */
static int clean(nes_h1_str s, int cls, int allow_empty)
{
    if (s.len == 0)
        return allow_empty;
    for (size_t i = 0; i < s.len; i++)
        if (!h1_is((unsigned char)s.p[i], cls))
            return 0;
    return s.p[0] != ' ' && s.p[0] != '\t' && s.p[s.len - 1] != ' ' && s.p[s.len - 1] != '\t';
}

static int put(nes_buf *b, const char *p, size_t n)
{
    return nes_buf_append(b, p, n);
}

/* Decimal digits of v into the end of tmp[24]; returns the first digit's index. */
static size_t dec(uint64_t v, char tmp[24])
{
    size_t i = 24;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return i;
}

int nes_h1_write_status_line(nes_buf *b, int minor, int status, const char *reason)
{
    if (status < 100 || status > 999 || (minor != 0 && minor != 1))
        return -1;
    nes_h1_str r = {reason ? reason : nes_h1_reason(status), 0};
    r.len = strlen(r.p);
    if (!clean(r, H1_FVAL, 1))
        return -1;
    char line[16] = "HTTP/1.1 000 ";
    line[7] = (char)('0' + minor);
    line[9] = (char)('0' + status / 100);
    line[10] = (char)('0' + status / 10 % 10);
    line[11] = (char)('0' + status % 10);
    if (nes_buf_reserve(b, 13 + r.len + 2) != 0)
        return -1;
    put(b, line, 13);
    put(b, r.p, r.len);
    return put(b, "\r\n", 2);
}

int nes_h1_write_request_line(nes_buf *b, nes_h1_str method, nes_h1_str target)
{
    if (!nes_h1_is_token(method) || !clean(target, H1_VCHAR, 0))
        return -1;
    if (nes_buf_reserve(b, method.len + target.len + 11) != 0)
        return -1;
    put(b, method.p, method.len);
    put(b, " ", 1);
    put(b, target.p, target.len);
    return put(b, " HTTP/1.1\r\n", 11);
}

int nes_h1_write_header(nes_buf *b, nes_h1_str name, nes_h1_str value)
{
    if (!nes_h1_is_token(name) || !clean(value, H1_FVAL, 1))
        return -1;
    if (nes_buf_reserve(b, name.len + value.len + 4) != 0)
        return -1;
    put(b, name.p, name.len);
    put(b, ": ", 2);
    put(b, value.p, value.len);
    return put(b, "\r\n", 2);
}

int nes_h1_write_header_u64(nes_buf *b, const char *name, uint64_t v)
{
    char tmp[24];
    size_t i = dec(v, tmp);
    nes_h1_str n = {name, strlen(name)}, val = {tmp + i, 24 - i};
    return nes_h1_write_header(b, n, val);
}

int nes_h1_write_end(nes_buf *b)
{
    return put(b, "\r\n", 2);
}

int nes_h1_write_chunk_size(nes_buf *b, uint64_t n)
{
    if (n == 0)
        return -1;
    char tmp[18];
    size_t i = 16;
    tmp[16] = '\r';
    tmp[17] = '\n';
    while (n != 0) {
        tmp[--i] = "0123456789abcdef"[n & 15];
        n >>= 4;
    }
    return put(b, tmp + i, 18 - i);
}

int nes_h1_write_last_chunk(nes_buf *b)
{
    return put(b, "0\r\n\r\n", 5);
}

size_t nes_h1_imf_fixdate(int64_t t, char out[NES_H1_DATE_LEN + 1])
{
    /* 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z */
    if (t < INT64_C(-62135596800) || t > INT64_C(253402300799))
        return 0;
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    /* Weekday: 1970-01-01 was a Thursday (index 4 with Sunday 0). */
    int wd = (int)(((days % 7) + 11) % 7);
    /* Civil date from days since the epoch, counting in 400-year eras that start on March 1
     * (so the leap day is the last day of the shifted year). */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* 0 .. 146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0 .. 399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0 .. 365 */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    int day = (int)(doy - (153 * mp + 2) / 5 + 1);
    int month = (int)(mp < 10 ? mp + 3 : mp - 9);
    int year = (int)(yoe + era * 400 + (month <= 2));
    static const char wdays[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int hh = (int)(secs / 3600), mm = (int)(secs / 60 % 60), ss = (int)(secs % 60);
    char *o = out;
    memcpy(o, wdays + (size_t)wd * 3, 3);
    o[3] = ',';
    o[4] = ' ';
    o[5] = (char)('0' + day / 10);
    o[6] = (char)('0' + day % 10);
    o[7] = ' ';
    memcpy(o + 8, months + (size_t)(month - 1) * 3, 3);
    o[11] = ' ';
    o[12] = (char)('0' + year / 1000);
    o[13] = (char)('0' + year / 100 % 10);
    o[14] = (char)('0' + year / 10 % 10);
    o[15] = (char)('0' + year % 10);
    o[16] = ' ';
    o[17] = (char)('0' + hh / 10);
    o[18] = (char)('0' + hh % 10);
    o[19] = ':';
    o[20] = (char)('0' + mm / 10);
    o[21] = (char)('0' + mm % 10);
    o[22] = ':';
    o[23] = (char)('0' + ss / 10);
    o[24] = (char)('0' + ss % 10);
    memcpy(o + 25, " GMT", 5); /* with the NUL */
    return NES_H1_DATE_LEN;
}
