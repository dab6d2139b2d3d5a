#!/usr/bin/env bash
# Checks that two builds behave identically: converts every PyTorch fixture and
# the examples' models with each build's edgemtl-convert (split, unsplit, int8,
# fp16), requires the .emtl files to be byte-identical, then scores every
# fixture's rows with each build's edgemtl-run and requires identical outputs.
# Used for refactors that promise "no behaviour change".
#   bash scripts/compare_builds.sh OLD_BUILD_DIR NEW_BUILD_DIR
# With --scores (a change of the file layout, where files may differ): each
# build converts every fixture variant (unsplit, split, no-split, fp16, int8)
# and scores its rows with its own edgemtl-run; the outputs must be bitwise
# identical, and the new edgemtl-run must score the old build's files the same
# (files written before the change keep loading).
#   bash scripts/compare_builds.sh --scores OLD_BUILD_DIR NEW_BUILD_DIR
# A build dir has converter/edgemtl-convert and tools/edgemtl-run.
set -euo pipefail
cd "$(dirname "$0")/.."
scores_only=false
if [ "${1:-}" = --scores ]; then
  scores_only=true
  shift
fi
old=$1
new=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
compared=0

convert() {  # build out onnx args...
  local build=$1 out=$2 onnx=$3
  shift 3
  "$build/converter/edgemtl-convert" "$onnx" -o "$out" "$@" 2> "$out.log"
}

check_pair() {  # label onnx args...
  local label=$1 onnx=$2
  shift 2
  convert "$old" "$work/old.emtl" "$onnx" "$@" || { echo "FAIL $label: old converter failed"; failures=$((failures + 1)); return; }
  convert "$new" "$work/new.emtl" "$onnx" "$@" || { echo "FAIL $label: new converter failed: $(tail -1 "$work/new.emtl.log")"; failures=$((failures + 1)); return; }
  compared=$((compared + 1))
  if ! cmp -s "$work/old.emtl" "$work/new.emtl"; then
    echo "FAIL $label: model files differ"
    failures=$((failures + 1))
  fi
}

scores_of() {  # build onnx rows out args...: converted by build's converter, scored by build's runtime
  local build=$1 onnx=$2 rows=$3 out=$4
  shift 4
  convert "$build" "$out.emtl" "$onnx" "$@"
  "$build/tools/edgemtl-run" "$out.emtl" --rows "$rows" > "$out"
}

compare_scores() {  # name dir user_args...
  local name=$1 dir=$2
  shift 2
  local variant args
  for variant in unsplit split no-split fp16 int8; do
    case $variant in
      unsplit) args=() ;;
      split) args=("$@") ;;
      no-split) args=("$@" --no-split) ;;
      fp16) args=("$@" --quantize fp16) ;;
      int8) args=("$@" --quantize int8 --calibration "$dir/rows.jsonl") ;;
    esac
    scores_of "$old" "$dir/model.onnx" "$dir/rows.jsonl" "$work/old.out" ${args[@]+"${args[@]}"}
    scores_of "$new" "$dir/model.onnx" "$dir/rows.jsonl" "$work/new.out" ${args[@]+"${args[@]}"}
    "$new/tools/edgemtl-run" "$work/old.out.emtl" --rows "$dir/rows.jsonl" > "$work/new-on-old.out"
    compared=$((compared + 2))
    cmp -s "$work/old.out" "$work/new.out" || { echo "FAIL $name $variant: scores differ"; failures=$((failures + 1)); }
    cmp -s "$work/old.out" "$work/new-on-old.out" ||
      { echo "FAIL $name $variant: the new runtime scores the old file differently"; failures=$((failures + 1)); }
  done
}

for dir in tests/fixtures/*/; do
  name=$(basename "$dir")
  [ -f "$dir/model.onnx" ] || continue
  users=$(/usr/bin/env python3 -c "import json,sys; print(','.join(json.load(open(sys.argv[1]))['user_inputs']))" "$dir/meta.json")
  user_args=()
  [ -n "$users" ] && user_args=(--user-inputs "$users")
  if $scores_only; then
    compare_scores "$name" "$dir" ${user_args[@]+"${user_args[@]}"}
    continue
  fi
  check_pair "$name unsplit" "$dir/model.onnx"
  check_pair "$name split" "$dir/model.onnx" "${user_args[@]}"
  check_pair "$name no-split" "$dir/model.onnx" "${user_args[@]}" --no-split
  check_pair "$name fp16" "$dir/model.onnx" "${user_args[@]}" --quantize fp16
  check_pair "$name int8" "$dir/model.onnx" "${user_args[@]}" --quantize int8 --calibration "$dir/rows.jsonl"
  # Scores: both runtimes on the new converter's split file and on the old one's.
  for variant in split int8; do
    if [ $variant = split ]; then
      convert "$new" "$work/m.emtl" "$dir/model.onnx" "${user_args[@]}"
    else
      convert "$new" "$work/m.emtl" "$dir/model.onnx" "${user_args[@]}" --quantize int8 --calibration "$dir/rows.jsonl"
    fi
    "$old/tools/edgemtl-run" "$work/m.emtl" --rows "$dir/rows.jsonl" > "$work/old.out"
    "$new/tools/edgemtl-run" "$work/m.emtl" --rows "$dir/rows.jsonl" > "$work/new.out"
    compared=$((compared + 1))
    if ! cmp -s "$work/old.out" "$work/new.out"; then
      echo "FAIL $name $variant: scores differ"
      failures=$((failures + 1))
    fi
  done
done
$scores_only && { echo "$compared compared, $failures differ"; [ "$failures" -eq 0 ]; exit; }
for model in examples/rerank/models/*.onnx examples/census/models/*.onnx; do
  # shellcheck disable=SC2046  # NAME.convert holds several arguments
  check_pair "$model" "$model" $(cat "${model%.onnx}.convert")
done
echo "$compared compared, $failures differ"
[ "$failures" -eq 0 ]
