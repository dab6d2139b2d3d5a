#!/usr/bin/env bash
# The test command: installs what it needs, builds everything and runs every
# test (unit tests of the runtime and converter, end-to-end PyTorch fixtures,
# bad inputs, tools, examples) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 900
