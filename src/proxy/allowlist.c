/* allowlist.c - parse and match the CONNECT allowlist (see allowlist.h). */
#include "proxy/allowlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libfyaml.h>

#include "core/error.h"
#include "core/json_scan.h"

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

/* libfyaml diagnostics are dropped: the caller reports one line of its own. */
static void diag_sink(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

static const char *scalar(struct fy_node *n, size_t *len)
{
    return (n != NULL && fy_node_is_scalar(n)) ? fy_node_get_scalar(n, len) : NULL;
}

static int parse_entry(struct fy_node *item, size_t idx, nes_allow_entry *e, char *why,
                       size_t why_len)
{
    if (!fy_node_is_mapping(item)) {
        nes_msgf(why, why_len, "allowlist entry %zu is not a mapping", idx + 1);
        return -1;
    }
    bool have_addr = false, have_port = false;
    void *iter = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(item, &iter)) != NULL) {
        size_t klen = 0, vlen = 0;
        const char *k = scalar(fy_node_pair_key(pair), &klen);
        const char *v = scalar(fy_node_pair_value(pair), &vlen);
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
            if (vlen == 0 || vlen > 5) {
                nes_msgf(why, why_len, "allowlist entry %zu: port must be 1-65535", idx + 1);
                return -1;
            }
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9') {
                    nes_msgf(why, why_len, "allowlist entry %zu: port must be 1-65535", idx + 1);
                    return -1;
                }
                p = p * 10 + (unsigned long)(v[i] - '0');
            }
            if (p == 0 || p > 65535) {
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
    /* UTF-8 text without NUL only: libfyaml 0.7.12's scanner can loop forever on malformed
     * bytes (the same guard as the spec loader's) */
    size_t ok = nes_utf8_valid_prefix((const uint8_t *)yaml, len);
    if (ok < len || memchr(yaml, '\0', len) != NULL) {
        nes_msgf(why, why_len, "allowlist: not UTF-8 text");
        return -1;
    }
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = diag_sink;
    dc.level = FYET_ERROR;
    dc.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (diag == NULL) {
        nes_msgf(why, why_len, "allowlist: out of memory");
        return -1;
    }
    struct fy_parse_cfg pc = {.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG, .diag = diag};
    struct fy_document *doc = len == 0 ? NULL : fy_document_build_from_string(&pc, yaml, len);
    fy_diag_destroy(diag);
    if (doc == NULL) {
        nes_msgf(why, why_len, "allowlist: not valid YAML");
        return -1;
    }
    int rc = -1;
    struct fy_node *root = fy_document_root(doc);
    struct fy_node *list = NULL;
    if (root != NULL && fy_node_is_mapping(root) && fy_node_mapping_item_count(root) == 1)
        list = fy_node_mapping_lookup_by_string(root, "allowlist", 9);
    if (list == NULL || !fy_node_is_sequence(list)) {
        nes_msgf(why, why_len, "allowlist: want a mapping with one key, allowlist, holding a list");
        goto out;
    }
    int count = fy_node_sequence_item_count(list);
    if (count < 0 || (size_t)count > NES_ALLOWLIST_MAX) {
        nes_msgf(why, why_len, "allowlist: more than %d entries", NES_ALLOWLIST_MAX);
        goto out;
    }
    al->e = calloc(count > 0 ? (size_t)count : 1, sizeof(*al->e));
    if (al->e == NULL) {
        nes_msgf(why, why_len, "allowlist: out of memory");
        goto out;
    }
    void *iter = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(list, &iter)) != NULL) {
        if (parse_entry(item, al->n, &al->e[al->n], why, why_len) != 0)
            goto out;
        al->n++;
    }
    rc = 0;
out:
    fy_document_destroy(doc);
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
