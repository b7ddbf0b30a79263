/* nsm_cbor.c - NSM request and answer messages in CBOR (see nsm_cbor.h). */
#include "nsm/nsm_cbor.h"

#include <cbor.h>
#include <string.h>

#include "core/error.h"

/* ---- encoding ------------------------------------------------------------------------------- */

/* Serializes `item` (consumed) and appends it to `out`. */
static int emit(cbor_item_t *item, nes_buf *out, char *why, size_t why_len)
{
    if (item == NULL) {
        nes_msgf(why, why_len, "CBOR: out of memory");
        return -1;
    }
    unsigned char *p = NULL;
    size_t cap = 0;
    size_t n = cbor_serialize_alloc(item, &p, &cap);
    cbor_decref(&item);
    int rc = 0;
    if (n == 0 || n > NES_NSM_MAX_MSG) {
        nes_msgf(why, why_len, "CBOR: message of %zu bytes (at most %d)", n, NES_NSM_MAX_MSG);
        rc = -1;
    } else if (nes_buf_append(out, p, n) != 0) {
        nes_msgf(why, why_len, "CBOR: out of memory");
        rc = -1;
    }
    free(p);
    return rc;
}

/* Adds key -> value to `map` (value consumed); false when either is NULL or the add fails. */
static bool put(cbor_item_t *map, const char *key, cbor_item_t *value)
{
    if (map == NULL || value == NULL) {
        if (value != NULL)
            cbor_decref(&value);
        return false;
    }
    cbor_item_t *k = cbor_build_string(key);
    if (k == NULL) {
        cbor_decref(&value);
        return false;
    }
    bool ok = cbor_map_add(map, (struct cbor_pair){.key = cbor_move(k), .value = cbor_move(value)});
    return ok;
}

static cbor_item_t *bytes_or_null(nes_nsm_bytes b)
{
    return b.p == NULL ? cbor_new_null() : cbor_build_bytestring(b.p, b.len);
}

/* {name: inner} with inner consumed. */
static cbor_item_t *wrap1(const char *name, cbor_item_t *inner)
{
    cbor_item_t *m = cbor_new_definite_map(1);
    if (!put(m, name, inner)) {
        if (m != NULL)
            cbor_decref(&m);
        return NULL;
    }
    return m;
}

int nes_nsm_encode_attestation_req(nes_nsm_bytes public_key, nes_nsm_bytes user_data,
                                   nes_nsm_bytes nonce, nes_buf *out, char *why, size_t why_len)
{
    if (public_key.len > NES_NSM_MAX_FIELD || user_data.len > NES_NSM_MAX_FIELD ||
        nonce.len > NES_NSM_MAX_FIELD) {
        nes_msgf(why, why_len, "NSM: public_key, user_data and nonce are at most %d bytes each",
                 NES_NSM_MAX_FIELD);
        return -1;
    }
    cbor_item_t *m = cbor_new_definite_map(3);
    bool ok = put(m, "user_data", bytes_or_null(user_data)) &&
              put(m, "nonce", bytes_or_null(nonce)) &&
              put(m, "public_key", bytes_or_null(public_key));
    if (!ok && m != NULL)
        cbor_decref(&m);
    return emit(ok ? wrap1("Attestation", m) : NULL, out, why, why_len);
}

int nes_nsm_encode_describe_pcr_req(unsigned index, nes_buf *out, char *why, size_t why_len)
{
    cbor_item_t *m = cbor_new_definite_map(1);
    bool ok = index <= 0xFFFF && put(m, "index", cbor_build_uint16((uint16_t)index));
    if (!ok && m != NULL)
        cbor_decref(&m);
    return emit(ok ? wrap1("DescribePCR", m) : NULL, out, why, why_len);
}

