/* fyaml_leak.h - included once by each libFuzzer target that parses YAML through libfyaml.
 *
 * libfyaml 0.7.12 (Debian bookworm) leaks the atom iterator's grown chunk array when a scalar it
 * formats needs more than the 8 built-in chunks (a quoted key or value with many runs of escaped
 * quotes): upstream issue pantoniou/libfyaml#233, fixed after 0.7.12. The leak is inside the
 * library and bounded by the input (the spec loader and the egress allowlist read a file once);
 * only that frame is suppressed. libfyaml has no frame pointers, so malloc stacks are unwound the
 * slow way to let LeakSanitizer see the frame. */
#ifndef NES_FUZZ_FYAML_LEAK_H
#define NES_FUZZ_FYAML_LEAK_H

const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void);

const char *__lsan_default_suppressions(void)
{
    return "leak:fy_atom_iter_chunk_next\n";
}

const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

#endif
