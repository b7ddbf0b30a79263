#!/usr/bin/env bash
# Prints the path of a Go-built test tool, building it first only when it is missing.
#   scripts/go-tool.sh helm      -> $NES_CACHE_DIR/go-tools/helm-v3.22.0/helm
# Tools are built from the Go module proxy with `go install MODULE@VERSION` into a directory
# named for the version under the cache (default ~/.cache/nitro-enc-svc, which CI keeps between
# runs), never inside the clone. A cold build of Helm takes a few minutes; a warm call costs
# nothing. Exits 3 with one line on stderr when Go is not installed (tests then skip).
set -euo pipefail
cache=${NES_CACHE_DIR:-$HOME/.cache/nitro-enc-svc}

case ${1:-} in
  helm) module=helm.sh/helm/v3/cmd/helm version=v3.22.0 ;;
  *) echo "usage: $0 helm" >&2; exit 2 ;;
esac

dir=$cache/go-tools/$1-$version
bin=$dir/$1
if [[ ! -x $bin ]]; then
  command -v go >/dev/null 2>&1 || { echo "go-tool: no Go toolchain to build $1" >&2; exit 3; }
  mkdir -p "$dir"
  # One builder at a time: a second caller waits for the first instead of building again.
  exec 9>"$dir/.lock"
  flock 9
  if [[ ! -x $bin ]]; then
    echo "go-tool: building $module@$version (once; cached in $dir)" >&2
    GOBIN=$dir/.tmp GOMODCACHE=$cache/go-mod GOCACHE=$cache/go-build CGO_ENABLED=0 GOFLAGS=-trimpath \
      go install "$module@$version" >&2
    mv "$dir/.tmp/$1" "$bin"
    rmdir "$dir/.tmp"
  fi
fi
echo "$bin"
