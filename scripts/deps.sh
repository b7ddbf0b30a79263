#!/usr/bin/env bash
# Installs what the build and the tests need and is not there yet:
#   - Debian packages (apt-get; through sudo when not root), checked one by one with dpkg;
#   - Python test tools in a venv ($VENV, default build/venv) from requirements-test.txt.
# Idempotent and quiet when everything is present; safe to run on every `make`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$here/build/venv}

# C toolchain and libraries (Debian bookworm names).
pkgs=(
  build-essential cmake ninja-build pkg-config ccache
  libssl-dev libfyaml-dev libcmocka-dev
  clang libclang-rt-14-dev clang-format clang-tidy cppcheck
  android-libboringssl-dev
  libgnutls28-dev gnutls-bin softhsm2 p11-kit opensc
  libcurl4-gnutls-dev libcbor-dev libxml2-dev
  nginx-light wrk openssl curl socat
  python3 python3-venv python3-dev
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  # nginx-light starts a system nginx on port 80; the benchmark runs its own instance.
  if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
fi

# Python test tools. The stamp records the requirements' hash so a change reinstalls.
req=$here/requirements-test.txt
stamp=$VENV/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "deps: preparing Python venv in $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q -r "$req" >&2
  echo "$want" >"$stamp"
fi
