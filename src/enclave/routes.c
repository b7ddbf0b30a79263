/* routes.c - the request handler: limits, routing, /encrypt and /decrypt, health, metrics,
 * OpenAPI, JSON errors, access log (DESIGN section 7; see routes.h). */
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/keyring.h"
#include "core/pathtmpl.h"
#include "core/transform.h"
#include "enclave/conns.h"
#include "enclave/httputil.h"
#include "enclave/metrics.h"
#include "enclave/providers/dek.h"
#include "enclave/routes.h"
#include "enclave/server.h"
#include "enclave/state.h"
#include "enclave/tls.h"
#include "obs/log.h"
#include "obs/otel/codec_span.h"
#include "obs/otel/export.h"
#include "obs/otel/trace.h"

/* A Content-Length this many times over the cap gets the 413 before the body is read (the
 * connection closes then); smaller excess is read and discarded so the client sees the 413. */
#define EARLY_REJECT_FACTOR 4
/* Output bound: a token is at most ~45 bytes longer than its value; 64x covers the worst case
 * (an array of one-byte PII values). */
#define OUTPUT_FACTOR 64

/* One request being answered: the connection's request and routing state. */
typedef struct req {
    const nes_request *in;
    nes_route_ctx *ctx;
    nes_route route;
    bool close_after;
    const char *schema;
} req;

typedef struct outcome {
    nes_response *resp;
    unsigned status;
    size_t bytes_out;
    size_t fields;
    const char *error_code;
} outcome;

static int queue(nes_server *s, req *r, unsigned status, nes_buf *body, const char *ctype,
                 bool close, const char *allow, const char *retry_after, outcome *o)
{
    nes_response *resp = o->resp;
    resp->status = status;
    resp->body = *body;
    memset(body, 0, sizeof(*body));
    resp->content_type = ctype;
    resp->allow = allow;
    resp->retry_after = retry_after;
    resp->close = close || atomic_load(&s->draining);
    (void)r;
    o->status = status;
    o->bytes_out = resp->body.len;
    return 0;
}

static int queue_error(nes_server *s, req *r, unsigned status, const char *code, const char *msg,
                       size_t offset, outcome *o)
{
    nes_buf b = {0};
    if (nes_error_json(&b, code, msg, offset) != 0)
        nes_buf_free(&b); /* out of memory: the status alone */
    const char *allow = NULL, *retry = NULL;
    if (status == 405)
        allow = nes_route_method(r->route);
    if (status == 503)
        retry = "1";
    o->error_code = code;
    return queue(s, r, status, &b, "application/json", r->close_after, allow, retry, o);
}

/* The access line; returns its time (Unix ns: the request's span ends then, without a clock read
 * of its own), or 0 when no line is written. */
static uint64_t access_log(const req *r, const char *method, const outcome *o)
{
    uint64_t us = nes_now_us() - r->in->t0_us;
    nes_metrics_request(r->route, o->status, us, r->in->bytes_in, o->bytes_out);
    if (!nes_log_enabled(NES_LOG_INFO))
        return 0;
    nes_logline l;
    nes_logline_begin(&l, NES_LOG_INFO, "request");
    nes_logline_str(&l, "route", nes_route_name(r->route));
    nes_logline_str(&l, "method", method);
    if (r->in->client != NULL)
        nes_logline_str(&l, "client", r->in->client);
    nes_logline_int(&l, "status", o->status);
    if (r->schema != NULL)
        nes_logline_strn(&l, "schema", r->schema, strnlen(r->schema, 64));
    if (o->error_code != NULL)
        nes_logline_str(&l, "error", o->error_code);
    nes_logline_int(&l, "bytes_in", (long long)r->in->bytes_in);
    nes_logline_int(&l, "bytes_out", (long long)o->bytes_out);
    nes_logline_int(&l, "fields", (long long)o->fields);
    nes_logline_int(&l, "latency_us", (long long)us);
    nes_logline_emit(&l);
    return l.time_ns;
}

/* ---- routes ----------------------------------------------------------------------------- */

/* Proxy mode: the request body goes to the application as received (no operation to transform
 * it by; PROXY_PASS_UNMATCHED or a body-less operation). */
