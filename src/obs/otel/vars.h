/* vars.h - the OTEL_* variables nes_otel_config_load reads (export.h), as rows of the
 * configuration reference (core/cfgref.h) that the service and nitro-enc-proxy print. The
 * defaults are the ones nes_otel_config_load applies (tests/unit/obs/test_otel_vars.c loads
 * them and compares). */
#ifndef NES_OBS_OTEL_VARS_H
#define NES_OBS_OTEL_VARS_H

#include <stddef.h>

#include "core/cfgref.h"

/** One row per OTEL_* variable. */
extern const nes_cfgref_var nes_otel_vars[];

/** The section of the OTEL_* rows; the programs put their own log settings in it too. */
#define NES_OTEL_VARS_GROUP "Logs and telemetry"

/** Rows in nes_otel_vars. */
extern const size_t nes_otel_vars_n;

#endif
