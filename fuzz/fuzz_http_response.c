/* fuzz_http_response.c - the response parser and chunked decoder as proxy mode's upstream side
 * uses them (tests/http_driver.h), differentially: whole, split at a fuzzer-chosen point, gated,
 * small chunk buffer, byte by byte — the same events. Also: a refusal is always 502 with a
 * reason and an offset inside the input. Input layout: see h1d_fuzz_differential. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "http_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h1d_fuzz_differential(data, size, 1);
    if (size < 3)
        return 0;
    const char *in = (const char *)data + 3;
    size_t len = size - 3;
    static nes_h1_response res;
    nes_h1_error e = {0};
    int n = nes_h1_parse_response(in, len, NULL, NES_H1_M_GET, &res, &e);
    if (n > 0 && ((size_t)n > len || res.status < 100 || res.status > 599))
        abort();
    if (n < 0 && (e.status != 502 || e.reason == NULL || e.offset > len))
        abort();
    return 0;
}
