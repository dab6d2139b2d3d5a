#!/usr/bin/env bash
# Cross-builds the runtime, the C API, the tools and their tests for aarch64
# (toolchains/aarch64-linux-gnu.cmake, sysroot from Debian's arm64 packages)
# into build-arm64/ and runs them under qemu-aarch64 with the same tolerances
# as on x86. The models are converted by the host converter (the converter is
# host-only), so run scripts/build.sh first or pass EDGEMTL_HOST_CONVERT.
# Then installs the arm64 package into the sysroot and cross-builds
# examples/app against it with find_package, and runs it under qemu.
set -euo pipefail
cd "$(dirname "$0")/.."
host_convert="${EDGEMTL_HOST_CONVERT:-$PWD/build/converter/edgemtl-convert}"
[ -x "$host_convert" ] || { echo "test_arm64: no host converter at $host_convert (run scripts/build.sh first)"; exit 1; }

bash toolchains/make-aarch64-sysroot.sh build-arm64/sysroot
source scripts/ccache.sh
log=build-arm64/build.log
cmake -S . -B build-arm64 -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/toolchains/aarch64-linux-gnu.cmake" -DEDGEMTL_ARM64_SYSROOT="$PWD/build-arm64/sysroot" \
  -DEDGEMTL_HOST_CONVERT="$host_convert" \
  > "$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build build-arm64 -j 2 >> "$log" 2>&1 || { tail -n 60 "$log"; exit 1; }
readelf -h build-arm64/runtime/edgemtl_runtime_tests | grep -q "Machine: *AArch64" || { echo "test_arm64: not an aarch64 build"; exit 1; }
(cd build-arm64 && ctest --output-on-failure --timeout 900)

# The installed package, cross: examples/app finds it in the sysroot (/usr/local).
sysroot="$PWD/build-arm64/sysroot"
rm -rf "${sysroot:?}/usr/local" build-arm64/app
cmake --install build-arm64 --prefix "$sysroot/usr/local" >> "$log" 2>&1 || { tail -n 20 "$log"; exit 1; }
cmake -S examples/app -B build-arm64/app -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/toolchains/aarch64-linux-gnu.cmake" -DEDGEMTL_ARM64_SYSROOT="$sysroot" \
  >> "$log" 2>&1 || { tail -n 30 "$log"; exit 1; }
cmake --build build-arm64/app >> "$log" 2>&1 || { tail -n 30 "$log"; exit 1; }
model=build-arm64/app/esmm.emtl
"$host_convert" tests/fixtures/esmm/model.onnx -o "$model" --tasks ctr:prob,ctcvr:prob \
  --user-inputs userId,userGender,userClickSeq,ctxFeatures >> "$log" 2>&1 || { tail -n 20 "$log"; exit 1; }
emulate=(qemu-aarch64 -L /usr/aarch64-linux-gnu -E "LD_LIBRARY_PATH=$sysroot/usr/lib/aarch64-linux-gnu:$sysroot/usr/local/lib")
"${emulate[@]}" build-arm64/app/rank_items "$model" 8 > build-arm64/app/cpp.txt
"${emulate[@]}" build-arm64/app/rank_items_c "$model" 8 > build-arm64/app/c.txt
cmp build-arm64/app/cpp.txt build-arm64/app/c.txt || { echo "test_arm64: the C and C++ apps disagree"; exit 1; }
[ "$(wc -l < build-arm64/app/cpp.txt)" -eq 8 ] || { echo "test_arm64: expected 8 ranked items"; exit 1; }
echo "arm64: examples/app against the installed package: passed"
bash scripts/report_sizes.sh build-arm64 build-arm64/app aarch64-linux-gnu-
