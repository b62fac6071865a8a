"""The account view: the account's priority, its stakeholder map, combined engagement over
time and its leads, for a user allowed to see the account (`account_for_user` in `sdr`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import (
    Count,
    F,
    FilteredRelation,
    Q,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from accounts.models import (
    Account,
    CommitteeRole,
    Lead,
    Stakeholder,
    Touchpoint,
)
from dashboards.selectors.sdr import account_for_user, sees_every_lead, user_pk, week_starts
from routing.handoff import (
    COMMITTEE_ROLES,
    ROLE_LABELS,
)
from routing.models import Assignment
from routing.selectors import CURRENT_STATUSES
from scoring.briefs import TIER_LABELS
from scoring.models import Tier
from scoring.selectors import (
    TIER_RANK,
    AccountRollup,
    account_rollups,
)

User = AbstractBaseUser | AnonymousUser

QUEUE_PAGE_SIZE = 25
ACCOUNT_CHOICES_LIMIT = 500
HISTORY_LIMIT = 10
FEEDBACK_LIMIT = 5
RECENT_TOUCHPOINTS = 12
INTENT_LIMIT = 8
EVENT_LIMIT = 8
INTENT_WINDOW = timedelta(days=90)
EVENT_WINDOW = timedelta(days=180)
ACCOUNT_LEADS_LIMIT = 50
ACTIVE_WINDOW = timedelta(days=30)


# --- the account view ----------------------------------------------------------------------


@dataclass(frozen=True)
class PriorityPart:
    label: str
    points: int
    maximum: int
    detail: str


@dataclass(frozen=True)
class AccountPriority:
    """The seed's account qualification score (0-100) and the priority it sets."""

    score: int
    level: str  # "high", "medium" or "low"
    label: str
    action: str
    parts: list[PriorityPart]


PRIORITY_HIGH = 60
PRIORITY_MEDIUM = 30


def account_priority(rollup: AccountRollup) -> AccountPriority:
    """Score an account from its roll-up: the best lead's probability, committee coverage and
    engagement, company-level intent and trigger events. Pure; each part is shown on the page
    so a rep can see why an account ranks where it does."""
    best = rollup.highest_conversion_probability or 0.0
    best_points = round(40 * min(max(best, 0.0), 1.0))
    if rollup.best_tier == Tier.SALES_READY:
        best_points = max(best_points, 20)
    coverage = len([r for r in rollup.committee_roles_covered if r != CommitteeRole.BLOCKER])
    coverage_points = round(20 * min(coverage / 4, 1.0))
    people_points = round(15 * min(rollup.engaged_stakeholders / 3, 1.0))
    surge = rollup.max_intent_surge_30d or 0.0
    intent_points = round(15 * min(surge / 3, 1.0))
    event_points = round(10 * min(rollup.events_90d / 2, 1.0))
    parts = [
        PriorityPart(
            "Best lead",
            best_points,
            40,
            f"{best:.0%} conversion probability"
            + (f", {TIER_LABELS.get(rollup.best_tier, '')}" if rollup.best_tier else ""),
        ),
        PriorityPart(
            "Committee coverage", coverage_points, 20, f"{coverage} of 4 buying roles engaged"
        ),
        PriorityPart(
            "People engaged",
            people_points,
            15,
            f"{rollup.engaged_stakeholders} stakeholders active in 30 days",
        ),
        PriorityPart(
            "Company intent",
            intent_points,
            15,
            f"{surge * 100:.0f}% research surge" if surge else "no surge in 30 days",
        ),
        PriorityPart("Trigger events", event_points, 10, f"{rollup.events_90d} in 90 days"),
    ]
    score = sum(p.points for p in parts)
    if score >= PRIORITY_HIGH:
        level, label, action = "high", "High", "Orchestrated outreach across the committee."
    elif score >= PRIORITY_MEDIUM:
        level, label, action = "medium", "Medium", "Targeted nurture; watch for a surge."
    else:
        level, label, action = "low", "Low", "Passive monitoring."
    return AccountPriority(score=score, level=level, label=label, action=action, parts=parts)


@dataclass(frozen=True)
class MapPerson:
    stakeholder_id: int
    name: str
    title: str
    lead_id: int | None
    touchpoints_30d: int
    role_inferred: bool
    can_open: bool

    @property
    def is_active(self) -> bool:
        return self.touchpoints_30d > 0


@dataclass(frozen=True)
class RoleSlot:
    role: str
    label: str
    people: list[MapPerson]

    @property
    def state(self) -> str:
        """ "engaged" (someone active in 30 days), "known" (someone, quiet) or "missing"."""
        if any(p.is_active for p in self.people):
            return "engaged"
        return "known" if self.people else "missing"


@dataclass(frozen=True)
class AccountLeadRow:
    lead_id: int
    name: str
    title: str
    email: str
    tier: str
    tier_label: str
    probability: float | None
    point_score: int | None
    owner_name: str
    can_open: bool


@dataclass(frozen=True)
class Engagement:
    weeks: list[date]
    known: list[int]
    anonymous: list[int]
    people: list[int]
    span_weeks: int

    @property
    def rows(self) -> list[tuple[date, int, int, int]]:
        return list(zip(self.weeks, self.known, self.anonymous, self.people, strict=True))

    @property
    def total(self) -> int:
        return sum(self.known) + sum(self.anonymous)


@dataclass(frozen=True)
class AccountDetail:
    account: Account
    rollup: AccountRollup
    priority: AccountPriority
    roles: list[RoleSlot]
    unassigned: list[MapPerson]
    leads: list[AccountLeadRow]
    engagement: Engagement

    @property
    def missing_roles(self) -> list[RoleSlot]:
        return [slot for slot in self.roles if slot.state == "missing"]

    @property
    def more_leads(self) -> int:
        return max(self.rollup.leads - len(self.leads), 0)


