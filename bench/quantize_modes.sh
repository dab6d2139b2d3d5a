#!/usr/bin/env bash
# Static, dynamic and mixed int8 on the reference workloads (docs/QUANTIZATION.md,
# "Dynamic activation quantisation"). From the repository, after bench/workloads.py
# and bench/ranking_requests.py wrote bench/build/ (or give that directory):
#   bash bench/quantize_modes.sh [CONVERTER] [WORKLOADS_DIR] [OUTDIR]
# Calibrates on <name>.calibration.jsonl (16 requests x 32), judges on ranking.jsonl
# (other users, 100 candidates each); writes OUTDIR/<name>.<variant>.{emtl,log}.
set -euo pipefail
conv=${1:-build/converter/edgemtl-convert}
dir=${2:-bench/build}
out=${3:-build/quantize_modes}
mkdir -p "$out"
for w in mmoe ple; do
  tasks=$(/usr/bin/python3 -c "import json;print(json.load(open('$dir/$w.json'))['tasks'])")
  users=$(/usr/bin/python3 -c "import json;print(','.join(json.load(open('$dir/$w.json'))['user_inputs']))")
  base=("$dir/$w.onnx" --tasks "$tasks" --user-inputs "$users")
  cal=(--calibration "$dir/$w.calibration.jsonl" --validate "$dir/ranking.jsonl")
  "$conv" "${base[@]}" -o "$out/$w.f32.emtl" 2> "$out/$w.f32.log"
  # every layer static, no back-off (the "edgemtl int8")
  "$conv" "${base[@]}" -o "$out/$w.static_all.emtl" --quantize int8 --int8-inputs static "${cal[@]}" \
    --min-spearman -1 --min-top10 0 --max-mean-delta 1 2> "$out/$w.static_all.log"
  # static with the default plan (budget and ranking target)
  "$conv" "${base[@]}" -o "$out/$w.static.emtl" --quantize int8 --int8-inputs static "${cal[@]}" 2> "$out/$w.static.log"
  # every layer dynamic, no calibration
  "$conv" "${base[@]}" -o "$out/$w.dynamic_all.emtl" --quantize int8-dynamic --validate "$dir/ranking.jsonl" \
    2> "$out/$w.dynamic_all.log"
  # the default: static, the layers that miss the target dynamic (or f32)
  "$conv" "${base[@]}" -o "$out/$w.mixed.emtl" --quantize int8 "${cal[@]}" 2> "$out/$w.mixed.log"
  # the plan with every layer starting dynamic
  "$conv" "${base[@]}" -o "$out/$w.dynamic.emtl" --quantize int8 --int8-inputs dynamic "${cal[@]}" \
    2> "$out/$w.dynamic.log"
done
