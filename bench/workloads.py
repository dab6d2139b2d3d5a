#!/usr/bin/env python3
"""The reference workloads of the side-by-side benchmark (R500-MMoE, R500-PLE).

    /usr/bin/python3 bench/workloads.py [--out bench/build]

writes, per workload, into --out (never committed; the files are ~25 MB each):
    <name>.onnx   the PyTorch model exported to ONNX (opset 13, dynamic batch)
    <name>.pt     its state dict, for the PyTorch side (bench/run_torch.py)
    <name>.json   the feature specs, tasks, the user-side inputs and the FLOP count
    <name>.calibration.jsonl  16 requests (edgemtl-run format) for int8 calibration

Random weights (PyTorch's default initialisation, torch.manual_seed), no training:
the benchmark measures speed, not quality. Deterministic: the same seed gives the
same bytes. Shared by run_torch.py, which rebuilds the modules from this file.

Inputs (every ONNX input is one feature, embeddings 16 wide):
    user: u_id (100,000 rows), u_f1..u_f10 (1,000 rows each), u_history
          [50] ids of the item table (padding 0), masked mean; u_dense [4]
    item: i_id (200,000 rows), i_f1..i_f6 (1,000 rows each), i_dense [2]
MMoE: 8 experts [256, 128] (ReLU), 3 softmax gates, 3 towers [64, 32] + 1, sigmoid.
PLE: 2 levels, per level 2 experts per task and 2 shared experts, [256, 128];
     gates mix with a softmax-weighted sum; the same towers.
"""
import argparse
import json
import os
import sys
import warnings

import torch
import torch.nn as nn

sys.dont_write_bytecode = True

EMBEDDING_DIM = 16
HISTORY_LEN = 50
PADDING_ID = 0
TASKS = ["ctr", "cvr", "like"]
EXPERT_DIMS = [256, 128]
TOWER_DIMS = [64, 32]
SEED = 2026
OPSET = 13


def feature_specs():
    """(name, side, kind, table, width) in ONNX input order; the history reads the item table."""
    specs = [("u_id", "user", "id", 100_000, 1)]
    specs += [(f"u_f{i}", "user", "id", 1_000, 1) for i in range(1, 11)]
    specs += [("u_history", "user", "id_list", 200_000, HISTORY_LEN), ("u_dense", "user", "dense", None, 4)]
    specs += [("i_id", "item", "id", 200_000, 1)]
    specs += [(f"i_f{i}", "item", "id", 1_000, 1) for i in range(1, 7)]
    specs += [("i_dense", "item", "dense", None, 2)]
    return specs


def mlp(input_dim, dims):
    layers = []
    for dim in dims:
        layers += [nn.Linear(input_dim, dim), nn.ReLU()]
        input_dim = dim
    return nn.Sequential(*layers)


class Tower(nn.Module):
    def __init__(self, input_dim):
        super().__init__()
        self.body = mlp(input_dim, TOWER_DIMS)
        self.head = nn.Linear(TOWER_DIMS[-1], 1)

    def forward(self, x):
        return torch.sigmoid(self.head(self.body(x)))


class Encoder(nn.Module):
    """ids -> embeddings, history -> masked mean over the item table, dense as is; concatenated."""

    def __init__(self):
        super().__init__()
        self.specs = feature_specs()
        self.tables = nn.ModuleDict()
        for name, _, kind, table, _ in self.specs:
            if kind == "id":
                padding = PADDING_ID if name == "i_id" else None  # the history pads with 0
                self.tables[name] = nn.Embedding(table, EMBEDDING_DIM, padding_idx=padding)
        self.output_dim = sum(EMBEDDING_DIM if kind != "dense" else width for _, _, kind, _, width in self.specs)

    def forward(self, inputs):
        pieces = []
        for (name, _, kind, _, _), x in zip(self.specs, inputs):
            if kind == "id":
                pieces.append(self.tables[name](x))
            elif kind == "id_list":
                mask = (x != PADDING_ID).float()
                summed = (self.tables["i_id"](x) * mask.unsqueeze(-1)).sum(1)
                pieces.append(summed / mask.sum(1, keepdim=True).clamp(min=1.0))
            else:
                pieces.append(x)
        return torch.cat(pieces, 1)


def mix(gate_logits, experts):
    weights = torch.softmax(gate_logits, dim=1)
    return (weights.unsqueeze(-1) * torch.stack(experts, dim=1)).sum(1)


class MMoE(nn.Module):
    def __init__(self, num_experts=8):
        super().__init__()
        self.encoder = Encoder()
        d = self.encoder.output_dim
        self.experts = nn.ModuleList(mlp(d, EXPERT_DIMS) for _ in range(num_experts))
        self.gates = nn.ModuleList(nn.Linear(d, num_experts) for _ in TASKS)
        self.towers = nn.ModuleList(Tower(EXPERT_DIMS[-1]) for _ in TASKS)

    def forward(self, *inputs):
        x = self.encoder(inputs)
        experts = [e(x) for e in self.experts]
        return torch.cat([t(mix(g(x), experts)) for g, t in zip(self.gates, self.towers)], 1)


