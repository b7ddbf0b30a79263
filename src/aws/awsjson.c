/* awsjson.c - top-level members of small JSON 1.1 answers; request bodies (see awsjson.h). */
#include "aws/awsjson.h"

#include <stdlib.h>
#include <string.h>

#include "core/b64url.h"
#include "core/json_scan.h"

#define DEPTH 32

static int key_is(const uint8_t *json, const nes_json_token *t, const char *name)
{
    size_t n = strlen(name);
    const uint8_t *p = json + t->start + 1;
    size_t len = t->end - t->start - 2;
    if (!t->escaped)
        return len == n && memcmp(p, name, n) == 0;
    nes_buf k = {0};
    k.max = 4096;
    int eq = nes_json_unescape(p, len, &k) == NES_OK && k.len == n && memcmp(k.data, name, n) == 0;
    nes_buf_free(&k);
    return eq;
}

/* Finds the member; on 1, *tok is its value token. */
static int find(const uint8_t *json, size_t len, const char *name, nes_json_token *val)
{
    nes_json_scanner s;
    if (nes_json_scanner_init(&s, json, len, DEPTH, NULL) != NES_OK)
        return -1;
    nes_json_token t;
    int rc = -1;
    if (nes_json_next(&s, &t) != NES_JSON_OBJECT)
        goto out;
    for (;;) {
        nes_json_type k = nes_json_next(&s, &t);
        if (k == NES_JSON_OBJECT_END) {
            rc = nes_json_next(&s, &t) == NES_JSON_END ? 0 : -1;
            break;
        }
        if (k != NES_JSON_KEY)
            break;
        int match = key_is(json, &t, name);
        nes_json_type v = nes_json_next(&s, val);
        if (v == NES_JSON_ERROR)
            break;
        if (v == NES_JSON_OBJECT || v == NES_JSON_ARRAY) {
            if (nes_json_skip(&s, &t) == NES_JSON_ERROR)
                break;
        }
        if (match) {
            rc = v == NES_JSON_NULL ? 0 : 1;
            if (rc == 1 && v != NES_JSON_STRING)
                rc = -1;
            /* validate the rest of the document */
            nes_json_type r;
            while ((r = nes_json_next(&s, &t)) != NES_JSON_END)
                if (r == NES_JSON_ERROR) {
                    rc = -1;
                    break;
                }
            break;
        }
    }
out:
    nes_json_scanner_free(&s);
    return rc;
}

int nes_awsjson_string(const uint8_t *json, size_t len, const char *name, nes_buf *out)
{
    nes_json_token v;
    int rc = find(json, len, name, &v);
    if (rc != 1 || out == NULL)
        return rc;
    if (nes_json_unescape(json + v.start + 1, v.end - v.start - 2, out) != NES_OK)
        return -1;
    return 1;
}

int nes_awsjson_b64(const uint8_t *json, size_t len, const char *name, nes_buf *out)
{
    nes_buf text = {0};
    text.max = len;
    int rc = nes_awsjson_string(json, len, name, &text);
    if (rc == 1) {
        size_t room = text.len / 4 * 3;
        if (text.len % 4 != 0 || nes_buf_reserve(out, room + 1) != 0) {
            rc = -1;
        } else {
            long n = nes_b64_decode((const char *)text.data, text.len, out->data + out->len);
            if (n < 0)
                rc = -1;
            else
                out->len += (size_t)n;
        }
    }
    nes_buf_free(&text);
    return rc;
}

static int member(nes_buf *out, const char *name)
{
    if (out->len > 0 && out->data[out->len - 1] != '{' && nes_buf_append(out, ",", 1) != 0)
        return -1;
    if (nes_json_write_string(out, (const uint8_t *)name, strlen(name)) != NES_OK)
        return -1;
    return nes_buf_append(out, ":", 1);
}

int nes_awsjson_put_str(nes_buf *out, const char *name, const char *value)
{
    if (member(out, name) != 0)
        return -1;
    return nes_json_write_string(out, (const uint8_t *)value, strlen(value)) == NES_OK ? 0 : -1;
}

int nes_awsjson_put_b64(nes_buf *out, const char *name, const uint8_t *p, size_t n)
{
    if (member(out, name) != 0 || nes_buf_reserve(out, (n + 2) / 3 * 4 + 2) != 0)
        return -1;
    out->data[out->len++] = '"';
    out->len += nes_b64_encode(p, n, (char *)out->data + out->len);
    out->data[out->len++] = '"';
    return 0;
}

int nes_awsjson_put_raw(nes_buf *out, const char *name, const char *raw)
{
    if (member(out, name) != 0)
        return -1;
    return nes_buf_append(out, raw, strlen(raw));
}

int nes_awsjson_is_string_map(const char *text)
{
    nes_json_scanner s;
    if (nes_json_scanner_init(&s, (const uint8_t *)text, strlen(text), 2, NULL) != NES_OK)
        return 0;
    nes_json_token t;
    int ok = nes_json_next(&s, &t) == NES_JSON_OBJECT;
    while (ok) {
        nes_json_type k = nes_json_next(&s, &t);
        if (k == NES_JSON_OBJECT_END) {
            ok = nes_json_next(&s, &t) == NES_JSON_END;
            break;
        }
        ok = k == NES_JSON_KEY && nes_json_next(&s, &t) == NES_JSON_STRING;
    }
    nes_json_scanner_free(&s);
    return ok;
}
