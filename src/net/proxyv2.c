/* proxyv2.c - PROXY protocol v2 parse and build (see proxyv2.h). */
#include "net/proxyv2.h"

#include <string.h>
#include <netinet/in.h>
#include <sys/un.h>

static const uint8_t SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* Bytes of the address block each family needs. */
static size_t addr_block_len(nes_pp2_family f)
{
    switch (f) {
    case NES_PP2_AF_INET:
        return 12;
    case NES_PP2_AF_INET6:
        return 36;
    case NES_PP2_AF_UNIX:
        return 216;
    default:
        return 0;
    }
}

static size_t addr_len(nes_pp2_family f)
{
    return f == NES_PP2_AF_INET ? 4 : f == NES_PP2_AF_INET6 ? 16 : f == NES_PP2_AF_UNIX ? 108 : 0;
}

uint32_t nes_pp2_crc32c(const uint8_t *buf, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The CRC32C of the header with the 4 value bytes at `at` taken as zero. */
static uint32_t crc_with_hole(const uint8_t *buf, size_t len, size_t at)
{
    uint8_t hdr[NES_PP2_MAX_LEN];
    memcpy(hdr, buf, len);
    memset(hdr + at, 0, 4);
    return nes_pp2_crc32c(hdr, len);
}

static nes_pp2_result fail(nes_err *err, size_t off, const char *why)
{
    nes_err_set(err, NES_ERR_LIMIT, off, "PROXY v2 header: %s at byte %zu", why, off);
    return NES_PP2_ERROR;
}

static int printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return 0;
    return 1;
}

/* Walks the TLVs of buf[off..end). */
static nes_pp2_result walk_tlvs(const uint8_t *buf, size_t off, size_t end, nes_pp2 *out,
                                nes_err *err)
{
    while (off < end) {
        if (end - off < 3)
            return fail(err, off, "truncated TLV");
        uint8_t type = buf[off];
        uint16_t vlen = (uint16_t)(buf[off + 1] << 8 | buf[off + 2]);
        if ((size_t)vlen > end - off - 3)
            return fail(err, off, "TLV runs past the header length");
        if (out->ntlv == NES_PP2_TLV_MAX)
            return fail(err, off, "too many TLVs");
        const uint8_t *v = buf + off + 3;
        if (type == NES_PP2_TYPE_CRC32C) {
            if (vlen != 4)
                return fail(err, off, "CRC32C TLV of the wrong length");
            uint32_t want =
                (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
            if (crc_with_hole(buf, end, off + 3) != want)
                return fail(err, off, "CRC32C mismatch");
        } else if (type == NES_PP2_TYPE_RETURN) {
            if (out->ret != NULL)
                return fail(err, off, "second return-endpoint TLV");
            if (vlen == 0 || vlen > NES_PP2_RETURN_MAX || !printable(v, vlen))
                return fail(err, off, "return-endpoint TLV is empty, too long or not ASCII");
            out->ret = v;
            out->ret_len = vlen;
        }
        out->tlv[out->ntlv++] = (nes_pp2_tlv){.type = type, .len = vlen, .value = v};
        off += 3 + (size_t)vlen;
    }
    return NES_PP2_DONE;
}

nes_pp2_result nes_pp2_parse(const uint8_t *buf, size_t len, nes_pp2 *out, size_t *consumed,
                             nes_err *err)
{
    memset(out, 0, sizeof(*out));
    *consumed = 0;
    size_t sig = len < sizeof(SIG) ? len : sizeof(SIG);
    for (size_t i = 0; i < sig; i++)
        if (buf[i] != SIG[i])
            return fail(err, i, "bad signature");
    if (len < 13)
        return NES_PP2_NEED_MORE;
    if ((buf[12] >> 4) != 2)
        return fail(err, 12, "version is not 2");
    if ((buf[12] & 0x0F) > NES_PP2_PROXY)
        return fail(err, 12, "unknown command");
    if (len < 14)
        return NES_PP2_NEED_MORE;
    unsigned fam = buf[13] >> 4, tp = buf[13] & 0x0F;
    if (fam > NES_PP2_AF_UNIX)
        return fail(err, 13, "unknown address family");
    if (tp > NES_PP2_TP_DGRAM)
        return fail(err, 13, "unknown transport");
    if (len < NES_PP2_FIXED_LEN)
        return NES_PP2_NEED_MORE;
    size_t body = (size_t)buf[14] << 8 | buf[15];
    if (body > NES_PP2_MAX_LEN - NES_PP2_FIXED_LEN)
        return fail(err, 14, "header length over the limit");
    out->cmd = (nes_pp2_cmd)(buf[12] & 0x0F);
    out->family = (nes_pp2_family)fam;
    out->transport = (nes_pp2_transport)tp;
    size_t ab = addr_block_len(out->family);
    if (body < ab)
        return fail(err, 14, "header length shorter than the address block");
    size_t end = NES_PP2_FIXED_LEN + body;
    if (len < end)
        return NES_PP2_NEED_MORE;
    const uint8_t *a = buf + NES_PP2_FIXED_LEN;
    size_t al = addr_len(out->family);
    if (al > 0) {
        memcpy(out->src_addr, a, al);
        memcpy(out->dst_addr, a + al, al);
        if (out->family != NES_PP2_AF_UNIX) {
            out->src_port = (uint16_t)(a[2 * al] << 8 | a[2 * al + 1]);
            out->dst_port = (uint16_t)(a[2 * al + 2] << 8 | a[2 * al + 3]);
        }
    }
    if (walk_tlvs(buf, NES_PP2_FIXED_LEN + ab, end, out, err) != NES_PP2_DONE) {
        memset(out, 0, sizeof(*out));
        return NES_PP2_ERROR;
    }
    *consumed = end;
    return NES_PP2_DONE;
}

void nes_pp2_from_sockaddrs(nes_pp2 *h, const struct sockaddr *src, const struct sockaddr *dst)
{
    memset(h, 0, sizeof(*h));
    h->cmd = NES_PP2_PROXY;
    h->transport = NES_PP2_TP_STREAM;
    h->family = NES_PP2_AF_UNSPEC;
    if (src == NULL || dst == NULL || src->sa_family != dst->sa_family)
        return;
    if (src->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)src;
        const struct sockaddr_in *d = (const struct sockaddr_in *)(const void *)dst;
        h->family = NES_PP2_AF_INET;
        memcpy(h->src_addr, &s->sin_addr, 4);
        memcpy(h->dst_addr, &d->sin_addr, 4);
        h->src_port = ntohs(s->sin_port);
        h->dst_port = ntohs(d->sin_port);
    } else if (src->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)src;
        const struct sockaddr_in6 *d = (const struct sockaddr_in6 *)(const void *)dst;
        h->family = NES_PP2_AF_INET6;
        memcpy(h->src_addr, &s->sin6_addr, 16);
        memcpy(h->dst_addr, &d->sin6_addr, 16);
        h->src_port = ntohs(s->sin6_port);
        h->dst_port = ntohs(d->sin6_port);
    } else if (src->sa_family == AF_UNIX) {
        const struct sockaddr_un *s = (const struct sockaddr_un *)(const void *)src;
        const struct sockaddr_un *d = (const struct sockaddr_un *)(const void *)dst;
        h->family = NES_PP2_AF_UNIX;
        memcpy(h->src_addr, s->sun_path, 108);
        memcpy(h->dst_addr, d->sun_path, 108);
    }
}

