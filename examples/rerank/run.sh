#!/usr/bin/env bash
# The main job: converts the bundled ESMM model (with the user/item split, once
# without it for comparison, and quantised to int8) and re-ranks the sample
# users' candidates with each.
# Usage: examples/rerank/run.sh BUILD_DIR [edgemtl-rerank options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "$1" && pwd)"; shift
out="$build/examples/rerank"
mkdir -p "$out"

convert() {  # convert OUTPUT LOG ARGS...: edgemtl-convert, its log shown only on failure
  local output="$1" log="$2"; shift 2
  "$build/converter/edgemtl-convert" "$here/models/esmm.onnx" -o "$output" "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }
}

read -r convert_args < "$here/models/esmm.convert"
# With --user-inputs the user stage runs once per request and is cached.
convert "$out/esmm.emtl" "$out/convert.log" $convert_args
# The same model with every feature on the item side: no user cache.
tasks_only=$(echo "$convert_args" | sed -E 's/--user-inputs +[^ ]+//')
convert "$out/esmm.uncached.emtl" "$out/convert-uncached.log" $tasks_only
# int8, calibrated on the evaluation users (not the sample users below).
convert "$out/esmm.int8.emtl" "$out/convert-int8.log" $convert_args --quantize int8 \
  --calibration "$here/data/eval_requests.jsonl" --validate "$here/data/requests.jsonl"
echo "converted examples/rerank/models/esmm.onnx into $out: esmm.emtl (f32, $(stat -c %s "$out/esmm.emtl") bytes)," \
     "esmm.int8.emtl ($(stat -c %s "$out/esmm.int8.emtl") bytes), esmm.uncached.emtl; logs beside them"

echo
echo "=== f32 model, user stage cached ==="
"$build/examples/rerank/edgemtl-rerank" "$out/esmm.emtl" --requests "$here/data/requests.jsonl" \
  --uncached "$out/esmm.uncached.emtl" --weights ctr=1,ctcvr=1 "$@"
echo
echo "=== int8 model (the same requests; compare its top items with the f32 ranking above) ==="
"$build/examples/rerank/edgemtl-rerank" "$out/esmm.int8.emtl" --requests "$here/data/requests.jsonl" \
  --weights ctr=1,ctcvr=1 --top 3 "$@"
