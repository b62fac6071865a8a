"""Replay the active conversion model's holdout: score each lead it held out as it stood a
minute before its outcome, and store that as history.

Why: a lead's live figures (calibration and lift on the RevOps pages, the outcome metrics)
compare what the model said *before* an outcome with the outcome. On a fresh install, or in
the demo, every lead with an outcome was first scored after it, by a model trained on most of
them, so there is nothing honest to compare. The model's time-ordered holdout is: training
used only the leads created before its cutoff (`scoring.ml.dataset.holdout_split`), and the
stored model is the one fitted on them, not refitted on every row. A lead created at or
after the cutoff was never a training row, so its score as of just before its outcome is a
true out-of-sample prediction, made with the evidence that existed then.

The rows are ordinary Qualifications with `is_current` off and `computed_at` the moment they
are as of. That moment precedes the model's own `trained_at`, which is how they are told
apart from assessments made live (`dashboards.live`). Current qualifications, routing and the
requalification marks are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_datetime

from accounts.models import Lead
from scoring import selectors, services
from scoring.assess import assess
from scoring.ml.dataset import index_fingerprint
from scoring.models import ModelKind, ModelVersion, Qualification, ScoringSettings

# How long before its outcome a lead is scored: after every touch that led to it, before the
# outcome itself (the features read nothing at or after their as_of).
LEAD_TIME = timedelta(minutes=1)
CHUNK = 5000

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class HoldoutReplayResult:
    """What `holdout_replay` did. `reason` says why nothing was replayed, when nothing was."""

    model_version: int | None
    replayed: int = 0
    # Holdout leads skipped because they already have an assessment from before their outcome
    # (a previous replay, or a live one, which a replay must not hide).
    already_assessed: int = 0
    holdout_leads: int = 0
    # The leads' set is exactly the holdout recorded at training (its fingerprint matches).
    matches_training_holdout: bool = False
    cutoff: datetime | None = None
    tiers: dict[str, int] = field(default_factory=dict)
    reason: str = ""


def _holdout_cutoff(version: ModelVersion) -> tuple[datetime | None, str]:
    """The time split's cutoff, or None and why there is none."""
    holdout = version.metrics.get("holdout") if isinstance(version.metrics, dict) else None
    holdout = holdout if isinstance(holdout, dict) else {}
    method = holdout.get("method")
    cutoff = parse_datetime(str(holdout.get("cutoff") or ""))
    if method != "time" or cutoff is None:
        return None, (
            f"model #{version.pk}'s holdout is not time-ordered ({method or 'unknown'}), so "
            "which leads it never trained on cannot be told from their dates"
        )
    return cutoff, ""


def holdout_leads(*, version: ModelVersion, cutoff: datetime) -> pd.DataFrame:
    """The leads of the version's time-ordered holdout with a CRM outcome known when it was
    trained: lead_id, outcome_at, and whether they have an assessment from before it."""
    outcome = Coalesce(F("converted_at"), F("closed_at"))
    before = Qualification.objects.filter(lead_id=OuterRef("pk"), computed_at__lt=OuterRef("at"))
    rows = (
        Lead.objects.filter(created_at__gte=cutoff)
        .filter(Q(converted_at__isnull=False) | Q(closed_at__isnull=False))
        .annotate(at=outcome)
        .filter(at__lte=version.trained_at)
        .annotate(assessed=Exists(before))
        .order_by("pk")
        .values_list("pk", "at", "created_at", "assessed")
    )
    frame = pd.DataFrame.from_records(
        list(rows), columns=["lead_id", "outcome_at", "created_at", "assessed"]
    )
    for column in ("outcome_at", "created_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def holdout_replay(
    *, chunk_size: int = CHUNK, progress: Progress | None = None
) -> HoldoutReplayResult:
    """Score the active conversion model's holdout leads as of `LEAD_TIME` before each one's
    outcome and store the assessments as history (see the module docstring). Safe to run
    again: a lead already assessed before its outcome is skipped. Leads whose outcome came
    within `LEAD_TIME` of their creation are skipped too (there was no moment to score them).
    """
    version = selectors.model_version_active(kind=ModelKind.CONVERSION)
    if version is None:
        return HoldoutReplayResult(model_version=None, reason="no conversion model is active")
    cutoff, why = _holdout_cutoff(version)
    if cutoff is None:
        return HoldoutReplayResult(model_version=version.pk, reason=why)
    settings_row = ScoringSettings.load()
    models = services.engine_models(scoring_settings=settings_row)
    if not models.ready or models.conversion_version_id != version.pk:
        return HoldoutReplayResult(
            model_version=version.pk,
            cutoff=cutoff,
            reason=(
                f"model #{version.pk} trained on fewer outcomes than qualification needs "
                f"({settings_row.min_outcomes_for_model}), so qualification does not use it"
            ),
        )
    leads = holdout_leads(version=version, cutoff=cutoff)
    recorded = (version.metrics.get("holdout") or {}).get("fingerprint")
    matches = bool(len(leads)) and index_fingerprint(pd.Index(leads["lead_id"])) == recorded
    leads["as_of"] = leads["outcome_at"] - pd.Timedelta(LEAD_TIME)
    todo = leads[~leads["assessed"] & (leads["as_of"] > leads["created_at"])]
    config = services.engine_config(scoring_settings=settings_row)
    tiers: dict[str, int] = {}
    done = 0
    as_of = todo.set_index("lead_id")["as_of"]
    ids = [int(i) for i in todo["lead_id"]]
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        frame = selectors.lead_frame(lead_ids=chunk)
        frame["as_of"] = frame["lead_id"].map(as_of)
        assessment = assess(
            selectors.feature_frames(leads=frame), config, models, exact_contributions=False
        )
        # The rows as a live run would build them; then history, each as of its own moment.
        rows = services._qualifications(assessment, version.pk, version.trained_at)
        for row in rows:
            row.is_current = False
            row.computed_at = as_of[row.lead_id].to_pydatetime()
        with transaction.atomic():
            Qualification.objects.bulk_create(rows, batch_size=2000)
        done += len(rows)
        for tier, count in assessment.results["tier"].value_counts().items():
            tiers[str(tier)] = tiers.get(str(tier), 0) + int(count)
        if progress:
            progress(done, len(ids))
    return HoldoutReplayResult(
        model_version=version.pk,
        replayed=done,
        already_assessed=int(leads["assessed"].sum()),
        holdout_leads=len(leads),
        matches_training_holdout=matches,
        cutoff=cutoff,
        tiers=tiers,
        reason="" if done else "every lead of the holdout is assessed from before its outcome",
    )
