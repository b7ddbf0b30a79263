#!/usr/bin/env bash
# scripts/run-demo.sh BINDIR: what `make run` does until the service exists.
set -euo pipefail
bin=$1
cd "$(dirname "$0")/.."
[[ -x $bin/nitro-enc ]] || { echo "run: $bin/nitro-enc is not built yet" >&2; exit 1; }
