"""The machine-learning core: pure functions over pandas and numpy, XGBoost underneath.

No Django, no ORM, no settings: callers (``scoring.services``) load rows, build the feature frame
(``scoring.features``), call in here, and store what comes back (``ModelVersion``).

Typing a table (``dataset``)
    ``frame_types(df, exclude=[...]) -> TypedFrame(frame, kinds, dropped)`` types any imported
    table the same way: booleans (yes/no, true/false, 1/0) and numbers become float, text becomes
    a pandas ``category``, placeholders such as "Select" and empty cells become missing, ids and
    free text are dropped. The rules are in ``dataset``'s docstring.

Conversion probability (``conversion``)
    ``train_conversion_model(X, y, created_at=None, segments=None, baseline_score=None,
    params=ConversionParams()) -> TrainedConversionModel``

    - ``X``: one row per lead; float columns or ``category`` columns (native XGBoost
      categoricals, ``tree_method="hist"``). ``y``: 0/1 on the same index. The index should be
      the lead id: the stratified holdout is keyed on it, so a lead keeps its side across retrains.
    - Holdout: the newest 20% by ``created_at`` when dates exist and are spread (90% of rows
      dated, 14 distinct days, both classes on both sides), else stratified random with a fixed
      seed, cross-validated over the five folds of the same keyed split unless
      ``params.cross_validate_holdout`` is off (``metrics["holdout"]["method"]``: ``time``,
      ``cross-validated`` or ``stratified``, with the reason). Cross-validated metrics are over
      every row; ``metrics["promotion_holdout"]`` keeps the first fold's own, which promotion
      compares on.
    - Training part only: 4-fold cross-validation with early stopping; the out-of-fold scores fit
      the calibrator (Platt by default; isotonic by pool-adjacent-violators on request); the
      final booster trains on the whole training part for the folds' mean round count.
    - ``model.predict_proba(X)`` -> calibrated probabilities; ``model.contributions(X)`` ->
      DataFrame of signed SHAP contributions in log-odds (XGBoost's ``pred_contribs``), one
      column per feature plus ``bias`` (``approximate=True``: Saabas, ~20x faster, for bulk);
      ``model.schema`` -> feature names, kinds and category levels (serving-time categories map
      to the training codes, unseen ones become missing); ``model.params``; ``model.metrics``.
    - Raises ``NotEnoughData`` under 50 rows or 10 of a class.

Metrics (``metrics``; ``model.metrics`` has this shape, JSON-ready, ``None`` never NaN)
    ``auc``, ``log_loss``, ``brier``, ``ece``, ``calibration_bins`` (10 bins: lower, upper,
    count, mean_predicted, observed_rate), ``at_capacity`` (capacity, rows, precision, recall,
    lift; default top 10%), ``segments`` ({column: {level: {rows, positives, auc[, skipped]}}};
    levels under 30 rows or with one class are skipped), ``rows``, ``positives``, ``base_rate``,
    ``holdout`` (method, reason, cutoff, rows, positives, training_rows, fingerprint; when
    cross-validated also folds and fold_auc), ``promotion_holdout`` (cross-validated only:
    auc, log_loss, brier, ece and holdout of the first fold),
    ``training`` (rows, positives, cv_auc, cv_rounds, rounds, calibration, features, seconds).
    With a ``baseline_score``: ``baseline`` (the ranking metrics of the point score on the same
    holdout),
    ``baseline_auc``, ``auc_gain``, ``baseline_precision_at_capacity``,
    ``lift_over_baseline_at_capacity``.
    ``score_metrics(y, score, probability=...)`` computes the same for any score.

Promotion (``metrics.is_better``)
    ``is_better(candidate_metrics, active_metrics)``: compare on the same holdout (score the
    active model on the candidate's holdout rows with ``evaluate_conversion_model``; the
    holdout fingerprints must match; pass ``promotion_holdout`` for a cross-validated one).
    Higher AUC wins when the gap exceeds 0.002; within that, the lower log loss wins. No active
    model: the candidate wins.

Ranges (``ranges``)
    ``train_range_model(X, target, kind="timeline"|"deal_size", created_at=None) ->
    RangeTraining(model | None, reason)``: XGBoost multi-quantile regression
    (``reg:quantileerror``, alphas 0.1/0.5/0.9 in one model) on converted rows only;
    ``model.predict_range(X)`` -> DataFrame ``low``, ``mid`` (median), ``high`` (ordered,
    >= 0); ``model.metrics``: holdout coverage of [low, high], pinball loss per quantile,
    median absolute error. Under 30 rows: ``model`` is ``None`` and ``reason`` says why.

Explanations (``explain``)
    ``top_factors(contributions_row, values_row, n=5) -> Factors(positive, negative, bias)``,
    each a ``Factor(feature, value, contribution)``, strongest first; ``contributions_record``
    for storing one row as JSON.

Artifacts (``artifact``)
    ``dump(model) -> bytes`` and ``load(bytes) -> model``: a zip of a JSON manifest (schema,
    calibrator, params, metrics) and XGBoost's own UBJSON boosters; no pickle.
    ``load_conversion`` / ``load_range`` also check the model type.
"""

from __future__ import annotations

import os

# XGBoost's OpenMP threads spin while they wait by default. On a small shared machine (2 cores,
# web, worker and database beside them) that made a 2-second training take 14 seconds, and over
# 100 under heavier load; passive waiting keeps it near 2. It only takes effect if set before
# libgomp loads, which is here: nothing else in the project imports xgboost. An explicit
# setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from scoring.ml.artifact import ArtifactError, dump, load, load_conversion, load_range
from scoring.ml.conversion import (
    ConversionParams,
    NotEnoughData,
    TrainedConversionModel,
    evaluate_conversion_model,
    train_conversion_model,
)
from scoring.ml.dataset import (
    ColumnKind,
    FeatureSchema,
    HoldoutSplit,
    TypedFrame,
    frame_types,
    holdout_split,
)
from scoring.ml.explain import Factor, Factors, contributions_record, top_factors
from scoring.ml.metrics import baseline_comparison, is_better, score_metrics
from scoring.ml.ranges import RangeParams, RangeTraining, TrainedRangeModel, train_range_model

__all__ = [
    "ArtifactError",
    "ColumnKind",
    "ConversionParams",
    "Factor",
    "Factors",
    "FeatureSchema",
    "HoldoutSplit",
    "NotEnoughData",
    "RangeParams",
    "RangeTraining",
    "TrainedConversionModel",
    "TrainedRangeModel",
    "TypedFrame",
    "baseline_comparison",
    "contributions_record",
    "dump",
    "evaluate_conversion_model",
    "frame_types",
    "holdout_split",
    "is_better",
    "load",
    "load_conversion",
    "load_range",
    "score_metrics",
    "top_factors",
    "train_conversion_model",
    "train_range_model",
]
