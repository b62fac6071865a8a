"""Writes owned by the web front: the demo logins, the metrics snapshots (with the RevOps
report) and the RevOps actions on the model registry."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone

from accounts.models import Lead
from dashboards import live
from dashboards import metrics as m
from dashboards.models import MetricsSnapshot, TrainingRun
from dashboards.roles import REVOPS, SALES_MANAGER, SDR, STAFF_ROLES, roles_ensure
from dashboards.selectors import revops as revops_selectors
from routing.models import Assignment, AssignmentStatus, Queue, RepRole, SalesRep
from routing.selectors import CURRENT_STATUSES, weekly_capacity
from routing.services import assignment_reassign
from scoring.ml.metrics import calibration_bins
from scoring.models import (
    ModelKind,
    ModelStatus,
    ModelVersion,
    Qualification,
    ScoringSettings,
    Tier,
)
from scoring.services import model_activate_checked

logger = logging.getLogger(__name__)

# Bump when the report's shape changes. 2: `live`, and outcome figures over the live leads.
REPORT_VERSION = 2

DEMO_PASSWORD = "leadqual-demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    full_name: str


@dataclass(frozen=True)
class _DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str  # a group name, or "" for the superuser
    is_superuser: bool = False


_DEMO_USERS: tuple[_DemoUser, ...] = (
    _DemoUser("sdr", "Sam", "Rivera", SDR),
    _DemoUser("manager", "Morgan", "Lee", SALES_MANAGER),
    _DemoUser("revops", "Riley", "Chen", REVOPS),
    _DemoUser("admin", "Alex", "Admin", "", is_superuser=True),
)


def _demo_user_ensure(*, spec: _DemoUser, groups: dict[str, Group]) -> User:
    user, created = User.objects.get_or_create(username=spec.username)
    wanted = {
        "first_name": spec.first_name,
        "last_name": spec.last_name,
        "email": f"{spec.username}@leadqual.example",
        "is_active": True,
        "is_staff": spec.is_superuser or spec.role in STAFF_ROLES,
        "is_superuser": spec.is_superuser,
    }
    changed = [field for field, value in wanted.items() if getattr(user, field) != value]
    for field in changed:
        setattr(user, field, wanted[field])
    # Re-hashing an unchanged password would end the demo users' open sessions on every
    # `make demo`, so the hash is only replaced when the password no longer matches.
    if created or not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        changed.append("password")
    if created:
        user.save()
    elif changed:
        user.save(update_fields=changed)
    user.groups.set([groups[spec.role]] if spec.role else [])
    return user


# Enough Sales Ready leads for the demo SDR's queue to show priorities, filters and SLAs.
DEMO_QUEUE_LEADS = 12


def _demo_queue_fill(*, rep: SalesRep) -> None:
    """Give the demo SDR login a queue to work: the login is created after the demo world was
    routed, so it would otherwise open an empty queue. It joins the pools and territories of
    the busiest demo SDR, so routing sends it new leads too, and takes over some of that rep's
    open Sales Ready leads through the reassignment service (recorded like a manager's move).
    Does nothing once the login has leads, or before there is a routed world."""
    if Assignment.objects.filter(rep=rep, status__in=CURRENT_STATUSES).exists():
        return
    busiest = (
        SalesRep.objects.exclude(pk=rep.pk)
        .filter(role=RepRole.SDR, is_active=True)
        .annotate(
            open_sales=Count(
                "assignments",
                filter=Q(
                    assignments__status=AssignmentStatus.OPEN,
                    assignments__queue=Queue.SALES,
                    assignments__tier=Tier.SALES_READY,
                ),
            )
        )
        .filter(open_sales__gt=0)
        .order_by("-open_sales", "pk")
        .first()
    )
    if busiest is None:
        return
    rep.territories.add(*busiest.territories.all())
    for pool in busiest.pools.all():
        pool.reps.add(rep)
    handover = Assignment.objects.filter(
        rep=busiest,
        status=AssignmentStatus.OPEN,
        queue=Queue.SALES,
        tier=Tier.SALES_READY,
    ).order_by("-expected_value", "pk")[:DEMO_QUEUE_LEADS]
    for assignment in handover:
        assignment_reassign(
            assignment=assignment,
            reason="Demo: handed to the sdr login so its queue has leads to work",
            to_rep=rep,
        )


def demo_users_ensure() -> list[DemoLogin]:
    """One login per role plus a superuser, all with the demo password. Safe to run again."""
    roles_ensure()
    with transaction.atomic():
        groups = {
            group.name: group
            for group in Group.objects.filter(name__in=[SDR, SALES_MANAGER, REVOPS])
        }
        logins = []
        for spec in _DEMO_USERS:
            user = _demo_user_ensure(spec=spec, groups=groups)
            if spec.role == SDR:
                # The SDR works a queue, and only users with a rep profile can receive leads.
                rep, _ = SalesRep.objects.get_or_create(user=user, defaults={"role": RepRole.SDR})
                _demo_queue_fill(rep=rep)
            logins.append(
                DemoLogin(
                    username=spec.username,
                    password=DEMO_PASSWORD,
                    role=spec.role or "Superuser",
                    full_name=user.get_full_name(),
                )
            )
    return logins


def metrics_snapshot_take(
    *, now: datetime | None = None, with_report: bool = True
) -> MetricsSnapshot:
    """Store the funnel's state as of now: a handful of aggregate queries, one row, plus the
    RevOps report (`revops_report_compute`), which reads every lead once."""
    now = now or timezone.now()
    current = Qualification.objects.filter(is_current=True).aggregate(
        qualified=Count("pk"),
        sales_ready=Count("pk", filter=Q(tier=Tier.SALES_READY)),
        nurture=Count("pk", filter=Q(tier=Tier.NURTURE)),
        disqualified=Count("pk", filter=Q(tier=Tier.DISQUALIFY)),
        needs_review=Count("pk", filter=Q(needs_review=True)),
        requalified_last_hour=Count("pk", filter=Q(computed_at__gte=now - timedelta(hours=1))),
        mean_conversion_probability=Avg("conversion_probability"),
    )
    leads = Lead.objects.aggregate(
        leads=Count("pk"), leads_dirty=Count("pk", filter=Q(requalify_requested_at__isnull=False))
    )
    assignments = Assignment.objects.filter(status=AssignmentStatus.OPEN).aggregate(
        assignments_open=Count("pk"),
        assignments_overdue=Count("pk", filter=Q(first_touch_at__isnull=True, sla_due_at__lt=now)),
    )
    active = (
        ModelVersion.objects.filter(kind=ModelKind.CONVERSION, status=ModelStatus.ACTIVE)
        .values_list("pk", flat=True)
        .first()
    )
    report: dict[str, Any] = {}
    if with_report:
        try:
            report = revops_report_compute(now=now)
        except Exception:
            # The counts are still worth storing; the pages keep showing the last report.
            logger.exception("RevOps report failed; storing the snapshot's counts only")
    return MetricsSnapshot.objects.create(
        taken_at=now,
        active_model_version_id=active,
        report=report,
        **current,
        **leads,
        **assignments,
    )


def _cost_setting() -> float | None:
    # Optional: without it the page says "not enough data" instead of a cost per lead.
    value: object = getattr(settings, "LEADQUAL_QUALIFICATION_MONTHLY_COST", None)
    if value is None or value == "":
        return None
    try:
        cost = float(str(value))
    except ValueError as exc:
        raise ValueError(
            f"LEADQUAL_QUALIFICATION_MONTHLY_COST must be a number, not {value!r}"
        ) from exc
    if cost < 0:
        raise ValueError(f"LEADQUAL_QUALIFICATION_MONTHLY_COST must be >= 0, not {value!r}")
    return cost


def _created_between(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.Series:
    created = frame["created_at"]
    return (created > pd.Timestamp(start)) & (created <= pd.Timestamp(end))


_DRIFT_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("region", "Region", "categorical"),
    ("company_size", "Company size", "categorical"),
    ("industry", "Industry", "categorical"),
    ("email_domain_type", "Email domain type", "categorical"),
    ("seniority", "Seniority", "categorical"),
    ("department", "Department", "categorical"),
    ("source", "Lead source", "categorical"),
    ("log_employees", "Employees (log10)", "numeric"),
    ("has_touchpoint", "Any behaviour tracked", "categorical"),
    ("point_score", "Point score (current)", "numeric"),
    ("probability", "Conversion probability (current)", "numeric"),
)


def _drift(frame: pd.DataFrame, *, now: datetime, model: ModelVersion | None) -> dict[str, Any]:
    """Feature distributions of the leads created in the last 30 days against those the
    active model was trained on. The registry stores no per-feature training summary, so the
    training population is rebuilt from the leads created in the model's data window
    (data_from..data_to), or before it was trained when the window is unknown."""
    if model is None:
        return {"model_version": None, "features": [], "note": "No active conversion model."}
    start = model.data_from or datetime.min.replace(tzinfo=now.tzinfo)
    end = model.data_to or model.trained_at
    if model.data_to is None:
        end = min(end, model.trained_at)
    training = frame[_created_between(frame, start, end) | (frame["created_at"] == start)]
    current = frame[_created_between(frame, now - timedelta(days=30), now)]
    features = []
    if len(training) and len(current):
        for column, label, kind in _DRIFT_FEATURES:
            if kind == "numeric":
                result = m.numeric_drift(training[column], current[column])
            else:
                result = m.categorical_drift(
                    training[column].astype(object).map(str),
                    current[column].astype(object).map(str),
                )
            features.append({"column": column, "label": label, "kind": kind, **result})
        features.sort(key=lambda f: -(f["psi"] or 0))
    return {
        "model_version": model.pk,
        "trained_at": model.trained_at.isoformat(),
        "training_window": [start.isoformat() if model.data_from else None, end.isoformat()],
        "training_rows": len(training),
        "current_rows": len(current),
        "features": features,
        "note": "" if features else "No leads in the training window or the last 30 days.",
    }


def _outcomes(frame: pd.DataFrame) -> dict[str, Any]:
    """Calibration and lift over the live leads (`dashboards.live.live_frame`): each scored
    before its outcome by a model that had not trained on it."""
    converted = frame["converted_at"].notna() | frame["has_opportunity"]
    resolved = converted | frame["closed_at"].notna()
    scored = frame[resolved & frame["probability"].notna()]
    y = converted[scored.index].astype(int).to_numpy()
    if len(scored) == 0:
        return {"rows": 0, "positives": 0, "calibration_bins": [], "lift": {}}
    return {
        "rows": len(scored),
        "positives": int(y.sum()),
        "calibration_bins": calibration_bins(y, scored["probability"].to_numpy()),
        "lift": {
            "model": m.lift_curve(y, scored["probability"].to_numpy()),
            "points": m.lift_curve(y, scored["point_score"].fillna(-np.inf).to_numpy()),
        },
    }


def _first_qualified(frame: Any) -> datetime | None:
    """When qualification started: the earliest first qualification of any lead."""
    first = frame["first_qualified_at"].min() if len(frame) else None
    return None if first is None or pd.isna(first) else first.to_pydatetime()


def revops_report_compute(*, now: datetime) -> dict[str, Any]:
    """The RevOps pages' numbers as of `now`, JSON-ready:

    `primary`, `secondary`, `diagnostic`: lists of `dashboards.metrics.Metric` dicts;
    `fairness`: `segment_fairness`'s list; `drift`: see `_drift`; `outcomes`: calibration bins
    and lift curves (model and point score) over the live leads; `live`: what those are
    (`dashboards.live.live_summary`). Every figure that compares a score with an outcome is
    computed over the live leads only (`dashboards.live` says why).
    """
    frame = revops_selectors.revops_lead_frame(now=now)
    flags = live.live_flags(frame, revops_selectors.conversion_version_facts())
    outcome_frame = live.live_frame(frame, flags)
    scoring_settings = ScoringSettings.load()
    model = revops_selectors.model_version_active_conversion()
    sales_ready = frame["tier"] == m.SALES_READY
    month = _created_between(frame, now - timedelta(days=30), now)
    month_before = _created_between(frame, now - timedelta(days=60), now - timedelta(days=30))
    capacity = scoring_settings.capacity_leads_per_week or weekly_capacity()
    recent = frame[_created_between(frame, now - timedelta(days=revops_selectors.RECENT_DAYS), now)]
    fairness = m.segment_fairness(frame)
    primary = [
        m.qualification_accuracy(outcome_frame),
        m.lift_over_point_scoring(
            outcome_frame, point_threshold=scoring_settings.point_route_threshold
        ),
        m.sales_acceptance_rate(frame),
        m.time_to_qualification(recent, live_since=_first_qualified(frame)),
        m.cost_per_qualified_lead(
            monthly_cost=_cost_setting(),
            qualified_this_month=int((sales_ready & month).sum()),
            qualified_last_month=int((sales_ready & month_before).sum()),
        ),
    ]
    secondary = [
        m.lead_velocity(frame, now=now),
        m.tier_against_capacity(frame, now=now, weekly_capacity=capacity),
        m.false_positive_rate(frame),
        m.false_negative_rate(outcome_frame),
        m.prediction_accuracy(outcome_frame),
    ]
    diagnostic = [
        m.signal_availability(frame),
        m.model_confidence(frame),
        m.segment_performance(fairness),
        m.rep_feedback(frame, now=now),
        m.outcome_feedback_loop(
            frame,
            now=now,
            trained_at=model.trained_at if model else None,
            min_outcomes=scoring_settings.min_outcomes_for_model,
        ),
    ]
    return {
        "version": REPORT_VERSION,
        "computed_at": now.isoformat(),
        "leads": len(frame),
        "primary": [x.as_dict() for x in primary],
        "secondary": [x.as_dict() for x in secondary],
        "diagnostic": [x.as_dict() for x in diagnostic],
        "fairness": fairness,
        "drift": _drift(frame, now=now, model=model),
        "outcomes": _outcomes(outcome_frame),
        "live": live.live_summary(frame, flags),
    }


def metrics_snapshot_refresh() -> None:
    """Take a snapshot now, in a worker, once the caller's transaction commits."""
    from dashboards.tasks import metrics_snapshot_take_task

    transaction.on_commit(metrics_snapshot_take_task.delay)


# --- the model registry, from the RevOps pages ---------------------------------------------


def model_version_activate(*, model_version: ModelVersion, user: Any) -> ModelVersion:
    """Activate a conversion model a person chose; its artifact must load (ValidationError)."""
    if model_version.kind != ModelKind.CONVERSION:
        raise ValidationError("Only conversion models are activated from this page.")
    if model_version.status == ModelStatus.ACTIVE:
        raise ValidationError(f"Model #{model_version.pk} is active already.")
    return model_activate_checked(model_version=model_version, user=user)


def model_rollback(*, user: Any) -> ModelVersion:
    """Reactivate the conversion model that was active before the current one."""
    target = revops_selectors.rollback_target()
    if target is None:
        raise ValidationError("There is no earlier active model to roll back to.")
    return model_activate_checked(model_version=target, user=user)


def training_run_start(*, user: Any) -> TrainingRun:
    """Record a "train now" and enqueue `model_train_task` once the transaction commits.

    The task id is chosen here so the progress bar can poll it before the task starts. A run
    still going (started within the task's time limit and not finished) is refused, so two
    clicks do not train twice at once.
    """
    from scoring.tasks import model_train_task

    latest = revops_selectors.training_run_latest()
    if latest is not None:
        status = revops_selectors.training_status(run=latest)
        if status.keep_polling and status.elapsed < timedelta(hours=1):
            raise ValidationError("A training run is already going; wait for it to finish.")
    run = TrainingRun.objects.create(task_id=str(uuid.uuid4()), requested_by=user)

    def send() -> None:
        if not model_train_task.app.conf.task_always_eager:
            model_train_task.apply_async(task_id=run.task_id)
            return
        try:
            result = model_train_task.apply_async(task_id=run.task_id)
            state, info = str(result.state), result.result
        except Exception as exc:  # eager runs propagate; the bar shows the failure instead
            logger.exception("Inline training run %s failed", run.task_id)
            state, info = "FAILURE", exc
        run.inline_state = state
        run.inline_result = info if isinstance(info, dict) else {"error": str(info)}
        run.save(update_fields=["inline_state", "inline_result"])

    transaction.on_commit(send)
    return run
