/* httputil.c - routing table, content types, error bodies (see httputil.h). */
#include "enclave/httputil.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "obs/log.h"

static const struct {
    const char *path;
    nes_route route;
} routes[] = {
    {"/encrypt", NES_ROUTE_ENCRYPT}, {"/decrypt", NES_ROUTE_DECRYPT},
    {"/healthz", NES_ROUTE_HEALTHZ}, {"/readyz", NES_ROUTE_READYZ},
    {"/metrics", NES_ROUTE_METRICS}, {"/openapi.yaml", NES_ROUTE_OPENAPI},
};

nes_route nes_route_of(const char *path)
{
    if (path == NULL)
        return NES_ROUTE_OTHER;
    size_t n = strcspn(path, "?");
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strlen(routes[i].path) == n && memcmp(routes[i].path, path, n) == 0)
            return routes[i].route;
    return NES_ROUTE_OTHER;
}

const char *nes_route_method(nes_route r)
{
    switch (r) {
    case NES_ROUTE_ENCRYPT:
    case NES_ROUTE_DECRYPT:
        return "POST";
    case NES_ROUTE_HEALTHZ:
    case NES_ROUTE_READYZ:
    case NES_ROUTE_METRICS:
    case NES_ROUTE_OPENAPI:
        return "GET";
    default:
        return NULL;
    }
}

bool nes_route_allows(nes_route r, const char *method)
{
    const char *m = nes_route_method(r);
    if (m == NULL || method == NULL)
        return false;
    if (strcmp(m, method) == 0)
        return true;
    return strcmp(m, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

bool nes_content_type_is_json(const char *value)
{
    if (value == NULL)
        return false;
    const char *s = skip_ws(value);
    size_t n = strcspn(s, "; \t");
    bool json = (n == 16 && strncasecmp(s, "application/json", 16) == 0) ||
                (n > 17 && strncasecmp(s, "application/", 12) == 0 &&
                 strncasecmp(s + n - 5, "+json", 5) == 0);
    if (!json)
        return false;
    s = skip_ws(s + n);
    while (*s == ';') {
        s = skip_ws(s + 1);
        size_t pn = strcspn(s, ";");
        if (pn >= 8 && strncasecmp(s, "charset=", 8) == 0) {
            const char *v = s + 8;
            size_t vn = pn - 8;
            while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                vn--;
            if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
                v++;
                vn -= 2;
            }
            if (!((vn == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
                  (vn == 4 && strncasecmp(v, "utf8", 4) == 0)))
                return false;
        }
        s += pn;
    }
    return true;
}

bool nes_safe_name(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

int nes_error_json(nes_buf *out, const char *code, const char *message, size_t offset)
{
    char esc_code[128], esc_msg[768], tail[48];
    if (nes_json_escape(esc_code, sizeof(esc_code), code, strlen(code)) == (size_t)-1)
        return -1;
    /* A message that does not fit is cut at a whole escape. */
    nes_json_escape(esc_msg, sizeof(esc_msg), message, strlen(message));
    if (offset != (size_t)-1)
        snprintf(tail, sizeof(tail), ",\"offset\":%zu}}\n", offset);
    else
        snprintf(tail, sizeof(tail), "}}\n");
    if (nes_buf_append(out, "{\"error\":{\"code\":\"", 18) != 0 ||
        nes_buf_append(out, esc_code, strlen(esc_code)) != 0 ||
        nes_buf_append(out, "\",\"message\":\"", 13) != 0 ||
        nes_buf_append(out, esc_msg, strlen(esc_msg)) != 0 || nes_buf_append(out, "\"", 1) != 0 ||
        nes_buf_append(out, tail, strlen(tail)) != 0)
        return -1;
    return 0;
}
