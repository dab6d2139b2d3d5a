#!/usr/bin/env python3
"""PyTorch side of the side-by-side benchmark: the workload's own nn.Module
(bench/workloads.py, weights from <name>.pt) in eval mode under torch.no_grad(),
on the same kind of requests (one user repeated on every item row, N items).

    /usr/bin/python3 bench/run_torch.py bench/build/mmoe.pt [--items N] [--threads T]
                                        [--warmup K] [--runs R] [--seed S]

Prints one JSON object with load_ms, first_ms, min/p50/p90/p99_ms, items_per_s, peak_rss_kb.
"""
import argparse
import json
import os
import resource
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import workloads  # noqa: E402


def request(items, generator):
    """Item features drawn per row; the user's features drawn once and repeated on every row."""
    user = workloads.example_inputs(1, generator)
    item = workloads.example_inputs(items, generator)
    return [u.expand(items, *u.shape[1:]).contiguous() if side == "user" else i
            for (_, side, _, _, _), u, i in zip(workloads.feature_specs(), user, item)]


def percentile(values, p):
    ordered = sorted(values)
    index = max(0, -(-len(ordered) * p // 100) - (1 if p > 0 else 0))
    return ordered[min(int(index), len(ordered) - 1)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("weights")
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    name = os.path.splitext(os.path.basename(args.weights))[0]

    start = time.perf_counter()
    model = workloads.build(name)
    model.load_state_dict(torch.load(args.weights))
    model.eval()
    load_ms = (time.perf_counter() - start) * 1000

    generator = torch.Generator().manual_seed(args.seed)
    pool = [request(args.items, generator) for _ in range(8)]

    def run(r):
        t0 = time.perf_counter()
        with torch.no_grad():
            scores = model(*pool[r % len(pool)])
        elapsed = (time.perf_counter() - t0) * 1000
        assert scores.shape == (args.items, len(workloads.TASKS))
        return elapsed

    first_ms = run(0)
    for r in range(args.warmup):
        run(r + 1)
    times = [run(r) for r in range(args.runs)]
    p50 = percentile(times, 50)
    print(json.dumps({
        "engine": "pytorch", "version": torch.__version__, "items": args.items, "threads": args.threads,
        "runs": len(times), "load_ms": load_ms, "first_ms": first_ms, "min_ms": min(times), "p50_ms": p50,
        "p90_ms": percentile(times, 90), "p99_ms": percentile(times, 99), "items_per_s": args.items / (p50 / 1000),
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
