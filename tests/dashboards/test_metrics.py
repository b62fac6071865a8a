"""The pure metric computations behind the RevOps pages, on small frames whose expected values
are worked out by hand in each test."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from dashboards import metrics as m

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Leads with the metrics' columns; each row sets what its test asserts on."""
    defaults: dict[str, Any] = {
        "created_at": NOW - timedelta(days=60),
        "converted_at": None,
        "closed_at": None,
        "has_opportunity": False,
        "tier": None,
        "probability": None,
        "point_score": 0,
        "confidence": None,
        "hours_to_qualify": None,
        "verdict": None,
        "reason": None,
    }
    out = pd.DataFrame([{**defaults, **row} for row in rows])
    for column in ("created_at", "converted_at", "closed_at"):
        out[column] = pd.to_datetime(out[column], utc=True)
    out["probability"] = pd.to_numeric(out["probability"])
    return out


WON = {"converted_at": NOW - timedelta(days=5)}
LOST = {"closed_at": NOW - timedelta(days=5)}
READY = {"tier": "sales_ready"}


def test_qualification_accuracy_is_converted_over_sales_ready_with_an_outcome() -> None:
    # 4 Sales Ready with an outcome (1 won via the lead, 1 via an opportunity, 2 lost), one
    # still open (not counted), and a won Nurture lead (not Sales Ready, not counted): 2 / 4.
    rows: list[dict[str, Any]] = [
        {**READY, **WON},
        {**READY, **LOST, "has_opportunity": True},
        {**READY, **LOST},
        {**READY, **LOST},
        {**READY},
        {"tier": "nurture", **WON},
    ]
    metric = m.qualification_accuracy(frame(rows), min_sample=1)

    assert metric.value == pytest.approx(0.5)
    assert metric.display == "50%"
    assert metric.status == m.GOOD
    assert metric.sample == 4


def test_a_metric_below_its_sample_size_says_not_enough_data() -> None:
    metric = m.qualification_accuracy(frame([{**READY, **WON}]), min_sample=20)

    assert metric.value is None
    assert metric.status == m.NO_DATA
    assert metric.display == "not enough data"
    assert "1 Sales Ready" in metric.note


def test_lift_over_point_scoring_compares_conversion_rates_of_the_two_methods() -> None:
    # AI Sales Ready with outcome: 3, of which 2 converted -> 2/3.
    # Point score >= 100 with outcome: 4 (two of them also Sales Ready), 2 converted -> 1/2.
    # Lift: (2/3) / (1/2) - 1 = 1/3.
    rows = [
        {**READY, **WON, "point_score": 120},
        {**READY, **WON, "point_score": 20},
        {**READY, **LOST, "point_score": 150},
        {"tier": "nurture", **WON, "point_score": 110},
        {"tier": "nurture", **LOST, "point_score": 100},
        {"tier": "nurture", **LOST, "point_score": 99},
    ]
    metric = m.lift_over_point_scoring(frame(rows), point_threshold=100, min_sample=1)

    assert metric.value == pytest.approx(1 / 3)
    assert metric.display == "+33%"
    assert metric.status == m.GOOD


def test_sales_acceptance_and_false_positives_count_only_fit_rejections_as_wrong() -> None:
    # Five Sales Ready verdicts: 3 accepts, a "wrong fit" reject and a "bad timing" reject.
    # Acceptance 3/5; false positives 1/5 (bad timing was a fair qualification).
    rows = [
        {**READY, "verdict": "accept", "reason": "good_fit"},
        {**READY, "verdict": "accept", "reason": "good_fit"},
        {**READY, "verdict": "accept", "reason": "good_fit"},
        {**READY, "verdict": "reject", "reason": "wrong_fit"},
        {**READY, "verdict": "reject", "reason": "bad_timing"},
        {**READY},
    ]
    data = frame(rows)

    acceptance = m.sales_acceptance_rate(data, min_sample=1)
    false_positive = m.false_positive_rate(data, min_sample=1)

    assert acceptance.value == pytest.approx(0.6)
    assert acceptance.status == m.BAD
    assert false_positive.value == pytest.approx(0.2)
    assert false_positive.status == m.WATCH


