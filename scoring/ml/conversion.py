"""The calibrated conversion model: train, predict, explain, evaluate.

Training (``train_conversion_model``):

1. Split off the holdout (``dataset.holdout_split``: newest rows by date, else stratified).
2. Fix the feature schema on the training part (levels seen at least ``min_level_count`` times).
3. K-fold cross-validation on the training part only: each fold trains a booster with early
   stopping on its held-out fold, which yields out-of-fold probabilities for every training row
   and a best round count per fold.
4. Fit the calibrator on those out-of-fold probabilities (scores no booster trained on).
5. Train the final booster on the whole training part for the folds' mean round count. (An
   average of the fold boosters scored the same on the datasets, within 0.0003 AUC, and cost
   four times as much to predict and explain.)
6. Score the holdout once, for the metrics. Nothing in steps 2 to 5 sees the holdout.
7. Stratified holdout only (the data has no usable dates), and unless
   ``cross_validate_holdout`` is off: the holdout is cross-validated. The training part is cut
   into the other folds of the same keyed split (five folds in all at a 20% holdout); steps 2
   to 5 run again with each of them held out, and that fold is scored by the model trained
   without it. The headline metrics are then over every row, each scored by a model that never
   saw it; those extra models are discarded. Why: one random draw of a fifth of a few thousand
   rows moves the AUC by about ±0.01 from draw to draw (X Education: 0.894 to 0.914 over five
   seeds), which is as much as the gains a retrain is judged on; over all five folds it moved
   by under 0.001. The first fold is the fixed holdout, and promotion still compares the
   candidate and the active model on it (``metrics["promotion_holdout"]``), because the active
   model trained on the other folds. A time-ordered holdout is not cross-validated: its point
   is to score the newest leads with a model trained only on older ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from scoring.ml import metrics as m
from scoring.ml.calibration import Calibrator, fit_calibrator
from scoring.ml.dataset import (
    FeatureSchema,
    HoldoutSplit,
    holdout_split,
    index_fingerprint,
    keyed_folds,
    stratified_folds,
)

MIN_ROWS = 50
MIN_PER_CLASS = 10


class NotEnoughData(ValueError):
    """Too few rows or outcomes to train (the message says which)."""


@dataclass(frozen=True)
class ConversionParams:
    """Training settings. The defaults were chosen by cross-validation on training parts only."""

    max_depth: int = 4
    learning_rate: float = 0.05
    min_child_weight: float = 3.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    max_rounds: int = 2000
    early_stopping_rounds: int = 50
    folds: int = 4
    # "platt", "isotonic" or "none". Over 20 holdouts of each real dataset Platt's expected
    # calibration error was as low as isotonic's on average and lower in the worst case (0.026
    # against 0.029), and a strictly increasing map never ties distinct scores.
    calibration: str = "platt"
    min_level_count: int = 10
    holdout_fraction: float = 0.2
    # Stratified holdouts only: score every row out of fold instead of one fifth of them (the
    # module docstring, step 7). Costs one more training per extra fold.
    cross_validate_holdout: bool = True
    capacity: float = m.DEFAULT_CAPACITY
    nthread: int = 2
    seed: int = 0

    def booster_params(self) -> dict[str, Any]:
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "nthread": self.nthread,
            "seed": self.seed,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConversionParams:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def _dmatrix(X: pd.DataFrame, label: np.ndarray | None = None, nthread: int = 2) -> xgb.DMatrix:
    return xgb.DMatrix(X, label=label, enable_categorical=True, nthread=nthread)


@dataclass
class TrainedConversionModel:
    """A trained, calibrated conversion model.

    ``predict_proba`` gives calibrated probabilities; ``contributions`` gives the signed SHAP
    contributions in log-odds of the uncalibrated booster (they plus ``bias`` sum to its
    log-odds; calibration is monotonic, so a positive contribution always pushes the probability
    up). ``split`` is only set on a freshly trained model (not stored in the artifact).
    """

    booster: xgb.Booster
    calibrator: Calibrator
    schema: FeatureSchema
    params: dict[str, Any]
    metrics: dict[str, Any]
    split: HoldoutSplit | None = field(default=None, repr=False)
    kind: str = "conversion"

    @property
    def feature_names(self) -> list[str]:
        return self.schema.names

    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` in the training layout (see ``FeatureSchema.prepare``)."""
        return self.schema.prepare(X)

    def _dmatrix(self, X: pd.DataFrame) -> xgb.DMatrix:
        return _dmatrix(self.prepare(X), nthread=int(self.params.get("nthread", 2)))

    def predict_margin(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds."""
        if len(X) == 0:
            return np.zeros(0)
        return np.asarray(self.booster.predict(self._dmatrix(X), output_margin=True), np.float64)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability."""
        return np.asarray(1 / (1 + np.exp(-self.predict_margin(X))))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated conversion probability per row, in (0, 1)."""
        if len(X) == 0:
            return np.zeros(0)
        return self.calibrator.transform(self.predict_raw(X))

    def contributions(self, X: pd.DataFrame, *, approximate: bool = False) -> pd.DataFrame:
        """Signed per-feature contributions (log-odds), one column per feature plus ``bias``.

        Exact TreeSHAP by default (a few thousand rows a second on 2 cores).
        ``approximate=True`` uses XGBoost's Saabas approximation, about 20 times faster, for
        bulk re-scoring: same signs for the strong factors in practice, same sum.
        """
        columns = [*self.feature_names, "bias"]
        if len(X) == 0:
            return pd.DataFrame(columns=columns, dtype="float64")
        values = self.booster.predict(
            self._dmatrix(X), pred_contribs=True, approx_contribs=approximate
        )
        return pd.DataFrame(np.asarray(values, np.float64), index=X.index, columns=columns)


def _validate(X: pd.DataFrame, y: pd.Series) -> pd.Series:
    if len(X) != len(y) or not X.index.equals(y.index):
        raise ValueError("X and y must share their index")
    y = pd.Series(np.asarray(y, dtype=np.float64), index=y.index)
    if y.isna().any() or not y.isin((0.0, 1.0)).all():
        raise ValueError("y must be 0/1 without missing values")
    positives = int(y.sum())
    negatives = len(y) - positives
    if len(y) < MIN_ROWS:
        raise NotEnoughData(f"{len(y)} rows; at least {MIN_ROWS} are needed")
    if min(positives, negatives) < MIN_PER_CLASS:
        raise NotEnoughData(
            f"{positives} converted and {negatives} not; at least {MIN_PER_CLASS} of each"
        )
    return y.astype(np.int64)


def _cross_validate(
    X: pd.DataFrame, y: np.ndarray, params: ConversionParams
) -> tuple[np.ndarray, list[int]]:
    """Out-of-fold probabilities and the early-stopped round count of each fold."""
    n_folds = max(2, min(params.folds, int(min(np.bincount(y)))))
    folds = stratified_folds(y, n_folds=n_folds, seed=params.seed)
    oof = np.zeros(len(y))
    rounds: list[int] = []
    for k in range(n_folds):
        fit, held = folds != k, folds == k
        d_fit = _dmatrix(X[fit], y[fit], params.nthread)
        d_held = _dmatrix(X[held], y[held], params.nthread)
        booster = xgb.train(
            params.booster_params(),
            d_fit,
            num_boost_round=params.max_rounds,
            evals=[(d_held, "held")],
            early_stopping_rounds=params.early_stopping_rounds,
            verbose_eval=False,
        )
        best = booster.best_iteration + 1
        oof[held] = booster.predict(d_held, iteration_range=(0, best))
        rounds.append(best)
    return oof, rounds


def evaluate_conversion_model(
    model: TrainedConversionModel,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    segments: pd.DataFrame | None = None,
    baseline_score: pd.Series | None = None,
    capacity: float = m.DEFAULT_CAPACITY,
    split: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Metrics of ``model`` on the rows of ``X`` (a holdout), with the holdout fingerprint.

    Use it to score the active model on a candidate's holdout before ``metrics.is_better``.
    ``baseline_score`` (e.g. the point score, any scale) adds ``baseline`` metrics and
    ``baseline_auc`` / ``lift_over_baseline_at_capacity``. ``split`` overrides the ``holdout``
    description (default: just the rows and their fingerprint).
    """
    p = pd.Series(model.predict_proba(X), index=X.index)
    return _metrics_of_scores(
        y, p, segments=segments, baseline_score=baseline_score, capacity=capacity, split=split
    )


def _metrics_of_scores(
    y: pd.Series,
    p: pd.Series,
    *,
    segments: pd.DataFrame | None,
    baseline_score: pd.Series | None,
    capacity: float,
    split: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``evaluate_conversion_model``'s metrics for probabilities ``p`` already computed."""
    index = p.index
    y_arr = np.asarray(y.reindex(index), dtype=np.float64)
    seg = None if segments is None else segments.reindex(index)
    result = m.score_metrics(y_arr, p.to_numpy(), capacity=capacity, segments=seg)
    result["holdout"] = (
        dict(split)
        if split is not None
        else {
            "rows": len(index),
            "positives": int(y_arr.sum()),
            "fingerprint": index_fingerprint(index),
        }
    )
    if baseline_score is not None:
        baseline = m.score_metrics(
            y_arr,
            np.asarray(baseline_score.reindex(index).fillna(0.0), dtype=np.float64),
            probability=False,
            capacity=capacity,
            segments=seg,
        )
        result["baseline"] = baseline
        result.update(m.baseline_comparison(result, baseline))
    return result


@dataclass
class _Fitted:
    booster: xgb.Booster
    calibrator: Calibrator
    schema: FeatureSchema
    oof: np.ndarray
    rounds: list[int]

    def model(
        self, params: ConversionParams, split: HoldoutSplit | None = None
    ) -> TrainedConversionModel:
        return TrainedConversionModel(
            booster=self.booster,
            calibrator=self.calibrator,
            schema=self.schema,
            params=params.to_dict(),
            metrics={},
            split=split,
        )


def _fit(X: pd.DataFrame, y: pd.Series, params: ConversionParams) -> _Fitted:
    """Steps 2 to 5 of the module docstring on the rows given, and nothing else."""
    schema = FeatureSchema.fit(X, min_level_count=params.min_level_count)
    X_fit = schema.prepare(X)
    y_arr = y.to_numpy()
    oof, rounds = _cross_validate(X_fit, y_arr, params)
    booster = xgb.train(
        params.booster_params(),
        _dmatrix(X_fit, y_arr, params.nthread),
        num_boost_round=max(1, round(float(np.mean(rounds)))),
    )
    calibrator = fit_calibrator(oof, y_arr, method=params.calibration)
    return _Fitted(booster, calibrator, schema, oof, rounds)


def train_conversion_model(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    created_at: pd.Series | None = None,
    split_keys: pd.Series | None = None,
    segments: pd.DataFrame | None = None,
    baseline_score: pd.Series | None = None,
    params: ConversionParams | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainedConversionModel:
    """Train and evaluate the calibrated conversion model (see the module docstring).

    ``X``: one row per lead, numeric or ``category`` columns (``dataset.frame_types`` produces
    them); ``y``: 0/1 on the same index; ``created_at``: optional dates for a time-ordered
    holdout; ``split_keys``: optional stable identities (emails) that a stratified holdout
    hashes instead of the index; ``segments``: optional columns (region, size band, ...) for AUC
    per segment; ``baseline_score``: optional other score (the point score) measured on the
    same holdout; ``progress``: called with a line of text as each stage starts. Raises
    ``NotEnoughData`` below ``MIN_ROWS`` rows or ``MIN_PER_CLASS`` rows of a class.
    """
    params = params or ConversionParams()
    say = progress or (lambda _: None)
    started = time.perf_counter()
    y = _validate(X, y)
    split = holdout_split(
        y,
        created_at=created_at,
        fraction=params.holdout_fraction,
        seed=params.seed,
        keys=split_keys,
    )
    y_train = y.loc[split.train_index]
    if min(int(y_train.sum()), len(y_train) - int(y_train.sum())) < MIN_PER_CLASS // 2:
        raise NotEnoughData("too few rows of one class left for training after the holdout")
    cross_validated = split.method == "stratified" and params.cross_validate_holdout
    n_folds = max(2, round(1 / params.holdout_fraction)) if cross_validated else 1
    if cross_validated:
        say(f"Training the model (fold 1 of {n_folds}, the fixed holdout)")
    fitted = _fit(X.loc[split.train_index], y_train, params)
    model = fitted.model(params, split)
    holdout_scores = pd.Series(
        model.predict_proba(X.loc[split.holdout_index]), index=split.holdout_index
    )

    def metrics_of(scores: pd.Series, description: Mapping[str, Any]) -> dict[str, Any]:
        return _metrics_of_scores(
            y,
            scores,
            segments=segments,
            baseline_score=baseline_score,
            capacity=params.capacity,
            split=description,
        )

    if not cross_validated:
        metrics = metrics_of(holdout_scores, split.describe(y))
    else:
        # Only the first fold's own figures are kept (promotion compares on them): no segment
        # or baseline pass over it, and its AUC is the first of the folds'.
        fixed = m.score_metrics(
            y.loc[split.holdout_index].to_numpy(),
            holdout_scores.to_numpy(),
            capacity=params.capacity,
        )
        scores, fold_aucs = _cross_validated_scores(
            X,
            y,
            split,
            holdout_scores,
            fixed["auc"],
            n_folds=n_folds,
            keys=split_keys,
            params=params,
            say=say,
        )
        metrics = metrics_of(
            scores,
            {
                "method": "cross-validated",
                "reason": f"{split.reason}; cross-validated over {n_folds} folds",
                "cutoff": None,
                "rows": len(scores),
                "positives": int(y.sum()),
                "training_rows": len(split.train_index),
                "folds": n_folds,
                "fold_auc": fold_aucs,
                "fingerprint": index_fingerprint(scores.index),
            },
        )
        metrics["promotion_holdout"] = {
            **{name: fixed[name] for name in ("auc", "log_loss", "brier", "ece")},
            "holdout": split.describe(y),
        }
    metrics["training"] = {
        "rows": len(y_train),
        "positives": int(y_train.sum()),
        "cv_auc": m.roc_auc(y_train.to_numpy(), fitted.oof),
        "cv_rounds": fitted.rounds,
        "rounds": model.booster.num_boosted_rounds(),
        "calibration": params.calibration,
        "features": len(fitted.schema.features),
        "seconds": round(time.perf_counter() - started, 3),
    }
    model.metrics = metrics
    return model


def _cross_validated_scores(
    X: pd.DataFrame,
    y: pd.Series,
    split: HoldoutSplit,
    holdout_scores: pd.Series,
    first_auc: float | None,
    *,
    n_folds: int,
    keys: pd.Series | None,
    params: ConversionParams,
    say: Callable[[str], None],
) -> tuple[pd.Series, list[float | None]]:
    """Every row's probability from a model trained without it, and the AUC of each fold.

    Fold 1 is the fixed holdout, already scored by the final model (its AUC is
    ``first_auc``); the training part is cut into the other folds with the same keyed hashing,
    and each is scored by a model trained on every other fold.
    """
    parts = keyed_folds(y.loc[split.train_index], n_folds=n_folds - 1, seed=params.seed, keys=keys)
    scores = [holdout_scores]
    fold_aucs = [first_auc]
    for part in range(n_folds - 1):
        say(f"Cross-validating the holdout (fold {part + 2} of {n_folds})")
        held = parts.index[parts.to_numpy() == part]
        rest = y.index.difference(held, sort=False)
        p = _fit(X.loc[rest], y.loc[rest], params).model(params).predict_proba(X.loc[held])
        scores.append(pd.Series(p, index=held))
        fold_aucs.append(m.roc_auc(y.loc[held].to_numpy(), p))
    return pd.concat(scores).reindex(y.index), fold_aucs
