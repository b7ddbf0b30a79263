/* routes.c - the request handler: limits, routing, /encrypt and /decrypt, health, metrics,
 * OpenAPI, JSON errors, access log (DESIGN section 7). */
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/keyring.h"
#include "core/transform.h"
#include "enclave/conns.h"
#include "enclave/httputil.h"
#include "enclave/log.h"
#include "enclave/metrics.h"
#include "enclave/providers/dek.h"
#include "enclave/server.h"
#include "enclave/state.h"
#include "enclave/tls.h"

/* A Content-Length this many times over the cap gets the 413 before the body is read (the
 * connection closes then); smaller excess is read and discarded so the client sees the 413. */
#define EARLY_REJECT_FACTOR 4
/* A chunked body is discarded past the cap, and the connection dropped past this many caps. */
#define DISCARD_FACTOR 16
/* Output bound: a token is at most ~45 bytes longer than its value; 64x covers the worst case
 * (an array of one-byte PII values). */
#define OUTPUT_FACTOR 64

typedef struct req {
    nes_route route;
    uint64_t t0_us;
    nes_conn *conn;
    nes_buf body;
    size_t bytes_in;
    unsigned pending_status; /* non-zero: answer with this error once the body is consumed */
    const char *pending_code;
    const char *pending_msg;
    bool close_after;
    bool responded;
    bool coalesce;      /* the final call of a request whose response carries a body */
    const char *schema; /* header value (lives as long as the request) */
} req;

typedef struct outcome {
    unsigned status;
    size_t bytes_out;
    size_t fields;
    const char *error_code;
} outcome;

static void free_buf_cb(void *cls)
{
    nes_buf *b = cls;
    nes_buf_free(b);
    free(b);
}

