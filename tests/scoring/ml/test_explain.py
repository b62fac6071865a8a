from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.ml.explain import contributions_record, top_factors


def test_top_factors_are_sorted_by_strength_with_values_and_bias_apart():
    contributions = pd.Series(
        {
            "pricing_visits": 0.9,
            "bounce_share": -1.2,
            "source": 0.3,
            "title": -0.1,
            "x": 0.0,
            "bias": -0.5,
        }
    )
    values = pd.Series(
        {
            "pricing_visits": 4.0,
            "bounce_share": np.nan,
            "source": "referral",
            "title": "Student",
            "x": 1.0,
        }
    )
    factors = top_factors(contributions, values, n=2)
    assert [(f.feature, f.value, f.contribution) for f in factors.positive] == [
        ("pricing_visits", 4.0, 0.9),
        ("source", "referral", 0.3),
    ]
    assert [(f.feature, f.value) for f in factors.negative] == [
        ("bounce_share", None),
        ("title", "Student"),
    ]
    assert factors.bias == -0.5
    assert factors.to_dict()["negative"][0] == {
        "feature": "bounce_share",
        "value": None,
        "contribution": -1.2,
    }


def test_top_factors_work_on_a_model_row(trained, leads):
    X, _, _ = leads
    row = trained.contributions(X.iloc[[0]]).iloc[0]
    factors = top_factors(row, X.iloc[0], n=10)
    features = {f.feature for f in factors.positive + factors.negative}
    assert features <= set(trained.feature_names)
    assert all(f.contribution > 0 for f in factors.positive)
    assert all(f.contribution < 0 for f in factors.negative)


def test_contributions_record_is_rounded_json_without_zeros():
    record = contributions_record(pd.Series({"a": 0.123456, "b": 0.0, "bias": -0.4}))
    assert record == {"a": 0.1235, "bias": -0.4}
