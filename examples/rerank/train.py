#!/usr/bin/python3
"""Trains ESMM and MMoE on the data of generate.py, checks them, exports ONNX.

Both models share one feature encoder design: one embedding table per id
feature, the history mean-pooled over the item-id table (padding id 0 masked
out), the user part and the item part concatenated. Checks, printed:
  - held-out AUC of click and purchase (10% of the impressions);
  - mean NDCG@10 on data/eval_requests.jsonl against the hidden purchase
    probability (data/eval_truth.jsonl), model order vs the original order.
Writes models/esmm.onnx, models/mmoe.onnx and, as a reference for tests of the
converted models, the PyTorch scores of data/requests.jsonl in edgemtl-run's
output format: models/esmm.expected.jsonl and models/mmoe.expected.jsonl.
The trained weights also go to build/esmm.pt and build/mmoe.pt (not committed).

Usage: /usr/bin/python3 examples/rerank/train.py [--build DIR] [--data DIR] [--models DIR]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
from torch import nn

SEED = 7
HERE = os.path.dirname(os.path.abspath(__file__))

USER_FEATURES = ["user_id", "age", "gender", "city_tier", "member_level", "history"]
ITEM_FEATURES = ["item_id", "category", "brand", "price_bucket"]
FEATURES = USER_FEATURES + ITEM_FEATURES          # = the ONNX input names, in this order
ID_EMBEDDING_DIM = 16                             # user_id, item_id (and history, which shares item_id's table)
FIELD_EMBEDDING_DIM = 8                           # the small categorical fields
OPSET = 13


class FeatureEncoder(nn.Module):
    """Ids -> concat(user part, item part)."""

    def __init__(self, table_sizes):
        super().__init__()
        self.tables = nn.ModuleDict({
            name: nn.Embedding(table_sizes[name], ID_EMBEDDING_DIM if name in ("user_id", "item_id") else FIELD_EMBEDDING_DIM)
            for name in FEATURES if name != "history"
        })
        self.output_dim = sum(table.embedding_dim for table in self.tables.values()) + ID_EMBEDDING_DIM

    def pooled_history(self, history):
        embedded = self.tables["item_id"](history)                 # [B, L, D]
        mask = (history != 0).unsqueeze(-1).float()                # [B, L, 1]
        count = mask.sum(dim=1).clamp(min=1.0)                     # [B, 1]; an empty history gives zeros
        return (embedded * mask).sum(dim=1) / count

    def forward(self, features):
        user_part = [self.tables[name](features[name]) for name in USER_FEATURES if name != "history"]
        user_part.append(self.pooled_history(features["history"]))
        item_part = [self.tables[name](features[name]) for name in ITEM_FEATURES]
        return torch.cat(user_part + item_part, dim=1)


def mlp(input_dim, hidden_dims, dropout):
    layers = []
    for width in hidden_dims:
        layers += [nn.Linear(input_dim, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout)]
        input_dim = width
    return nn.Sequential(*layers)


class Esmm(nn.Module):
    """pCTR from the CTR tower; pCTCVR = pCTR * pCVR, so the CVR tower learns
    from every impression, not only from clicks (Ma et al., SIGIR 2018)."""

    task_names = ["ctr", "ctcvr"]

    def __init__(self, table_sizes, hidden=(64, 32), dropout=0.1):
        super().__init__()
        self.encoder = FeatureEncoder(table_sizes)
        self.ctr_tower = nn.Sequential(mlp(self.encoder.output_dim, hidden, dropout), nn.Linear(hidden[-1], 1))
        self.cvr_tower = nn.Sequential(mlp(self.encoder.output_dim, hidden, dropout), nn.Linear(hidden[-1], 1))

    def forward(self, *inputs):
        x = self.encoder(dict(zip(FEATURES, inputs)))
        ctr = torch.sigmoid(self.ctr_tower(x))
        ctcvr = ctr * torch.sigmoid(self.cvr_tower(x))
        return ctr, ctcvr

    def losses(self, outputs, click, purchase):
        ctr, ctcvr = outputs
        bce = nn.functional.binary_cross_entropy
        return bce(ctr[:, 0], click) + bce(ctcvr[:, 0], purchase)

    @staticmethod
    def click_and_purchase(outputs):
        return outputs[0][:, 0], outputs[1][:, 0]


class Mmoe(nn.Module):
    """Experts shared by the tasks click and purchase (per impression), mixed per
    task by a softmax gate (Ma et al., KDD 2018)."""

    task_names = ["click", "purchase"]

    def __init__(self, table_sizes, num_experts=4, expert_hidden=(32, 32), tower_hidden=(16,), dropout=0.1):
        super().__init__()
        self.encoder = FeatureEncoder(table_sizes)
        self.experts = nn.ModuleList([mlp(self.encoder.output_dim, expert_hidden, dropout) for _ in range(num_experts)])
        self.gates = nn.ModuleList([nn.Linear(self.encoder.output_dim, num_experts) for _ in self.task_names])
        self.towers = nn.ModuleList([
            nn.Sequential(mlp(expert_hidden[-1], tower_hidden, dropout), nn.Linear(tower_hidden[-1], 1))
            for _ in self.task_names])

    def forward(self, *inputs):
        x = self.encoder(dict(zip(FEATURES, inputs)))
        experts = torch.stack([expert(x) for expert in self.experts], dim=1)         # [B, E, H]
        logits = []
        for gate, tower in zip(self.gates, self.towers):
            weights = torch.softmax(gate(x), dim=1).unsqueeze(-1)                    # [B, E, 1]
            logits.append(tower((weights * experts).sum(dim=1)))
        return torch.sigmoid(torch.cat(logits, dim=1))                               # [B, 2]

    def losses(self, outputs, click, purchase):
        return nn.functional.binary_cross_entropy(outputs, torch.stack([click, purchase], dim=1))

    @staticmethod
    def click_and_purchase(outputs):
        return outputs[:, 0], outputs[:, 1]


def load_impressions(path):
    data = np.load(path)
    users, items = data["user_index"], data["item_index"]
    features = {name: torch.from_numpy(data["user_" + name][users]) for name in USER_FEATURES if name != "history"}
    features["history"] = torch.from_numpy(data["history"][users])
    features.update({name: torch.from_numpy(data["item_" + name][items]) for name in ITEM_FEATURES})
    table_sizes = {name: int(data["user_" + name].max()) + 1 for name in USER_FEATURES if name != "history"}
    table_sizes.update({name: int(data["item_" + name].max()) + 1 for name in ITEM_FEATURES})
    labels = torch.from_numpy(data["click"]).float(), torch.from_numpy(data["purchase"]).float()
    return features, labels, table_sizes


def auc(labels, scores):
    """Area under the ROC curve = Mann-Whitney U / (positives * negatives), ties averaged."""
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores))
    start = 0
    while start < len(sorted_scores):
        end = start
        while end + 1 < len(sorted_scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start:end + 1]] = 0.5 * (start + end) + 1.0
        start = end + 1
    positives = labels.sum()
    negatives = len(labels) - positives
    return (ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def ndcg_at(k, gains_in_ranked_order, all_gains):
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (np.asarray(gains_in_ranked_order[:k]) * discounts[:len(gains_in_ranked_order[:k])]).sum()
    ideal = np.sort(all_gains)[::-1][:k]
    return dcg / (ideal * discounts[:len(ideal)]).sum()


def request_tensors(request):
    user, items = request["user"], request["items"]
    n = len(items)
    tensors = [torch.full((n,), user[name], dtype=torch.int64) for name in USER_FEATURES if name != "history"]
    tensors.append(torch.tensor([user["history"]] * n, dtype=torch.int64))
    tensors += [torch.tensor([item[name] for item in items], dtype=torch.int64) for name in ITEM_FEATURES]
    return tensors


def read_jsonl(path):
    with open(path) as file:
        return [json.loads(line) for line in file]


def train(model, features, labels, train_rows, epochs, batch_size, learning_rate):
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(SEED)
    click, purchase = labels
    for epoch in range(epochs):
        model.train()
        started, total, batches = time.time(), 0.0, 0
        permutation = train_rows[torch.randperm(len(train_rows), generator=generator)]
        for begin in range(0, len(permutation), batch_size):
            rows = permutation[begin:begin + batch_size]
            if len(rows) < 2:          # BatchNorm needs two rows
                continue
            outputs = model(*[features[name][rows] for name in FEATURES])
            loss = model.losses(outputs, click[rows], purchase[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
        print(f"  epoch {epoch + 1}/{epochs}  loss {total / batches:.4f}  ({time.time() - started:.1f} s)", flush=True)


@torch.no_grad()
def predict(model, tensors, batch_size=8192):
    model.eval()
    n = len(tensors[0])
    clicks, purchases = [], []
    for begin in range(0, n, batch_size):
        c, p = model.click_and_purchase(model(*[t[begin:begin + batch_size] for t in tensors]))
        clicks.append(c)
        purchases.append(p)
    return torch.cat(clicks).numpy(), torch.cat(purchases).numpy()


def evaluate_ranking(model, eval_requests, eval_truths, exponents):
    """Mean NDCG@10 (gain: true purchase probability) of the original order and
    of the order by pCTR^a * pCVR^b for each (a, b); pCVR = p(purchase)/pCTR."""
    original, by_score = [], {ab: [] for ab in exponents}
    for request, truth in zip(eval_requests, eval_truths):
        gains = np.asarray(truth["p_purchase"])
        original.append(ndcg_at(10, gains, gains))
        p_click, p_purchase = predict(model, request_tensors(request))
        p_click = p_click.astype(np.float64)
        p_cvr = p_purchase / np.maximum(p_click, 1e-12)
        for a, b in exponents:
            score = p_click ** a * p_cvr ** b
            by_score[(a, b)].append(ndcg_at(10, gains[np.argsort(-score, kind="stable")], gains))
    return float(np.mean(original)), {ab: float(np.mean(v)) for ab, v in by_score.items()}


def export(model, path, example_request):
    model.eval()
    inputs = tuple(request_tensors(example_request))
    output_names = ["ctr", "ctcvr"] if isinstance(model, Esmm) else ["scores"]
    torch.onnx.export(
        model, inputs, path, opset_version=OPSET, input_names=FEATURES, output_names=output_names,
        dynamic_axes={name: {0: "batch"} for name in FEATURES + output_names}, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path), full_check=True)


def write_expected(model, requests, path):
    """PyTorch's scores in edgemtl-run's output format: {"scores": [{task: score, ...}, ...]} per request."""
    with open(path, "w") as file:
        for request in requests:
            columns = predict(model, request_tensors(request))
            rows = [{name: float(f"{value:.9g}") for name, value in zip(model.task_names, row)} for row in zip(*columns)]
            file.write(json.dumps({"scores": rows}, separators=(",", ":")) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(HERE, "build"))
    parser.add_argument("--data", default=os.path.join(HERE, "data"))
    parser.add_argument("--models", default=os.path.join(HERE, "models"))
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    os.makedirs(args.models, exist_ok=True)

    torch.manual_seed(SEED)
    # One thread: deterministic, and fast even when other jobs share the cores
    # (two spinning OpenMP threads on a busy 2-core machine run 5x slower).
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_flush_denormal(True)   # tiny gradients must not slow the CPU down

    features, labels, table_sizes = load_impressions(os.path.join(args.build, "dataset.npz"))
    n = len(labels[0])
    rows = torch.randperm(n, generator=torch.Generator().manual_seed(SEED))
    held_out, train_rows = rows[: n // 10], rows[n // 10:]
    requests = read_jsonl(os.path.join(args.data, "requests.jsonl"))
    eval_requests = read_jsonl(os.path.join(args.data, "eval_requests.jsonl"))
    eval_truths = read_jsonl(os.path.join(args.data, "eval_truth.jsonl"))
    print(f"table sizes {table_sizes}")
    print(f"train {len(train_rows)} rows, held-out {len(held_out)} rows "
          f"(clicks {int(labels[0][held_out].sum())}, purchases {int(labels[1][held_out].sum())})")

    exponents = [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.5), (0.5, 1.0)]
    for name, model_class in (("esmm", Esmm), ("mmoe", Mmoe)):
        torch.manual_seed(SEED)
        model = model_class(table_sizes)
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters", flush=True)
        train(model, features, labels, train_rows, args.epochs, batch_size=2048, learning_rate=3e-3)
        p_click, p_purchase = predict(model, [features[f][held_out] for f in FEATURES])
        auc_click, auc_purchase = auc(labels[0][held_out].numpy(), p_click), auc(labels[1][held_out].numpy(), p_purchase)
        print(f"{name}: held-out AUC click {auc_click:.4f}  purchase {auc_purchase:.4f}")
        original, by_score = evaluate_ranking(model, eval_requests, eval_truths, exponents)
        print(f"{name}: eval mean NDCG@10 (gain = true p_purchase), original order {original:.4f}")
        for (a, b), value in by_score.items():
            print(f"{name}:   by pCTR^{a:g} * pCVR^{b:g}  {value:.4f}")
        # A model that did not learn must not replace the bundled one.
        if min(auc_click, auc_purchase) < 0.6 or by_score[(1.0, 1.0)] < original + 0.1:
            sys.exit(f"{name}: training failed (AUC or NDCG too low); nothing exported")
        torch.save(model.state_dict(), os.path.join(args.build, name + ".pt"))   # for later checks; not committed
        path = os.path.join(args.models, name + ".onnx")
        export(model, path, requests[0])
        write_expected(model, requests, os.path.join(args.models, name + ".expected.jsonl"))
        print(f"{name}: wrote {path} ({os.path.getsize(path)} bytes)", flush=True)


if __name__ == "__main__":
    main()
