#!/usr/bin/env python3
"""Side by side: edgemtl, ONNX Runtime and PyTorch on the reference workloads.

    /usr/bin/python3 bench/compare.py [--build build-bench] [--threads 1] [--rounds 5]
                                      [--items 50,500,2000] [--workloads mmoe,ple]

Needs: edgemtl built (edgemtl-convert, edgemtl-bench in --build), the ONNX
Runtime side installed once (cd bench/ort && npm ci --ignore-scripts), Debian's
PyTorch and matplotlib (/usr/bin/python3).

1. Generates the workloads (bench/workloads.py, into bench/build/) if missing
   and converts them: split (--user-inputs, the normal use), unsplit (no user
   cache: every feature on the item side, the user's values repeated per row,
   the same work ONNX Runtime does), and fp16 / int8 when the converter has
   --quantize. ONNX Runtime's int8 model is the ONNX file quantised
   dynamically by bench/quantize_dynamic.py (as ONNX Runtime's quantize_dynamic
   does); its ranking fidelity against the f32 file is measured once.
2. Runs every engine on every workload and candidate count, one engine
   process at a time, in rounds; within a round the engines' order rotates.
   Each process reports its median request latency; a latency cell is the
   median over rounds, and a ratio is the median over rounds of the ratio
   within the round (engines measured seconds apart), so a busy neighbour on
   this shared machine disturbs a ratio less than it disturbs a latency.
3. Writes docs/bench_results.md (tables, ratios, targets), docs/bench_results.json
   (every raw measurement) and docs/bench_chart.png.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "build")
DOCS = os.path.join(ROOT, "docs")
PYTHON = "/usr/bin/python3"

EDGEMTL_F32 = "edgemtl f32"
EDGEMTL_NO_CACHE = "edgemtl f32 (no user cache)"
EDGEMTL_FP16 = "edgemtl fp16"
EDGEMTL_INT8 = "edgemtl int8"
ORT = "ONNX Runtime 1.30"
ORT_INT8 = "ONNX Runtime 1.30 int8 (dynamic)"
TORCH = "PyTorch 1.13 (Debian)"
ENGINES = [EDGEMTL_F32, EDGEMTL_NO_CACHE, EDGEMTL_FP16, EDGEMTL_INT8, ORT, ORT_INT8, TORCH]
TITLES = {"mmoe": "R{n}-MMoE", "ple": "R{n}-PLE"}


def log(message):
    print(message, file=sys.stderr, flush=True)


def run_json(command, cpu=None):
    """Runs command (pinned to CPU `cpu` unless None) and returns the JSON of its last line."""
    pin = None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))
    result = subprocess.run(command, capture_output=True, text=True, preexec_fn=pin)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def prepare(args, workloads):
    """Generates and converts the workloads; returns {(workload, engine): model path} and notes."""
    missing = [w for w in workloads if not os.path.exists(os.path.join(WORK, f"{w}.onnx"))]
    if missing:
        subprocess.run([PYTHON, os.path.join(HERE, "workloads.py")], check=True)
    convert = os.path.join(args.build, "converter", "edgemtl-convert")
    help_text = subprocess.run([convert, "--help"], capture_output=True, text=True).stdout
    models, notes = {}, {}
    for w in workloads:
        meta = json.load(open(os.path.join(WORK, f"{w}.json")))
        onnx = os.path.join(WORK, f"{w}.onnx")
        base = [convert, onnx, "--tasks", meta["tasks"]]
        users = ["--user-inputs", ",".join(meta["user_inputs"])]
        variants = {EDGEMTL_F32: (f"{w}.emtl", users), EDGEMTL_NO_CACHE: (f"{w}.nocache.emtl", [])}
        if "--quantize" in help_text:
            calibration = os.path.join(WORK, f"{w}.calibration.jsonl")
            variants[EDGEMTL_FP16] = (f"{w}.fp16.emtl", users + ["--quantize", "fp16"])
            variants[EDGEMTL_INT8] = (f"{w}.int8.emtl", users + ["--quantize", "int8", "--calibration", calibration])
        else:
            for engine in (EDGEMTL_FP16, EDGEMTL_INT8):
                notes[engine] = "not measured: this edgemtl-convert has no --quantize (quantisation issue)"
        for engine, (file, extra) in variants.items():
            path = os.path.join(WORK, file)
            result = subprocess.run(base + ["-o", path] + extra, capture_output=True, text=True)
            if result.returncode != 0:
                notes[engine] = "conversion failed: " + result.stderr.strip().splitlines()[-1][:200]
                log(f"{engine} {w}: {notes[engine]}")
                continue
            models[(w, engine)] = path
        ort_int8 = os.path.join(WORK, f"{w}.ort-int8.onnx")
        subprocess.run([PYTHON, os.path.join(HERE, "quantize_dynamic.py"), onnx, ort_int8], check=True)
        models[(w, ORT_INT8)] = ort_int8
        quality = run_json(["node", os.path.join(HERE, "ort", "run_ort.js"), ort_int8, os.path.join(WORK, f"{w}.json"),
                            "--items", "500", "--runs", "1", "--warmup", "0", "--reference", onnx])["fidelity"]
        summary = "; ".join(
            f"task {t}: Pearson {m['pearson']['median']:.3f}, Spearman {m['spearman']['median']:.3f}, "
            f"top-10 {m['top10']['median']:.2f}, top-50 {m['top50']['median']:.2f}" for t, m in enumerate(quality["tasks"]))
        notes[f"{ORT_INT8} on {w}"] = (f"ranking fidelity against the f32 ONNX file (medians over {quality['requests']} "
                                        f"requests of 500 candidates) {summary}")
    return models, notes


def measure(args, engine, workload, items, model):
    """One engine process; returns its JSON report."""
    threads = str(args.threads)
    cpu = pinned_cpu(args)
    if engine == TORCH:
        runs, warmup = args.torch_runs, "1"
    else:
        runs, warmup = max(args.min_runs, int(args.request_budget / items)), "5"
    runs = str(runs)
    if engine in (ORT, ORT_INT8):
        onnx = model if engine == ORT_INT8 else os.path.join(WORK, f"{workload}.onnx")
        return run_json(["node", os.path.join(HERE, "ort", "run_ort.js"), onnx,
                         os.path.join(WORK, f"{workload}.json"), "--items", str(items), "--threads", threads,
                         "--warmup", warmup, "--runs", runs], cpu)
    if engine == TORCH:
        return run_json([PYTHON, os.path.join(HERE, "run_torch.py"), os.path.join(WORK, f"{workload}.pt"),
                         "--items", str(items), "--threads", threads, "--warmup", warmup, "--runs", runs], cpu)
    command = [os.path.join(args.build, "tools", "edgemtl-bench"), model, "--items", str(items), "--threads", threads,
               "--warmup", warmup, "--runs", runs, "--json"]
    if engine == EDGEMTL_NO_CACHE:
        command.append("--no-roofline")  # its item stage is not the one the roofline is about
    if engine in (EDGEMTL_F32, EDGEMTL_INT8) and items == 500:
        command.append("--peak")  # the core's f32 FMA and int8 peak, measured in the same process
    return run_json(command, cpu)


def pinned_cpu(args):
    """The CPU every engine process is pinned to (one thread: as issue 15's measurements), or None."""
    if args.threads != 1 or args.cpu < 0:
        return None
    return args.cpu if args.cpu < os.cpu_count() else os.cpu_count() - 1


def median_of(reports, key):
    values = [r[key] for r in reports if key in r]
    return statistics.median(values) if values else None


def machine():
    model = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{model}, {os.cpu_count()} cores, Linux {platform.release()}, {platform.machine()}"


def write_outputs(args, workloads, sizes, engines, results, notes, meta, started, loads):
    os.makedirs(DOCS, exist_ok=True)
    cell = {}
    for key, reports in results.items():
        cell[key] = {k: median_of(reports, k) for k in
                     ("p50_ms", "min_ms", "p90_ms", "load_ms", "first_ms", "peak_rss_kb", "items_per_s",
                      "user_stage_p50_ms", "item_stage_p50_ms", "item_stage_gflops", "roofline_gflops",
                      "roofline_ratio", "user_stage_flops", "item_stage_flops", "model_bytes", "arena_bytes",
                      "peak_f32_gflops", "peak_int8_gops", "item_f32_peak_fraction", "item_int8_peak_fraction")}
    raw = {"machine": machine(), "started": started, "threads": args.threads, "cpu": pinned_cpu(args),
           "rounds": args.rounds,
           "torch_rounds": args.torch_rounds,
           "load_average": loads, "notes": notes,
           "results": [{"workload": w, "items": n, "engine": e, "reports": r} for (w, n, e), r in results.items()]}
    with open(os.path.join(DOCS, "bench_results.json"), "w") as out:
        json.dump(raw, out, indent=1)
        out.write("\n")

    def ms(w, n, e):
        c = cell.get((w, n, e))
        return None if c is None else c["p50_ms"]

    def ratio(w, n, slow, fast, key="p50_ms"):
        """Median over rounds of slow / fast within a round."""
        pairs = zip(results.get((w, n, slow), []), results.get((w, n, fast), []))
        values = [a[key] / b[key] for a, b in pairs if b[key] > 0]
        return statistics.median(values) if values else None

    cpu = pinned_cpu(args)
    pinned = "" if cpu is None else f", every engine process pinned to CPU {cpu}"
    lines = [f"# Benchmark results", "",
             f"Generated by `bench/compare.py` on {started} (UTC): {machine()}; {args.threads} thread(s){pinned}; "
             f"{args.rounds} interleaved rounds (PyTorch: the first {min(args.torch_rounds, args.rounds)}), each cell the median over rounds of a process's median request "
             f"latency (one user + N candidates). Load average {loads[0]} at the start, {loads[1]} at the end "
             f"(a shared machine: compare ratios, measured side by side). Method and commands: "
             f"[PERFORMANCE.md](PERFORMANCE.md).", ""]
    lines += ["## Latency per request (ms, median)", ""]
    header = ("| workload | " + " | ".join(engines) +
              " | ORT / edgemtl f32 | PyTorch / edgemtl f32 | ORT / edgemtl f32, fastest requests "
              "| ORT / edgemtl int8 | ORT / edgemtl int8, fastest requests | ORT int8 / edgemtl int8 |")
    lines += [header, "|" + "---|" * (len(engines) + 7)]
    for w in workloads:
        for n in sizes:
            row = [TITLES[w].format(n=n)]
            for e in engines:
                value = ms(w, n, e)
                row.append("—" if value is None else f"{value:.2f}")
            for value in (ratio(w, n, ORT, EDGEMTL_F32), ratio(w, n, TORCH, EDGEMTL_F32),
                          ratio(w, n, ORT, EDGEMTL_F32, "min_ms"), ratio(w, n, ORT, EDGEMTL_INT8),
                          ratio(w, n, ORT, EDGEMTL_INT8, "min_ms"), ratio(w, n, ORT_INT8, EDGEMTL_INT8)):
                row.append("—" if value is None else f"{value:.2f}×")
            lines.append("| " + " | ".join(row) + " |")
    lines.append("\nRatios: median over rounds of the ratio within a round. The last column compares the engines' "
                 "fastest requests (per-process minimum), the ones least disturbed by neighbours on this shared "
                 "machine.")
    for engine, note in notes.items():
        lines.append(f"\n{engine}: {note}.")
    lines += ["", "## edgemtl f32: stages, roofline, memory", "",
              "| workload | user stage ms | item stage ms | item MFLOP | item GFLOP/s | XNNPACK FC GEMM GFLOP/s "
              "| item / GEMM | load ms | first request ms | arena KB | peak RSS KB |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for w in workloads:
        for n in sizes:
            c = cell.get((w, n, EDGEMTL_F32))
            if not c:
                continue
            lines.append(f"| {TITLES[w].format(n=n)} | {c['user_stage_p50_ms']:.3f} | {c['item_stage_p50_ms']:.3f} | "
                         f"{c['item_stage_flops'] / 1e6:.1f} | {c['item_stage_gflops']:.1f} | {c['roofline_gflops']:.1f} | "
                         f"{100 * c['roofline_ratio']:.0f}% | {c['load_ms']:.3f} | {c['first_ms']:.2f} | "
                         f"{c['arena_bytes'] / 1024:.0f} | {c['peak_rss_kb']:.0f} |")
    lines += ["", "## Work per request (FLOP = 2 × multiply-adds of the dense layers)", "",
              "| workload | without user cache (ONNX Runtime, PyTorch) | edgemtl: user stage + item stage | ratio |",
              "|---|---|---|---|"]
    for w in workloads:
        for n in sizes:
            c = cell.get((w, n, EDGEMTL_F32))
            if not c:
                continue
            full = meta[w]["dense_flops_per_item"] * n
            split = c["user_stage_flops"] + c["item_stage_flops"]
            lines.append(f"| {TITLES[w].format(n=n)} | {full / 1e6:.1f} MFLOP | {split / 1e6:.1f} MFLOP | "
                         f"{full / split:.2f}× |")
    lines += ["", "## The core's peak (R500, measured in the edgemtl process: `edgemtl-bench --peak`)", "",
              "| workload | engine | item stage | core peak | fraction |", "|---|---|---|---|---|"]
    for w in workloads:
        for engine, rate, peak, fraction, unit in (
                (EDGEMTL_F32, "item_stage_gflops", "peak_f32_gflops", "item_f32_peak_fraction", "GFLOP/s"),
                (EDGEMTL_INT8, "item_stage_gflops", "peak_int8_gops", "item_int8_peak_fraction", "GOP/s")):
            c = cell.get((w, 500, engine))
            if c and c.get(fraction) is not None:
                lines.append(f"| {TITLES[w].format(n=500)} | {engine} | {c[rate]:.1f} {unit} | {c[peak]:.1f} {unit} | "
                             f"{100 * c[fraction]:.0f}% |")
    lines += ["", "## Targets (single thread, R500)", ""]
    if args.threads == 1 and 500 in sizes:
        for w in workloads:
            # Issue 15's targets: f32 >= 2.2x (MMoE) / 1.7x (PLE) ONNX Runtime f32; int8 >= 6x ONNX Runtime f32
            # and >= 3.5x ONNX Runtime's dynamically quantised int8 model.
            for engine, reference, target in ((EDGEMTL_F32, ORT, 2.2 if w == "mmoe" else 1.7), (EDGEMTL_INT8, ORT, 6.0),
                                              (EDGEMTL_INT8, ORT_INT8, 3.5)):
                median_ratio, fastest_ratio = ratio(w, 500, reference, engine), ratio(w, 500, reference, engine, "min_ms")
                if median_ratio is None:
                    lines.append(f"- {TITLES[w].format(n=500)}: {engine} vs ONNX Runtime: not measured here.")
                    continue
                verdict = ("met" if min(median_ratio, fastest_ratio) >= target else
                           "NOT met" if max(median_ratio, fastest_ratio) < target else "borderline")
                lines.append(f"- {TITLES[w].format(n=500)}: {engine} {median_ratio:.2f}× faster than {reference} "
                             f"(fastest requests {fastest_ratio:.2f}×; target {target}×): {verdict}.")
            for engine, fraction, target in ((EDGEMTL_F32, "item_f32_peak_fraction", 0.85),
                                             (EDGEMTL_INT8, "item_int8_peak_fraction", 0.70)):
                c = cell.get((w, 500, engine))
                if c and c.get(fraction) is not None:
                    lines.append(f"- {TITLES[w].format(n=500)}: {engine} item stage at {100 * c[fraction]:.0f}% of the "
                                 f"core's peak (target {100 * target:.0f}%): "
                                 f"{'met' if c[fraction] >= target else 'NOT met'}.")
            c = cell.get((w, 500, EDGEMTL_F32))
            if c:
                lines.append(f"- {TITLES[w].format(n=500)}: item stage at {100 * c['roofline_ratio']:.0f}% of XNNPACK's "
                             f"FC GFLOP/s (target 60%): {'met' if c['roofline_ratio'] >= 0.6 else 'NOT met'}.")
            for engine in (EDGEMTL_F32, EDGEMTL_INT8):  # issue 15: load under 1 ms for both
                c = cell.get((w, 500, engine))
                if c:
                    lines.append(f"- {TITLES[w].format(n=500)}: {engine} loads in {c['load_ms']:.3f} ms for "
                                 f"{c['model_bytes'] / 1e6:.1f} MB (target < 1 ms): "
                                 f"{'met' if c['load_ms'] < 1 else 'NOT met'}.")
    else:
        lines.append("Targets are defined for 1 thread and 500 candidates; see a `--threads 1` run.")
    with open(os.path.join(DOCS, "bench_results.md"), "w") as out:
        out.write("\n".join(lines) + "\n")

    # Chart: items per second (log scale) per workload and candidate count.
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    measured = [e for e in engines if any((w, n, e) in cell for w in workloads for n in sizes)]
    groups = [(w, n) for w in workloads for n in sizes]
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / max(1, len(measured))
    for k, e in enumerate(measured):
        values = [cell[(w, n, e)]["items_per_s"] if (w, n, e) in cell else 0 for w, n in groups]
        ax.bar([g + k * width for g in range(len(groups))], values, width, label=e)
    ax.set_xticks([g + width * (len(measured) - 1) / 2 for g in range(len(groups))])
    ax.set_xticklabels([TITLES[w].format(n=n) for w, n in groups])
    ax.set_yscale("log")
    ax.set_ylabel("candidates scored per second (log)")
    ax.set_title(f"One user + N candidates, {args.threads} thread(s), median over {args.rounds} rounds "
                 f"(PyTorch {min(args.torch_rounds, args.rounds)}) "
                 f"({machine().split(',')[0]})", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(measured))
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(DOCS, "bench_chart.png"), dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cpu", type=int, default=1,
                        help="with --threads 1, pin every engine process to this CPU (-1: not pinned)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", default="50,500,2000")
    parser.add_argument("--workloads", default="mmoe,ple")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of: " + ", ".join(ENGINES))
    parser.add_argument("--request-budget", type=float, default=20000,
                        help="items per process for the fast engines: runs = max(--min-runs, budget / N)")
    parser.add_argument("--min-runs", type=int, default=15)
    parser.add_argument("--torch-runs", type=int, default=3)
    parser.add_argument("--torch-rounds", type=int, default=3, help="PyTorch in the first K rounds only (it is slow)")
    parser.add_argument("--replot", action="store_true",
                        help="measure nothing: rewrite the markdown and the chart from docs/bench_results.json")
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    sizes = [int(n) for n in args.items.split(",")]
    wanted = args.engines.split(",")
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")
    load_start = f"{os.getloadavg()[0]:.1f}"

    engines = [e for e in ENGINES if e in wanted]
    if args.replot:
        raw = json.load(open(os.path.join(DOCS, "bench_results.json")))
        results = {(r["workload"], r["items"], r["engine"]): r["reports"] for r in raw["results"]}
        workloads = [w for w in workloads if any(key[0] == w for key in results)]
        sizes = [n for n in sizes if any(key[1] == n for key in results)]
        args.threads, args.rounds = raw["threads"], raw["rounds"]
        args.cpu = -1 if raw.get("cpu") is None else raw["cpu"]
        args.torch_rounds = raw.get("torch_rounds", args.torch_rounds)
        meta = {w: json.load(open(os.path.join(WORK, f"{w}.json"))) for w in workloads}
        write_outputs(args, workloads, sizes, engines, results, raw["notes"], meta, raw["started"],
                      tuple(raw["load_average"]))
        return
    models, notes = prepare(args, workloads)
    meta = {w: json.load(open(os.path.join(WORK, f"{w}.json"))) for w in workloads}
    results = {}
    for round_index in range(args.rounds):
        for w in workloads:
            for n in sizes:
                order = engines[round_index % len(engines):] + engines[:round_index % len(engines)]
                for e in order:
                    model = models.get((w, e))
                    if e.startswith("edgemtl") and model is None:
                        continue
                    if e == TORCH and round_index >= args.torch_rounds:
                        continue
                    report = measure(args, e, w, n, model)
                    results.setdefault((w, n, e), []).append(report)
                    log(f"round {round_index + 1}/{args.rounds} {TITLES[w].format(n=n):12s} {e:28s} "
                        f"p50 {report['p50_ms']:9.3f} ms")
    loads = (load_start, f"{os.getloadavg()[0]:.1f}")
    write_outputs(args, workloads, sizes, engines, results, notes, meta, started, loads)
    print(open(os.path.join(DOCS, "bench_results.md")).read())


if __name__ == "__main__":
    main()
