#!/usr/bin/env bash
# The sanitizer suites (issue 13), each in its own build folder:
#   asan  the whole ctest suite (runtime, C API, converter, request library,
#         tools, end-to-end fixtures, examples, install) built with gcc's
#         -fsanitize=address,undefined; any report is fatal, leaks included.
#   tsan  the runtime, the C API, the tools, the end-to-end tests and the
#         threads test built with -fsanitize=thread; models come from the
#         host converter in build/ (run scripts/build.sh first).
# Usage: test_sanitizers.sh [asan|tsan]...   (no argument: both)
# Suppressions: tests/sanitizers/*.supp (only reports inside XNNPACK or
# pthreadpool with no edgemtl frame, each with its reason).
set -euo pipefail
cd "$(dirname "$0")/.."
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(asan tsan)
jobs="${EDGEMTL_JOBS:-2}"
supp="$PWD/tests/sanitizers"
source scripts/ccache.sh

# configure_and_build DIR FLAGS [cmake args...]
configure_and_build() {
  local dir="$1" flags="$2"
  shift 2
  mkdir -p "$dir"
  local log="$dir/build.log"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=None "${launcher[@]}" \
    -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" "$@" \
    > "$log" 2>&1 || { cat "$log"; exit 1; }
  cmake --build "$dir" -j "$jobs" >> "$log" 2>&1 || { tail -n 60 "$log"; exit 1; }
}

for suite in "${suites[@]}"; do
  case "$suite" in
  asan)
    # vptr checks need RTTI, which the runtime is built without.
    flags="-O1 -g1 -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer"
    configure_and_build build-asan "$flags"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
    # install_test.sh builds examples/app against the sanitized package.
    export EDGEMTL_INSTALL_TEST_FLAGS="$flags"
    (cd build-asan && ctest --output-on-failure --timeout 1800 -E '^(python|java)$')
    # The bindings' tests run in an interpreter that is not built with ASan:
    # the runtime comes first by preloading it. Python's and the JVM's own
    # allocations outlive the process on purpose, so leaks are not checked
    # there, and the JVM takes SIGSEGV for its own null checks.
    # libstdc++ is preloaded too: ASan finds the __cxa_throw it intercepts when
    # it starts, and the interpreter does not link libstdc++, so without it the
    # first C++ exception (an edgemtl.Error) stops the process in ASan's CHECK.
    libasan=$(gcc -print-file-name=libasan.so)
    libstdcxx=$(g++ -print-file-name=libstdc++.so)
    (cd build-asan && LD_PRELOAD="$libasan $libstdcxx" \
      ASAN_OPTIONS="detect_leaks=0:handle_segv=0:halt_on_error=1:allow_user_segv_handler=1" \
      ctest --output-on-failure --timeout 1800 -R '^(python|java)$')
    unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS EDGEMTL_INSTALL_TEST_FLAGS
    ;;
  tsan)
    host_convert="${EDGEMTL_HOST_CONVERT:-$PWD/build/converter/edgemtl-convert}"
    [ -x "$host_convert" ] || { echo "test_sanitizers: no host converter at $host_convert (run scripts/build.sh first)"; exit 1; }
    flags="-O1 -g1 -fsanitize=thread -fno-omit-frame-pointer"
    # No bindings: a JVM or an interpreter cannot load a TSan-instrumented
    # library at run time ("libtsan.so.2: cannot allocate memory in static TLS
    # block"); the ASan suite runs them.
    configure_and_build build-tsan "$flags" -DEDGEMTL_BUILD_CONVERTER=OFF -DEDGEMTL_BUILD_EXAMPLES=OFF \
      -DEDGEMTL_BUILD_JAVA=OFF -DEDGEMTL_BUILD_PYTHON=OFF -DEDGEMTL_HOST_CONVERT="$host_convert"
    # pthreadpool's hand-off to its workers, stated for TSan (the library is
    # not instrumented): tests/sanitizers/pthreadpool_tsan.c, preloaded.
    gcc -O1 -g -fPIC -shared -Wall -Wextra "$supp/pthreadpool_tsan.c" -o build-tsan/libpthreadpool_tsan.so -ldl
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp:print_suppressions=0"
    (cd build-tsan && LD_PRELOAD="$PWD/libpthreadpool_tsan.so" ctest --output-on-failure --timeout 1800 -E '^install$')
    unset TSAN_OPTIONS
    ;;
  *)
    echo "test_sanitizers: unknown suite $suite (asan or tsan)"
    exit 2
    ;;
  esac
  echo "sanitizers: $suite suite passed"
done
