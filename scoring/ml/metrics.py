"""Holdout metrics in plain numpy, and the promotion rule.

Every function takes labels ``y`` (0/1) and a score; the probability metrics (log loss, Brier,
calibration) need the score to be a probability, the ranking metrics (AUC, precision, recall and
lift at capacity, AUC per segment) accept any score where higher means more likely, such as the
traditional point score. Results are JSON-ready: plain floats and ints, ``None`` where a metric
is undefined (one class only), never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_CAPACITY = 0.1
DEFAULT_BINS = 10
MIN_SEGMENT_ROWS = 30
# AUC differences smaller than this are noise on a holdout of a few thousand rows; then the
# better-calibrated model (lower log loss) wins.
AUC_TOLERANCE = 0.002


def _arrays(y: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype=np.float64).ravel()
    s_arr = np.asarray(score, dtype=np.float64).ravel()
    if y_arr.shape != s_arr.shape:
        raise ValueError(f"labels and scores differ in length: {y_arr.size} != {s_arr.size}")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    if np.isnan(s_arr).any():
        raise ValueError("scores contain NaN")
    return y_arr, s_arr


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # Start of each run of equal values, in sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def roc_auc(y: Any, score: Any) -> float | None:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula; ties count one half.

    ``None`` when only one class is present.
    """
    y_arr, s_arr = _arrays(y, score)
    n_pos = float(y_arr.sum())
    n_neg = float(len(y_arr) - n_pos)
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(s_arr)
    return float((ranks[y_arr == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(y: Any, p: Any, *, eps: float = 1e-15) -> float:
    y_arr, p_arr = _arrays(y, p)
    p_arr = np.clip(p_arr, eps, 1 - eps)
    return float(-np.mean(y_arr * np.log(p_arr) + (1 - y_arr) * np.log(1 - p_arr)))


def brier_score(y: Any, p: Any) -> float:
    y_arr, p_arr = _arrays(y, p)
    return float(np.mean((p_arr - y_arr) ** 2))


def calibration_bins(y: Any, p: Any, *, n_bins: int = DEFAULT_BINS) -> list[dict[str, Any]]:
    """Equal-width probability bins: [lower, upper), the last one closed.

    Each bin reports its row count, mean predicted probability and observed positive rate (both
    ``None`` for an empty bin).
    """
    y_arr, p_arr = _arrays(y, p)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, p_arr, side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    sum_p = np.bincount(which, weights=p_arr, minlength=n_bins)
    sum_y = np.bincount(which, weights=y_arr, minlength=n_bins)
    bins: list[dict[str, Any]] = []
    for i in range(n_bins):
        n = int(counts[i])
        bins.append(
            {
                "lower": round(float(edges[i]), 10),
                "upper": round(float(edges[i + 1]), 10),
                "count": n,
                "mean_predicted": float(sum_p[i] / n) if n else None,
                "observed_rate": float(sum_y[i] / n) if n else None,
            }
        )
    return bins


def expected_calibration_error(y: Any, p: Any, *, n_bins: int = DEFAULT_BINS) -> float:
    """Row-weighted mean gap between predicted and observed rate over ``calibration_bins``."""
    return ece_from_bins(calibration_bins(y, p, n_bins=n_bins))


def ece_from_bins(bins: list[dict[str, Any]]) -> float:
    total = sum(b["count"] for b in bins)
    if total == 0:
        return 0.0
    gap = sum(
        b["count"] * abs(b["mean_predicted"] - b["observed_rate"]) for b in bins if b["count"]
    )
    return float(gap / total)


def at_capacity(y: Any, score: Any, *, capacity: float = DEFAULT_CAPACITY) -> dict[str, Any]:
    """Precision, recall and lift of the top ``capacity`` share of rows by score.

    The top is ``ceil(capacity * rows)`` rows (at least one). Rows tied at the boundary are taken
    in their given order, so the result is deterministic. Lift is the precision divided by the
    base rate; ``None`` when there are no positives.
    """
    if not 0 < capacity <= 1:
        raise ValueError("capacity must be in (0, 1]")
    y_arr, s_arr = _arrays(y, score)
    n = len(y_arr)
    k = max(1, math.ceil(capacity * n - 1e-9))
    top = np.argsort(-s_arr, kind="mergesort")[:k]
    hits = float(y_arr[top].sum())
    positives = float(y_arr.sum())
    precision = hits / k
    base_rate = positives / n if n else 0.0
    return {
        "capacity": capacity,
        "rows": k,
        "precision": precision,
        "recall": hits / positives if positives else None,
        "lift": precision / base_rate if base_rate else None,
    }


def segment_auc(
    y: Any,
    score: Any,
    segments: pd.DataFrame,
    *,
    min_rows: int = MIN_SEGMENT_ROWS,
) -> dict[str, dict[str, dict[str, Any]]]:
    """AUC for each level of each segment column: ``{column: {level: {...}}}``.

    Each entry has ``rows``, ``positives`` and ``auc``. A level with fewer than ``min_rows`` rows
    or only one class is skipped: its ``auc`` is ``None`` and ``skipped`` says why. Missing
    segment values form the level ``"(missing)"``. ``segments`` is aligned with ``y`` by position.
    """
    y_arr, s_arr = _arrays(y, score)
    if len(segments) != len(y_arr):
        raise ValueError("segments and labels differ in length")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for column in segments.columns:
        levels = segments[column].astype(object).where(segments[column].notna(), "(missing)")
        levels = levels.map(str).to_numpy()
        per_level: dict[str, dict[str, Any]] = {}
        for level in sorted(set(levels)):
            mask = levels == level
            rows = int(mask.sum())
            positives = int(y_arr[mask].sum())
            entry: dict[str, Any] = {"rows": rows, "positives": positives, "auc": None}
            if rows < min_rows:
                entry["skipped"] = f"fewer than {min_rows} rows"
            elif positives in (0, rows):
                entry["skipped"] = "one class only"
            else:
                entry["auc"] = roc_auc(y_arr[mask], s_arr[mask])
            per_level[level] = entry
        out[str(column)] = per_level
    return out


def score_metrics(
    y: Any,
    score: Any,
    *,
    probability: bool = True,
    capacity: float = DEFAULT_CAPACITY,
    segments: pd.DataFrame | None = None,
    n_bins: int = DEFAULT_BINS,
    min_segment_rows: int = MIN_SEGMENT_ROWS,
) -> dict[str, Any]:
    """All holdout metrics for one score.

    With ``probability=False`` (a point score, any scale) only the ranking metrics are computed:
    ``auc``, ``at_capacity`` and ``segments``. With ``probability=True`` also ``log_loss``,
    ``brier``, ``calibration_bins`` and ``ece``.
    """
    y_arr, s_arr = _arrays(y, score)
    result: dict[str, Any] = {
        "rows": len(y_arr),
        "positives": int(y_arr.sum()),
        "base_rate": float(y_arr.mean()) if len(y_arr) else None,
        "auc": roc_auc(y_arr, s_arr),
        "at_capacity": at_capacity(y_arr, s_arr, capacity=capacity),
    }
    if probability:
        bins = calibration_bins(y_arr, s_arr, n_bins=n_bins)
        result.update(
            {
                "log_loss": log_loss(y_arr, s_arr),
                "brier": brier_score(y_arr, s_arr),
                "calibration_bins": bins,
                "ece": ece_from_bins(bins),
            }
        )
    if segments is not None and len(segments.columns):
        result["segments"] = segment_auc(y_arr, s_arr, segments, min_rows=min_segment_rows)
    return result


def baseline_comparison(
    model_metrics: Mapping[str, Any], baseline_metrics: Mapping[str, Any]
) -> dict[str, Any]:
    """How the model compares with another score (the point score) on the same holdout.

    ``lift_over_baseline_at_capacity`` is the model's precision at capacity divided by the
    baseline's: 1.5 means the model's top slice converts 1.5 times as often.
    """
    model_precision = model_metrics["at_capacity"]["precision"]
    baseline_precision = baseline_metrics["at_capacity"]["precision"]
    auc, baseline_auc = model_metrics.get("auc"), baseline_metrics.get("auc")
    return {
        "baseline_auc": baseline_auc,
        "auc_gain": None if auc is None or baseline_auc is None else auc - baseline_auc,
        "baseline_precision_at_capacity": baseline_precision,
        "lift_over_baseline_at_capacity": (
            model_precision / baseline_precision if baseline_precision else None
        ),
    }


def is_better(
    candidate: Mapping[str, Any],
    active: Mapping[str, Any] | None,
    *,
    auc_tolerance: float = AUC_TOLERANCE,
) -> bool:
    """Should the candidate replace the active model? Both metrics must come from the same
    holdout (score the active model on the candidate's holdout with ``evaluate``).

    - No active model: yes.
    - Candidate AUC above the active one by more than ``auc_tolerance``: yes; below by more: no.
    - AUCs within the tolerance: yes only if the candidate's log loss is strictly lower.
    - A candidate without an AUC (one-class holdout) never wins.

    When both metrics carry ``holdout.fingerprint`` they must match, or ``ValueError``.
    """
    if active is None:
        return True
    c_fp = (candidate.get("holdout") or {}).get("fingerprint")
    a_fp = (active.get("holdout") or {}).get("fingerprint")
    if c_fp and a_fp and c_fp != a_fp:
        raise ValueError("the two models were not evaluated on the same holdout")
    c_auc, a_auc = candidate.get("auc"), active.get("auc")
    if c_auc is None:
        return False
    if a_auc is None:
        return True
    if c_auc > a_auc + auc_tolerance:
        return True
    if c_auc < a_auc - auc_tolerance:
        return False
    c_loss, a_loss = candidate.get("log_loss"), active.get("log_loss")
    if c_loss is None or a_loss is None:
        return bool(c_auc > a_auc)
    return bool(c_loss < a_loss)
