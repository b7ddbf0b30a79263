/* test_proxyv2.c - PROXY v2 parse and build: a table of wire cases (hex) with the expected
 * outcome and error offset, round trips, prefixes, and the sockaddr mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cmocka.h>

#include "../../testutil.h"
#include "net/proxyv2.h"

#define SIG "0d0a0d0a000d0a515549540a"

typedef struct pcase {
    const char *name;
    const char *hex;
    int result;      /* NES_PP2_DONE / NEED_MORE / ERROR */
    size_t offset;   /* ERROR: the offset reported */
    int ntlv;        /* DONE: TLV count */
    const char *ret; /* DONE: return URI or NULL */
} pcase;

static const pcase cases[] = {
    {"inet proxy, no TLV",
     SIG "21"
         "11"
         "000c"
         "7f000001"
         "0a000002"
         "1f90"
         "01bb",
     NES_PP2_DONE, 0, 0, NULL},
    {"inet with return TLV",
     SIG "21"
         "11"
         "0017"
         "7f000001"
         "0a000002"
         "1f90"
         "01bb"
         "e00008"
         "7463703a2f2f6869",
     NES_PP2_DONE, 0, 1, "tcp://hi"},
    {"local, unspec",
     SIG "20"
         "00"
         "0000",
     NES_PP2_DONE, 0, 0, NULL},
    {"unspec with a noop TLV",
     SIG "21"
         "00"
         "0005"
         "040002"
         "0000",
     NES_PP2_DONE, 0, 1, NULL},
    {"inet6",
     SIG "21"
         "21"
         "0024"
         "00000000000000000000000000000001"
         "00000000000000000000000000000001"
         "0050"
         "0051",
     NES_PP2_DONE, 0, 0, NULL},
    {"dgram transport parses",
     SIG "21"
         "12"
         "000c"
         "7f000001"
         "7f000001"
         "0001"
         "0002",
     NES_PP2_DONE, 0, 0, NULL},
    {"prefix of the signature", "0d0a0d0a00", NES_PP2_NEED_MORE, 0, 0, NULL},
    {"fixed part only",
     SIG "21"
         "11"
         "000c",
     NES_PP2_NEED_MORE, 0, 0, NULL},
    {"truncated address block",
     SIG "21"
         "11"
         "000c"
         "7f000001",
     NES_PP2_NEED_MORE, 0, 0, NULL},
    {"bad signature",
     "0d0a0d0a000d0a51554954ff"
     "21"
     "11"
     "0000",
     NES_PP2_ERROR, 11, 0, NULL},
    {"v1 text header", "50524f5859205443503420", NES_PP2_ERROR, 0, 0, NULL},
    {"version 1",
     SIG "11"
         "11"
         "000c",
     NES_PP2_ERROR, 12, 0, NULL},
    {"version 3",
     SIG "31"
         "11"
         "000c",
     NES_PP2_ERROR, 12, 0, NULL},
    {"command 2",
     SIG "22"
         "11"
         "000c",
     NES_PP2_ERROR, 12, 0, NULL},
    {"family 4",
     SIG "21"
         "41"
         "000c",
     NES_PP2_ERROR, 13, 0, NULL},
    {"transport 3",
     SIG "21"
         "13"
         "000c",
     NES_PP2_ERROR, 13, 0, NULL},
    {"length over the limit",
     SIG "21"
         "11"
         "ffff",
     NES_PP2_ERROR, 14, 0, NULL},
    {"length 1009 (limit 1008)",
     SIG "21"
         "00"
         "03f1",
     NES_PP2_ERROR, 14, 0, NULL},
    {"length shorter than inet block",
     SIG "21"
         "11"
         "0008"
         "7f0000017f000001",
     NES_PP2_ERROR, 14, 0, NULL},
    {"TLV truncated header",
     SIG "21"
         "11"
         "000e"
         "7f000001"
         "0a000002"
         "1f90"
         "01bb"
         "e000",
     NES_PP2_ERROR, 28, 0, NULL},
    {"TLV runs past length",
     SIG "21"
         "11"
         "0010"
         "7f000001"
         "0a000002"
         "1f90"
         "01bb"
         "e00005"
         "41",
     NES_PP2_ERROR, 28, 0, NULL},
    {"empty return TLV",
     SIG "21"
         "00"
         "0003"
         "e00000",
     NES_PP2_ERROR, 16, 0, NULL},
    {"return TLV with a control byte",
     SIG "21"
         "00"
         "0005"
         "e00002"
         "410a",
     NES_PP2_ERROR, 16, 0, NULL},
    {"two return TLVs",
     SIG "21"
         "00"
         "0008"
         "e00001"
         "41"
         "e00001"
         "42",
     NES_PP2_ERROR, 20, 0, NULL},
    {"CRC32C of the wrong length",
     SIG "21"
         "00"
         "0005"
         "030002"
         "0000",
     NES_PP2_ERROR, 16, 0, NULL},
    {"CRC32C mismatch",
     SIG "21"
         "00"
         "0007"
         "030004"
         "00000000",
     NES_PP2_ERROR, 16, 0, NULL},
};