static int forward_untouched(nes_server *s, req *r, outcome *o)
{
    nes_buf b = {0};
    if (nes_buf_append(&b, r->in->body, r->in->body_len) != 0) {
        nes_buf_free(&b);
        return queue_error(s, r, 500, "internal", "out of memory", (size_t)-1, o);
    }
    queue(s, r, 200, &b, NULL, false, NULL, NULL, o);
    o->resp->forward = true;
    return 0;
}

/* Proxy mode: the root for the request's operation (method + path template). Returns 0 with
 * *root set, or 1 when the answer is already queued (an error or an untouched forward). */
static int proxy_root(nes_server *s, req *r, const nes_spec *spec, const nes_pii_node **root,
                      outcome *o)
{
    const char *target = r->in->target;
    size_t plen = strcspn(target, "?");
    if (!nes_path_is_clean(target, plen)) {
        queue_error(s, r, 400, "bad_path",
                    "the path has a dot or empty segment; send it normalised", (size_t)-1, o);
        return 1;
    }
    nes_spec_op op;
    bool found = nes_spec_find_op(spec, r->in->method, target, plen, &op);
    if (!found && strcmp(r->in->method, "HEAD") == 0) /* HEAD goes where GET would */
        found = nes_spec_find_op(spec, "GET", target, plen, &op);
    if (!found) {
        if (s->cfg->proxy_pass_unmatched) {
            forward_untouched(s, r, o);
            return 1;
        }
        queue_error(s, r, 400, "no_operation",
                    "no operation of the spec matches this method and path", (size_t)-1, o);
        return 1;
    }
    if (r->in->body_len == 0) { /* nothing to encrypt */
        forward_untouched(s, r, o);
        return 1;
    }
    if (op.root == NULL) { /* fail closed: a body the spec does not describe as JSON */
        queue_error(s, r, 400, "no_json_body",
                    "the matched operation has no JSON request body; this body cannot be checked",
                    (size_t)-1, o);
        return 1;
    }
    if (!nes_content_type_is_json(r->in->header(r->in->head, "Content-Type"))) {
        queue_error(s, r, 415, "unsupported_media_type", "Content-Type must be application/json",
                    (size_t)-1, o);
        return 1;
    }
    *root = op.root;
    return 0;
}

/* The thread's kept body buffer (wiped, len 0): nes_routes_body_done, spare_take. */
static _Thread_local nes_buf t_spare;

/* Gives `out` (empty, max set) room for `guess` bytes: the kept buffer when it is big enough and
 * within out->max (a buffer's cap never exceeds its max), else an allocation. */
static void spare_take(nes_buf *out, size_t guess)
{
    if (t_spare.data != NULL && t_spare.cap >= guess && t_spare.cap <= out->max) {
        out->data = t_spare.data;
        out->cap = t_spare.cap;
        t_spare = (nes_buf){0};
        return;
    }
    (void)nes_buf_reserve(out, guess);
}

void nes_routes_body_done(nes_buf *body)
{
    if (body->data == NULL || t_spare.data != NULL || body->cap > NES_ROUTES_SPARE_MAX) {
        nes_buf_free(body);
        return;
    }
    explicit_bzero(body->data, body->cap); /* a decrypt answer holds plaintext */
    t_spare = (nes_buf){.data = body->data, .cap = body->cap};
    *body = (nes_buf){0};
}

void nes_routes_thread_end(void)
{
    nes_buf_free(&t_spare);
}

