#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang into build-fuzz/
# (-DEDGEMTL_FUZZ=ON: ASan + UBSan + libFuzzer coverage) and runs each for a
# bounded time on its committed seed corpus (tests/fuzz/corpus/<target>/) plus
# a scratch corpus in build-fuzz/corpus/<target>/. Every crash, leak, timeout or
# out-of-memory (inputs in build-fuzz/findings/<target>/) fails the script,
# except those of tests/fuzz/known_open.txt: findings whose fix belongs to code
# being rewritten (issue 13 part B), reproducers in tests/fuzz/open/, reported
# as "known open" and skipped until fixed. Every committed reproducer of a
# fixed finding (tests/fuzz/regressions/<target>/) is run first and must pass.
# Usage: test_fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 45 s, every target)
# EDGEMTL_FUZZ_ARGS adds libFuzzer options (e.g. -jobs=2 -workers=2).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-45}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model c_api requests converter)
jobs="${EDGEMTL_JOBS:-2}"

source scripts/ccache.sh
log=build-fuzz/build.log
mkdir -p build-fuzz
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DEDGEMTL_FUZZ=ON \
  -DEDGEMTL_BUILD_TESTS=OFF -DEDGEMTL_BUILD_TOOLS=OFF -DEDGEMTL_BUILD_EXAMPLES=OFF \
  > "$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build build-fuzz -j "$jobs" --target fuzz_model fuzz_c_api fuzz_requests fuzz_converter \
  >> "$log" 2>&1 || { tail -n 60 "$log"; exit 1; }

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
limits=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10)

# signature < REPORT: "KIND FUNCTION" of a crash report: the kind of error and
# the first edgemtl function on its stack (what tests/fuzz/known_open.txt lists).
signature() {
  local report kind function
  report=$(cat)
  kind=$(grep -m1 -oE '^SUMMARY: [A-Za-z]+: [a-z-]+|==ERROR: libFuzzer: [a-z-]+' <<< "$report" | awk '{print $3}')
  grep -q 'ERROR: LeakSanitizer' <<< "$report" && kind=leak
  function=$(grep -m1 -oE '#[0-9]+ 0x[0-9a-f]+ in edgemtl::[^(]*' <<< "$report" | sed 's/.* in //')
  echo "${kind:-unknown} ${function:-no-edgemtl-frame}"
}

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
  rm -rf "$findings"
  mkdir -p "$corpus" "$findings"
  # Fork mode goes on after a finding; every finding is classified below.
  # shellcheck disable=SC2086  # EDGEMTL_FUZZ_ARGS holds several options
  "$binary" "${limits[@]}" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -max_total_time="$seconds" \
    -artifact_prefix="$findings/" ${EDGEMTL_FUZZ_ARGS:-} "$corpus" "$seeds" > "build-fuzz/$target.log" 2>&1 || true
  stats=$(grep -E '^#[0-9]+: cov: ' "build-fuzz/$target.log" | tail -n 1)
  grep -q 'INFO: fuzzed for' "build-fuzz/$target.log" || grep -q 'cov: ' <<< "$stats" ||
    { tail -n 40 "build-fuzz/$target.log"; echo "fuzz $target: the fuzzer did not run"; status=1; continue; }
  # Each finding: a known-open one (tests/fuzz/known_open.txt: reproducer
  # committed, fix routed) is reported and skipped; any other fails.
  new=0 known=0
  for artifact in "$findings"/*; do
    [ -e "$artifact" ] || continue
    # (the re-run fails, as a finding does: under pipefail and set -e that must
    # not end the script before the finding is reported)
    sig=$({ "$binary" "${limits[@]}" "$artifact" 2>&1 || true; } | signature)
    if grep -v '^#' tests/fuzz/known_open.txt | cut -d'|' -f1 | sed 's/ *$//' | grep -qxF "$target: $sig"; then
      known=$((known + 1))
    else
      echo "fuzz $target: NEW FINDING ($sig): $artifact"
      new=$((new + 1))
    fi
  done
  echo "fuzz $target: ${seconds}s, ${stats:-no stats}; $known finding(s) known open, $new new"
  [ $new -eq 0 ] || status=1
done
exit $status