static enum MHD_Result queue(nes_server *s, struct MHD_Connection *conn, req *r, unsigned status,
                             nes_buf *body, const char *ctype, bool close, const char *allow,
                             const char *retry_after, outcome *o)
{
    nes_buf *heap = malloc(sizeof(*heap));
    if (heap == NULL) {
        nes_buf_free(body);
        return MHD_NO;
    }
    *heap = *body;
    memset(body, 0, sizeof(*body));
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        heap->len, heap->data, free_buf_cb, heap);
    if (resp == NULL) {
        free_buf_cb(heap);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (retry_after != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    if (close || atomic_load(&s->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    o->status = status;
    o->bytes_out = heap->len;
    /* Header and body leave in one send (tlsio.h): only when a body will follow the header. */
    nes_tlsio *io = (r->coalesce && heap->len > 0 && r->conn != NULL) ? &r->conn->io : NULL;
    nes_tlsio_hold_next(io);
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    if (rc != MHD_YES)
        nes_tlsio_cancel_hold(io);
    MHD_destroy_response(resp);
    r->responded = true;
    return rc;
}

static enum MHD_Result queue_error(nes_server *s, struct MHD_Connection *conn, req *r,
                                   unsigned status, const char *code, const char *msg,
                                   size_t offset, outcome *o)
{
    nes_buf b = {0};
    if (nes_error_json(&b, code, msg, offset) != 0) {
        nes_buf_free(&b);
        return MHD_NO;
    }
    const char *allow = NULL, *retry = NULL;
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        allow = nes_route_method(r->route);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        retry = "1";
    o->error_code = code;
    return queue(s, conn, r, status, &b, "application/json", r->close_after, allow, retry, o);
}

static void access_log(req *r, const char *method, const outcome *o)
{
    uint64_t us = nes_now_us() - r->t0_us;
    nes_metrics_request(r->route, o->status, us, r->bytes_in, o->bytes_out);
    if (!nes_log_enabled(NES_LOG_INFO))
        return;
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_INFO, "request");
    nes_logline_str(&l, "route", nes_route_name(r->route));
    nes_logline_str(&l, "method", method);
    nes_logline_int(&l, "status", o->status);
    if (r->schema != NULL)
        nes_logline_strn(&l, "schema", r->schema, strnlen(r->schema, 64));
    if (o->error_code != NULL)
        nes_logline_str(&l, "error", o->error_code);
    nes_logline_int(&l, "bytes_in", (long long)r->bytes_in);
    nes_logline_int(&l, "bytes_out", (long long)o->bytes_out);
    nes_logline_int(&l, "fields", (long long)o->fields);
    nes_logline_int(&l, "latency_us", (long long)us);
    nes_logline_emit(&l);
}

/* ---- routes ----------------------------------------------------------------------------- */

static enum MHD_Result route_transform(nes_server *s, struct MHD_Connection *conn, req *r,
                                       nes_direction dir, outcome *o)
{
    const nes_config *cfg = s->cfg;
    if (r->schema == NULL) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the %s header is required", cfg->schema_header);
        return queue_error(s, conn, r, 400, "missing_schema", msg, (size_t)-1, o);
    }
    const char *op = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Schema-Operation");
    const nes_snapshot *snap = nes_state_enter();
    if (!nes_snapshot_ready(snap)) {
        nes_state_leave();
        return queue_error(s, conn, r, 503, "not_ready", "keys or specs are not loaded yet",
                           (size_t)-1, o);
    }
    const nes_spec *spec = nes_snapshot_spec(snap, r->schema);
    nes_metrics_schema_lookup(spec != NULL);
    if (spec == NULL) {
        char msg[160];
        if (nes_safe_name(r->schema))
            snprintf(msg, sizeof(msg), "no spec named '%s'", r->schema);
        else
            snprintf(msg, sizeof(msg), "no spec has the name given in %s", cfg->schema_header);
        nes_state_leave();
        return queue_error(s, conn, r, 400, "unknown_schema", msg, (size_t)-1, o);
    }
    nes_err err;
    nes_err_clear(&err);
    const nes_pii_node *root = NULL;
    if (nes_spec_root(spec, op, &root, &err) != NES_OK) {
        nes_state_leave();
        return queue_error(s, conn, r, 400, op ? "unknown_operation" : "ambiguous_root", err.msg,
                           (size_t)-1, o);
    }
    nes_crypter *crypter = nes_state_crypter(snap);
    if (crypter == NULL) {
        nes_state_leave();
        return queue_error(s, conn, r, 500, "crypto_unavailable",
                           "the encryption key could not be prepared", (size_t)-1, o);
    }
    nes_codec codec = nes_crypter_codec(crypter);
    nes_transform_opts topts = {
        .dir = dir, .root = root, .codec = &codec, .max_depth = cfg->max_depth};
    topts.unknown = cfg->unknown_fields_pass ? NES_UNKNOWN_PASS : NES_UNKNOWN_REJECT;
    nes_buf out = {0};
    out.max = cfg->max_body_bytes * OUTPUT_FACTOR + 4096;
    /* One allocation for the usual result: a token is ~45 bytes plus a third longer than its
     * value (nes_transform reserves the input size only, which an encrypted body outgrows). */
    size_t guess = r->body.len + (dir == NES_ENCRYPT ? r->body.len / 2 + 512 : 0);
    if (guess <= out.max)
        (void)nes_buf_reserve(&out, guess);
    nes_transform_stats stats = {0};
    nes_status st = nes_transform(&topts, r->body.data, r->body.len, &out, &stats, &err);
    nes_metrics_unknown_members(r->schema, st == NES_ERR_UNKNOWN_MEMBER, stats.unknown_passed);
    nes_state_leave();
    nes_buf_free(&r->body); /* plaintext (encrypt) or tokens (decrypt): not kept */
    if (st == NES_OK) {
        o->fields = stats.fields;
        nes_metrics_fields(dir == NES_DECRYPT, stats.fields);
        return queue(s, conn, r, 200, &out, "application/json", false, NULL, NULL, o);
    }
    nes_buf_free(&out);
    /* err.msg is one of the core's fixed reasons ("invalid UTF-8"...), never content */
    char msg[400];
    int status = 400;
    const char *code;
    size_t offset = err.offset;
    switch (st) {
    case NES_ERR_JSON:
        code = "invalid_json";
        snprintf(msg, sizeof(msg), "the body is not valid JSON at byte offset %zu: %s", offset,
                 err.msg);
        break;
    case NES_ERR_DEPTH:
        code = "too_deep";
        snprintf(msg, sizeof(msg), "the body nests deeper than %u levels (byte offset %zu)",
                 cfg->max_depth, offset);
        break;
    case NES_ERR_TOKEN:
        code = "invalid_token";
        snprintf(msg, sizeof(msg), "a PII field does not hold a valid token (byte offset %zu)",
                 offset);
        break;
    case NES_ERR_UNKNOWN_MEMBER: /* fail closed: err.msg names the JSON pointer, never a value */
    case NES_ERR_TYPE:
        status = 422;
        code = st == NES_ERR_TYPE ? "pii_type" : "unknown_member";
        snprintf(msg, sizeof(msg), "%s (byte offset %zu)", err.msg, offset);
        break;
    case NES_ERR_LIMIT:
        status = 413;
        code = "response_too_large";
        snprintf(msg, sizeof(msg), "the result exceeds the size limit");
        offset = (size_t)-1;
        break;
    default:
        status = 500;
        code = "internal";
        snprintf(msg, sizeof(msg), "the request could not be processed");
        offset = (size_t)-1;
        break;
    }
    return queue_error(s, conn, r, status, code, msg, offset, o);
}

static enum MHD_Result route_text(nes_server *s, struct MHD_Connection *conn, req *r,
                                  const char *text, size_t len, const char *ctype, outcome *o)
{
    nes_buf b = {0};
    if (nes_buf_append(&b, text, len) != 0) {
        nes_buf_free(&b);
        return MHD_NO;
    }
    return queue(s, conn, r, 200, &b, ctype, false, NULL, NULL, o);
}

static enum MHD_Result route_readyz(nes_server *s, struct MHD_Connection *conn, req *r, outcome *o)
{
    const nes_snapshot *snap = nes_state_enter();
    bool ready = nes_snapshot_ready(snap);
    size_t n = nes_snapshot_nspecs(snap);
    nes_state_leave();
    if (!ready)
        return queue_error(s, conn, r, 503, "not_ready", "keys or specs are not loaded yet",
                           (size_t)-1, o);
    char body[512];                          /* the longest warning (both) is 239 bytes */
    const char *warning = nes_dek_warning(); /* test NSM or a Plaintext DEK: say so */
    int len =
        warning ? snprintf(body, sizeof(body),
                           "{\"status\":\"ready\",\"specs\":%zu,\"warning\":\"%s\"}\n", n, warning)
                : snprintf(body, sizeof(body), "{\"status\":\"ready\",\"specs\":%zu}\n", n);
    return route_text(s, conn, r, body, (size_t)len, "application/json", o);
}

static enum MHD_Result route_metrics(nes_server *s, struct MHD_Connection *conn, req *r, outcome *o)
{
    nes_metrics_totals t;
    nes_metrics_collect(&t);
    nes_metrics_gauges g = {0};
    const nes_snapshot *snap = nes_state_enter();
    g.ready = nes_snapshot_ready(snap);
    g.specs_loaded = nes_snapshot_nspecs(snap);
    time_t kt = nes_snapshot_keys_time(snap);
    nes_state_leave();
    g.dek_age_seconds = kt ? difftime(time(NULL), kt) : -1;
    g.open_connections = nes_conns_open();
    g.schema_refresh_errors = atomic_load(&s->schema_refresh_errors);
    g.tls_reloads = atomic_load(&s->tls_reloads);
    g.tls_reload_errors = atomic_load(&s->tls_reload_errors);
    g.connections_rejected = atomic_load(&s->rejected);
    g.log_lines_dropped = nes_log_dropped();
    nes_dek_fill_gauges(&g);
    nes_buf b = {0};
    if (nes_metrics_format(&t, &g, &b) != 0) {
        nes_buf_free(&b);
        return queue_error(s, conn, r, 500, "internal", "metrics unavailable", (size_t)-1, o);
    }
    return queue(s, conn, r, 200, &b, "text/plain; version=0.0.4; charset=utf-8", false, NULL, NULL,
                 o);
}

static enum MHD_Result respond(nes_server *s, struct MHD_Connection *conn, req *r,
                               const char *method)
{
    outcome o = {0};
    enum MHD_Result rc;
    r->coalesce = strcmp(method, MHD_HTTP_METHOD_HEAD) != 0;
    if (r->pending_status != 0) {
        rc = queue_error(s, conn, r, r->pending_status, r->pending_code, r->pending_msg, (size_t)-1,
                         &o);
    } else {
        switch (r->route) {
        case NES_ROUTE_ENCRYPT:
            rc = route_transform(s, conn, r, NES_ENCRYPT, &o);
            break;
        case NES_ROUTE_DECRYPT:
            rc = route_transform(s, conn, r, NES_DECRYPT, &o);
            break;
        case NES_ROUTE_HEALTHZ:
            rc = route_text(s, conn, r, "{\"status\":\"ok\"}\n", 16, "application/json", &o);
            break;
        case NES_ROUTE_READYZ:
            rc = route_readyz(s, conn, r, &o);
            break;
        case NES_ROUTE_METRICS:
            rc = route_metrics(s, conn, r, &o);
            break;
        case NES_ROUTE_OPENAPI:
            rc = route_text(s, conn, r, nes_openapi_yaml, nes_openapi_yaml_len, "application/yaml",
                            &o);
            break;
        default:
            rc = queue_error(s, conn, r, 404, "not_found", "no such route", (size_t)-1, &o);
        }
    }
    access_log(r, method, &o);
    return rc;
}

/* ---- the handler ------------------------------------------------------------------------ */

static void pend(req *r, unsigned status, const char *code, const char *msg)
{
    if (r->pending_status == 0) {
        r->pending_status = status;
        r->pending_code = code;
        r->pending_msg = msg;
    }
}

static bool decrypt_allowed(nes_server *s, struct MHD_Connection *conn)
{
    if (s->cfg->n_allowed_clients == 0)
        return false;
    const union MHD_ConnectionInfo *ti =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ti == NULL || ti->tls_session == NULL)
        return false;
    char who[128];
    return nes_tls_peer_allowed((gnutls_session_t)ti->tls_session, s->cfg->allowed_client,
                                s->cfg->n_allowed_clients, who, sizeof(who)) == 1;
}

