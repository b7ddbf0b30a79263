#!/usr/bin/env bash
# scripts/run-demo.sh BINDIR: what `make run` does. Starts nitro-enc-svc in --local-mode on
# https://127.0.0.1:8443 (self-signed certificate and development key created under ./.nitro-enc
# on first start, specs from ./schemas), waits until it is ready, prints a curl line that works
# as-is, and keeps the service in the foreground until Ctrl-C.
set -euo pipefail
bin=$1
cd "$(dirname "$0")/.."
svc=$bin/nitro-enc-svc
[[ -x $svc ]] || { echo "run: $svc is not built" >&2; exit 1; }
port=${NES_RUN_PORT:-8443}
export LISTEN=${LISTEN:-tcp://127.0.0.1:$port}

"$svc" --local-mode &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM

ca=.nitro-enc/tls.crt
ready=no
for _ in $(seq 60); do
  kill -0 $pid 2>/dev/null || { wait $pid; exit $?; }
  if [[ -f $ca ]] && curl -sf --cacert $ca "https://127.0.0.1:$port/readyz" >/dev/null; then
    ready=yes
    break
  fi
  sleep 0.05
done
[[ $ready == yes ]] || echo "run: not ready yet (no spec in ./schemas, or no key): see the log" >&2

# The example payload shipped with the example spec (schemas/payments.yaml).
schema=payments
body=@examples/payments/payment.json
cat >&2 <<MSG

nitro-enc-svc is running in local mode on https://127.0.0.1:$port (Ctrl-C stops it). Try:

  curl --cacert $ca https://127.0.0.1:$port/encrypt \\
       -H 'Content-Type: application/json' -H 'X-Schema-Name: $schema' \\
       --data-binary '$body'

MSG
wait $pid
