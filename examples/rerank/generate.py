#!/usr/bin/python3
"""Synthetic e-commerce data for the re-ranking example (seeded, deterministic).

A hidden preference model decides who clicks and who buys. Its features are
observable (profile, history, item attributes), so a model can learn it; its
exact probabilities are written for the sample requests so that a test can
score a ranking against the truth.

Writes:
  build/dataset.npz            users, items and ~300k impressions (not committed)
  data/requests.jsonl          5 users x 100 candidates, edgemtl-run input format
  data/truth.jsonl             hidden p_click / p_purchase of those candidates
  data/eval_requests.jsonl     50 users x 50 candidates
  data/eval_truth.jsonl

Usage: /usr/bin/python3 examples/rerank/generate.py [--out-build DIR] [--out-data DIR]
"""
import argparse
import json
import os

import numpy as np

SEED = 20261122

NUM_ITEMS = 2000
NUM_CATEGORIES = 20
NUM_BRANDS = 100                  # 5 brands per category
NUM_PRICE_BUCKETS = 10
NUM_USERS = 3000
HISTORY_LENGTH = 20
IMPRESSIONS_PER_USER = 100
# Every id is >= 1; id 0 means "padding" in the history (and is never a real value elsewhere).
NUM_AGE, NUM_GENDER, NUM_CITY_TIER, NUM_MEMBER_LEVEL = 7, 2, 4, 4

TARGET_CTR = 0.07                 # clicks per impression
TARGET_PURCHASE_RATE = 0.012      # purchases per impression (CVR among clicks ~ 17%)

