#!/usr/bin/env bash
# Install test: `cmake --install` of this build into a fresh prefix, which is
# then moved (the package must be relocatable); examples/app is built against
# it with find_package (C++ app on the static library, C app on the shared one)
# and the C app once more with pkg-config only. All three must print the same
# ranking of 8 items for a converted PyTorch fixture.
# Usage: install_test.sh SOURCE_DIR BINARY_DIR CONVERTER C_COMPILER CMAKE_GENERATOR
set -euo pipefail
source_dir="$1" binary_dir="$2" converter="$3" c_compiler="$4" generator="$5"
# A sanitized build (scripts/test_sanitizers.sh) builds the apps with its flags.
extra_flags="${EDGEMTL_INSTALL_TEST_FLAGS:-}"
work="$binary_dir/tests/install"
rm -rf "$work"
mkdir -p "$work"
log="$work/log.txt"
fail() { echo "install test: $*"; cat "$log"; exit 1; }

cmake --install "$binary_dir" --prefix "$work/staging" >> "$log" 2>&1 || fail "cmake --install failed"
mv "$work/staging" "$work/prefix"
prefix="$work/prefix"
for file in include/edgemtl.h include/edgemtl/runtime/executor/session.h lib/libedgemtl.a lib/libedgemtl.so \
            lib/cmake/edgemtl/edgemtlConfig.cmake lib/pkgconfig/edgemtl.pc; do
  [ -e "$prefix/$file" ] || fail "missing $file in the install prefix"
done

cmake -S "$source_dir/examples/app" -B "$work/app" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$extra_flags" -DCMAKE_CXX_FLAGS="$extra_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$extra_flags" >> "$log" 2>&1 || fail "configuring examples/app against the prefix failed"
cmake --build "$work/app" >> "$log" 2>&1 || fail "building examples/app failed"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046,SC2086  # pkg-config and extra_flags hold several flags
"$c_compiler" -std=c99 -Wall -Werror $extra_flags $(pkg-config --cflags edgemtl) "$source_dir/examples/app/rank_items.c" \
  -o "$work/rank_items_pkgconfig" $(pkg-config --libs edgemtl) -Wl,-rpath,"$prefix/lib" >> "$log" 2>&1 ||
  fail "building the C app with pkg-config failed"

"$converter" "$source_dir/tests/fixtures/esmm/model.onnx" -o "$work/esmm.emtl" --tasks ctr:prob,ctcvr:prob \
  --user-inputs userId,userGender,userClickSeq,ctxFeatures >> "$log" 2>&1 || fail "converting the ESMM fixture failed"

"$work/app/rank_items" "$work/esmm.emtl" 8 > "$work/cpp.txt" 2>> "$log" || fail "rank_items failed"
"$work/app/rank_items_c" "$work/esmm.emtl" 8 > "$work/c.txt" 2>> "$log" || fail "rank_items_c failed"
"$work/rank_items_pkgconfig" "$work/esmm.emtl" 8 > "$work/pkgconfig.txt" 2>> "$log" || fail "rank_items (pkg-config) failed"
cat "$work/cpp.txt"
[ "$(wc -l < "$work/cpp.txt")" -eq 8 ] || fail "expected 8 ranked items"
# Ranks 1..8, ranking scores (column 5) never increasing.
awk '$1 != NR || (NR > 1 && $5 > previous) { bad = 1 } { previous = $5 } END { exit bad }' "$work/cpp.txt" ||
  fail "the ranking is not sorted"
cmp "$work/cpp.txt" "$work/c.txt" || fail "the C and C++ apps disagree"
cmp "$work/cpp.txt" "$work/pkgconfig.txt" || fail "the pkg-config build disagrees"
echo "install test: passed"