static void table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const pcase *c = &cases[i];
        uint8_t buf[NES_PP2_MAX_LEN + 64];
        size_t n = strlen(c->hex) / 2;
        assert_int_equal(tu_unhex(c->hex, strlen(c->hex), buf), 0);
        nes_pp2 h;
        size_t used = 99;
        nes_err err;
        nes_err_clear(&err);
        nes_pp2_result r = nes_pp2_parse(buf, n, &h, &used, &err);
        if ((int)r != c->result)
            fail_msg("%s: result %d, want %d (%s)", c->name, (int)r, c->result, err.msg);
        if (r == NES_PP2_ERROR) {
            if (err.offset != c->offset)
                fail_msg("%s: offset %zu, want %zu", c->name, err.offset, c->offset);
            assert_true(strlen(err.msg) > 0);
        } else if (r == NES_PP2_DONE) {
            assert_int_equal(used, n);
            assert_int_equal(h.ntlv, c->ntlv);
            if (c->ret == NULL) {
                assert_null(h.ret);
            } else {
                assert_int_equal(h.ret_len, strlen(c->ret));
                assert_memory_equal(h.ret, c->ret, h.ret_len);
            }
            /* round trip */
            uint8_t out[NES_PP2_MAX_LEN];
            int bl = nes_pp2_build(&h, out, sizeof(out));
            assert_int_equal(bl, (int)n);
            assert_memory_equal(out, buf, n);
            /* every strict prefix needs more */
            for (size_t k = 0; k < n; k++)
                assert_int_equal(nes_pp2_parse(buf, k, &h, &used, NULL), NES_PP2_NEED_MORE);
        }
    }
}

static void inet_fields_and_trailing_stream(void **state)
{
    (void)state;
    const char *hex = SIG "21"
                          "11"
                          "000c"
                          "c0000201"
                          "0a000002"
                          "d431"
                          "20fb"
                          "474554";
    uint8_t buf[64];
    assert_int_equal(tu_unhex(hex, strlen(hex), buf), 0);
    nes_pp2 h;
    size_t used;
    assert_int_equal(nes_pp2_parse(buf, strlen(hex) / 2, &h, &used, NULL), NES_PP2_DONE);
    assert_int_equal(used, 28);
    assert_int_equal(h.cmd, NES_PP2_PROXY);
    assert_int_equal(h.family, NES_PP2_AF_INET);
    assert_int_equal(h.transport, NES_PP2_TP_STREAM);
    assert_memory_equal(h.src_addr, "\xc0\x00\x02\x01", 4);
    assert_int_equal(h.src_port, 54321);
    assert_int_equal(h.dst_port, 8443);
}

