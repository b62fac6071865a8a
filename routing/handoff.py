"""The handoff package a rep receives with a routed lead. Pure: plain inputs, no ORM.

The seed's handoff components, made concrete: the qualification summary with its key signals
(the "why"), a recommended engagement approach (the brief's action plus channel and timing),
talking points from the content consumed, a stakeholder map, and time-sensitive alerts. The
SDR queue renders the dataclasses; the Salesforce push writes `to_text` into a long text field
and `to_summary` into a short one. `handoff_for_lead` in `routing/handoff_service.py` reads the
inputs from the database.

Everything here is deterministic for the same inputs and `now`: relative times ("3 h ago") are
computed once, at build time, and the package keeps `generated_at` beside them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from scoring.briefs import PAGE_LABELS, TIER_LABELS

# The values of scoring.models.Tier / Confidence and accounts.models.CommitteeRole,
# AccountEventKind and FormType: a pure module imports no models (tests check they agree).
SALES_READY = "sales_ready"
NURTURE = "nurture"
DISQUALIFY = "disqualify"

CONFIDENCE_LABELS = {
    "high": "High",
    "medium": "Medium",
    "low": "Low",
    "not_enough_data": "Not enough data yet",
}

ECONOMIC_BUYER = "economic_buyer"
CHAMPION = "champion"
TECHNICAL_EVALUATOR = "technical_evaluator"
USER = "user"
BLOCKER = "blocker"
# The committee roles a map checks, in the order a rep reads them.
COMMITTEE_ROLES = (ECONOMIC_BUYER, CHAMPION, TECHNICAL_EVALUATOR, USER, BLOCKER)
ROLE_LABELS = {
    ECONOMIC_BUYER: "Economic buyer",
    CHAMPION: "Champion",
    TECHNICAL_EVALUATOR: "Technical evaluator",
    USER: "User",
    BLOCKER: "Blocker",
    "": "Unknown",
}

EVENT_LEADERSHIP_CHANGE = "leadership_change"
EVENT_FUNDING = "funding"
EVENT_INITIATIVE = "initiative"
FORM_DEMO_REQUEST = "demo_request"
FORM_CONTACT_SALES = "contact_sales"
REQUEST_FORMS = (FORM_DEMO_REQUEST, FORM_CONTACT_SALES)

# Windows and thresholds of the alerts.
CALL_NOW_WITHIN = timedelta(hours=24)
CALL_TODAY_WITHIN = timedelta(hours=48)
INTENT_WINDOW = timedelta(days=30)
# surge_score is research volume against the account's baseline: 2.0 is a 200% surge.
INTENT_SURGE_MIN = 2.0
EVENT_WINDOW = timedelta(days=90)
ENGAGEMENT_WINDOW_DAYS = 30
SLA_SOON = timedelta(hours=1)
# An activity surge: at least this many touchpoints in 7 days, and at least twice the weekly
# rate of the 30 days before.
SURGE_MIN_TOUCHES = 3
SURGE_RATIO = 2.0

SUMMARY_MAX = 5
TALKING_POINTS_MAX = 6
CONTENT_MAX = 5
PEOPLE_MAX = 15
# Salesforce's long text area holds 32,768 characters; leave room for a field's own prefix.
TEXT_LIMIT = 32_000
SUMMARY_LIMIT = 255

Severity = Literal["high", "medium"]
HIGH: Severity = "high"
MEDIUM: Severity = "medium"

ALERT_DEMO_REQUEST = "demo_request"
ALERT_CONTACT_SALES = "contact_sales"
ALERT_COLLEAGUE_REQUEST = "colleague_request"
ALERT_SLA = "sla"
ALERT_INTENT_SURGE = "intent_surge"
ALERT_LEADERSHIP_CHANGE = "leadership_change"
ALERT_FUNDING = "funding"
ALERT_ACTIVITY_SURGE = "activity_surge"
# Within a severity, alerts are read in this order.
ALERT_ORDER = (
    ALERT_SLA,
    ALERT_DEMO_REQUEST,
    ALERT_CONTACT_SALES,
    ALERT_COLLEAGUE_REQUEST,
    ALERT_ACTIVITY_SURGE,
    ALERT_INTENT_SURGE,
    ALERT_LEADERSHIP_CHANGE,
    ALERT_FUNDING,
)

CHANNEL_PHONE = "phone"
CHANNEL_EMAIL = "email"
CHANNEL_EMAIL_THEN_PHONE = "email_then_phone"
CHANNEL_REVIEW = "review"
CHANNEL_NURTURE = "nurture"
CHANNEL_NONE = "none"


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeadCard:
    """Who the lead is. `company` is the account's name, or the email domain without one."""

    lead_id: int
    name: str
    title: str
    email: str
    company: str
    account_id: int | None = None
    employees: int | None = None
    industry: str = ""
    region: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class Activity:
    """One person's touchpoints around `now` (counted by the caller in one aggregate query)."""

    touchpoints_7d: int = 0
    touchpoints_30d: int = 0
    # The 30 days before the last 7: the baseline an activity surge is measured against.
    touchpoints_prev_30d: int = 0
    last_seen_at: datetime | None = None
    # The latest demo-request or contact-sales form, and which of the two it was.
    last_request_at: datetime | None = None
    last_request_form: str = ""


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """A person at the account: a stakeholder (with a committee role) or another active lead."""

    name: str
    title: str = ""
    email: str = ""
    committee_role: str = ""
    role_inferred: bool = True
    lead_id: int | None = None
    activity: Activity = field(default_factory=Activity)


