"""The fast paths of bulk qualification give what the plain paths give.

Each shortcut taken for speed has a plainer twin kept for another case (the ORM read on
SQLite, the per-lead committee features for training, Python dicts for one brief, bulk_create
on SQLite, the write in the caller's thread): these tests hold the two to the same answer.
"""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AccountEvent, IntentSignal, Stakeholder, Touchpoint
from scoring import briefs, selectors, services
from scoring.assess import (
    EVIDENCE_FACTS,
    Assessment,
    EngineConfig,
    EngineModels,
    assess,
    content_summary,
)
from scoring.briefs import brief_compact, brief_expand
from scoring.decision import Thresholds
from scoring.features import COMMITTEE_FEATURES, FeatureConfig, FeatureFrames, build_features
from scoring.models import Qualification
from scoring.rules import rule_evidence
from tests.factories import AccountFactory, LeadFactory

NOW = pd.Timestamp("2026-06-01 12:00", tz="UTC")


class FakeConversionModel:
    """A model whose probability and contributions are simple functions of the features."""

    def __init__(self) -> None:
        self.approximate: list[bool] = []

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        touches = pd.to_numeric(X["touch_count"], errors="coerce").fillna(0).to_numpy()
        return np.asarray(1 / (1 + np.exp(-(touches - 3))))

    def contributions(self, X: pd.DataFrame, *, approximate: bool = False) -> pd.DataFrame:
        self.approximate.append(approximate)
        values = np.zeros((len(X), len(X.columns) + 1))
        columns = [*X.columns, "bias"]
        touches = pd.to_numeric(X["touch_count"], errors="coerce").fillna(0).to_numpy()
        values[:, columns.index("touch_count")] = (touches - 3) / 2
        values[:, columns.index("fit_timing")] = -0.25
        values[:, columns.index("seniority")] = 0.125
        values[:, columns.index("pricing_bounce_share")] = -0.5
        values[:, -1] = -1.0
        return pd.DataFrame(values, index=X.index, columns=columns)


def _frames(n_leads: int = 40, seed: int = 7) -> FeatureFrames:
    """A small random world: several leads per account, shared and missing values."""
    rng = random.Random(seed)
    accounts = pd.DataFrame(
        {
            "account_id": range(1, 9),
            "industry": ["retail", "software", None, "retail", "energy", "software", "", "x"],
            "employee_count": [50, 400, None, 2000, 120, 900, 10, 5000],
            "country": "US",
            "region": ["NA", "EMEA", "", "NA", "APAC", "NA", "EMEA", "NA"],
            "tech_stack": [[], ["salesforce"], [], ["hubspot"], [], [], [], []],
            "funding_stage": "",
            "is_customer": [False, True, False, False, False, True, False, False],
            "is_competitor": False,
        }
    )
    names = ['Dana "D" O\'Neil', "Lee\\B", "Zoë\tTab", "Ann\nLine", "Plain"]
    leads = pd.DataFrame(
        {
            "lead_id": range(1, n_leads + 1),
            "account_id": [rng.choice([1, 2, 3, 4, 5, 6, 7, 8, None]) for _ in range(n_leads)],
            "email": [f"p{i}@corp{i % 5}.com" for i in range(n_leads)],
            "name": [names[i % len(names)] for i in range(n_leads)],
            "title": [rng.choice(["Director of IT", "Student", "", "VP"]) for _ in range(n_leads)],
            "seniority": [rng.choice(["director", "vp", "", "individual"]) for _ in range(n_leads)],
            "department": [rng.choice(["it", "sales", ""]) for _ in range(n_leads)],
            "source": "web",
            "attributes": [{} for _ in range(n_leads)],
            "as_of": NOW,
        }
    )  # fmt: skip
    leads["email_domain"] = leads["email"].str.split("@").str[1]
    categories = ["pricing", "blog", "case_study", "implementation", "roi_calculator", "", None]
    touchpoints = pd.DataFrame(
        [
            {
                "lead_id": lead,
                "kind": rng.choice(["page_view", "page_view", "form_submit", "chat_message"]),
                "occurred_at": NOW - timedelta(days=rng.uniform(0.1, 70)),
                "page_category": rng.choice(categories),
                "duration_seconds": rng.choice([None, 4, 30, 300, 1200]),
                "form_type": rng.choice(["", None, "demo_request", "newsletter"]),
                "text": rng.choice(["", None, "What is the price for 50 seats?", "ASAP please"]),
                "content_industry": rng.choice(["Retail", "software", None, ""]),
            }
            for lead in range(1, n_leads + 1)
            for _ in range(rng.randint(0, 9))
        ]
    )
    account_of = leads.set_index("lead_id")["account_id"]
    account_touchpoints = touchpoints.assign(account_id=touchpoints["lead_id"].map(account_of))
    account_touchpoints = account_touchpoints.dropna(subset=["account_id"]).astype(
        {"account_id": "int64", "lead_id": "float64"}
    )[["account_id", "lead_id", "occurred_at", "page_category"]]
    stakeholders = pd.DataFrame(
        {
            "account_id": [account_of[i] or 1 for i in range(1, n_leads + 1, 2)],
            "lead_id": [float(i) for i in range(1, n_leads + 1, 2)],
            "committee_role": [
                rng.choice(["economic_buyer", "champion", "", "technical_evaluator"])
                for _ in range(1, n_leads + 1, 2)
            ],
        }
    ).dropna()
    events = pd.DataFrame(
        [{"account_id": 2, "kind": "funding", "occurred_at": NOW - timedelta(days=40)}]
    )
    return FeatureFrames(
        leads=leads,
        touchpoints=touchpoints,
        accounts=accounts,
        account_touchpoints=account_touchpoints,
        stakeholders=stakeholders,
        events=events,
    )


