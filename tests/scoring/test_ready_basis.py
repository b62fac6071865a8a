"""A Sales Ready lead with no touch this week says what carries it."""

from __future__ import annotations

import math

import pytest

from scoring.ready_basis import evidence_group, ready_basis

QUIET = {"touches_7d": 0.0, "touches_prev_30d": 9.0, "days_since_last_touch": 12.4}


def test_a_quiet_sales_ready_lead_names_its_strongest_evidence_and_how_long_it_has_been_quiet():
    contributions = {
        "evaluation_dwell_minutes": 1.1,
        "pricing_views": 0.2,
        "account_other_active_people_30d": 0.4,
        "fit_company": 0.08,
        "demo_requests": -0.3,
    }
    sentence = ready_basis(tier="sales_ready", row=QUIET, contributions=contributions)
    assert sentence == (
        "Ready on evaluation depth, last month's committee activity and fit; "
        "no touch in the past 7 days (the last one 12 days ago)."
    )


def test_own_and_committee_activity_read_as_one_part():
    contributions = {"touches_prev_30d": 0.5, "account_touches_30d": 0.3, "fit_role": 0.1}
    sentence = ready_basis(tier="sales_ready", row=QUIET, contributions=contributions)
    assert sentence.startswith(
        "Ready on last month's activity, its own and the committee's and fit;"
    )


@pytest.mark.parametrize(
    ("tier", "row"),
    [
        ("nurture", QUIET),
        ("disqualify", QUIET),
        ("sales_ready", {**QUIET, "touches_7d": 3.0}),
    ],
)
def test_nothing_to_reconcile_when_not_sales_ready_or_active_this_week(tier, row) -> None:
    assert ready_basis(tier=tier, row=row, contributions={"fit_company": 1.0}) == ""


def test_negative_and_negligible_factors_are_never_named():
    contributions = {"intent_surge_max_30d": 0.01, "days_since_funding": -0.9}
    sentence = ready_basis(tier="sales_ready", row=QUIET, contributions=contributions)
    assert sentence.startswith("Ready on fit and intent priors (no model factor stood out);")


def test_a_lead_with_no_touch_at_all_says_so():
    row = {"touches_7d": math.nan, "days_since_last_touch": math.nan}
    sentence = ready_basis(tier="sales_ready", row=row, contributions={"days_since_funding": 0.6})
    assert sentence == "Ready on a trigger event; no touch of its own yet."


@pytest.mark.parametrize(
    ("feature", "group"),
    [
        ("evaluation_dwell_minutes", "evaluation"),
        ("touches_prev_30d", "activity"),
        ("account_other_pricing_views_30d", "committee"),
        ("economic_buyer_active", "committee"),
        ("chat_urgency", "requests"),
        ("intent_topics_30d", "intent"),
        ("leadership_change_events", "triggers"),
        ("days_since_job_posting", "triggers"),
        ("fit_timing", "fit"),
        ("seniority", "fit"),
        ("attr__lead_source_detail", "crm"),
        ("something_new", ""),
    ],
)
def test_each_feature_has_its_kind_of_evidence(feature: str, group: str) -> None:
    assert evidence_group(feature) == group
