"""Reads for the SDR pages: my queue, the lead brief and the account view.

Each read is a fixed number of queries whatever the number of leads, touchpoints or people
(tests count them). Access follows `scoring.selectors.lead_visible`: staff and superusers see
every lead; anyone else sees the leads they own, and the leads currently assigned to them
(routing sets the owner with the assignment, but an assignment made by hand may not).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import (
    Count,
    ExpressionWrapper,
    F,
    FilteredRelation,
    FloatField,
    Q,
    QuerySet,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from accounts.models import (
    Account,
    AccountEvent,
    IntentSignal,
    Lead,
    PageCategory,
    Touchpoint,
    TouchpointKind,
)
from dashboards.forms import SLA_DUE_SOON, SLA_OVERDUE, SORT_NEWEST, SORT_SLA
from dashboards.selectors.paths import lead_on_users_path
from routing.handoff import (
    ALERT_SLA,
    COMMITTEE_ROLES,
    ROLE_LABELS,
    SLA_SOON,
    HandoffPackage,
    UrgencyAlert,
)
from routing.handoff_service import handoff_for_lead, handoffs_for_leads
from routing.models import Assignment, AssignmentStatus, Queue, SalesRep
from routing.next_step import NextStep, next_step
from routing.selectors import CURRENT_STATUSES
from scoring.briefs import PAGE_LABELS, TIER_LABELS
from scoring.models import Feedback, Qualification, Tier
from scoring.selectors import (
    lead_current_qualification,
    lead_get_for_user,
    lead_qualification_history,
    lead_visible,
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


def sees_every_lead(user: User) -> bool:
    """Managers, RevOps (staff) and superusers: the same rule as `lead_visible`."""
    return bool(
        user.is_authenticated
        and (getattr(user, "is_superuser", False) or getattr(user, "is_staff", False))
    )


def user_pk(user: User) -> int:
    """The user's id; 0 (no one) for an anonymous user."""
    pk: int = user.pk or 0
    return pk


def _rep_of(user: User) -> SalesRep | None:
    if not user.is_authenticated:
        return None
    return SalesRep.objects.filter(user_id=user.pk).select_related("user").first()


def _rep_name(rep: SalesRep | None) -> str:
    if rep is None:
        return ""
    return rep.user.get_full_name() or rep.user.get_username()


# --- my queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    q: str = ""
    sla: str = ""
    account_id: int | None = None
    sort: str = ""
    rep_id: int | None = None
    page: int = 1


@dataclass(frozen=True)
class QueueRow:
    assignment_id: int
    lead_id: int
    lead_name: str
    lead_email: str
    lead_title: str
    account_id: int | None
    account_name: str
    tier: str
    tier_label: str
    probability: float | None
    expected_value: float | None
    deal_size_low: Decimal | None
    deal_size_high: Decimal | None
    point_score: int | None
    confidence: str
    assigned_at: datetime
    sla_due_at: datetime | None
    first_touch_at: datetime | None
    sla_state: str  # "overdue", "due_soon", "on_track", "touched" or "none"
    rep_name: str
    # From the handoff package the rep receives: this lead's next step, and its most urgent
    # alert other than the SLA (the row's SLA column already shows the deadline).
    next_step: NextStep | None = None
    alert: str = ""
    alert_severity: str = ""


@dataclass(frozen=True)
class QueueScope:
    """Whose queue is shown: one rep's, or every rep's (rep None, for managers)."""

    rep: SalesRep | None
    all_reps: bool
    # The user may pick a rep (a manager, RevOps or a superuser).
    can_choose_rep: bool
    # An SDR with no rep profile has no queue at all.
    has_queue: bool


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    overdue: int
    due_soon: int
    page: int
    pages: int
    page_size: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return (self.page - 1) * self.page_size + len(self.rows)


def queue_scope(*, user: User, rep_id: int | None) -> QueueScope:
    """Resolve whose queue to show. Raises SalesRep.DoesNotExist for an unknown `rep_id`
    asked for by someone who may choose (an SDR's `rep_id` is never looked at)."""
    if sees_every_lead(user):
        if rep_id is not None:
            rep = SalesRep.objects.select_related("user").get(pk=rep_id)
            return QueueScope(rep=rep, all_reps=False, can_choose_rep=True, has_queue=True)
        own = _rep_of(user)
        if own is not None:
            return QueueScope(rep=own, all_reps=False, can_choose_rep=True, has_queue=True)
        return QueueScope(rep=None, all_reps=True, can_choose_rep=True, has_queue=True)
    own = _rep_of(user)
    return QueueScope(rep=own, all_reps=False, can_choose_rep=False, has_queue=own is not None)


