/* fuzz_s3list - the ListObjectsV2 page parser and the S3 error-body reader (src/aws/s3xml.c) on
 * arbitrary bytes: no crash, no leak, bounded work (DTDs and entity bombs are refused). The seed
 * corpus holds real pages, an XML bomb, a 10,000-key page and error bodies. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "aws/s3xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nes_s3_list l = {0};
    nes_s3xml_page page;
    char why[128];
    if (nes_s3xml_parse_list((const char *)data, size, 20000, &l, &page, why, sizeof(why)) == 0)
        free(page.continuation_token);
    nes_s3_list_free(&l);
    char code[64], msg[256];
    nes_s3xml_parse_error((const char *)data, size, code, sizeof(code), msg, sizeof(msg));
    return 0;
}
