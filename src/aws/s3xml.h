/* s3xml.h - the parser of one ListObjectsV2 answer page (and of S3's XML error bodies), on
 * libxml2 with everything dangerous off: no entity substitution (XML_PARSE_NOENT is never set),
 * no network (XML_PARSE_NONET), no DTD loading, and a document carrying a DTD (<!DOCTYPE>) is
 * refused outright, so entity bombs never expand. Input is bounded by the caller (the transport
 * caps response bodies); keys are bounded by NES_S3_MAX_KEY and the page by `max_objects`.
 * No I/O; fuzzed (fuzz/fuzz_s3list.c). */
#ifndef NES_AWS_S3XML_H
#define NES_AWS_S3XML_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/s3.h"

/** One parsed page: objects are appended to the list given to nes_s3xml_parse_list. */
typedef struct nes_s3xml_page {
    bool truncated;           /**< IsTruncated was true */
    char *continuation_token; /**< NextContinuationToken (malloc'd) or NULL */
} nes_s3xml_page;

/** Parses a ListBucketResult document (`xml`, len bytes), appending its Contents to `list`
 * while the list holds at most `max_objects`. 0, or -1 with a fixed reason in `why` ("DTD not
 * allowed", "not a ListBucketResult", "too many objects", "key too long", ...). Free
 * page->continuation_token with free(). */
int nes_s3xml_parse_list(const char *xml, size_t len, size_t max_objects, nes_s3_list *list,
                         nes_s3xml_page *page, char *why, size_t why_len);

/** Reads Code and Message from an S3 <Error> body into `code`/`message` (cut to their sizes,
 * non-printable bytes replaced). 0, or -1 when the body is not such a document. */
int nes_s3xml_parse_error(const char *xml, size_t len, char *code, size_t code_len, char *message,
                          size_t message_len);

#endif
