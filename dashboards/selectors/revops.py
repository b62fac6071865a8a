"""Reads for the RevOps pages.

Two kinds: `revops_lead_frame` and `revops_drift_frames` read every lead and are for the
hourly snapshot only (`dashboards.services.revops_report_compute`); everything else reads the
latest snapshot, the snapshot series, the model registry or a training run, in a few queries
whatever the number of leads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from celery import current_app
from celery.backends.base import DisabledBackend
from celery.result import AsyncResult
from django.db.models import Exists, F, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Lead, Opportunity, Touchpoint
from dashboards.live import VersionFacts
from dashboards.metrics import SEGMENT_COLUMNS, Metric, size_band
from dashboards.models import MetricsSnapshot, TrainingRun
from scoring.features import domain_type
from scoring.models import (
    Feedback,
    FeedbackVerdict,
    ModelKind,
    ModelStatus,
    ModelVersion,
    Qualification,
    ScoringSettings,
)
from scoring.selectors import feature_config, model_version_headline_metrics

# Recent leads for time to qualification; older leads were often imported, not captured.
RECENT_DAYS = 30
# The "now" population of the drift comparison.
DRIFT_CURRENT_DAYS = 30
MODEL_VERSIONS_SHOWN = 12
HISTORY_DAYS = (1, 7, 30, 90)
DEFAULT_HISTORY_DAYS = 30

_LEAD_COLUMNS = (
    "lead_id",
    "created_at",
    "converted_at",
    "closed_at",
    "email",
    "account_id",
    "region",
    "employees",
    "industry",
    "seniority",
    "department",
    "source",
    "has_touchpoint",
)


# --- the snapshot's inputs (every lead) ------------------------------------------------------


def revops_lead_frame(*, now: datetime) -> pd.DataFrame:
    """One row per lead with what `dashboards.metrics` reads (its module docstring lists the
    columns). Five queries; a few seconds on 100,000 leads, so the hourly snapshot only."""
    touched = Touchpoint.objects.filter(lead_id=OuterRef("pk"))
    leads = pd.DataFrame.from_records(
        list(
            Lead.objects.order_by()
            .annotate(has_touchpoint=Exists(touched))
            .values_list(
                "pk",
                "created_at",
                "converted_at",
                "closed_at",
                "email",
                "account_id",
                "account__region",
                "account__employee_count",
                "account__industry",
                "seniority",
                "department",
                "source",
                "has_touchpoint",
            )
            .iterator(chunk_size=5000)
        ),
        columns=list(_LEAD_COLUMNS),
    )
    current = pd.DataFrame.from_records(
        list(
            Qualification.objects.filter(is_current=True)
            .order_by()
            .values_list("lead_id", "tier", "conversion_probability", "point_score", "confidence")
            .iterator(chunk_size=5000)
        ),
        columns=["lead_id", "tier", "probability", "point_score", "confidence"],
    )
    since = now - timedelta(days=RECENT_DAYS)
    first = pd.DataFrame.from_records(
        list(
            Qualification.objects.filter(lead__created_at__gte=since)
            # A replay of a holdout (as of before its model was trained) says nothing about
            # how soon a lead was qualified: it was not qualified then.
            .filter(
                Q(model_version__isnull=True) | Q(model_version__trained_at__lte=F("computed_at"))
            )
            .order_by()
            .values("lead_id")
            .annotate(first=Min("computed_at"))
            .values_list("lead_id", "first")
        ),
        columns=["lead_id", "first_qualified_at"],
    )
    first_opportunity = dict(
        Opportunity.objects.filter(lead__isnull=False)
        .order_by()
        .values("lead_id")
        .annotate(first=Min("created_at"))
        .values_list("lead_id", "first")
    )
    # The latest verdict per lead wins: ordered oldest first, later rows overwrite.
    latest: dict[int, tuple[str, str, datetime]] = {}
    first_rejected: dict[int, datetime] = {}
    for lead_id, verdict, reason, at in (
        Feedback.objects.order_by("created_at", "pk")
        .values_list("lead_id", "verdict", "reason", "created_at")
        .iterator(chunk_size=5000)
    ):
        latest[lead_id] = (verdict, reason, at)
        if verdict == FeedbackVerdict.REJECT:
            first_rejected.setdefault(lead_id, at)
    feedback = pd.DataFrame.from_records(
        [(k, *v, first_rejected.get(k)) for k, v in latest.items()],
        columns=["lead_id", "verdict", "reason", "feedback_at", "first_rejected_at"],
    )
    frame = leads.merge(current, on="lead_id", how="left")
    frame = frame.merge(first, on="lead_id", how="left").merge(feedback, on="lead_id", how="left")
    frame = frame.merge(_assessed_before_outcome(), on="lead_id", how="left")
    frame["first_opportunity_at"] = frame["lead_id"].map(first_opportunity)
    for column in (
        "created_at", "converted_at", "closed_at", "first_qualified_at", "feedback_at",
        "first_rejected_at", "first_opportunity_at", "before_at",
    ):  # fmt: skip
        frame[column] = pd.to_datetime(frame[column], utc=True)
    # As `_outcome_at` has the database compute it for `_assessed_before_outcome`. One unit
    # for the three: pandas reads each column at the precision its values need.
    converted, closed, deal = (
        frame[c].dt.as_unit("us") for c in ("converted_at", "closed_at", "first_opportunity_at")
    )
    frame["outcome_at"] = converted.fillna(closed).fillna(deal)
    frame["tier"] = frame["tier"].astype(object).where(frame["tier"].notna(), None)
    frame["probability"] = pd.to_numeric(frame["probability"], errors="coerce")
    frame["point_score"] = pd.to_numeric(frame["point_score"], errors="coerce")
    frame["has_opportunity"] = frame["lead_id"].isin(first_opportunity.keys())
    frame["hours_to_qualify"] = (
        frame["first_qualified_at"] - frame["created_at"]
    ).dt.total_seconds() / 3600.0
    employees = pd.to_numeric(frame["employees"], errors="coerce")
    frame["company_size"] = [size_band(v) for v in employees.to_numpy(dtype=np.float64)]
    frame["log_employees"] = np.log10(employees.where(employees > 0))
    frame["has_account"] = frame["account_id"].notna()
    frame["has_industry"] = frame["industry"].fillna("").astype(str) != ""
    frame["has_employees"] = employees.notna()
    frame["has_touchpoint"] = frame["has_touchpoint"].fillna(False).astype(bool)
    domains = frame["email"].fillna("").astype(str).str.rsplit("@", n=1).str[-1]
    config = feature_config(half_life_days=ScoringSettings.load().recency_half_life_days)
    frame["email_domain_type"] = domain_type(domains, config).to_numpy()
    frame["region"] = frame["region"].fillna("").astype(str).replace("", "unknown")
    return frame


def _outcome_at() -> Coalesce:
    """When a lead's outcome became known: its conversion, its closing, or its first deal."""
    first_deal = Opportunity.objects.filter(lead_id=OuterRef("pk")).order_by("created_at")
    return Coalesce(
        F("converted_at"), F("closed_at"), Subquery(first_deal.values("created_at")[:1])
    )


