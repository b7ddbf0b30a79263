/* vars.c - reference rows of the OTEL_* variables (see vars.h). */
#include "obs/otel/vars.h"

#define G NES_OTEL_VARS_GROUP
#define URL "http:// or https:// URL"
#define MS "0 to 86400000"

const nes_cfgref_var nes_otel_vars[] = {
    {G, "OTEL_EXPORTER_OTLP_ENDPOINT", "URL", NULL, false, URL,
     "OTLP/HTTP base URL; /v1/traces, /v1/metrics, /v1/logs are appended (unset: no export)"},
    {G, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "URL", NULL, false, URL,
     "full URL for spans (wins over the base URL)"},
    {G, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "URL", NULL, false, URL,
     "full URL for metrics (wins over the base URL)"},
    {G, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "URL", NULL, false, URL,
     "full URL for log records (wins over the base URL)"},
    {G, "OTEL_EXPORTER_OTLP_HEADERS", "string", NULL, false, "name=value,name=value",
     "headers sent with every export request (values %-decoded; never logged)"},
    {G, "OTEL_EXPORTER_OTLP_TIMEOUT", "integer (ms)", "10000", false, "1 to 86400000",
     "bound on one export request"},
    {G, "OTEL_EXPORTER_OTLP_CERTIFICATE", "string", NULL, false, "a PEM file",
     "CA bundle for an https:// endpoint (unset: the system's)"},
    {G, "OTEL_EXPORTER_OTLP_PROTOCOL", "string", "http/protobuf", false, "http/protobuf, http/json",
     "OTLP over HTTP only (grpc is refused); either value: spans and logs go as protobuf, "
     "metrics as JSON"},
    {G, "OTEL_SERVICE_NAME", "string", "the program's name", true, NULL,
     "service.name resource attribute (wins over OTEL_RESOURCE_ATTRIBUTES)"},
    {G, "OTEL_RESOURCE_ATTRIBUTES", "string", NULL, false, "key=value,key=value (at most 24)",
     "resource attributes added to everything exported"},
    {G, "OTEL_BSP_SCHEDULE_DELAY", "integer (ms)", "5000", false, MS,
     "time between span and log record batches"},
    {G, "OTEL_BSP_MAX_QUEUE_SIZE", "integer", "2048", false, "1 to 1048576",
     "spans (and log records) queued at most, as bytes: N x 96 bytes of spans and N x 256 "
     "of log records (a request's four spans take ~330 bytes, its access line's record ~240), "
     "in 4 shards any thread may fill; what does not fit is dropped and counted"},
    {G, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "integer", "512", false, "1 to 65536",
     "items per export request (at most OTEL_BSP_MAX_QUEUE_SIZE)"},
    {G, "OTEL_METRIC_EXPORT_INTERVAL", "integer (ms)", "60000", false, "1 to 86400000",
     "time between metric exports"},
    {G, "OTEL_TRACES_SAMPLER", "string", "parentbased_traceidratio", false,
     "parentbased_traceidratio, parentbased_always_on, parentbased_always_off, always_on, "
     "always_off, traceidratio",
     "sampler; the non-parent-based names are treated as parent-based"},
    {G, "OTEL_TRACES_SAMPLER_ARG", "number", "1", false, "0 to 1",
     "sampling ratio of the traceidratio samplers"},
    {G, "OTEL_SDK_DISABLED", "string", "false", false, "true, false",
     "true turns every export off"},
};

const size_t nes_otel_vars_n = sizeof(nes_otel_vars) / sizeof(nes_otel_vars[0]);
