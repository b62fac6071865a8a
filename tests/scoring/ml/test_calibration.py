from __future__ import annotations

import numpy as np
import pytest

from scoring.ml.calibration import (
    EPS,
    IsotonicCalibrator,
    PlattCalibrator,
    calibrator_from_dict,
    pool_adjacent_violators,
)


def test_pool_adjacent_violators_merges_decreasing_runs():
    starts, ends, values = pool_adjacent_violators(np.array([1.0, 3.0, 2.0, 4.0]))
    assert values.tolist() == [1.0, 2.5, 4.0]
    assert starts.tolist() == [0, 1, 3] and ends.tolist() == [1, 3, 4]


def test_pool_adjacent_violators_respects_weights():
    _, _, values = pool_adjacent_violators(np.array([3.0, 1.0]), np.array([1.0, 3.0]))
    assert values.tolist() == [1.5]


def test_isotonic_calibration_is_monotone_and_fixes_a_distorted_score():
    rng = np.random.default_rng(1)
    true_p = rng.random(5000)
    y = (rng.random(5000) < true_p).astype(float)
    distorted = true_p**3  # same ranking, badly calibrated
    cal = IsotonicCalibrator.fit(distorted, y)
    grid = np.linspace(0, 1, 101)
    out = cal.transform(grid)
    assert np.all(np.diff(out) >= 0)
    assert out.min() >= EPS and out.max() <= 1 - EPS
    fixed = cal.transform(distorted)
    assert np.abs(fixed - true_p).mean() < 0.05


def test_equal_scores_share_one_calibrated_value():
    cal = IsotonicCalibrator.fit(np.array([0.5, 0.5, 0.5, 0.5]), np.array([1, 0, 1, 0]))
    assert cal.transform(np.array([0.5])).tolist() == [0.5]


def test_platt_recovers_a_known_sigmoid():
    rng = np.random.default_rng(2)
    z = rng.normal(0, 2, 20000)
    true_p = 1 / (1 + np.exp(-(0.5 * z - 1.0)))
    y = (rng.random(len(z)) < true_p).astype(float)
    cal = PlattCalibrator.fit(1 / (1 + np.exp(-z)), y)
    assert cal.a == pytest.approx(0.5, abs=0.05)
    assert cal.b == pytest.approx(-1.0, abs=0.07)


@pytest.mark.parametrize(
    "cal",
    [IsotonicCalibrator(x=(0.1, 0.5, 0.9), y=(0.2, 0.4, 0.7)), PlattCalibrator(a=0.7, b=-0.2)],
)
def test_calibrators_round_trip_through_a_dict(cal):
    again = calibrator_from_dict(cal.to_dict())
    p = np.array([0.01, 0.3, 0.5, 0.77, 0.99])
    assert np.array_equal(again.transform(p), cal.transform(p))