def queue_rep_choices() -> list[tuple[int, str]]:
    """Every active rep, for the manager's picker."""
    return [
        (rep.pk, _rep_name(rep))
        for rep in SalesRep.objects.filter(is_active=True)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username")
    ]


def _queue_base(scope: QueueScope) -> QuerySet[Assignment]:
    assignments = Assignment.objects.filter(status=AssignmentStatus.OPEN, queue=Queue.SALES)
    if scope.rep is not None:
        return assignments.filter(rep_id=scope.rep.pk)
    if scope.all_reps:
        return assignments.filter(rep__isnull=False)
    return assignments.none()


def queue_account_choices(*, scope: QueueScope) -> list[tuple[int, str]]:
    """The accounts of the leads in this queue, for the account filter (at most
    ACCOUNT_CHOICES_LIMIT, by name: every rep's queue together can span thousands)."""
    rows = (
        _queue_base(scope)
        .filter(lead__account__isnull=False)
        .order_by("lead__account__name", "lead__account_id")
        .values_list("lead__account_id", "lead__account__name")
        .distinct()[:ACCOUNT_CHOICES_LIMIT]
    )
    return [(int(account_id), name) for account_id, name in rows]


def _sla_state(a: Assignment, now: datetime) -> str:
    if a.first_touch_at is not None:
        return "touched"
    if a.sla_due_at is None:
        return "none"
    if a.sla_due_at < now:
        return "overdue"
    if a.sla_due_at < now + SLA_SOON:
        return "due_soon"
    return "on_track"