def _assessed_before_outcome() -> pd.DataFrame:
    """Per lead with an outcome, its latest qualification computed before that outcome (one
    query: an index seek per lead on qualification_lead_time_idx)."""
    latest = (
        Qualification.objects.filter(lead_id=OuterRef("pk"), computed_at__lt=OuterRef("outcome_at"))
        .order_by("-computed_at", "-pk")
        .values("pk")[:1]
    )
    chosen = (
        Lead.objects.annotate(outcome_at=_outcome_at())
        .filter(outcome_at__isnull=False)
        .annotate(before=Subquery(latest))
        .filter(before__isnull=False)
        .values("before")
    )
    fields = {
        "lead_id": "lead_id",
        "computed_at": "before_at",
        "model_version_id": "before_model",
        "tier": "before_tier",
        "conversion_probability": "before_probability",
        "point_score": "before_point_score",
    }
    rows = (
        Qualification.objects.filter(pk__in=chosen)
        .order_by()
        .values_list(*fields)
        .iterator(chunk_size=5000)
    )
    return pd.DataFrame.from_records(list(rows), columns=list(fields.values()))


def conversion_version_facts() -> dict[int, VersionFacts]:
    """Each conversion model's training time and time-ordered holdout cutoff (`dashboards.live`
    decides with them which leads a model cannot have trained on). One query, no artifacts."""
    rows = ModelVersion.objects.filter(kind=ModelKind.CONVERSION).values_list(
        "pk", "trained_at", "metrics__holdout__method", "metrics__holdout__cutoff"
    )
    facts = {}
    for pk, trained_at, method, cutoff in rows:
        parsed = parse_datetime(cutoff) if method == "time" and isinstance(cutoff, str) else None
        facts[int(pk)] = VersionFacts(trained_at=trained_at, holdout_cutoff=parsed)
    return facts