/* First call: headers are complete. Decide everything that does not need the body. */
static enum MHD_Result begin(nes_server *s, struct MHD_Connection *conn, const char *url,
                             const char *method, void **req_cls)
{
    req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return MHD_NO;
    r->t0_us = nes_now_us();
    r->route = nes_route_of(url);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->conn = ci ? (nes_conn *)ci->socket_context : NULL;
    if (r->conn != NULL) {
        r->conn->requests++;
        nes_conns_set_deadline(r->conn,
                               nes_now_ms() + (int64_t)s->cfg->request_timeout_secs * 1000);
    }
    atomic_fetch_add(&s->inflight, 1);
    *req_cls = r;
    r->body.max = s->cfg->max_body_bytes;

    if (r->route == NES_ROUTE_OTHER) {
        pend(r, 404, "not_found", "no such route");
        return MHD_YES;
    }
    if (!nes_route_allows(r->route, method)) {
        pend(r, 405, "method_not_allowed", "method not allowed on this route");
        return MHD_YES;
    }
    if (r->route != NES_ROUTE_ENCRYPT && r->route != NES_ROUTE_DECRYPT)
        return MHD_YES;

    r->schema = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, s->cfg->schema_header);
    if (r->route == NES_ROUTE_DECRYPT) {
        if (s->cfg->n_allowed_clients == 0) {
            pend(r, 403, "forbidden", "decryption is disabled on this service");
            return MHD_YES;
        }
        if (!decrypt_allowed(s, conn)) {
            pend(r, 403, "forbidden", "this client certificate is not allowed to decrypt");
            return MHD_YES;
        }
    }
    const char *ct =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!nes_content_type_is_json(ct))
        pend(r, 415, "unsupported_media_type", "Content-Type must be application/json");

    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        unsigned long long n = strtoull(cl, NULL, 10);
        if (n > s->cfg->max_body_bytes) {
            r->close_after = true;
            pend(r, 413, "body_too_large", "the request body exceeds MAX_BODY_BYTES");
            if (n > (unsigned long long)s->cfg->max_body_bytes * EARLY_REJECT_FACTOR) {
                /* Far over: answer now and close rather than read it all (clients that sent
                 * Expect: 100-continue see this cleanly). */
                outcome o = {0};
                enum MHD_Result rc =
                    queue_error(s, conn, r, 413, "body_too_large",
                                "the request body exceeds MAX_BODY_BYTES", (size_t)-1, &o);
                access_log(r, method, &o);
                return rc;
            }
        }
    }
    return MHD_YES;
}

