/* fuzz_traceparent.c - the telemetry parsers on arbitrary bytes: the W3C traceparent parser (an
 * accepted value round-trips through a child span's header), the OTEL_* list parsers and the
 * Prometheus-text-to-OTLP converter. No crash, no leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "obs/otel/export.h"
#include "obs/otel/trace.h"

static const char *g_value;

static const char *lookup(void *ud, const char *name)
{
    (void)ud;
    if (strcmp(name, "OTEL_EXPORTER_OTLP_HEADERS") == 0 ||
        strcmp(name, "OTEL_RESOURCE_ATTRIBUTES") == 0 ||
        strcmp(name, "OTEL_TRACES_SAMPLER_ARG") == 0)
        return g_value;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    nes_trace_ctx c;
    if (nes_traceparent_parse(s, &c) == 0) {
        nes_span sp;
        nes_trace_span_begin(&sp, "f", NES_SPAN_SERVER, NULL, &c);
        char tp[NES_TRACEPARENT_LEN + 1];
        nes_traceparent_format(&sp, tp);
        nes_trace_ctx back;
        if (nes_traceparent_parse(tp, &back) != 0 || memcmp(back.trace_id, c.trace_id, 16) != 0 ||
            (back.flags & 1) != (c.flags & 1))
            abort();
    }
    nes_otlp_kv kv[1] = {{"service.name", "f"}};
    nes_otlp_resource res = {.attrs = kv, .nattrs = 1};
    nes_buf b = {0};
    b.max = 1 << 20;
    (void)nes_otlp_from_prometheus(&b, &res, s, size, 1, 2);
    nes_buf_free(&b);
    g_value = s;
    nes_otel_config cfg;
    char why[256];
    (void)nes_otel_config_load(&cfg, "svc", lookup, NULL, why, sizeof(why));
    free(s);
    return 0;
}