class PLE(nn.Module):
    def __init__(self, levels=2, specific=2, shared=2):
        super().__init__()
        self.encoder = Encoder()
        self.levels, self.specific, self.shared_count = levels, specific, shared
        tasks = len(TASKS)
        self.level_modules = nn.ModuleList()
        d = self.encoder.output_dim
        for level in range(levels):
            m = nn.Module()
            m.specific = nn.ModuleList(mlp(d, EXPERT_DIMS) for _ in range(tasks * specific))
            m.shared = nn.ModuleList(mlp(d, EXPERT_DIMS) for _ in range(shared))
            m.task_gates = nn.ModuleList(nn.Linear(d, specific + shared) for _ in range(tasks))
            if level < levels - 1:
                m.shared_gate = nn.Linear(d, tasks * specific + shared)
            self.level_modules.append(m)
            d = EXPERT_DIMS[-1]
        self.towers = nn.ModuleList(Tower(d) for _ in TASKS)

    def forward(self, *inputs):
        x = self.encoder(inputs)
        task_inputs, shared_input = [x] * len(TASKS), x
        for level, m in enumerate(self.level_modules):
            shared = [e(shared_input) for e in m.shared]
            outputs, all_specific = [], []
            for t in range(len(TASKS)):
                own = [e(task_inputs[t]) for e in m.specific[t * self.specific:(t + 1) * self.specific]]
                all_specific += own
                outputs.append(mix(m.task_gates[t](task_inputs[t]), own + shared))
            if level < self.levels - 1:
                shared_input = mix(m.shared_gate(shared_input), all_specific + shared)
            task_inputs = outputs
        return torch.cat([tower(h) for tower, h in zip(self.towers, task_inputs)], 1)


WORKLOADS = {"mmoe": MMoE, "ple": PLE}


def build(name):
    """The workload's module with its deterministic random weights, in eval mode."""
    torch.manual_seed(SEED)
    model = WORKLOADS[name]()
    model.eval()
    return model


def example_inputs(n, generator):
    """n rows of inputs following the feature specs (history: random length, then padding)."""
    inputs = []
    for _, _, kind, table, width in feature_specs():
        if kind == "id":
            inputs.append(torch.randint(0, table, (n,), generator=generator))
        elif kind == "id_list":
            ids = torch.randint(1, table, (n, width), generator=generator)
            lengths = torch.randint(0, width + 1, (n, 1), generator=generator)
            inputs.append(torch.where(torch.arange(width)[None, :] < lengths, ids, torch.zeros_like(ids)))
        else:
            inputs.append(torch.randn(n, width, generator=generator))
    return inputs


def calibration_requests(count, items, generator):
    """edgemtl-run requests: {"user": {feature: value}, "items": [{feature: value}, ...]}."""
    specs = feature_specs()
    requests = []
    for _ in range(count):
        user = example_inputs(1, generator)
        rows = example_inputs(items, generator)
        request = {"user": {}, "items": [{} for _ in range(items)]}
        for (name, side, _, _, _), u, i in zip(specs, user, rows):
            if side == "user":
                request["user"][name] = u[0].tolist()
            else:
                for r in range(items):
                    request["items"][r][name] = i[r].tolist()
        requests.append(request)
    return requests


def linear_flops_per_row(model):
    """2 * in * out summed over every Linear: the dense work per item without a user cache."""
    return sum(2 * m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "build"))
    parser.add_argument("--only", choices=sorted(WORKLOADS), help="one workload only")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")  # the exporter's shape-inference chatter
    for name in sorted(WORKLOADS) if args.only is None else [args.only]:
        model = build(name)
        specs = feature_specs()
        input_names = [s[0] for s in specs]
        generator = torch.Generator().manual_seed(SEED)
        inputs = example_inputs(4, generator)
        onnx_path = os.path.join(args.out, f"{name}.onnx")
        with torch.no_grad():
            torch.onnx.export(model, tuple(inputs), onnx_path, input_names=input_names, output_names=["scores"],
                              dynamic_axes={n: {0: "batch"} for n in input_names + ["scores"]},
                              opset_version=OPSET, do_constant_folding=True)
        torch.save(model.state_dict(), os.path.join(args.out, f"{name}.pt"))
        with open(os.path.join(args.out, f"{name}.calibration.jsonl"), "w") as out:
            for request in calibration_requests(16, 32, generator):
                out.write(json.dumps(request) + "\n")
        meta = {
            "name": name,
            "features": [{"name": n, "side": side, "kind": kind, "table": table, "width": width}
                         for n, side, kind, table, width in specs],
            "user_inputs": [s[0] for s in specs if s[1] == "user"],
            "tasks": ",".join(f"{t}:prob" for t in TASKS),
            "dense_flops_per_item": linear_flops_per_row(model),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        with open(os.path.join(args.out, f"{name}.json"), "w") as out:
            json.dump(meta, out, indent=2)
            out.write("\n")
        print(f"{name}: {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.1f} MB), "
              f"{meta['parameters']:,} parameters, {meta['dense_flops_per_item']:,} dense FLOP per item")


if __name__ == "__main__":
    main()
