"""Qualification and training: load frames, run the pure engine, store what it decided."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import Lead
from scoring import selectors
from scoring.assess import (
    Assessment,
    EngineConfig,
    EngineModels,
    assess,
    model_matrix,
)
from scoring.decision import Thresholds, capacity_threshold
from scoring.features import build_features
from scoring.fit import compute_fit
from scoring.ml import artifact
from scoring.ml.conversion import (
    ConversionParams,
    NotEnoughData,
    TrainedConversionModel,
    evaluate_conversion_model,
    train_conversion_model,
)
from scoring.ml.metrics import is_better
from scoring.ml.ranges import train_range_model
from scoring.models import ModelKind, ModelStatus, ModelVersion, Qualification, ScoringSettings
from scoring.points import compute_point_scores
from scoring.rules import ReviewPolicy, RuleSpec

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

DEFAULT_CHUNK = 5000
# Models are immutable once stored, so a process keeps each one it has loaded.
_MODEL_CACHE: dict[int, Any] = {}


def engine_config(*, scoring_settings: ScoringSettings | None = None) -> EngineConfig:
    settings_row = scoring_settings or ScoringSettings.load()
    return EngineConfig(
        features=selectors.feature_config(half_life_days=settings_row.recency_half_life_days),
        icp=selectors.icp_active(),
        rules=selectors.rules_active(),
        point_rules=selectors.point_rules_active(),
        point_threshold=settings_row.point_route_threshold,
        thresholds=Thresholds(
            sales_ready=settings_row.sales_ready_threshold,
            nurture=settings_row.nurture_threshold,
        ),
        review=ReviewPolicy(min_committee_people=settings_row.review_min_committee_people),
    )


def _load(version: ModelVersion | None) -> Any:
    if version is None:
        return None
    if version.pk not in _MODEL_CACHE:
        _MODEL_CACHE[version.pk] = artifact.load(bytes(version.artifact))
    return _MODEL_CACHE[version.pk]


def engine_models(*, scoring_settings: ScoringSettings | None = None) -> EngineModels:
    settings_row = scoring_settings or ScoringSettings.load()
    conversion = selectors.model_version_active(kind=ModelKind.CONVERSION)
    outcomes = int(conversion.training_rows) if conversion else 0
    return EngineModels(
        conversion=_load(conversion),
        conversion_version_id=conversion.pk if conversion else None,
        timeline=_load(selectors.model_version_active(kind=ModelKind.TIMELINE)),
        deal_size=_load(selectors.model_version_active(kind=ModelKind.DEAL_SIZE)),
        ready=conversion is not None and outcomes >= settings_row.min_outcomes_for_model,
    )


@dataclass
class QualifyResult:
    leads: int = 0
    tiers: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _decimal(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return Decimal(str(round(float(value), 2)))


def _int_or_none(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return max(0, round(float(value)))


def _qualifications(
    assessment: Assessment, model_version_id: int | None, now: datetime
) -> list[Qualification]:
    rows = []
    results = assessment.results
    has_timeline = "timeline_low" in results.columns
    has_deal = "deal_low" in results.columns
    for lead_id, r in zip(results.index, results.itertuples(index=False), strict=True):
        brief = assessment.briefs[int(lead_id)]
        rows.append(
            Qualification(
                lead_id=int(lead_id),
                model_version_id=model_version_id,
                is_current=True,
                computed_at=now,
                conversion_probability=float(r.conversion_probability),
                timeline_days_low=_int_or_none(r.timeline_low) if has_timeline else None,
                timeline_days_high=_int_or_none(r.timeline_high) if has_timeline else None,
                deal_size_low=_decimal(r.deal_low) if has_deal else None,
                deal_size_high=_decimal(r.deal_high) if has_deal else None,
                fit_company=int(r.fit_company),
                fit_role=int(r.fit_role),
                fit_technology=int(r.fit_technology),
                fit_timing=int(r.fit_timing),
                behaviour={"lines": brief["behaviour"], "content": brief["content"]},
                intent=brief["intent"],
                point_score=int(r.point_score),
                tier=str(r.tier),
                disqualification_reason=str(r.disqualification_reason or ""),
                needs_review=bool(r.needs_review),
                contributions=assessment.contributions.get(int(lead_id), {}),
                brief=brief,
                recommended_action=str(r.recommended_action),
                confidence=str(r.confidence),
            )
        )
    return rows


def leads_qualify(
    *,
    lead_ids: Sequence[int],
    now: datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> QualifyResult:
    """Re-qualify these leads as of now, in chunks; each chunk is written atomically.

    Each lead gets a new Qualification (the history is kept); the previous one stops being
    current in the same transaction, so a reader never sees a lead with none or two.
    """
    started = timezone.now()
    now = now or started
    settings_row = ScoringSettings.load()
    config = engine_config(scoring_settings=settings_row)
    models = engine_models(scoring_settings=settings_row)
    version_id = models.conversion_version_id if models.ready else None
    result = QualifyResult()
    ids = list(lead_ids)
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        leads = selectors.lead_frame(lead_ids=chunk)
        if leads.empty:
            continue
        leads["as_of"] = pd.Timestamp(now)
        frames = selectors.feature_frames(leads=leads)
        assessment = assess(frames, config, models)
        rows = _qualifications(assessment, version_id, now)
        with transaction.atomic():
            Qualification.objects.filter(lead_id__in=chunk, is_current=True).update(
                is_current=False
            )
            Qualification.objects.bulk_create(rows, batch_size=2000)
            Lead.objects.filter(pk__in=chunk, requalify_requested_at__lte=now).update(
                requalify_requested_at=None
            )
        for tier in assessment.results["tier"]:
            result.tiers[tier] = result.tiers.get(tier, 0) + 1
        result.leads += len(rows)
        if progress:
            progress(min(start + chunk_size, len(ids)), len(ids))
    result.seconds = (timezone.now() - started).total_seconds()
    return result


def lead_qualify(*, lead_id: int, now: datetime | None = None) -> Qualification:
    leads_qualify(lead_ids=[lead_id], now=now)
    qualification = selectors.qualification_current(lead_id=lead_id)
    if qualification is None:
        raise Lead.DoesNotExist(f"Lead {lead_id} does not exist.")
    return qualification


# --- training -------------------------------------------------------------------------------


@dataclass
class TrainingSet:
    X: pd.DataFrame
    y: pd.Series
    created_at: pd.Series
    segments: pd.DataFrame
    point_score: pd.Series
    leads: pd.DataFrame


def _size_band(log_employees: pd.Series) -> pd.Series:
    employees = np.power(10.0, pd.to_numeric(log_employees, errors="coerce"))
    bands = pd.cut(
        employees,
        [0, 50, 200, 1000, 5000, np.inf],
        labels=["1-50", "51-200", "201-1000", "1001-5000", "5000+"],
    )
    return bands.astype(object).where(bands.notna(), "unknown")


def training_set(
    *, config: EngineConfig, progress: Progress | None = None, chunk_size: int = 20000
) -> TrainingSet:
    """Labelled leads with features computed as of their outcome, never after it."""
    ids = selectors.labelled_lead_ids()
    parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.DataFrame]] = []
    for start in range(0, len(ids), chunk_size):
        leads = selectors.lead_frame(lead_ids=ids[start : start + chunk_size])
        outcome_at = leads["converted_at"].fillna(leads["closed_at"])
        leads["as_of"] = outcome_at
        leads["label"] = leads["converted_at"].notna().astype(int)
        frames = selectors.feature_frames(leads=leads)
        features = build_features(frames, config.features)
        fit = compute_fit(features, leads, frames.accounts, config.icp)
        points = compute_point_scores(config.point_rules, leads, frames.touchpoints, fit.scores)
        parts.append(
            (model_matrix(features, fit.scores), leads.set_index("lead_id"), points, features)
        )
        if progress:
            progress(min(start + chunk_size, len(ids)), len(ids))
    if not parts:
        raise NotEnoughData("No leads with a known outcome (converted or closed) to learn from.")
    X = pd.concat([p[0] for p in parts])
    leads = pd.concat([p[1] for p in parts])
    features = pd.concat([p[3] for p in parts])
    y = leads["label"].reindex(X.index).astype(int)
    segments = pd.DataFrame(
        {
            "region": features["region"].fillna("unknown"),
            "company_size": _size_band(features["log_employees"]),
            "industry": features["industry"].fillna("unknown"),
            "email_domain_type": features["email_domain_type"],
        },
        index=X.index,
    )
    return TrainingSet(
        X=X,
        y=y,
        created_at=leads["created_at"].reindex(X.index),
        segments=segments,
        point_score=pd.concat([p[2] for p in parts]).reindex(X.index).astype(float),
        leads=leads,
    )


@dataclass
class TrainResult:
    version: ModelVersion
    activated: bool
    reason: str
    metrics: dict[str, Any]
    range_versions: list[ModelVersion] = field(default_factory=list)


def model_train(
    *,
    params: ConversionParams | None = None,
    activate: str = "auto",
    progress: Callable[[str], None] | None = None,
    progress_rows: Progress | None = None,
) -> TrainResult:
    """Train a conversion model (and range models) on the labelled history; register it.

    `activate`: "auto" makes it active only if it beats the active model on the same holdout
    (or there is none); "always" and "never" override. Training runs outside any transaction;
    only the registry write is atomic.
    """
    say = progress or (lambda _: None)
    settings_row = ScoringSettings.load()
    config = engine_config(scoring_settings=settings_row)
    say("Building the training set")
    data = training_set(config=config, progress=progress_rows)
    say(f"Training on {len(data.y)} leads ({int(data.y.sum())} converted)")
    model = train_conversion_model(
        data.X,
        data.y,
        created_at=data.created_at,
        segments=data.segments,
        baseline_score=data.point_score,
        params=params,
    )
    metrics = dict(model.metrics)
    active = selectors.model_version_active(kind=ModelKind.CONVERSION)
    decision_reason = "no active model"
    better = True
    if active is not None and model.split is not None:
        holdout = model.split.holdout_index
        try:
            active_model = _load(active)
            active_metrics = evaluate_conversion_model(
                active_model,
                data.X.loc[holdout],
                data.y.loc[holdout],
                capacity=float(model.params.get("capacity", 0.1)),
            )
            metrics["active_on_same_holdout"] = {
                "model_version": active.pk,
                "auc": active_metrics.get("auc"),
                "log_loss": active_metrics.get("log_loss"),
            }
            better = is_better(metrics, active_metrics)
            decision_reason = (
                f"AUC {metrics.get('auc'):.4f} vs active #{active.pk} "
                f"{active_metrics.get('auc'):.4f} on the same holdout"
            )
        except Exception as exc:  # an unreadable old artifact must not block training
            logger.warning("Could not evaluate active model %s: %s", active.pk, exc)
            decision_reason = f"active model #{active.pk} could not be evaluated ({exc})"
    activated = activate == "always" or (activate == "auto" and better)
    window = data.created_at
    version = ModelVersion(
        kind=ModelKind.CONVERSION,
        status=ModelStatus.CANDIDATE,
        data_from=window.min().to_pydatetime() if len(window) else None,
        data_to=window.max().to_pydatetime() if len(window) else None,
        training_rows=len(data.y),
        feature_names=model.feature_names,
        params=model.params,
        metrics=_jsonable(metrics),
        artifact=artifact.dump(model),
        notes=decision_reason,
    )
    say("Training timeline and deal-size ranges")
    ranges = _range_versions(data)
    with transaction.atomic():
        version.save()
        if activated:
            _activate(version)
        for range_version in ranges:
            range_version.save()
            # Ranges follow the conversion model they were trained with, or fill an empty slot.
            if activated or selectors.model_version_active(kind=range_version.kind) is None:
                _activate(range_version)
    if activated and settings_row.threshold_mode == "capacity":
        thresholds_update(model=model)
    return TrainResult(
        version=version,
        activated=activated,
        reason=decision_reason,
        metrics=metrics,
        range_versions=ranges,
    )


def _range_versions(data: TrainingSet) -> list[ModelVersion]:
    """Days to close and deal size, learned from the won deals of converted leads."""
    converted = data.y[data.y == 1].index
    won = selectors.won_opportunities(lead_ids=[int(i) for i in converted])
    if won.empty:
        return []
    won = won.sort_values("closed_at").drop_duplicates("lead_id", keep="first")
    won = won.set_index("lead_id")
    converted_at = data.leads["converted_at"].reindex(won.index)
    days = (won["closed_at"] - converted_at).dt.total_seconds() / 86400.0
    targets = {ModelKind.TIMELINE: days.clip(lower=0), ModelKind.DEAL_SIZE: won["amount"]}
    versions = []
    for kind, values in targets.items():
        target = values.dropna()
        if target.empty:
            continue
        trained = train_range_model(
            data.X.loc[target.index],
            target,
            kind=str(kind),
            created_at=data.created_at.reindex(target.index),
        )
        if trained.model is None:
            logger.info("No %s model: %s", kind, trained.reason)
            continue
        versions.append(
            ModelVersion(
                kind=kind,
                status=ModelStatus.CANDIDATE,
                training_rows=len(target),
                feature_names=trained.model.feature_names,
                params=_jsonable(trained.model.params),
                metrics=_jsonable(trained.model.metrics),
                artifact=artifact.dump(trained.model),
            )
        )
    return versions


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _activate(version: ModelVersion, user: Any = None) -> None:
    ModelVersion.objects.filter(kind=version.kind, status=ModelStatus.ACTIVE).exclude(
        pk=version.pk
    ).update(status=ModelStatus.RETIRED)
    version.status = ModelStatus.ACTIVE
    version.activated_at = timezone.now()
    version.activated_by = user
    version.save(update_fields=["status", "activated_at", "activated_by"])


@transaction.atomic
def model_activate(*, model_version: ModelVersion, user: Any = None) -> ModelVersion:
    """Make this version the active one of its kind (a person's decision: no gate)."""
    _activate(model_version, user)
    return model_version


def thresholds_update(*, model: TrainedConversionModel | None = None, weeks: int = 8) -> Thresholds:
    """Set the Sales Ready threshold so expected weekly volume matches routed capacity.

    Scores the leads created in the last `weeks` weeks with the active model and picks the
    score of the (capacity x weeks)-th best.
    """
    settings_row = ScoringSettings.load()
    capacity = settings_row.capacity_leads_per_week
    if capacity is None:
        # Reps belong to the routing app, which depends on this one; the setting names the
        # function that counts them, so the dependency stays one way.
        capacity = int(import_string(settings.LEADQUAL_WEEKLY_CAPACITY_PROVIDER)())
    since = timezone.now() - pd.Timedelta(weeks=weeks).to_pytimedelta()
    ids = list(Lead.objects.filter(created_at__gte=since).values_list("pk", flat=True))
    if not ids or model is None:
        return Thresholds(settings_row.sales_ready_threshold, settings_row.nurture_threshold)
    config = engine_config(scoring_settings=settings_row)
    leads = selectors.lead_frame(lead_ids=ids)
    leads["as_of"] = pd.Timestamp(timezone.now())
    frames = selectors.feature_frames(leads=leads)
    features = build_features(frames, config.features)
    fit = compute_fit(features, leads, frames.accounts, config.icp)
    probabilities = model.predict_proba(model_matrix(features, fit.scores))
    span_weeks = max(1.0, (timezone.now() - leads["created_at"].min()).total_seconds() / 604800)
    sales_ready = capacity_threshold(
        probabilities,
        weeks=span_weeks,
        capacity_per_week=capacity,
        floor=settings_row.min_sales_ready_probability,
    )
    nurture = min(settings_row.nurture_threshold, sales_ready)
    settings_row.sales_ready_threshold = sales_ready
    settings_row.nurture_threshold = nurture
    settings_row.save(update_fields=["sales_ready_threshold", "nurture_threshold", "updated_at"])
    return Thresholds(sales_ready, nurture)


# --- rule dry run ---------------------------------------------------------------------------


@dataclass
class DryRunReport:
    days: int
    leads: int
    changed: int
    transitions: dict[str, int]
    by_reason: dict[str, int]
    examples: list[dict[str, Any]]


def rules_dry_run(
    *,
    rules: Sequence[RuleSpec],
    days: int = 30,
    now: datetime | None = None,
    example_limit: int = 25,
) -> DryRunReport:
    """What a rule change would do to the leads of the last `days` days; writes nothing.

    Both sides are computed now, with the same model and thresholds, so the only difference
    between "before" and "after" is the rules.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or timezone.now()
    settings_row = ScoringSettings.load()
    current = engine_config(scoring_settings=settings_row)
    proposed = replace(current, rules=list(rules))
    models = engine_models(scoring_settings=settings_row)
    ids = selectors.lead_ids_created_since(since=now - pd.Timedelta(days=days).to_pytimedelta())
    transitions: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    changed = 0
    for start in range(0, len(ids), DEFAULT_CHUNK):
        leads = selectors.lead_frame(lead_ids=ids[start : start + DEFAULT_CHUNK])
        leads["as_of"] = pd.Timestamp(now)
        frames = selectors.feature_frames(leads=leads)
        before = assess(frames, current, models).results
        after = assess(frames, proposed, models).results
        moved = (before["tier"] != after["tier"]) | (
            before["disqualification_reason"] != after["disqualification_reason"]
        )
        changed += int(moved.sum())
        emails = leads.set_index("lead_id")["email"]
        for lead_id in before.index[moved.to_numpy()]:
            key = f"{before.at[lead_id, 'tier']} → {after.at[lead_id, 'tier']}"
            transitions[key] = transitions.get(key, 0) + 1
            reason = after.at[lead_id, "disqualification_reason"] or "(no rule)"
            by_reason[reason] = by_reason.get(reason, 0) + 1
            if len(examples) < example_limit:
                examples.append(
                    {
                        "lead_id": int(lead_id),
                        "email": str(emails.get(lead_id, "")),
                        "before": before.at[lead_id, "tier"],
                        "before_reason": before.at[lead_id, "disqualification_reason"],
                        "after": after.at[lead_id, "tier"],
                        "after_reason": after.at[lead_id, "disqualification_reason"],
                    }
                )
    return DryRunReport(
        days=days,
        leads=len(ids),
        changed=changed,
        transitions=dict(sorted(transitions.items(), key=lambda kv: -kv[1])),
        by_reason=dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
        examples=examples,
    )