def queue_page(
    *, scope: QueueScope, filters: QueueFilters, now: datetime | None = None
) -> QueuePage:
    """One page of the queue, in three queries: the counts, the page, and nothing per row."""
    now = now or timezone.now()
    assignments = _queue_base(scope)
    if filters.q:
        term = filters.q
        assignments = assignments.filter(
            Q(lead__name__icontains=term)
            | Q(lead__email__icontains=term)
            | Q(lead__account__name__icontains=term)
        )
    if filters.account_id is not None:
        assignments = assignments.filter(lead__account_id=filters.account_id)
    untouched = Q(first_touch_at__isnull=True)
    overdue = untouched & Q(sla_due_at__lt=now)
    due_soon = untouched & Q(sla_due_at__gte=now, sla_due_at__lt=now + SLA_SOON)
    # The counts are of the whole filtered queue before the SLA filter, so the pills tell how
    # many are overdue even while another SLA filter is on.
    counts = assignments.aggregate(
        total=Count("pk"),
        overdue=Count("pk", filter=overdue),
        due_soon=Count("pk", filter=due_soon),
    )
    if filters.sla == SLA_OVERDUE:
        assignments = assignments.filter(overdue)
        total = counts["overdue"]
    elif filters.sla == SLA_DUE_SOON:
        assignments = assignments.filter(due_soon)
        total = counts["due_soon"]
    else:
        total = counts["total"]

    # The current qualification joins in as one row per lead (qualification_one_current).
    assignments = assignments.annotate(
        current=FilteredRelation(
            "lead__qualifications", condition=Q(lead__qualifications__is_current=True)
        ),
        probability=F("current__conversion_probability"),
        current_tier=F("current__tier"),
        current_points=F("current__point_score"),
        current_confidence=F("current__confidence"),
        deal_low=F("current__deal_size_low"),
        deal_high=F("current__deal_size_high"),
        # Priority: expected value (probability x deal size, fixed at assignment), then the
        # probability alone for leads without a deal size estimate.
        priority_value=Coalesce(
            ExpressionWrapper(F("expected_value"), output_field=FloatField()),
            0.0,
            output_field=FloatField(),
        ),
    ).select_related("lead__account", "rep__user")
    sla_order = [F("sla_due_at").asc(nulls_last=True)]
    value_order = [F("priority_value").desc(), F("probability").desc(nulls_last=True)]
    if filters.sort == SORT_SLA:
        order = [*sla_order, *value_order]
    elif filters.sort == SORT_NEWEST:
        order = [F("assigned_at").desc()]
    else:
        order = [*value_order, *sla_order]
    assignments = assignments.order_by(*order, "pk")

    pages = max((total + QUEUE_PAGE_SIZE - 1) // QUEUE_PAGE_SIZE, 1)
    page = min(max(filters.page, 1), pages)
    start = (page - 1) * QUEUE_PAGE_SIZE
    rows = []
    for a in assignments[start : start + QUEUE_PAGE_SIZE]:
        lead = a.lead
        tier = getattr(a, "current_tier", None) or a.tier
        rows.append(
            QueueRow(
                assignment_id=a.pk,
                lead_id=lead.pk,
                lead_name=lead.name or lead.email,
                lead_email=lead.email,
                lead_title=lead.title,
                account_id=lead.account_id,
                account_name=lead.account.name if lead.account else lead.email_domain,
                tier=tier,
                tier_label=TIER_LABELS.get(tier, tier),
                probability=getattr(a, "probability", None),
                expected_value=float(a.expected_value) if a.expected_value is not None else None,
                deal_size_low=getattr(a, "deal_low", None),
                deal_size_high=getattr(a, "deal_high", None),
                point_score=getattr(a, "current_points", None),
                confidence=getattr(a, "current_confidence", None) or "",
                assigned_at=a.assigned_at,
                sla_due_at=a.sla_due_at,
                first_touch_at=a.first_touch_at,
                sla_state=_sla_state(a, now),
                rep_name=_rep_name(a.rep),
            )
        )
    return QueuePage(
        rows=_with_handoff(rows, now=now),
        total=total,
        overdue=counts["overdue"],
        due_soon=counts["due_soon"],
        page=page,
        pages=pages,
        page_size=QUEUE_PAGE_SIZE,
    )


_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def _with_handoff(rows: list[QueueRow], *, now: datetime) -> list[QueueRow]:
    """Each row with its next step and most urgent alert from the handoff package: the queue
    shows what the rep received, read for the whole page at once (a fixed number of queries).
    """
    packages = handoffs_for_leads(lead_ids=[row.lead_id for row in rows], now=now)
    out = []
    for row in rows:
        package = packages.get(row.lead_id)
        if package is None:
            out.append(row)
            continue
        alerts = sorted(
            (a for a in package.alerts if a.kind != ALERT_SLA),
            key=lambda a: _SEVERITY_ORDER.get(str(a.severity), 3),
        )
        top = alerts[0] if alerts else None
        out.append(
            replace(
                row,
                next_step=next_step(package),
                alert=top.message if top else "",
                alert_severity=str(top.severity) if top else "",
            )
        )
    return out


# --- access ----------------------------------------------------------------------------------


def lead_for_user(*, user: User, lead_id: int) -> Lead:
    """`lead_get_for_user`, widened to the leads currently assigned to the user, and to those
    on an alternative path whose team the user is on.

    Raises Lead.DoesNotExist for a missing lead and for one the user may not see alike.
    """
    try:
        return lead_get_for_user(user=user, lead_id=lead_id)
    except Lead.DoesNotExist:
        if not user.is_authenticated or not (
            _assigned_to(user=user, lead_q=Q(lead_id=lead_id))
            or lead_on_users_path(user=user, lead_id=lead_id)
        ):
            raise
    return lead_get_for_user(user=None, lead_id=lead_id)


def _assigned_to(*, user: User, lead_q: Q) -> bool:
    return (
        Assignment.objects.filter(lead_q, rep__user_id=user_pk(user), status__in=CURRENT_STATUSES)
        .order_by()
        .exists()
    )


def account_for_user(*, user: User, account_id: int) -> Account:
    """The account, if the user may see it: everyone who sees every lead, and anyone who owns
    (or is assigned) at least one of its leads. Raises Account.DoesNotExist otherwise."""
    account = Account.objects.select_related("owner").get(pk=account_id)
    if sees_every_lead(user):
        return account
    if lead_visible(user=user).filter(account_id=account_id).order_by().exists():
        return account
    if user.is_authenticated and _assigned_to(user=user, lead_q=Q(lead__account_id=account_id)):
        return account
    raise Account.DoesNotExist(f"Account {account_id} does not exist.")


# --- behaviour over time -------------------------------------------------------------------

STAGE_LABELS: dict[str, str] = {
    "learning": "Learning (blog, education)",
    "consideration": "Consideration (product, case studies, webinars)",
    "evaluation": "Evaluation (pricing, ROI, implementation)",
    "conversation": "Conversations (forms, chat, replies, meetings)",
    "email": "Email opens and clicks",
}
_EVALUATION = {
    PageCategory.PRICING,
    PageCategory.ROI_CALCULATOR,
    PageCategory.IMPLEMENTATION,
    PageCategory.INTEGRATION_DOCS,
    PageCategory.SECURITY,
    PageCategory.COMPARISON,
    PageCategory.DEMO,
}
_CONSIDERATION = {
    PageCategory.CASE_STUDY,
    PageCategory.PRODUCT,
    PageCategory.WEBINAR,
    PageCategory.WHITEPAPER,
}
_CONVERSATION_KINDS = {
    TouchpointKind.FORM_SUBMIT,
    TouchpointKind.CHAT_MESSAGE,
    TouchpointKind.MEETING,
    TouchpointKind.SALES_REPLY,
    TouchpointKind.EMAIL_REPLY,
}


def journey_stage(kind: str, page_category: str) -> str:
    """Which stage of a buying journey one touchpoint belongs to."""
    if kind in _CONVERSATION_KINDS:
        return "conversation"
    if kind in (TouchpointKind.EMAIL_OPEN, TouchpointKind.EMAIL_CLICK):
        return "email"
    if kind == TouchpointKind.WEBINAR:
        return "consideration"
    if page_category in _EVALUATION:
        return "evaluation"
    if page_category in _CONSIDERATION:
        return "consideration"
    return "learning"


@dataclass(frozen=True)
class WeekRow:
    week: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Timeline:
    weeks: list[date]
    series: dict[str, list[int]]
    rows: list[WeekRow]
    total: int
    span_weeks: int

    @property
    def labels(self) -> dict[str, str]:
        return STAGE_LABELS


def _week_start(moment: datetime) -> date:
    local = timezone.localtime(moment).date()
    return local - timedelta(days=local.weekday())


def week_starts(now: datetime, span: int) -> list[date]:
    last = _week_start(now)
    return [last - timedelta(weeks=span - 1 - i) for i in range(span)]


def lead_timeline(*, lead_id: int, weeks: int, now: datetime) -> Timeline:
    """The lead's touchpoints per week and journey stage, over the last `weeks` weeks."""
    week_list = week_starts(now, weeks)
    since = datetime.combine(
        week_list[0], datetime.min.time(), tzinfo=timezone.get_current_timezone()
    )
    grouped = (
        Touchpoint.objects.filter(lead_id=lead_id, occurred_at__gte=since, occurred_at__lte=now)
        .annotate(week=TruncWeek("occurred_at"))
        .order_by()
        .values_list("week", "kind", "page_category")
        .annotate(n=Count("pk"))
    )
    by_week: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for week, kind, category, n in grouped:
        day = week.date() if isinstance(week, datetime) else week
        by_week[day][journey_stage(kind, category)] += n
    stages = list(STAGE_LABELS)
    series = {stage: [by_week.get(w, {}).get(stage, 0) for w in week_list] for stage in stages}
    # Stages with no touchpoint in the window add only noise to the legend and the table.
    series = {stage: counts for stage, counts in series.items() if any(counts)}
    rows = [
        WeekRow(week=w, counts={s: by_week.get(w, {}).get(s, 0) for s in series}) for w in week_list
    ]
    return Timeline(
        weeks=week_list,
        series=series,
        rows=rows,
        total=sum(r.total for r in rows),
        span_weeks=weeks,
    )


# --- the lead brief ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FitGroup:
    key: str
    label: str
    score: int | None
    factors: list[dict[str, Any]]


@dataclass(frozen=True)
class ContentRow:
    category: str
    label: str
    visits: int
    minutes: float


@dataclass(frozen=True)
class PointsBeside:
    """The traditional point score beside the AI decision."""

    score: int
    threshold: int | None
    would_route: bool | None
    ai_routes: bool
    # None when the threshold is unknown; else whether points and AI make the same call.
    agree: bool | None


@dataclass(frozen=True)
class LeadBrief:
    lead: Lead
    qualification: Qualification | None
    brief: dict[str, Any]
    tier: str
    tier_label: str
    confidence: str
    confidence_label: str
    probability: float | None
    timeline_days: tuple[int, int] | None
    deal_size: tuple[int, int] | None
    fit: list[FitGroup]
    content: list[ContentRow]
    behaviour: list[str]
    intent: dict[str, list[str]]
    rule_hits: list[dict[str, Any]]
    factors_positive: list[dict[str, Any]]
    factors_negative: list[dict[str, Any]]
    points: PointsBeside | None
    move_up: list[str]
    talking_points: list[str]
    recommended_action: str
    handoff: HandoffPackage
    intent_signals: list[IntentSignal]
    account_events: list[AccountEvent]
    recent_touchpoints: list[Touchpoint]
    history: list[Qualification]
    feedback: list[Feedback]
    salesforce_url: str
    # What carries a Sales Ready lead with no touch this week ("" otherwise).
    ready_basis: str = ""
    generated_at: datetime = field(default_factory=timezone.now)

    @property
    def is_assigned(self) -> bool:
        return self.handoff.assignment is not None

    @property
    def next_step(self) -> NextStep:
        return next_step(self.handoff)

    @property
    def sla_alert(self) -> UrgencyAlert | None:
        return next((a for a in self.handoff.alerts if a.kind == ALERT_SLA), None)

    @property
    def alerts(self) -> list[UrgencyAlert]:
        """The time-sensitive alerts but the SLA's: the next step shows the deadline, once."""
        return [alert for alert in self.handoff.alerts if alert.kind != ALERT_SLA]

    @property
    def committee_roles(self) -> list[tuple[str, str]]:
        """Each committee role with its state at the account: engaged, quiet or missing."""
        stakeholders = self.handoff.stakeholders
        return [
            (
                ROLE_LABELS[role],
                "engaged"
                if role in stakeholders.engaged
                else "quiet"
                if role in stakeholders.covered
                else "missing",
            )
            for role in COMMITTEE_ROLES
        ]

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.handoff.approach.channel, "")


