#!/usr/bin/env bash
# scripts/bench-core.sh BINDIR - the core benchmark (`make bench`): field tokens and AES-256-GCM-SIV
# against BoringSSL's EVP_aead_aes_256_gcm_siv measured in the same run, and the JSON transform
# beside memcpy. Prints figures; asserts nothing (goals are read off the summary).
set -euo pipefail
bin=$1
for b in bench_boringssl_gcmsiv bench_gcmsiv bench_tokens bench_transform; do
  [[ -x $bin/$b ]] || { echo "bench: $bin/$b is not built" >&2; exit 1; }
done
echo "# nitro-enc core benchmark — $(date -u +%FT%TZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
boring=$("$bin/bench_boringssl_gcmsiv")
ours=$("$bin/bench_gcmsiv")
tokens=$("$bin/bench_tokens")
echo "$boring"; echo; echo "$ours"; echo
echo "field tokens (nes_token_encrypt / nes_token_decrypt: HMAC nonce + GCM-SIV + base64url), context 11 B"
echo "$tokens"
echo
echo "summary: ns per field vs BoringSSL seal of the same size (goal: field encrypt <= 1.5x)"
printf '%-7s %12s %12s %14s %10s %14s %10s\n' bytes "field enc" "field dec" "boringssl seal" "enc/seal" "nes_gcmsiv seal" "seal/seal"
for n in 16 64 1024; do
  b=$(awk -v n="$n" '$1=="boringssl" && $2==n {print $(NF-1)}' <<<"$boring")
  g=$(awk -v n="$n" '$1=="auto" && $2==n {print $(NF-1)}' <<<"$ours")
  read -r e d < <(awk -v n="$n" '$1==n {print $2, $3}' <<<"$tokens")
  awk -v n="$n" -v e="$e" -v d="$d" -v b="$b" -v g="$g" \
    'BEGIN {printf "%-7s %12.0f %12.0f %14.0f %9.2fx %14.0f %9.2fx\n", n, e, d, b, e/b, g, g/b}'
done
echo
echo "JSON transform, sparse PII (3 fields per ~830-byte record), MB/s of input (goal: encrypt >= 1000 MB/s on 1 MiB)"
"$bin/bench_transform"
echo
echo "HTTP/1.1 codec (src/http): head parsing, chunked decoding, response heads"
"$bin/bench_http_codec"
