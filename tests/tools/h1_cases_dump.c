/* h1_cases_dump - prints the codec's RFC 9112 framing cases (tests/unit/http/h1_cases.h) as JSON
 * lines, so the service's raw-socket pytest suite can send every case to the real binary:
 *   {"name": "...", "side": "request"|"response", "input_hex": "...",
 *    "outcome": "accept"|"<status>", "default_limits": true|false}
 * `outcome` is the codec's: the status of the first refusal (head or chunked body), else
 * "accept". Cases with default_limits false were written for smaller limits than the service's.
 * Exit status 0. */
#include <stdio.h>
#include <string.h>

#include "../testutil.h"
#include "../unit/http/h1_cases.h"

static void dump(const h1_case *c, const char *side)
{
    const char *e = strstr(c->want, "error ");
    char outcome[8] = "accept";
    if (e != NULL && (e == c->want || e[-1] == '\n'))
        snprintf(outcome, sizeof outcome, "%.3s", e + 6);
    printf("{\"name\": \"%s\", \"side\": \"%s\", \"input_hex\": \"", c->name, side);
    if (c->len != 0)
        tu_put_hex(stdout, (const uint8_t *)c->in, c->len);
    printf("\", \"outcome\": \"%s\", \"default_limits\": %s}\n", outcome,
           c->lim == NULL ? "true" : "false");
}

int main(void)
{
    for (size_t i = 0; i < sizeof REQUEST_CASES / sizeof REQUEST_CASES[0]; i++)
        dump(&REQUEST_CASES[i], "request");
    for (size_t i = 0; i < sizeof RESPONSE_CASES / sizeof RESPONSE_CASES[0]; i++)
        dump(&RESPONSE_CASES[i], "response");
    return 0;
}