HERE = os.path.dirname(os.path.abspath(__file__))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_items(rng):
    brand_category = np.repeat(np.arange(1, NUM_CATEGORIES + 1), NUM_BRANDS // NUM_CATEGORIES)
    brand_prestige = rng.uniform(0.0, 1.0, NUM_BRANDS)       # premium brands are dearer
    brand_quality = rng.normal(0.0, 0.5, NUM_BRANDS)
    # Category popularity is skewed, as in a real catalogue.
    category_weight = 1.0 / np.arange(1, NUM_CATEGORIES + 1) ** 0.6
    category = rng.choice(np.arange(1, NUM_CATEGORIES + 1), NUM_ITEMS, p=category_weight / category_weight.sum())
    brand = np.empty(NUM_ITEMS, dtype=np.int64)
    for i, c in enumerate(category):
        brand[i] = rng.choice(np.flatnonzero(brand_category == c)) + 1
    price_level = brand_prestige[brand - 1] * 0.7 + rng.uniform(0.0, 0.3, NUM_ITEMS)
    price_bucket = np.clip((price_level * NUM_PRICE_BUCKETS).astype(np.int64) + 1, 1, NUM_PRICE_BUCKETS)
    quality = rng.normal(0.0, 0.5, NUM_ITEMS) + brand_quality[brand - 1]
    return {
        "item_id": np.arange(1, NUM_ITEMS + 1, dtype=np.int64),
        "category": category.astype(np.int64),
        "brand": brand,
        "price_bucket": price_bucket,
        "quality": quality,   # hidden
    }


def make_users(rng):
    age = rng.integers(1, NUM_AGE + 1, NUM_USERS)
    gender = rng.integers(1, NUM_GENDER + 1, NUM_USERS)
    city_tier = rng.choice(np.arange(1, NUM_CITY_TIER + 1), NUM_USERS, p=[0.2, 0.3, 0.3, 0.2])
    member_level = rng.choice(np.arange(1, NUM_MEMBER_LEVEL + 1), NUM_USERS, p=[0.5, 0.3, 0.15, 0.05])
    # Taste = what the (age, gender) segment likes + what this user likes; the
    # personal part is visible only through the history.
    segment_taste = rng.normal(0.0, 1.0, (NUM_AGE + 1, NUM_GENDER + 1, NUM_CATEGORIES))
    personal_taste = rng.normal(0.0, 1.0, (NUM_USERS, NUM_CATEGORIES))
    category_affinity = 1.0 * segment_taste[age, gender] + 0.7 * personal_taste
    brand_affinity = rng.normal(0.0, 0.4, (NUM_USERS, NUM_BRANDS))
    # Young users and smaller cities care more about price.
    price_sensitivity = np.clip(
        0.3 + 0.15 * (NUM_AGE - age) + 0.2 * (city_tier - 1) + rng.normal(0.0, 0.3, NUM_USERS), 0.0, None)
    return {
        "user_id": np.arange(1, NUM_USERS + 1, dtype=np.int64),
        "age": age.astype(np.int64),
        "gender": gender.astype(np.int64),
        "city_tier": city_tier.astype(np.int64),
        "member_level": member_level.astype(np.int64),
        # hidden
        "category_affinity": category_affinity,
        "brand_affinity": brand_affinity,
        "price_sensitivity": price_sensitivity,
    }


def click_logit_without_bias(users, items, u, i):
    """u, i: 0-based user and item indices (broadcastable arrays)."""
    price = (items["price_bucket"][i] - 1) / (NUM_PRICE_BUCKETS - 1)
    return (users["category_affinity"][u, items["category"][i] - 1]
            + users["brand_affinity"][u, items["brand"][i] - 1]
            + 0.5 * items["quality"][i]
            - 0.8 * users["price_sensitivity"][u] * price)


def purchase_logit_without_bias(users, items, u, i):
    """Purchase given click: quality, price and membership matter more than taste."""
    price = (items["price_bucket"][i] - 1) / (NUM_PRICE_BUCKETS - 1)
    return (0.5 * users["category_affinity"][u, items["category"][i] - 1]
            + 1.0 * items["quality"][i]
            - 2.0 * users["price_sensitivity"][u] * price
            + 0.4 * (users["member_level"][u] - 1))


def make_histories(rng, users, items):
    """Past interactions: items drawn (without replacement) in proportion to exp(click logit)."""
    lengths = rng.integers(3, HISTORY_LENGTH + 1, NUM_USERS)
    lengths[rng.random(NUM_USERS) < 0.03] = 0          # a few users with no history yet
    history = np.zeros((NUM_USERS, HISTORY_LENGTH), dtype=np.int64)
    all_items = np.arange(NUM_ITEMS)
    for u in range(NUM_USERS):
        logits = 1.5 * click_logit_without_bias(users, items, u, all_items)
        keys = logits + rng.gumbel(size=NUM_ITEMS)      # Gumbel top-k = sampling without replacement
        chosen = np.argsort(-keys)[:lengths[u]]
        history[u, :lengths[u]] = items["item_id"][chosen]
    return history


def retrieve(rng, items, history_row, count):
    """Candidates a retrieval stage would give: half from categories seen in the
    history, the rest at random; distinct items, in random order (0-based indices)."""
    seen_categories = np.unique(items["category"][history_row[history_row != 0] - 1])
    from_history = np.flatnonzero(np.isin(items["category"], seen_categories))
    wanted_related = count // 2 if len(from_history) else 0
    related = rng.choice(from_history, min(wanted_related, len(from_history)), replace=False) if wanted_related else []
    rest = np.setdiff1d(np.arange(NUM_ITEMS), related)
    random_part = rng.choice(rest, count - len(related), replace=False)
    candidates = np.concatenate([np.asarray(related, dtype=np.int64), random_part])
    rng.shuffle(candidates)
    return candidates


def calibrate_bias(mean_for_bias, target_mean):
    """Bias b with mean_for_bias(b) == target_mean, for an increasing mean_for_bias (bisection)."""
    low, high = -20.0, 20.0
    for _ in range(60):
        middle = 0.5 * (low + high)
        if mean_for_bias(middle) < target_mean:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def make_impressions(rng, users, items, history):
    user_index = np.repeat(np.arange(NUM_USERS), IMPRESSIONS_PER_USER)
    item_index = np.concatenate([retrieve(rng, items, history[u], IMPRESSIONS_PER_USER) for u in range(NUM_USERS)])
    order = rng.permutation(len(user_index))
    return user_index[order], item_index[order]


def write_requests(path_requests, path_truth, rng, users, items, history, truth, user_indices, count):
    with open(path_requests, "w") as requests, open(path_truth, "w") as truths:
        for u in user_indices:
            candidates = retrieve(rng, items, history[u], count)
            user = {name: int(users[name][u]) for name in ("user_id", "age", "gender", "city_tier", "member_level")}
            user["history"] = [int(x) for x in history[u]]
            request = {
                "user": user,
                "items": [{name: int(items[name][i]) for name in ("item_id", "category", "brand", "price_bucket")}
                          for i in candidates],
            }
            p_click, p_purchase = truth(u, candidates)
            requests.write(json.dumps(request, separators=(",", ":")) + "\n")
            truths.write(json.dumps({
                "user_id": int(users["user_id"][u]),
                "p_click": [round(float(p), 6) for p in p_click],
                "p_purchase": [round(float(p), 7) for p in p_purchase],
            }, separators=(",", ":")) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-build", default=os.path.join(HERE, "build"))
    parser.add_argument("--out-data", default=os.path.join(HERE, "data"))
    args = parser.parse_args()
    os.makedirs(args.out_build, exist_ok=True)
    os.makedirs(args.out_data, exist_ok=True)

    rng = np.random.default_rng(SEED)
    items = make_items(rng)
    users = make_users(rng)
    history = make_histories(rng, users, items)
    user_index, item_index = make_impressions(rng, users, items, history)

    click_raw = click_logit_without_bias(users, items, user_index, item_index)
    click_bias = calibrate_bias(lambda b: sigmoid(click_raw + b).mean(), TARGET_CTR)
    # The purchase-given-click bias is set by the purchase rate per impression.
    p_click = sigmoid(click_raw + click_bias)
    purchase_raw = purchase_logit_without_bias(users, items, user_index, item_index)
    purchase_bias = calibrate_bias(lambda b: (p_click * sigmoid(purchase_raw + b)).mean(), TARGET_PURCHASE_RATE)

    def truth(u, i):
        p_c = sigmoid(click_logit_without_bias(users, items, u, i) + click_bias)
        p_b = sigmoid(purchase_logit_without_bias(users, items, u, i) + purchase_bias)
        return p_c, p_c * p_b

    p_click, p_purchase = truth(user_index, item_index)
    click = (rng.random(len(user_index)) < p_click).astype(np.int64)
    # Funnel: a purchase needs a click.
    purchase = click * (rng.random(len(user_index)) < p_purchase / p_click).astype(np.int64)

    np.savez_compressed(
        os.path.join(args.out_build, "dataset.npz"),
        user_index=user_index, item_index=item_index, click=click, purchase=purchase,
        true_p_click=p_click, true_p_purchase=p_purchase,
        history=history,
        **{"user_" + k: v for k, v in users.items() if k in ("user_id", "age", "gender", "city_tier", "member_level")},
        **{"item_" + k: v for k, v in items.items() if k in ("item_id", "category", "brand", "price_bucket")},
    )

    sample_users = rng.choice(np.flatnonzero(np.count_nonzero(history, axis=1) >= 10), 4, replace=False)
    short_history_user = rng.choice(np.flatnonzero((np.count_nonzero(history, axis=1) > 0)
                                                   & (np.count_nonzero(history, axis=1) <= 4)))
    write_requests(os.path.join(args.out_data, "requests.jsonl"), os.path.join(args.out_data, "truth.jsonl"),
                   rng, users, items, history, truth, list(sample_users) + [short_history_user], 100)
    eval_users = rng.choice(NUM_USERS, 50, replace=False)
    write_requests(os.path.join(args.out_data, "eval_requests.jsonl"), os.path.join(args.out_data, "eval_truth.jsonl"),
                   rng, users, items, history, truth, eval_users, 50)

    print(f"impressions {len(click)}  users {NUM_USERS}  items {NUM_ITEMS}")
    print(f"CTR {click.mean():.4f}  purchases/impression {purchase.mean():.4f}  "
          f"purchases/click {purchase.sum() / max(click.sum(), 1):.4f}  (click bias {click_bias:.3f}, "
          f"purchase bias {purchase_bias:.3f})")
    print(f"users with empty history {int((history[:, 0] == 0).sum())}")


if __name__ == "__main__":
    main()