int nes_nsm_encode_attestation_ans(const uint8_t *doc, size_t len, nes_buf *out, char *why,
                                   size_t why_len)
{
    cbor_item_t *m = cbor_new_definite_map(1);
    bool ok = put(m, "document", cbor_build_bytestring(doc, len));
    if (!ok && m != NULL)
        cbor_decref(&m);
    return emit(ok ? wrap1("Attestation", m) : NULL, out, why, why_len);
}

int nes_nsm_encode_describe_pcr_ans(bool locked, const uint8_t *pcr, size_t len, nes_buf *out,
                                    char *why, size_t why_len)
{
    cbor_item_t *m = cbor_new_definite_map(2);
    bool ok =
        put(m, "lock", cbor_build_bool(locked)) && put(m, "data", cbor_build_bytestring(pcr, len));
    if (!ok && m != NULL)
        cbor_decref(&m);
    return emit(ok ? wrap1("DescribePCR", m) : NULL, out, why, why_len);
}

int nes_nsm_encode_error_ans(const char *code, nes_buf *out, char *why, size_t why_len)
{
    return emit(wrap1("Error", cbor_build_string(code)), out, why, why_len);
}

/* ---- decoding ------------------------------------------------------------------------------- */

/* One open container while checking: items still expected (definite) or until a break. */
typedef struct frame {
    uint64_t left;
    bool indef;
    int chunks; /* an indefinite string: the major type its chunks must have, else -1 */
} frame;

static int bad(char *why, size_t why_len, const char *what, size_t at)
{
    nes_msgf(why, why_len, "NSM message: CBOR %s at byte %zu", what, at);
    return -1;
}

int nes_nsm_cbor_check(const uint8_t *msg, size_t len, char *why, size_t why_len)
{
    frame st[NES_NSM_MAX_DEPTH + 1];
    int depth = 0;
    size_t i = 0;
    st[0] = (frame){1, false, -1};
    while (depth >= 0) {
        frame *f = &st[depth];
        if (!f->indef && f->left == 0) {
            depth--;
            continue;
        }
        if (i >= len)
            return bad(why, why_len, "truncated", i);
        size_t at = i;
        uint8_t b = msg[i++];
        if (b == 0xff) {
            if (!f->indef)
                return bad(why, why_len, "malformed (stray break)", at);
            depth--;
            continue;
        }
        unsigned major = b >> 5, ai = b & 31u;
        uint64_t v = ai;
        if (ai >= 24 && ai <= 27) {
            size_t n = (size_t)1 << (ai - 24);
            if (len - i < n)
                return bad(why, why_len, "truncated", i);
            v = 0;
            for (size_t k = 0; k < n; k++)
                v = (v << 8) | msg[i++];
        } else if (ai >= 28 && ai <= 30) {
            return bad(why, why_len, "malformed (reserved length)", at);
        }
        if (!f->indef)
            f->left--;
        if (f->chunks >= 0 && ((int)major != f->chunks || ai == 31))
            return bad(why, why_len, "malformed (string chunk)", at);
        uint64_t items = 0;
        bool push = false, indef = ai == 31;
        switch (major) {
        case 0:
        case 1:
        case 6:
            if (indef)
                return bad(why, why_len, "malformed (indefinite length)", at);
            push = major == 6; /* a tag holds one item */
            items = 1;
            break;
        case 2:
        case 3:
            if (!indef && v > len - i)
                return bad(why, why_len, "truncated", at);
            if (!indef)
                i += (size_t)v;
            push = indef;
            break;
        case 4:
        case 5:
            /* every item takes at least one byte: a count beyond the input is truncated */
            items = major == 5 ? (v > UINT64_MAX / 2 ? UINT64_MAX : 2 * v) : v;
            if (!indef && items > len - i)
                return bad(why, why_len, "truncated", at);
            push = indef || items > 0;
            break;
        default: /* 7: simple values and floats, their bytes already read */
            if (indef)
                return bad(why, why_len, "malformed (stray break)", at);
            break;
        }
        if (push) {
            if (depth + 1 > NES_NSM_MAX_DEPTH)
                return bad(why, why_len, "nested too deep", at);
            st[++depth] =
                (frame){items, indef, (indef && (major == 2 || major == 3)) ? (int)major : -1};
        }
    }
    if (i != len) {
        nes_msgf(why, why_len, "NSM message: %zu trailing bytes after the CBOR item", len - i);
        return -1;
    }
    return 0;
}