CHANNEL_LABELS = {
    "phone": "call",
    "email": "email",
    "email_then_phone": "email, then call",
    "review": "human review first",
    "nurture": "marketing nurture",
}

FIT_LABELS = {"company": "Company fit", "role": "Role fit", "technology": "Technology fit",
              "timing": "Timing fit"}  # fmt: skip


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _pair(value: Any) -> tuple[int, int] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = value
        if isinstance(low, int | float) and isinstance(high, int | float):
            return (round(low), round(high))
    return None


def _fit_groups(brief: dict[str, Any], qualification: Qualification | None) -> list[FitGroup]:
    fit = _mapping(brief.get("fit"))
    groups = []
    for key, label in FIT_LABELS.items():
        part = _mapping(fit.get(key))
        score = part.get("score")
        if not isinstance(score, int) and qualification is not None:
            score = getattr(qualification, f"fit_{key}")
        groups.append(
            FitGroup(
                key=key,
                label=label,
                score=score if isinstance(score, int) else None,
                factors=[f for f in _list(part.get("factors")) if isinstance(f, dict)],
            )
        )
    return groups


def salesforce_record_url(salesforce_id: str | None) -> str:
    """The record's page in Salesforce (or the loopback server); "" without a base URL."""
    if not salesforce_id:
        return ""
    base = getattr(settings, "SALESFORCE_INSTANCE_URL", "") or getattr(
        settings, "SALESFORCE_LOOPBACK_URL", ""
    )
    if not base:
        return ""
    return f"{base.rstrip('/')}/lightning/r/Lead/{salesforce_id}/view"


