"""Reads for the HTML pages: each page's data comes from one selector, in a fixed number of
queries whatever the size of the tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connections, router
from django.db.models import Count, Model, Q
from django.utils import timezone

from accounts.models import Account, Lead, LeadStatus, Touchpoint
from routing.models import Assignment, AssignmentStatus
from scoring.models import ModelStatus, ModelVersion, Qualification, Tier

# Below this many rows an exact COUNT(*) is cheap; above it PostgreSQL's own estimate is used.
EXACT_COUNT_BELOW = 200_000

MY_QUEUE_PREVIEW = 8


@dataclass(frozen=True)
class RowCount:
    value: int
    is_estimate: bool = False


@dataclass(frozen=True)
class Share:
    key: str
    label: str
    count: int
    percent: float


@dataclass(frozen=True)
class QueueItem:
    assignment_id: int
    lead_id: int
    lead_name: str
    lead_email: str
    account_name: str
    tier: str
    tier_label: str
    assigned_at: datetime
    sla_due_at: datetime | None
    is_overdue: bool


@dataclass(frozen=True)
class HomeOverview:
    leads: int
    accounts: int
    touchpoints: RowCount
    open_assignments: int
    overdue_assignments: int
    leads_by_status: list[Share]
    tiers: list[Share]
    unqualified_leads: int
    active_models: list[ModelVersion]
    my_queue: list[QueueItem]
    my_open_assignments: int
    has_rep_profile: bool

    @property
    def is_empty(self) -> bool:
        return self.leads == 0


def table_row_count(*, model: type[Model]) -> RowCount:
    """The model's row count; an estimate on PostgreSQL once the table is big.

    COUNT(*) reads the whole table on PostgreSQL, which takes seconds at millions of
    touchpoints; the planner's statistics (kept fresh by autovacuum) are close enough for an
    overview.
    """
    connection = connections[router.db_for_read(model)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                [model._meta.db_table],
            )
            row = cursor.fetchone()
        # -1 means "never analysed"; small tables are counted exactly.
        if row is not None and row[0] >= EXACT_COUNT_BELOW:
            return RowCount(value=int(row[0]), is_estimate=True)
    return RowCount(value=model._default_manager.count())


def _shares(*, counts: dict[str, int], choices: list[tuple[str, str]], total: int) -> list[Share]:
    return [
        Share(
            key=key,
            label=label,
            count=counts.get(key, 0),
            percent=round(100 * counts.get(key, 0) / total, 1) if total else 0.0,
        )
        for key, label in choices
    ]


def _my_queue(*, user: AbstractBaseUser, now: datetime) -> tuple[list[QueueItem], int]:
    open_mine = Assignment.objects.filter(rep__user_id=user.pk, status=AssignmentStatus.OPEN)
    count = open_mine.count()
    if count == 0:
        return [], 0
    rows = open_mine.select_related("lead__account").order_by("sla_due_at", "-assigned_at")[
        :MY_QUEUE_PREVIEW
    ]
    items = [
        QueueItem(
            assignment_id=a.pk,
            lead_id=a.lead_id,
            lead_name=a.lead.name or a.lead.email,
            lead_email=a.lead.email,
            account_name=a.lead.account.name if a.lead.account else "",
            tier=a.tier,
            tier_label=a.get_tier_display() if a.tier else "",
            assigned_at=a.assigned_at,
            sla_due_at=a.sla_due_at,
            is_overdue=a.sla_due_at is not None and a.first_touch_at is None and a.sla_due_at < now,
        )
        for a in rows
    ]
    return items, count


def home_overview(*, user: AbstractBaseUser | AnonymousUser) -> HomeOverview:
    """What a newcomer needs first: how much data there is, where leads stand, their own work."""
    now = timezone.now()
    by_status = dict(
        Lead.objects.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    leads = sum(by_status.values())
    by_tier = dict(
        Qualification.objects.filter(is_current=True)
        .order_by()
        .values("tier")
        .annotate(n=Count("pk"))
        .values_list("tier", "n")
    )
    qualified = sum(by_tier.values())
    assignments = Assignment.objects.filter(status=AssignmentStatus.OPEN).aggregate(
        open=Count("pk"),
        overdue=Count("pk", filter=Q(first_touch_at__isnull=True, sla_due_at__lt=now)),
    )
    has_rep_profile = bool(user.is_authenticated and hasattr(user, "sales_rep"))
    my_queue, my_open = (
        _my_queue(user=user, now=now)
        if has_rep_profile and isinstance(user, AbstractBaseUser)
        else ([], 0)
    )
    return HomeOverview(
        leads=leads,
        accounts=Account.objects.count(),
        touchpoints=table_row_count(model=Touchpoint),
        open_assignments=assignments["open"],
        overdue_assignments=assignments["overdue"],
        leads_by_status=_shares(counts=by_status, choices=LeadStatus.choices, total=leads),
        tiers=_shares(counts=by_tier, choices=Tier.choices, total=qualified),
        unqualified_leads=max(leads - qualified, 0),
        # The artifact can be megabytes: never load it to show a name and a metric.
        active_models=list(
            ModelVersion.objects.filter(status=ModelStatus.ACTIVE)
            .defer("artifact")
            .order_by("kind")
        ),
        my_queue=my_queue,
        my_open_assignments=my_open,
        has_rep_profile=has_rep_profile,
    )
