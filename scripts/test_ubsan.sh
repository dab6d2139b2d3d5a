#!/usr/bin/env bash
# Builds the runtime, the C API, the tools and their tests with
# -fsanitize=undefined (any report is fatal) into build-ubsan/ and runs them;
# models come from the host converter in build/ (run scripts/build.sh first).
set -euo pipefail
cd "$(dirname "$0")/.."
host_convert="${EDGEMTL_HOST_CONVERT:-$PWD/build/converter/edgemtl-convert}"
[ -x "$host_convert" ] || { echo "test_ubsan: no host converter at $host_convert (run scripts/build.sh first)"; exit 1; }

mkdir -p build-ubsan
log=build-ubsan/build.log
# vptr checks need RTTI, which the runtime is built without.
flags="-O1 -fsanitize=undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B build-ubsan -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=undefined" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=undefined" \
  -DEDGEMTL_BUILD_CONVERTER=OFF -DEDGEMTL_BUILD_EXAMPLES=OFF -DEDGEMTL_HOST_CONVERT="$host_convert" \
  > "$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build build-ubsan -j 2 >> "$log" 2>&1 || { tail -n 60 "$log"; exit 1; }
cd build-ubsan
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure --timeout 900 -E '^install$'
