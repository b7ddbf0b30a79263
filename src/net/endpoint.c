/* endpoint.c - endpoint URI parsing, listening and connecting (see endpoint.h). */
#include "net/endpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "core/error.h"

/* Parses a decimal number of at most `max` with no sign, spaces or leading '+'. */
static int parse_uint(const char *s, size_t n, unsigned long max, unsigned long *out)
{
    if (n == 0 || n > 10)
        return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_tcp(const char *rest, nes_endpoint *ep, char *why, size_t why_len)
{
    const char *host = rest, *colon;
    size_t host_len;
    if (*rest == '[') {
        const char *close = strchr(rest, ']');
        if (close == NULL || close[1] != ':') {
            nes_msgf(why, why_len,
                     "tcp endpoint: unterminated IPv6 literal, want tcp://[ADDR]:PORT");
            return -1;
        }
        host = rest + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (colon == NULL) {
            nes_msgf(why, why_len, "tcp endpoint: missing port, want tcp://HOST:PORT");
            return -1;
        }
        host_len = (size_t)(colon - rest);
        if (memchr(rest, ':', host_len) != NULL) {
            nes_msgf(why, why_len, "tcp endpoint: IPv6 literals need brackets: tcp://[ADDR]:PORT");
            return -1;
        }
    }
    if (host_len == 0 || host_len > NES_EP_HOST_MAX) {
        nes_msgf(why, why_len, "tcp endpoint: host is empty or too long");
        return -1;
    }
    for (size_t i = 0; i < host_len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c >= 0x7f || c == '/' || c == '@' || c == '[' || c == ']') {
            nes_msgf(why, why_len, "tcp endpoint: host has an invalid character");
            return -1;
        }
    }
    unsigned long port;
    if (parse_uint(colon + 1, strlen(colon + 1), 65535, &port) != 0) {
        nes_msgf(why, why_len, "tcp endpoint: port must be a number 0-65535");
        return -1;
    }
    ep->kind = NES_EP_TCP;
    memcpy(ep->host, host, host_len);
    ep->host[host_len] = '\0';
    ep->port = (uint16_t)port;
    return 0;
}

static int parse_unix(const char *path, nes_endpoint *ep, char *why, size_t why_len)
{
    size_t n = strlen(path);
    if (n == 0) {
        nes_msgf(why, why_len, "unix endpoint: empty path, want unix:///path");
        return -1;
    }
    if (n > NES_EP_PATH_MAX) {
        nes_msgf(why, why_len, "unix endpoint: path longer than %d bytes", NES_EP_PATH_MAX);
        return -1;
    }
    ep->kind = NES_EP_UNIX;
    memcpy(ep->path, path, n + 1);
    return 0;
}

static int parse_vsock(const char *rest, nes_endpoint *ep, char *why, size_t why_len)
{
    const char *colon = strchr(rest, ':');
    if (colon == NULL) {
        nes_msgf(why, why_len, "vsock endpoint: missing port, want vsock://CID:PORT");
        return -1;
    }
    size_t cid_len = (size_t)(colon - rest);
    unsigned long cid, port;
    if (cid_len == 3 && strncmp(rest, "any", 3) == 0) {
        cid = NES_EP_VSOCK_ANY;
    } else if (parse_uint(rest, cid_len, 0xFFFFFFFFul, &cid) != 0) {
        nes_msgf(why, why_len, "vsock endpoint: CID must be a number or 'any'");
        return -1;
    }
    if (parse_uint(colon + 1, strlen(colon + 1), 0xFFFFFFFFul, &port) != 0) {
        nes_msgf(why, why_len, "vsock endpoint: port must be a number");
        return -1;
    }
    ep->kind = NES_EP_VSOCK;
    ep->cid = (uint32_t)cid;
    ep->vport = (uint32_t)port;
    return 0;
}

int nes_endpoint_parse(const char *uri, nes_endpoint *ep, char *why, size_t why_len)
{
    memset(ep, 0, sizeof(*ep));
    if (uri == NULL || *uri == '\0') {
        nes_msgf(why, why_len,
                 "empty endpoint, want tcp://HOST:PORT, unix:///path or vsock://CID:PORT");
        return -1;
    }
    if (strncmp(uri, "tcp://", 6) == 0)
        return parse_tcp(uri + 6, ep, why, why_len);
    if (strncmp(uri, "unix://", 7) == 0)
        return parse_unix(uri + 7, ep, why, why_len);
    if (strncmp(uri, "unix:", 5) == 0)
        return parse_unix(uri + 5, ep, why, why_len);
    if (strncmp(uri, "vsock://", 8) == 0)
        return parse_vsock(uri + 8, ep, why, why_len);
    nes_msgf(why, why_len,
             "unknown endpoint scheme, want tcp://HOST:PORT, unix:///path or vsock://CID:PORT");
    return -1;
}

