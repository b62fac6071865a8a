"""Reads for the sales manager's team page: each rep's load against capacity, the assignments
past their SLA, and what each routing rule sent over a period.

Each function runs a fixed number of queries whatever the number of leads: the counts are
grouped in the database, and the lists are bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from routing.models import (
    Assignment,
    AssignmentStatus,
    Queue,
    RepRole,
    RoutingRule,
    RoutingSettings,
    SalesRep,
)
from routing.selectors import CURRENT_STATUSES, start_of_day
from scoring.models import Tier

# A manager acts on the oldest breaches first; past this many the page says how many more.
BREACH_LIST_LIMIT = 50
PERIOD_DAYS: tuple[int, ...] = (1, 7, 30, 90)
DEFAULT_PERIOD_DAYS = 7


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


@dataclass(frozen=True)
class RepLoad:
    rep_id: int
    name: str
    team: str
    role_label: str
    is_active: bool
    out_of_office: bool
    out_of_office_until: datetime | None
    open_leads: int
    max_open_leads: int
    assigned_today: int
    max_leads_per_day: int
    overdue: int

    @property
    def open_percent(self) -> float:
        return min(_percent(self.open_leads, self.max_open_leads), 100.0)

    @property
    def today_percent(self) -> float:
        return min(_percent(self.assigned_today, self.max_leads_per_day), 100.0)

    @property
    def at_open_capacity(self) -> bool:
        return self.open_leads >= self.max_open_leads

    @property
    def at_daily_capacity(self) -> bool:
        return self.assigned_today >= self.max_leads_per_day

    @property
    def is_available(self) -> bool:
        """Routing can send this rep a lead now (caps aside)."""
        return self.is_active and not self.out_of_office


@dataclass(frozen=True)
class TeamLoad:
    reps: list[RepLoad]
    day_started: datetime

    @property
    def open_leads(self) -> int:
        return sum(rep.open_leads for rep in self.reps)

    @property
    def open_capacity(self) -> int:
        return sum(rep.max_open_leads for rep in self.reps if rep.is_available)

    @property
    def at_capacity(self) -> int:
        return sum(1 for rep in self.reps if rep.is_available and rep.at_open_capacity)

    @property
    def away(self) -> int:
        return sum(1 for rep in self.reps if rep.is_active and rep.out_of_office)

    @property
    def targets(self) -> list[RepLoad]:
        """Reps a lead can be reassigned to: the active ones, those at work first."""
        active = [rep for rep in self.reps if rep.is_active]
        return sorted(active, key=lambda rep: (not rep.is_available, rep.name.casefold()))


def team_load(*, now: datetime | None = None) -> TeamLoad:
    """Every rep with their current and today's leads and their overdue ones; three queries.

    "Current" is what routing counts against max_open_leads (open and accepted assignments),
    and "today" starts at midnight where the team works, when routing's daily caps reset.
    """
    now = now or timezone.now()
    since = start_of_day(now, RoutingSettings.load().business_hours())
    reps = list(SalesRep.objects.select_related("user").order_by("user__username"))
    counts = {
        row["rep_id"]: row
        for row in Assignment.objects.filter(rep__isnull=False)
        .filter(Q(status__in=CURRENT_STATUSES) | Q(assigned_at__gte=since))
        .order_by()
        .values("rep_id")
        .annotate(
            current=Count("pk", filter=Q(status__in=CURRENT_STATUSES)),
            today=Count("pk", filter=Q(assigned_at__gte=since)),
            overdue=Count(
                "pk",
                filter=Q(
                    status=AssignmentStatus.OPEN,
                    first_touch_at__isnull=True,
                    sla_due_at__lt=now,
                ),
            ),
        )
    }
    loads = []
    for rep in reps:
        row = counts.get(rep.pk, {})
        loads.append(
            RepLoad(
                rep_id=rep.pk,
                name=str(rep),
                team=rep.team,
                role_label=RepRole(rep.role).label if rep.role in RepRole.values else rep.role,
                is_active=rep.is_active,
                out_of_office=rep.is_out_of_office(now),
                out_of_office_until=rep.out_of_office_until,
                open_leads=row.get("current", 0),
                max_open_leads=rep.max_open_leads,
                assigned_today=row.get("today", 0),
                max_leads_per_day=rep.max_leads_per_day,
                overdue=row.get("overdue", 0),
            )
        )
    # The fullest reps first: they are the ones a manager may need to relieve.
    loads.sort(key=lambda r: (not r.is_active, -(r.open_leads / max(r.max_open_leads, 1)), r.name))
    return TeamLoad(reps=loads, day_started=since)


@dataclass(frozen=True)
class Breach:
    assignment_id: int
    lead_id: int
    lead_name: str
    lead_email: str
    account_name: str
    rep_id: int | None
    rep_name: str
    queue_label: str
    tier: str
    tier_label: str
    assigned_at: datetime
    sla_due_at: datetime
    overdue_by: timedelta
    sla_breaches: int


@dataclass(frozen=True)
class SlaBreaches:
    items: list[Breach]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)


def _breach(assignment: Assignment, *, now: datetime) -> Breach:
    lead = assignment.lead
    due = assignment.sla_due_at
    assert due is not None  # the query's condition
    return Breach(
        assignment_id=assignment.pk,
        lead_id=lead.pk,
        lead_name=lead.name or lead.email,
        lead_email=lead.email,
        account_name=lead.account.name if lead.account else "",
        rep_id=assignment.rep_id,
        rep_name=str(assignment.rep) if assignment.rep else "",
        queue_label=Queue(assignment.queue).label
        if assignment.queue in Queue.values
        else assignment.queue,
        tier=assignment.tier,
        tier_label=Tier(assignment.tier).label if assignment.tier in Tier.values else "",
        assigned_at=assignment.assigned_at,
        sla_due_at=due,
        overdue_by=now - due,
        sla_breaches=assignment.sla_breaches,
    )


def _past_sla(now: datetime) -> Q:
    # The shape of the partial index assignment_sla_open_idx, and the home page's count.
    return Q(status=AssignmentStatus.OPEN, first_touch_at__isnull=True, sla_due_at__lt=now)


def sla_breach_count(*, now: datetime | None = None) -> int:
    return Assignment.objects.filter(_past_sla(now or timezone.now())).count()


def sla_breaches(*, now: datetime | None = None, limit: int = BREACH_LIST_LIMIT) -> SlaBreaches:
    """Open, untouched assignments past their deadline, the longest overdue first."""
    now = now or timezone.now()
    past = Assignment.objects.filter(_past_sla(now))
    total = past.count()
    if not total:
        return SlaBreaches(items=[], total=0)
    rows = past.select_related("lead__account", "rep__user").order_by("sla_due_at", "pk")[:limit]
    return SlaBreaches(items=[_breach(a, now=now) for a in rows], total=total)


def assignment_get_for_reassign(*, assignment_id: int) -> Assignment | None:
    """The assignment with what its row shows (lead, account, rep), or None."""
    return (
        Assignment.objects.select_related("lead__account", "rep__user")
        .filter(pk=assignment_id)
        .first()
    )


@dataclass(frozen=True)
class RuleCount:
    rule_id: int | None
    name: str
    priority: int | None
    is_active: bool
    pool_name: str
    assigned: int
    open: int
    accepted: int
    reassigned: int
    percent: float


@dataclass(frozen=True)
class RuleBreakdown:
    days: int
    since: datetime
    total: int
    rows: list[RuleCount]


def assignments_by_rule(*, days: int, now: datetime | None = None) -> RuleBreakdown:
    """Assignments made in the last `days` days per routing rule, every rule listed (a rule that
    sent nothing is news too), plus those made without a rule; two queries."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    counts = {
        row["rule_id"]: row
        for row in Assignment.objects.filter(assigned_at__gte=since)
        .order_by()
        .values("rule_id")
        .annotate(
            assigned=Count("pk"),
            open=Count("pk", filter=Q(status=AssignmentStatus.OPEN)),
            accepted=Count("pk", filter=Q(status=AssignmentStatus.ACCEPTED)),
            reassigned=Count("pk", filter=Q(status=AssignmentStatus.REASSIGNED)),
        )
    }
    total = sum(row["assigned"] for row in counts.values())

    def row_for(
        rule_id: int | None, *, name: str, priority: int | None, is_active: bool, pool_name: str
    ) -> RuleCount:
        row = counts.get(rule_id, {})
        assigned = row.get("assigned", 0)
        return RuleCount(
            rule_id=rule_id,
            name=name,
            priority=priority,
            is_active=is_active,
            pool_name=pool_name,
            assigned=assigned,
            open=row.get("open", 0),
            accepted=row.get("accepted", 0),
            reassigned=row.get("reassigned", 0),
            percent=_percent(assigned, total),
        )

    rows = [
        row_for(
            rule.pk,
            name=rule.name,
            priority=rule.priority,
            is_active=rule.is_active,
            pool_name=rule.pool.name,
        )
        for rule in RoutingRule.objects.select_related("pool").order_by("priority", "name")
    ]
    if None in counts:
        rows.append(
            row_for(
                None,
                name="No rule",
                priority=None,
                is_active=True,
                pool_name="account owner, fallback pool or a manager's pick",
            )
        )
    return RuleBreakdown(days=days, since=since, total=total, rows=rows)