def model_version_active_conversion() -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(kind=ModelKind.CONVERSION, status=ModelStatus.ACTIVE)
        .defer("artifact")
        .first()
    )


# --- the pages (the latest snapshot and the registry) ----------------------------------------

_SEGMENT_LABELS = dict(SEGMENT_COLUMNS)


def segment_auc_rows(version: ModelVersion) -> list[dict[str, Any]]:
    """The version's holdout AUC per segment level, as stored at training (`segments` in its
    metrics): one group per segment column, levels in stored order."""
    segments = version.metrics.get("segments") if isinstance(version.metrics, dict) else None
    if not isinstance(segments, dict):
        return []
    return [
        {
            "column": column,
            "label": _SEGMENT_LABELS.get(column, column),
            "levels": [{"level": level, **entry} for level, entry in levels.items()],
        }
        for column, levels in segments.items()
        if isinstance(levels, dict)
    ]


@dataclass(frozen=True)
class TierPoint:
    taken_at: datetime
    sales_ready: int
    nurture: int
    disqualified: int
    needs_review: int
    qualified: int


@dataclass(frozen=True)
class RevopsReport:
    """The latest snapshot's report, typed for the templates; `snapshot` is None before the
    first hourly run."""

    snapshot: MetricsSnapshot | None
    primary: list[Metric] = field(default_factory=list)
    secondary: list[Metric] = field(default_factory=list)
    diagnostic: list[Metric] = field(default_factory=list)
    fairness: list[dict[str, Any]] = field(default_factory=list)
    drift: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[str, Any] = field(default_factory=dict)
    # What the outcome figures are computed over (`dashboards.live.live_summary`); empty in
    # a report from before they were computed over the live leads only.
    live: dict[str, Any] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return self.snapshot is None or not self.snapshot.report

    @property
    def taken_at(self) -> datetime | None:
        return self.snapshot.taken_at if self.snapshot else None


def revops_report() -> RevopsReport:
    """The newest snapshot that carries a report (one query)."""
    snapshot = MetricsSnapshot.objects.exclude(report={}).order_by("-taken_at").first()
    if snapshot is None:
        return RevopsReport(snapshot=None)
    report = snapshot.report

    def metrics(key: str) -> list[Metric]:
        return [Metric.from_dict(item) for item in report.get(key, [])]

    return RevopsReport(
        snapshot=snapshot,
        primary=metrics("primary"),
        secondary=metrics("secondary"),
        diagnostic=metrics("diagnostic"),
        fairness=report.get("fairness", []),
        drift=report.get("drift", {}),
        outcomes=report.get("outcomes", {}),
        live=report.get("live", {}),
    )


def tier_history(*, days: int, now: datetime | None = None) -> list[TierPoint]:
    """The snapshot series of the last `days` days, oldest first (one query, no reports)."""
    now = now or timezone.now()
    rows = (
        MetricsSnapshot.objects.filter(taken_at__gte=now - timedelta(days=days))
        .order_by("taken_at")
        .values_list(
            "taken_at", "sales_ready", "nurture", "disqualified", "needs_review", "qualified"
        )
    )
    return [TierPoint(*row) for row in rows]


@dataclass(frozen=True)
class VersionRow:
    version: ModelVersion
    headline: dict[str, float | int | None]
    is_active: bool
    is_rollback_target: bool


@dataclass(frozen=True)
class ModelRegistry:
    rows: list[VersionRow]
    active: ModelVersion | None
    rollback_target: ModelVersion | None


def _conversion_versions() -> QuerySet[ModelVersion]:
    # The artifact can be megabytes: never load it to show metrics.
    return (
        ModelVersion.objects.filter(kind=ModelKind.CONVERSION)
        .select_related("activated_by")
        .defer("artifact")
    )


