/* fuzz_retallow - libFuzzer target for PROXY_RETURN_ALLOW (src/enclave/retallow.c): the list is
 * operator input, the return endpoint it is matched against comes from a PROXY v2 header (anyone
 * who reaches the port).
 *
 * Input: the list, a newline, the return endpoint URI. Properties: no crash or leak; a refused
 * list says why (naming the setting); an accepted one has 1..NES_RETALLOW_MAX entries; an exact
 * tcp or vsock entry matches its own URI and, with a different port, only when another entry
 * admits it. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "enclave/retallow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *in = malloc(size + 1);
    if (in == NULL)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    char *nl = memchr(in, '\n', size);
    const char *ret = "";
    if (nl != NULL) {
        *nl = '\0';
        ret = nl + 1;
    }
    nes_retallow a;
    char why[200] = "";
    nes_retallow_peer peer = {.family = AF_INET, .addr = {127, 0, 0, 1}};
    if (nes_retallow_parse(in, &a, why, sizeof(why)) != 0) {
        if (strstr(why, "PROXY_RETURN_ALLOW") == NULL)
            abort();
        free(in);
        return 0;
    }
    if (a.n == 0 || a.n > NES_RETALLOW_MAX)
        abort();
    (void)nes_retallow_match(&a, ret, &peer);
    for (size_t i = 0; i < a.n; i++) {
        const nes_retallow_entry *e = &a.e[i];
        if (e->peer_host || e->any_port || e->kind == NES_EP_UNIX)
            continue;
        char uri[NES_EP_HOST_MAX + 32], host[64];
        if (e->kind == NES_EP_VSOCK) {
            snprintf(uri, sizeof(uri), "vsock://%u:%u", e->cid, e->vport);
        } else {
            if (inet_ntop(e->family, e->addr, host, sizeof(host)) == NULL)
                abort();
            snprintf(uri, sizeof(uri), e->family == AF_INET6 ? "tcp://[%s]:%u" : "tcp://%s:%u",
                     host, e->port);
        }
        if (!nes_retallow_match(&a, uri, &peer))
            abort();
    }
    free(in);
    return 0;
}
