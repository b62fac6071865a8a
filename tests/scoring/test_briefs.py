"""Every model factor a brief shows reads as a sentence about the lead, not a raw feature name."""

from __future__ import annotations

import math

import pytest

from scoring.briefs import explain_factor


@pytest.mark.parametrize(
    ("name", "row", "contribution", "expected"),
    [
        ("touches_prev_30d", {"touches_prev_30d": 12.0}, 0.3, "12 touchpoints in the month"),
        ("touches_prev_30d", {"touches_prev_30d": 0.0}, -0.2, "No activity in the month before"),
        ("evaluation_dwell_minutes", {"evaluation_dwell_minutes": 14.0}, 0.4, "14 minutes"),
        ("evaluation_dwell_minutes", {"evaluation_dwell_minutes": 0.2}, -0.1, "Only 0.2 minutes"),
        ("roi_calculator_views", {"roi_calculator_views": 2.0}, 0.2, "ROI calculator 2 time"),
        ("roi_calculator_views", {"roi_calculator_views": 0.0}, -0.1, "not used the ROI"),
        ("account_touches_30d", {"account_touches_30d": 40.0}, 0.5, "40 touchpoints"),
        ("account_touches_30d", {"account_touches_30d": 1.0}, -0.3, "Little activity"),
        ("days_since_last_touch", {"days_since_last_touch": 9.0}, 0.1, "9 days ago (still"),
        ("days_since_last_touch", {"days_since_last_touch": 12.0}, -0.1, "momentum fading"),
        ("days_since_last_touch", {"days_since_last_touch": math.nan}, -0.1, "No recorded"),
    ],
)
def test_factor_sentences_describe_the_evidence(
    name: str, row: dict[str, float], contribution: float, expected: str
) -> None:
    sentence = explain_factor(name, row[name], contribution, row)

    assert expected in sentence
    assert "likelihood" not in sentence  # the generic "Label: value" fallback


def test_an_unknown_factor_falls_back_to_its_label_and_value() -> None:
    sentence = explain_factor("attr__lead_origin", "Landing Page Submission", 0.2, {})

    assert sentence == "Lead origin: Landing Page Submission (raises the likelihood)."
