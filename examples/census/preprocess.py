#!/usr/bin/python3
"""Census-Income (KDD) preprocessing: the one definition both Python and C++ use.

Builds examples/census/preprocessing.json from the TRAIN split of the data file
(vocabularies, numeric statistics) and, for train.py, writes the encoded rows of
all three splits to BUILD/census.npz (derived data: never into the repository).

Row parsing (census_eval.cc does exactly the same):
  - lines end in "\\n" (a "\\r" before it is dropped); empty lines are skipped;
  - a row is split on ", " into 42 fields; each field loses its leading and
    trailing spaces (the last field keeps its final ".", e.g. "50000+.");
  - the 0-based row index i counts the non-empty lines from the top of the file.

Split: h = splitmix64(i XOR seed) (see splitmix64); h % 4 in {0, 1} -> train,
2 -> validation, 3 -> test.

Usage: /usr/bin/python3 examples/census/preprocess.py [--data FILE] [--build DIR] [--print-split N]
"""
import argparse
import gzip
import json
import math
import os
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DATA = os.path.join(REPO, "..", "shared", "data", "census-income.test.gz")
DEFAULT_BUILD = os.path.join(HERE, "build")
PREPROCESSING_JSON = os.path.join(HERE, "preprocessing.json")

COLUMNS = [
    "age", "class_worker", "det_ind_code", "det_occ_code", "education", "wage_per_hour", "hs_college",
    "marital_stat", "major_ind_code", "major_occ_code", "race", "hisp_origin", "sex", "union_member",
    "unemp_reason", "full_or_part_emp", "capital_gains", "capital_losses", "stock_dividends", "tax_filer_stat",
    "region_prev_res", "state_prev_res", "det_hh_fam_stat", "det_hh_summ", "instance_weight", "mig_chg_msa",
    "mig_chg_reg", "mig_move_reg", "mig_same", "mig_prev_sunbelt", "num_emp", "fam_under_18", "country_father",
    "country_mother", "country_self", "citizenship", "own_or_self", "vet_question", "vet_benefits",
    "weeks_worked", "year", "income_50k",
]
# Truly numeric columns. Money columns are heavy-tailed (mostly 0, up to 99999): log1p first.
# num_emp (persons working for the employer, 0-6) and weeks_worked (0-52) are counts.
# Integer-coded columns such as det_ind_code, det_occ_code, own_or_self, vet_benefits
# and year are codes, hence categorical.
NUMERIC = {
    "age": "none",
    "wage_per_hour": "log1p",
    "capital_gains": "log1p",
    "capital_losses": "log1p",
    "stock_dividends": "log1p",
    "num_emp": "none",
    "weeks_worked": "none",
}
LABELS = {
    "income": {"column": "income_50k", "positive": "50000+."},
    "never_married": {"column": "marital_stat", "positive": "Never married"},
}
NOT_FEATURES = {"instance_weight"} | {label["column"] for label in LABELS.values()}
CATEGORICAL = [c for c in COLUMNS if c not in NUMERIC and c not in NOT_FEATURES]
NUMERIC_COLUMNS = [c for c in COLUMNS if c in NUMERIC]

SPLIT_SEED = 2018
SPLIT_NAMES = ("train", "train", "validation", "test")   # by h % 4
MIN_COUNT = 5          # rarer train values share id 0 with unseen ones, so id 0 gets trained

MASK64 = (1 << 64) - 1


def splitmix64(x):
    """splitmix64's output function (Steele, Lea, Flood 2014), all arithmetic modulo 2^64."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def split_of(row_index, seed=SPLIT_SEED):
    return SPLIT_NAMES[splitmix64(row_index ^ seed) % 4]


def read_rows(path):
    """The data file's rows as lists of 42 stripped strings."""
    opener = gzip.open if path.endswith(".gz") else open
    rows = []
    with opener(path, "rb") as file:
        for line_number, line in enumerate(file, start=1):
            text = line.decode("utf-8").rstrip("\n").rstrip("\r")
            if not text:
                continue
            fields = [field.strip(" ") for field in text.split(", ")]
            if len(fields) != len(COLUMNS):
                raise ValueError(f"{path}:{line_number}: {len(fields)} fields, expected {len(COLUMNS)}")
            rows.append(fields)
    return rows


