/* allowlist.c - parse and match the CONNECT allowlist (see allowlist.h). */
#include "proxy/allowlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/ytree.h"

bool nes_host_valid(const char *host, size_t n)
{
    if (n == 0 || n > NES_HOST_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        if (c == '.') {
            if (label == 0 || host[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok || (label == 0 && c == '-') || ++label > 63)
            return false;
    }
    return label > 0 && host[n - 1] != '-';
}

static const char *scalar(nes_yn *n, size_t *len)
{
    return nes_yn_scalar(nes_yn_resolve(n), len);
}

static int parse_entry(nes_yn *item, size_t idx, nes_allow_entry *e, char *why, size_t why_len)
{
    if (!nes_yn_is_map(item)) {
        nes_msgf(why, why_len, "allowlist entry %zu is not a mapping", idx + 1);
        return -1;
    }
    bool have_addr = false, have_port = false;
    void *iter = NULL;
    nes_yn_pair *pair;
    while ((pair = nes_yn_map_iterate(item, &iter)) != NULL) {
        size_t klen = 0, vlen = 0;
        const char *k = scalar(nes_yn_pair_key(pair), &klen);
        const char *v = scalar(nes_yn_pair_value(pair), &vlen);
        if (k == NULL || v == NULL) {
            nes_msgf(why, why_len, "allowlist entry %zu: keys and values must be scalars", idx + 1);
            return -1;
        }
        if (klen == 7 && memcmp(k, "address", 7) == 0 && !have_addr) {
            bool wild = vlen > 2 && v[0] == '*' && v[1] == '.';
            const char *h = wild ? v + 2 : v;
            size_t hl = wild ? vlen - 2 : vlen;
            if (!nes_host_valid(h, hl)) {
                nes_msgf(why, why_len,
                         "allowlist entry %zu: address is not a host name or "
                         "*.suffix pattern",
                         idx + 1);
                return -1;
            }
            for (size_t i = 0; i < hl; i++)
                e->host[i] = (char)((h[i] >= 'A' && h[i] <= 'Z') ? h[i] + 32 : h[i]);
            e->host[hl] = '\0';
            e->wildcard = wild;
            have_addr = true;
        } else if (klen == 4 && memcmp(k, "port", 4) == 0 && !have_port) {
            unsigned long p = 0;
            bool digits = vlen > 0 && vlen <= 5;
            for (size_t i = 0; digits && i < vlen; i++) {
                digits = v[i] >= '0' && v[i] <= '9';
                if (digits)
                    p = p * 10 + (unsigned long)(v[i] - '0');
            }
            if (!digits || p == 0 || p > 65535) {
                nes_msgf(why, why_len, "allowlist entry %zu: port must be 1-65535", idx + 1);
                return -1;
            }
            e->port = (uint16_t)p;
            have_port = true;
        } else {
            nes_msgf(why, why_len,
                     "allowlist entry %zu: unknown or repeated key (want address "
                     "and port)",
                     idx + 1);
            return -1;
        }
    }
    if (!have_addr || !have_port) {
        nes_msgf(why, why_len, "allowlist entry %zu: needs both address and port", idx + 1);
        return -1;
    }
    return 0;
}

int nes_allowlist_parse(const char *yaml, size_t len, nes_allowlist *al, char *why, size_t why_len)
{
    memset(al, 0, sizeof(*al));
    /* a short list of flat entries: the bounds only stop hostile files early */
    const nes_yt_opts opts = {.max_depth = 8, .max_nodes = (size_t)16 * (NES_ALLOWLIST_MAX + 1)};
    nes_ytree *doc = NULL;
    char msg[160];
    int line = 0;
    nes_yt_status st = nes_ytree_parse(yaml, len, &opts, &doc, msg, sizeof(msg), &line);
    if (st == NES_YT_NOMEM) {
        nes_msgf(why, why_len, "allowlist: out of memory");
        return -1;
    }
    if (st != NES_YT_OK) {
        nes_msgf(why, why_len, "allowlist: not valid YAML%s (line %d)",
                 st == NES_YT_DEEP || st == NES_YT_LARGE ? " or too large" : "", line);
        return -1;
    }
    int rc = -1;
    nes_yn *root = nes_ytree_root(doc);
    nes_yn *list = NULL;
    if (nes_yn_is_map(root) && nes_yn_count(root) == 1)
        list = nes_yn_resolve(nes_yn_map_get(root, "allowlist", 9));
    if (!nes_yn_is_seq(list)) {
        nes_msgf(why, why_len, "allowlist: want a mapping with one key, allowlist, holding a list");
        goto out;
    }
    int count = nes_yn_count(list);
    if ((size_t)count > NES_ALLOWLIST_MAX) {
        nes_msgf(why, why_len, "allowlist: more than %d entries", NES_ALLOWLIST_MAX);
        goto out;
    }
    al->e = calloc(count > 0 ? (size_t)count : 1, sizeof(*al->e));
    if (al->e == NULL) {
        nes_msgf(why, why_len, "allowlist: out of memory");
        goto out;
    }
    void *iter = NULL;
    nes_yn *item;
    while ((item = nes_yn_seq_iterate(list, &iter)) != NULL) {
        if (parse_entry(nes_yn_resolve(item), al->n, &al->e[al->n], why, why_len) != 0)
            goto out;
        al->n++;
    }
    rc = 0;
out:
    nes_ytree_free(doc);
    if (rc != 0)
        nes_allowlist_free(al);
    return rc;
}

bool nes_allowlist_match(const nes_allowlist *al, const char *host, size_t n, uint16_t port)
{
    if (!nes_host_valid(host, n))
        return false;
    for (size_t i = 0; i < al->n; i++) {
        const nes_allow_entry *e = &al->e[i];
        if (e->port != port)
            continue;
        size_t hl = strlen(e->host);
        if (!e->wildcard) {
            if (hl == n && strncasecmp(e->host, host, n) == 0)
                return true;
        } else if (n > hl + 1 && host[n - hl - 1] == '.' &&
                   strncasecmp(e->host, host + n - hl, hl) == 0) {
            return true;
        }
    }
    return false;
}

void nes_allowlist_free(nes_allowlist *al)
{
    free(al->e);
    al->e = NULL;
    al->n = 0;
}
