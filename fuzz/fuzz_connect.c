/* fuzz_connect - libFuzzer target for the CONNECT head parser (src/proxy/connect.c).
 *
 * Properties: no crash; an accepted head ends with LF inside the input and the bound,
 * names a valid host and a port 1-65535; the result never depends on bytes after the head;
 * a refusal has a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/connect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t max = 1024;
    nes_connect_req r;
    nes_connect_result rc = nes_connect_parse(data, size, max, &r);
    if (rc == NES_CONNECT_MORE)
        return size >= max ? (abort(), 0) : 0;
    if (rc != NES_CONNECT_OK) {
        if (r.why == NULL)
            abort();
        return 0;
    }
    if (r.head_len < 2 || r.head_len > size || r.head_len > max || data[r.head_len - 1] != '\n' ||
        r.port == 0 || !nes_host_valid(r.host, strlen(r.host)))
        abort();
    nes_connect_req again;
    if (nes_connect_parse(data, r.head_len, max, &again) != NES_CONNECT_OK ||
        strcmp(again.host, r.host) != 0 || again.port != r.port)
        abort();
    return 0;
}
