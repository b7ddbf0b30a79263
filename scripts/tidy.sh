#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) over every src/**/*.c in BUILD_DIR's compile_commands.json,
# so new modules are covered once CMake builds them. Usage: scripts/tidy.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-${BUILD_DIR:-build}}
db=$build/compile_commands.json
[[ -f $db ]] || { echo "tidy: $db missing (run make build first)" >&2; exit 1; }

root=$(pwd -P)
mapfile -t files < <(python3 - "$db" "$root/src/" <<'EOF'
import json, os, sys
db, src = sys.argv[1], sys.argv[2]
seen = set()
for e in json.load(open(db)):
    f = os.path.realpath(os.path.join(e.get("directory", ""), e["file"]))
    if f.startswith(src) and f.endswith(".c") and os.path.exists(f):
        seen.add(f)
print("\n".join(sorted(seen)))
EOF
)
((${#files[@]})) || { echo "tidy: no src/**/*.c in $db" >&2; exit 1; }

# One file per clang-tidy process keeps both cores busy to the end; --quiet drops the
# "N warnings generated" noise, so any output is a finding. A non-zero exit alone (e.g. a
# compile error) fails too.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
printf '%s\n' "${files[@]}" |
    xargs -P "$(nproc)" -n 1 clang-tidy -p "$build" --quiet >"$log" 2>&1 || rc=$?
if ((rc != 0)) || grep -qE '(warning|error):' "$log"; then
    grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$log" >&2 || true
    echo "tidy: $(grep -cE '^[^ ].*(warning|error):' "$log" || true) finding(s)" >&2
    exit 1
fi
echo "tidy: ${#files[@]} files clean"