const char *nes_endpoint_format(const nes_endpoint *ep, char *out, size_t out_len)
{
    if (out_len == 0)
        return out;
    switch (ep->kind) {
    case NES_EP_TCP:
        if (strchr(ep->host, ':') != NULL)
            snprintf(out, out_len, "tcp://[%s]:%u", ep->host, (unsigned)ep->port);
        else
            snprintf(out, out_len, "tcp://%s:%u", ep->host, (unsigned)ep->port);
        break;
    case NES_EP_UNIX:
        snprintf(out, out_len, "unix://%s", ep->path);
        break;
    case NES_EP_VSOCK:
        if (ep->cid == NES_EP_VSOCK_ANY)
            snprintf(out, out_len, "vsock://any:%u", (unsigned)ep->vport);
        else
            snprintf(out, out_len, "vsock://%u:%u", (unsigned)ep->cid, (unsigned)ep->vport);
        break;
    default:
        snprintf(out, out_len, "?");
    }
    return out;
}

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int listen_unix(const nes_endpoint *ep, int backlog, char *why, size_t why_len)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, ep->path, strlen(ep->path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        nes_msgf(why, why_len, "socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(ep->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(ep->path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        nes_msgf(why, why_len, "listen on %s: %s", ep->path, strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int listen_vsock(const nes_endpoint *ep, int backlog, char *why, size_t why_len)
{
    struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = ep->cid, .svm_port = ep->vport};
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        nes_msgf(why, why_len, "socket(AF_VSOCK): %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        nes_msgf(why, why_len, "listen on vsock port %u: %s", (unsigned)ep->vport, strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int resolve(const nes_endpoint *ep, int passive, struct addrinfo **res, char *why,
                   size_t why_len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    hints.ai_flags = passive ? AI_PASSIVE | AI_NUMERICSERV : AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)ep->port);
    int rc = getaddrinfo(ep->host, port, &hints, res);
    if (rc != 0) {
        nes_msgf(why, why_len, "resolve %s: %s", ep->host, gai_strerror(rc));
        errno = EINVAL;
        return -1;
    }
    return 0;
}

static int listen_tcp(const nes_endpoint *ep, int backlog, char *why, size_t why_len)
{
    struct addrinfo *res;
    if (resolve(ep, 1, &res, why, why_len) != 0)
        return -1;
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        nes_msgf(why, why_len, "listen on %s:%u: %s", ep->host, (unsigned)ep->port, strerror(e));
        errno = e;
    }
    return fd;
}

int nes_endpoint_listen(const nes_endpoint *ep, int backlog, char *why, size_t why_len)
{
    int fd;
    switch (ep->kind) {
    case NES_EP_TCP:
        fd = listen_tcp(ep, backlog, why, why_len);
        break;
    case NES_EP_UNIX:
        fd = listen_unix(ep, backlog, why, why_len);
        break;
    case NES_EP_VSOCK:
        fd = listen_vsock(ep, backlog, why, why_len);
        break;
    default:
        nes_msgf(why, why_len, "invalid endpoint");
        errno = EINVAL;
        return -1;
    }
    if (fd >= 0 && set_nonblocking(fd) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int nes_endpoint_connect(const nes_endpoint *ep, char *why, size_t why_len)
{
    int fd = -1, e = 0;
    if (ep->kind == NES_EP_UNIX) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        memcpy(sa.sun_path, ep->path, strlen(ep->path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            e = errno;
            close(fd);
            fd = -1;
            errno = e;
        }
    } else if (ep->kind == NES_EP_VSOCK) {
        struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = ep->cid, .svm_port = ep->vport};
        fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            e = errno;
            close(fd);
            fd = -1;
            errno = e;
        }
    } else if (ep->kind == NES_EP_TCP) {
        struct addrinfo *res;
        if (resolve(ep, 0, &res, why, why_len) != 0)
            return -1;
        for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
            fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                e = errno;
                continue;
            }
            if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
                break;
            e = errno;
            close(fd);
            fd = -1;
        }
        freeaddrinfo(res);
        errno = e;
    } else {
        errno = EINVAL;
    }
    if (fd < 0) {
        char uri[NES_EP_HOST_MAX + 32];
        nes_msgf(why, why_len, "connect to %s: %s", nes_endpoint_format(ep, uri, sizeof(uri)),
                 strerror(errno));
    }
    return fd;
}

int nes_endpoint_bound_port(int fd)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    if (ss.ss_family == AF_VSOCK)
        return (int)((struct sockaddr_vm *)&ss)->svm_port;
    return -1;
}
