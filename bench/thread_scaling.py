#!/usr/bin/python3
"""Thread scaling of edgemtl (f32, int8) and ONNX Runtime (f32) on the R500 and
R2000 workloads: 1 and 2 threads, on an idle machine and with one competing
CPU-bound process (a "hog", as another app on a phone), measured in
interleaved rounds (every engine and setting once per round, order rotating).

    /usr/bin/python3 bench/thread_scaling.py [--build build] [--rounds 5] [--items 500,2000]
                                             [--workloads mmoe,ple] [--threads 2] [--models DIR]

Needs the files bench/compare.py prepares (bench/build/<w>.emtl, .int8.emtl,
.onnx, .json). Prints a markdown table: per setting the median over rounds of
each process's p50 and p99 request latency, and the ratios of 2 threads to 1
thread (speed-up: 1-thread p50 / n-thread p50; with the hog, its p99 against
the 1-thread p50 without the hog and against the 1-thread p99 with the hog:
the "no request over twice its 1-thread time" bound, both ways of reading it).
"""
import argparse
import os
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402  (engine names, run_json, machine)


def run(args, engine, workload, items, threads):
    runs = str(max(15, int(10000 / items)))
    if engine == compare.ORT:
        return compare.run_json(["node", os.path.join(HERE, "ort", "run_ort.js"),
                                 os.path.join(compare.WORK, f"{workload}.onnx"),
                                 os.path.join(compare.WORK, f"{workload}.json"), "--items", str(items),
                                 "--threads", str(threads), "--warmup", "5", "--runs", runs])
    model = os.path.join(args.models, f"{workload}.emtl" if engine == compare.EDGEMTL_F32 else f"{workload}.int8.emtl")
    return compare.run_json([os.path.join(args.build, "tools", "edgemtl-bench"), model, "--items", str(items),
                             "--threads", str(threads), "--warmup", "5", "--runs", runs, "--json", "--no-roofline"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(compare.ROOT, "build"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", default="500,2000")
    parser.add_argument("--workloads", default="mmoe,ple")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default=compare.WORK, help="where <w>.emtl and <w>.int8.emtl are")
    args = parser.parse_args()
    engines = [compare.EDGEMTL_F32, compare.EDGEMTL_INT8, compare.ORT]
    sizes = [int(n) for n in args.items.split(",")]
    settings = [(t, hog) for hog in (False, True) for t in (1, args.threads)]
    load_start = os.getloadavg()[0]
    results = {}
    for round_index in range(args.rounds):
        for hog in (False, True):
            hog_process = subprocess.Popen(["sh", "-c", "while :; do :; done"]) if hog else None
            try:
                cases = [(w, n, e, t) for w in args.workloads.split(",") for n in sizes for e in engines
                         for t in (1, args.threads)]
                shift = round_index % len(cases)
                for w, n, e, t in cases[shift:] + cases[:shift]:
                    report = run(args, e, w, n, t)
                    results.setdefault((w, n, e, t, hog), []).append(report)
                    print(f"round {round_index + 1} {w} {n} {e} threads {t} hog {hog}: p50 {report['p50_ms']:.3f} "
                          f"p99 {report['p99_ms']:.3f} ms", file=sys.stderr, flush=True)
            finally:
                if hog_process:
                    hog_process.kill()
                    hog_process.wait()

    def med(key, field):
        values = [r[field] for r in results.get(key, [])]
        return statistics.median(values) if values else float("nan")

    print(f"{compare.machine()}; {args.rounds} interleaved rounds; load average {load_start:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end. Command: `/usr/bin/python3 bench/thread_scaling.py "
          f"--rounds {args.rounds} --items {args.items}`.\n")
    print(f"| workload | engine | 1 thread p50 | {args.threads} threads p50 | speed-up | 1 thread + hog p50 / p99 | "
          f"{args.threads} threads + hog p50 / p99 | speed-up with hog | hog p99 / idle 1-thread p50 | "
          f"hog p99 / 1-thread hog p99 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in args.workloads.split(","):
        for n in sizes:
            for e in engines:
                one, many = med((w, n, e, 1, False), "p50_ms"), med((w, n, e, args.threads, False), "p50_ms")
                one_hog, one_hog_p99 = med((w, n, e, 1, True), "p50_ms"), med((w, n, e, 1, True), "p99_ms")
                many_hog, many_hog_p99 = (med((w, n, e, args.threads, True), "p50_ms"),
                                          med((w, n, e, args.threads, True), "p99_ms"))
                print(f"| {compare.TITLES[w].format(n=n)} | {e} | {one:.2f} | {many:.2f} | {one / many:.2f}× | "
                      f"{one_hog:.2f} / {one_hog_p99:.2f} | {many_hog:.2f} / {many_hog_p99:.2f} | "
                      f"{one_hog / many_hog:.2f}× | {many_hog_p99 / one:.2f}× | {many_hog_p99 / one_hog_p99:.2f}× |")


if __name__ == "__main__":
    main()
