#!/usr/bin/env bash
# Prints the stripped sizes of the runtime's own code (without XNNPACK, which
# stays a shared library: Debian ships no static one) and of examples/app's
# rank_items (runtime linked statically) for one build.
# Usage: report_sizes.sh BUILD_DIR APP_BUILD_DIR [TOOL_PREFIX]
#   scripts/report_sizes.sh build-install build-install/app                     # x86-64
#   scripts/report_sizes.sh build-arm64 build-arm64/app aarch64-linux-gnu-      # aarch64
set -euo pipefail
build="$1" app="$2" tools="${3:-}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# "FILE_BYTES LOADED_BYTES": stripped file size, and text+data+bss of the
# stripped file (the file also holds ELF headers, symbol tables for dynamic
# linking and the padding that aligns segments to pages: 64 KiB on aarch64).
stripped() {
  "${tools}strip" --strip-all -o "$scratch/stripped" "$1"
  echo "$(stat -c %s "$scratch/stripped") $("${tools}size" "$scratch/stripped" | awk 'NR == 2 { print $4 }')"
}
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }

# Code + data of every object of libedgemtl.a (the sum `size -t` prints).
archive_bytes=$("${tools}size" -t "$build/runtime/libedgemtl.a" | awk '/\(TOTALS\)/ { print $4 }')
read -r shared_file shared_loaded <<< "$(stripped "$(readlink -f "$build/runtime/libedgemtl.so")")"
read -r app_file app_loaded <<< "$(stripped "$app/rank_items")"
echo "libedgemtl.a, text+data+bss of its objects:  $(kib "$archive_bytes")"
echo "libedgemtl.so, stripped: file $(kib "$shared_file"), text+data+bss $(kib "$shared_loaded")"
echo "rank_items (static runtime), stripped: file $(kib "$app_file"), text+data+bss $(kib "$app_loaded")"