static int route_transform(nes_server *s, req *r, nes_direction dir, outcome *o)
{
    const nes_config *cfg = s->cfg;
    if (r->schema == NULL && r->route == NES_ROUTE_PROXY && cfg->proxy_pass_unmatched)
        return forward_untouched(s, r, o);
    if (r->schema == NULL) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the %s header is required", cfg->schema_header);
        return queue_error(s, r, 400, "missing_schema", msg, (size_t)-1, o);
    }
    const char *op = r->in->header(r->in->head, "X-Schema-Operation");
    nes_span sp;
    nes_trace_span_begin(&sp, "schema.resolve", NES_SPAN_INTERNAL, &r->ctx->span, NULL);
    const nes_snapshot *snap = nes_state_enter();
    if (!nes_snapshot_ready(snap)) {
        nes_state_leave();
        return queue_error(s, r, 503, "not_ready", "keys or specs are not loaded yet", (size_t)-1,
                           o);
    }
    const nes_spec *spec = nes_snapshot_spec(snap, r->schema);
    nes_metrics_schema_lookup(spec != NULL);
    if (spec != NULL)
        nes_metrics_spec_hit(r->schema);
    nes_trace_span_attr_int(&sp, "nes.schema.found", spec != NULL);
    if (spec == NULL) {
        char msg[160];
        if (nes_safe_name(r->schema))
            snprintf(msg, sizeof(msg), "no spec named '%s'", r->schema);
        else
            snprintf(msg, sizeof(msg), "no spec has the name given in %s", cfg->schema_header);
        nes_state_leave();
        return queue_error(s, r, 400, "unknown_schema", msg, (size_t)-1, o);
    }
    nes_err err;
    nes_err_clear(&err);
    const nes_pii_node *root = NULL;
    nes_status rst = NES_OK;
    int pr = 0;
    if (r->route == NES_ROUTE_PROXY)
        pr = proxy_root(s, r, spec, &root, o);
    else
        rst = nes_spec_root(spec, op, &root, &err);
    if (rst != NES_OK)
        nes_trace_span_error(&sp);
    nes_trace_span_end(&sp);
    uint64_t resolved_ns = sp.end_ns; /* the body's span starts there (one clock read for both) */
    if (pr != 0) {
        nes_state_leave();
        return 0;
    }
    if (rst != NES_OK) {
        nes_state_leave();
        return queue_error(s, r, 400, op ? "unknown_operation" : "ambiguous_root", err.msg,
                           (size_t)-1, o);
    }
    nes_crypter *crypter = nes_state_crypter(snap);
    if (crypter == NULL) {
        nes_state_leave();
        return queue_error(s, r, 500, "crypto_unavailable",
                           "the encryption key could not be prepared", (size_t)-1, o);
    }
    nes_codec codec = nes_crypter_codec(crypter);
    nes_transform_opts topts = {
        .dir = dir, .root = root, .codec = &codec, .max_depth = cfg->max_depth};
    topts.unknown = cfg->unknown_fields_pass ? NES_UNKNOWN_PASS : NES_UNKNOWN_REJECT;
    /* a sampled request that will be exported times its fields for the crypto span */
    nes_timed_codec timed;
    bool timing = r->ctx->span.sampled && nes_otel_running();
    if (timing) {
        nes_timed_codec_init(&timed, &codec);
        topts.codec = &timed.codec;
    }
    nes_buf out = {0};
    out.max = cfg->max_body_bytes * OUTPUT_FACTOR + 4096;
    /* One allocation for the usual result: a token is ~45 bytes plus a third longer than its
     * value (nes_transform reserves the input size only, which an encrypted body outgrows);
     * none when the thread kept a big enough buffer from its last response. */
    size_t guess = r->in->body_len + (dir == NES_ENCRYPT ? r->in->body_len / 2 + 512 : 0);
    if (guess <= out.max)
        spare_take(&out, guess);
    nes_transform_stats stats = {0};
    nes_trace_span_begin_at(&sp, dir == NES_DECRYPT ? "body.decrypt" : "body.encrypt",
                            NES_SPAN_INTERNAL, &r->ctx->span, resolved_ns);
    nes_status st = nes_transform(&topts, r->in->body, r->in->body_len, &out, &stats, &err);
    nes_metrics_unknown_members(r->schema, st == NES_ERR_UNKNOWN_MEMBER, stats.unknown_passed);
    nes_state_leave();
    if (timing)
        nes_timed_codec_span(&timed, &sp, dir == NES_DECRYPT);
    nes_trace_span_attr_int(&sp, "nes.fields", (int64_t)stats.fields);
    nes_trace_span_attr_int(&sp, "nes.body.bytes", (int64_t)r->in->body_len);
    if (st != NES_OK)
        nes_trace_span_error(&sp);
    if (timing && timed.now_ns != 0)
        nes_trace_span_end_at(&sp, timed.now_ns); /* the crypto span's clock read: the pass's end */
    else
        nes_trace_span_end(&sp);
    if (st == NES_OK) {
        o->fields = stats.fields;
        nes_metrics_fields(dir == NES_DECRYPT, stats.fields);
        queue(s, r, 200, &out, "application/json", false, NULL, NULL, o);
        o->resp->forward = r->route == NES_ROUTE_PROXY;
        if (o->resp->forward)
            r->ctx->fields = stats.fields;
        return 0;
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
    return queue_error(s, r, status, code, msg, offset, o);
}