def test_false_negative_rate_is_converted_leads_that_were_not_sales_ready() -> None:
    rows = [
        {**READY, **WON},
        {**READY, **WON},
        {**READY, **WON},
        {"tier": "nurture", **WON},
        {"tier": "sales_ready", **LOST},
    ]
    metric = m.false_negative_rate(frame(rows), min_sample=1)

    assert metric.value == pytest.approx(0.25)
    assert metric.status == m.BAD


def test_prediction_accuracy_is_the_relative_gap_between_predicted_and_actual() -> None:
    # Predicted: 0.5 + 0.5 + 0.5 + 0.5 = 2.0 conversions; actual: 3. |3 - 2| / 2 = 0.5.
    rows = [
        {**READY, **WON, "probability": 0.5},
        {**READY, **WON, "probability": 0.5},
        {**READY, **WON, "probability": 0.5},
        {**READY, **LOST, "probability": 0.5},
        {**READY, "probability": 0.9},  # no outcome yet: not counted
    ]
    metric = m.prediction_accuracy(frame(rows), min_sample=1)

    assert metric.value == pytest.approx(0.5)
    assert metric.status == m.BAD


def test_time_to_qualification_is_the_median_in_hours() -> None:
    rows = [{"hours_to_qualify": h} for h in (0.1, 0.2, 0.5, 3.0)]
    metric = m.time_to_qualification(frame(rows), min_sample=1)

    assert metric.value == pytest.approx(0.35)
    assert metric.display == "21 min"
    assert metric.status == m.GOOD


def test_time_to_qualification_leaves_out_leads_created_before_qualification_started() -> None:
    started = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        # Imported history: created long before the product ran, qualified on its first day.
        {"created_at": started - timedelta(days=40), "hours_to_qualify": 960.0},
        {"created_at": started - timedelta(days=3), "hours_to_qualify": 72.0},
        # Captured since: minutes.
        {"created_at": started + timedelta(days=1), "hours_to_qualify": 0.05},
        {"created_at": started + timedelta(days=2), "hours_to_qualify": 0.15},
    ]

    metric = m.time_to_qualification(frame(rows), live_since=started, min_sample=1)
    only_history = m.time_to_qualification(frame(rows[:2]), live_since=started, min_sample=1)

    assert metric.value == pytest.approx(0.1) and metric.status == m.GOOD
    assert metric.sample == 2
    assert only_history.value is None and "since qualification started" in only_history.note


def test_cost_per_qualified_lead_needs_a_cost_and_trends_against_last_month() -> None:
    unset = m.cost_per_qualified_lead(
        monthly_cost=None, qualified_this_month=10, qualified_last_month=8
    )
    cheaper = m.cost_per_qualified_lead(
        monthly_cost=1000.0, qualified_this_month=40, qualified_last_month=20
    )

    assert unset.value is None and "LEADQUAL_QUALIFICATION_MONTHLY_COST" in unset.note
    assert cheaper.value == pytest.approx(25.0)
    assert cheaper.status == m.GOOD
    assert "50.00 the 30 days before" in cheaper.note


def test_lead_velocity_and_capacity_count_this_weeks_sales_ready_leads() -> None:
    this_week = NOW - timedelta(days=2)
    last_week = NOW - timedelta(days=9)
    rows = [
        {**READY, "created_at": this_week},
        {**READY, "created_at": this_week},
        {**READY, "created_at": this_week},
        {**READY, "created_at": last_week},
        {"tier": "nurture", "created_at": this_week},
    ]
    data = frame(rows)

    velocity = m.lead_velocity(data, now=NOW, weeks=4)
    capacity = m.tier_against_capacity(data, now=NOW, weekly_capacity=4)
    no_capacity = m.tier_against_capacity(data, now=NOW, weekly_capacity=0)

    assert velocity.value == 3
    assert [w["count"] for w in velocity.details] == [0, 0, 1, 3]
    assert velocity.status == m.GOOD
    assert capacity.value == pytest.approx(0.75)
    assert capacity.status == m.WATCH
    assert no_capacity.value is None


