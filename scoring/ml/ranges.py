"""Ranges by quantile regression: days to close and deal size, as low / median / high.

One XGBoost model predicts the three quantiles together (``reg:quantileerror`` with
``quantile_alpha=[0.1, 0.5, 0.9]`` by default). It is trained on converted (won) rows only: the
caller passes those rows and their days to close or deal amount.

The target is modelled as ``log1p(target)`` by default: days and amounts are skewed and
non-negative, and a quantile of the log is the log of the quantile, so nothing is lost by
transforming back. Predictions are sorted per row, so low <= mid <= high always holds, even
where the separately fitted quantiles would cross.

Too few rows is not an error: ``train_range_model`` returns a ``RangeTraining`` whose ``model``
is ``None`` and whose ``reason`` says why.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from scoring.ml.dataset import FeatureSchema, HoldoutSplit, holdout_split, stratified_folds

MIN_ROWS = 30
# Below this many rows every row trains and the metrics have no holdout.
MIN_ROWS_FOR_HOLDOUT = 100
COLUMNS = ("low", "mid", "high")


@dataclass(frozen=True)
class RangeParams:
    quantiles: tuple[float, float, float] = (0.1, 0.5, 0.9)
    log_target: bool = True
    max_depth: int = 3
    learning_rate: float = 0.05
    min_child_weight: float = 3.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    max_rounds: int = 500
    early_stopping_rounds: int = 50
    min_level_count: int = 5
    holdout_fraction: float = 0.2
    nthread: int = 2
    seed: int = 0

    def booster_params(self) -> dict[str, Any]:
        return {
            "objective": "reg:quantileerror",
            "quantile_alpha": np.array(self.quantiles),
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "nthread": self.nthread,
            "seed": self.seed,
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["quantiles"] = list(self.quantiles)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RangeParams:
        known = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in known}
        if "quantiles" in values:
            low, mid, high = (float(q) for q in values["quantiles"])
            values["quantiles"] = (low, mid, high)
        return cls(**values)


@dataclass
class TrainedRangeModel:
    """Predicts low / mid (median) / high of a quantity >= 0 (``kind``: timeline, deal_size)."""

    booster: xgb.Booster
    schema: FeatureSchema
    params: dict[str, Any]
    metrics: dict[str, Any]
    kind: str = "range"
    split: HoldoutSplit | None = field(default=None, repr=False)

    @property
    def feature_names(self) -> list[str]:
        return self.schema.names

    def predict_range(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns ``low``, ``mid`` (the median), ``high`` per row, ordered and non-negative."""
        if len(X) == 0:
            return pd.DataFrame(columns=list(COLUMNS), dtype="float64")
        dm = xgb.DMatrix(
            self.schema.prepare(X), enable_categorical=True, nthread=self.params.get("nthread", 2)
        )
        raw = np.asarray(self.booster.predict(dm), dtype=np.float64).reshape(len(X), -1)
        values = np.expm1(raw) if self.params.get("log_target", True) else raw
        values = np.sort(np.clip(values, 0.0, None), axis=1)
        return pd.DataFrame(values, index=X.index, columns=list(COLUMNS))


@dataclass(frozen=True)
class RangeTraining:
    """The outcome of ``train_range_model``: a model, or ``None`` and the reason."""

    model: TrainedRangeModel | None
    reason: str = ""


def pinball_loss(y: np.ndarray, q: np.ndarray, alpha: float) -> float:
    diff = y - q
    return float(np.mean(np.maximum(alpha * diff, (alpha - 1) * diff)))


def range_metrics(
    y: np.ndarray, predicted: pd.DataFrame, quantiles: tuple[float, float, float]
) -> dict[str, Any]:
    """Coverage of [low, high], pinball loss per quantile, and the median's absolute error."""
    y = np.asarray(y, dtype=np.float64)
    low, mid, high = (predicted[c].to_numpy() for c in COLUMNS)
    return {
        "rows": len(y),
        "coverage": float(np.mean((y >= low) & (y <= high))) if len(y) else None,
        "expected_coverage": quantiles[2] - quantiles[0],
        "pinball": {
            str(a): pinball_loss(y, q, a) for a, q in zip(quantiles, (low, mid, high), strict=True)
        },
        "median_absolute_error": float(np.median(np.abs(y - mid))) if len(y) else None,
        "mean_width": float(np.mean(high - low)) if len(y) else None,
    }


