#!/usr/bin/env bash
# Builds the enclave image file (EIF) and prints its measurements:
#   scripts/eif.sh OUT_DIR CONFIG_YAML [TAG]
# OUT_DIR holds enclave-rootfs.tar (make enclave-rootfs). The Docker context is a fresh
# directory with exactly the Dockerfile, the tarball and the settings; `docker build` makes the
# image, `nitro-cli build-enclave` the EIF, whose PCR0/PCR1/PCR2 are printed (the values the KMS
# key policy names; docs/operations.md). Where Docker's engine or nitro-cli is missing, says
# which and exits 3 without building anything.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
[[ $# -ge 2 ]] || { echo "usage: $0 OUT_DIR CONFIG_YAML [TAG]" >&2; exit 2; }
out=$1 config=$2 tag=${3:-nitro-enc-svc-enclave:latest}

missing=()
if ! command -v docker >/dev/null 2>&1; then
  missing+=("docker (the CLI is not installed)")
elif ! docker info >/dev/null 2>&1; then
  missing+=("a Docker engine (the docker CLI cannot reach a daemon)")
fi
command -v nitro-cli >/dev/null 2>&1 ||
  missing+=("nitro-cli (aws-nitro-enclaves-cli, on a Nitro Enclaves-enabled EC2 instance or any Linux box with the package)")
[[ -r $out/enclave-rootfs.tar ]] || missing+=("$out/enclave-rootfs.tar (run make enclave-rootfs)")
[[ -r $config ]] || missing+=("the enclave settings $config")
if ((${#missing[@]})); then
  echo "eif: cannot build the EIF here; missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 3
fi

ctx=$out/eif-context
rm -rf "$ctx"
mkdir -p "$ctx"
cp "$src/deploy/enclave/Dockerfile" "$out/enclave-rootfs.tar" "$ctx/"
cp "$config" "$ctx/config.yaml"
docker build -q -t "$tag" "$ctx" >/dev/null
nitro-cli build-enclave --docker-uri "$tag" --output-file "$out/nitro-enc-svc.eif" \
  >"$out/nitro-enc-svc.eif.json"
echo "EIF: $out/nitro-enc-svc.eif"
python3 - "$out/nitro-enc-svc.eif.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["Measurements"]
for k in ("PCR0", "PCR1", "PCR2"):
    print(f"{k}: {m[k]}")
PY
