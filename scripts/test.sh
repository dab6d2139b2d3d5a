#!/usr/bin/env bash
# The test command: installs what it needs, builds everything and runs every
# test (unit tests of the runtime and converter, end-to-end PyTorch fixtures,
# bad inputs, limits, soak, tools, examples) with ctest, then the arm64 suite
# under qemu, the sanitizer suites (ASan+UBSan on the whole suite, TSan on the
# runtime, tools and threads) and a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure --timeout 900)
# arm64 under qemu (docs/PORTING.md); reuses the host converter built above.
bash scripts/test_arm64.sh
# docs/ROBUSTNESS.md: sanitizers and fuzz smoke runs (45 s per target).
bash scripts/test_sanitizers.sh
bash scripts/test_fuzz.sh "${EDGEMTL_FUZZ_SECONDS:-45}"