int nes_pp2_add_tlv(nes_pp2 *h, uint8_t type, const void *value, uint16_t len)
{
    if (h->ntlv == NES_PP2_TLV_MAX)
        return -1;
    h->tlv[h->ntlv++] = (nes_pp2_tlv){.type = type, .len = len, .value = value};
    if (type == NES_PP2_TYPE_RETURN) {
        h->ret = value;
        h->ret_len = len;
    }
    return 0;
}

int nes_pp2_build(const nes_pp2 *h, uint8_t *out, size_t cap)
{
    if (h->cmd > NES_PP2_PROXY || h->family > NES_PP2_AF_UNIX || h->transport > NES_PP2_TP_DGRAM ||
        h->ntlv > NES_PP2_TLV_MAX)
        return -1;
    size_t total = NES_PP2_FIXED_LEN + addr_block_len(h->family);
    for (size_t i = 0; i < h->ntlv; i++)
        total += 3 + (size_t)h->tlv[i].len;
    if (total > NES_PP2_MAX_LEN || total > cap)
        return -1;
    memcpy(out, SIG, sizeof(SIG));
    out[12] = (uint8_t)(0x20 | h->cmd);
    out[13] = (uint8_t)(h->family << 4 | h->transport);
    out[14] = (uint8_t)((total - NES_PP2_FIXED_LEN) >> 8);
    out[15] = (uint8_t)(total - NES_PP2_FIXED_LEN);
    size_t o = NES_PP2_FIXED_LEN, al = addr_len(h->family);
    if (al > 0) {
        memcpy(out + o, h->src_addr, al);
        memcpy(out + o + al, h->dst_addr, al);
        o += 2 * al;
        if (h->family != NES_PP2_AF_UNIX) {
            out[o++] = (uint8_t)(h->src_port >> 8);
            out[o++] = (uint8_t)h->src_port;
            out[o++] = (uint8_t)(h->dst_port >> 8);
            out[o++] = (uint8_t)h->dst_port;
        }
    }
    for (size_t i = 0; i < h->ntlv; i++) {
        out[o++] = h->tlv[i].type;
        out[o++] = (uint8_t)(h->tlv[i].len >> 8);
        out[o++] = (uint8_t)h->tlv[i].len;
        if (h->tlv[i].len > 0)
            memcpy(out + o, h->tlv[i].value, h->tlv[i].len);
        o += h->tlv[i].len;
    }
    return (int)o;
}
