"""A small demo world shared by the pure tests (generated once; the generator is pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from leadqual.demo.world import DemoWorld, world_generate

ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)
WORLD_LEADS = 2000
WORLD_SEED = 11


@pytest.fixture(scope="session")
def world() -> DemoWorld:
    return world_generate(leads=WORLD_LEADS, seed=WORLD_SEED, anchor=ANCHOR)


def auc(score: object, outcome: object) -> float:
    """Area under the ROC curve (rank formulation; ties count half)."""
    ranks = pd.Series(np.asarray(score, dtype=float)).rank().to_numpy()
    positive = np.asarray(outcome, dtype=bool)
    n1 = int(positive.sum())
    n0 = len(positive) - n1
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
