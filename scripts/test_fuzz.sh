#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang into build-fuzz/
# (-DEDGEMTL_FUZZ=ON: ASan + UBSan + libFuzzer coverage) and runs each for a
# bounded time on its committed seed corpus (tests/fuzz/corpus/<target>/) plus
# a scratch corpus in build-fuzz/corpus/<target>/. Any crash, leak, timeout or
# out-of-memory fails the script; libFuzzer writes the input to build-fuzz/findings/.
# Every committed reproducer of a fixed finding (tests/fuzz/regressions/<target>/)
# is run first and must pass.
# Usage: test_fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 45 s, every target)
# EDGEMTL_FUZZ_ARGS adds libFuzzer options (e.g. -jobs=2 -workers=2).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-45}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model c_api requests converter)
jobs="${EDGEMTL_JOBS:-2}"

log=build-fuzz/build.log
mkdir -p build-fuzz
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DEDGEMTL_FUZZ=ON \
  -DEDGEMTL_BUILD_TESTS=OFF -DEDGEMTL_BUILD_TOOLS=OFF -DEDGEMTL_BUILD_EXAMPLES=OFF \
  > "$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build build-fuzz -j "$jobs" --target fuzz_model fuzz_c_api fuzz_requests fuzz_converter \
  >> "$log" 2>&1 || { tail -n 60 "$log"; exit 1; }

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
limits=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10)
status=0
for target in "${targets[@]}"; do
  binary="build-fuzz/tests/fuzz/fuzz_$target"
  [ -x "$binary" ] || { echo "test_fuzz: no target $target"; exit 2; }
  # The C API target shares the model corpus.
  seeds="tests/fuzz/corpus/$target"
  [ "$target" = c_api ] && seeds="tests/fuzz/corpus/model"
  regressions="tests/fuzz/regressions/$target"
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    "$binary" "${limits[@]}" "$regressions"/* > "build-fuzz/$target.regressions.log" 2>&1 ||
      { tail -n 60 "build-fuzz/$target.regressions.log"; echo "fuzz $target: a committed reproducer fails"; status=1; continue; }
  fi
  corpus="build-fuzz/corpus/$target"
  findings="build-fuzz/findings/$target"
  mkdir -p "$corpus" "$findings"
  # shellcheck disable=SC2086  # EDGEMTL_FUZZ_ARGS holds several options
  if "$binary" "${limits[@]}" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$findings/" \
      ${EDGEMTL_FUZZ_ARGS:-} "$corpus" "$seeds" > "build-fuzz/$target.log" 2>&1; then
    echo "fuzz $target: ${seconds}s, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$target.log" | grep -o '[0-9]*$') runs," \
      "$(grep -o 'cov: [0-9]*' "build-fuzz/$target.log" | tail -n 1), no finding"
  else
    tail -n 60 "build-fuzz/$target.log"
    echo "fuzz $target: FINDING (input in $findings/)"
    status=1
  fi
done
exit $status