def account_engagement(*, account_id: int, weeks: int, now: datetime) -> Engagement:
    """Touchpoints per week from the account's leads and from anonymous visitors, and the
    number of people active each week (two grouped queries, one per index; see the roll-up)."""
    week_list = week_starts(now, weeks)
    since = datetime.combine(
        week_list[0], datetime.min.time(), tzinfo=timezone.get_current_timezone()
    )
    window = {"occurred_at__gte": since, "occurred_at__lte": now}
    known: dict[date, tuple[int, int]] = {}
    for week, n, people in (
        Touchpoint.objects.filter(lead__account_id=account_id, **window)
        .annotate(week=TruncWeek("occurred_at"))
        .order_by()
        .values_list("week")
        .annotate(n=Count("pk"), people=Count("lead_id", distinct=True))
    ):
        known[week.date() if isinstance(week, datetime) else week] = (n, people)
    anonymous: dict[date, int] = {}
    for week, n in (
        Touchpoint.objects.filter(lead__isnull=True, account_id=account_id, **window)
        .annotate(week=TruncWeek("occurred_at"))
        .order_by()
        .values_list("week")
        .annotate(n=Count("pk"))
    ):
        anonymous[week.date() if isinstance(week, datetime) else week] = n
    return Engagement(
        weeks=week_list,
        known=[known.get(w, (0, 0))[0] for w in week_list],
        anonymous=[anonymous.get(w, 0) for w in week_list],
        people=[known.get(w, (0, 0))[1] for w in week_list],
        span_weeks=weeks,
    )


def _visible_lead_ids(user: User, lead_ids: list[int], owners: dict[int, int | None]) -> set[int]:
    if sees_every_lead(user):
        return set(lead_ids)
    mine = {lead_id for lead_id in lead_ids if owners.get(lead_id) == user.pk}
    assigned = set(
        Assignment.objects.filter(
            lead_id__in=lead_ids, rep__user_id=user_pk(user), status__in=CURRENT_STATUSES
        ).values_list("lead_id", flat=True)
    )
    return mine | assigned


def account_detail(
    *, user: User, account_id: int, weeks: int, now: datetime | None = None
) -> AccountDetail:
    """Everything the account page shows. Raises Account.DoesNotExist (missing or closed)."""
    now = now or timezone.now()
    account = account_for_user(user=user, account_id=account_id)
    rollup = account_rollups(account_ids=[account.pk], as_of=now)[account.pk]

    active_since = now - ACTIVE_WINDOW
    stakeholders = list(
        Stakeholder.objects.filter(account_id=account.pk)
        .select_related("lead")
        .annotate(
            touches_30d=Count(
                "lead__touchpoints",
                filter=Q(
                    lead__touchpoints__occurred_at__gte=active_since,
                    lead__touchpoints__occurred_at__lte=now,
                ),
            )
        )
        .order_by("name", "pk")
    )
    leads = list(
        Lead.objects.filter(account_id=account.pk)
        .select_related("owner")
        .annotate(
            current=FilteredRelation(
                "qualifications", condition=Q(qualifications__is_current=True)
            ),
            current_tier=F("current__tier"),
            current_probability=F("current__conversion_probability"),
            current_points=F("current__point_score"),
        )
        .order_by(F("current_probability").desc(nulls_last=True), "name", "pk")[
            :ACCOUNT_LEADS_LIMIT
        ]
    )
    owners = {lead.pk: lead.owner_id for lead in leads}
    owners.update({s.lead.pk: s.lead.owner_id for s in stakeholders if s.lead is not None})
    visible = _visible_lead_ids(user, [*owners], owners) if owners else set()

    by_role: dict[str, list[MapPerson]] = defaultdict(list)
    unassigned: list[MapPerson] = []
    for s in stakeholders:
        person = MapPerson(
            stakeholder_id=s.pk,
            name=s.name
            or (s.lead.name if s.lead else "")
            or s.email
            or (s.lead.email if s.lead else ""),
            title=s.title or (s.lead.title if s.lead else ""),
            lead_id=s.lead_id,
            touchpoints_30d=getattr(s, "touches_30d", 0),
            role_inferred=s.role_inferred,
            can_open=s.lead_id in visible,
        )
        if s.committee_role in COMMITTEE_ROLES:
            by_role[s.committee_role].append(person)
        else:
            unassigned.append(person)
    roles = [
        RoleSlot(
            role=role,
            label=ROLE_LABELS[role],
            people=sorted(by_role.get(role, []), key=lambda p: (-p.touchpoints_30d, p.name)),
        )
        for role in COMMITTEE_ROLES
    ]
    lead_rows = []
    for lead in leads:
        tier = getattr(lead, "current_tier", None) or ""
        owner = lead.owner
        lead_rows.append(
            AccountLeadRow(
                lead_id=lead.pk,
                name=lead.name or lead.email,
                title=lead.title,
                email=lead.email,
                tier=tier,
                tier_label=TIER_LABELS.get(tier, "Not qualified yet"),
                probability=getattr(lead, "current_probability", None),
                point_score=getattr(lead, "current_points", None),
                owner_name=(owner.get_full_name() or owner.get_username()) if owner else "",
                can_open=lead.pk in visible,
            )
        )
    lead_rows.sort(key=lambda r: (TIER_RANK.get(r.tier, 9), -(r.probability or 0.0), r.name))
    return AccountDetail(
        account=account,
        rollup=rollup,
        priority=account_priority(rollup),
        roles=roles,
        unassigned=unassigned,
        leads=lead_rows,
        engagement=account_engagement(account_id=account.pk, weeks=weeks, now=now),
    )
