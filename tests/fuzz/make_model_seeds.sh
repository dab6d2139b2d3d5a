#!/usr/bin/env bash
# Regenerates tests/fuzz/corpus/model/: every PyTorch fixture converted as
# f32, fp16 and int8 by the converter at $1 (default build/converter/edgemtl-convert).
# Run it again when the file format changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
convert="${1:-build/converter/edgemtl-convert}"
out=tests/fuzz/corpus/model
rm -f "$out"/*.emtl
mkdir -p "$out"
for dir in tests/fixtures/*/; do
  name=$(basename "$dir")
  [ -f "$dir/model.onnx" ] || continue
  # --tasks and --user-inputs of meta.json, one argument a line (names may hold spaces)
  mapfile -t args < <(python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))
print("--tasks"); print(m["tasks"])
if m["user_inputs"]: print("--user-inputs"); print(",".join(m["user_inputs"]))' "$dir/meta.json")
  ASAN_OPTIONS=detect_leaks=0 "$convert" "$dir/model.onnx" -o "$out/$name.f32.emtl" "${args[@]}" > /dev/null
  ASAN_OPTIONS=detect_leaks=0 "$convert" "$dir/model.onnx" -o "$out/$name.fp16.emtl" "${args[@]}" --quantize fp16 > /dev/null
  ASAN_OPTIONS=detect_leaks=0 "$convert" "$dir/model.onnx" -o "$out/$name.int8.emtl" "${args[@]}" --quantize int8 \
    --calibration "$dir/rows.jsonl" > /dev/null
done
du -sh "$out"
