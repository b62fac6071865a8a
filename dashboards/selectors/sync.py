"""The Salesforce sync status RevOps watches: is it on, where it stands per object, how the
last pulls and pushes went, how much of the org's API allowance they used, and what the push
could not write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import SalesforceSyncRun, SalesforceSyncState, SyncDirection, SyncRunStatus
from accounts.selectors import salesforce_sync_runs_recent, salesforce_sync_states
from routing.models import SalesforcePushState

RECENT_RUNS = 15
# A run still "running" after this long died without finishing (a killed worker).
STALE_RUNNING = timedelta(hours=2)


@dataclass(frozen=True)
class RunRow:
    run: SalesforceSyncRun
    # (object, [(count name, value)]) with zero counts left out, for a compact table cell.
    counts: list[tuple[str, list[tuple[str, int]]]]
    error_count: int
    seconds: float | None
    api_share: float | None
    looks_dead: bool


@dataclass(frozen=True)
class ApiAllowance:
    used: int
    limit: int
    stop_share: float
    measured_at: datetime

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 0.0

    @property
    def percent(self) -> float:
        return round(100 * self.share, 1)

    @property
    def near_stop(self) -> bool:
        return self.share >= self.stop_share * 0.9


@dataclass(frozen=True)
class PushSummary:
    leads_pushed: int
    with_errors: int
    converted: int


@dataclass(frozen=True)
class SyncStatus:
    enabled: bool
    target: str
    states: list[SalesforceSyncState]
    runs: list[RunRow]
    last_pull: RunRow | None
    last_push: RunRow | None
    api: ApiAllowance | None
    push: PushSummary
    recent_errors: list[dict[str, Any]]


def _target() -> str:
    if settings.SALESFORCE_LOOPBACK_URL:
        return f"loopback org at {settings.SALESFORCE_LOOPBACK_URL}"
    if settings.SALESFORCE_INSTANCE_URL:
        return settings.SALESFORCE_INSTANCE_URL
    return f"{settings.SALESFORCE_DOMAIN}.salesforce.com"


def _counts(run: SalesforceSyncRun) -> list[tuple[str, list[tuple[str, int]]]]:
    rows = []
    counts = run.counts if isinstance(run.counts, dict) else {}
    for name, values in sorted(counts.items()):
        if isinstance(values, dict):
            kept = [(k, int(v)) for k, v in values.items() if isinstance(v, int) and v]
        elif isinstance(values, int) and values:
            kept = [(name, values)]
            name = ""
        else:
            continue
        rows.append((name, kept))
    return rows


def _row(run: SalesforceSyncRun, *, now: datetime) -> RunRow:
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    share = run.api_used / run.api_limit if run.api_used is not None and run.api_limit else None
    return RunRow(
        run=run,
        counts=_counts(run),
        error_count=len(run.errors) if isinstance(run.errors, list) else 0,
        seconds=seconds,
        api_share=share,
        looks_dead=run.status == SyncRunStatus.RUNNING and now - run.started_at > STALE_RUNNING,
    )


def sync_status(*, now: datetime | None = None) -> SyncStatus:
    """Everything the status page shows, in a fixed handful of queries."""
    now = now or timezone.now()
    runs = [_row(run, now=now) for run in salesforce_sync_runs_recent(limit=RECENT_RUNS)]
    last_pull = next((r for r in runs if r.run.direction == SyncDirection.PULL), None)
    last_push = next((r for r in runs if r.run.direction == SyncDirection.PUSH), None)
    measured = next((r.run for r in runs if r.run.api_limit), None)
    api = (
        ApiAllowance(
            used=measured.api_used or 0,
            limit=measured.api_limit or 0,
            stop_share=settings.SALESFORCE_API_USAGE_STOP_SHARE,
            measured_at=measured.finished_at or measured.started_at,
        )
        if measured is not None
        else None
    )
    push = SalesforcePushState.objects.aggregate(
        leads_pushed=Count("pk", filter=Q(pushed_at__isnull=False)),
        with_errors=Count("pk", filter=~Q(last_error="")),
        converted=Count("pk", filter=Q(converted_at__isnull=False)),
    )
    recent_errors: list[dict[str, Any]] = []
    for row in runs[:5]:
        for error in row.run.errors if isinstance(row.run.errors, list) else []:
            if isinstance(error, dict):
                recent_errors.append(
                    {**error, "direction": row.run.direction, "at": row.run.started_at}
                )
    return SyncStatus(
        enabled=settings.SALESFORCE_ENABLED,
        target=_target(),
        states=salesforce_sync_states(),
        runs=runs,
        last_pull=last_pull,
        last_push=last_push,
        api=api,
        push=PushSummary(**push),
        recent_errors=recent_errors[:20],
    )