/* Loads exactly one complete item from msg. */
static cbor_item_t *load(const uint8_t *msg, size_t len, char *why, size_t why_len)
{
    if (len == 0) {
        nes_msgf(why, why_len, "NSM answer: empty");
        return NULL;
    }
    if (len > NES_NSM_MAX_MSG) {
        nes_msgf(why, why_len, "NSM message: %zu bytes, more than the %d allowed", len,
                 NES_NSM_MAX_MSG);
        return NULL;
    }
    /* libcbor allocates a container of the declared size before reading its items: check every
     * declared length against the input first, so memory stays bounded by the input's size. */
    if (nes_nsm_cbor_check(msg, len, why, why_len) != 0)
        return NULL;
    struct cbor_load_result res;
    cbor_item_t *item = cbor_load(msg, len, &res);
    if (item == NULL || res.error.code != CBOR_ERR_NONE) {
        if (item != NULL)
            cbor_decref(&item);
        const char *what = res.error.code == CBOR_ERR_NOTENOUGHDATA ? "truncated"
                           : res.error.code == CBOR_ERR_MEMERROR    ? "out of memory"
                                                                    : "malformed";
        nes_msgf(why, why_len, "NSM message: CBOR %s at byte %zu", what, res.error.position);
        return NULL;
    }
    if (res.read != len) {
        cbor_decref(&item);
        nes_msgf(why, why_len, "NSM message: %zu trailing bytes after the CBOR item",
                 len - res.read);
        return NULL;
    }
    return item;
}

/* libcbor 0.8's cbor_is_bool and cbor_is_null assert (abort) on a float: check the width first. */
static bool is_ctrl(const cbor_item_t *it)
{
    return cbor_isa_float_ctrl(it) && cbor_float_get_width(it) == CBOR_FLOAT_0;
}

static bool is_null(const cbor_item_t *it)
{
    return is_ctrl(it) && cbor_is_null(it);
}

static bool is_bool(const cbor_item_t *it)
{
    return is_ctrl(it) && cbor_is_bool(it);
}

/* A definite text string equal to `s`. */
static bool text_is(const cbor_item_t *it, const char *s)
{
    size_t n = strlen(s);
    return cbor_isa_string(it) && cbor_string_is_definite(it) && cbor_string_length(it) == n &&
           memcmp(cbor_string_handle(it), s, n) == 0;
}

/* A top-level {name: value} map: returns the name index in `names` (or -1) and the value. */
static int variant(const cbor_item_t *root, const char *const *names, size_t n, cbor_item_t **value,
                   char *why, size_t why_len)
{
    if (!cbor_isa_map(root) || !cbor_map_is_definite(root) || cbor_map_size(root) != 1) {
        nes_msgf(why, why_len, "NSM message: not a map with one entry");
        return -1;
    }
    struct cbor_pair *p = cbor_map_handle(root);
    for (size_t i = 0; i < n; i++) {
        if (text_is(p[0].key, names[i])) {
            *value = p[0].value;
            return (int)i;
        }
    }
    nes_msgf(why, why_len, "NSM message: unexpected variant");
    return -1;
}

/* Fills fields[i] with the value of key names[i] of the definite map `m`; every key must be one
 * of names, at most once; those with required[i] must be present. */
