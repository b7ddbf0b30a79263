/* config_ref.h - the AWS_* variables nes_aws_config_load reads (aws.h), as rows of the
 * configuration reference (core/cfgref.h). The service and the CLI print them in their sections
 * of docs/configuration.md. The defaults and ranges are the ones nes_aws_config_load applies; a
 * unit test (tests/unit/aws/test_aws_config_ref.c) loads each and compares, so they cannot drift
 * apart silently. */
#ifndef NES_AWS_CONFIG_REF_H
#define NES_AWS_CONFIG_REF_H

#include <stddef.h>

#include "core/cfgref.h"

/** The section of the AWS_* rows; the service puts its own AWS settings in it too. */
#define NES_AWS_CONFIG_GROUP "AWS (endpoints, egress, credentials)"

/** One row per name of nes_aws_config_vars, in the same order. */
extern const nes_cfgref_var nes_aws_config_ref[];

/** Rows in nes_aws_config_ref. */
extern const size_t nes_aws_config_ref_n;

/** The row of `name`, or NULL. */
const nes_cfgref_var *nes_aws_config_ref_find(const char *name);

#endif
