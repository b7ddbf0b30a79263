/* nitro-enc keygen */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/keyring.h"

static const char usage[] = "usage: nitro-enc keygen\n"
                            "\n"
                            "Prints a fresh 32-byte data key as one line of standard base64 (the\n"
                            "key-file format: first line current key, later lines previous keys).\n"
                            "Keep it secret: anyone holding it can decrypt the tokens.\n";

int cli_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        }
        return cli_usage_error("keygen", "unknown option");
    }
    if (optind != argc)
        return cli_usage_error("keygen", "takes no arguments");
    uint8_t dek[NES_DEK_LEN];
    char line[NES_KEY_LINE_LEN + 1];
    if (nes_keygen(dek) != 0) {
        fputs("nitro-enc: error: random generator failed\n", stderr);
        return CLI_FAIL;
    }
    nes_key_line(dek, line);
    explicit_bzero(dek, sizeof dek);
    int ok = puts(line) >= 0 && fflush(stdout) == 0;
    explicit_bzero(line, sizeof line);
    return ok ? CLI_OK : CLI_FAIL;
}