def _assessment(models: EngineModels | None = None, **kwargs: Any) -> Any:
    config = EngineConfig(features=FeatureConfig(), thresholds=Thresholds(0.5, 0.1))
    return assess(_frames(), config, models or EngineModels(), **kwargs)


# --- features --------------------------------------------------------------------------------


def test_committee_features_are_the_same_when_leads_share_as_of_and_when_they_do_not():
    frames = _frames()
    shared = build_features(frames)
    # One more lead, at an account of its own and with another as_of, sends every lead
    # through the per-lead path.
    extra = frames.leads.iloc[[0]].assign(lead_id=999, account_id=99, as_of=NOW - timedelta(1))
    frames.leads = pd.concat([frames.leads, extra], ignore_index=True)
    per_lead = build_features(frames).drop(index=999)
    columns = list(COMMITTEE_FEATURES)
    assert shared[columns].to_numpy().sum() > 0
    pd.testing.assert_frame_equal(shared[columns], per_lead[columns])


def test_page_form_and_chat_flags_treat_missing_values_as_empty():
    tp = pd.DataFrame(
        [
            {"lead_id": 1, "kind": "page_view", "page_category": None, "form_type": None,
             "text": None, "duration_seconds": None},
            {"lead_id": 1, "kind": "chat_message", "page_category": "pricing", "form_type": "",
             "text": "Can we get a QUOTE for 50 users?", "duration_seconds": 5},
            {"lead_id": 1, "kind": "form_submit", "page_category": "", "form_type": "demo_request",
             "text": "", "duration_seconds": 60},
        ]
    ).assign(occurred_at=NOW - timedelta(days=1), content_industry=None)  # fmt: skip
    leads = pd.DataFrame({"lead_id": [1], "account_id": [None], "email_domain": ["a.com"],
                          "as_of": [NOW], "attributes": [{}]})  # fmt: skip
    features = build_features(FeatureFrames(leads=leads, touchpoints=tp)).loc[1]
    assert features["touch_count"] == 3
    assert features["pricing_views"] == 1
    assert features["pricing_bounce_share"] == 1.0
    assert features["demo_requests"] == 1
    assert features["chat_evaluation"] == 1  # "quote", case-insensitive
    assert features["chat_urgency"] == 0
    assert features["bounce_share"] == 0.0  # a page view without a duration is no bounce


def test_content_summary_does_not_depend_on_the_order_touchpoints_arrive_in():
    frames = _frames()
    first = content_summary(frames)
    frames.touchpoints = frames.touchpoints.sample(frac=1.0, random_state=3)
    assert content_summary(frames) == first
    assert any(len(items) > 1 for items in first.values())