def model_registry(*, limit: int = MODEL_VERSIONS_SHOWN) -> ModelRegistry:
    """The newest conversion models side by side, the active one, and the one a roll back
    would reactivate: the retired version activated most recently (one or two queries)."""
    versions = list(_conversion_versions().order_by("-trained_at")[:limit])
    active = next((v for v in versions if v.status == ModelStatus.ACTIVE), None)
    if active is None:
        active = _conversion_versions().filter(status=ModelStatus.ACTIVE).first()
    target = rollback_target()
    rows = [
        VersionRow(
            version=v,
            headline=model_version_headline_metrics(v),
            is_active=v.status == ModelStatus.ACTIVE,
            is_rollback_target=target is not None and v.pk == target.pk,
        )
        for v in versions
    ]
    return ModelRegistry(rows=rows, active=active, rollback_target=target)


def rollback_target() -> ModelVersion | None:
    """The conversion model that was active before the current one."""
    return (
        _conversion_versions()
        .filter(status=ModelStatus.RETIRED, activated_at__isnull=False)
        .order_by("-activated_at")
        .first()
    )


def model_version_for_activation(*, model_version_id: int) -> ModelVersion:
    """Raises ModelVersion.DoesNotExist for an unknown id."""
    return ModelVersion.objects.defer("artifact").get(pk=model_version_id)


# --- training runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingStatus:
    run: TrainingRun
    state: str
    percent: float | None
    stage: str
    is_finished: bool
    is_failed: bool
    result: dict[str, Any] | None
    elapsed: timedelta

    @property
    def is_indeterminate(self) -> bool:
        return self.percent is None and not self.is_finished

    @property
    def keep_polling(self) -> bool:
        # UNKNOWN never changes (no result backend): polling it would only load the server.
        return not self.is_finished and self.state != "UNKNOWN"


_STATE_TEXT = {
    "PENDING": "Waiting for a worker",
    "RECEIVED": "Received by a worker",
    "STARTED": "Started",
    "RETRY": "Retrying",
    "FAILURE": "Failed",
    "SUCCESS": "Finished",
    "REVOKED": "Cancelled",
}


def training_run_latest() -> TrainingRun | None:
    return TrainingRun.objects.select_related("requested_by").order_by("-requested_at").first()


def training_run_get(*, task_id: str) -> TrainingRun:
    """Raises TrainingRun.DoesNotExist for an unknown id."""
    return TrainingRun.objects.select_related("requested_by").get(task_id=task_id)


def training_status(*, run: TrainingRun, now: datetime | None = None) -> TrainingStatus:
    """The Celery task's state from the result backend; `model_train_task` reports PROGRESS
    with `stage` and `percent`. Without a result backend the state is unknowable: shown as
    such, never guessed."""
    now = now or timezone.now()
    state: str
    info: Any
    if run.inline_state:
        state, info = run.inline_state, run.inline_result
    elif current_app.conf.task_always_eager:
        # Eager runs record their outcome on the row once the request commits (eager results
        # never reach a result backend): until then the run is pending.
        state, info = "PENDING", None
    else:
        result = AsyncResult(run.task_id)
        if isinstance(result.backend, DisabledBackend):  # a worker's run cannot be followed
            state, info = "UNKNOWN", None
        else:
            state, info = str(result.state), result.info
    percent: float | None = None
    stage = _STATE_TEXT.get(state, "State unknown (no result backend)")
    outcome: dict[str, Any] | None = None
    if state == "PROGRESS" and isinstance(info, dict):
        raw = info.get("percent")
        percent = float(raw) if isinstance(raw, int | float) else None
        stage = str(info.get("stage") or "Training")
    elif state == "SUCCESS":
        percent = 100.0
        outcome = info if isinstance(info, dict) else {"result": str(info)}
    elif state == "FAILURE":
        outcome = {"error": str(info)}
    finished = state in {"SUCCESS", "FAILURE", "REVOKED"}
    return TrainingStatus(
        run=run,
        state=state,
        percent=percent,
        stage=stage,
        is_finished=finished,
        is_failed=state in {"FAILURE", "REVOKED"},
        result=outcome,
        elapsed=now - run.requested_at,
    )
