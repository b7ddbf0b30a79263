/* test_httputil.c - routing table, content types, safe names, error bodies, spec file names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "enclave/httputil.h"
#include "enclave/local.h"

static void routes(void **state)
{
    (void)state;
    assert_int_equal(nes_route_of("/encrypt"), NES_ROUTE_ENCRYPT);
    assert_int_equal(nes_route_of("/encrypt?x=1"), NES_ROUTE_ENCRYPT);
    assert_int_equal(nes_route_of("/decrypt"), NES_ROUTE_DECRYPT);
    assert_int_equal(nes_route_of("/openapi.yaml"), NES_ROUTE_OPENAPI);
    assert_int_equal(nes_route_of("/encrypt/"), NES_ROUTE_OTHER);
    assert_int_equal(nes_route_of("/Encrypt"), NES_ROUTE_OTHER);
    assert_int_equal(nes_route_of(NULL), NES_ROUTE_OTHER);
    assert_true(nes_route_allows(NES_ROUTE_ENCRYPT, "POST"));
    assert_false(nes_route_allows(NES_ROUTE_ENCRYPT, "GET"));
    assert_true(nes_route_allows(NES_ROUTE_HEALTHZ, "HEAD"));
    assert_false(nes_route_allows(NES_ROUTE_METRICS, "POST"));
    assert_false(nes_route_allows(NES_ROUTE_OTHER, "GET"));
    assert_string_equal(nes_route_method(NES_ROUTE_DECRYPT), "POST");
    assert_null(nes_route_method(NES_ROUTE_OTHER));
}

static void content_types(void **state)
{
    (void)state;
    assert_true(nes_content_type_is_json("application/json"));
    assert_true(nes_content_type_is_json("Application/JSON; charset=UTF-8"));
    assert_true(nes_content_type_is_json("application/json;charset=\"utf-8\""));
    assert_true(nes_content_type_is_json("application/merge-patch+json"));
    assert_true(nes_content_type_is_json(" application/json ; foo=bar"));
    assert_false(nes_content_type_is_json("application/json; charset=latin1"));
    /* bodies are UTF-8: any other charset, an empty one, or a second one is refused (415) */
    assert_false(nes_content_type_is_json("application/json; charset=latin-1"));
    assert_false(nes_content_type_is_json("application/json;charset=ISO-8859-1"));
    assert_false(nes_content_type_is_json("application/json; charset=utf-16"));
    assert_false(nes_content_type_is_json("application/json; charset="));
    assert_false(nes_content_type_is_json("application/json; charset=utf-8; charset=latin-1"));
    assert_false(nes_content_type_is_json("application/problem+json; charset=\"latin-1\""));
    assert_true(nes_content_type_is_json("application/json; charset=utf8"));
    assert_false(nes_content_type_is_json("text/plain"));
    assert_false(nes_content_type_is_json("application/jsonx"));
    assert_false(nes_content_type_is_json("application/+json"));
    assert_false(nes_content_type_is_json(""));
    assert_false(nes_content_type_is_json(NULL));
}

static void safe_names(void **state)
{
    (void)state;
    assert_true(nes_safe_name("payments-v1.2_x"));
    assert_false(nes_safe_name("pay ments"));
    assert_false(nes_safe_name("a\"b"));
    assert_false(nes_safe_name(""));
    assert_false(nes_safe_name(NULL));
    char longname[80];
    memset(longname, 'a', 70);
    longname[70] = '\0';
    assert_false(nes_safe_name(longname));
}

static void error_bodies(void **state)
{
    (void)state;
    nes_buf b = {0};
    assert_int_equal(nes_error_json(&b, "invalid_json", "bad \"x\"", 17), 0);
    assert_int_equal(nes_buf_append(&b, "", 1), 0);
    assert_string_equal((const char *)b.data,
                        "{\"error\":{\"code\":\"invalid_json\",\"message\":\"bad \\\"x\\\"\","
                        "\"offset\":17}}\n");
    nes_buf_free(&b);
    assert_int_equal(nes_error_json(&b, "not_found", "no such route", (size_t)-1), 0);
    assert_int_equal(nes_buf_append(&b, "", 1), 0);
    assert_string_equal((const char *)b.data,
                        "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\"}}\n");
    nes_buf_free(&b);
}

static void spec_file_names(void **state)
{
    (void)state;
    char name[16];
    assert_int_equal(nes_local_spec_name("payments.yaml", name, sizeof(name)), 1);
    assert_string_equal(name, "payments");
    assert_int_equal(nes_local_spec_name("a.b.yml", name, sizeof(name)), 1);
    assert_string_equal(name, "a.b");
    assert_int_equal(nes_local_spec_name("x.json", name, sizeof(name)), 1);
    assert_int_equal(nes_local_spec_name(".hidden.yaml", name, sizeof(name)), 0);
    assert_int_equal(nes_local_spec_name("README.md", name, sizeof(name)), 0);
    assert_int_equal(nes_local_spec_name(".yaml", name, sizeof(name)), 0);
    assert_int_equal(nes_local_spec_name("averyveryverylongname.yaml", name, sizeof(name)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes),          cmocka_unit_test(content_types),
        cmocka_unit_test(safe_names),      cmocka_unit_test(error_bodies),
        cmocka_unit_test(spec_file_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
