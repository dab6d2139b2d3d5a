#!/usr/bin/env bash
# Prints the bad-input matrix of docs/ROBUSTNESS.md: every class of bad input
# fed to the built tools (build/ by default), with the exit code and the exact
# message each gets. Usage: bad_input_matrix.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
run="$build/tools/edgemtl-run" convert="$build/converter/edgemtl-convert" inspect="$build/tools/edgemtl-inspect"
work="$build/bad_input_matrix"
rm -rf "$work" && mkdir -p "$work"
fixture=tests/fixtures/esmm
"$convert" "$fixture/model.onnx" -o "$work/esmm.emtl" --tasks ctr:prob,ctcvr:prob \
  --user-inputs userId,userGender,userClickSeq,ctxFeatures > /dev/null 2>&1 || { echo "cannot convert $fixture"; exit 1; }
model="$work/esmm.emtl"
size=$(stat -c %s "$model")
request='{"user": {"userId": 3, "userGender": 1, "userClickSeq": [1, 2, 3, 4, 5, 0, 0, 0, 0, 0], "ctxFeatures": [0.5, 0.1, 0.2]}, "items": [ITEM]}'
item='"itemId": 7, "brandId": 2, "itemCtr7d": 0.1'

row() { printf '| %s | %s | `%s` |\n' "$1" "$2" "$(head -c 300 | tr '\n' ' ' | sed 's/ *$//; s/|/\\|/g')"; }

