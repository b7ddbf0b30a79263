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
# A finding, printed so that CI's log alone reproduces it: the end of the log, then the
# sanitizer's or the target's own one-line verdict and the input (base64, up to 16 KiB).
found() {
  tail -50 "$bindir/$1.log"
  echo "fuzz: $1 failed:"
  grep -E '==[0-9]+==ERROR|^SUMMARY|^fuzz_|Assertion' "$bindir/$1.log" | head -5
  local input
  input=$(ls -t "$root/fuzz/artifacts/$1-"* 2>/dev/null | head -1)
  if [[ -n $input && $(stat -c %s "$input") -le 16384 ]]; then
    echo "fuzz: input $(basename "$input") as base64 (base64 -d > f; $1 f):"
    base64 -w 100 "$input"
  fi
}

for t in "${targets[@]}"; do
  # the glob also matches the logs and scratch corpora written next to the targets
  [[ -f $t && -x $t && $t != *.log ]] || continue
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
      || { found "$name"; exit 1; }
    grep -E '^(#[0-9]+\s+DONE|Done)' "$bindir/$name.log" | tail -1 | sed "s/^/fuzz: $name: /"
  fi
done
