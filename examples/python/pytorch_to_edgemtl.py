# %% [markdown]
# # From PyTorch to edgemtl, checked in Python
#
# A notebook-style script (cells marked `# %%`, run it top to bottom or open it in Jupyter/VS Code):
# export a small multi-task model (MMoE: shared experts, one softmax gate and one tower per task) from
# PyTorch to ONNX, convert it with `edgemtl.convert`, score the same candidates with PyTorch and with
# edgemtl, and look at the score differences.
#
# Needs Debian's `python3-torch`, `python3-onnx`, `python3-numpy` (and `python3-matplotlib` for the
# plot; without it a text histogram is printed) and the built binding:
#
#     PYTHONPATH=build/bindings/python /usr/bin/python3 examples/python/pytorch_to_edgemtl.py [OUT_DIR]

# %%
import os
import sys
import tempfile
import warnings

import numpy as np
import torch
from torch import nn

import edgemtl

torch.manual_seed(0)
out_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="edgemtl_example_")
os.makedirs(out_dir, exist_ok=True)
print("edgemtl", edgemtl.__version__, "reads format", edgemtl.format_version, "| torch", torch.__version__)

# %% [markdown]
# ## 1. The model
# Export rules (docs/GUIDE.md): one ONNX input per feature, ids as int64, the batch dimension dynamic,
# user-side and item-side features as separate inputs so that the converter can split the work.

# %%
NUM_USERS, NUM_ITEMS, NUM_CATEGORIES, HISTORY = 1000, 5000, 50, 8


class MMoE(nn.Module):
    def __init__(self, experts=3, dim=8, hidden=32, expert_dim=16):
        super().__init__()
        self.user = nn.Embedding(NUM_USERS, dim)
        self.item = nn.Embedding(NUM_ITEMS, dim)  # also embeds the user's history
        self.category = nn.Embedding(NUM_CATEGORIES, dim)
        width = 4 * dim + 2 + 1  # user, history, item, category embeddings + user dense (2) + price (1)
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, expert_dim), nn.ReLU())
            for _ in range(experts))
        self.gates = nn.ModuleList(nn.Linear(width, experts) for _ in range(2))
        self.towers = nn.ModuleList(nn.Sequential(nn.Linear(expert_dim, 8), nn.ReLU(), nn.Linear(8, 1))
                                    for _ in range(2))

    def forward(self, user_id, user_history, user_dense, item_id, item_category, item_price):
        history = self.item(user_history).sum(1)  # padded with id 0
        x = torch.cat([self.user(user_id), history, user_dense, self.item(item_id), self.category(item_category),
                       item_price.unsqueeze(1)], 1)
        experts = torch.stack([expert(x) for expert in self.experts], 1)  # [B, E, D]
        scores = []
        for gate, tower in zip(self.gates, self.towers):
            mixed = (torch.softmax(gate(x), 1).unsqueeze(-1) * experts).sum(1)
            scores.append(torch.sigmoid(tower(mixed)))
        return torch.cat(scores, 1)  # [B, 2]: ctr, cvr


model = MMoE().eval()

# %% [markdown]
# ## 2. Export to ONNX and convert

# %%
def candidates(user, n, generator):
    """n rows for one user: the user's features repeated, n different items."""
    return {
        "user_id": torch.full((n,), user, dtype=torch.int64),
        "user_history": torch.randint(0, NUM_ITEMS, (1, HISTORY), generator=generator).repeat(n, 1),
        "user_dense": torch.randn(1, 2, generator=generator).repeat(n, 1),
        "item_id": torch.randint(0, NUM_ITEMS, (n,), generator=generator),
        "item_category": torch.randint(0, NUM_CATEGORIES, (n,), generator=generator),
        "item_price": torch.rand(n, generator=generator) * 3,
    }


names = ["user_id", "user_history", "user_dense", "item_id", "item_category", "item_price"]
example = candidates(1, 4, torch.Generator().manual_seed(1))
onnx_path = os.path.join(out_dir, "mmoe.onnx")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(model, tuple(example[n] for n in names), onnx_path, input_names=names, output_names=["scores"],
                      dynamic_axes={n: {0: "batch"} for n in names + ["scores"]}, opset_version=13)

emtl_path = os.path.join(out_dir, "mmoe.emtl")
edgemtl.convert(onnx_path, emtl_path, user_inputs=["user_id", "user_history", "user_dense"],
                tasks="ctr:prob,cvr:prob", metadata={"model_name": "example-mmoe"})
print(f"{onnx_path}: {os.path.getsize(onnx_path)} bytes -> {emtl_path}: {os.path.getsize(emtl_path)} bytes")

# %% [markdown]
# ## 3. Inspect and score with edgemtl

# %%
converted = edgemtl.Model(emtl_path)
for feature in converted.features:
    print(f"  {feature.name:14} {feature.side:4} {feature.kind:8} width {feature.width}")
print("tasks:", converted.task_names, "| metadata:", converted.metadata["model_name"])

session = converted.session(max_items=500)
generator = torch.Generator().manual_seed(7)
ours, theirs = [], []
for user in range(20):
    rows = candidates(user, 500, generator)
    with torch.no_grad():
        theirs.append(model(*(rows[n] for n in names)).numpy())
    session.set_user({n: rows[n][:1].numpy() for n in names[:3]})  # the user stage, once
    ours.append(session.score({n: rows[n].numpy() for n in names[3:]}))  # 500 items in one call
ours, theirs = np.concatenate(ours), np.concatenate(theirs)

# %% [markdown]
# ## 4. Compare

# %%
difference = ours - theirs
print(f"{ours.shape[0]} items x {ours.shape[1]} tasks: max |edgemtl - PyTorch| = {np.abs(difference).max():.3g}, "
      f"mean = {np.abs(difference).mean():.3g}")
assert np.abs(difference).max() < 1e-5, "edgemtl and PyTorch disagree"

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for t, name in enumerate(converted.task_names):
        axes[t].hist(difference[:, t], bins=50)
        axes[t].set_title(f"{name}: edgemtl - PyTorch")
        axes[t].set_xlabel("score difference")
    figure.tight_layout()
    plot_path = os.path.join(out_dir, "score_differences.png")
    figure.savefig(plot_path, dpi=100)
    print("histogram:", plot_path)
except ImportError:
    print("(no matplotlib: text histogram)")
    counts, edges = np.histogram(difference.ravel(), bins=12)
    for count, low, high in zip(counts, edges[:-1], edges[1:]):
        print(f"  [{low:+.2e}, {high:+.2e})  {'#' * int(60 * count / counts.max())} {count}")
