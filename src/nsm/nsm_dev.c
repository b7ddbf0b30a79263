/* nsm_dev.c - the real Nitro Secure Module: /dev/nsm and its one ioctl (see nsm.h).
 *
 * The request layout is the Linux uapi header include/uapi/linux/nsm.h (mainline since 6.8,
 * drivers/misc/nsm.c), defined here because bookworm's linux-libc-dev (6.1) does not ship it:
 *
 *   #define NSM_MAGIC              0x0A
 *   #define NSM_REQUEST_MAX_SIZE   0x1000
 *   #define NSM_RESPONSE_MAX_SIZE  0x3000
 *   struct nsm_iovec { __u64 addr; __u64 len; };
 *   struct nsm_raw   { struct nsm_iovec request; struct nsm_iovec response; };
 *   #define NSM_IOCTL_RAW          _IOWR(NSM_MAGIC, 0x0, struct nsm_raw)
 *
 * The kernel copies `request.len` bytes in, writes the CBOR answer to the response buffer and
 * sets `response.len` to its length. The pre-6.8 out-of-tree driver used by the Nitro Enclaves
 * SDK (aws-nitro-enclaves-nsm-api: struct NsmMessage { struct iovec request, response; } with
 * _IOWR(0x0A, 0, NsmMessage)) has the same layout and number on 64-bit Linux. */
#include <errno.h>
#include <fcntl.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/error.h"
#include "nsm/nsm.h"

#define NSM_MAGIC 0x0A
#define NSM_REQUEST_MAX_SIZE 0x1000
#define NSM_RESPONSE_MAX_SIZE 0x3000

struct nsm_iovec {
    __u64 addr;
    __u64 len;
};

struct nsm_raw {
    struct nsm_iovec request;
    struct nsm_iovec response;
};

#define NSM_IOCTL_RAW _IOWR(NSM_MAGIC, 0x0, struct nsm_raw)

_Static_assert(sizeof(struct nsm_raw) == 32, "nsm_raw is four 64-bit words");
_Static_assert(NSM_RESPONSE_MAX_SIZE == NES_NSM_MAX_MSG, "answer bound = driver bound");

typedef struct dev {
    int fd;
} dev;

void *nes_nsm_dev_open(const char *path, char *why, size_t why_len)
{
    dev *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        nes_msgf(why, why_len, "NSM: out of memory");
        return NULL;
    }
    d->fd = open(path, O_RDWR | O_CLOEXEC);
    if (d->fd < 0) {
        nes_msgf(why, why_len, "NSM: cannot open %s: %s (NSM_DEVICE=test:DIR selects the test NSM)",
                 path, strerror(errno));
        free(d);
        return NULL;
    }
    return d;
}

int nes_nsm_dev_transact(void *impl, const uint8_t *req, size_t req_len, nes_buf *ans, char *why,
                         size_t why_len)
{
    dev *d = impl;
    if (req_len > NSM_REQUEST_MAX_SIZE) {
        nes_msgf(why, why_len, "NSM: request of %zu bytes (at most %d)", req_len,
                 NSM_REQUEST_MAX_SIZE);
        return -1;
    }
    if (nes_buf_reserve(ans, NSM_RESPONSE_MAX_SIZE) != 0) {
        nes_msgf(why, why_len, "NSM: out of memory");
        return -1;
    }
    struct nsm_raw raw = {
        .request = {(__u64)(uintptr_t)req, req_len},
        .response = {(__u64)(uintptr_t)(ans->data + ans->len), NSM_RESPONSE_MAX_SIZE},
    };
    int rc;
    do {
        rc = ioctl(d->fd, NSM_IOCTL_RAW, &raw);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        nes_msgf(why, why_len, "NSM: ioctl failed: %s", strerror(errno));
        return -1;
    }
    if (raw.response.len > NSM_RESPONSE_MAX_SIZE) {
        nes_msgf(why, why_len, "NSM: answer length %llu out of range",
                 (unsigned long long)raw.response.len);
        return -1;
    }
    ans->len += (size_t)raw.response.len;
    return 0;
}

void nes_nsm_dev_close(void *impl)
{
    dev *d = impl;
    if (d == NULL)
        return;
    close(d->fd);
    free(d);
}
