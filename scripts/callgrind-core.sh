#!/usr/bin/env bash
# scripts/callgrind-core.sh BINDIR - instructions per call (valgrind --tool=callgrind, repeatable on
# a busy machine, unlike wall-clock figures) of a field token encrypt/decrypt and of BoringSSL's
# GCM-SIV seal/open at 16, 64 and 1024 bytes. Counts include everything the function calls.
set -euo pipefail
bin=$1
iters=${ITERS:-2000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# count FN BINARY ARGS...: instructions inside FN (inclusive) over the run
count() {
  local fn=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" --toggle-collect="$fn" "$@" \
    >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
  awk '/^summary:/ {print $2}' "$tmp/out"
}
printf '%-7s %14s %14s %14s %14s %9s %9s\n' bytes "token enc" "token dec" "boring seal" "boring open" enc/seal dec/open
for n in 16 64 1024; do
  e=$(count nes_token_encrypt "$bin/bench_tokens" "$iters" "$n")
  d=$(count nes_token_decrypt "$bin/bench_tokens" "$iters" "$n")
  # BoringSSL's bench does 5 timed runs per case, plus one untimed seal before the open runs.
  s=$(count EVP_AEAD_CTX_seal "$bin/bench_boringssl_gcmsiv" "$iters" "$n")
  o=$(count EVP_AEAD_CTX_open "$bin/bench_boringssl_gcmsiv" "$iters" "$n")
  awk -v n="$n" -v e="$e" -v d="$d" -v s="$s" -v o="$o" -v it="$iters" 'BEGIN {
    e /= it; d /= it; sl = s / (5 * it + 1); op = o / (5 * it);
    printf "%-7s %14.0f %14.0f %14.0f %14.0f %8.2fx %8.2fx\n", n, e, d, sl, op, e / sl, d / op }'
done
# The member check (fail closed) on the 64 KiB transform body: instructions per nes_transform with
# the check off (an automaton of the PII paths only), refused and passed undeclared members.
echo
echo "member check, instructions per 64 KiB transform (ratio to off)"
tn=${TRANSFORM_ITERS:-20}
for codec in "" -c; do
  o=$(count nes_transform "$bin/bench_transform" count "off$codec" "$tn")
  r=$(count nes_transform "$bin/bench_transform" count "reject$codec" "$tn")
  p=$(count nes_transform "$bin/bench_transform" count "pass$codec" "$tn")
  awk -v c="${codec:+with crypto}" -v o="$o" -v r="$r" -v p="$p" -v it="$tn" 'BEGIN {
    printf "%-12s off %9.0f | reject %9.0f (%.3f) | pass %9.0f (%.3f)\n", (c == "" ? "JSON-only" : c),
      o / it, r / it, r / o, p / it, p / o }'
done