enum MHD_Result nes_routes_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    nes_server *s = cls;
    req *r = *req_cls;
    if (r == NULL)
        return begin(s, conn, url, method, req_cls);
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->bytes_in += n;
        if (r->responded)
            return MHD_YES; /* early 413 queued: MHD closes after sending it */
        if (r->pending_status != 0) {
            if (r->bytes_in > s->cfg->max_body_bytes * DISCARD_FACTOR)
                return MHD_NO;
            return MHD_YES; /* discard */
        }
        if (nes_buf_append(&r->body, upload_data, n) != 0) {
            nes_buf_free(&r->body);
            r->close_after = true;
            pend(r, 413, "body_too_large", "the request body exceeds MAX_BODY_BYTES");
        }
        return MHD_YES;
    }
    if (r->responded)
        return MHD_YES;
    return respond(s, conn, r, method);
}

void nes_routes_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    nes_server *s = cls;
    req *r = *req_cls;
    if (r == NULL)
        return;
    if (!r->responded) {
        outcome o = {.status = 0, .error_code = "aborted"};
        (void)toe;
        access_log(r, "-", &o);
    }
    if (r->conn != NULL) {
        nes_tlsio_flush(&r->conn->io, r->conn->fd);
        nes_conns_set_deadline(
            r->conn, nes_now_ms() +
                         (int64_t)(s->cfg->idle_timeout_secs + s->cfg->header_timeout_secs) * 1000);
    }
    nes_buf_free(&r->body);
    free(r);
    *req_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}
