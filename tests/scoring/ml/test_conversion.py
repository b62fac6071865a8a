from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.ml.conversion import (
    ConversionParams,
    NotEnoughData,
    evaluate_conversion_model,
    train_conversion_model,
)
from scoring.ml.metrics import is_better, roc_auc
from tests.scoring.ml.conftest import make_leads


def test_training_learns_the_signal_and_reports_holdout_metrics(trained, leads):
    _, y, _ = leads
    metrics = trained.metrics
    assert metrics["auc"] > 0.75
    # No dates: every row is held out once, the fixed fifth by the model itself.
    assert metrics["holdout"]["method"] == "cross-validated"
    assert metrics["holdout"]["rows"] == len(y)
    assert metrics["holdout"]["folds"] == 5
    assert len(metrics["holdout"]["fold_auc"]) == 5
    assert all(a > 0.7 for a in metrics["holdout"]["fold_auc"])
    fixed = metrics["promotion_holdout"]
    assert fixed["holdout"]["method"] == "stratified"
    assert fixed["holdout"]["rows"] == pytest.approx(0.2 * len(y), abs=1)
    assert fixed["auc"] == metrics["holdout"]["fold_auc"][0]
    assert metrics["training"]["rows"] + fixed["holdout"]["rows"] == len(y)
    assert 0 <= metrics["ece"] <= 0.06
    assert metrics["log_loss"] < 0.6 and 0 < metrics["brier"] < 0.25
    assert sum(b["count"] for b in metrics["calibration_bins"]) == len(y)
    assert set(metrics["at_capacity"]) >= {"precision", "recall", "lift"}
    assert metrics["at_capacity"]["lift"] > 1.5


def test_holdout_rows_never_train(trained):
    split = trained.split
    assert split is not None
    assert set(split.holdout_index).isdisjoint(split.train_index)


def test_the_fixed_holdout_metrics_are_the_final_models_own(trained, leads):
    X, y, _ = leads
    holdout = trained.split.holdout_index
    again = evaluate_conversion_model(trained, X.loc[holdout], y.loc[holdout])
    fixed = trained.metrics["promotion_holdout"]
    assert again["auc"] == pytest.approx(fixed["auc"])
    assert again["log_loss"] == pytest.approx(fixed["log_loss"])
    assert again["holdout"]["fingerprint"] == fixed["holdout"]["fingerprint"]


def test_cross_validation_scores_each_row_with_a_model_that_never_saw_it():
    # Pure noise with a unique value per row: a booster that had seen a row would recognise
    # it (the final model scores its own training rows far above chance), so only scores
    # from models trained without the row stay near 0.5.
    rng = np.random.default_rng(11)
    n = 1500
    index = pd.Index(np.arange(n), name="lead_id")
    X = pd.DataFrame({"a": rng.random(n), "b": rng.random(n), "c": rng.random(n)}, index=index)
    y = pd.Series((rng.random(n) < 0.4).astype(int), index=index)
    params = ConversionParams(seed=2, max_depth=8, min_child_weight=0.1, early_stopping_rounds=200)
    model = train_conversion_model(X, y, params=params)
    assert model.split is not None
    train = model.split.train_index
    in_sample = roc_auc(y.loc[train].to_numpy(), model.predict_proba(X.loc[train]))
    assert in_sample is not None and in_sample > 0.75
    assert model.metrics["auc"] == pytest.approx(0.5, abs=0.05)
    assert all(abs(a - 0.5) < 0.1 for a in model.metrics["holdout"]["fold_auc"])


def test_a_single_holdout_can_be_asked_for(leads):
    X, y, segments = leads
    model = train_conversion_model(
        X,
        y,
        segments=segments,
        params=ConversionParams(seed=1, folds=2, cross_validate_holdout=False),
    )
    assert model.metrics["holdout"]["method"] == "stratified"
    assert model.metrics["holdout"]["rows"] == pytest.approx(0.2 * len(y), abs=1)
    assert "promotion_holdout" not in model.metrics
    # apac is 5% of a 400-row holdout: about 20 rows, below the minimum for its own AUC.
    apac = model.metrics["segments"]["region"]["apac"]
    assert apac["auc"] is None and "skipped" in apac


