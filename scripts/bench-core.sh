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
echo "(times are CPU time of the benchmark thread: on a busy machine they leave out other processes' turns)"
echo "$tokens"
echo
echo "summary: ns per field vs BoringSSL seal/open of the same size (goals: field encrypt <= 1.5x seal, decrypt <= 1.5x open)"
echo "(nonce: the HMAC-SHA256 nonce alone, SHA-NI; field encrypt cannot take less, so nonce/seal is its floor)"
printf '%-7s %10s %10s %10s %10s %9s %9s %11s %9s %9s\n' bytes "field enc" "field dec" "bssl seal" "bssl open" "enc/seal" "dec/open" "nes seal" "seal/seal" "nonce/seal"
for n in 16 64 1024; do
  read -r b bo < <(awk -v n="$n" '$1=="boringssl" && $2==n {print $(NF-1), $NF}' <<<"$boring")
  g=$(awk -v n="$n" '$1=="auto" && $2==n {print $(NF-1)}' <<<"$ours")
  read -r e d m < <(awk -v n="$n" '$1==n {print $2, $3, $4}' <<<"$tokens")
  awk -v n="$n" -v e="$e" -v d="$d" -v b="$b" -v bo="$bo" -v g="$g" -v m="$m" \
    'BEGIN {printf "%-7s %10.0f %10.0f %10.0f %10.0f %8.2fx %8.2fx %11.0f %8.2fx %8.2fx\n", n, e, d, b, bo, e/b, d/bo, g, g/b, m/b}'
done
echo
echo "JSON transform, sparse PII (3 fields per ~830-byte record), MB/s of input (goal: encrypt >= 1000 MB/s on 1 MiB)"
"$bin/bench_transform"
echo
echo "HTTP/1.1 codec (src/http): head parsing, chunked decoding, response heads"
"$bin/bench_http_codec"
