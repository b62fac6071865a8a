"""Holdout metrics of the conversion model on the real public datasets.

Run from the checkout: ``.venv/bin/python bench/ml_datasets.py [--seeds 3] [--datasets-dir DIR]``.
Each CSV is read as text and typed by ``frame_types`` exactly as an import would; the only
dataset knowledge is which columns to leave out (ids, target, outcome-time columns). Also
reports the variants the datasets' SOURCE.md asks for (without ``Last Activity``, without
``PageValues``).

These files have no dates, so ``auc`` is the cross-validated holdout (every row scored by a model
trained without it); ``fixed`` is the first fold alone, the one promotion compares on, to show
how far a single fifth strays. The last line is JSON: per variant, the mean of each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring.ml.conversion import ConversionParams, train_conversion_model
from scoring.ml.dataset import frame_types, infer_column

LEADS_LEAKY = [
    "Tags",
    "Lead Quality",
    "Lead Profile",
    "Asymmetrique Activity Index",
    "Asymmetrique Profile Index",
    "Asymmetrique Activity Score",
    "Asymmetrique Profile Score",
    "Last Notable Activity",
]
VARIANTS = [
    # (label, file, target, excluded columns)
    (
        "leads",
        "x_education_leads/Leads.csv",
        "Converted",
        ["Prospect ID", "Lead Number", *LEADS_LEAKY],
    ),
    (
        "leads, no Last Activity",
        "x_education_leads/Leads.csv",
        "Converted",
        ["Prospect ID", "Lead Number", *LEADS_LEAKY, "Last Activity"],
    ),
    ("shoppers", "uci_online_shoppers_intention/online_shoppers_intention.csv", "Revenue", []),
    (
        "shoppers, no PageValues",
        "uci_online_shoppers_intention/online_shoppers_intention.csv",
        "Revenue",
        ["PageValues"],
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="holdout seeds 0..N-1")
    parser.add_argument(
        "--datasets-dir",
        default=os.environ.get(
            "LEADQUAL_DATASETS_DIR",
            str(Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"),
        ),
    )
    args = parser.parse_args()
    root = Path(args.datasets_dir)
    header = (
        f"{'dataset':26} {'seed':>4} {'auc':>7} {'fixed':>7} {'ece':>7} {'logloss':>8} "
        f"{'brier':>7} {'lift@10%':>8} {'cv_auc':>7} {'calib':>8} {'rows':>6} {'secs':>5}"
    )
    print(header)
    print("-" * len(header))
    figures: dict[str, float] = {}
    for label, relative, target_column, excluded in VARIANTS:
        path = root / relative
        if not path.is_file():
            print(f"{label:26} skipped: {path} not found")
            continue
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        typed = frame_types(df, exclude=[target_column, *excluded])
        _, target, _ = infer_column(df[target_column])
        y = target.astype(int)
        aucs, fixed_aucs = [], []
        for seed in range(args.seeds):
            started = time.perf_counter()
            model = train_conversion_model(typed.frame, y, params=ConversionParams(seed=seed))
            seconds = time.perf_counter() - started
            m = model.metrics
            fixed = (m.get("promotion_holdout") or m)["auc"]
            aucs.append(m["auc"])
            fixed_aucs.append(fixed)
            print(
                f"{label:26} {seed:>4} {m['auc']:7.4f} {fixed:7.4f} {m['ece']:7.4f} "
                f"{m['log_loss']:8.4f} {m['brier']:7.4f} {m['at_capacity']['lift']:8.2f} "
                f"{m['training']['cv_auc']:7.4f} {m['training']['calibration']:>8} "
                f"{len(y):6d} {seconds:5.1f}"
            )
        print(
            f"{label:26} mean {np.mean(aucs):.4f}  sd {np.std(aucs):.4f}  min {min(aucs):.4f}  "
            f"fixed holdout: mean {np.mean(fixed_aucs):.4f}  min {min(fixed_aucs):.4f}"
        )
        key = label.replace(", no ", "_no_").replace(" ", "_").lower()
        figures[f"{key}_auc"] = round(float(np.mean(aucs)), 4)
        figures[f"{key}_fixed_holdout_auc"] = round(float(np.mean(fixed_aucs)), 4)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
