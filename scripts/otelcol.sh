#!/usr/bin/env bash
# scripts/otelcol.sh: prints the path of the test OpenTelemetry Collector (tests/tools/otelcol),
# building it first when it is missing: core modules v0.165.0 from the Go module proxy, module
# and build caches under ~/.cache/nitro-enc-svc/ (kept by CI), about 2 minutes cold. Exit 3 when
# Go is not installed (the test that needs it then skips).
set -euo pipefail
ver=v0.165.0
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${NES_CACHE_DIR:-$HOME/.cache/nitro-enc-svc}
out=$cache/otelcol-${ver#v}/otelcol
if [[ -x $out ]]; then echo "$out"; exit 0; fi
command -v go >/dev/null || { echo "otelcol: go is not installed" >&2; exit 3; }
export GOMODCACHE=$cache/go-mod GOCACHE=$cache/go-build GOFLAGS=-mod=mod GOTOOLCHAIN=local
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/tests/tools/otelcol/main.go" "$work/"
cd "$work"
go mod init nes-otelcol >/dev/null 2>&1
go get go.opentelemetry.io/collector/otelcol@$ver \
  go.opentelemetry.io/collector/receiver/otlpreceiver@$ver \
  go.opentelemetry.io/collector/exporter/otlphttpexporter@$ver \
  go.opentelemetry.io/collector/exporter/debugexporter@$ver \
  go.opentelemetry.io/collector/service@$ver >&2
go mod tidy >&2
mkdir -p "$(dirname "$out")"
go build -trimpath -o "$out.tmp" . >&2
mv "$out.tmp" "$out"
echo "$out"
