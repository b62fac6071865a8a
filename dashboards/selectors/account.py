"""The account view: the account's stored qualification (score, priority, parts and the
earlier priorities), its stakeholder map, combined engagement over time and its leads, for a
user allowed to see the account (`account_for_user` in `sdr`).

The qualification is read, never computed here: `scoring.account_services` stores it when
account evidence arrives, in the nightly run and from `manage.py qualify_accounts`."""

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
    Department,
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
from scoring import account_selectors
from scoring.account_scoring import PRIORITY_ACTIONS, PRIORITY_LABELS
from scoring.briefs import TIER_LABELS
from scoring.models import AccountQualification, AccountScoringSettings
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
# Earlier priorities shown under the current one.
PRIORITY_HISTORY_LIMIT = 5


# --- the account view ----------------------------------------------------------------------


@dataclass(frozen=True)
class QualificationPart:
    part: str
    label: str
    points: int
    maximum: int
    detail: str


@dataclass(frozen=True)
class RoleRef:
    role: str
    label: str


@dataclass(frozen=True)
class StoredQualification:
    """The account's current stored qualification (scoring.account_services wrote it), as the
    page shows it: nothing here is computed at render time."""

    qualification_id: int
    score: int
    level: str  # "high", "medium" or "low"
    label: str
    action: str
    parts: list[QualificationPart]
    roles_engaged: list[RoleRef]
    roles_quiet: list[RoleRef]
    roles_missing: list[RoleRef]
    departments: list[str]
    play: list[str]
    computed_at: datetime
    reason: str
    reason_detail: str


@dataclass(frozen=True)
class PriorityChange:
    """One earlier stored qualification: the priority and score it gave, when and why."""

    score: int
    level: str
    label: str
    computed_at: datetime
    reason: str
    reason_detail: str


@dataclass(frozen=True)
class PriorityThresholds:
    high: int
    medium: int


def _roles(codes: list[str] | None) -> list[RoleRef]:
    return [RoleRef(role=code, label=ROLE_LABELS.get(code, code)) for code in codes or []]


def stored_qualification(row: AccountQualification) -> StoredQualification:
    """The page's view of one stored AccountQualification (its parts as stored, in order)."""
    parts = [
        QualificationPart(
            part=str(p.get("part", "")),
            label=str(p.get("label", "")),
            points=int(p.get("points", 0)),
            maximum=int(p.get("max", 0)),
            detail=str(p.get("detail", "")),
        )
        for p in row.parts or []
    ]
    departments = dict(Department.choices)
    return StoredQualification(
        qualification_id=row.pk,
        score=row.score,
        level=row.priority,
        label=PRIORITY_LABELS.get(row.priority, row.priority),
        action=PRIORITY_ACTIONS.get(row.priority, ""),
        parts=parts,
        roles_engaged=_roles(row.roles_engaged),
        roles_quiet=_roles(row.roles_quiet),
        roles_missing=_roles(row.roles_missing),
        departments=[str(departments.get(d, d)) for d in row.departments or []],
        play=[str(step) for step in row.play or []],
        computed_at=row.computed_at,
        reason=row.get_reason_display(),
        reason_detail=row.reason_detail,
    )


def priority_change(row: AccountQualification) -> PriorityChange:
    return PriorityChange(
        score=row.score,
        level=row.priority,
        label=PRIORITY_LABELS.get(row.priority, row.priority),
        computed_at=row.computed_at,
        reason=row.get_reason_display(),
        reason_detail=row.reason_detail,
    )


def account_qualification_for_page(
    *, account_id: int, history: int = PRIORITY_HISTORY_LIMIT
) -> tuple[StoredQualification | None, list[PriorityChange]]:
    """The current stored qualification (None: never scored) and up to `history` earlier
    ones, newest first (two queries)."""
    current = account_selectors.account_qualifications_current(account_ids=[account_id]).get(
        account_id
    )
    earlier = [
        row
        for row in account_selectors.account_qualification_history(
            account_id=account_id, limit=history + 1
        )
        if not row.is_current
    ][:history]
    return (
        stored_qualification(current) if current is not None else None,
        [priority_change(row) for row in earlier],
    )


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
    # The stored current account qualification; None until the account is first scored.
    qualification: StoredQualification | None
    history: list[PriorityChange]
    thresholds: PriorityThresholds
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
    qualification, history = account_qualification_for_page(account_id=account.pk)
    thresholds = AccountScoringSettings.load()

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
        qualification=qualification,
        history=history,
        thresholds=PriorityThresholds(
            high=thresholds.high_threshold, medium=thresholds.medium_threshold
        ),
        roles=roles,
        unassigned=unassigned,
        leads=lead_rows,
        engagement=account_engagement(account_id=account.pk, weeks=weeks, now=now),
    )
