#!/usr/bin/env bash
# Builds the arm64 sysroot for toolchains/aarch64-linux-gnu.cmake: downloads
# Debian's arm64 packages of XNNPACK, pthreadpool and cpuinfo with apt-get
# download and unpacks them with dpkg -x into DIR. The amd64 -dev packages stay
# installed for the host build (the two cannot be installed side by side).
# The header-only dependencies (FlatBuffers, xxHash, nlohmann-json, doctest) are
# unpacked there too, so that the cross build never puts the host's
# /usr/include (x86 glibc headers) on its include path.
# Also installs the cross compiler and qemu-user when missing (root or sudo).
# Usage: toolchains/make-aarch64-sysroot.sh DIR
set -euo pipefail
dir="${1:?usage: make-aarch64-sysroot.sh DIR}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
packages=(libxnnpack-dev:arm64 libxnnpack0:arm64 libpthreadpool-dev:arm64 libpthreadpool0:arm64 libcpuinfo0:arm64
  libflatbuffers-dev:arm64 libxxhash-dev:arm64 nlohmann-json3-dev doctest-dev)
# .complete lists the packages unpacked: a sysroot made from a shorter list gets the new ones.
[ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "${packages[*]}" ] && exit 0

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
need_update=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  "${as_root[@]}" dpkg --add-architecture arm64
  need_update=1
fi
missing=()
for package in g++-aarch64-linux-gnu qemu-user; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ $need_update = 1 ] || [ ${#missing[@]} -gt 0 ]; then "${as_root[@]}" apt-get update -qq; fi
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

downloads="$dir/.debs"
mkdir -p "$downloads"
chmod 777 "$downloads"   # apt's sandbox user writes there
(cd "$downloads" && apt-get download -q "${packages[@]}" 2> >(grep -v "unsandboxed" >&2))
for deb in "$downloads"/*.deb; do dpkg -x "$deb" "$dir"; done
echo "${packages[*]}" > "$dir/.complete"
echo "arm64 sysroot ready in $dir"
