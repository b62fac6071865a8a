from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scoring.ml import metrics as m


def test_auc_of_a_perfect_ranking_is_one_and_of_the_reversed_ranking_zero():
    y = [0, 0, 1, 1]
    assert m.roc_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert m.roc_auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_auc_of_all_tied_scores_is_one_half():
    assert m.roc_auc([0, 1, 0, 1, 1], [0.3] * 5) == 0.5


def test_auc_counts_each_tie_as_one_half_pair():
    # Pairs (pos, neg): (0.8 vs 0.1) win, (0.8 vs 0.5) win, (0.5 vs 0.1) win, (0.5 vs 0.5) tie.
    assert m.roc_auc([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.8]) == pytest.approx(3.5 / 4)


def test_auc_is_none_with_one_class():
    assert m.roc_auc([1, 1, 1], [0.1, 0.2, 0.3]) is None


def test_log_loss_and_brier_match_hand_computation():
    y, p = [1, 0], [0.8, 0.4]
    assert m.log_loss(y, p) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert m.brier_score(y, p) == pytest.approx((0.2**2 + 0.4**2) / 2)


def test_ece_of_perfectly_calibrated_bins_is_zero():
    # 10 rows at 0.25 with 2.5 positives is impossible; use 0.2 and 0.8 with exact rates.
    p = [0.2] * 10 + [0.8] * 10
    y = [1, 1] + [0] * 8 + [1] * 8 + [0, 0]
    assert m.expected_calibration_error(y, p) == pytest.approx(0.0)


def test_ece_weights_each_bins_gap_by_its_rows():
    p = [0.05] * 10 + [0.95] * 30
    y = [0] * 10 + [1] * 30  # gaps 0.05 (10 rows) and 0.05 (30 rows)
    assert m.expected_calibration_error(y, p) == pytest.approx(0.05)


def test_calibration_bins_report_counts_means_and_rates():
    bins = m.calibration_bins([0, 1, 1, 0], [0.05, 0.15, 0.95, 1.0])
    assert len(bins) == 10
    assert bins[0] == {
        "lower": 0.0,
        "upper": 0.1,
        "count": 1,
        "mean_predicted": 0.05,
        "observed_rate": 0.0,
    }
    assert bins[1]["count"] == 1 and bins[1]["observed_rate"] == 1.0
    # 1.0 falls in the last, closed bin.
    assert bins[9]["count"] == 2 and bins[9]["mean_predicted"] == pytest.approx(0.975)
    assert bins[5]["count"] == 0 and bins[5]["mean_predicted"] is None


def test_precision_recall_and_lift_at_capacity():
    # 20 rows, base rate 5/20 = 0.25; top 10% = 2 rows, both positive.
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    score = np.arange(20, 0, -1)
    result = m.at_capacity(y, score, capacity=0.1)
    assert result["rows"] == 2
    assert result["precision"] == 1.0
    assert result["recall"] == pytest.approx(2 / 5)
    assert result["lift"] == pytest.approx(1.0 / 0.25)
    # Top 25% = 5 rows holding 3 positives.
    result = m.at_capacity(y, score, capacity=0.25)
    assert result["rows"] == 5
    assert result["precision"] == pytest.approx(3 / 5)
    assert result["lift"] == pytest.approx((3 / 5) / 0.25)


def test_segments_with_one_class_or_few_rows_are_skipped():
    rng = np.random.default_rng(0)
    n = 200
    region = np.array(["emea"] * 100 + ["apac"] * 80 + ["latam"] * 20)
    y = np.r_[rng.integers(0, 2, 100), np.zeros(80, dtype=int), rng.integers(0, 2, 20)]
    score = y * 0.5 + rng.random(n) * 0.6
    result = m.segment_auc(y, score, pd.DataFrame({"region": region}))["region"]
    assert result["emea"]["auc"] is not None and result["emea"]["rows"] == 100
    assert result["apac"]["auc"] is None and result["apac"]["skipped"] == "one class only"
    assert result["latam"]["auc"] is None and "fewer than 30" in result["latam"]["skipped"]


def test_point_scores_get_ranking_metrics_only():
    result = m.score_metrics([0, 1, 0, 1], [10, 95, 40, 60], probability=False)
    assert result["auc"] == 1.0
    assert "log_loss" not in result and "ece" not in result
    assert result["at_capacity"]["precision"] == 1.0


def test_baseline_comparison_reports_lift_over_the_point_score():
    model = {"auc": 0.9, "at_capacity": {"precision": 0.6}}
    baseline = {"auc": 0.7, "at_capacity": {"precision": 0.3}}
    result = m.baseline_comparison(model, baseline)
    assert result["baseline_auc"] == 0.7
    assert result["auc_gain"] == pytest.approx(0.2)
    assert result["lift_over_baseline_at_capacity"] == pytest.approx(2.0)


def _metrics(auc, loss, fingerprint="abc"):
    return {"auc": auc, "log_loss": loss, "holdout": {"fingerprint": fingerprint}}


def test_is_better_compares_auc_first_then_log_loss():
    assert m.is_better(_metrics(0.85, 0.5), None)
    assert m.is_better(_metrics(0.86, 0.9), _metrics(0.85, 0.3))
    assert not m.is_better(_metrics(0.84, 0.1), _metrics(0.85, 0.5))
    # Within the AUC tolerance the better-calibrated model wins, and only strictly.
    assert m.is_better(_metrics(0.8505, 0.40), _metrics(0.8500, 0.45))
    assert not m.is_better(_metrics(0.8505, 0.45), _metrics(0.8500, 0.45))


def test_is_better_refuses_metrics_from_different_holdouts():
    with pytest.raises(ValueError, match="same holdout"):
        m.is_better(_metrics(0.9, 0.3, "aaa"), _metrics(0.8, 0.4, "bbb"))


def test_scores_with_nan_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        m.roc_auc([0, 1], [0.5, float("nan")])
