#!/usr/bin/env bash
# The main job: converts the bundled ESMM model (with the user/item split, and
# once without it for comparison) and re-ranks the sample users' candidates.
# Usage: examples/rerank/run.sh BUILD_DIR [edgemtl-rerank options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "$1" && pwd)"; shift
out="$build/examples/rerank"
mkdir -p "$out"

read -r convert_args < "$here/models/esmm.convert"
# With --user-inputs the user stage runs once per request and is cached.
"$build/converter/edgemtl-convert" "$here/models/esmm.onnx" -o "$out/esmm.emtl" $convert_args > "$out/convert.log" 2>&1 \
  || { cat "$out/convert.log"; exit 1; }
# The same model with every feature on the item side: no user cache.
tasks_only=$(echo "$convert_args" | sed -E 's/--user-inputs +[^ ]+//')
"$build/converter/edgemtl-convert" "$here/models/esmm.onnx" -o "$out/esmm.uncached.emtl" $tasks_only \
  > "$out/convert-uncached.log" 2>&1 || { cat "$out/convert-uncached.log"; exit 1; }
echo "converted examples/rerank/models/esmm.onnx -> $out/esmm.emtl ($convert_args; log in $out/convert.log)"

"$build/examples/rerank/edgemtl-rerank" "$out/esmm.emtl" --requests "$here/data/requests.jsonl" \
  --uncached "$out/esmm.uncached.emtl" --weights ctr=1,ctcvr=1 "$@"