static int fields(const cbor_item_t *m, const char *const *names, const bool *required, size_t n,
                  cbor_item_t **out, const char *ctx, char *why, size_t why_len)
{
    if (!cbor_isa_map(m) || !cbor_map_is_definite(m)) {
        nes_msgf(why, why_len, "NSM %s: not a definite map", ctx);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    struct cbor_pair *p = cbor_map_handle(m);
    size_t sz = cbor_map_size(m);
    for (size_t k = 0; k < sz; k++) {
        size_t i = 0;
        while (i < n && !text_is(p[k].key, names[i]))
            i++;
        if (i == n) {
            nes_msgf(why, why_len, "NSM %s: unexpected key", ctx);
            return -1;
        }
        if (out[i] != NULL) {
            nes_msgf(why, why_len, "NSM %s: duplicate key %s", ctx, names[i]);
            return -1;
        }
        out[i] = p[k].value;
    }
    for (size_t i = 0; i < n; i++) {
        if (required[i] && out[i] == NULL) {
            nes_msgf(why, why_len, "NSM %s: %s missing", ctx, names[i]);
            return -1;
        }
    }
    return 0;
}

/* A definite byte string of at most `max` bytes (or null when allowed). */
static int bytes(const cbor_item_t *it, size_t max, bool null_ok, nes_nsm_bytes *b,
                 const char *name, char *why, size_t why_len)
{
    b->p = NULL;
    b->len = 0;
    if (it == NULL || (null_ok && is_null(it)))
        return 0;
    if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it)) {
        nes_msgf(why, why_len, "NSM message: %s is not a definite byte string", name);
        return -1;
    }
    if (cbor_bytestring_length(it) > max) {
        nes_msgf(why, why_len, "NSM message: %s is %zu bytes, more than %zu", name,
                 cbor_bytestring_length(it), max);
        return -1;
    }
    b->p = cbor_bytestring_handle(it);
    b->len = cbor_bytestring_length(it);
    return 0;
}

/* An {"Error": code} answer as a message. */
static void refused(const cbor_item_t *code, char *why, size_t why_len)
{
    char c[48] = "?";
    if (cbor_isa_string(code) && cbor_string_is_definite(code) && cbor_string_length(code) > 0 &&
        cbor_string_length(code) < sizeof(c)) {
        size_t n = cbor_string_length(code);
        const unsigned char *s = cbor_string_handle(code);
        size_t i = 0;
        while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
            i++;
        if (i == n) {
            memcpy(c, s, n);
            c[n] = '\0';
        }
    }
    nes_msgf(why, why_len, "NSM refused: %s", c);
}

int nes_nsm_decode_attestation_ans(const uint8_t *msg, size_t len, nes_buf *doc, char *why,
                                   size_t why_len)
{
    cbor_item_t *root = load(msg, len, why, why_len);
    if (root == NULL)
        return -1;
    static const char *const names[] = {"Attestation", "Error"};
    cbor_item_t *v = NULL, *f[1];
    static const char *const keys[] = {"document"};
    static const bool req[] = {true};
    nes_nsm_bytes d;
    int rc = -1;
    int which = variant(root, names, 2, &v, why, why_len);
    if (which == 1) {
        refused(v, why, why_len);
    } else if (which == 0 && fields(v, keys, req, 1, f, "attestation", why, why_len) == 0 &&
               bytes(f[0], NES_NSM_MAX_MSG, false, &d, "document", why, why_len) == 0) {
        if (d.len == 0)
            nes_msgf(why, why_len, "NSM attestation: empty document");
        else if (nes_buf_append(doc, d.p, d.len) != 0)
            nes_msgf(why, why_len, "NSM attestation: out of memory");
        else
            rc = 0;
    }
    cbor_decref(&root);
    return rc;
}

