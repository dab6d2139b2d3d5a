#!/usr/bin/env bash
# The test command: installs what it needs, builds everything and runs every
# test (unit tests of the runtime and converter, end-to-end PyTorch fixtures,
# bad inputs, tools, examples) with ctest, then the arm64 suite under qemu and
# the UBSan build of the runtime and its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure --timeout 900)
# arm64 under qemu and the runtime under UBSan (docs/PORTING.md); both reuse
# the host converter built above.
bash scripts/test_arm64.sh
bash scripts/test_ubsan.sh