# --- briefs ----------------------------------------------------------------------------------


def test_the_stored_json_is_exactly_the_brief_and_its_parts():
    model = FakeConversionModel()
    assessment = _assessment(EngineModels(conversion=model, conversion_version_id=7, ready=True))
    assert len(assessment.records) == len(assessment.results) > 0
    factors = 0
    for position, lead_id in enumerate(assessment.results.index):
        record = assessment.records[position]
        stored = json.loads(record.brief_json)
        brief = assessment.briefs[lead_id]
        # The row holds the compact form, which expands back to the very same document.
        assert stored == brief_compact(brief) != brief
        assert brief_expand(stored) == brief
        contributions = json.loads(assessment.contributions_json[position])
        assert contributions == assessment.contributions[lead_id]
        assert record.recommended_action == assessment.results.at[lead_id, "recommended_action"]
        assert brief["predictive"]["model_version"] == 7
        factors += len(brief["factors"]["positive"]) + len(brief["factors"]["negative"])
    assert factors > 0
    names = {json.loads(r.brief_json)["lead"]["name"] for r in assessment.records}
    assert 'Dana "D" O\'Neil' in names and "Lee\\B" in names and "Zoë\tTab" in names


def test_the_brief_has_every_part_of_the_assessment_card():
    brief = next(iter(_assessment().briefs.values()))
    assert list(brief) == [
        "lead", "status", "tier", "needs_review", "confidence", "confidence_note", "ready_basis",
        "behaviour",
        "content", "fit", "intent", "predictive", "rule_hits", "factors", "point_score",
        "recommended_action", "talking_points", "move_up",
    ]  # fmt: skip
    assert list(brief["fit"]) == ["company", "role", "technology", "timing"]
    assert {f["factor"] for f in brief["fit"]["company"]["factors"]} == {
        "company_size", "company_industry", "company_geography", "company_growth",
    }  # fmt: skip
    assert set(brief["intent"]) == {"first_party", "third_party", "timing"}


def test_one_brief_built_alone_equals_the_same_brief_built_in_a_batch():
    row = {"touch_count": 12.0, "touches_7d": 9.0, "touches_prev_30d": 1.0, "industry": "retail",
           "fit_timing": 40.0, "demo_requests": 1.0, "activity_span_days": 5.0}  # fmt: skip
    fit_scores = {"fit_company": 80, "fit_role": 65, "fit_technology": 50, "fit_timing": 40}
    fit_factors = {"company_size": 40.0, "company_industry": 35.0, "company_geography": 0.0,
                   "company_growth": 5.0, "role_seniority": 44.0, "role_department": 20.0,
                   "role_title": 0.0, "technology_overlap": 50.0, "timing_leadership": 30.0,
                   "timing_initiative": 0.0, "timing_funding": 0.0, "timing_hiring": 0.0,
                   "timing_intent": 10.0}  # fmt: skip
    common: dict[str, Any] = {
        "lead": {"name": "Ana", "title": "VP", "email": "ana@acme.com"},
        "row": row,
        "tier": "sales_ready",
        "confidence": "high",
        "probability": 0.71234,
        "point_score": 120,
        "rule": None,
        "contributions": {"touches_7d": 0.9, "fit_timing": 0.3, "industry": -0.05},
        "content": [{"category": "pricing", "visits": 3, "minutes": 12.5}],
        "timeline": (20, 45),
        "deal_size": (10000.0, 90000.0),
        "segment": "Mid-market",
    }
    alone = briefs.build_brief(
        **common,
        thresholds={"sales_ready": 0.5, "nurture": 0.1},
        point_threshold=100,
        fit_scores=fit_scores,
        fit_factors=fit_factors,
        model_version_id=3,
    )
    builder = briefs.BriefBuilder(
        thresholds={"sales_ready": 0.5, "nurture": 0.1},
        point_threshold=100,
        model_version_id=3,
        fit_factor_names=list(fit_factors),
    )
    batch = builder.build(
        **common, fit_scores=list(fit_scores.values()), fit_points=list(fit_factors.values())
    )
    assert batch.brief == alone
    assert alone["fit"]["timing"] == {
        "score": 40,
        "factors": [
            {"factor": "timing_leadership", "label": "New leader in the last 120 days",
             "points": 30, "max": 30},
            {"factor": "timing_initiative", "label": "Initiative announced in the last 180 days",
             "points": 0, "max": 25},
            {"factor": "timing_funding", "label": "Funding in the last 180 days", "points": 0,
             "max": 20},
            {"factor": "timing_hiring", "label": "Hiring for the problem area", "points": 0,
             "max": 15},
            {"factor": "timing_intent", "label": "Third-party research surge", "points": 10,
             "max": 10},
        ],
    }  # fmt: skip
    assert alone["predictive"] == {
        "conversion_probability": 0.7123,
        "timeline_days": [20, 45],
        "deal_size": [10000, 90000],
        "model_version": 3,
        "thresholds": {"sales_ready": 0.5, "nurture": 0.1},
    }
    sentences = [f["sentence"] for f in alone["factors"]["positive"]]
    assert "Timing fit: 40/100 (raises the likelihood)." in sentences


