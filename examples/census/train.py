#!/usr/bin/python3
"""Trains SharedBottom, OMoE, MMoE and PLE on the census task pair and exports ONNX.

Tasks (labels from preprocessing.json): income > 50K, never married. Input:
BUILD/census.npz written by preprocess.py (run it first). Each model is trained
with Adam on the train split, early-stopped on the validation split's mean AUC
of both tasks, and scored on the test split. Writes, per model NAME:
  models/NAME.onnx     (opset 13, dynamic batch; one int64 [B] input per
                        categorical column, one float [B, d] input 'numeric';
                        outputs 'income' and 'never_married', [B, 1] probabilities)
  models/NAME.convert  (edgemtl-convert arguments)
and models/pytorch_auc.json (test AUCs). BUILD/NAME.test_scores.npy holds the
PyTorch test scores (derived data, for per-row comparisons).

Usage: /usr/bin/python3 examples/census/train.py [--build DIR] [--models DIR] [--only NAME,...]
"""
import argparse
import json
import os
import time

import numpy as np
import onnx
import torch
from torch import nn

import preprocess

SEED = 2018
OPSET = 13
TASKS = [label["task"] for label in json.load(open(preprocess.PREPROCESSING_JSON))["labels"]]
CONVERT_ARGS = "--tasks " + ",".join(f"{task}:prob" for task in TASKS)


def embedding_dim(table_size):
    return 4 if table_size <= 16 else 8


def mlp(input_dim, hidden_dims, dropout):
    layers = []
    for width in hidden_dims:
        layers += [nn.Linear(input_dim, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout)]
        input_dim = width
    return nn.Sequential(*layers)


def tower(input_dim, hidden_dims, dropout):
    """MLP then one logit."""
    return nn.Sequential(mlp(input_dim, hidden_dims, dropout), nn.Linear(hidden_dims[-1], 1))


class Encoder(nn.Module):
    """One embedding per categorical column, concatenated with the numeric input."""

    def __init__(self, preprocessing):
        super().__init__()
        self.columns = [entry["column"] for entry in preprocessing["categorical"]]
        self.tables = nn.ModuleList([nn.Embedding(entry["table_size"], embedding_dim(entry["table_size"]))
                                     for entry in preprocessing["categorical"]])
        self.output_dim = sum(t.embedding_dim for t in self.tables) + len(preprocessing["numeric"])

    def forward(self, ids, numeric):
        return torch.cat([table(x) for table, x in zip(self.tables, ids)] + [numeric], dim=1)


def mix(gate_logits, experts):
    """Softmax gate over the experts [B, E, H] -> [B, H]."""
    weights = torch.softmax(gate_logits, dim=1).unsqueeze(-1)
    return (weights * experts).sum(dim=1)


class MultiTaskModel(nn.Module):
    """Inputs: the categorical ids (one tensor per column, in preprocessing order), then numeric."""

    def __init__(self, preprocessing):
        super().__init__()
        self.encoder = Encoder(preprocessing)

    def forward(self, *inputs):
        x = self.encoder(inputs[:-1], inputs[-1])
        return tuple(torch.sigmoid(logit) for logit in self.task_logits(x))


class SharedBottom(MultiTaskModel):
    def __init__(self, preprocessing, bottom=(128, 64), tower_hidden=(32,), dropout=0.1):
        super().__init__(preprocessing)
        self.bottom = mlp(self.encoder.output_dim, bottom, dropout)
        self.towers = nn.ModuleList([tower(bottom[-1], tower_hidden, dropout) for _ in TASKS])

    def task_logits(self, x):
        shared = self.bottom(x)
        return [t(shared) for t in self.towers]


class Mmoe(MultiTaskModel):
    """Multi-gate mixture of experts (Ma et al., KDD 2018); one_gate=True is OMoE."""

    def __init__(self, preprocessing, num_experts=8, expert_hidden=(64, 32), tower_hidden=(16,), dropout=0.1,
                 one_gate=False):
        super().__init__(preprocessing)
        dim = self.encoder.output_dim
        self.experts = nn.ModuleList([mlp(dim, expert_hidden, dropout) for _ in range(num_experts)])
        self.gates = nn.ModuleList([nn.Linear(dim, num_experts) for _ in range(1 if one_gate else len(TASKS))])
        self.towers = nn.ModuleList([tower(expert_hidden[-1], tower_hidden, dropout) for _ in TASKS])

    def task_logits(self, x):
        experts = torch.stack([expert(x) for expert in self.experts], dim=1)
        mixed = [mix(gate(x), experts) for gate in self.gates]
        if len(mixed) == 1:
            mixed = mixed * len(self.towers)
        return [t(m) for t, m in zip(self.towers, mixed)]


