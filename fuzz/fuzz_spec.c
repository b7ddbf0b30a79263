/* fuzz_spec.c - libFuzzer target: arbitrary bytes loaded as an OpenAPI spec (YAML or JSON), with a
 * reader that serves one fixed sibling document ("common.yaml", which refers back into the input),
 * then every query a loaded spec answers: root selection (default, by each operationId, unknown),
 * each operation's PII paths, and proxy matching.
 *
 * Seeds: fuzz/corpus/spec/ (the test specs); dictionary: fuzz/spec.dict. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "fyaml_leak.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char common_yaml[] =
    "components:\n"
    "  schemas:\n"
    "    Person:\n"
    "      type: object\n"
    "      properties:\n"
    "        name: {type: string, x-pii: true, x-pii-context: name}\n"
    "        friends: {type: array, items: {$ref: '#/components/schemas/Person'}}\n"
    "        extra: {$ref: 'spec.yaml#/components/schemas/Extra'}\n"
    "    Secret: {x-pii: true}\n";

static nes_status reader(void *ud, const char *name, char **out, size_t *len, nes_err *err)
{
    (void)ud;
    if (strcmp(name, "common.yaml") != 0)
        return nes_err_set(err, NES_ERR_IO, (size_t)-1, "no such document");
    *len = sizeof common_yaml - 1;
    *out = malloc(*len);
    if (*out == NULL)
        return NES_ERR_NOMEM;
    memcpy(*out, common_yaml, *len);
    return NES_OK;
}

static int count_path(void *ud, const char *path)
{
    size_t *n = ud;
    (*n)++;
    return path[0] == '\0'; /* never: paths are not empty */
}

static int count_open(void *ud, const char *path, nes_open_kind kind)
{
    (void)path;
    (void)kind;
    ++*(size_t *)ud;
    return 0;
}

static void lint(const nes_pii_node *root)
{
    size_t n = 0;
    (void)nes_pii_paths(root, count_path, &n);
    (void)nes_pii_open(root, count_open, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nes_spec *spec = NULL;
    nes_err err;
    if (nes_spec_load("spec.yaml", (const char *)data, size, reader, NULL, &spec, &err) != NES_OK)
        return 0;
    const nes_pii_node *root;
    if (nes_spec_root(spec, NULL, &root, &err) == NES_OK)
        lint(root);
    (void)nes_spec_root(spec, "no such operation", &root, &err);
    size_t nops = nes_spec_operation_count(spec);
    for (size_t i = 0; i < nops && i < 64; i++) {
        nes_spec_op op;
        if (!nes_spec_operation(spec, i, &op))
            abort();
        if (op.operation_id != NULL && nes_spec_root(spec, op.operation_id, &root, &err) == NES_OK)
            lint(root);
        if (op.root != NULL)
            lint(op.root);
        /* a template is also a path that its own operation matches (a webhook's name, which
         * may start with '/' too, is never matched) */
        nes_spec_op found;
        if (!nes_spec_find_op(spec, op.method, op.path, strlen(op.path), &found) && !op.webhook &&
            op.path[0] == '/' && strchr(op.path, '{') == NULL && strchr(op.path, '?') == NULL)
            abort();
        (void)nes_spec_match(spec, op.method, "/a/b/c", 6);
    }
    (void)nes_spec_match(spec, "POST", "/", 1);
    nes_spec_free(spec);
    return 0;
}
