/* hex.h - the value of one hex digit, for the decoders that read hex text (spec references'
 * %-escapes, the tests' vectors). Header-only: a table-free inline the compiler folds into each
 * decoding loop. (json_scan keeps its own branch-lean form on its hot path.) */
#ifndef NES_CORE_HEX_H
#define NES_CORE_HEX_H

/** The value of hex digit `c` (0-9, a-f, A-F), or -1 for any other character. */
static inline int nes_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