class CgcLevel(nn.Module):
    """One extraction level of PLE: task-specific experts and shared experts; each
    task's gate mixes its own and the shared experts; unless last, a shared gate
    mixes all experts for the next level's shared input."""

    def __init__(self, input_dim, hidden, specific, shared, dropout, last):
        super().__init__()
        n_tasks = len(TASKS)
        self.task_experts = nn.ModuleList([
            nn.ModuleList([mlp(input_dim, hidden, dropout) for _ in range(specific)]) for _ in range(n_tasks)])
        self.shared_experts = nn.ModuleList([mlp(input_dim, hidden, dropout) for _ in range(shared)])
        self.task_gates = nn.ModuleList([nn.Linear(input_dim, specific + shared) for _ in range(n_tasks)])
        self.shared_gate = None if last else nn.Linear(input_dim, n_tasks * specific + shared)

    def forward(self, task_inputs, shared_input):
        shared_out = [e(shared_input) for e in self.shared_experts]
        task_out = [[e(x) for e in experts] for experts, x in zip(self.task_experts, task_inputs)]
        outputs = [mix(gate(x), torch.stack(own + shared_out, dim=1))
                   for gate, x, own in zip(self.task_gates, task_inputs, task_out)]
        shared_next = None
        if self.shared_gate is not None:
            everything = [e for own in task_out for e in own] + shared_out
            shared_next = mix(self.shared_gate(shared_input), torch.stack(everything, dim=1))
        return outputs, shared_next


class Ple(MultiTaskModel):
    """Progressive layered extraction, 2 levels (Tang et al., RecSys 2020); 8 experts
    per level: 3 per task and 2 shared."""

    def __init__(self, preprocessing, level_hidden=((64,), (32,)), specific=3, shared=2, tower_hidden=(16,),
                 dropout=0.1):
        super().__init__(preprocessing)
        dims = [self.encoder.output_dim] + [h[-1] for h in level_hidden]
        self.levels = nn.ModuleList([
            CgcLevel(dims[k], hidden, specific, shared, dropout, last=(k == len(level_hidden) - 1))
            for k, hidden in enumerate(level_hidden)])
        self.towers = nn.ModuleList([tower(dims[-1], tower_hidden, dropout) for _ in TASKS])

    def task_logits(self, x):
        task_inputs, shared = [x] * len(TASKS), x
        for level in self.levels:
            task_inputs, shared = level(task_inputs, shared)
        return [t(h) for t, h in zip(self.towers, task_inputs)]


MODELS = {
    "shared_bottom": SharedBottom,
    "omoe": lambda p: Mmoe(p, one_gate=True),
    "mmoe": Mmoe,
    "ple": Ple,
}


