#!/usr/bin/env bash
# Quality gates that need no build: clang-format and cppcheck over every tracked C file.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null; git ls-files --others --exclude-standard '*.c' '*.h' 2>/dev/null)
((${#files[@]})) || exit 0
clang-format --dry-run --Werror "${files[@]}"
cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
  --inline-suppr --suppress=missingIncludeSystem -I src -D_GNU_SOURCE "${files[@]}"
echo "lint: ${#files[@]} files clean (clang-format, cppcheck)"
