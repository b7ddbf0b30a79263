/* Unit test: docs/http-framing.md against the code. Every row names a case of h1_cases.h and
 * its outcome ("accept" or a status); the case is run and must end that way; every case must
 * have exactly one row. So the page cannot go stale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_driver.h"
#include "unit/http/h1_cases.h"

#define NREQ (sizeof REQUEST_CASES / sizeof REQUEST_CASES[0])
#define NRES (sizeof RESPONSE_CASES / sizeof RESPONSE_CASES[0])

/* The outcome the code gives a case: "accept" or the status of its first refusal. */
static void outcome(const h1_case *c, int responses, char *out, size_t n)
{
    h1d_opts o = {.lim = c->lim, .responses = responses, .req_method = c->method};
    char *log = h1d_run_str(&o, c->in, c->len, NULL, 0);
    const char *e = strstr(log, "error ");
    if (e != NULL && (e == log || e[-1] == '\n'))
        snprintf(out, n, "%.3s", e + 6);
    else
        snprintf(out, n, "accept");
    free(log);
}

static void doc_matches_code(void **state)
{
    (void)state;
    const char *src = getenv("NES_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/http-framing.md", src ? src : ".");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    int seen[NREQ + NRES] = {0};
    char line[2048];
    int rows = 0, bad = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        char *name = line + 3, *tick = strchr(name, '`');
        assert_non_null(tick);
        *tick = '\0';
        char *cell = strchr(tick + 1, '|');
        assert_non_null(cell);
        cell++;
        while (*cell == ' ')
            cell++;
        size_t olen = strcspn(cell, " |");
        char want[16];
        snprintf(want, sizeof want, "%.*s", (int)olen, cell);
        size_t idx = NREQ + NRES;
        for (size_t i = 0; i < NREQ + NRES; i++) {
            const h1_case *c = i < NREQ ? &REQUEST_CASES[i] : &RESPONSE_CASES[i - NREQ];
            if (strcmp(c->name, name) == 0)
                idx = i;
        }
        if (idx == NREQ + NRES) {
            print_message("row `%s`: no such case in h1_cases.h\n", name);
            bad++;
            continue;
        }
        rows++;
        if (seen[idx]++) {
            print_message("row `%s`: twice\n", name);
            bad++;
        }
        char got[16];
        const h1_case *c = idx < NREQ ? &REQUEST_CASES[idx] : &RESPONSE_CASES[idx - NREQ];
        outcome(c, idx >= NREQ, got, sizeof got);
        if (strcmp(got, want) != 0) {
            print_message("row `%s`: the page says %s, the code gives %s\n", name, want, got);
            bad++;
        }
    }
    fclose(f);
    for (size_t i = 0; i < NREQ + NRES; i++) {
        if (!seen[i]) {
            print_message("case %s has no row in docs/http-framing.md\n",
                          i < NREQ ? REQUEST_CASES[i].name : RESPONSE_CASES[i - NREQ].name);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    assert_int_equal(rows, (int)(NREQ + NRES));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(doc_matches_code)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
