"""The seed's Lead A and Lead B: same point score, different qualification, stated reasons."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from scoring.assess import EngineConfig, EngineModels, assess
from scoring.decision import Thresholds
from scoring.features import FeatureConfig, FeatureFrames
from scoring.fit import IcpSpec
from scoring.points import PointRuleSpec

NOW = pd.Timestamp("2026-06-01 12:00", tz="UTC")

# The seed's traditional scoring: whitepaper 10, pricing page 15, ICP match 20; a webinar 15,
# each content download 10.
POINT_RULES = [
    PointRuleSpec("touchpoint_kind", "content_download", 10),
    PointRuleSpec("touchpoint_kind", "webinar", 15),
    PointRuleSpec("page_category", "pricing", 15),
    PointRuleSpec("icp_match", "", 20),
]
ICP = IcpSpec(
    industries=("manufacturing", "software"),
    min_employees=200,
    max_employees=2000,
    regions=("NA",),
    departments=("marketing", "operations"),
    title_keywords=("director", "vp", "head of"),
)


def _tp(lead_id: int, days_ago: float, kind: str, category: str, seconds: int, industry: str = ""):
    return {
        "lead_id": lead_id,
        "kind": kind,
        "occurred_at": NOW - timedelta(days=days_ago),
        "page_category": category,
        "duration_seconds": seconds,
        "form_type": "gated_content" if kind == "content_download" else "",
        "text": "",
        "content_industry": industry,
    }


def _frames() -> FeatureFrames:
    leads = pd.DataFrame(
        [
            {"lead_id": 1, "account_id": 10, "email": "dana@acme-mfg.com"},
            {"lead_id": 2, "account_id": 20, "email": "lee@brightworks.com"},
        ]
    ).assign(
        name=["Dana A", "Lee B"],
        title="Marketing Director",
        seniority="director",
        department="marketing",
        source="webinar",
        attributes=[{}, {}],
        as_of=NOW,
    )
    leads["email_domain"] = leads["email"].str.split("@").str[1]
    accounts = pd.DataFrame(
        [
            {"account_id": 10, "industry": "manufacturing", "employee_count": 500},
            {"account_id": 20, "industry": "manufacturing", "employee_count": 450},
        ]
    ).assign(country="US", region="NA", tech_stack=[[], []], funding_stage="", is_customer=False,
             is_competitor=False)  # fmt: skip
    touchpoints = pd.DataFrame(
        [
            # Lead A: a concentrated evaluation this week; pricing after the implementation guide.
            _tp(1, 6.0, "content_download", "case_study", 240, "manufacturing"),
            _tp(1, 5.5, "content_download", "case_study", 300, "manufacturing"),
            _tp(1, 5.0, "webinar", "webinar", 2700),
            _tp(1, 4.0, "content_download", "case_study", 280, "manufacturing"),
            _tp(1, 3.0, "page_view", "implementation", 720),
            _tp(1, 2.0, "page_view", "pricing", 240),
            _tp(1, 1.0, "page_view", "pricing", 310),
            # Lead B: the same activities spread over six months; pricing glanced at.
            _tp(2, 182.0, "content_download", "case_study", 200, "retail"),
            _tp(2, 150.0, "page_view", "pricing", 6),
            _tp(2, 120.0, "content_download", "case_study", 180),
            _tp(2, 95.0, "webinar", "webinar", 1800),
            _tp(2, 60.0, "content_download", "case_study", 150),
            _tp(2, 21.0, "page_view", "pricing", 4),
        ]
    )
    events = pd.DataFrame(
        [
            {"account_id": 10, "kind": "initiative", "occurred_at": NOW - timedelta(days=20)},
            {"account_id": 10, "kind": "job_posting", "occurred_at": NOW - timedelta(days=9)},
        ]
    )
    account_touchpoints = touchpoints.assign(account_id=touchpoints["lead_id"].map({1: 10, 2: 20}))[
        ["account_id", "lead_id", "occurred_at", "page_category"]
    ]
    return FeatureFrames(
        leads=leads,
        touchpoints=touchpoints,
        accounts=accounts,
        account_touchpoints=account_touchpoints,
        events=events,
    )


@pytest.fixture(scope="module")
def assessment():
    config = EngineConfig(
        features=FeatureConfig(),
        icp=ICP,
        point_rules=POINT_RULES,
        thresholds=Thresholds(sales_ready=0.5, nurture=0.1),
    )
    return assess(_frames(), config, EngineModels())


def test_lead_a_and_lead_b_have_identical_point_scores_of_95(assessment):
    assert assessment.results.loc[1, "point_score"] == 95
    assert assessment.results.loc[2, "point_score"] == 95


def test_lead_a_is_sales_ready_and_lead_b_is_not(assessment):
    assert assessment.results.loc[1, "tier"] == "sales_ready"
    assert assessment.results.loc[2, "tier"] != "sales_ready"
    assert (
        assessment.results.loc[1, "conversion_probability"]
        > assessment.results.loc[2, "conversion_probability"] + 0.3
    )


def _text(brief: dict) -> str:
    parts = [*brief["behaviour"], *(line for lines in brief["intent"].values() for line in lines)]
    parts += [f["sentence"] for side in brief["factors"].values() for f in side]
    return " ".join(parts)


def test_lead_a_brief_names_the_seed_reasons(assessment):
    text = _text(assessment.briefs[1])
    assert "Initiative announced 20 days ago" in text
    assert "Job postings" in text
    assert "case studies in their own industry vertical" in text
    assert "Pricing page visits came after viewing implementation content" in text
    assert "Pattern matches active buyers" in text


def test_lead_b_brief_names_the_seed_reasons(assessment):
    text = _text(assessment.briefs[2])
    assert "Company shows no signs of an active buying initiative" in text
    assert "Activity spread over 5 months (research pattern)" in text
    assert "Pricing visits lasted under 10 seconds (curiosity, not evaluation)" in text
    assert "No engagement from other stakeholders at the company" in text
    assert "Pattern matches long-term researchers who rarely convert" in text


def test_cold_start_briefs_say_not_enough_data(assessment):
    for brief in assessment.briefs.values():
        assert brief["confidence"] == "not_enough_data"
        assert brief["confidence_note"].startswith("Not enough data yet")


def test_the_point_score_would_route_both_but_only_a_is_recommended_for_sales(assessment):
    a, b = assessment.briefs[1], assessment.briefs[2]
    assert a["point_score"]["would_route"] is False  # 95 < 100: the seed's threshold
    assert a["recommended_action"].startswith("Route to Mid-market SDR")
    assert "nurture" in b["recommended_action"].lower() or "monitoring" in b["recommended_action"]
    assert b["move_up"], "a Nurture lead's brief says what would move it up"