static int route_text(nes_server *s, req *r, const char *text, size_t len, const char *ctype,
                      outcome *o)
{
    nes_buf b = {0};
    if (nes_buf_append(&b, text, len) != 0) {
        nes_buf_free(&b);
        return queue_error(s, r, 500, "internal", "out of memory", (size_t)-1, o);
    }
    return queue(s, r, 200, &b, ctype, false, NULL, NULL, o);
}

static int route_readyz(nes_server *s, req *r, outcome *o)
{
    const nes_snapshot *snap = nes_state_enter();
    bool ready = nes_snapshot_ready(snap);
    size_t n = nes_snapshot_nspecs(snap);
    nes_state_leave();
    if (!ready)
        return queue_error(s, r, 503, "not_ready", "keys or specs are not loaded yet", (size_t)-1,
                           o);
    char body[512];                          /* the longest warning (both) is 239 bytes */
    const char *warning = nes_dek_warning(); /* test NSM or a Plaintext DEK: say so */
    int len =
        warning ? snprintf(body, sizeof(body),
                           "{\"status\":\"ready\",\"specs\":%zu,\"warning\":\"%s\"}\n", n, warning)
                : snprintf(body, sizeof(body), "{\"status\":\"ready\",\"specs\":%zu}\n", n);
    return route_text(s, r, body, (size_t)len, "application/json", o);
}

void nes_routes_gauges(nes_server *s, nes_metrics_gauges *g)
{
    memset(g, 0, sizeof(*g));
    const nes_snapshot *snap = nes_state_enter();
    g->ready = nes_snapshot_ready(snap);
    g->specs_loaded = nes_snapshot_nspecs(snap);
    time_t kt = nes_snapshot_keys_time(snap);
    g->keyring_size = (int64_t)nes_snapshot_nkeys(snap);
    nes_state_leave();
    g->dek_age_seconds = kt ? difftime(time(NULL), kt) : -1;
    g->open_connections = atomic_load(&s->open);
    g->schema_refresh_errors = atomic_load(&s->schema_refresh_errors);
    g->tls_reloads = atomic_load(&s->tls_reloads);
    g->tls_reload_errors = atomic_load(&s->tls_reload_errors);
    g->connections_rejected = atomic_load(&s->rejected);
    g->log_lines_dropped = nes_log_dropped();
    g->dek_rotation_secs = (double)s->cfg->dek_rotation_secs;
    nes_dek_fill_gauges(g);
    nes_otel_stats os;
    nes_otel_counters(&os);
    g->otel_spans_dropped = os.spans_dropped;
    g->otel_logs_dropped = os.logs_dropped;
    g->otel_export_failures = os.export_failures;
    memcpy(g->otel_exported, os.exported, sizeof(g->otel_exported));
}

static int route_metrics(nes_server *s, req *r, outcome *o)
{
    nes_metrics_totals t;
    nes_metrics_collect(&t);
    nes_metrics_gauges g;
    nes_routes_gauges(s, &g);
    nes_buf b = {0};
    if (nes_metrics_format(&t, &g, &b) != 0) {
        nes_buf_free(&b);
        return queue_error(s, r, 500, "internal", "metrics unavailable", (size_t)-1, o);
    }
    return queue(s, r, 200, &b, "text/plain; version=0.0.4; charset=utf-8", false, NULL, NULL, o);
}