def build_preprocessing(rows):
    """Vocabularies and numeric statistics from the train split of `rows`."""
    train = [row for i, row in enumerate(rows) if split_of(i) == "train"]
    index = {name: k for k, name in enumerate(COLUMNS)}
    categorical = []
    for column in CATEGORICAL:
        counts = Counter(row[index[column]] for row in train)
        kept = sorted((value for value, n in counts.items() if n >= MIN_COUNT), key=lambda v: (-counts[v], v))
        vocabulary = {value: k + 1 for k, value in enumerate(kept)}
        categorical.append({"column": column, "table_size": len(vocabulary) + 1, "vocabulary": vocabulary})
    numeric = []
    for column in NUMERIC_COLUMNS:
        values = np.array([transform(float(row[index[column]]), NUMERIC[column]) for row in train])
        numeric.append({"column": column, "transform": NUMERIC[column],
                        "mean": float(values.mean()), "std": float(values.std())})
    return {
        "dataset": "UCI Census-Income (KDD), census-income.test (CC BY 4.0)",
        "columns": COLUMNS,
        "parsing": "split each non-empty line on ', ', strip spaces at both ends of every field; "
                   "row index = 0-based count of non-empty lines",
        "split": {
            "rule": "h = splitmix64(row_index XOR seed) with 64-bit wrap-around; h % 4 in {0,1}: train, "
                    "2: validation, 3: test",
            "seed": SPLIT_SEED,
            "splitmix64": "z = x + 0x9E3779B97F4A7C15; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; "
                          "z = (z ^ (z >> 27)) * 0x94D049BB133111EB; return z ^ (z >> 31)",
        },
        "labels": [{"task": task, **label} for task, label in LABELS.items()],
        "ignored": sorted(NOT_FEATURES),
        "categorical": categorical,
        "categorical_rule": f"id = vocabulary[value]; a value not in the vocabulary (unseen, or fewer than "
                            f"{MIN_COUNT} times in train) is id 0; '?' is an ordinary value",
        "numeric_input": "numeric",
        "numeric": numeric,
        "numeric_rule": "x = float(field); x = log1p(x) if transform == 'log1p'; value = float32((x - mean) / std), "
                        "in double precision; packed in this order into the float input 'numeric' [B, d]",
    }


def transform(x, kind):
    if kind == "log1p":
        return math.log1p(x)
    if kind == "none":
        return x
    raise ValueError(f"unknown transform {kind}")


def encode(rows, preprocessing):
    """Rows -> {categorical column: int64 ids}, numeric float32 [n, d], labels, split names."""
    index = {name: k for k, name in enumerate(preprocessing["columns"])}
    ids = {}
    for entry in preprocessing["categorical"]:
        column, vocabulary = entry["column"], entry["vocabulary"]
        ids[column] = np.array([vocabulary.get(row[index[column]], 0) for row in rows], dtype=np.int64)
    numeric = np.zeros((len(rows), len(preprocessing["numeric"])), dtype=np.float32)
    for k, entry in enumerate(preprocessing["numeric"]):
        column = index[entry["column"]]
        numeric[:, k] = [(transform(float(row[column]), entry["transform"]) - entry["mean"]) / entry["std"]
                         for row in rows]
    labels = {label["task"]: np.array([row[index[label["column"]]] == label["positive"] for row in rows],
                                      dtype=np.float32)
              for label in preprocessing["labels"]}
    splits = np.array([split_of(i, preprocessing["split"]["seed"]) for i in range(len(rows))])
    return ids, numeric, labels, splits


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--build", default=DEFAULT_BUILD, help="where derived per-row data goes (never the repo)")
    parser.add_argument("--print-split", type=int, metavar="N", help="print the split of rows 0..N-1 and exit")
    parser.add_argument("--print-features", type=int, metavar="N",
                        help="print the encoded features of rows 0..N-1 as JSON lines (parity checks) and exit")
    args = parser.parse_args()

    if args.print_split is not None:
        for i in range(args.print_split):
            h = splitmix64(i ^ SPLIT_SEED)
            print(f"{i} 0x{h:016x} {h % 4} {split_of(i)}")
        return
    rows = read_rows(args.data)
    if args.print_features is not None:
        with open(PREPROCESSING_JSON) as file:
            preprocessing = json.load(file)
        ids, numeric, labels, splits = encode(rows[:args.print_features], preprocessing)
        for i in range(min(args.print_features, len(rows))):
            print(json.dumps({"row": i, "split": str(splits[i]),
                              "ids": {c: int(v[i]) for c, v in ids.items()},
                              "numeric": [float(x) for x in numeric[i]],
                              "labels": {t: int(v[i]) for t, v in labels.items()}}))
        return

    preprocessing = build_preprocessing(rows)
    with open(PREPROCESSING_JSON, "w") as file:
        json.dump(preprocessing, file, indent=1)
        file.write("\n")
    ids, numeric, labels, splits = encode(rows, preprocessing)
    os.makedirs(args.build, exist_ok=True)
    out = os.path.join(args.build, "census.npz")
    np.savez(out, numeric=numeric, splits=splits,
             **{"id_" + c: v for c, v in ids.items()}, **{"label_" + t: v for t, v in labels.items()})
    counts = Counter(splits.tolist())
    print(f"{len(rows)} rows: " + ", ".join(f"{name} {counts[name]}" for name in ("train", "validation", "test")))
    for task, values in labels.items():
        print(f"  {task}: {values.mean():.4f} positive")
    print(f"wrote {PREPROCESSING_JSON} ({len(preprocessing['categorical'])} categorical, "
          f"{len(preprocessing['numeric'])} numeric) and {out}")


if __name__ == "__main__":
    main()