def test_signal_availability_needs_three_of_four_signals() -> None:
    data = pd.DataFrame(
        {
            "has_account": [True, True, False, True],
            "has_industry": [True, False, False, True],
            "has_employees": [True, True, False, False],
            "has_touchpoint": [False, True, True, False],
        }
    )
    metric = m.signal_availability(data, min_sample=1)

    # Rows have 3, 3, 1 and 2 signals: 2 of 4 leads.
    assert metric.value == pytest.approx(0.5)
    assert metric.details[0] == {"signal": "Matched to an account", "share": 0.75}


def test_model_confidence_is_the_share_of_high_and_medium() -> None:
    rows = [{"confidence": c} for c in ("high", "medium", "low", "not_enough_data", "high")]
    metric = m.model_confidence(frame(rows), min_sample=1)

    assert metric.value == pytest.approx(0.6)
    assert metric.details[0] == {"level": "High", "count": 2, "share": 0.4}


def test_segment_fairness_flags_a_segment_below_80_percent_of_the_best() -> None:
    # EMEA: 10 of 20 Sales Ready (0.50, the best). NA: 9 of 20 (0.45 = 90% of best: passes).
    # APAC: 7 of 20 (0.35 = 70% of best: flagged). LATAM: 0 of 5 (too few to audit).
    rows: list[dict[str, Any]] = []
    for region, ready, total in (("EMEA", 10, 20), ("NA", 9, 20), ("APAC", 7, 20), ("LATAM", 0, 5)):
        rows += [{"region": region, "tier": "sales_ready"}] * ready
        rows += [{"region": region, "tier": "nurture"}] * (total - ready)
    rows.append({"region": "EMEA", "tier": None})  # never qualified: not counted
    result = m.segment_fairness(frame(rows), columns=[("region", "Region")], min_leads=10)

    (group,) = result
    levels = {row["level"]: row for row in group["levels"]}
    assert group["best_rate"] == pytest.approx(0.5)
    assert [row["level"] for row in group["levels"]] == ["EMEA", "NA", "APAC", "LATAM"]
    assert levels["NA"]["relative"] == pytest.approx(0.9) and not levels["NA"]["flagged"]
    assert levels["APAC"]["relative"] == pytest.approx(0.7) and levels["APAC"]["flagged"]
    assert levels["LATAM"]["audited"] is False and levels["LATAM"]["flagged"] is False
    assert levels["EMEA"]["leads"] == 20

    summary = m.segment_performance(result)
    assert summary.value == 1
    assert summary.note == "Region: APAC"
    assert summary.status == m.BAD


def test_a_segment_exactly_at_80_percent_passes() -> None:
    rows = [{"region": "A", "tier": "sales_ready"}] * 5 + [{"region": "A", "tier": "nurture"}] * 5
    rows += [{"region": "B", "tier": "sales_ready"}] * 4 + [{"region": "B", "tier": "nurture"}] * 6
    (group,) = m.segment_fairness(frame(rows), columns=[("region", "Region")], min_leads=10)

    assert not any(row["flagged"] for row in group["levels"])


def test_psi_by_hand() -> None:
    # Shares (0.5, 0.5) against (0.25, 0.75):
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5) = 0.25 ln 2 + 0.25 ln 1.5.
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)

    assert m.psi([50, 50], [25, 75]) == pytest.approx(expected)
    assert m.psi([1, 1], [1, 1]) == 0
    assert m.psi_level(m.psi([50, 50], [25, 75])) == "major"  # 0.275
    # 0.2 ln(5/3) + 0.2 ln(1.4) = 0.170
    assert m.psi([50, 50], [30, 70]) == pytest.approx(0.2 * math.log(5 / 3) + 0.2 * math.log(1.4))
    assert m.psi_level(m.psi([50, 50], [30, 70])) == "moderate"
    assert m.psi_level(m.psi([50, 50], [45, 55])) == "stable"