static void respond(nes_server *s, req *r, outcome *o)
{
    nes_route_ctx *ctx = r->ctx;
    if (ctx->pending_status != 0) {
        queue_error(s, r, ctx->pending_status, ctx->pending_code, ctx->pending_msg, (size_t)-1, o);
        return;
    }
    switch (r->route) {
    case NES_ROUTE_ENCRYPT:
        route_transform(s, r, NES_ENCRYPT, o);
        break;
    case NES_ROUTE_DECRYPT:
        route_transform(s, r, NES_DECRYPT, o);
        break;
    case NES_ROUTE_HEALTHZ:
        route_text(s, r, "{\"status\":\"ok\"}\n", 16, "application/json", o);
        break;
    case NES_ROUTE_READYZ:
        route_readyz(s, r, o);
        break;
    case NES_ROUTE_METRICS:
        route_metrics(s, r, o);
        break;
    case NES_ROUTE_OPENAPI:
        route_text(s, r, nes_openapi_yaml, nes_openapi_yaml_len, "application/yaml", o);
        break;
    case NES_ROUTE_PROXY:
        route_transform(s, r, NES_ENCRYPT, o);
        break;
    default:
        queue_error(s, r, 404, "not_found", "no such route", (size_t)-1, o);
    }
}

/* ---- the two steps ---------------------------------------------------------------------- */

/* The request's server span: a child of the client's traceparent when it sent a valid one. */
static void span_begin(const nes_request *in, nes_route_ctx *ctx)
{
    static const char *const names[NES_ROUTE_COUNT] = {
        "POST /encrypt", "POST /decrypt",     "GET /healthz", "GET /readyz",
        "GET /metrics",  "GET /openapi.yaml", "HTTP request", /* proxy */
        "HTTP request" /* other: a 404, or proxy mode before begin() names it */};
    nes_trace_ctx remote;
    const char *tp = in->header != NULL ? in->header(in->head, "traceparent") : NULL;
    bool has_remote = tp != NULL && nes_traceparent_parse(tp, &remote) == 0;
    nes_trace_span_begin(&ctx->span, names[ctx->route], NES_SPAN_SERVER, NULL,
                         has_remote ? &remote : NULL);
    /* a timed span starts when the head was complete, like the latency */
    if (in->t0_us != 0 && ctx->span.start_ns != 0)
        ctx->span.start_ns -= (nes_now_us() - in->t0_us) * 1000u;
    nes_trace_span_attr_str(&ctx->span, "http.request.method", in->method);
    nes_trace_span_attr_str(&ctx->span, "http.route", nes_route_name(ctx->route));
}

/* Ends the request's span after its access line (which carries the span's ids), at the line's
 * time `logged_ns` (0: no line, the clock is read). */
static void span_end(nes_route_ctx *ctx, unsigned status, const char *error_code,
                     uint64_t logged_ns)
{
    nes_trace_span_attr_int(&ctx->span, "http.response.status_code", status);
    if (error_code != NULL)
        nes_trace_span_attr_str(&ctx->span, "error.type", error_code);
    if (status >= 500 || status == 0)
        nes_trace_span_error(&ctx->span);
    if (logged_ns != 0 && ctx->span.start_ns != 0)
        nes_trace_span_end_at(&ctx->span, logged_ns);
    else
        nes_trace_span_end(&ctx->span);
    nes_trace_set_current(NULL);
}

static void pend(nes_route_ctx *r, unsigned status, const char *code, const char *msg)
{
    if (r->pending_status == 0) {
        r->pending_status = status;
        r->pending_code = code;
        r->pending_msg = msg;
    }
}

static bool decrypt_allowed(nes_server *s, const nes_request *in)
{
    if (s->cfg->n_allowed_clients == 0 || in->tls == NULL)
        return false;
    char who[128];
    return nes_tls_peer_allowed(in->tls, s->cfg->allowed_client, s->cfg->n_allowed_clients, who,
                                sizeof(who)) == 1;
}

