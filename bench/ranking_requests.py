#!/usr/bin/env python3
"""Held-out ranking requests for the reference workloads (issue 16's fidelity table).

    /usr/bin/python3 bench/ranking_requests.py [--out bench/build] [--count 40] [--items 100] [--seed 16]

writes <out>/ranking.jsonl: --count requests (users) of --items candidates each, drawn
like workloads.py's calibration requests (same feature specs for both workloads) but
from another seed, so that a plan calibrated on <name>.calibration.jsonl is judged on
users it has not seen, with more than 50 candidates each (top-50 overlap needs them).
"""
import argparse
import json
import os
import sys

import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "build"))
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    generator = torch.Generator().manual_seed(args.seed)
    with open(os.path.join(args.out, "ranking.jsonl"), "w") as out:
        for request in workloads.calibration_requests(args.count, args.items, generator):
            out.write(json.dumps(request) + "\n")


if __name__ == "__main__":
    main()
