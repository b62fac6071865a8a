"""Celery tasks of the scoring app: thin wrappers that take ids and call one service.

The real-time pipeline. An ingest marks each lead it touched dirty (`requalify_requested_at`)
and, once committed, calls `leads_requalify_enqueue` (settings.LEADQUAL_AFTER_INGEST) with the
lead ids. At most one `leads_requalify_task` waits in the queue at a time: while one waits,
further ingests enqueue nothing, since their leads are dirty and the waiting task takes every
dirty lead along when it runs. So a burst of events costs one re-qualification, not one per
event, and the queue never fills with tasks that would find their work done (routing, queued
behind them, would wait for all of them).

The task takes the "queued" flag off as it starts (evidence arriving from then on enqueues a
new task, which the other worker processes can run at once), claims the leads it will qualify
so that two runs never qualify the same lead at the same time, and qualifies up to
REQUALIFY_TASK_LEADS of them: one run of many leads costs little more than a run of one (the
engine works on frames), so under load the batches grow rather than the queue. If leads are
left over, or got new evidence while it ran, it enqueues a successor. What a lost message or a
dead broker leaves behind, the dirty sweep picks up a minute later.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from accounts.evidence_arrival import EvidenceArrival
from accounts.models import Lead, Touchpoint
from scoring import (
    account_services,
    override_services,
    selectors,
    services,
    trigger_services,
)
from scoring.ml.conversion import NotEnoughData
from scoring.models import AccountQualificationReason, Qualification, Tier

logger = logging.getLogger(__name__)

# Leads per re-qualification run: a few seconds of work at most, one transaction.
REQUALIFY_TASK_LEADS = 500
# How long the "a task is queued" flag lives if its task never starts (the message was lost):
# after this the next event enqueues again; meanwhile the dirty sweep covers the leads.
QUEUED_FLAG_SECONDS = 120
# How long a claim holds if its run dies without releasing it (a SIGKILLed worker). A run
# longer than this may overlap another on the same lead; the unique "one current
# qualification" constraint then fails one of them, which is retried.
CLAIM_SECONDS = 30
# Leads another run holds go round again this much later, when that run has likely finished.
REQUEUE_AFTER_SECONDS = 0.5
# The noted leads outlive a broker outage of this long (the sweep covers longer ones).
PENDING_SECONDS = 24 * 3600
# A lead dirty for longer than this was missed by the real-time path (broker down, message
# lost, worker killed before the redelivery): the sweep re-qualifies it.
DIRTY_SWEEP_AFTER = timedelta(seconds=60)
_QUEUED_KEY = "leadqual:requalify-queued"
_PENDING_KEY = "leadqual:requalify-pending"
_CLAIM_KEY = "leadqual:requalify-running:{}"
# A lock timeout or a deadlock the database broke rolls the whole transaction back, a dropped
# connection wrote nothing, and a unique violation means another run stored the lead's
# current qualification first: all safe to try again.
_RETRY_FOR = (OperationalError, InterfaceError, IntegrityError)
# What a broker or cache that is down raises (kombu wraps the broker's connection errors).
_UNREACHABLE = (KombuOperationalError, RedisError, OSError)


def _add_many(keys: Sequence[str], value: str, seconds: int) -> list[bool]:
    """Atomic add (SET NX) of each key, in one round trip on Redis; True where it was added."""
    if not keys:
        return []
    if isinstance(cache, RedisCache):
        # Django's RedisCache has no add_many; this is its own add, pipelined: a run claims
        # hundreds of leads in one round trip, not one each.
        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(cache.make_and_validate_key(key), value, nx=True, ex=seconds)
            return [bool(ok) for ok in pipe.execute()]
    return [cache.add(key, value, seconds) for key in keys]


def _get_many(keys: Sequence[str]) -> list[str | None]:
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client()  # type: ignore[attr-defined]
        raw = client.mget([cache.make_and_validate_key(key) for key in keys])
        return [None if v is None else bytes(v).decode() for v in raw]
    found = cache.get_many(list(keys))
    return [found.get(key) for key in keys]


def _flag_queued() -> bool:
    """Set the "a task is queued" flag; False if it was set already (of two processes setting
    it at once, exactly one gets True and enqueues)."""
    return _add_many([_QUEUED_KEY], "1", QUEUED_FLAG_SECONDS)[0]


def _unflag_queued() -> None:
    cache.delete(_QUEUED_KEY)


def _pending_add(lead_ids: Sequence[int]) -> None:
    """Note leads whose evidence has committed and that the next run must qualify."""
    if not lead_ids:
        return
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        key = cache.make_and_validate_key(_PENDING_KEY)
        with client.pipeline(transaction=False) as pipe:
            pipe.sadd(key, *lead_ids)
            pipe.expire(key, PENDING_SECONDS)
            pipe.execute()
        return
    # The in-process cache: one process (tasks run inline), so read-modify-write is safe.
    cache.set(_PENDING_KEY, set(cache.get(_PENDING_KEY, set())) | set(lead_ids), PENDING_SECONDS)


def _pending_take() -> list[int]:
    """The noted leads, emptied in the same step (of two runs starting at once, each lead goes
    to one)."""
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        key = cache.make_and_validate_key(_PENDING_KEY)
        with client.pipeline(transaction=True) as pipe:
            pipe.smembers(key)
            pipe.delete(key)
            members, _ = pipe.execute()
        return sorted(int(m) for m in members)
    taken = cache.get(_PENDING_KEY, set())
    cache.delete(_PENDING_KEY)
    return sorted(int(m) for m in taken)


def _claim(lead_ids: Sequence[int], owner: str) -> list[int]:
    """Claim these leads for this task; returns those it holds, in the given order. A
    redelivered message (the same task id) holds again what its killed attempt claimed."""
    keys = [_CLAIM_KEY.format(i) for i in lead_ids]
    added = _add_many(keys, owner, CLAIM_SECONDS)
    lost = [k for k, ok in zip(keys, added, strict=True) if not ok]
    mine = {k for k, v in zip(lost, _get_many(lost), strict=True) if v == owner} if lost else set()
    return [i for i, k, ok in zip(lead_ids, keys, added, strict=True) if ok or k in mine]


def _release(lead_ids: Sequence[int]) -> None:
    if lead_ids:
        cache.delete_many([_CLAIM_KEY.format(lead_id) for lead_id in lead_ids])


def _send(lead_ids: list[int], requested_at: str | None, countdown: float | None = None) -> None:
    """Enqueue the task, or leave the leads to the sweep when the broker is down."""
    try:
        leads_requalify_task.apply_async((lead_ids, requested_at), countdown=countdown)
    except _UNREACHABLE:
        logger.exception("Cannot enqueue a re-qualification; the dirty sweep will take over")
        # Unflagged, so that the next event tries again rather than waiting for the flag to
        # expire.
        with contextlib.suppress(*_UNREACHABLE):
            _unflag_queued()


def leads_requalify_enqueue(lead_ids: list[int]) -> None:
    """settings.LEADQUAL_AFTER_INGEST: re-qualify these (now dirty) leads soon, coalescing.

    Notes the leads and enqueues `leads_requalify_task` (once the caller's transaction, if
    any, has committed) unless one is queued already, which will take them along. Never
    raises for a broker or cache that is down: the events are stored and their leads dirty,
    and the dirty sweep re-qualifies them once the broker is back.
    """
    ids = sorted({int(lead_id) for lead_id in lead_ids})
    if not ids:
        return
    try:
        # Noted even when a task is queued already: this ingest has committed, so whichever
        # run starts next reads its evidence, whatever another run did to the dirty mark.
        _pending_add(ids)
        first = _flag_queued()
    except _UNREACHABLE:
        logger.exception("Cannot note %s leads for re-qualification; the sweep will", len(ids))
        return
    if first:
        transaction.on_commit(lambda: _send([], None))


def _leads_needing_requalification(
    lead_ids: Sequence[int], requested_at: datetime | None
) -> list[int]:
    """Of these leads, those still dirty, or (with `requested_at`) whose current qualification
    is older than the request.

    The second half closes a race: an ingest transaction that stamps a lead dirty before a
    running qualification's `now` but commits after that run read its evidence gets cleared by
    the run without being seen. The ingest enqueues after its commit, so the qualification the
    request needs is one computed after `requested_at`.
    """
    if not lead_ids:
        return []
    wanted = Q(requalify_requested_at__isnull=False)
    if requested_at is not None:
        fresh = Qualification.objects.filter(
            lead_id=OuterRef("pk"), is_current=True, computed_at__gte=requested_at
        )
        wanted |= Q(~Exists(fresh))
    return list(
        Lead.objects.filter(pk__in=list(lead_ids))
        .filter(wanted)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _leads_waiting(*, exclude: Sequence[int], limit: int) -> list[int]:
    """Other dirty leads, longest waiting first (the partial index on the dirty mark)."""
    if limit <= 0:
        return []
    return list(
        Lead.objects.filter(requalify_requested_at__isnull=False)
        .exclude(pk__in=list(exclude))
        .order_by("requalify_requested_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=_RETRY_FOR,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
    soft_time_limit=300,
    time_limit=360,
)
def leads_requalify_task(
    self: Any, lead_ids: list[int], requested_at: str | None = None, take_along: bool = True
) -> int:
    """Re-qualify those of these leads that still need it and, with `take_along`, other dirty
    leads, REQUALIFY_TASK_LEADS at most; returns how many were.

    Safe to run twice: the second run finds the leads clean and does nothing. Routing follows
    through settings.LEADQUAL_AFTER_QUALIFY.
    """
    limit = REQUALIFY_TASK_LEADS
    pending: list[int] = []
    if take_along:
        # First: evidence arriving from here on must enqueue a new task, since this run may
        # already have read the leads' evidence.
        _unflag_queued()
        pending = _pending_take()
    since = datetime.fromisoformat(requested_at) if requested_at else None
    own = sorted({*_leads_needing_requalification(lead_ids, since), *pending})
    # Twice as many as it can take: a run going on at the same time holds some of them.
    waiting = _leads_waiting(exclude=own, limit=2 * limit) if take_along else []
    owner = str(self.request.id or "inline")
    claimed = _claim(own + waiting, owner)
    ids, extra = claimed[:limit], claimed[limit:]
    _release(extra)
    # Noted leads another run holds, or that did not fit: noted again for the next run.
    later = sorted(set(pending) - set(ids))
    _pending_add(later)
    started = timezone.now()
    stored = 0
    try:
        if ids:
            # Before the qualification: a dormant or closed lead is told apart by how it stood
            # before this batch's touches (its resurfacing names its previous qualification).
            resurfaced = trigger_services.triggers_on_activity(lead_ids=ids, now=started)
            stored = services.leads_qualify(lead_ids=ids).leads
            trigger_services.resurfacings_complete(lead_ids=resurfaced)
    finally:
        _release(ids)
    if take_along:
        # Leads left over, or whose evidence arrived while this ran (the run left them
        # dirty): a successor. Dirty leads with older evidence are another run's (they were
        # claimed) or the sweep's, so this cannot loop.
        arrived = Lead.objects.filter(requalify_requested_at__gt=started).exists()
        held = bool(set(later) - set(extra))
        if extra or len(waiting) >= 2 * limit or arrived:
            _successor()
        elif held and not self.request.is_eager:
            _successor(countdown=REQUEUE_AFTER_SECONDS)
    return stored


def _successor(countdown: float | None = None) -> None:
    if _flag_queued():
        _send([], None, countdown=countdown)


@shared_task(acks_late=True, autoretry_for=_RETRY_FOR, retry_backoff=True, max_retries=3)
def leads_requalify_dirty_sweep_task(older_than_seconds: int | None = None) -> int:
    """Enqueue re-qualification of the leads dirty for longer than the real-time path takes."""
    age = (
        timedelta(seconds=older_than_seconds)
        if older_than_seconds is not None
        else DIRTY_SWEEP_AFTER
    )
    cutoff = timezone.now() - age
    ids = list(
        Lead.objects.filter(requalify_requested_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), REQUALIFY_TASK_LEADS):
        leads_requalify_task.delay(ids[start : start + REQUALIFY_TASK_LEADS], take_along=False)
    if ids:
        logger.info("Dirty sweep: %s leads left dirty since before %s", len(ids), cutoff)
    return len(ids)


@shared_task(acks_late=True, max_retries=3, default_retry_delay=5)
def leads_qualify_task(lead_ids: list[int]) -> dict[str, int]:
    """Re-qualify these leads; safe to run twice (each run appends one current assessment)."""
    result = services.leads_qualify(lead_ids=lead_ids)
    return result.tiers


@shared_task(acks_late=True, autoretry_for=_RETRY_FOR, retry_backoff=True, max_retries=3)
def lead_overrides_expire_task() -> int:
    """Close managers' overrides past their expiry and re-qualify their leads (periodic)."""
    return override_services.lead_overrides_expire()