@dataclass(frozen=True, slots=True)
class EventFacts:
    kind: str
    title: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class IntentFacts:
    topic: str
    surge_score: float
    observed_at: datetime
    source: str = ""


@dataclass(frozen=True, slots=True)
class AssignmentInfo:
    """The lead's current assignment: where it went, why, and its SLA clock."""

    assignment_id: int
    queue: str
    queue_label: str
    reason: str
    assigned_at: datetime
    status: str = "open"
    rep_name: str = ""
    sla_due_at: datetime | None = None
    first_touch_at: datetime | None = None
    sla_breaches: int = 0
    expected_value: float | None = None


# --- the package -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Score:
    """The AI decision, with the traditional point score beside it."""

    tier: str
    status: str
    probability: float | None
    confidence: str
    confidence_label: str
    confidence_note: str = ""
    needs_review: bool = False
    deal_size: tuple[int, int] | None = None
    timeline_days: tuple[int, int] | None = None
    fit: tuple[tuple[str, int], ...] = ()
    point_score: int | None = None
    point_threshold: int | None = None
    point_would_route: bool | None = None

    @property
    def points_agree(self) -> bool | None:
        """Whether the point score would have made the same routing call as the AI."""
        if self.point_would_route is None or not self.tier:
            return None
        return self.point_would_route == (self.tier == SALES_READY)


@dataclass(frozen=True, slots=True)
class Approach:
    """How and when to engage: the brief's action, plus channel and timing from the signals."""

    action: str
    channel: str
    timing: str
    steps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContentItem:
    category: str
    label: str
    visits: int
    minutes: float


@dataclass(frozen=True, slots=True)
class CommitteeMember:
    name: str
    title: str
    email: str
    committee_role: str
    role_label: str
    role_inferred: bool
    lead_id: int | None
    is_this_lead: bool
    touchpoints_30d: int
    last_seen_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.touchpoints_30d > 0


@dataclass(frozen=True, slots=True)
class StakeholderMap:
    """The people at the account, the lead first, and which committee roles are filled.

    `covered` holds the roles someone has; `engaged` the covered roles whose holder was active
    in the last 30 days; `missing` the roles no one has. `hidden` counts people beyond the
    shown `people`.
    """

    people: tuple[CommitteeMember, ...]
    covered: tuple[str, ...]
    engaged: tuple[str, ...]
    missing: tuple[str, ...]
    single_contact: bool
    others_active_30d: int
    hidden: int = 0
    note: str = ""


@dataclass(frozen=True, slots=True)
class UrgencyAlert:
    kind: str
    severity: Severity
    message: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RuleHit:
    reason_code: str
    category: str
    rule: str
    action: str
    needs_review: bool
    evidence: str


@dataclass(frozen=True, slots=True)
class HandoffPackage:
    lead: LeadCard
    score: Score
    summary: tuple[str, ...]
    approach: Approach
    talking_points: tuple[str, ...]
    content: tuple[ContentItem, ...]
    stakeholders: StakeholderMap
    alerts: tuple[UrgencyAlert, ...]
    assignment: AssignmentInfo | None
    rule_hits: tuple[RuleHit, ...]
    generated_at: datetime

    @property
    def reason(self) -> str:
        """Why the lead went where it did (the assignment's reason), or ""."""
        return self.assignment.reason if self.assignment else ""

    @property
    def sla_due_at(self) -> datetime | None:
        return self.assignment.sla_due_at if self.assignment else None

    @property
    def is_urgent(self) -> bool:
        return any(alert.severity == HIGH for alert in self.alerts)


# --- small helpers ---------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(str(item) for item in value if isinstance(item, str) and item.strip())


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return round(value)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _pair(value: Any) -> tuple[int, int] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = _int(value[0]), _int(value[1])
        if low is not None and high is not None:
            return (low, high)
    return None


