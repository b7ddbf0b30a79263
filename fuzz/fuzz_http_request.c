/* fuzz_http_request.c - the request parser and chunked decoder as a server uses them
 * (tests/http_driver.h), differentially: the same bytes fed whole, split at a fuzzer-chosen
 * point, gated by nes_h1_head_end, through a small chunk buffer and byte by byte must give the
 * same events. Also: a parsed head lies inside the input, within the limit, and ends where
 * nes_h1_head_end says. Input layout: see h1d_fuzz_differential. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "http_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h1d_fuzz_differential(data, size, 0);
    if (size < 3)
        return 0;
    const char *in = (const char *)data + 3;
    size_t len = size - 3, scan = 0;
    static nes_h1_request req;
    nes_h1_error e = {0};
    int n = nes_h1_parse_request(in, len, NULL, &req, &e);
    if (n > 0) {
        if ((size_t)n > len || (size_t)n > nes_h1_limits_default.max_head_bytes ||
            nes_h1_head_end(in, len, &scan) != (size_t)n || req.nheaders > NES_H1_MAX_HEADERS)
            abort();
        for (size_t i = 0; i < req.nheaders; i++)
            if (req.headers[i].value.p < in ||
                req.headers[i].value.p + req.headers[i].value.len > in + n)
                abort();
    } else if (n < 0 && (e.reason == NULL || e.status < 400 || e.status > 505 || e.offset > len)) {
        abort();
    }
    return 0;
}
