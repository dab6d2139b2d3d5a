#!/usr/bin/env bash
# The main job: installs what it needs, builds edgemtl, converts the bundled
# ESMM re-ranking model and re-ranks candidates for the sample users, printing
# each ranking and the time of the user and item stages (with and without the
# user cache), then simulates a few clicks per user, each re-ranking the cached
# candidates (set_user + rank) next to a full score() of them. Extra arguments go
# to edgemtl-rerank (e.g. --top 10 --weights ctr=0.5,ctcvr=1 --actions 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
bash examples/rerank/run.sh build "$@"
