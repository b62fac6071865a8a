from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.ml.conversion import ConversionParams, TrainedConversionModel, train_conversion_model


def make_leads(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """A synthetic lead table with a known signal: features, outcome, and segments."""
    rng = np.random.default_rng(seed)
    pricing_visits = rng.poisson(1.5, n).astype(float)
    bounce_share = rng.random(n)
    source = rng.choice(["referral", "ads", "organic", "event", "partner"], n)
    demo_request = (rng.random(n) < 0.2).astype(float)
    effect = pd.Series(source).map(
        {"referral": 1.0, "ads": -0.5, "organic": 0.0, "event": 0.5, "partner": 0.3}
    )
    logit = -1.0 + 0.8 * pricing_visits - 2.0 * bounce_share + effect.to_numpy() + demo_request
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    index = pd.Index(np.arange(10_000, 10_000 + n), name="lead_id")
    X = pd.DataFrame(
        {
            "pricing_visits": pricing_visits,
            "bounce_share": bounce_share,
            "source": pd.Categorical(source),
            "demo_request": demo_request,
        },
        index=index,
    )
    X.loc[X.sample(frac=0.05, random_state=seed).index, "bounce_share"] = np.nan
    segments = pd.DataFrame(
        {"region": rng.choice(["emea", "amer", "apac"], n, p=[0.5, 0.45, 0.05])}, index=index
    )
    return X, pd.Series(y, index=index, name="converted"), segments


@pytest.fixture(scope="session")
def leads() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    return make_leads()


@pytest.fixture(scope="session")
def trained(leads) -> TrainedConversionModel:
    X, y, segments = leads
    point_score = X["pricing_visits"] * 15 + X["demo_request"] * 20
    return train_conversion_model(
        X, y, segments=segments, baseline_score=point_score, params=ConversionParams(seed=1)
    )