/* Decides everything that does not need the body (see routes.h). */
static nes_routes_next begin(nes_server *s, const nes_request *in, nes_route_ctx *r)
{
    if (r->route == NES_ROUTE_OTHER && (s->cfg->proxy_protocol || s->cfg->upstream != NULL)) {
        /* proxy mode: read the body (MAX_BODY_BYTES), transform it, forward it */
        r->route = NES_ROUTE_PROXY;
        r->schema = in->header(in->head, s->cfg->schema_header);
        if (in->content_length >= 0 && (uint64_t)in->content_length > s->cfg->max_body_bytes) {
            r->close_after = true;
            pend(r, 413, "body_too_large", "the request body exceeds MAX_BODY_BYTES");
            if ((uint64_t)in->content_length >
                (uint64_t)s->cfg->max_body_bytes * EARLY_REJECT_FACTOR)
                return NES_ROUTES_ANSWER_NOW;
            return NES_ROUTES_DISCARD_BODY;
        }
        return NES_ROUTES_READ_BODY;
    }
    if (r->route == NES_ROUTE_OTHER) {
        pend(r, 404, "not_found", "no such route");
        return NES_ROUTES_DISCARD_BODY;
    }
    if (!nes_route_allows(r->route, in->method)) {
        pend(r, 405, "method_not_allowed", "method not allowed on this route");
        return NES_ROUTES_DISCARD_BODY;
    }
    if (r->route != NES_ROUTE_ENCRYPT && r->route != NES_ROUTE_DECRYPT)
        return NES_ROUTES_DISCARD_BODY;

    r->schema = in->header(in->head, s->cfg->schema_header);
    if (r->route == NES_ROUTE_DECRYPT) {
        if (s->cfg->n_allowed_clients == 0) {
            pend(r, 403, "forbidden", "decryption is disabled on this service");
            return NES_ROUTES_DISCARD_BODY;
        }
        if (!decrypt_allowed(s, in)) {
            pend(r, 403, "forbidden", "this client certificate is not allowed to decrypt");
            return NES_ROUTES_DISCARD_BODY;
        }
    }
    const char *ct = in->header(in->head, "Content-Type");
    if (!nes_content_type_is_json(ct))
        pend(r, 415, "unsupported_media_type", "Content-Type must be application/json");

    if (in->content_length >= 0 && (uint64_t)in->content_length > s->cfg->max_body_bytes) {
        r->close_after = true;
        pend(r, 413, "body_too_large", "the request body exceeds MAX_BODY_BYTES");
        /* Far over: answer now and close rather than read it all. */
        if ((uint64_t)in->content_length > (uint64_t)s->cfg->max_body_bytes * EARLY_REJECT_FACTOR)
            return NES_ROUTES_ANSWER_NOW;
    }
    return r->pending_status != 0 ? NES_ROUTES_DISCARD_BODY : NES_ROUTES_READ_BODY;
}

nes_routes_next nes_routes_begin(nes_server *s, const nes_request *in, bool expect_continue,
                                 nes_route_ctx *ctx, nes_response *resp)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->route = nes_route_of(in->target);
    nes_server_inflight_add(s, 1);
    span_begin(in, ctx);
    nes_routes_next next = begin(s, in, ctx);
    bool has_body = in->content_length != 0;
    /* Nor is a declared body far over the cap read only to be dropped. */
    if (next == NES_ROUTES_DISCARD_BODY && in->content_length >= 0 &&
        (uint64_t)in->content_length > (uint64_t)s->cfg->max_body_bytes * EARLY_REJECT_FACTOR)
        next = NES_ROUTES_ANSWER_NOW;
    /* A client waiting for 100 Continue gets the known answer instead, and the connection
     * closes (it may or may not send the body after all). */
    if (next == NES_ROUTES_DISCARD_BODY && expect_continue && has_body)
        next = NES_ROUTES_ANSWER_NOW;
    if (next == NES_ROUTES_ANSWER_NOW) {
        ctx->close_after = true;
        nes_routes_respond(s, in, ctx, false, resp);
    }
    nes_trace_set_current(NULL);
    return next;
}

