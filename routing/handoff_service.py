"""Reads a lead's handoff package from the database (the pure builder is routing/handoff.py).

A bounded number of queries whatever the size of the account: the lead with its account, the
current qualification, the stakeholders, one aggregate over the touchpoints of everyone at the
account, the account's recent events and intent signals, and the current assignment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone

from accounts.models import (
    AccountEvent,
    FormType,
    IntentSignal,
    Lead,
    Stakeholder,
    Touchpoint,
    TouchpointKind,
)
from routing.handoff import (
    ENGAGEMENT_WINDOW_DAYS,
    EVENT_WINDOW,
    Activity,
    AssignmentInfo,
    EventFacts,
    HandoffPackage,
    IntentFacts,
    LeadCard,
    PersonFacts,
    build_handoff,
)
from routing.models import Assignment, AssignmentStatus, Queue
from scoring.briefs import TIER_LABELS
from scoring.models import Qualification

# Touchpoints older than this are not read: "last seen" beyond it shows as not seen recently,
# and it covers the 7 + 30 days an activity surge compares.
ACTIVITY_LOOKBACK = timedelta(days=90)
# Other leads at the account who are not on the committee are listed when active this recently.
OTHERS_ACTIVE_WINDOW = timedelta(days=ENGAGEMENT_WINDOW_DAYS)
# Assignments a rep is still working: the package follows the lead until it is closed.
CURRENT_ASSIGNMENT_STATUSES = (AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED)


def _brief(lead: Lead, qualification: Qualification | None) -> dict[str, Any]:
    """The stored brief, with the qualification's columns filling any key it lacks."""
    if qualification is None:
        return {}
    fallback: dict[str, Any] = {
        "tier": qualification.tier,
        "status": TIER_LABELS.get(qualification.tier, qualification.tier),
        "needs_review": qualification.needs_review,
        "confidence": qualification.confidence,
        "recommended_action": qualification.recommended_action,
        "predictive": {"conversion_probability": qualification.conversion_probability},
        "point_score": {"score": qualification.point_score},
        "lead": {"name": lead.name, "title": lead.title, "email": lead.email},
    }
    brief = qualification.brief if isinstance(qualification.brief, dict) else {}
    return {**fallback, **brief}


def _activities(
    *, lead_id: int, account_id: int | None, lead_ids: set[int], now: datetime
) -> dict[int, tuple[dict[str, Any], Activity]]:
    """Each person's activity, in one aggregate query: {lead id: (lead columns, activity)}."""
    week, month = now - timedelta(days=7), now - OTHERS_ACTIVE_WINDOW
    before_week = week - timedelta(days=30)
    people = Q(pk=lead_id) | Q(pk__in=lead_ids)
    if account_id is not None:
        people |= Q(account_id=account_id)
    request = Q(kind=TouchpointKind.FORM_SUBMIT)
    # The people as a subquery of lead ids, not an OR across the join: PostgreSQL can then
    # walk the (lead, occurred_at) index once per person instead of scanning touchpoints.
    rows = (
        Touchpoint.objects.filter(
            lead_id__in=Lead.objects.filter(people).values("pk"),
            occurred_at__gte=now - ACTIVITY_LOOKBACK,
        )
        .filter(occurred_at__lte=now)
        .values("lead_id", "lead__name", "lead__title", "lead__email")
        .annotate(
            touches_7d=Count("id", filter=Q(occurred_at__gte=week)),
            touches_30d=Count("id", filter=Q(occurred_at__gte=month)),
            touches_prev_30d=Count(
                "id", filter=Q(occurred_at__gte=before_week, occurred_at__lt=week)
            ),
            last_seen_at=Max("occurred_at"),
            last_demo_at=Max("occurred_at", filter=request & Q(form_type=FormType.DEMO_REQUEST)),
            last_contact_at=Max(
                "occurred_at", filter=request & Q(form_type=FormType.CONTACT_SALES)
            ),
        )
        .order_by("lead_id")
    )
    out: dict[int, tuple[dict[str, Any], Activity]] = {}
    for row in rows:
        demo, contact = row["last_demo_at"], row["last_contact_at"]
        if demo is not None and (contact is None or demo >= contact):
            last_request, form = demo, FormType.DEMO_REQUEST.value
        elif contact is not None:
            last_request, form = contact, FormType.CONTACT_SALES.value
        else:
            last_request, form = None, ""
        out[row["lead_id"]] = (
            row,
            Activity(
                touchpoints_7d=row["touches_7d"],
                touchpoints_30d=row["touches_30d"],
                touchpoints_prev_30d=row["touches_prev_30d"],
                last_seen_at=row["last_seen_at"],
                last_request_at=last_request,
                last_request_form=form,
            ),
        )
    return out


