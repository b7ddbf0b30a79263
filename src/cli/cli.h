/* cli.h - the `nitro-enc` command-line tool: shared declarations of its commands. */
#ifndef NES_CLI_H
#define NES_CLI_H

#include "aws/aws.h"
#include "core/error.h"

/** Exit codes: success, failure on input (bad JSON, spec, key, token), usage error. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/** Upper bound on an input document read by the CLI. */
#define CLI_MAX_INPUT ((size_t)1 << 30)

/** `nitro-enc keygen`: prints a fresh key line. argv[0] is "keygen". Returns an exit code. */
int cli_keygen(int argc, char **argv);

/** `nitro-enc encrypt|decrypt`: argv[0] names the command. Returns an exit code. */
int cli_crypt(int argc, char **argv);

/** `nitro-enc schema lint`: argv[0] is "schema". Returns an exit code. */
int cli_schema(int argc, char **argv);

/** `nitro-enc dek create|rotate`: argv[0] is "dek". Returns an exit code. */
int cli_dek(int argc, char **argv);

/** `nitro-enc schema push`: argv[0] is "push" (called by cli_schema). Returns an exit code. */
int cli_schema_push(int argc, char **argv);

/** An AWS client set up from the environment for one command. */
typedef struct cli_aws {
    nes_aws_config cfg;
    nes_aws_credsrc *creds;
    nes_aws_client *client;
} cli_aws;

/** Sets up `a` from the environment (aws.h rules); AWS warnings and errors go to stderr.
 * Returns CLI_OK, CLI_USAGE (bad setting, printed) or CLI_FAIL. */
int cli_aws_open(const char *cmd, cli_aws *a);

/** Frees what cli_aws_open made. */
void cli_aws_close(cli_aws *a);

/** Prints "nitro-enc: error: <what> failed: <code>: <message>"; returns CLI_FAIL. */
int cli_aws_fail(const char *what, const nes_aws_error *err);

/** `nitro-enc --print-config-reference`: prints the CLI's section of docs/configuration.md
 * (its commands' options and the AWS_* variables) on stdout. Returns an exit code. */
int cli_print_reference(void);

/** Prints "nitro-enc: error: <msg>" (with the byte offset when set) on stderr; returns
 * CLI_FAIL. */
int cli_fail(const nes_err *err);

/** Prints "nitro-enc: <msg>" and a hint to use --help on stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *msg);

#endif
