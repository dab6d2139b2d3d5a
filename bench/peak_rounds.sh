#!/usr/bin/env bash
# Interleaved rounds of edgemtl-bench --peak over the R500 files (f32 and int8),
# one thread pinned to CPU 0: item stage time and GFLOP/s, the core's f32 and
# int8 peaks, and the item stage's fraction of each (docs/PERFORMANCE.md).
# Usage: bench/peak_rounds.sh EDGEMTL_BENCH DIR [ROUNDS]
#   DIR holds mmoe.emtl, ple.emtl, mmoe.int8.emtl, ple.int8.emtl (bench/README.md).
set -euo pipefail
bench="$1" dir="$2" rounds="${3:-5}"
echo "round file item_ms item_gflops f32_peak_gflops int8_peak_gops item/f32_peak item/int8_peak item/xnnpack_gemm"
for round in $(seq "$rounds"); do
  for file in mmoe ple mmoe.int8 ple.int8; do
    taskset -c 0 "$bench" "$dir/$file.emtl" --peak --min-seconds 1 --json | /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)
print($round, '$file', round(d['item_stage_p50_ms'], 3), round(d['item_stage_gflops'], 1), d['peak_f32_gflops'],
      d['peak_int8_gops'], round(d['item_f32_peak_fraction'], 3), round(d['item_int8_peak_fraction'], 3),
      round(d['roofline_ratio'], 3))"
  done
done