# file_case NAME FILE [options]: loads $work/FILE (or FILE given with a /) with edgemtl-run
file_case() {
  printf '%s\n' "$request" | sed "s/ITEM/{$item}/" > "$work/one.jsonl"
  local file="$work/$2"
  [[ "$2" == */* ]] && file="$2"
  "$run" "$file" --requests "$work/one.jsonl" "${@:3}" > /dev/null 2> "$work/err"
  local code=$?
  row "$1" "exit $code" < "$work/err"
}
# inspect_case NAME FILE [options]: edgemtl-inspect's exit code and its error (or its session line)
inspect_case() {
  "$inspect" "$2" "${@:3}" > "$work/out" 2> "$work/err"
  local code=$?
  { cat "$work/err"; grep -h "cannot be created" "$work/out"; } | row "$1" "exit $code"
}
echo "| file | result | message (edgemtl-run) |"
echo "| --- | --- | --- |"
head -c $((size / 2)) "$model" > "$work/truncated.emtl"; file_case "truncated (half the file)" truncated.emtl
: > "$work/empty.emtl"; file_case "empty" empty.emtl
cp "$model" "$work/foreign.emtl"; printf 'TFL3' | dd of="$work/foreign.emtl" bs=1 seek=4 conv=notrunc status=none
file_case "foreign (identifier TFL3)" foreign.emtl
cp "$model" "$work/offset.emtl"; printf '\xf0\xff\xff\x7f' | dd of="$work/offset.emtl" bs=1 seek=0 conv=notrunc status=none
file_case "corrupt root offset" offset.emtl
head -c $((size - 64)) "$model" > "$work/cut.emtl"; file_case "truncated by one 64-byte block" cut.emtl
# A byte of the FlatBuffer the verifier would accept: the name of a feature.
name_at=$(grep -obUa brandId "$model" | head -n 1 | cut -d: -f1)
cp "$model" "$work/name.emtl"; printf 'X' | dd of="$work/name.emtl" bs=1 seek="$name_at" conv=notrunc status=none
file_case "corrupt FlatBuffer (a feature's name)" name.emtl
cp "$model" "$work/weights.emtl"; printf '\x7f' | dd of="$work/weights.emtl" bs=1 seek=$((size - 9)) conv=notrunc status=none
file_case "corrupt weights (a byte of the last constant)" weights.emtl
file_case "corrupt weights, --verify-weights" weights.emtl --verify-weights
inspect_case "corrupt weights, edgemtl-inspect --verify" "$work/weights.emtl" --verify
file_case "written before checksums (tests/compat), --verify-weights" tests/compat/esmm.before_checksums.emtl --verify-weights
file_case "oversized (--max-model-bytes $((size - 1)))" esmm.emtl --max-model-bytes $((size - 1))
file_case "a 512-byte file asking for a 2 GiB arena (tests/bad_models/huge_arena.emtl)" tests/bad_models/huge_arena.emtl
file_case "arena over --max-arena-bytes 20000" esmm.emtl --max-arena-bytes 20000
file_case "no features, tasks or tensors (tests/bad_models/no_tasks.emtl)" tests/bad_models/no_tasks.emtl
inspect_case "the same, edgemtl-inspect" tests/bad_models/no_tasks.emtl
file_case "int64 vector at 4 mod 8 (tests/bad_models/misaligned_vector.emtl)" tests/bad_models/misaligned_vector.emtl
cp "$fixture/model.onnx" "$work/onnx.emtl"; file_case "an ONNX file given as a model" onnx.emtl

echo
echo "| request line | result | answer (edgemtl-run) |"
echo "| --- | --- | --- |"
# request_case NAME LINE [options]
request_case() {
  printf '%s\n' "$2" > "$work/line.jsonl"
  "$run" "$model" --requests "$work/line.jsonl" "${@:3}" > "$work/out" 2> /dev/null
  local code=$?
  row "$1" "exit $code" < "$work/out"
}
with_item() { printf '%s' "$request" | sed "s/ITEM/$1/"; }
request_case "valid" "$(with_item "{$item}")"
request_case "missing feature (no brandId)" "$(with_item '{"itemId": 7, "itemCtr7d": 0.1}')"
request_case "wrong type (string id)" "$(with_item '{"itemId": "seven", "brandId": 2, "itemCtr7d": 0.1}')"
request_case "wrong length (list of 2 for width 1)" "$(with_item '{"itemId": 7, "brandId": 2, "itemCtr7d": [0.1, 0.2]}')"
request_case "wrong length (id list of 3 for width 10)" "$(printf '%s' "$request" | sed 's/\[1, 2, 3, 4, 5, 0, 0, 0, 0, 0\]/[1, 2, 3]/; s/ITEM/{'"$item"'}/')"
request_case "id out of range" "$(with_item '{"itemId": 100000000, "brandId": 2, "itemCtr7d": 0.1}')"
request_case "negative id" "$(with_item '{"itemId": -1, "brandId": 2, "itemCtr7d": 0.1}')"
request_case "NaN (not JSON)" "$(with_item '{"itemId": 7, "brandId": 2, "itemCtr7d": NaN}')"
request_case "huge number in a dense feature (1e400)" "$(with_item '{"itemId": 7, "brandId": 2, "itemCtr7d": 1e400}')"
request_case "huge number in a dense feature (1e39, over float)" "$(with_item '{"itemId": 7, "brandId": 2, "itemCtr7d": 1e39}')"
request_case "huge id (2^63)" "$(with_item '{"itemId": 9223372036854775808, "brandId": 2, "itemCtr7d": 0.1}')"
request_case "fractional id" "$(with_item '{"itemId": 7.5, "brandId": 2, "itemCtr7d": 0.1}')"
request_case "user feature inside an item" "$(with_item "{$item, \"userId\": 3}")"
request_case "unknown feature" "$(with_item "{$item, \"colour\": 3}")"
request_case "too many items (3 > --max-request-items 2)" "$(with_item "{$item}, {$item}, {$item}")" --max-request-items 2
request_case "deep nesting (100,000 levels)" "$(printf '{"user": %s1%s, "items": [{}]}' "$(printf '{"a": %.0s' $(seq 100000))" "$(printf '}%.0s' $(seq 100000))")"
request_case "line over --max-line-bytes 100" "$(with_item "{$item}")" --max-line-bytes 100
request_case "not JSON" "{\"items\": [}"
request_case "no items" '{"user": {}, "items": []}'

echo
echo "| ONNX file | result | message (edgemtl-convert) |"
echo "| --- | --- | --- |"
# convert_case NAME FILE
convert_case() {
  "$convert" "$2" -o "$work/out.emtl" > /dev/null 2> "$work/err"
  local code=$?
  row "$1" "exit $code" < "$work/err"
}
cp "$fixture/rows.jsonl" "$work/text.onnx"; convert_case "malformed (a JSON Lines file)" "$work/text.onnx"
head -c 10000 "$fixture/model.onnx" > "$work/truncated.onnx"; convert_case "truncated (first 10,000 bytes)" "$work/truncated.onnx"
convert_case "unsupported op (CumSum)" tests/bad_models/unsupported_op.onnx
convert_case "cycle (Add <-> Relu)" tests/bad_models/cycle.onnx
convert_case "missing initializer (MatMul weight)" tests/bad_models/missing_initializer.onnx
convert_case "transposed rows" tests/bad_models/rows_transposed.onnx
convert_case "Split sizes of 2^40 for 4 columns" tests/bad_models/split_sizes.onnx
convert_case "initializer dims [2^32, 2^32], no data" tests/bad_models/initializer_dims.onnx