def _ago(delta: timedelta) -> str:
    seconds = max(delta.total_seconds(), 0.0)
    if seconds < 3600:
        return f"{max(round(seconds / 60), 1)} min ago"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h ago"
    days = round(seconds / 86400)
    if days >= 21:
        return f"{round(days / 7)} weeks ago"
    return f"{days} days ago"


def _until(delta: timedelta) -> str:
    minutes = max(round(delta.total_seconds() / 60), 0)
    if minutes < 120:
        return f"in {minutes} min"
    return f"in {minutes / 60:.1f} h"


def when(moment: datetime | None) -> str:
    """A fixed, readable timestamp in the datetime's own zone ("2025-06-02 14:30 UTC")."""
    if moment is None:
        return "never"
    zone = moment.strftime("%Z") or moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {zone}".rstrip()


def _money(value: float) -> str:
    return f"${value:,.0f}"


# --- summary: the "why" ----------------------------------------------------------------------

# One key signal per topic: the model's factor sentence and the brief's behaviour or intent
# line often say the same thing in two words ("Activity surge: 12 touchpoints ..." and
# "Activity: 12 touchpoints ..."); the first of a topic wins.
_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (topic, re.compile(pattern, re.IGNORECASE))
    for topic, pattern in (
        ("request", r"demo or contact-sales|sales-intent form"),
        ("activity", r"touchpoints in (the )?past 7 days|concentrated activity"),
        ("intent", r"surge in category research"),
        ("leadership", r"new leader"),
        ("initiative", r"initiative"),
        ("funding", r"funding round"),
        ("jobs", r"job postings"),
        ("committee", r"multi-stakeholder|other stakeholders|other people from the company"),
        ("progression", r"educational to evaluation|followed only by general content"),
        ("pricing_bounce", r"under 10 seconds"),
        ("pricing_after", r"after viewing implementation"),
        ("case_studies", r"case stud"),
        ("span", r"activity spread over|all activity within"),
        ("top_funnel", r"top-funnel|blog and educational"),
        ("recency", r"last activity|active in the last few days|no recorded activity"),
        ("replies", r"replied to"),
    )
)
# Lines that argue against a lead: left out of a Sales Ready lead's "why".
_NEGATIVE = re.compile(
    r"^(no |only a newsletter|newsletter signup only|company shows no|pricing visits lasted"
    r"|mostly brief|evaluation visits came early|activity spread over|last activity)"
    r"|long-term researchers|\(learning, not evaluating\)",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^(first-party|third-party|timing):\s*", re.IGNORECASE)


def _topic(line: str) -> str:
    text = _PREFIX.sub("", line)
    for topic, pattern in _TOPICS:
        if pattern.search(text):
            return topic
    return text.strip().lower().rstrip(".")


def _factor_sentences(brief: Mapping[str, Any], side: str) -> list[str]:
    items = _mapping(brief.get("factors")).get(side, [])
    if not isinstance(items, list):
        return []
    return [
        str(item["sentence"])
        for item in items
        if isinstance(item, Mapping) and isinstance(item.get("sentence"), str)
    ]


def summarise(brief: Mapping[str, Any], rule_hits: Sequence[RuleHit]) -> tuple[str, ...]:
    """3 to 5 key signals, the decision's evidence first.

    Sales Ready: the model's top positive factors, then first-party intent, third-party
    intent, timing and the behaviour lines, leaving out lines that argue against the lead.
    Other tiers: a rule's evidence, then the negative factors, then the rest.
    """
    intent = _mapping(brief.get("intent"))
    intent_lines = [
        *_strings(intent.get("first_party")),
        *_strings(intent.get("third_party")),
        *_strings(intent.get("timing")),
    ]
    behaviour = list(_strings(brief.get("behaviour")))
    sales_ready = brief.get("tier") == SALES_READY
    candidates: list[str] = [f"Rule: {hit.evidence}" for hit in rule_hits if hit.evidence]
    if sales_ready:
        candidates += _factor_sentences(brief, "positive") + intent_lines + behaviour
    else:
        candidates += (
            _factor_sentences(brief, "negative")
            + behaviour
            + intent_lines
            + _factor_sentences(brief, "positive")
        )
    out: list[str] = []
    seen: set[str] = set()
    for line in candidates:
        if sales_ready and _NEGATIVE.search(line):
            continue
        topic = _topic(line)
        if topic in seen:
            continue
        seen.add(topic)
        out.append(line)
        if len(out) == SUMMARY_MAX:
            break
    return tuple(out)


# --- the score and the brief's parts ---------------------------------------------------------


def score_from_brief(brief: Mapping[str, Any]) -> Score:
    tier = str(brief.get("tier") or "")
    confidence = str(brief.get("confidence") or "")
    predictive = _mapping(brief.get("predictive"))
    points = _mapping(brief.get("point_score"))
    fit = brief.get("fit")
    fit_scores: list[tuple[str, int]] = []
    if isinstance(fit, Mapping):
        for group in ("company", "role", "technology", "timing"):
            part = fit.get(group)
            value = _int(part.get("score")) if isinstance(part, Mapping) else None
            if value is not None:
                fit_scores.append((group, value))
    would_route = points.get("would_route")
    probability = _float(predictive.get("conversion_probability"))
    return Score(
        tier=tier,
        status=str(brief.get("status") or TIER_LABELS.get(tier, "Not qualified yet")),
        probability=probability,
        confidence=confidence,
        confidence_label=CONFIDENCE_LABELS.get(confidence, confidence.replace("_", " ")),
        confidence_note=str(brief.get("confidence_note") or ""),
        needs_review=bool(brief.get("needs_review")),
        deal_size=_pair(predictive.get("deal_size")),
        timeline_days=_pair(predictive.get("timeline_days")),
        fit=tuple(fit_scores),
        point_score=_int(points.get("score")),
        point_threshold=_int(points.get("threshold")),
        point_would_route=would_route if isinstance(would_route, bool) else None,
    )


def rule_hits_from_brief(brief: Mapping[str, Any]) -> tuple[RuleHit, ...]:
    hits = brief.get("rule_hits")
    if not isinstance(hits, list):
        return ()
    return tuple(
        RuleHit(
            reason_code=str(hit.get("reason_code") or ""),
            category=str(hit.get("category") or ""),
            rule=str(hit.get("rule") or ""),
            action=str(hit.get("action") or ""),
            needs_review=bool(hit.get("needs_review")),
            evidence=str(hit.get("evidence") or ""),
        )
        for hit in hits
        if isinstance(hit, Mapping)
    )


def content_from_brief(brief: Mapping[str, Any]) -> tuple[ContentItem, ...]:
    content = brief.get("content")
    if not isinstance(content, list):
        return ()
    items = []
    for item in content:
        if not isinstance(item, Mapping) or not isinstance(item.get("category"), str):
            continue
        category = item["category"]
        items.append(
            ContentItem(
                category=category,
                label=PAGE_LABELS.get(category, category.replace("_", " ").capitalize()),
                visits=_int(item.get("visits")) or 0,
                minutes=_float(item.get("minutes")) or 0.0,
            )
        )
    return tuple(items[:CONTENT_MAX])


# --- stakeholder map -------------------------------------------------------------------------


def _role_rank(role: str) -> int:
    return COMMITTEE_ROLES.index(role) if role in COMMITTEE_ROLES else len(COMMITTEE_ROLES)


def stakeholder_map(lead: LeadCard, people: Sequence[PersonFacts]) -> StakeholderMap:
    """The lead first, then the committee by role, the most engaged first within a role."""
    unique: list[PersonFacts] = []
    seen_leads: set[int] = set()
    for person in people:
        if person.lead_id is not None:
            if person.lead_id in seen_leads:
                continue
            seen_leads.add(person.lead_id)
        unique.append(person)
    if lead.lead_id not in seen_leads:
        unique.append(PersonFacts(name=lead.name, title=lead.title, email=lead.email,
                                  lead_id=lead.lead_id))  # fmt: skip
    members = [
        CommitteeMember(
            name=person.name or person.email,
            title=person.title,
            email=person.email,
            committee_role=person.committee_role,
            role_label=ROLE_LABELS.get(person.committee_role, person.committee_role),
            role_inferred=person.role_inferred,
            lead_id=person.lead_id,
            is_this_lead=person.lead_id == lead.lead_id,
            touchpoints_30d=person.activity.touchpoints_30d,
            last_seen_at=person.activity.last_seen_at,
        )
        for person in unique
    ]
    members.sort(
        key=lambda m: (
            not m.is_this_lead,
            _role_rank(m.committee_role),
            -m.touchpoints_30d,
            (m.name or m.email).lower(),
            m.email,
        )
    )
    covered = {m.committee_role for m in members if m.committee_role in COMMITTEE_ROLES}
    engaged = {m.committee_role for m in members if m.committee_role in covered and m.is_active}
    others_active = sum(1 for m in members if m.is_active and not m.is_this_lead)
    single = lead.account_id is None or len(members) == 1
    note = ""
    if lead.account_id is None:
        note = "No account matched: a single contact, no buying committee to map yet."
    elif len(members) == 1:
        note = f"The only known contact at {lead.company}: ask who else is involved."
    return StakeholderMap(
        people=tuple(members[:PEOPLE_MAX]),
        covered=tuple(r for r in COMMITTEE_ROLES if r in covered),
        engaged=tuple(r for r in COMMITTEE_ROLES if r in engaged),
        missing=tuple(r for r in COMMITTEE_ROLES if r not in covered),
        single_contact=single,
        others_active_30d=others_active,
        hidden=max(len(members) - PEOPLE_MAX, 0),
        note=note,
    )


# --- urgency alerts --------------------------------------------------------------------------


def _request_verb(form: str) -> str:
    return "asked to talk to sales" if form == FORM_CONTACT_SALES else "requested a demo"


def _is_surge(activity: Activity) -> bool:
    baseline_per_week = activity.touchpoints_prev_30d * 7 / 30
    return (
        activity.touchpoints_7d >= SURGE_MIN_TOUCHES
        and activity.touchpoints_7d >= SURGE_RATIO * baseline_per_week
    )


def urgency_alerts(
    *,
    lead: LeadCard,
    activity: Activity,
    people: Sequence[PersonFacts],
    events: Sequence[EventFacts],
    intent: Sequence[IntentFacts],
    assignment: AssignmentInfo | None,
    now: datetime,
) -> tuple[UrgencyAlert, ...]:
    alerts: list[UrgencyAlert] = []
    requested = activity.last_request_at
    if requested is not None and timedelta(0) <= now - requested <= CALL_TODAY_WITHIN:
        fresh = now - requested <= CALL_NOW_WITHIN
        form = activity.last_request_form
        alerts.append(
            UrgencyAlert(
                kind=ALERT_CONTACT_SALES if form == FORM_CONTACT_SALES else ALERT_DEMO_REQUEST,
                severity=HIGH if fresh else MEDIUM,
                message=(
                    f"{lead.name or lead.email} {_request_verb(form)} {_ago(now - requested)}: "
                    + ("call within the hour." if fresh else "call today.")
                ),
                at=requested,
            )
        )
    for person in people:
        at = person.activity.last_request_at
        if person.lead_id == lead.lead_id or at is None:
            continue
        if timedelta(0) <= now - at <= CALL_TODAY_WITHIN:
            role = ROLE_LABELS.get(person.committee_role, "")
            who = person.name or person.email
            if person.committee_role:
                who += f" ({role.lower()})"
            alerts.append(
                UrgencyAlert(
                    kind=ALERT_COLLEAGUE_REQUEST,
                    severity=MEDIUM,
                    message=(
                        f"Colleague {who} {_request_verb(person.activity.last_request_form)} "
                        f"{_ago(now - at)}."
                    ),
                    at=at,
                )
            )
    if assignment and assignment.sla_due_at and assignment.first_touch_at is None:
        due = assignment.sla_due_at
        if due <= now:
            message = f"SLA breached: first touch was due {when(due)} ({_ago(now - due)})."
            severity: Severity = HIGH
        else:
            message = f"SLA: first touch due {when(due)} ({_until(due - now)})."
            severity = HIGH if due - now <= SLA_SOON else MEDIUM
        alerts.append(UrgencyAlert(kind=ALERT_SLA, severity=severity, message=message, at=due))
    if _is_surge(activity):
        alerts.append(
            UrgencyAlert(
                kind=ALERT_ACTIVITY_SURGE,
                severity=MEDIUM,
                message=(
                    f"Activity surge: {activity.touchpoints_7d} touchpoints this week "
                    f"(vs. {activity.touchpoints_prev_30d} in the 30 days before)."
                ),
                at=activity.last_seen_at,
            )
        )
    surges = [
        s
        for s in intent
        if s.surge_score >= INTENT_SURGE_MIN
        and timedelta(0) <= now - s.observed_at <= INTENT_WINDOW
    ]
    if surges:
        top = max(surges, key=lambda s: (s.surge_score, s.observed_at, s.topic))
        alerts.append(
            UrgencyAlert(
                kind=ALERT_INTENT_SURGE,
                severity=MEDIUM,
                message=(
                    f"Third-party intent: {top.surge_score * 100:.0f}% surge in research on "
                    f'"{top.topic}" ({_ago(now - top.observed_at)}).'
                ),
                at=top.observed_at,
            )
        )
    recent_events = sorted(
        (
            e
            for e in events
            if e.kind in (EVENT_LEADERSHIP_CHANGE, EVENT_FUNDING)
            and timedelta(0) <= now - e.occurred_at <= EVENT_WINDOW
        ),
        key=lambda e: (e.occurred_at, e.title),
        reverse=True,
    )
    for kind in (EVENT_LEADERSHIP_CHANGE, EVENT_FUNDING):
        event = next((e for e in recent_events if e.kind == kind), None)
        if event is None:
            continue
        label = "New leader" if kind == EVENT_LEADERSHIP_CHANGE else "Funding"
        alerts.append(
            UrgencyAlert(
                kind=ALERT_LEADERSHIP_CHANGE if kind == EVENT_LEADERSHIP_CHANGE else ALERT_FUNDING,
                severity=MEDIUM,
                message=f"{label} {_ago(now - event.occurred_at)}: {event.title}.",
                at=event.occurred_at,
            )
        )
    alerts.sort(
        key=lambda a: (
            a.severity != HIGH,
            ALERT_ORDER.index(a.kind),
            -(a.at.timestamp() if a.at else 0.0),
            a.message,
        )
    )
    return tuple(alerts)


# --- recommended approach --------------------------------------------------------------------


def _first_name(lead: LeadCard) -> str:
    return (lead.name.split() or [lead.email])[0]


def recommended_approach(
    *,
    brief: Mapping[str, Any],
    lead: LeadCard,
    activity: Activity,
    stakeholders: StakeholderMap,
    events: Sequence[EventFacts],
    now: datetime,
) -> Approach:
    """The brief's action, plus which channel and how soon, from the freshest signals."""
    tier = str(brief.get("tier") or "")
    action = str(brief.get("recommended_action") or "")
    first_party = _strings(_mapping(brief.get("intent")).get("first_party"))
    requested = activity.last_request_at
    age = now - requested if requested is not None else None
    verb = _request_verb(activity.last_request_form)
    steps: list[str] = []

    if brief.get("needs_review"):
        channel, timing = CHANNEL_REVIEW, "Review before any outreach."
    elif tier == SALES_READY:
        if age is not None and timedelta(0) <= age <= CALL_NOW_WITHIN:
            channel, timing = CHANNEL_PHONE, f"Call within the hour: they {verb} {_ago(age)}."
        elif age is not None and timedelta(0) <= age <= CALL_TODAY_WITHIN:
            channel, timing = CHANNEL_PHONE, f"Call today: they {verb} {_ago(age)}."
        elif "Chat: timeline or urgency language." in first_party or _is_surge(activity):
            channel, timing = CHANNEL_PHONE, "Call today, while they are active."
        elif "Replied to outreach." in first_party:
            channel, timing = (
                CHANNEL_EMAIL,
                "Reply in their email thread within 24 hours; propose a call.",
            )
        elif age is not None:
            channel, timing = CHANNEL_PHONE, f"Call within 24 hours: they {verb} {_ago(age)}."
        elif activity.touchpoints_7d == 0 and activity.last_seen_at is not None:
            # Ready on last month's evidence, quiet since: the first touch has to re-open it.
            channel, timing = (
                CHANNEL_EMAIL_THEN_PHONE,
                f"Within 24 hours: re-engage (no touch since {_ago(now - activity.last_seen_at)})"
                " with a personalised email on what they read, then a call.",
            )
        else:
            channel, timing = (
                CHANNEL_EMAIL_THEN_PHONE,
                "Within 24 hours: a personalised email on what they read, then a call.",
            )
    elif tier == NURTURE:
        channel, timing = CHANNEL_NURTURE, "No direct sales outreach now: marketing nurture."
        if age is not None and timedelta(0) <= age <= CALL_TODAY_WITHIN:
            steps.append(
                f"They {verb} {_ago(age)} although the lead is Nurture: check it today and "
                "re-qualify."
            )
    elif tier == DISQUALIFY:
        channel, timing = CHANNEL_NONE, "No sales outreach."
    else:
        channel, timing = CHANNEL_NONE, "Not qualified yet: wait for the assessment."

    if channel in (CHANNEL_PHONE, CHANNEL_EMAIL, CHANNEL_EMAIL_THEN_PHONE, CHANNEL_REVIEW):
        # The SLA deadline is not a step: the alert and the assignment already carry it, and
        # every place that shows the package shows it once.
        others = [m for m in stakeholders.people if m.is_active and not m.is_this_lead]
        if others:
            names = ", ".join(
                m.name + (f" ({m.role_label.lower()})" if m.committee_role else "")
                for m in others[:3]
            )
            more = len(others) - 3 if len(others) > 3 else 0
            steps.append(
                f"Multi-thread: {names}{f' and {more} more' if more else ''} also active "
                f"in the last {ENGAGEMENT_WINDOW_DAYS} days."
            )
        if stakeholders.single_contact:
            steps.append(
                f"Single contact: ask {_first_name(lead)} who else is involved in the decision."
            )
        else:
            if ECONOMIC_BUYER in stakeholders.missing:
                steps.append("Find the economic buyer: no one in that role is mapped yet.")
            if CHAMPION in stakeholders.missing:
                steps.append("No champion mapped: test whether the lead can carry the deal.")
        blockers = [m for m in stakeholders.people if m.committee_role == BLOCKER and m.is_active]
        if blockers:
            steps.append(f"{blockers[0].name} (blocker) is active: surface objections early.")
        trigger = max(
            (
                e
                for e in events
                if e.kind in (EVENT_LEADERSHIP_CHANGE, EVENT_FUNDING, EVENT_INITIATIVE)
                and timedelta(0) <= now - e.occurred_at <= EVENT_WINDOW
            ),
            key=lambda e: (e.occurred_at, e.title),
            default=None,
        )
        if trigger is not None:
            ago = _ago(now - trigger.occurred_at)
            steps.append(f"Open with the timing trigger: {trigger.title} ({ago}).")
    return Approach(action=action, channel=channel, timing=timing, steps=tuple(steps))


# --- the builder -----------------------------------------------------------------------------


def build_handoff(
    *,
    lead: LeadCard,
    brief: Mapping[str, Any],
    people: Sequence[PersonFacts] = (),
    events: Sequence[EventFacts] = (),
    intent: Sequence[IntentFacts] = (),
    assignment: AssignmentInfo | None = None,
    now: datetime,
) -> HandoffPackage:
    """The package from plain inputs: the brief (`Qualification.brief`), the people at the
    account with their activity (the lead's own included, by `lead_id`), the account's recent
    events and intent signals, and the current assignment."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    activity = next((p.activity for p in people if p.lead_id == lead.lead_id), Activity())
    rule_hits = rule_hits_from_brief(brief)
    stakeholders = stakeholder_map(lead, people)
    return HandoffPackage(
        lead=lead,
        score=score_from_brief(brief),
        summary=summarise(brief, rule_hits),
        approach=recommended_approach(
            brief=brief,
            lead=lead,
            activity=activity,
            stakeholders=stakeholders,
            events=events,
            now=now,
        ),
        talking_points=_strings(brief.get("talking_points"))[:TALKING_POINTS_MAX],
        content=content_from_brief(brief),
        stakeholders=stakeholders,
        alerts=urgency_alerts(
            lead=lead,
            activity=activity,
            people=people,
            events=events,
            intent=intent,
            assignment=assignment,
            now=now,
        ),
        assignment=assignment,
        rule_hits=rule_hits,
        generated_at=now,
    )


# --- rendering -------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    marker = "…"
    cut = text[: max(limit - len(marker), 0)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:|") + marker


def _company_line(lead: LeadCard) -> str:
    details = []
    if lead.employees is not None:
        details.append(f"{lead.employees:,} employees")
    details += [d for d in (lead.industry, lead.region or lead.country) if d]
    return lead.company + (f" ({', '.join(details)})" if details else "")


def _score_line(score: Score) -> str:
    parts = [score.status.upper() if score.tier else score.status]
    if score.probability is not None:
        parts.append(f"conversion {score.probability:.0%}")
    if score.confidence_label:
        parts.append(f"confidence {score.confidence_label.lower()}")
    if score.needs_review:
        parts.append("needs review")
    return " | ".join(parts)


def _points_line(score: Score) -> str:
    if score.point_score is None:
        return ""
    line = f"Point score: {score.point_score}"
    if score.point_threshold is not None:
        verdict = "would route" if score.point_would_route else "would not route"
        line += f" (threshold {score.point_threshold}: {verdict})"
    line += f" | AI decision: {score.status}"
    if score.points_agree is False:
        line += " (the two disagree)"
    return line


def _member_line(member: CommitteeMember) -> str:
    who = member.name + (" (this lead)" if member.is_this_lead else "")
    if member.title:
        who += f", {member.title}"
    role = member.role_label
    if member.committee_role and member.role_inferred:
        role += " (inferred)"
    seen = f"last seen {when(member.last_seen_at)}" if member.last_seen_at else "not seen recently"
    return (
        f"- {who}: {role}; {member.touchpoints_30d} touchpoints in "
        f"{ENGAGEMENT_WINDOW_DAYS} days, {seen}"
    )


def _roles(codes: Iterable[str]) -> str:
    return ", ".join(ROLE_LABELS[c] for c in codes) or "none"


def to_text(package: HandoffPackage, *, limit: int = TEXT_LIMIT) -> str:
    """The package as plain text for a CRM long text field: sections, at most `limit` chars."""
    lead, score = package.lead, package.score
    lines = [f"LEAD HANDOFF: {lead.name or lead.email}" + (f", {lead.title}" if lead.title else "")]
    lines.append(f"Company: {_company_line(lead)}")
    lines.append(f"Email: {lead.email}")
    lines.append(f"Status: {_score_line(score)}")
    predicted = []
    if score.deal_size:
        predicted.append(f"deal size {_money(score.deal_size[0])}-{_money(score.deal_size[1])}")
    if score.timeline_days:
        predicted.append(f"timeline {score.timeline_days[0]}-{score.timeline_days[1]} days")
    if predicted:
        lines.append("Predicted: " + ", ".join(predicted))
    if score.fit:
        lines.append("Fit: " + ", ".join(f"{group} {value}/100" for group, value in score.fit))
    if points := _points_line(score):
        lines.append(points)
    if score.confidence_note:
        lines.append(score.confidence_note)
    if package.assignment:
        a = package.assignment
        target = a.rep_name or "unassigned"
        lines.append(f"Assigned: {target} ({a.queue_label}), {when(a.assigned_at)}")
        lines.append(f"Why here: {a.reason}")
        if a.sla_due_at:
            touched = f", first touch {when(a.first_touch_at)}" if a.first_touch_at else ""
            lines.append(f"SLA due: {when(a.sla_due_at)}{touched}")

    def section(title: str, body: Sequence[str]) -> None:
        if body:
            lines.extend(["", title, *body])

    section(
        "URGENT",
        [f"- [{alert.severity.upper()}] {alert.message}" for alert in package.alerts],
    )
    section("WHY THIS LEAD", [f"- {line}" for line in package.summary])
    approach = package.approach
    section(
        "RECOMMENDED APPROACH",
        [
            approach.timing,
            *[f"- {step}" for step in approach.steps],
            *([f"Action: {approach.action}"] if approach.action else []),
        ],
    )
    content = [
        f"{item.label} ({item.visits} visit{'' if item.visits == 1 else 's'}, "
        f"{item.minutes:.0f} min)"
        for item in package.content
    ]
    section(
        "TALKING POINTS",
        [
            *[f"- {point}" for point in package.talking_points],
            *(["Content consumed: " + "; ".join(content)] if content else []),
        ],
    )
    sm = package.stakeholders
    section(
        "STAKEHOLDER MAP",
        [
            *[_member_line(member) for member in sm.people],
            *([f"- and {sm.hidden} more"] if sm.hidden else []),
            f"Roles covered: {_roles(sm.covered)}. Engaged in {ENGAGEMENT_WINDOW_DAYS} days: "
            f"{_roles(sm.engaged)}. Missing: {_roles(sm.missing)}.",
            *([sm.note] if sm.note else []),
        ],
    )
    section(
        "RULE HITS",
        [
            f"- {hit.rule or hit.reason_code} [{hit.reason_code}]: {hit.evidence} "
            f"Action: {hit.action}." + (" Needs human review." if hit.needs_review else "")
            for hit in package.rule_hits
        ],
    )
    lines.extend(["", f"Generated {when(package.generated_at)}."])
    return _clip("\n".join(lines), limit)


def to_summary(package: HandoffPackage, limit: int = SUMMARY_LIMIT) -> str:
    """One line for a short text field: status, the top alert, how and when to engage."""
    score = package.score
    head = score.status
    if score.probability is not None:
        head += f" {score.probability:.0%}"
    parts = [head]
    # A request alert restates what a phone approach already says ("they requested a demo").
    alerts = [
        alert
        for alert in package.alerts
        if not (
            alert.kind in (ALERT_DEMO_REQUEST, ALERT_CONTACT_SALES)
            and package.approach.channel == CHANNEL_PHONE
        )
    ]
    parts.append(package.approach.timing.rstrip("."))
    if alerts:
        parts.append(alerts[0].message.rstrip("."))
    sm = package.stakeholders
    if not sm.single_contact:
        parts.append(f"{len(sm.covered)}/{len(COMMITTEE_ROLES)} committee roles mapped")
    return _clip(" | ".join(parts), limit)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_dict(package: HandoffPackage) -> dict[str, Any]:
    """The package as JSON-ready data (datetimes as ISO 8601), for APIs and templates' JS."""
    data: dict[str, Any] = _plain(dataclasses.asdict(package))
    data["score"]["points_agree"] = package.score.points_agree
    data["is_urgent"] = package.is_urgent
    return data
