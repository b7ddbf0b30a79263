/* pathtmpl.h - OpenAPI path templates ("/orders/{id}") matched against request paths: the pure
 * matcher proxy mode uses to find a request's operation (schema.h: nes_spec_find_op).
 *
 * Matching works segment by segment ('/' separates; both sides must have the same number of
 * segments). In a template segment each "{name}" matches one or more characters other than '/'
 * (so also inside a segment: "/files/{name}.json"), the rest matches literally and
 * case-sensitively; a '{' without a closing '}' is literal. Paths are compared as sent
 * (percent-encoding is not decoded: "%2F" stays inside its segment). A path with a query string
 * must be cut at '?' by the caller. Matching is O(template x path) per segment (glob with one
 * backtrack point), no allocation, no recursion.
 *
 * Specificity (several templates match one path): the first segment whose kind differs decides,
 * literal beating a segment that mixes literal text and variables beating a whole-segment
 * variable, so "/users/me" beats "/users/{id}" and "/a/{x}.json" beats "/a/{x}".
 *
 * nes_path_is_clean refuses what an application might resolve to another route than the one the
 * service matched (a dot segment "." or "..", also percent-encoded, as in "/orders/%2e%2e/admin",
 * and an empty segment "//"): proxy mode answers such paths 400 rather than transform a body by
 * one operation's schema and let the application route it to another. */
#ifndef NES_CORE_PATHTMPL_H
#define NES_CORE_PATHTMPL_H

#include <stdbool.h>
#include <stddef.h>

/** True when the template tmpl[0..tlen) matches the path path[0..plen) (both start with '/'). */
bool nes_path_template_match(const char *tmpl, size_t tlen, const char *path, size_t plen);

/** > 0 when template `a` is more specific than `b`, < 0 when less, 0 when of equal rank
 * (NUL-terminated templates). */
int nes_path_template_cmp(const char *a, const char *b);

/** True when path[0..len) (no query string) starts with '/' and has no dot segment (".", "..",
 * percent-encoded or not) and no empty segment except a trailing one ("/a/" is fine, "/a//b" is
 * not). */
bool nes_path_is_clean(const char *path, size_t len);

#endif
