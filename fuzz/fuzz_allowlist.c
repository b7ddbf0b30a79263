/* fuzz_allowlist - libFuzzer target for the egress allowlist parser (src/proxy/allowlist.c).
 *
 * Properties: no crash or leak on any YAML; an accepted list holds only valid host names with
 * ports 1-65535, and each exact entry matches itself (and a wildcard entry a name under it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fyaml_leak.h"
#include "proxy/allowlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nes_allowlist al;
    char why[200];
    if (nes_allowlist_parse((const char *)data, size, &al, why, sizeof(why)) != 0) {
        if (al.e != NULL || why[0] == '\0')
            abort();
        return 0;
    }
    for (size_t i = 0; i < al.n; i++) {
        const nes_allow_entry *e = &al.e[i];
        size_t n = strlen(e->host);
        if (e->port == 0 || !nes_host_valid(e->host, n))
            abort();
        char name[NES_HOST_MAX + 8];
        if (e->wildcard) {
            if (n + 2 > NES_HOST_MAX)
                continue;
            name[0] = 'x';
            name[1] = '.';
            memcpy(name + 2, e->host, n);
            n += 2;
        } else {
            memcpy(name, e->host, n);
        }
        if (!nes_allowlist_match(&al, name, n, e->port))
            abort();
    }
    nes_allowlist_free(&al);
    return 0;
}
