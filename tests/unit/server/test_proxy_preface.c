/* Unit tests: proxy_mode.c's PROXY v2 step (nes_proxy_preface) over a socket pair: a header fed
 * whole or in pieces, the bytes behind it left in the socket, refusals, the peer address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "enclave/proxy_mode.h"
#include "net/proxyv2.h"

static int pair(int sv[2])
{
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
}

/* A header from 198.51.100.23:40000 to 127.0.0.1:443 with a return TLV. */
static int build(uint8_t *out, size_t cap, const char *ret)
{
    nes_pp2 h;
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(40000)};
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(443)};
    inet_pton(AF_INET, "198.51.100.23", &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    nes_pp2_from_sockaddrs(&h, (struct sockaddr *)&src, (struct sockaddr *)&dst);
    if (ret != NULL)
        nes_pp2_add_tlv(&h, NES_PP2_TYPE_RETURN, ret, (uint16_t)strlen(ret));
    return nes_pp2_build(&h, out, cap);
}

static void whole_header_then_stream(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(pair(sv), 0);
    uint8_t hdr[256];
    int n = build(hdr, sizeof(hdr), "tcp://127.0.0.1:7000");
    assert_true(n > 0);
    assert_int_equal(write(sv[0], hdr, (size_t)n), n);
    assert_int_equal(write(sv[0], "\x16\x03\x01TLS", 6), 6);
    nes_proxy_peer peer;
    assert_int_equal(nes_proxy_preface(sv[1], &peer), 1);
    assert_string_equal(peer.client, "198.51.100.23");
    assert_string_equal(peer.ret, "tcp://127.0.0.1:7000");
    char rest[16];
    assert_int_equal(read(sv[1], rest, sizeof(rest)), 6); /* untouched for GnuTLS */
    assert_memory_equal(rest, "\x16\x03\x01TLS", 6);
    close(sv[0]);
    close(sv[1]);
}

static void header_in_pieces(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(pair(sv), 0);
    uint8_t hdr[256];
    int n = build(hdr, sizeof(hdr), NULL);
    nes_proxy_peer peer;
    assert_int_equal(nes_proxy_preface(sv[1], &peer), 0); /* nothing yet */
    for (int i = 0; i < n - 1; i++) {
        assert_int_equal(write(sv[0], hdr + i, 1), 1);
        assert_int_equal(nes_proxy_preface(sv[1], &peer), 0);
    }
    assert_int_equal(write(sv[0], hdr + n - 1, 1), 1);
    assert_int_equal(nes_proxy_preface(sv[1], &peer), 1);
    assert_string_equal(peer.ret, "");
    close(sv[0]);
    close(sv[1]);
}

static void refusals(void **state)
{
    (void)state;
    uint8_t hdr[256];
    int n = build(hdr, sizeof(hdr), "tcp://127.0.0.1:7000");
    struct {
        size_t at;
        uint8_t value;
    } bad[] = {
        {3, 'X'},   /* signature */
        {12, 0x11}, /* version 1 */
        {14, 0xFF}, /* length far over the bound */
        {29, 0x7F}, /* the TLV's length runs past the header */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int sv[2];
        assert_int_equal(pair(sv), 0);
        uint8_t h[256];
        memcpy(h, hdr, (size_t)n);
        h[bad[i].at] = bad[i].value;
        assert_int_equal(write(sv[0], h, (size_t)n), n);
        nes_proxy_peer peer;
        if (nes_proxy_preface(sv[1], &peer) != -1)
            fail_msg("case %zu accepted", i);
        close(sv[0]);
        close(sv[1]);
    }
    /* the peer closing before a whole header */
    int sv[2];
    assert_int_equal(pair(sv), 0);
    assert_int_equal(write(sv[0], hdr, 10), 10);
    close(sv[0]);
    nes_proxy_peer peer;
    assert_int_equal(nes_proxy_preface(sv[1], &peer), -1);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_header_then_stream),
        cmocka_unit_test(header_in_pieces),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