static void crc32c_known_value_and_valid_tlv(void **state)
{
    (void)state;
    /* RFC 3720 B.4: 32 bytes of zeros -> 0x8a9136aa */
    uint8_t z[32] = {0};
    assert_int_equal(nes_pp2_crc32c(z, sizeof(z)), 0x8a9136aau);
    assert_int_equal(nes_pp2_crc32c((const uint8_t *)"123456789", 9), 0xe3069283u);
    /* a header with a correct CRC32C TLV parses */
    const char *hex = SIG "21"
                          "00"
                          "0007"
                          "030004"
                          "00000000";
    uint8_t buf[32];
    size_t n = strlen(hex) / 2;
    assert_int_equal(tu_unhex(hex, strlen(hex), buf), 0);
    uint32_t crc = nes_pp2_crc32c(buf, n);
    buf[n - 4] = (uint8_t)(crc >> 24);
    buf[n - 3] = (uint8_t)(crc >> 16);
    buf[n - 2] = (uint8_t)(crc >> 8);
    buf[n - 1] = (uint8_t)crc;
    nes_pp2 h;
    size_t used;
    assert_int_equal(nes_pp2_parse(buf, n, &h, &used, NULL), NES_PP2_DONE);
    buf[n - 1] ^= 1;
    assert_int_equal(nes_pp2_parse(buf, n, &h, &used, NULL), NES_PP2_ERROR);
}

static void from_sockaddrs(void **state)
{
    (void)state;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(40000)};
    struct sockaddr_in b = {.sin_family = AF_INET, .sin_port = htons(8443)};
    inet_pton(AF_INET, "203.0.113.7", &a.sin_addr);
    inet_pton(AF_INET, "10.1.2.3", &b.sin_addr);
    nes_pp2 h;
    nes_pp2_from_sockaddrs(&h, (struct sockaddr *)&a, (struct sockaddr *)&b);
    const char uri[] = "vsock://3:5001";
    assert_int_equal(nes_pp2_add_tlv(&h, NES_PP2_TYPE_RETURN, uri, sizeof(uri) - 1), 0);
    uint8_t out[NES_PP2_MAX_LEN];
    int n = nes_pp2_build(&h, out, sizeof(out));
    assert_int_equal(n, 16 + 12 + 3 + 14);
    nes_pp2 p;
    size_t used;
    assert_int_equal(nes_pp2_parse(out, (size_t)n, &p, &used, NULL), NES_PP2_DONE);
    assert_int_equal(p.family, NES_PP2_AF_INET);
    assert_memory_equal(p.src_addr, &a.sin_addr, 4);
    assert_int_equal(p.src_port, 40000);
    assert_int_equal(p.ret_len, 14);
    assert_memory_equal(p.ret, uri, 14);

    struct sockaddr_in6 c6 = {.sin6_family = AF_INET6, .sin6_port = htons(1)};
    nes_pp2_from_sockaddrs(&h, (struct sockaddr *)&c6, (struct sockaddr *)&b);
    assert_int_equal(h.family, NES_PP2_AF_UNSPEC); /* mixed families */
    struct sockaddr_un u = {.sun_family = AF_UNIX, .sun_path = "/run/x"};
    nes_pp2_from_sockaddrs(&h, (struct sockaddr *)&u, (struct sockaddr *)&u);
    assert_int_equal(h.family, NES_PP2_AF_UNIX);
    n = nes_pp2_build(&h, out, sizeof(out));
    assert_int_equal(n, 16 + 216);
    /* too small a buffer, too many TLVs */
    assert_int_equal(nes_pp2_build(&h, out, 100), -1);
    for (int i = 0; i < NES_PP2_TLV_MAX; i++)
        nes_pp2_add_tlv(&h, NES_PP2_TYPE_NOOP, "", 0);
    assert_int_equal(nes_pp2_add_tlv(&h, NES_PP2_TYPE_NOOP, "", 0), -1);
}

static void too_many_tlvs(void **state)
{
    (void)state;
    uint8_t buf[128];
    char hex[300] = SIG "21"
                        "00"
                        "0033";
    for (int i = 0; i < NES_PP2_TLV_MAX + 1; i++)
        strcat(hex, "040000");
    assert_int_equal(tu_unhex(hex, strlen(hex), buf), 0);
    nes_pp2 h;
    size_t used;
    nes_err err;
    assert_int_equal(nes_pp2_parse(buf, strlen(hex) / 2, &h, &used, &err), NES_PP2_ERROR);
    assert_int_equal(err.offset, 16 + 3 * NES_PP2_TLV_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table),
        cmocka_unit_test(inet_fields_and_trailing_stream),
        cmocka_unit_test(crc32c_known_value_and_valid_tlv),
        cmocka_unit_test(from_sockaddrs),
        cmocka_unit_test(too_many_tlvs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
