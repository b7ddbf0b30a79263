#!/usr/bin/env bash
# scripts/run-demo.sh BINDIR: what `make run` does until the service exists: encrypts an example
# payload with the CLI under a development key (created on first use) and decrypts it again.
set -euo pipefail
bin=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
key=.nitro-enc/dev.key
if [[ ! -f $key ]]; then
  mkdir -p .nitro-enc && chmod 700 .nitro-enc
  (umask 077 && "$bin/nitro-enc" keygen >"$key")
  echo "run: created DEVELOPMENT key $key (not for production data)" >&2
fi
spec=schemas/payments.yaml
example=examples/payments/payment.json
echo "== PII paths of $spec"
"$bin/nitro-enc" schema lint "$spec"
echo
echo "== $example encrypted"
"$bin/nitro-enc" encrypt --spec "$spec" --key "$key" "$example" | tee .nitro-enc/payment.enc.json
echo
echo "== decrypted again"
"$bin/nitro-enc" decrypt --spec "$spec" --key "$key" .nitro-enc/payment.enc.json
