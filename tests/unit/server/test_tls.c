/* test_tls.c - self-signed certificates, credential loading and pair checks, install/acquire,
 * file stamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/x509.h>

#include "enclave/tls.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/nes-test-tls-%d", (int)getpid());
    mkdir(dir, 0700);
    char why[256];
    return nes_tls_init(NULL, NULL, NULL, 2, why, sizeof(why));
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    nes_tls_shutdown();
    nes_tls_deinit();
    return system(cmd) == 0 ? 0 : -1;
}

static void selfsigned_loads_and_matches(void **state)
{
    (void)state;
    char c1[128], k1[128], c2[128], k2[128], why[256];
    snprintf(c1, sizeof(c1), "%s/a.crt", dir);
    snprintf(k1, sizeof(k1), "%s/a.key", dir);
    snprintf(c2, sizeof(c2), "%s/b.crt", dir);
    snprintf(k2, sizeof(k2), "%s/b.key", dir);
    assert_int_equal(nes_tls_selfsigned(c1, k1, why, sizeof(why)), 0);
    assert_int_equal(nes_tls_selfsigned(c2, k2, why, sizeof(why)), 0);
    struct stat st;
    assert_int_equal(stat(k1, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    nes_creds *c = nes_creds_load(c1, k1, why, sizeof(why));
    assert_non_null(c);
    assert_non_null(strstr(nes_creds_describe(c), "CN=localhost"));
    gnutls_pcert_st *certs;
    unsigned n;
    gnutls_privkey_t key;
    nes_creds_get(c, &certs, &n, &key);
    assert_int_equal(n, 2); /* the leaf, then the local CA */
    assert_non_null(key);
    gnutls_x509_crt_t leaf, ca;
    assert_int_equal(gnutls_x509_crt_init(&leaf), 0);
    assert_int_equal(gnutls_x509_crt_init(&ca), 0);
    assert_int_equal(gnutls_x509_crt_import(leaf, &certs[0].cert, GNUTLS_X509_FMT_DER), 0);
    assert_int_equal(gnutls_x509_crt_import(ca, &certs[1].cert, GNUTLS_X509_FMT_DER), 0);
    unsigned crit = 0, usage = 0;
    assert_int_equal(gnutls_x509_crt_get_ca_status(leaf, &crit), 0);
    assert_true(gnutls_x509_crt_get_ca_status(ca, &crit) > 0);
    assert_true(gnutls_x509_crt_get_key_usage(leaf, &usage, &crit) >= 0);
    assert_int_equal(usage, GNUTLS_KEY_DIGITAL_SIGNATURE);
    char oid[128];
    size_t oidlen = sizeof(oid);
    assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(leaf, 0, oid, &oidlen, &crit), 0);
    assert_string_equal(oid, GNUTLS_KP_TLS_WWW_SERVER);
    assert_true(gnutls_x509_crt_check_hostname(leaf, "localhost"));
    assert_true(gnutls_x509_crt_check_ip(leaf, (const unsigned char *)"\x7f\0\0\x01", 4, 0));
    unsigned status = 1;
    assert_int_equal(gnutls_x509_crt_list_verify(&leaf, 1, &ca, 1, NULL, 0, 0, &status), 0);
    assert_int_equal(status, 0);
    gnutls_x509_crt_deinit(leaf);
    gnutls_x509_crt_deinit(ca);

    assert_null(nes_creds_load(c1, k2, why, sizeof(why))); /* mismatched pair */
    assert_non_null(strstr(why, "do not match"));
    assert_null(nes_creds_load("/nonexistent.crt", k1, why, sizeof(why)));
    assert_non_null(strstr(why, "TLS_CERT"));

    assert_null(nes_tls_acquire());
    nes_tls_install(c);
    nes_creds *got = nes_tls_acquire();
    assert_ptr_equal(got, c);
    assert_int_equal(nes_tls_reload(c2, k2, why, sizeof(why)), 0);
    nes_creds *now = nes_tls_acquire();
    assert_ptr_not_equal(now, c);
    assert_int_equal(nes_tls_reload(c1, k2, why, sizeof(why)), -1); /* keeps the current set */
    nes_creds *still = nes_tls_acquire();
    assert_ptr_equal(still, now);
    nes_creds_release(got); /* the old set lives until its last holder lets go */
    nes_creds_release(now);
    nes_creds_release(still);
    nes_tls_tick();
}

static void file_stamps(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof(p), "%s/stamp", dir);
    nes_file_stamp a, b;
    nes_file_stamp_get(p, &a);
    assert_false(a.exists);
    FILE *f = fopen(p, "w");
    fputs("x", f);
    fclose(f);
    nes_file_stamp_get(p, &b);
    assert_true(b.exists);
    assert_true(nes_file_stamp_changed(&a, &b));
    nes_file_stamp_get(p, &a);
    assert_false(nes_file_stamp_changed(&a, &b));
    nes_file_stamp_get("pkcs11:token=x", &a);
    assert_false(a.exists);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(selfsigned_loads_and_matches),
        cmocka_unit_test(file_stamps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