int nes_nsm_decode_describe_pcr_ans(const uint8_t *msg, size_t len, uint8_t *pcr, size_t *pcr_len,
                                    bool *locked, char *why, size_t why_len)
{
    cbor_item_t *root = load(msg, len, why, why_len);
    if (root == NULL)
        return -1;
    static const char *const names[] = {"DescribePCR", "Error"};
    static const char *const keys[] = {"lock", "data"};
    static const bool req[] = {true, true};
    cbor_item_t *v = NULL, *f[2];
    nes_nsm_bytes d;
    int rc = -1;
    int which = variant(root, names, 2, &v, why, why_len);
    if (which == 1) {
        refused(v, why, why_len);
    } else if (which == 0 && fields(v, keys, req, 2, f, "PCR", why, why_len) == 0 &&
               bytes(f[1], NES_NSM_MAX_PCR, false, &d, "data", why, why_len) == 0) {
        if (!is_bool(f[0])) {
            nes_msgf(why, why_len, "NSM PCR: lock is not a boolean");
        } else if (d.p == NULL || d.len == 0) {
            nes_msgf(why, why_len, "NSM PCR: empty data");
        } else {
            *locked = cbor_get_bool(f[0]);
            memcpy(pcr, d.p, d.len);
            *pcr_len = d.len;
            rc = 0;
        }
    }
    cbor_decref(&root);
    return rc;
}

int nes_nsm_decode_request(const uint8_t *msg, size_t len, nes_nsm_request *req, char *why,
                           size_t why_len)
{
    memset(req, 0, sizeof(*req));
    cbor_item_t *root = load(msg, len, why, why_len);
    if (root == NULL)
        return -1;
    static const char *const names[] = {"Attestation", "DescribePCR"};
    cbor_item_t *v = NULL, *f[3];
    int rc = -1;
    int which = variant(root, names, 2, &v, why, why_len);
    if (which == 0) {
        static const char *const keys[] = {"public_key", "user_data", "nonce"};
        static const bool opt[] = {false, false, false};
        nes_nsm_bytes b[3];
        if (fields(v, keys, opt, 3, f, "attestation request", why, why_len) == 0 &&
            bytes(f[0], NES_NSM_MAX_FIELD, true, &b[0], "public_key", why, why_len) == 0 &&
            bytes(f[1], NES_NSM_MAX_FIELD, true, &b[1], "user_data", why, why_len) == 0 &&
            bytes(f[2], NES_NSM_MAX_FIELD, true, &b[2], "nonce", why, why_len) == 0) {
            /* copy the three fields into owned storage, then point at them */
            size_t total = b[0].len + b[1].len + b[2].len;
            if (nes_buf_reserve(&req->storage, total + 1) != 0) {
                nes_msgf(why, why_len, "NSM request: out of memory");
            } else {
                nes_nsm_bytes *dst[3] = {&req->public_key, &req->user_data, &req->nonce};
                for (int i = 0; i < 3; i++) {
                    dst[i]->len = b[i].len;
                    dst[i]->p = NULL;
                    if (b[i].p != NULL) {
                        dst[i]->p = req->storage.data + req->storage.len;
                        nes_buf_append(&req->storage, b[i].p, b[i].len);
                    }
                }
                req->kind = NES_NSM_REQ_ATTESTATION;
                rc = 0;
            }
        }
    } else if (which == 1) {
        static const char *const keys[] = {"index"};
        static const bool need[] = {true};
        if (fields(v, keys, need, 1, f, "PCR request", why, why_len) == 0) {
            if (!cbor_isa_uint(f[0]) || cbor_get_int(f[0]) > 0xFFFF) {
                nes_msgf(why, why_len, "NSM PCR request: index is not a small unsigned integer");
            } else {
                req->kind = NES_NSM_REQ_DESCRIBE_PCR;
                req->index = (unsigned)cbor_get_int(f[0]);
                rc = 0;
            }
        }
    }
    cbor_decref(&root);
    if (rc != 0)
        nes_nsm_request_free(req);
    return rc;
}

void nes_nsm_request_free(nes_nsm_request *req)
{
    nes_buf_free(&req->storage);
    memset(req, 0, sizeof(*req));
}
