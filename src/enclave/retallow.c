/* retallow.c - the return endpoint allowlist (see retallow.h). */
#include "enclave/retallow.h"

#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void say(char *why, size_t why_len, const char *msg, const char *entry, size_t len)
{
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "PROXY_RETURN_ALLOW: %s: '%.*s'", msg, (int)(len > 80 ? 80 : len),
                 entry);
}

/* A tcp literal to bytes: 0 with *family set, -1 for anything else (names). */
static int literal(const char *host, uint8_t addr[16], int *family)
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, host, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, host, addr) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

/* One entry s[0..len): appended to `out` (two for `peer`). 0 or -1 with why. */
static int parse_entry(const char *s, size_t len, nes_retallow *out, char *why, size_t why_len)
{
    if (len == 4 && memcmp(s, "peer", 4) == 0) {
        if (out->n + 2 > NES_RETALLOW_MAX) {
            say(why, why_len, "too many entries", s, len);
            return -1;
        }
        out->e[out->n++] =
            (nes_retallow_entry){.kind = NES_EP_VSOCK, .peer_host = true, .any_port = true};
        out->e[out->n++] =
            (nes_retallow_entry){.kind = NES_EP_TCP, .peer_host = true, .any_port = true};
        return 0;
    }
    if (out->n == NES_RETALLOW_MAX) {
        say(why, why_len, "too many entries", s, len);
        return -1;
    }
    char uri[NES_EP_HOST_MAX + 32];
    if (len >= sizeof(uri)) {
        say(why, why_len, "entry too long", s, len);
        return -1;
    }
    memcpy(uri, s, len);
    uri[len] = '\0';
    nes_retallow_entry e = {0};
    /* `*` port and `peer` host are ours: swap in placeholders the endpoint parser accepts */
    char *colon = strrchr(uri, ':');
    bool tcp = strncmp(uri, "tcp://", 6) == 0, vsock = strncmp(uri, "vsock://", 8) == 0;
    if ((tcp || vsock) && colon != NULL && strcmp(colon, ":*") == 0) {
        e.any_port = true;
        memcpy(colon, ":0", 3);
    }
    const char *hoststart = tcp ? uri + 6 : uri + 8;
    if ((tcp || vsock) && colon != NULL && (size_t)(colon - hoststart) == 4 &&
        memcmp(hoststart, "peer", 4) == 0) {
        e.peer_host = true;
        char tmp[sizeof(uri)];
        snprintf(tmp, sizeof(tmp), "%s%s%s", tcp ? "tcp://" : "vsock://", tcp ? "127.0.0.1" : "0",
                 colon);
        memcpy(uri, tmp, strlen(tmp) + 1);
    }
    nes_endpoint ep;
    if (nes_endpoint_parse(uri, &ep, NULL, 0) != 0) {
        say(why, why_len,
            "not an endpoint URI (vsock://CID:PORT, tcp://ADDRESS:PORT, unix:///path, "
            "peer; PORT may be *)",
            s, len);
        return -1;
    }
    e.kind = ep.kind;
    if (ep.kind == NES_EP_TCP) {
        if (!e.peer_host && literal(ep.host, e.addr, &e.family) != 0) {
            say(why, why_len, "a tcp entry needs an address, not a name", s, len);
            return -1;
        }
        e.port = ep.port;
    } else if (ep.kind == NES_EP_VSOCK) {
        if (!e.peer_host && ep.cid == NES_EP_VSOCK_ANY) {
            say(why, why_len, "a vsock entry needs a CID or peer, not any", s, len);
            return -1;
        }
        e.cid = ep.cid;
        e.vport = ep.vport;
    } else {
        memcpy(e.path, ep.path, sizeof(e.path));
    }
    out->e[out->n++] = e;
    return 0;
}

int nes_retallow_parse(const char *list, nes_retallow *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    const char *p = list != NULL ? list : "";
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0) {
            say(why, why_len, "empty entry", p, 0);
            return -1;
        }
        if (parse_entry(p, len, out, why, why_len) != 0)
            return -1;
        if (end == NULL)
            return 0;
        p = end + 1;
    }
}

static bool entry_match(const nes_retallow_entry *e, const nes_endpoint *ep, int family,
                        const uint8_t addr[16], const nes_retallow_peer *peer)
{
    if (e->kind != ep->kind)
        return false;
    if (ep->kind == NES_EP_UNIX)
        return strcmp(e->path, ep->path) == 0;
    if (ep->kind == NES_EP_VSOCK) {
        uint32_t want = e->peer_host ? peer->cid : e->cid;
        if (e->peer_host && peer->family != AF_VSOCK)
            return false;
        return ep->cid == want && (e->any_port || ep->vport == e->vport);
    }
    const uint8_t *want = e->peer_host ? peer->addr : e->addr;
    int wfam = e->peer_host ? peer->family : e->family;
    if (wfam != family || (wfam != AF_INET && wfam != AF_INET6))
        return false;
    return memcmp(want, addr, family == AF_INET ? 4 : 16) == 0 &&
           (e->any_port || ep->port == e->port);
}

bool nes_retallow_match(const nes_retallow *a, const char *ret, const nes_retallow_peer *peer)
{
    nes_endpoint ep;
    if (ret == NULL || nes_endpoint_parse(ret, &ep, NULL, 0) != 0)
        return false;
    uint8_t addr[16] = {0};
    int family = 0;
    if (ep.kind == NES_EP_TCP && literal(ep.host, addr, &family) != 0)
        return false;
    if (ep.kind == NES_EP_VSOCK && ep.cid == NES_EP_VSOCK_ANY)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (entry_match(&a->e[i], &ep, family, addr, peer))
            return true;
    return false;
}