def test_segments_and_baseline_are_measured_on_the_same_holdout(trained):
    metrics = trained.metrics
    regions = metrics["segments"]["region"]
    assert regions["emea"]["auc"] is not None
    # Every row is scored, so even apac (5% of 2,000 leads) has enough rows for its own AUC.
    assert regions["apac"]["rows"] == pytest.approx(100, abs=30)
    assert regions["apac"]["auc"] is not None
    assert metrics["baseline"]["rows"] == metrics["rows"]
    assert metrics["baseline_auc"] < metrics["auc"]
    assert metrics["lift_over_baseline_at_capacity"] is not None


def test_probabilities_are_calibrated_numbers_between_zero_and_one(trained, leads):
    X, _, _ = leads
    p = trained.predict_proba(X)
    assert p.shape == (len(X),)
    assert np.all((p > 0) & (p < 1))


def test_contributions_are_signed_and_sum_to_the_log_odds(trained, leads):
    X, _, _ = leads
    sample = X.iloc[:50]
    contributions = trained.contributions(sample)
    assert list(contributions.columns) == [*trained.feature_names, "bias"]
    assert np.allclose(contributions.sum(axis=1), trained.predict_margin(sample), atol=1e-4)
    # More pricing visits push towards converting.
    pv = contributions["pricing_visits"]
    assert pv[sample["pricing_visits"] >= 4].mean() > 0 > pv[sample["pricing_visits"] == 0].mean()


def test_approximate_contributions_also_sum_to_the_log_odds(trained, leads):
    X, _, _ = leads
    sample = X.iloc[:50]
    fast = trained.contributions(sample, approximate=True)
    assert np.allclose(fast.sum(axis=1), trained.predict_margin(sample), atol=1e-4)


def test_serving_frames_with_new_levels_reordered_columns_or_text_categories_work(trained, leads):
    X, _, _ = leads
    rows = X.iloc[:3]
    serving = rows[list(reversed(X.columns))].copy()
    serving["source"] = ["webinar", "referral", None]  # unseen, known, missing as plain text
    p = trained.predict_proba(serving)
    assert p.shape == (3,) and np.all(np.isfinite(p))
    known = rows.iloc[[1]].assign(source=pd.Categorical(["referral"]))
    assert p[1] == pytest.approx(trained.predict_proba(known)[0])


def test_evaluating_another_model_on_the_same_holdout_allows_promotion(trained, leads):
    X, y, _ = leads
    holdout = trained.split.holdout_index
    weak = train_conversion_model(
        X[["bounce_share"]],
        y,
        params=ConversionParams(seed=1, folds=2, cross_validate_holdout=False),
    )
    on_same = evaluate_conversion_model(weak, X.loc[holdout], y.loc[holdout])
    fixed = trained.metrics["promotion_holdout"]
    assert on_same["holdout"]["fingerprint"] == fixed["holdout"]["fingerprint"]
    assert is_better(fixed, on_same)
    assert not is_better(on_same, fixed)
    # The cross-validated figures cover other rows: comparing them would be refused.
    with pytest.raises(ValueError, match="same holdout"):
        is_better(trained.metrics, on_same)


def test_dates_make_the_holdout_time_ordered():
    X, y, _ = make_leads(600, seed=3)
    created = pd.Series(pd.date_range("2024-01-01", periods=600, freq="6h", tz="UTC"), X.index)
    model = train_conversion_model(X, y, created_at=created, params=ConversionParams(folds=3))
    # The newest leads scored by a model trained on older ones only: never cross-validated.
    assert model.metrics["holdout"]["method"] == "time"
    assert "promotion_holdout" not in model.metrics
    assert model.split is not None
    assert created.loc[model.split.holdout_index].min() > created.loc[model.split.train_index].max()


def test_too_few_rows_or_outcomes_raise_not_enough_data():
    X, y, _ = make_leads(40)
    with pytest.raises(NotEnoughData, match="40 rows"):
        train_conversion_model(X, y)
    X, y, _ = make_leads(500)
    y[:] = 0
    y.iloc[:5] = 1
    with pytest.raises(NotEnoughData, match="5 converted"):
        train_conversion_model(X, y)


def test_labels_must_be_zero_or_one():
    X, y, _ = make_leads(200)
    with pytest.raises(ValueError, match="0/1"):
        train_conversion_model(X, y * 2)
