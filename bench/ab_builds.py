#!/usr/bin/env python3
"""Two builds of edgemtl-bench side by side, interleaved (A B, then B A), on the same model files.

Reports the CPU time (user + sys) per request of each, measured as the difference between a run of
R requests and a run of 1 (so loading and session creation cancel out), and the median over rounds of
the within-round ratio A/B. CPU time, not wall time, because it holds up better on a shared machine;
state the CPU (lscpu) next to any figure. For refactors that promise "the same speed":

  python3 bench/ab_builds.py --a OLD/tools/edgemtl-bench --b NEW/tools/edgemtl-bench \
      --models bench/build --rounds 5

For a change of the converter too, give B its own files (--models-b, converted by B's edgemtl-convert
with the same flags), and time what the runtime does rather than the process: --item-stage reports
each run's item-stage p50 (edgemtl-bench --json, --min-seconds 0.6) instead of CPU time, with every
process pinned to --cpu.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess

MODELS = {"mmoe.emtl": 300, "mmoe.int8.emtl": 600, "ple.emtl": 200, "ple.int8.emtl": 400}


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(bench, model, runs, items):
    start = cpu_seconds()
    subprocess.run([bench, model, "--items", str(items), "--warmup", "1", "--runs", str(runs), "--no-roofline",
                    "--json"], capture_output=True, check=True)
    return cpu_seconds() - start


def cpu_ms_per_request(bench, model, runs, items):
    return (run(bench, model, runs, items) - run(bench, model, 1, items)) / (runs - 1) * 1000.0


def item_stage_ms(bench, model, items, cpu):
    out = subprocess.run(["taskset", "-c", str(cpu), bench, model, "--items", str(items), "--no-roofline",
                          "--min-seconds", "0.6", "--json"], capture_output=True, check=True, text=True).stdout
    return json.loads(out)["item_stage_p50_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="edgemtl-bench of build A")
    parser.add_argument("--b", required=True, help="edgemtl-bench of build B")
    parser.add_argument("--models", required=True, help="folder with mmoe/ple .emtl and .int8.emtl (bench/compare.py writes them)")
    parser.add_argument("--models-b", help="B's own files (default: --models)")
    parser.add_argument("--item-stage", action="store_true", help="item-stage p50 per run instead of CPU time")
    parser.add_argument("--cpu", type=int, default=1, help="with --item-stage, the CPU every process is pinned to")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--json", help="write the per-round figures here")
    args = parser.parse_args()
    benches = {"A": args.a, "B": args.b}
    results = {}
    folders = {"A": args.models, "B": args.models_b or args.models}
    for model, runs in MODELS.items():
        paths = {name: os.path.join(folder, model) for name, folder in folders.items()}
        if not all(os.path.exists(path) for path in paths.values()):
            continue
        per_request = {"A": [], "B": []}
        for r in range(args.rounds):
            for name in (("A", "B") if r % 2 == 0 else ("B", "A")):
                if args.item_stage:
                    per_request[name].append(item_stage_ms(benches[name], paths[name], args.items, args.cpu))
                else:
                    per_request[name].append(cpu_ms_per_request(benches[name], paths[name], runs, args.items))
        ratios = [a / b for a, b in zip(per_request["A"], per_request["B"])]
        results[model] = {"A_ms": per_request["A"], "B_ms": per_request["B"], "A_over_B": ratios}
        print(f"{model:16s} A {statistics.median(per_request['A']):7.3f} ms  B {statistics.median(per_request['B']):7.3f} ms"
              f"  A/B median {statistics.median(ratios):.3f}  per round {' '.join('%.3f' % x for x in ratios)}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
