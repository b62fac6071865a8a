from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.ml.ranges import train_range_model
from tests.scoring.ml.conftest import make_leads


def _deal_sizes(X: pd.DataFrame, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    base = 20_000 * np.exp(0.3 * X["pricing_visits"].to_numpy() + rng.normal(0, 0.5, len(X)))
    return pd.Series(base, index=X.index)


def test_ranges_are_ordered_non_negative_and_cover_about_eighty_percent():
    X, _, _ = make_leads(1500, seed=2)
    training = train_range_model(X, _deal_sizes(X), kind="deal_size")
    model = training.model
    assert model is not None and training.reason == ""
    ranges = model.predict_range(X)
    assert list(ranges.columns) == ["low", "mid", "high"]
    assert (ranges["low"] <= ranges["mid"]).all() and (ranges["mid"] <= ranges["high"]).all()
    assert (ranges["low"] >= 0).all()
    metrics = model.metrics
    assert metrics["holdout"]["rows"] == 300
    assert 0.65 <= metrics["coverage"] <= 0.92
    # Bigger deals where there were more pricing visits, as generated.
    assert (
        ranges["mid"][X["pricing_visits"] >= 4].mean()
        > ranges["mid"][X["pricing_visits"] == 0].mean()
    )


def test_too_few_rows_return_no_model_and_a_reason():
    X, _, _ = make_leads(25)
    training = train_range_model(X, _deal_sizes(X), kind="timeline")
    assert training.model is None
    assert "25 rows" in training.reason


def test_rows_without_a_value_are_left_out_and_small_sets_train_without_holdout():
    X, _, _ = make_leads(120, seed=1)
    days = pd.Series(np.linspace(5, 90, 120), index=X.index)
    days.iloc[:40] = np.nan
    training = train_range_model(X, days, kind="timeline")
    assert training.model is not None
    assert training.model.metrics["holdout"] is None
    assert training.model.metrics["training"]["rows"] == 80


def test_a_constant_target_has_no_range_to_learn():
    X, _, _ = make_leads(100)
    training = train_range_model(X, pd.Series(30.0, index=X.index), kind="timeline")
    assert training.model is None and "same value" in training.reason