def _people(
    *, lead: Lead, stakeholders: Sequence[Mapping[str, Any]], now: datetime
) -> list[PersonFacts]:
    lead_ids = {s["lead_id"] for s in stakeholders if s["lead_id"] is not None}
    activities = _activities(
        lead_id=lead.pk, account_id=lead.account_id, lead_ids=lead_ids, now=now
    )
    people = []
    for s in stakeholders:
        activity = activities[s["lead_id"]][1] if s["lead_id"] in activities else Activity()
        people.append(
            PersonFacts(
                name=s["name"] or s["lead__name"] or "",
                title=s["title"] or s["lead__title"] or "",
                email=s["email"] or s["lead__email"] or "",
                committee_role=s["committee_role"],
                role_inferred=s["role_inferred"],
                lead_id=s["lead_id"],
                activity=activity,
            )
        )
    # The lead itself, when it is not on the committee, and the other leads at the account
    # active lately: people without a role are still people a rep should know are looking.
    for other_id, (row, activity) in activities.items():
        if other_id in lead_ids:
            continue
        if other_id != lead.pk and not activity.touchpoints_30d:
            continue
        people.append(
            PersonFacts(
                name=row["lead__name"] or "",
                title=row["lead__title"] or "",
                email=row["lead__email"] or "",
                lead_id=other_id,
                activity=activity,
            )
        )
    return people


def _assignment(lead_id: int) -> AssignmentInfo | None:
    assignment = (
        Assignment.objects.filter(lead_id=lead_id, status__in=CURRENT_ASSIGNMENT_STATUSES)
        .select_related("rep__user")
        .order_by("-assigned_at", "-pk")
        .first()
    )
    if assignment is None:
        return None
    rep_name = ""
    if assignment.rep is not None:
        user = assignment.rep.user
        rep_name = user.get_full_name() or user.get_username()
    queue = Queue(assignment.queue) if assignment.queue in Queue.values else None
    return AssignmentInfo(
        assignment_id=assignment.pk,
        queue=assignment.queue,
        queue_label=str(queue.label) if queue else assignment.queue,
        reason=assignment.reason,
        assigned_at=assignment.assigned_at,
        status=assignment.status,
        rep_name=rep_name,
        sla_due_at=assignment.sla_due_at,
        first_touch_at=assignment.first_touch_at,
        sla_breaches=assignment.sla_breaches,
        expected_value=(
            float(assignment.expected_value) if assignment.expected_value is not None else None
        ),
    )


def handoff_for_lead(*, lead_id: int, now: datetime | None = None) -> HandoffPackage:
    """The handoff package of one lead, as of `now`. Raises Lead.DoesNotExist."""
    now = now or timezone.now()
    lead = Lead.objects.select_related("account").get(pk=lead_id)
    account = lead.account
    qualification = Qualification.objects.filter(lead_id=lead_id, is_current=True).first()

    stakeholder_filter = Q(account_id=account.pk) if account else Q(lead_id=lead_id)
    stakeholders = list(
        Stakeholder.objects.filter(stakeholder_filter)
        .order_by("name", "pk")
        .values(
            "name",
            "title",
            "email",
            "committee_role",
            "role_inferred",
            "lead_id",
            "lead__name",
            "lead__title",
            "lead__email",
        )
    )
    people = _people(lead=lead, stakeholders=stakeholders, now=now)

    events: list[EventFacts] = []
    intent: list[IntentFacts] = []
    if account is not None:
        since = now - EVENT_WINDOW
        events = [
            EventFacts(kind=kind, title=title, occurred_at=at)
            for kind, title, at in AccountEvent.objects.filter(
                account_id=account.pk, occurred_at__gte=since, occurred_at__lte=now
            ).values_list("kind", "title", "occurred_at")
        ]
        intent = [
            IntentFacts(topic=topic, surge_score=surge, observed_at=at, source=source)
            for topic, surge, at, source in IntentSignal.objects.filter(
                account_id=account.pk, observed_at__gte=since, observed_at__lte=now
            ).values_list("topic", "surge_score", "observed_at", "source")
        ]

    card = LeadCard(
        lead_id=lead.pk,
        name=lead.name,
        title=lead.title,
        email=lead.email,
        company=account.name if account else lead.email_domain,
        account_id=account.pk if account else None,
        employees=account.employee_count if account else None,
        industry=account.industry if account else "",
        region=account.get_region_display() if account and account.region else "",
        country=lead.country or (account.country if account else ""),
    )
    return build_handoff(
        lead=card,
        brief=_brief(lead, qualification),
        people=people,
        events=events,
        intent=intent,
        assignment=_assignment(lead_id),
        now=now,
    )
