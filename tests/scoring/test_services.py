"""Qualification and training through the database: history, registry, gating, dry runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from accounts.models import Lead, Touchpoint
from scoring import services
from scoring.ml.conversion import ConversionParams
from scoring.models import (
    Confidence,
    DisqualificationRule,
    ModelStatus,
    ModelVersion,
    Qualification,
    RuleCategory,
    ScoringSettings,
)
from scoring.rules import RuleSpec
from tests.factories import AccountFactory, LeadFactory

pytestmark = pytest.mark.django_db

FAST = ConversionParams(folds=2, max_rounds=60, early_stopping_rounds=10)


def _history(n: int = 240, seed: int = 3, *, dated: bool = True) -> None:
    """Labelled leads whose outcome depends, noisily, on bottom-funnel evaluation.

    `dated=False` gives them all one creation date, as an export without dates is imported.
    """
    rng = np.random.default_rng(seed)
    account = AccountFactory(domain="northwind.com", employee_count=400, industry="software")
    now = timezone.now()
    touchpoints = []
    for i in range(n):
        created = now - timedelta(days=300 - (i if dated else 0))
        evaluating = rng.random() < 0.5
        converted = rng.random() < (0.75 if evaluating else 0.15)
        outcome_at = created + timedelta(days=20)
        lead = LeadFactory(
            email=f"p{i}@northwind.com",
            account=account,
            title="Director of Operations",
            seniority="director",
            created_at=created,
            converted_at=outcome_at if converted else None,
            closed_at=None if converted else outcome_at,
            status="converted" if converted else "closed",
        )
        pages = ["pricing", "roi_calculator", "implementation"] if evaluating else ["blog"] * 3
        for j, page in enumerate(pages):
            touchpoints.append(
                Touchpoint(
                    lead=lead,
                    kind="page_view",
                    page_category=page,
                    duration_seconds=int(rng.integers(30, 600)),
                    occurred_at=outcome_at - timedelta(days=5 - j),
                    external_id=f"h-{i}-{j}",
                )
            )
            # Activity after the outcome must never be seen by training.
        touchpoints.append(
            Touchpoint(
                lead=lead,
                kind="form_submit",
                form_type="demo_request",
                occurred_at=outcome_at + timedelta(days=1),
                external_id=f"h-{i}-after",
            )
        )
    Touchpoint.objects.bulk_create(touchpoints)


def test_qualifying_keeps_history_and_exactly_one_current_assessment():
    lead = LeadFactory(email="ana@acme.com")
    services.leads_qualify(lead_ids=[lead.pk])
    services.leads_qualify(lead_ids=[lead.pk])
    assert Qualification.objects.filter(lead=lead).count() == 2
    current = Qualification.objects.get(lead=lead, is_current=True)
    assert current.brief["tier"] == current.tier
    assert current.confidence == Confidence.NOT_ENOUGH_DATA
    assert current.brief["confidence_note"].startswith("Not enough data yet")


def test_a_rule_hit_is_stored_with_its_reason_code_and_evidence():
    DisqualificationRule.objects.create(
        name="Students", category=RuleCategory.STUDENT, reason_code="student", priority=10
    )
    lead = LeadFactory(email="kim@cs.stanford.edu", title="PhD student")
    qualification = services.lead_qualify(lead_id=lead.pk)
    assert qualification.tier == "disqualify"
    assert qualification.disqualification_reason == "student"
    assert qualification.brief["rule_hits"][0]["evidence"].startswith("Academic or student")


def test_training_registers_an_active_model_and_gates_the_next_one():
    _history()
    first = services.model_train(params=FAST)
    assert first.activated and first.version.status == ModelStatus.ACTIVE
    assert first.metrics["auc"] > 0.7
    assert first.metrics["baseline_auc"] is not None
    assert first.version.training_rows == 240
    # The same data and seed cannot beat itself: the candidate stays a candidate.
    second = services.model_train(params=FAST)
    assert not second.activated
    assert "same holdout" in second.reason
    assert ModelVersion.objects.get(pk=first.version.pk).status == ModelStatus.ACTIVE
    # A person can activate any version; the previous one is retired, not deleted.
    services.model_activate(model_version=second.version)
    assert ModelVersion.objects.get(pk=first.version.pk).status == ModelStatus.RETIRED
    services.model_activate(model_version=ModelVersion.objects.get(pk=first.version.pk))
    assert ModelVersion.objects.get(pk=first.version.pk).status == ModelStatus.ACTIVE


def test_without_dates_the_holdout_is_cross_validated_and_promotion_uses_its_first_fold():
    _history(dated=False)
    first = services.model_train(params=FAST)
    holdout = first.metrics["holdout"]
    assert holdout["method"] == "cross-validated"
    assert holdout["rows"] == 240 and len(holdout["fold_auc"]) == 5
    assert first.metrics["promotion_holdout"]["holdout"]["rows"] == 48
    second = services.model_train(params=FAST)
    fixed = second.metrics["promotion_holdout"]
    compared = second.metrics["active_on_same_holdout"]
    # Set beside the cross-validated figures the active model's would be refused (other rows);
    # on the first fold it is the candidate's twin, so the candidate does not win.
    assert compared["model_version"] == first.version.pk
    assert compared["auc"] == pytest.approx(fixed["auc"])
    assert second.reason == (
        f"AUC {fixed['auc']:.4f} vs active #{first.version.pk} {compared['auc']:.4f} "
        "on the same holdout"
    )
    assert not second.activated


def test_a_reused_model_id_is_never_served_from_the_process_cache():
    # SQLite hands a rolled-back id out again; the cache must not answer with the old model.
    _history(n=120)
    first = services.model_train(params=FAST).version
    other = services.model_train(params=ConversionParams(folds=2, max_rounds=60, seed=1)).version
    cached = services._load(first)
    reused = ModelVersion(
        pk=first.pk, trained_at=first.trained_at + timedelta(seconds=1), artifact=other.artifact
    )

    assert services._load(reused) is not cached
    assert services._load(first) is cached


def _threads(model: Any) -> int:
    return int(model.params["nthread"])


def test_a_worker_pool_process_predicts_with_the_worker_thread_count(
    settings: Any,
) -> None:
    from leadqual.celery import _pool_process_predict_threads

    _history(n=120)
    services.model_train(params=FAST)
    settings.LEADQUAL_WORKER_PREDICT_THREADS = 1
    try:
        assert _threads(services.engine_models().conversion) == 2  # the model's own
        _pool_process_predict_threads()  # what a pool process runs as it starts
        assert services.predict_threads() == 1
        models = services.engine_models()
        loaded = [m for m in (models.conversion, models.timeline, models.deal_size) if m]
        assert loaded and all(_threads(model) == 1 for model in loaded)
        settings.LEADQUAL_PREDICT_THREADS = 3  # the pool's own setting still wins there
        assert services.predict_threads() == 1
        services.predict_threads_use(None)
        assert services.predict_threads() == 3
        assert _threads(services.engine_models().conversion) == 3
    finally:
        services.predict_threads_use(None)


def test_training_never_sees_activity_after_the_outcome():
    _history(n=120)
    data = services.training_set(config=services.engine_config())
    assert data.X["demo_requests"].sum() == 0


def test_with_enough_outcomes_the_model_decides_and_explains():
    _history()
    services.model_train(params=FAST)
    settings_row = ScoringSettings.load()
    settings_row.min_outcomes_for_model = 100
    settings_row.save()
    lead = Lead.objects.order_by("-pk").first()
    assert lead is not None
    qualification = services.lead_qualify(lead_id=lead.pk)
    assert qualification.confidence != Confidence.NOT_ENOUGH_DATA
    assert qualification.model_version is not None
    assert qualification.contributions
    assert qualification.brief["factors"]["positive"] or qualification.brief["factors"]["negative"]


def test_dry_run_reports_what_a_new_rule_would_change_and_writes_nothing():
    now = timezone.now()
    for i in range(3):
        LeadFactory(email=f"s{i}@ox.ac.uk", created_at=now - timedelta(days=2))
    LeadFactory(email="old@ox.ac.uk", created_at=now - timedelta(days=90))
    LeadFactory(email="buyer@acme.com", created_at=now - timedelta(days=1))
    report = services.rules_dry_run(
        rules=[RuleSpec("student", "Students", "student")], days=30, now=now
    )
    assert report.leads == 4
    assert report.changed == 3
    assert report.by_reason == {"student": 3}
    assert all(e["after"] == "disqualify" for e in report.examples)
    assert not Qualification.objects.exists()
