/* bridge.c - an abstract-namespace Unix listener relayed to an endpoint (see bridge.h). */
#include "net/bridge.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/error.h"

struct nes_bridge {
    nes_relay *relay;
    char name[NES_BRIDGE_NAME_MAX + 1];
    char path[NES_BRIDGE_NAME_MAX + 2];
};

static _Atomic unsigned g_seq;

/* The sockaddr of abstract name `name`; returns its length. */
static socklen_t abstract_addr(const char *name, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    size_t n = strlen(name);
    memcpy(sa->sun_path + 1, name, n); /* sun_path[0] stays NUL: the abstract namespace */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

nes_bridge *nes_bridge_start(const nes_endpoint *target, const nes_relay_opts *opts, char *why,
                             size_t why_len)
{
    nes_bridge *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        nes_msgf(why, why_len, "out of memory");
        return NULL;
    }
    snprintf(b->name, sizeof(b->name), "nes-bridge-%ld-%u", (long)getpid(),
             atomic_fetch_add(&g_seq, 1));
    snprintf(b->path, sizeof(b->path), "@%s", b->name);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    socklen_t len = abstract_addr(b->name, &sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) != 0 || listen(fd, 128) != 0) {
        nes_msgf(why, why_len, "bridge listen on %s: %s", b->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(b);
        return NULL;
    }
    nes_relay_opts o = {.threads = 1};
    if (opts != NULL)
        o = *opts;
    if (o.threads == 0)
        o.threads = 1;
    nes_relay_listener l = {.fd = fd, .target = target, .name = "bridge"};
    b->relay = nes_relay_start(&o, &l, 1, NULL, NULL, why, why_len);
    if (b->relay == NULL) {
        free(b);
        return NULL;
    }
    return b;
}

const char *nes_bridge_name(const nes_bridge *b)
{
    return b->name;
}

const char *nes_bridge_path(const nes_bridge *b)
{
    return b->path;
}

int nes_bridge_connect(const nes_bridge *b)
{
    struct sockaddr_un sa;
    socklen_t len = abstract_addr(b->name, &sa);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

void nes_bridge_stats(const nes_bridge *b, nes_relay_stats *s)
{
    nes_relay_stats_get(b->relay, s);
}

void nes_bridge_stop(nes_bridge *b, unsigned grace_ms)
{
    if (b == NULL)
        return;
    nes_relay_drain(b->relay, grace_ms);
    nes_relay_free(b->relay);
    free(b);
}