void nes_routes_respond(nes_server *s, const nes_request *in, nes_route_ctx *ctx,
                        bool body_too_large, nes_response *resp)
{
    if (body_too_large) {
        ctx->close_after = true;
        pend(ctx, 413, "body_too_large", "the request body exceeds MAX_BODY_BYTES");
    }
    req r = {.in = in,
             .ctx = ctx,
             .route = ctx->route,
             .close_after = ctx->close_after,
             .schema = ctx->schema};
    outcome o = {.resp = resp};
    nes_trace_set_current(&ctx->span);
    nes_trace_group_open(&ctx->span); /* the request's spans: one record, handed over at its end */
    respond(s, &r, &o);
    if (resp->forward) {
        nes_trace_group_close(); /* the server span ends with the exchange */
        return;                  /* logged when the exchange ends (nes_routes_forwarded) */
    }
    uint64_t logged_ns = access_log(&r, in->method, &o);
    span_end(ctx, o.status, o.error_code, logged_ns);
    nes_server_inflight_add(s, -1);
}

void nes_routes_forwarded(nes_server *s, const nes_request *in, nes_route_ctx *ctx, unsigned status,
                          bool head_sent, const char *why, uint64_t bytes_out, nes_response *resp)
{
    req r = {.in = in, .route = ctx->route, .close_after = ctx->close_after, .schema = ctx->schema};
    outcome o = {
        .resp = resp, .status = status, .bytes_out = (size_t)bytes_out, .fields = ctx->fields};
    if (head_sent) {
        o.error_code = why != NULL ? "upstream_aborted" : NULL;
    } else if (status == 504) {
        queue_error(s, &r, 504, "upstream_timeout",
                    "the application did not answer within UPSTREAM_TIMEOUT_SECS", (size_t)-1, &o);
    } else {
        char msg[160];
        snprintf(msg, sizeof(msg), "the application could not be reached (%s)",
                 why != NULL ? why : "upstream");
        queue_error(s, &r, 502, "bad_gateway", msg, (size_t)-1, &o);
    }
    uint64_t logged_ns = access_log(&r, in->method, &o);
    span_end(ctx, o.status, o.error_code, logged_ns);
    nes_server_inflight_add(s, -1);
}

void nes_routes_refused(nes_server *s, const nes_request *request, const nes_route_ctx *rctx,
                        unsigned status, const char *reason, size_t offset, nes_response *resp)
{
    static const struct {
        unsigned status;
        const char *code;
    } codes[] = {
        {400, "bad_request"},        {408, "request_timeout"},
        {413, "body_too_large"},     {414, "uri_too_long"},
        {417, "expectation_failed"}, {431, "headers_too_large"},
        {501, "not_implemented"},    {505, "http_version_not_supported"},
    };
    const char *code = "bad_request";
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i].status == status)
            code = codes[i].code;
    nes_request none = {.method = "-", .t0_us = nes_now_us()};
    const nes_request *in = request != NULL ? request : &none;
    req r = {.in = in,
             .route = rctx != NULL ? rctx->route : NES_ROUTE_OTHER,
             .close_after = true,
             .schema = rctx != NULL ? rctx->schema : NULL};
    outcome o = {.resp = resp};
    char msg[200];
    snprintf(msg, sizeof(msg), "the request is not valid HTTP/1.1: %s", reason);
    queue_error(s, &r, status, code, msg, offset, &o);
    if (rctx != NULL)
        nes_trace_set_current(&rctx->span);
    uint64_t logged_ns = access_log(&r, in->method, &o);
    if (rctx != NULL) {
        nes_span sp = rctx->span; /* rctx is const: end a copy */
        nes_route_ctx tmp = {.span = sp};
        span_end(&tmp, o.status, o.error_code, logged_ns);
    }
    if (request != NULL)
        nes_server_inflight_add(s, -1);
}

void nes_routes_aborted(nes_server *s, const nes_request *in, const nes_route_ctx *ctx)
{
    req r = {.in = in, .route = ctx->route, .schema = ctx->schema};
    outcome o = {.status = 0, .error_code = "aborted"};
    nes_trace_set_current(&ctx->span);
    uint64_t logged_ns = access_log(&r, in->method, &o);
    nes_route_ctx tmp = {.span = ctx->span};
    span_end(&tmp, 0, "aborted", logged_ns);
    nes_server_inflight_add(s, -1);
}
