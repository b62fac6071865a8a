"""The account feeds as RevOps watches them: is each one arriving, how much, from where.

One row per feed (account events by kind, intent signals, technologies): its freshness (when
a row last arrived, and the latest moment its rows speak of), its volume (arrived in the last
7 and 30 days, and in all), and its sources (the data vendors: `g2`, `bombora`, `salesforce`,
`csv`, `api`). A fixed number of aggregate queries, whatever the volume: two per model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Model, Q
from django.utils import timezone

from accounts.models import AccountEvent, AccountEventKind, AccountTechnology, IntentSignal

# A feed whose last row arrived longer ago than this is flagged: vendors' files are daily or
# weekly, the Salesforce pull every few minutes.
STALE_AFTER = timedelta(days=8)
SOURCES_SHOWN = 5


@dataclass
class FeedRow:
    key: str
    label: str
    total: int = 0
    last_7_days: int = 0
    last_30_days: int = 0
    latest_received_at: datetime | None = None
    # The latest time the rows speak of: occurred_at, observed_at, last_seen.
    latest_observed_at: datetime | None = None
    # (source, rows), most rows first; "" is shown as "unnamed".
    sources: list[tuple[str, int]] = field(default_factory=list)
    more_sources: int = 0
    age: timedelta | None = None

    @property
    def never(self) -> bool:
        return self.total == 0

    @property
    def stale(self) -> bool:
        return self.age is not None and self.age > STALE_AFTER


@dataclass(frozen=True)
class FeedFreshness:
    groups: list[tuple[str, list[FeedRow]]]
    now: datetime

    @property
    def rows(self) -> list[FeedRow]:
        return [row for _, rows in self.groups for row in rows]


def _aggregates(now: datetime, moment: str) -> dict[str, Count | Max]:
    return {
        "total": Count("pk"),
        "last_7_days": Count("pk", filter=Q(received_at__gte=now - timedelta(days=7))),
        "last_30_days": Count("pk", filter=Q(received_at__gte=now - timedelta(days=30))),
        "latest_received_at": Max("received_at"),
        "latest_observed_at": Max(moment),
    }


def _fill(row: FeedRow, values: Mapping[str, Any], now: datetime) -> None:
    for name in ("total", "last_7_days", "last_30_days"):
        setattr(row, name, int(values.get(name) or 0))
    received = values.get("latest_received_at")
    observed = values.get("latest_observed_at")
    row.latest_received_at = received if isinstance(received, datetime) else None
    row.latest_observed_at = observed if isinstance(observed, datetime) else None
    row.age = now - row.latest_received_at if row.latest_received_at else None


def _sources(model: type[Model], rows: dict[str, FeedRow], by: str | None) -> None:
    """Each row's sources, most rows first (one grouped query for the model)."""
    fields = [by, "source"] if by else ["source"]
    counted = (
        model._default_manager.values(*fields).annotate(n=Count("pk")).order_by("-n", "source")
    )
    for item in counted:
        row = rows.get(str(item[by]) if by else "")
        if row is None:
            continue
        if len(row.sources) < SOURCES_SHOWN:
            row.sources.append((str(item["source"]), int(item["n"])))
        else:
            row.more_sources += 1


def feed_freshness(*, now: datetime | None = None) -> FeedFreshness:
    now = now or timezone.now()
    events = {
        kind.value: FeedRow(key=f"event:{kind.value}", label=str(kind.label))
        for kind in AccountEventKind
    }
    for values in (
        AccountEvent.objects.values("kind")
        .annotate(**_aggregates(now, "occurred_at"))
        .order_by("kind")
    ):
        row = events.get(values["kind"])
        if row is not None:
            _fill(row, values, now)
    _sources(AccountEvent, events, "kind")

    intent = FeedRow(key="intent", label="Intent signals")
    _fill(intent, IntentSignal.objects.aggregate(**_aggregates(now, "observed_at")), now)
    _sources(IntentSignal, {"": intent}, None)

    technologies = FeedRow(key="technologies", label="Technologies")
    _fill(
        technologies,
        AccountTechnology.objects.aggregate(**_aggregates(now, "last_seen")),
        now,
    )
    _sources(AccountTechnology, {"": technologies}, None)
    return FeedFreshness(
        groups=[
            ("Account events", list(events.values())),
            ("Third-party intent", [intent]),
            ("Technographics", [technologies]),
        ],
        now=now,
    )
