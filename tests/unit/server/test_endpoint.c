/* test_endpoint.c - endpoint URI parsing, formatting, listen/connect over tcp and unix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/endpoint.h"

static void parses_tcp(void **state)
{
    (void)state;
    nes_endpoint ep;
    char why[128];
    assert_int_equal(nes_endpoint_parse("tcp://127.0.0.1:8443", &ep, why, sizeof(why)), 0);
    assert_int_equal(ep.kind, NES_EP_TCP);
    assert_string_equal(ep.host, "127.0.0.1");
    assert_int_equal(ep.port, 8443);
    assert_int_equal(nes_endpoint_parse("tcp://[::1]:0", &ep, why, sizeof(why)), 0);
    assert_string_equal(ep.host, "::1");
    assert_int_equal(ep.port, 0);
    assert_int_equal(nes_endpoint_parse("tcp://localhost:65535", &ep, NULL, 0), 0);
}

static void rejects_bad_tcp(void **state)
{
    (void)state;
    nes_endpoint ep;
    char why[128];
    const char *bad[] = {"tcp://host",
                         "tcp://:80",
                         "tcp://h:65536",
                         "tcp://h:-1",
                         "tcp://h:8x",
                         "tcp://::1:80",
                         "tcp://[::1]80",
                         "tcp://h :1",
                         "tcp://h:",
                         "tcp://a/b:1",
                         "",
                         "http://h:1",
                         "tcp://h:999999",
                         "tcp://user@h:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        assert_int_equal(nes_endpoint_parse(bad[i], &ep, why, sizeof(why)), -1);
        assert_true(strlen(why) > 0);
    }
    assert_int_equal(nes_endpoint_parse(NULL, &ep, why, sizeof(why)), -1);
}

static void parses_unix_and_vsock(void **state)
{
    (void)state;
    nes_endpoint ep;
    char why[128];
    assert_int_equal(nes_endpoint_parse("unix:///run/nes.sock", &ep, why, sizeof(why)), 0);
    assert_int_equal(ep.kind, NES_EP_UNIX);
    assert_string_equal(ep.path, "/run/nes.sock");
    assert_int_equal(nes_endpoint_parse("unix:rel.sock", &ep, why, sizeof(why)), 0);
    assert_string_equal(ep.path, "rel.sock");
    assert_int_equal(nes_endpoint_parse("unix://", &ep, why, sizeof(why)), -1);
    char longp[200] = "unix:///";
    memset(longp + 8, 'a', 150);
    longp[158] = '\0';
    assert_int_equal(nes_endpoint_parse(longp, &ep, why, sizeof(why)), -1);

    assert_int_equal(nes_endpoint_parse("vsock://3:8000", &ep, why, sizeof(why)), 0);
    assert_int_equal(ep.kind, NES_EP_VSOCK);
    assert_int_equal(ep.cid, 3);
    assert_int_equal(ep.vport, 8000);
    assert_int_equal(nes_endpoint_parse("vsock://any:443", &ep, why, sizeof(why)), 0);
    assert_int_equal(ep.cid, NES_EP_VSOCK_ANY);
    assert_int_equal(nes_endpoint_parse("vsock://x:1", &ep, why, sizeof(why)), -1);
    assert_int_equal(nes_endpoint_parse("vsock://3", &ep, why, sizeof(why)), -1);
    assert_int_equal(nes_endpoint_parse("vsock://3:4294967296", &ep, why, sizeof(why)), -1);
}

static void formats_round_trip(void **state)
{
    (void)state;
    const char *uris[] = {"tcp://127.0.0.1:8443", "tcp://[::1]:443", "unix:///tmp/x.sock",
                          "vsock://any:443", "vsock://16:5000"};
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        nes_endpoint ep;
        char out[300];
        assert_int_equal(nes_endpoint_parse(uris[i], &ep, NULL, 0), 0);
        assert_string_equal(nes_endpoint_format(&ep, out, sizeof(out)), uris[i]);
    }
}

static void listens_and_connects(void **state)
{
    (void)state;
    nes_endpoint ep;
    char why[256];
    assert_int_equal(nes_endpoint_parse("tcp://127.0.0.1:0", &ep, NULL, 0), 0);
    int lfd = nes_endpoint_listen(&ep, 8, why, sizeof(why));
    assert_true(lfd >= 0);
    int port = nes_endpoint_bound_port(lfd);
    assert_true(port > 0);
    ep.port = (uint16_t)port;
    int cfd = nes_endpoint_connect(&ep, why, sizeof(why));
    assert_true(cfd >= 0);
    close(cfd);
    close(lfd);

    char path[64];
    snprintf(path, sizeof(path), "unix:///tmp/nes-test-ep-%d.sock", (int)getpid());
    assert_int_equal(nes_endpoint_parse(path, &ep, NULL, 0), 0);
    lfd = nes_endpoint_listen(&ep, 8, why, sizeof(why));
    assert_true(lfd >= 0);
    cfd = nes_endpoint_connect(&ep, why, sizeof(why));
    assert_true(cfd >= 0);
    close(cfd);
    close(lfd);
    /* A stale socket file is replaced. */
    lfd = nes_endpoint_listen(&ep, 8, why, sizeof(why));
    assert_true(lfd >= 0);
    close(lfd);
    unlink(ep.path);

    assert_int_equal(nes_endpoint_parse("unix:///nonexistent-dir/x.sock", &ep, NULL, 0), 0);
    assert_int_equal(nes_endpoint_connect(&ep, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "connect to unix:///nonexistent-dir/x.sock"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_tcp),
        cmocka_unit_test(rejects_bad_tcp),
        cmocka_unit_test(parses_unix_and_vsock),
        cmocka_unit_test(formats_round_trip),
        cmocka_unit_test(listens_and_connects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
