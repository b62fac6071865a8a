from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from scoring.ml.conversion import (
    ConversionParams,
    NotEnoughData,
    evaluate_conversion_model,
    train_conversion_model,
)
from scoring.ml.metrics import is_better
from tests.scoring.ml.conftest import make_leads


def test_training_learns_the_signal_and_reports_holdout_metrics(trained, leads):
    _, y, _ = leads
    metrics = trained.metrics
    assert metrics["auc"] > 0.75
    assert metrics["holdout"]["method"] == "stratified"
    assert metrics["holdout"]["rows"] == pytest.approx(0.2 * len(y), abs=1)
    assert metrics["training"]["rows"] + metrics["holdout"]["rows"] == len(y)
    assert 0 <= metrics["ece"] <= 0.06
    assert metrics["log_loss"] < 0.6 and 0 < metrics["brier"] < 0.25
    assert sum(b["count"] for b in metrics["calibration_bins"]) == metrics["holdout"]["rows"]
    assert set(metrics["at_capacity"]) >= {"precision", "recall", "lift"}
    assert metrics["at_capacity"]["lift"] > 1.5


def test_holdout_rows_never_train(trained):
    split = trained.split
    assert split is not None
    assert set(split.holdout_index).isdisjoint(split.train_index)


def test_segments_and_baseline_are_measured_on_the_same_holdout(trained):
    metrics = trained.metrics
    regions = metrics["segments"]["region"]
    assert regions["emea"]["auc"] is not None
    # apac is 5% of a 400-row holdout: about 20 rows, below the minimum.
    assert regions["apac"]["auc"] is None and "skipped" in regions["apac"]
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
    weak = train_conversion_model(X[["bounce_share"]], y, params=ConversionParams(seed=1, folds=2))
    on_same = evaluate_conversion_model(weak, X.loc[holdout], y.loc[holdout])
    assert on_same["holdout"]["fingerprint"] == trained.metrics["holdout"]["fingerprint"]
    assert is_better(trained.metrics, on_same)
    assert not is_better(on_same, trained.metrics)


def test_dates_make_the_holdout_time_ordered():
    X, y, _ = make_leads(600, seed=3)
    created = pd.Series(pd.date_range("2024-01-01", periods=600, freq="6h", tz="UTC"), X.index)
    model = train_conversion_model(X, y, created_at=created, params=ConversionParams(folds=3))
    assert model.metrics["holdout"]["method"] == "time"
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


def test_training_ten_thousand_rows_takes_seconds():
    X, y, _ = make_leads(10_000, seed=5)
    started = time.perf_counter()
    model = train_conversion_model(X, y)
    elapsed = time.perf_counter() - started
    assert model.metrics["auc"] > 0.75
    # Generous for a shared 2-core machine; it takes about a second when idle.
    assert elapsed < 30