def test_bulk_runs_explain_with_approximate_contributions_and_small_runs_exactly():
    model = FakeConversionModel()
    models = EngineModels(conversion=model, conversion_version_id=1, ready=True)
    _assessment(models)
    _assessment(models, exact_contributions=False)
    assert model.approximate == [False, True]


def test_rule_evidence_needs_only_the_evidence_facts():
    facts = pd.Series(
        {"email": "kim@cs.stanford.edu", "email_domain": "cs.stanford.edu", "title": "PhD student",
         "job_applications": 2.0, "careers_views": 3.0, "support_requests": 1.0,
         "support_views": 4.0, "fit_company": 12, "fit_role": 9, "touch_count": 7.0,
         "name": "Kim", "industry": "education"}
    )  # fmt: skip
    categories = ["competitor", "student", "job_seeker", "existing_customer_support", "analyst",
                  "non_decision_maker", "spam", "minimum_fit", "other"]  # fmt: skip
    for category in categories:
        assert rule_evidence(category, facts[list(EVIDENCE_FACTS)]) == rule_evidence(
            category, facts
        ), category


# --- the database ----------------------------------------------------------------------------


def _world() -> list[int]:
    now = timezone.now()
    retail = AccountFactory(industry="retail", employee_count=300, tech_stack=["salesforce"])
    other = AccountFactory(industry="software", employee_count=None)
    leads = [
        LeadFactory(email="ana@retail.com", account=retail, title="Director", seniority="director",
                    attributes={"plan": "pro", "seats": 12}),
        LeadFactory(email="bo@retail.com", account=retail, name='Bo "B" \\ Smith'),
        LeadFactory(email="cy@software.io", account=other),
        LeadFactory(email="di@gmail.com", account=None),
    ]  # fmt: skip
    touchpoints = []
    for i, lead in enumerate(leads):
        for j, (category, industry) in enumerate(
            [("case_study", {"industry": "Retail"}), ("pricing", {}), ("blog", {"x": 1})]
        ):
            touchpoints.append(
                Touchpoint(
                    lead=lead,
                    kind="page_view",
                    page_category=category,
                    duration_seconds=None if j == 2 else 30 * (i + 1),
                    occurred_at=now - timedelta(days=2 + i + j, microseconds=123457),
                    external_id=f"w-{i}-{j}",
                    properties=industry,
                    text="quote, please" if j == 1 else "",
                )
            )
    Touchpoint.objects.bulk_create(touchpoints)
    Stakeholder.objects.create(account=retail, lead=leads[1], committee_role="economic_buyer")
    Stakeholder.objects.create(account=retail, lead=None, name="No lead", committee_role="")
    IntentSignal.objects.create(account=retail, topic="crm", surge_score=2.5,
                                observed_at=now - timedelta(days=3))  # fmt: skip
    AccountEvent.objects.create(account=other, kind="funding", title="Series B",
                                occurred_at=now - timedelta(days=10))  # fmt: skip
    return [lead.pk for lead in leads]


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted, text as repr, missing as one marker: order and dtype left out."""
    out = frame.copy()
    for column in out.columns:
        if not (
            pd.api.types.is_numeric_dtype(out[column])
            or pd.api.types.is_datetime64_any_dtype(out[column])
        ):
            out[column] = (
                out[column]
                .astype(object)
                .map(
                    lambda v: (
                        "<NA>" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(v)
                    )
                )
            )
    return out.sort_values(list(out.columns)).reset_index(drop=True)


@pytest.mark.django_db
def test_case_studies_from_the_leads_industry_are_counted_from_the_database():
    ids = _world()
    leads = selectors.lead_frame(lead_ids=ids)
    leads["as_of"] = pd.Timestamp(timezone.now())
    frames = selectors.feature_frames(leads=leads)
    # The industry is text, never its JSON ("Retail" with the quotes), on either path.
    assert set(frames.touchpoints["content_industry"].dropna()) == {"Retail"}
    features = build_features(frames)
    counted = features["industry_case_studies"].to_dict()
    assert counted == {ids[0]: 1.0, ids[1]: 1.0, ids[2]: 0.0, ids[3]: 0.0}


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_copy_reads_give_the_orm_frames_and_the_same_features():
    ids = _world()
    fast = selectors.lead_frame(lead_ids=ids)
    plain = selectors.lead_frame(lead_ids=ids, fast=False)
    pd.testing.assert_frame_equal(_canonical(fast), _canonical(plain), check_dtype=False)
    as_of = pd.Timestamp(timezone.now())
    fast["as_of"] = as_of
    plain["as_of"] = as_of
    fast_frames = selectors.feature_frames(leads=fast)
    plain_frames = selectors.feature_frames(leads=plain, fast=False)
    for name in ("touchpoints", "accounts", "account_touchpoints", "stakeholders", "intent",
                 "events"):  # fmt: skip
        a, b = getattr(fast_frames, name), getattr(plain_frames, name)
        assert len(a) == len(b) > 0, name
        pd.testing.assert_frame_equal(_canonical(a), _canonical(b), check_dtype=False, obj=name)
    pd.testing.assert_frame_equal(
        build_features(fast_frames), build_features(plain_frames), check_dtype=False
    )


def test_qualification_columns_are_every_field_of_a_qualification():
    fields = {f.attname for f in Qualification._meta.concrete_fields if not f.primary_key}
    assert set(services.QUALIFICATION_COLUMNS) == fields
    assert len(services.QUALIFICATION_COLUMNS) == len(fields)


def _stored(qualification: Qualification) -> dict[str, Any]:
    return {name: getattr(qualification, name) for name in services.QUALIFICATION_COLUMNS}


def _assessed_world() -> tuple[list[int], datetime, Assessment]:
    """The `_world` leads, assessed as of now (not stored)."""
    ids = _world()
    now = timezone.now()
    leads = selectors.lead_frame(lead_ids=ids)
    leads["as_of"] = pd.Timestamp(now)
    assessment = assess(selectors.feature_frames(leads=leads), services.engine_config(),
                        services.engine_models())  # fmt: skip
    return ids, now, assessment


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_copy_stores_what_bulk_create_would():
    ids, now, assessment = _assessed_world()
    expected = {q.lead_id: q for q in services._qualifications(assessment, None, now)}
    assert services._write(assessment, ids, None, now, []) == len(ids)
    services._write(assessment, ids, None, now, [])  # again: the first rows stop being current
    assert Qualification.objects.filter(lead_id__in=ids).count() == 2 * len(ids)
    stored = Qualification.objects.filter(lead_id__in=ids, is_current=True)
    assert stored.count() == len(ids)
    for qualification in stored:
        assert _stored(qualification) == _stored(expected[qualification.lead_id])
    assert stored.get(lead_id=ids[1]).brief["lead"]["name"] == 'Bo "B" \\ Smith'


@pytest.mark.postgres
@pytest.mark.django_db
def test_copy_text_carries_tabs_newlines_backslashes_and_nulls_intact():
    ids, now, assessment = _assessed_world()
    awkward = "Call\tthem\nfirst \\ then\r\\N write \\\\ N"
    assessment.results["recommended_action"] = awkward
    assessment.results["disqualification_reason"] = "\\N"  # text, not a NULL
    expected = {q.lead_id: q for q in services._qualifications(assessment, None, now)}

    services._write(assessment, ids, None, now, [])

    stored = Qualification.objects.filter(lead_id__in=ids, is_current=True)
    assert stored.count() == len(ids)
    for qualification in stored:
        assert qualification.recommended_action == awkward
        assert qualification.disqualification_reason == "\\N"
        assert qualification.model_version_id is None  # NULL stays NULL
        assert _stored(qualification) == _stored(expected[qualification.lead_id])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_pipelined_writer_stores_every_chunk_and_keeps_one_current_per_lead():
    ids = [LeadFactory(email=f"p{i}@acme.com").pk for i in range(7)]
    first = services.leads_qualify(lead_ids=ids, chunk_size=2, pipeline=True)
    second = services.leads_qualify(lead_ids=ids, chunk_size=3)  # the default: pipelined here
    assert first.leads == second.leads == 7
    assert Qualification.objects.count() == 14
    current = Qualification.objects.filter(is_current=True)
    assert sorted(current.values_list("lead_id", flat=True)) == sorted(ids)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failed_write_stops_the_run_and_raises(monkeypatch: pytest.MonkeyPatch):
    ids = [LeadFactory(email=f"f{i}@acme.com").pk for i in range(6)]

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_write_postgres", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        services.leads_qualify(lead_ids=ids, chunk_size=2, pipeline=True)
    assert not Qualification.objects.exists()


@pytest.mark.django_db
def test_runs_inside_a_transaction_write_in_the_callers_transaction():
    ids = [LeadFactory(email=f"t{i}@acme.com").pk for i in range(5)]
    assert not services._can_pipeline(len(ids), 2, True)  # pytest-django runs tests in one
    result = services.leads_qualify(lead_ids=ids, chunk_size=2)
    assert result.leads == 5
    assert Qualification.objects.filter(is_current=True).count() == 5
    assert connection.in_atomic_block


@pytest.mark.django_db
def test_large_runs_ask_for_approximate_contributions(monkeypatch: pytest.MonkeyPatch):
    ids = [LeadFactory(email=f"a{i}@acme.com").pk for i in range(3)]
    asked: list[bool] = []
    real_assess = services.assess

    def spy(*args: Any, exact_contributions: bool = True, **kwargs: Any) -> Any:
        asked.append(exact_contributions)
        return real_assess(*args, exact_contributions=exact_contributions, **kwargs)

    monkeypatch.setattr(services, "assess", spy)
    monkeypatch.setattr(services, "EXACT_CONTRIBUTIONS_MAX_LEADS", 2)
    services.leads_qualify(lead_ids=ids[:2])
    services.leads_qualify(lead_ids=ids)
    assert asked == [True, False]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_chunks_spread_over_processes_store_every_lead_once():
    ids = [LeadFactory(email=f"m{i}@acme.com").pk for i in range(9)]
    seen: list[tuple[int, int]] = []

    result = services.leads_qualify_in_processes(
        lead_ids=ids,
        processes=2,
        chunk_size=4,
        progress=lambda done, total: seen.append((done, total)),
        notify=False,
    )

    assert result.leads == 9 and sum(result.tiers.values()) == 9
    current = Qualification.objects.filter(is_current=True)
    assert sorted(current.values_list("lead_id", flat=True)) == sorted(ids)
    assert Qualification.objects.count() == 9
    # Three chunks (4, 4 and 1 leads), reported as each finished.
    assert len(seen) == 3 and seen[-1] == (9, 9)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


@pytest.mark.django_db
def test_inside_a_transaction_the_run_stays_in_this_process():
    ids = [LeadFactory(email=f"t{i}@acme.com").pk for i in range(3)]
    assert not services.processes_possible(len(ids), 1)  # the test's transaction
    result = services.leads_qualify_in_processes(
        lead_ids=ids, processes=2, chunk_size=1, notify=False
    )
    assert result.leads == 3
    assert Qualification.objects.filter(is_current=True).count() == 3


@pytest.mark.postgres
def test_a_chunk_that_fails_in_its_process_stops_the_run_with_its_error():
    from django.db.utils import OperationalError

    from scoring.parallel import qualify_in_processes

    # The process starts, but the database it is pointed at does not exist.
    with pytest.raises(OperationalError, match="leadqual_no_such_database"):
        qualify_in_processes(
            [[1], [2]],
            processes=2,
            now=timezone.now(),
            database_name="leadqual_no_such_database",
            predict_threads=1,
        )
