#!/usr/bin/env bash
# scripts/fuzz.sh BINDIR SECONDS
#   SECONDS = 0: run each fuzz target once over its seed corpus (regression).
#   SECONDS > 0: explore for that long per target, new inputs kept in a scratch corpus.
set -euo pipefail
bindir=$1 secs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
targets=("$bindir"/fuzz_*)
((${#targets[@]})) || { echo "fuzz: no targets built"; exit 0; }
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in "${targets[@]}"; do
  [[ -f $t && -x $t && $t != *.log ]] || continue  # the glob also matches the logs written below
  name=$(basename "$t")
  seeds=$root/fuzz/corpus/${name#fuzz_}
  mkdir -p "$seeds"
  dict=()
  [[ -f $root/fuzz/${name#fuzz_}.dict ]] && dict=(-dict="$root/fuzz/${name#fuzz_}.dict")
  if [[ $secs == 0 ]]; then
    n=$(find "$seeds" -type f | wc -l)
    "$t" "${dict[@]}" -runs=0 "$seeds" >/dev/null 2>"$bindir/$name.log" || { cat "$bindir/$name.log"; exit 1; }
    echo "fuzz-regress: $name ok over $n seeds"
  else
    scratch=$bindir/corpus-$name
    mkdir -p "$scratch" "$root/fuzz/artifacts"
    "$t" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$root/fuzz/artifacts/$name-" "$scratch" "$seeds" 2>"$bindir/$name.log" \
      || { tail -50 "$bindir/$name.log"; exit 1; }
    grep -E '^(#[0-9]+\s+DONE|Done)' "$bindir/$name.log" | tail -1 | sed "s/^/fuzz: $name: /"
  fi
done
