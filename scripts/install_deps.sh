#!/usr/bin/env bash
# Installs the Debian 12 packages edgemtl builds and tests with (as root, or
# through sudo). Packages already installed are left alone.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config ccache
  libxnnpack-dev libpthreadpool-dev            # runtime kernels
  libflatbuffers-dev flatbuffers-compiler      # model file format
  libxxhash-dev                                # model checksums (header only)
  libonnx-dev libprotobuf-dev protobuf-compiler  # converter (host only)
  nlohmann-json3-dev                           # command-line tools
  doctest-dev                                  # tests
  zlib1g-dev                                   # census example (reads the .gz data)
  python3-dev pybind11-dev python3-numpy       # Python binding (bindings/python, /usr/bin/python3)
  default-jdk-headless junit4                  # Java binding (bindings/java) and its tests
  clang-14 libclang-rt-14-dev                  # fuzz targets (libFuzzer, ASan, UBSan)
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
echo "installing: ${missing[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
