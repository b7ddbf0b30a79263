/* Unit tests: retallow.c (PROXY_RETURN_ALLOW: which return endpoints a PROXY v2 header may name).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>

#include "enclave/retallow.h"

/* peers */
enum { P_V4 = 1, P_V6, P_VSOCK3, P_VSOCK16, P_UNIX };

static nes_retallow_peer peer_of(int which)
{
    nes_retallow_peer p = {0};
    switch (which) {
    case P_V4:
        p.family = AF_INET;
        inet_pton(AF_INET, "127.0.0.1", p.addr);
        break;
    case P_V6:
        p.family = AF_INET6;
        inet_pton(AF_INET6, "2001:db8::7", p.addr);
        break;
    case P_VSOCK3:
        p.family = AF_VSOCK;
        p.cid = 3;
        break;
    case P_VSOCK16:
        p.family = AF_VSOCK;
        p.cid = 16;
        break;
    default:
        p.family = AF_UNIX;
    }
    return p;
}

static const struct {
    const char *list, *ret;
    int peer;
    bool want;
} MATCH[] = {
    /* the default: the connecting host's own CID or address, any port */
    {"peer", "vsock://3:5000", P_VSOCK3, true},
    {"peer", "vsock://16:5000", P_VSOCK3, false},
    {"peer", "vsock://3:5000", P_VSOCK16, false},
    {"peer", "tcp://127.0.0.1:8080", P_V4, true},
    {"peer", "tcp://127.0.0.2:8080", P_V4, false},
    {"peer", "tcp://[2001:db8::7]:1", P_V6, true},
    {"peer", "tcp://[::ffff:127.0.0.1]:80", P_V4, false}, /* another address family */
    {"peer", "tcp://127.0.0.1:8080", P_VSOCK3, false},    /* tcp endpoint, vsock peer */
    {"peer", "vsock://3:5000", P_V4, false},
    {"peer", "unix:///run/app.sock", P_UNIX, false}, /* unix only when listed */
    {"peer", "tcp://localhost:80", P_V4, false},     /* names never match */
    {"peer", "vsock://any:5000", P_VSOCK3, false},
    {"peer", "garbage", P_V4, false},
    {"peer", "", P_V4, false},
    /* explicit entries */
    {"vsock://3:5000", "vsock://3:5000", P_VSOCK16, true},
    {"vsock://3:5000", "vsock://3:5001", P_VSOCK3, false},
    {"vsock://3:*", "vsock://3:7", P_VSOCK16, true},
    {"vsock://peer:5000", "vsock://16:5000", P_VSOCK16, true},
    {"vsock://peer:5000", "vsock://16:5001", P_VSOCK16, false},
    {"tcp://10.0.0.5:8080", "tcp://10.0.0.5:8080", P_V4, true},
    {"tcp://10.0.0.5:8080", "tcp://10.0.0.5:8081", P_V4, false},
    {"tcp://10.0.0.5:*", "tcp://10.0.0.5:1", P_V4, true},
    {"tcp://[::1]:*", "tcp://[0:0::1]:9", P_V4, true}, /* compared as addresses */
    {"tcp://peer:9000", "tcp://127.0.0.1:9000", P_V4, true},
    {"tcp://peer:9000", "tcp://127.0.0.1:9001", P_V4, false},
    {"unix:///run/app.sock", "unix:///run/app.sock", P_UNIX, true},
    {"unix:///run/app.sock", "unix:///run/other.sock", P_UNIX, false},
    {" tcp://10.0.0.5:80 , unix:///a ,vsock://4:*", "vsock://4:1", P_V4, true},
    {" tcp://10.0.0.5:80 , unix:///a ,vsock://4:*", "unix:///a", P_V4, true},
    {" tcp://10.0.0.5:80 , unix:///a ,vsock://4:*", "tcp://10.0.0.5:81", P_V4, false},
    {"tcp://10.0.0.5:80,peer", "tcp://127.0.0.1:1", P_V4, true},
};

static void match_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(MATCH) / sizeof(MATCH[0]); i++) {
        nes_retallow a;
        char why[200] = "";
        if (nes_retallow_parse(MATCH[i].list, &a, why, sizeof(why)) != 0)
            fail_msg("case %zu: %s does not parse: %s", i, MATCH[i].list, why);
        nes_retallow_peer p = peer_of(MATCH[i].peer);
        if (nes_retallow_match(&a, MATCH[i].ret, &p) != MATCH[i].want)
            fail_msg("case %zu: %s against %s: want %d", i, MATCH[i].ret, MATCH[i].list,
                     MATCH[i].want);
    }
}

static const char *const BAD[] = {
    "",
    " ",
    "peer,",
    ",peer",
    "tcp://localhost:80",   /* a name: would need a lookup */
    "tcp://10.0.0.5",       /* no port */
    "tcp://10.0.0.5:99999", /* port out of range */
    "tcp://10.0.0.5:**",
    "vsock://any:5000", /* any CID is no restriction */
    "vsock://x:5000",
    "http://10.0.0.5:80",
    "peers",
    "peer,peer,peer,peer,peer,peer,peer,peer,peer", /* more than NES_RETALLOW_MAX */
};

static void bad_lists_are_refused_with_a_reason(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        nes_retallow a;
        char why[200] = "";
        if (nes_retallow_parse(BAD[i], &a, why, sizeof(why)) == 0)
            fail_msg("case %zu: '%s' parsed", i, BAD[i]);
        assert_non_null(strstr(why, "PROXY_RETURN_ALLOW"));
    }
    nes_retallow a;
    assert_int_equal(nes_retallow_parse(NULL, &a, NULL, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(match_table),
        cmocka_unit_test(bad_lists_are_refused_with_a_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
