#!/usr/bin/env bash
# Checks that a change of the file layout kept every score: converts every
# PyTorch fixture (unsplit, split, no-split, fp16, int8) with each build's
# edgemtl-convert, scores its rows with that build's edgemtl-run and requires
# bitwise identical outputs; and runs the new edgemtl-run on the old build's
# files (files written before the change must keep loading, same scores).
# For changes where the files differ (compare_builds.sh requires equal files).
#   bash scripts/compare_scores.sh OLD_BUILD_DIR NEW_BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1
new=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
compared=0

scores() {  # build onnx rows out args...: convert with build's converter, score with build's runtime
  local build=$1 onnx=$2 rows=$3 out=$4
  shift 4
  "$build/converter/edgemtl-convert" "$onnx" -o "$out.emtl" "$@" 2> "$out.log"
  "$build/tools/edgemtl-run" "$out.emtl" --rows "$rows" > "$out"
}

for dir in tests/fixtures/*/; do
  name=$(basename "$dir")
  [ -f "$dir/model.onnx" ] || continue
  users=$(/usr/bin/env python3 -c "import json,sys; print(','.join(json.load(open(sys.argv[1]))['user_inputs']))" "$dir/meta.json")
  user_args=()
  [ -n "$users" ] && user_args=(--user-inputs "$users")
  for variant in unsplit split no-split fp16 int8; do
    case $variant in
      unsplit) args=() ;;
      split) args=("${user_args[@]}") ;;
      no-split) args=("${user_args[@]}" --no-split) ;;
      fp16) args=("${user_args[@]}" --quantize fp16) ;;
      int8) args=("${user_args[@]}" --quantize int8 --calibration "$dir/rows.jsonl") ;;
    esac
    scores "$old" "$dir/model.onnx" "$dir/rows.jsonl" "$work/old.out" "${args[@]}"
    scores "$new" "$dir/model.onnx" "$dir/rows.jsonl" "$work/new.out" "${args[@]}"
    "$new/tools/edgemtl-run" "$work/old.out.emtl" --rows "$dir/rows.jsonl" > "$work/new-on-old.out"
    compared=$((compared + 2))
    cmp -s "$work/old.out" "$work/new.out" || { echo "FAIL $name $variant: scores differ"; failures=$((failures + 1)); }
    cmp -s "$work/old.out" "$work/new-on-old.out" ||
      { echo "FAIL $name $variant: the new runtime scores the old file differently"; failures=$((failures + 1)); }
  done
done
echo "$compared comparisons, $failures failures"
[ "$failures" -eq 0 ]
