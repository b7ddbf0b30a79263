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

schema=payments
[[ -f schemas/$schema.yaml || -f schemas/$schema.yml || -f schemas/$schema.json ]] ||
  schema=$(find schemas -maxdepth 1 \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) \
             -printf '%f\n' 2>/dev/null | sed -E 's/\.(yaml|yml|json)$//' | sort | head -1)
body='{"name":"Ada Lovelace","ssn":"078-05-1120","amount":12.5}'
for ex in examples/$schema/payment.json examples/$schema/*.json examples/$schema.json \
          examples/${schema%s}.json; do
  [[ -f $ex ]] && { body="@$ex"; break; }
done
cat >&2 <<MSG

nitro-enc-svc is running in local mode on https://127.0.0.1:$port (Ctrl-C stops it). Try:

  curl --cacert $ca https://127.0.0.1:$port/encrypt \\
       -H 'Content-Type: application/json' -H 'X-Schema-Name: ${schema:-payments}' \\
       --data-binary '$body'

MSG
wait $pid