@shared_task(acks_late=True, soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def leads_qualify_all_task(chunk_size: int = services.DEFAULT_CHUNK) -> int:
    """The nightly full re-qualification, in chunks (whole accounts each) a worker's pool
    processes take one by one. The accounts are scored first: each lead's Sales Ready bar
    reads its account's priority."""
    account_services.accounts_qualify(
        reason=AccountQualificationReason.NIGHTLY, requalify_leads=False
    )
    ids = selectors.lead_ids_for_qualification()
    for chunk in services.qualification_chunks(lead_ids=ids, chunk_size=chunk_size):
        leads_qualify_task.delay(chunk)
    # Timing objections due today resurface with the nightly run too, not only at the daily
    # beat entry (an operator may have paused that one).
    triggers_revisit_due_task.delay()
    return len(ids)


@shared_task(acks_late=True, autoretry_for=_RETRY_FOR, retry_backoff=True, max_retries=3)
def triggers_revisit_due_task() -> int:
    """Resurface the leads whose "not buying now" revisit date has come; safe to run twice
    (a verdict resurfaces its lead once)."""
    return len(trigger_services.triggers_on_revisit_due())


def _dormant_lead_ids(*, dormant_days: int, stale_days: int) -> list[int]:
    """Leads in a live tier with no touchpoint for `dormant_days` whose qualification is older
    than `stale_days`: their score still carries the recency of activity long past."""
    now = timezone.now()
    recent = Touchpoint.objects.filter(
        lead_id=OuterRef("pk"), occurred_at__gte=now - timedelta(days=dormant_days)
    )
    return list(
        Lead.objects.filter(
            qualifications__is_current=True,
            qualifications__computed_at__lt=now - timedelta(days=stale_days),
            qualifications__tier__in=[Tier.SALES_READY, Tier.NURTURE],
        )
        .exclude(Exists(recent))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@shared_task(acks_late=True, autoretry_for=_RETRY_FOR, retry_backoff=True, max_retries=3)
def leads_requalify_dormant_sweep_task(dormant_days: int = 14, stale_days: int = 7) -> int:
    """Re-qualify dormant leads still ranked as live, so recency decay lowers them even when
    the nightly full run is paused; returns how many were enqueued."""
    if dormant_days < 1 or stale_days < 1:
        raise ValueError(
            f"leads_requalify_dormant_sweep_task: dormant_days ({dormant_days}) and stale_days "
            f"({stale_days}) must be at least 1."
        )
    ids = _dormant_lead_ids(dormant_days=dormant_days, stale_days=stale_days)
    for start in range(0, len(ids), services.DEFAULT_CHUNK):
        leads_qualify_task.delay(ids[start : start + services.DEFAULT_CHUNK])
    return len(ids)


# How far along each stage of `model_train` is, as a share of the whole run, for the progress
# bar RevOps watches: building the training set dominates on large histories.
_TRAIN_STAGES: dict[str, tuple[float, float]] = {
    "Building the training set": (0.02, 0.55),
    "Training on": (0.55, 0.85),
    "Training timeline and deal-size ranges": (0.85, 0.98),
}

_FOLD = re.compile(r"\(fold (\d+) of (\d+)")


class _TrainProgress:
    """Turns `model_train`'s stage lines and row counts into the task's PROGRESS state."""

    def __init__(self, task: Any) -> None:
        self.task = task
        self.stage = "Starting"
        self.span = (0.0, 0.02)

    def _report(self, fraction: float) -> None:
        low, high = self.span
        percent = round(100 * (low + (high - low) * min(max(fraction, 0.0), 1.0)), 1)
        # Outside a worker (eager, tests) there is no request id to store the state under.
        if not self.task.request.id:
            return
        # No result backend configured: nobody can poll the bar, and training goes on.
        with contextlib.suppress(NotImplementedError):
            self.task.update_state(state="PROGRESS", meta={"stage": self.stage, "percent": percent})

    def stage_started(self, line: str) -> None:
        self.stage = line
        # A cross-validated holdout trains once per fold, within the training stage's span.
        fold = _FOLD.search(line)
        if fold:
            self._report((int(fold[1]) - 1) / max(int(fold[2]), 1))
            return
        self.span = next(
            (span for prefix, span in _TRAIN_STAGES.items() if line.startswith(prefix)),
            self.span,
        )
        self._report(0.0)

    def rows_done(self, done: int, total: int) -> None:
        self._report(done / total if total else 1.0)


@shared_task(bind=True, acks_late=True, soft_time_limit=3600, time_limit=3900)
def model_train_task(self: Task) -> dict[str, object]:
    """Train and register a model; it becomes active only if it beats the active one (the
    weekly retraining: a worse model is stored as a candidate, never switched on).

    Reports PROGRESS with `stage` and `percent` while it runs, for the "train now" bar."""
    progress = _TrainProgress(self)
    try:
        result = services.model_train(
            activate="auto", progress=progress.stage_started, progress_rows=progress.rows_done
        )
    except NotEnoughData as exc:
        # Not an error for a schedule: too few outcomes yet, try again next week.
        logger.warning("Weekly retraining skipped: %s", exc)
        return {"model_version": None, "activated": False, "reason": str(exc)}
    logger.info("Trained model %s: %s", result.version.pk, result.reason)
    auc = result.metrics.get("auc")
    return {
        "model_version": result.version.pk,
        "activated": result.activated,
        "reason": result.reason,
        "auc": float(auc) if auc is not None else None,
    }


@shared_task(acks_late=True, soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def qualifications_prune_task(older_than_days: int) -> dict[str, object]:
    """Delete retired qualifications older than `older_than_days` that nothing needs.

    Not scheduled by default (every qualification is kept); RevOps adds it as a periodic task
    in the admin with the retention they choose, e.g. `{"older_than_days": 180}`.
    """
    result = services.qualifications_prune(older_than_days=older_than_days)
    logger.info(
        "Pruned %s retired qualifications computed before %s", result.deleted, result.before
    )
    return {"deleted": result.deleted, "before": result.before.isoformat()}


def account_evidence_enqueue(arrivals: list[dict[str, Any]]) -> None:
    """settings.LEADQUAL_AFTER_ACCOUNT_EVIDENCE: act on the stored account evidence soon."""
    account_evidence_task.delay(arrivals)


@shared_task(acks_late=True, autoretry_for=_RETRY_FOR, retry_backoff=True, max_retries=5)
def account_evidence_task(arrivals: list[dict[str, Any]]) -> int:
    """Act on account evidence that arrived: the steps of settings.LEADQUAL_ON_ACCOUNT_EVIDENCE,
    in order (re-score the accounts, fire the re-qualification triggers). Each step is safe to
    run twice, so a redelivered or retried message does no harm."""
    parsed = [EvidenceArrival.from_dict(item) for item in arrivals]
    for path in settings.LEADQUAL_ON_ACCOUNT_EVIDENCE:
        import_string(path)(parsed)
    return len(parsed)
