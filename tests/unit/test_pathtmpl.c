/* Unit tests: pathtmpl.c (template matching, specificity, clean paths), as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/pathtmpl.h"

/* template, path, matches */
static const struct {
    const char *tmpl, *path;
    bool match;
} MATCH[] = {
    {"/", "/", true},
    {"/orders", "/orders", true},
    {"/orders", "/orders/", false},
    {"/orders/", "/orders/", true},
    {"/orders", "/Orders", false}, /* case-sensitive */
    {"/orders/{id}", "/orders/42", true},
    {"/orders/{id}", "/orders/", false}, /* a variable needs one character */
    {"/orders/{id}", "/orders", false},
    {"/orders/{id}", "/orders/42/items", false},
    {"/orders/{id}/items", "/orders/42/items", true},
    {"/orders/{id}/items/{n}", "/orders/a/items/b", true},
    {"/orders/{id}/items/{n}", "/orders/a/items/", false},
    {"/files/{name}.json", "/files/a.json", true},
    {"/files/{name}.json", "/files/a.b.json", true},
    {"/files/{name}.json", "/files/.json", false},
    {"/files/{name}.json", "/files/a.jso", false},
    {"/v{major}.{minor}/x", "/v1.2/x", true},
    {"/v{major}.{minor}/x", "/v1/x", false},
    {"/a{x}b", "/ab", false},
    {"/a{x}b", "/axxb", true},
    {"/a{x}b", "/axbxb", true},
    {"/{x}", "/%2F", true}, /* percent-encoding is not decoded */
    {"/{unclosed", "/{unclosed", true},
    {"/{unclosed", "/x", false},
    {"orders", "/orders", false}, /* a template starts with '/' */
    {"/orders", "orders", false},
    {"/orders", "", false},
};

static void match_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof MATCH / sizeof MATCH[0]; i++) {
        bool got = nes_path_template_match(MATCH[i].tmpl, strlen(MATCH[i].tmpl), MATCH[i].path,
                                           strlen(MATCH[i].path));
        if (got != MATCH[i].match)
            fail_msg("case %zu: %s vs %s: got %d", i, MATCH[i].tmpl, MATCH[i].path, got);
    }
}

/* a, b, sign of cmp(a, b) */
static const struct {
    const char *a, *b;
    int sign;
} CMP[] = {
    {"/users/me", "/users/{id}", 1},
    {"/users/{id}", "/users/me", -1},
    {"/users/{id}", "/users/{name}", 0},
    {"/a/{x}.json", "/a/{x}", 1},
    {"/a/b{x}", "/a/{x}", 1},
    {"/a/{x}", "/a/{x}{y}", -1},
    {"/{a}/b", "/a/{b}", -1}, /* the first segment that differs decides */
    {"/a/b", "/a/b", 0},
};

static void cmp_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CMP / sizeof CMP[0]; i++) {
        int c = nes_path_template_cmp(CMP[i].a, CMP[i].b);
        int sign = (c > 0) - (c < 0);
        if (sign != CMP[i].sign)
            fail_msg("case %zu: %s vs %s: got %d", i, CMP[i].a, CMP[i].b, c);
    }
}

static const struct {
    const char *path;
    bool clean;
} CLEAN[] = {
    {"/", true},       {"/a", true},           {"/a/", true},        {"/a/b.json", true},
    {"/a/...", true},  {"/a/.x", true},        {"/a/%2e%2ex", true}, {"", false},
    {"a", false},      {"/.", false},          {"/..", false},       {"/a/../b", false},
    {"/a/./b", false}, {"/a/%2e%2e/b", false}, {"/a/%2E./b", false}, {"/a/.%2e", false},
    {"/a/%2e", false}, {"/a//b", false},       {"//a", false},
};

static void clean_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CLEAN / sizeof CLEAN[0]; i++) {
        bool got = nes_path_is_clean(CLEAN[i].path, strlen(CLEAN[i].path));
        if (got != CLEAN[i].clean)
            fail_msg("case %zu: '%s': got %d", i, CLEAN[i].path, got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(match_table),
        cmocka_unit_test(cmp_table),
        cmocka_unit_test(clean_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
