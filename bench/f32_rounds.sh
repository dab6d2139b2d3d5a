#!/usr/bin/env bash
# The runtime's own f32 fully-connected kernels vs XNNPACK's (--no-own-f32) on
# the R500 f32 files, interleaved: in every round each file runs with both, one
# after the other, one thread pinned to CPU 0, with --peak (the core's f32 FMA
# peak measured in the same process). Prints every run, then per file and
# kernel the medians over rounds of the item stage's GFLOP/s and fraction of
# the peak (p50 requests, and the fastest request of each run: the least
# disturbed on a shared machine), and the median of the within-round ratios
# own / XNNPACK
# (docs/PERFORMANCE.md, "The f32 kernels").
# Usage: bench/f32_rounds.sh EDGEMTL_BENCH DIR [ROUNDS]
#   DIR holds mmoe.emtl, mmoe.nocache.emtl, ple.emtl, ple.nocache.emtl.
set -euo pipefail
bench="$1" dir="$2" rounds="${3:-7}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for round in $(seq "$rounds"); do
  for file in mmoe mmoe.nocache ple ple.nocache; do
    for kernel in own xnnpack; do
      flag=""
      [ "$kernel" = xnnpack ] && flag="--no-own-f32"
      taskset -c 0 "$bench" "$dir/$file.emtl" $flag --peak --no-roofline --min-seconds 1 --json |
        /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)
fastest = d['item_stage_flops'] / (d['item_stage_min_ms'] * 1e6)
print($round, '$file', '$kernel', d['f32_kernel'], d['item_stage_p50_ms'], round(d['item_stage_gflops'], 2),
      d['peak_f32_gflops'], round(d['item_f32_peak_fraction'], 4), d['item_stage_min_ms'],
      round(fastest / d['peak_f32_gflops'], 4))" | tee -a "$out"
    done
  done
done
/usr/bin/python3 - "$out" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
# The peak is a property of the core: neighbours can only lower a measurement
# of it, so the fractions below use the highest peak measured in the whole run.
peak = max(float(r[6]) for r in rows)
files = list(dict.fromkeys(r[1] for r in rows))
print(f"f32 FMA peak: highest of the run {peak:.1f} GFLOP/s (median of the runs' measurements "
      f"{statistics.median(float(r[6]) for r in rows):.1f})")
print("per file and kernel, medians over rounds: item stage p50 ms, GFLOP/s, fraction of the peak; fastest request")
print("(min) ms and its fraction; own/xnnpack: median of the within-round ratios of the item stage p50")
print("file kernel isa item_ms item_gflops item/peak item_ms_min item/peak_fastest own/xnnpack")
for f in files:
    by = {k: [r for r in rows if r[1] == f and r[2] == k] for k in ("own", "xnnpack")}
    ratios = [float(x[4]) / float(o[4]) for o, x in zip(by["own"], by["xnnpack"])]
    for k, rs in by.items():
        med = lambda i: statistics.median(float(r[i]) for r in rs)
        flops = float(rs[0][5]) * float(rs[0][4]) * 1e6  # GFLOP/s x ms
        print(f, k, rs[0][3], round(med(4), 3), round(med(5), 1), round(med(5) / peak, 3), round(med(8), 3),
              round(flops / (med(8) * 1e6) / peak, 3), round(statistics.median(ratios), 3) if k == "own" else "")
PY