def train_range_model(
    X: pd.DataFrame,
    target: pd.Series,
    *,
    kind: str,
    created_at: pd.Series | None = None,
    params: RangeParams | None = None,
) -> RangeTraining:
    """Train the quantile model on rows of ``X`` with a known ``target`` (>= 0).

    Pass converted rows only. Rows whose target is missing are dropped first. With fewer than
    ``MIN_ROWS`` rows, returns ``RangeTraining(None, reason)``.
    """
    params = params or RangeParams()
    started = time.perf_counter()
    if not X.index.equals(target.index):
        raise ValueError("X and target must share their index")
    values = pd.to_numeric(target, errors="coerce").astype("float64")
    if (values < 0).any():
        raise ValueError("the target must not be negative")
    known = values.dropna()
    if len(known) < MIN_ROWS:
        return RangeTraining(None, f"{len(known)} rows with a known value; {MIN_ROWS} needed")
    if known.nunique() < 2:
        return RangeTraining(None, "every row has the same value; there is no range to learn")
    X = X.loc[known.index]

    split: HoldoutSplit | None = None
    if len(known) >= MIN_ROWS_FOR_HOLDOUT:
        # Stratifying on above/below the median keeps both halves of the distribution in the
        # holdout.
        strata = (known > known.median()).astype(np.int64)
        split = holdout_split(
            strata,
            created_at=None if created_at is None else created_at.reindex(known.index),
            fraction=params.holdout_fraction,
            seed=params.seed,
        )
        train_index = split.train_index
    else:
        train_index = known.index

    schema = FeatureSchema.fit(X.loc[train_index], min_level_count=params.min_level_count)
    X_train = schema.prepare(X.loc[train_index])
    y_train = known.loc[train_index].to_numpy()
    label = np.log1p(y_train) if params.log_target else y_train

    # Early stopping on a fifth of the training part; the holdout is never looked at.
    stop_fold = (
        stratified_folds(
            (y_train > np.median(y_train)).astype(np.int64), n_folds=5, seed=params.seed
        )
        == 0
    )
    d_fit = xgb.DMatrix(
        X_train[~stop_fold],
        label=label[~stop_fold],
        enable_categorical=True,
        nthread=params.nthread,
    )
    d_stop = xgb.DMatrix(
        X_train[stop_fold],
        label=label[stop_fold],
        enable_categorical=True,
        nthread=params.nthread,
    )
    booster = xgb.train(
        params.booster_params(),
        d_fit,
        num_boost_round=params.max_rounds,
        evals=[(d_stop, "stop")],
        early_stopping_rounds=params.early_stopping_rounds,
        verbose_eval=False,
    )
    rounds = booster.best_iteration + 1
    booster = booster[:rounds]
    model = TrainedRangeModel(
        booster=booster, schema=schema, params=params.to_dict(), metrics={}, kind=kind, split=split
    )
    if split is not None:
        y_hold = known.loc[split.holdout_index].to_numpy()
        metrics = range_metrics(
            y_hold, model.predict_range(X.loc[split.holdout_index]), params.quantiles
        )
        metrics["holdout"] = split.describe(pd.Series(0, index=known.index))
        metrics["holdout"].pop("positives", None)
    else:
        metrics = {"holdout": None, "reason": f"fewer than {MIN_ROWS_FOR_HOLDOUT} rows"}
    metrics["training"] = {
        "rows": len(y_train),
        "rounds": rounds,
        "seconds": round(time.perf_counter() - started, 3),
    }
    model.metrics = metrics
    return RangeTraining(model)
