"""A small world for the RevOps pages, built with the ORM, whose figures are known by hand.

- 24 Sales Ready leads with an outcome: 8 converted, 16 closed (qualification accuracy 1/3),
  plus 6 Sales Ready leads still open;
- 30 Nurture leads: 2 of them converted (10 converted leads: below the false-negative sample);
- a rep verdict on 20 Sales Ready leads: 17 accepts, 2 "wrong fit", 1 "bad timing";
- regions: all Sales Ready leads in EMEA, Nurture ones in NA (NA fails the 80% rule);
- two conversion models: #old retired (activated before) and #current active;
- every lead qualified by #current 5 days ago, before the outcomes of 3 days ago and after
  #current was trained, so each lead with an outcome is live (`dashboards.live`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import Account, Lead, Region
from dashboards.models import MetricsSnapshot
from dashboards.services import metrics_snapshot_take
from scoring.models import (
    Confidence,
    Feedback,
    FeedbackReason,
    FeedbackVerdict,
    ModelStatus,
    ModelVersion,
    Qualification,
    Tier,
)
from tests.api.test_models_api import real_artifact
from tests.factories import ModelVersionFactory

HOLDOUT_METRICS = {
    "auc": 0.81,
    "log_loss": 0.31,
    "brier": 0.09,
    "ece": 0.012,
    "rows": 4000,
    "at_capacity": {"capacity": 0.1, "rows": 400, "precision": 0.42, "recall": 0.38, "lift": 3.8},
    "baseline": {"at_capacity": {"precision": 0.26}},
    "lift_over_baseline_at_capacity": 1.6,
    "segments": {
        "region": {
            "EMEA": {"rows": 200, "positives": 30, "auc": 0.83},
            "LATAM": {"rows": 12, "positives": 1, "auc": None, "skipped": "fewer than 30 rows"},
        }
    },
    "calibration_bins": [
        {"lower": 0.0, "upper": 0.1, "count": 300, "mean_predicted": 0.05, "observed_rate": 0.04},
        {"lower": 0.1, "upper": 0.2, "count": 0, "mean_predicted": None, "observed_rate": None},
        {"lower": 0.5, "upper": 0.6, "count": 100, "mean_predicted": 0.55, "observed_rate": 0.5},
    ],
}


@dataclass
class RevopsWorld:
    old: ModelVersion
    current: ModelVersion
    snapshot: MetricsSnapshot


def _lead(n: int, account: Account, **fields: object) -> Lead:
    return Lead.objects.create(account=account, email=f"person{n}@{account.domain}", **fields)


def revops_world(*, rep_user: User | None = None, extra_leads: int = 0) -> RevopsWorld:
    now = timezone.now()
    scored_at = now - timedelta(days=5)
    old = ModelVersionFactory(
        status=ModelStatus.RETIRED,
        artifact=real_artifact(),
        metrics={**HOLDOUT_METRICS, "auc": 0.78},
        trained_at=now - timedelta(days=60),
        activated_at=now - timedelta(days=59),
        data_from=now - timedelta(days=400),
        data_to=now - timedelta(days=61),
    )
    current = ModelVersionFactory(
        status=ModelStatus.ACTIVE,
        artifact=real_artifact(),
        metrics=HOLDOUT_METRICS,
        trained_at=now - timedelta(days=20),
        activated_at=now - timedelta(days=19),
        data_from=now - timedelta(days=400),
        data_to=now - timedelta(days=21),
    )
    emea = Account.objects.create(
        name="Emea Co", domain="emea.example", region=Region.EMEA, industry="software",
        employee_count=300,
    )  # fmt: skip
    na = Account.objects.create(
        name="Na Co", domain="na.example", region=Region.NORTH_AMERICA, industry="retail",
        employee_count=40,
    )  # fmt: skip
    n = 0
    outcomes = ["won"] * 8 + ["lost"] * 16 + ["open"] * 6
    for i, outcome in enumerate(outcomes):
        n += 1
        lead = _lead(
            n,
            emea,
            created_at=now - timedelta(days=90 if i % 2 else 10),
            converted_at=now - timedelta(days=3) if outcome == "won" else None,
            closed_at=now - timedelta(days=3) if outcome == "lost" else None,
        )
        q = Qualification.objects.create(
            lead=lead,
            model_version=current,
            computed_at=scored_at,
            tier=Tier.SALES_READY,
            confidence=Confidence.HIGH,
            conversion_probability=0.55,
            point_score=120 if i % 3 == 0 else 40,
        )
        if i < 20:
            verdict, reason = FeedbackVerdict.ACCEPT, FeedbackReason.GOOD_FIT
            if i in (1, 2):
                verdict, reason = FeedbackVerdict.REJECT, FeedbackReason.WRONG_FIT
            elif i == 3:
                verdict, reason = FeedbackVerdict.REJECT, FeedbackReason.BAD_TIMING
            Feedback.objects.create(
                lead=lead, qualification=q, user=rep_user, verdict=verdict, reason=reason
            )
    for i in range(30 + extra_leads):
        n += 1
        lead = _lead(
            n,
            na,
            created_at=now - timedelta(days=90 if i % 2 else 10),
            converted_at=now - timedelta(days=3) if i < 2 else None,
        )
        Qualification.objects.create(
            lead=lead,
            model_version=current,
            computed_at=scored_at,
            tier=Tier.NURTURE,
            confidence=Confidence.MEDIUM,
            conversion_probability=0.05,
            point_score=10,
        )
    return RevopsWorld(old=old, current=current, snapshot=metrics_snapshot_take())