def _points(
    brief: dict[str, Any], tier: str, qualification: Qualification | None
) -> PointsBeside | None:
    if qualification is None:
        return None
    points = _mapping(brief.get("point_score"))
    score = points.get("score")
    if not isinstance(score, int):
        score = qualification.point_score
    threshold = points.get("threshold")
    threshold = threshold if isinstance(threshold, int) else None
    would_route = points.get("would_route")
    if not isinstance(would_route, bool):
        would_route = score >= threshold if threshold is not None else None
    ai_routes = tier == Tier.SALES_READY
    return PointsBeside(
        score=score,
        threshold=threshold,
        would_route=would_route,
        ai_routes=ai_routes,
        agree=None if would_route is None else would_route == ai_routes,
    )


def lead_brief(*, user: User, lead_id: int, now: datetime | None = None) -> LeadBrief:
    """Everything the brief page shows. Raises Lead.DoesNotExist (missing or not visible)."""
    now = now or timezone.now()
    lead = lead_for_user(user=user, lead_id=lead_id)
    qualification = lead_current_qualification(lead)
    brief = _mapping(qualification.brief) if qualification is not None else {}
    tier = qualification.tier if qualification is not None else ""
    predictive = _mapping(brief.get("predictive"))
    probability = predictive.get("conversion_probability")
    if not isinstance(probability, int | float) and qualification is not None:
        probability = qualification.conversion_probability
    factors = _mapping(brief.get("factors"))
    handoff = handoff_for_lead(lead_id=lead.pk, now=now)
    intent_signals: list[IntentSignal] = []
    account_events: list[AccountEvent] = []
    if lead.account_id is not None:
        intent_signals = list(
            IntentSignal.objects.filter(
                account_id=lead.account_id, observed_at__gte=now - INTENT_WINDOW
            ).order_by("-observed_at", "-pk")[:INTENT_LIMIT]
        )
        account_events = list(
            AccountEvent.objects.filter(
                account_id=lead.account_id, occurred_at__gte=now - EVENT_WINDOW
            ).order_by("-occurred_at", "-pk")[:EVENT_LIMIT]
        )
    confidence = qualification.confidence if qualification is not None else ""
    return LeadBrief(
        lead=lead,
        qualification=qualification,
        brief=brief,
        tier=tier,
        tier_label=TIER_LABELS.get(tier, "Not qualified yet"),
        confidence=confidence,
        confidence_label=(
            qualification.get_confidence_display() if qualification is not None else ""
        ),
        probability=float(probability) if isinstance(probability, int | float) else None,
        timeline_days=_pair(predictive.get("timeline_days"))
        or _pair(
            [qualification.timeline_days_low, qualification.timeline_days_high]
            if qualification
            else None
        ),
        deal_size=_pair(predictive.get("deal_size"))
        or _pair(
            [
                float(qualification.deal_size_low) if qualification.deal_size_low else None,
                float(qualification.deal_size_high) if qualification.deal_size_high else None,
            ]
            if qualification
            else None
        ),
        fit=_fit_groups(brief, qualification),
        content=[
            ContentRow(
                category=str(item.get("category", "")),
                label=PAGE_LABELS.get(str(item.get("category", "")), str(item.get("category"))),
                visits=int(item.get("visits") or 0),
                minutes=float(item.get("minutes") or 0.0),
            )
            for item in _list(brief.get("content"))
            if isinstance(item, dict)
        ],
        behaviour=[str(line) for line in _list(brief.get("behaviour"))],
        intent={
            side: [str(line) for line in _list(_mapping(brief.get("intent")).get(side))]
            for side in ("first_party", "third_party", "timing")
        },
        rule_hits=[hit for hit in _list(brief.get("rule_hits")) if isinstance(hit, dict)],
        factors_positive=[f for f in _list(factors.get("positive")) if isinstance(f, dict)],
        factors_negative=[f for f in _list(factors.get("negative")) if isinstance(f, dict)],
        points=_points(brief, tier, qualification),
        move_up=[str(line) for line in _list(brief.get("move_up"))],
        talking_points=list(handoff.talking_points),
        recommended_action=(
            str(brief.get("recommended_action") or "")
            or (qualification.recommended_action if qualification else "")
        ),
        handoff=handoff,
        intent_signals=intent_signals,
        account_events=account_events,
        recent_touchpoints=list(
            Touchpoint.objects.filter(lead_id=lead.pk, occurred_at__lte=now).order_by(
                "-occurred_at", "-pk"
            )[:RECENT_TOUCHPOINTS]
        ),
        history=lead_qualification_history(lead=lead, limit=HISTORY_LIMIT).items,
        feedback=lead_feedback_recent(lead_id=lead.pk),
        salesforce_url=salesforce_record_url(lead.salesforce_id),
        ready_basis=str(brief.get("ready_basis") or ""),
        generated_at=now,
    )


def lead_feedback_recent(*, lead_id: int) -> list[Feedback]:
    return list(
        Feedback.objects.filter(lead_id=lead_id)
        .select_related("user")
        .order_by("-created_at", "-pk")[:FEEDBACK_LIMIT]
    )
