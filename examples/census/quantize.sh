#!/usr/bin/env bash
# Regenerates the committed quantised census models (models/NAME.{int8,int8-dynamic,fp16}.emtl)
# from models/NAME.onnx: writes 1,000 training rows (calibration) and the
# validation split as JSONL into the build directory (never into the
# repository), then converts with edgemtl-convert. Usage, from the repository root:
#   bash examples/census/quantize.sh [BUILD_DIR]        (default: build)
set -euo pipefail
build=${1:-build}
here=examples/census
data=${EDGEMTL_CENSUS_DATA:-../shared/data/census-income.test.gz}
rows=$build/examples/census/rows
mkdir -p "$rows"
"$build/examples/census/census-eval" --data "$data" --preprocessing $here/preprocessing.json \
  --split train --write-rows 1000 "$rows/calibration.jsonl"
"$build/examples/census/census-eval" --data "$data" --preprocessing $here/preprocessing.json \
  --split validation --write-rows 0 "$rows/validation.jsonl"
for m in mmoe ple; do
  # shellcheck disable=SC2046  # NAME.convert holds several arguments
  "$build/converter/edgemtl-convert" $here/models/$m.onnx -o $here/models/$m.int8.emtl $(cat $here/models/$m.convert) \
    --quantize int8 --calibration "$rows/calibration.jsonl" --validate "$rows/validation.jsonl" \
    2> "$build/examples/census/$m.int8.log"
  # shellcheck disable=SC2046  # no calibration: every layer dynamic int8
  "$build/converter/edgemtl-convert" $here/models/$m.onnx -o $here/models/$m.int8-dynamic.emtl \
    $(cat $here/models/$m.convert) --quantize int8-dynamic --validate "$rows/validation.jsonl" \
    2> "$build/examples/census/$m.int8-dynamic.log"
  # shellcheck disable=SC2046
  "$build/converter/edgemtl-convert" $here/models/$m.onnx -o $here/models/$m.fp16.emtl $(cat $here/models/$m.convert) \
    --quantize fp16 --validate "$rows/validation.jsonl" 2> "$build/examples/census/$m.fp16.log"
  echo "$m: $(grep -A3 '^validation' "$build/examples/census/$m.int8.log" | tail -2 | tr -s ' ' | tr '\n' ';')"
done
