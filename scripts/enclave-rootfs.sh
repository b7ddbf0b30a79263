#!/usr/bin/env bash
# Builds the enclave's root filesystem as a bit-for-bit reproducible tarball:
#   scripts/enclave-rootfs.sh BUILD_DIR OUT_DIR
# BUILD_DIR  a release build of nitro-enc-svc only (may be anywhere, e.g. outside the clone);
# OUT_DIR    receives enclave-rootfs.tar, its .sha256, enclave-rootfs.manifest (what is inside
#            and which Debian package each file comes from) and nitro-enc-svc.unstripped (same
#            build-id as the image's binary, for symbolising crashes). Only the .tar goes in the
#            image.
#
# Inside the tarball, nothing else: /usr/bin/nitro-enc-svc (stripped), exactly the shared
# libraries `ldd` lists for it plus the dynamic loader, /etc/ssl/certs/ca-certificates.crt, and
# the empty mount points the enclave's init fills (dev proc sys tmp run). Entries are sorted,
# owned by 0:0, modes normalised, every mtime is SOURCE_DATE_EPOCH (default: the last commit's
# time). -Wdate-time (an error under -Werror) keeps __DATE__/__TIME__ out; the compiler maps the
# source directory to "." (-ffile-prefix-map) and the build has no debug info, so neither the
# clone's nor the build directory's path reaches the binary; the same commit and the same Debian
# packages give the same bytes, hence the same PCR0 (for the same settings file).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
[[ $# -eq 2 ]] || { echo "usage: $0 BUILD_DIR OUT_DIR" >&2; exit 2; }
bdir=$1 out=$2
mkdir -p "$bdir" "$out"
bdir=$(cd "$bdir" && pwd) out=$(cd "$out" && pwd)

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH

launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache)
# Release without -g: the same -O2 as the tested RelWithDebInfo build, no DWARF (and ccache can
# share objects between build directories because no path is in the command line but the map).
cmake -S "$src" -B "$bdir" -G Ninja "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_C_FLAGS="-ffile-prefix-map=$src=. -Wdate-time" \
  -DNES_BENCH=OFF >/dev/null
cmake --build "$bdir" --target nitro-enc-svc >/dev/null
bin=$bdir/bin/nitro-enc-svc

stage=$out/rootfs
rm -rf "$stage"
mkdir -p "$stage"
install -d -m 0755 "$stage/usr/bin" "$stage/etc/ssl/certs"
for d in dev proc sys tmp run; do install -d -m 0755 "$stage/$d"; done
cp "$bin" "$out/nitro-enc-svc.unstripped"
strip --strip-all -o "$stage/usr/bin/nitro-enc-svc" "$bin"
chmod 0755 "$stage/usr/bin/nitro-enc-svc"

# The loader and every library ldd resolves, at the path the loader looks for them, each the
# content of the real file (no symlinks).
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u)
for lib in $libs; do
  install -d -m 0755 "$stage$(dirname "$lib")"
  install -m 0755 "$(readlink -f "$lib")" "$stage$lib"
done
ca=/etc/ssl/certs/ca-certificates.crt
[[ -r $ca ]] || { echo "enclave-rootfs: $ca missing (Debian package ca-certificates)" >&2; exit 1; }
install -m 0644 "$ca" "$stage$ca"

tar=$out/enclave-rootfs.tar
tar --sort=name --format=gnu --owner=0 --group=0 --numeric-owner \
  --mtime="@$SOURCE_DATE_EPOCH" --no-acls --no-xattrs --no-selinux \
  -C "$stage" -cf "$tar.tmp" .
mv "$tar.tmp" "$tar"
(cd "$out" && sha256sum enclave-rootfs.tar >enclave-rootfs.tar.sha256)

{
  echo "# enclave-rootfs.tar: SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
  echo "# path  sha256  debian-package"
  (cd "$stage" && find . -type f | LC_ALL=C sort) | while read -r f; do
    p=${f#.}
    case $p in
      /usr/bin/nitro-enc-svc) pkg="(this build)" ;;
      "$ca") pkg="ca-certificates" ;;
      *) pkg=$( (dpkg -S "$p" || dpkg -S "$(readlink -f "$p")") 2>/dev/null | head -1 | cut -d: -f1) ;;
    esac
    [[ -z $pkg || $pkg == "(this build)" ]] ||
      pkg="$pkg=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo '?')"
    echo "$p  $(sha256sum "$stage$p" | cut -d' ' -f1)  ${pkg:-?}"
  done
} >"$out/enclave-rootfs.manifest"
rm -rf "$stage"
echo "$(cut -d" " -f1 "$out/enclave-rootfs.tar.sha256")  $tar"