def auc(labels, scores):
    """Area under the ROC curve = Mann-Whitney U / (positives * negatives), ties averaged."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1           # first index of each run of equal scores
    for begin, end in zip(np.r_[0, boundaries], np.r_[boundaries, len(scores)]):
        ranks[order[begin:end]] = 0.5 * (begin + end - 1) + 1.0
    positives = labels.sum()
    negatives = len(labels) - positives
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def load(build):
    data = np.load(os.path.join(build, "census.npz"))
    preprocessing = json.load(open(preprocess.PREPROCESSING_JSON))
    columns = [entry["column"] for entry in preprocessing["categorical"]]
    inputs = [torch.from_numpy(data["id_" + c]) for c in columns] + [torch.from_numpy(data["numeric"])]
    labels = torch.stack([torch.from_numpy(data["label_" + t]) for t in TASKS], dim=1)
    splits = data["splits"]
    rows = {name: torch.from_numpy(np.flatnonzero(splits == name)) for name in ("train", "validation", "test")}
    return preprocessing, columns, inputs, labels, rows


def predict(model, inputs, rows, batch_size=4096):
    model.eval()
    with torch.no_grad():
        parts = [torch.cat(model(*[x[rows[b:b + batch_size]] for x in inputs]), dim=1)
                 for b in range(0, len(rows), batch_size)]
    return torch.cat(parts).numpy()


def task_aucs(model, inputs, labels, rows):
    scores = predict(model, inputs, rows)
    return [auc(labels[rows, k].numpy(), scores[:, k]) for k in range(len(TASKS))], scores


def train(name, model, inputs, labels, rows, max_epochs, patience, batch_size, learning_rate, time_budget):
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(SEED)
    bce = nn.functional.binary_cross_entropy
    best, best_state, best_epoch, started = -1.0, None, 0, time.time()
    for epoch in range(1, max_epochs + 1):
        model.train()
        epoch_start, total, batches = time.time(), 0.0, 0
        permutation = rows["train"][torch.randperm(len(rows["train"]), generator=generator)]
        for begin in range(0, len(permutation), batch_size):
            batch = permutation[begin:begin + batch_size]
            if len(batch) < 2:  # BatchNorm needs two rows
                continue
            outputs = torch.cat(model(*[x[batch] for x in inputs]), dim=1)
            loss = bce(outputs, labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
        validation, _ = task_aucs(model, inputs, labels, rows["validation"])
        mean = float(np.mean(validation))
        marker = ""
        if mean > best:
            best, best_epoch, marker = mean, epoch, " *"
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        print(f"  {name} epoch {epoch:2d}  loss {total / batches:.4f}  validation AUC "
              + " ".join(f"{t} {a:.4f}" for t, a in zip(TASKS, validation))
              + f"  ({time.time() - epoch_start:.1f} s){marker}", flush=True)
        if epoch - best_epoch >= patience or time.time() - started > time_budget:
            break
    model.load_state_dict(best_state)
    return best_epoch


def export(model, columns, num_numeric, path):
    model.eval()
    example = [torch.zeros(2, dtype=torch.int64) for _ in columns] + [torch.zeros(2, num_numeric)]
    names = columns + ["numeric"]
    torch.onnx.export(model, tuple(example), path, opset_version=OPSET, input_names=names, output_names=TASKS,
                      dynamic_axes={n: {0: "batch"} for n in names + TASKS}, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=preprocess.DEFAULT_BUILD)
    parser.add_argument("--models", default=os.path.join(preprocess.HERE, "models"))
    parser.add_argument("--only", help="comma-separated subset of " + ",".join(MODELS))
    parser.add_argument("--max-epochs", type=int, default=12)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--time-budget", type=float, default=float("inf"),
                        help="stop a model's training after this many seconds (makes results depend on the machine)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the machine is shared

    preprocessing, columns, inputs, labels, rows = load(args.build)
    print(f"rows: " + ", ".join(f"{k} {len(v)}" for k, v in rows.items()))
    os.makedirs(args.models, exist_ok=True)
    auc_path = os.path.join(args.models, "pytorch_auc.json")
    results = json.load(open(auc_path))["auc"] if os.path.exists(auc_path) else {}
    names = args.only.split(",") if args.only else list(MODELS)
    for name in names:
        torch.manual_seed(SEED)
        model = MODELS[name](preprocessing)
        started = time.time()
        best_epoch = train(name, model, inputs, labels, rows, args.max_epochs, args.patience, args.batch_size,
                           args.learning_rate, args.time_budget)
        test, scores = task_aucs(model, inputs, labels, rows["test"])
        print(f"{name}: best epoch {best_epoch}, test AUC " + " ".join(f"{t} {a:.4f}" for t, a in zip(TASKS, test))
              + f"  ({time.time() - started:.0f} s)", flush=True)
        results[name] = {t: round(a, 6) for t, a in zip(TASKS, test)}
        np.save(os.path.join(args.build, f"{name}.test_scores.npy"), scores)
        onnx_path = os.path.join(args.models, f"{name}.onnx")
        export(model, columns, inputs[-1].shape[1], onnx_path)
        with open(os.path.join(args.models, f"{name}.convert"), "w") as file:
            file.write(CONVERT_ARGS + "\n")
        print(f"  wrote {onnx_path} ({os.path.getsize(onnx_path) / 1024:.0f} KiB)")
        with open(auc_path, "w") as file:  # after each model, so that --only updates one entry
            json.dump({"split": "test", "test_rows": len(rows["test"]), "auc": results}, file, indent=1,
                      sort_keys=True)
            file.write("\n")


if __name__ == "__main__":
    main()