def test_psi_floors_empty_bins_rather_than_dividing_by_zero() -> None:
    value = m.psi([100, 0], [50, 50], eps=1e-4)
    # (0.5 - 1) ln(0.5) + (0.5 - 1e-4) ln(0.5 / 1e-4)
    expected = -0.5 * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)

    assert value == pytest.approx(expected)
    assert m.psi_level(value) == "major"


def test_psi_rejects_mismatched_bins() -> None:
    with pytest.raises(ValueError, match="same"):
        m.psi([1, 2], [1, 2, 3])


def test_categorical_drift_compares_level_shares() -> None:
    training = pd.Series(["corporate"] * 50 + ["free_mail"] * 50)
    current = pd.Series(["corporate"] * 25 + ["free_mail"] * 75)
    result = m.categorical_drift(training, current)

    assert result["psi"] == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert result["bins"][0] == {"level": "corporate", "training": 0.5, "current": 0.25}
    assert result["rows"] == {"training": 100, "current": 100}


def test_numeric_drift_is_zero_for_the_same_distribution_and_sees_a_shift() -> None:
    same = pd.Series(range(100), dtype=float)
    shifted = pd.Series(range(50, 150), dtype=float)

    assert m.numeric_drift(same, same)["psi"] == pytest.approx(0.0)
    drifted = m.numeric_drift(same, shifted)
    assert drifted["level"] == "major"
    # The top training decile starts above 89.1 (numpy's linear quantile of 0..99): 10 of the
    # training values and 60 of the new ones (90..149) land in it.
    assert drifted["bins"][-1] == {"level": "> 89.1", "training": 0.1, "current": 0.6}


def test_lift_curve_by_hand() -> None:
    # Sorted by score: y = 1, 1, 0, 0 (base rate 0.5). Top 50%: precision 1.0, lift 2.0.
    curve = m.lift_curve([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], steps=2)

    assert curve[0] == {"share": 0.5, "rows": 2, "precision": 1.0, "lift": 2.0, "captured": 1.0}
    assert curve[1]["lift"] == pytest.approx(1.0)
    assert m.lift_curve([0, 0], [0.1, 0.2]) == []


def test_outcome_feedback_loop_counts_outcomes_since_training() -> None:
    trained_at = NOW - timedelta(days=10)
    rows = [
        {**READY, "created_at": NOW - timedelta(days=40), "converted_at": NOW - timedelta(days=5)},
        {**READY, "created_at": NOW - timedelta(days=40), "closed_at": NOW - timedelta(days=20)},
        {**READY, "created_at": NOW - timedelta(days=40)},
        {**READY, "created_at": NOW - timedelta(days=40)},
        {**READY, "created_at": NOW - timedelta(days=5)},  # too young to judge
    ]
    metric = m.outcome_feedback_loop(
        frame(rows), now=NOW, trained_at=trained_at, min_outcomes=2, min_sample=1
    )

    assert metric.value == pytest.approx(0.5)
    details = {d["label"]: d["value"] for d in metric.details}
    assert details["Leads with an outcome"] == 2
    assert details["Outcomes since the active model was trained"] == 1
    assert metric.status == m.GOOD


def test_metric_round_trips_through_json_storage() -> None:
    metric = m.qualification_accuracy(frame([{**READY, **WON}]), min_sample=1)

    assert m.Metric.from_dict(metric.as_dict()) == metric
    assert metric.definition.startswith("Share of live Sales Ready")


def test_size_bands() -> None:
    assert [m.size_band(v) for v in (None, 10, 50, 51, 1000, 99999)] == [
        "unknown",
        "1-50",
        "1-50",
        "51-200",
        "201-1000",
        "5000+",
    ]
