"""Reads handoff packages from the database (the pure builder is routing/handoff.py).

A bounded number of queries whatever the number of leads and the size of their accounts: the
leads with their accounts, the current qualifications, the stakeholders, one aggregate over the
touchpoints of everyone involved (grouped by lead), the accounts' recent events and intent
signals, and the current assignments. Seven queries for a batch, five when no lead in it has an
account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
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
from routing.models import Assignment, Queue
from routing.selectors import CURRENT_STATUSES
from scoring.briefs import TIER_LABELS
from scoring.models import Qualification

# Touchpoints older than this are not read: "last seen" beyond it shows as not seen recently,
# and it covers the 7 + 30 days an activity surge compares.
ACTIVITY_LOOKBACK = timedelta(days=90)
# Other leads at the account who are not on the committee are listed when active this recently.
OTHERS_ACTIVE_WINDOW = timedelta(days=ENGAGEMENT_WINDOW_DAYS)


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


# A person's row of the activity aggregate: the lead's columns, and the activity.
_ActivityRow = tuple[dict[str, Any], Activity]


def _activities(*, people: Q, now: datetime) -> dict[int, _ActivityRow]:
    """The activity of the leads matching `people`, in one aggregate query, in lead id order:
    {lead id: (lead columns, activity)}. A lead's numbers depend only on its own touchpoints
    and `now`, so one aggregate serves every package of a batch."""
    week, month = now - timedelta(days=7), now - OTHERS_ACTIVE_WINDOW
    before_week = week - timedelta(days=30)
    request = Q(kind=TouchpointKind.FORM_SUBMIT)
    # The people as a subquery of lead ids, not an OR across the join: PostgreSQL can then
    # walk the (lead, occurred_at) index once per person instead of scanning touchpoints.
    rows = (
        Touchpoint.objects.filter(
            lead_id__in=Lead.objects.filter(people).values("pk"),
            occurred_at__gte=now - ACTIVITY_LOOKBACK,
        )
        .filter(occurred_at__lte=now)
        .values("lead_id", "lead__account_id", "lead__name", "lead__title", "lead__email")
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
    out: dict[int, _ActivityRow] = {}
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
    *,
    lead: Lead,
    stakeholders: Sequence[Mapping[str, Any]],
    activities: Mapping[int, _ActivityRow],
) -> list[PersonFacts]:
    """The lead's people: its stakeholders, then itself and its active colleagues when they are
    not on the committee. `activities` may hold other leads' people too: only the lead itself,
    its stakeholders' leads and the leads at its account are read."""
    lead_ids = {s["lead_id"] for s in stakeholders if s["lead_id"] is not None}
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
        if other_id != lead.pk and (
            lead.account_id is None or row["lead__account_id"] != lead.account_id
        ):
            continue  # someone else's colleague in this batch
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


def _assignment_info(assignment: Assignment) -> AssignmentInfo:
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


def _assignments(lead_ids: Iterable[int]) -> dict[int, AssignmentInfo]:
    """Each lead's current assignment: its latest open or accepted one."""
    out: dict[int, AssignmentInfo] = {}
    # Newest first within each lead, so the first row seen is the current one. Leads rarely
    # hold more than one open assignment, so reading them all costs little and, unlike
    # DISTINCT ON, works on any database.
    for assignment in (
        Assignment.objects.filter(lead_id__in=lead_ids, status__in=CURRENT_STATUSES)
        .select_related("rep__user")
        .order_by("lead_id", "-assigned_at", "-pk")
    ):
        if assignment.lead_id not in out:
            out[assignment.lead_id] = _assignment_info(assignment)
    return out


def _card(lead: Lead) -> LeadCard:
    account = lead.account
    return LeadCard(
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


def handoffs_for_leads(
    *, lead_ids: Sequence[int], now: datetime | None = None
) -> dict[int, HandoffPackage]:
    """The handoff packages of many leads, as of `now`: {lead id: package}, in the order of
    `lead_ids`. Ids of leads that do not exist are left out.

    The same packages as `handoff_for_lead` one by one, in at most seven queries whatever the
    number of leads (see the module doc); callers with thousands of leads pass them in batches
    to keep each query's id list short.
    """
    now = now or timezone.now()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    wanted = list(dict.fromkeys(lead_ids))
    if not wanted:
        return {}
    leads = {lead.pk: lead for lead in Lead.objects.select_related("account").filter(pk__in=wanted)}
    if not leads:
        return {}
    account_ids = {lead.account_id for lead in leads.values() if lead.account_id is not None}
    accountless = [pk for pk, lead in leads.items() if lead.account_id is None]
    qualifications = {
        q.lead_id: q for q in Qualification.objects.filter(lead_id__in=list(leads), is_current=True)
    }

    # Stakeholders of an account's committee, or, for a lead without an account, the
    # committees it sits on.
    stakeholder_rows = list(
        Stakeholder.objects.filter(Q(account_id__in=account_ids) | Q(lead_id__in=accountless))
        .order_by("name", "pk")
        .values(
            "account_id",
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
    by_account: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    by_lead: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for row in stakeholder_rows:
        by_account[row["account_id"]].append(row)
        if row["lead_id"] is not None:
            by_lead[row["lead_id"]].append(row)

    def stakeholders_of(lead: Lead) -> list[Mapping[str, Any]]:
        if lead.account_id is not None:
            return by_account.get(lead.account_id, [])
        return by_lead.get(lead.pk, [])

    committee_leads = {
        row["lead_id"]
        for lead in leads.values()
        for row in stakeholders_of(lead)
        if row["lead_id"] is not None
    }
    people = Q(pk__in=list(leads)) | Q(pk__in=committee_leads)
    if account_ids:
        people |= Q(account_id__in=account_ids)
    activities = _activities(people=people, now=now)

    events: dict[int, list[EventFacts]] = defaultdict(list)
    intent: dict[int, list[IntentFacts]] = defaultdict(list)
    if account_ids:
        since = now - EVENT_WINDOW
        for account_id, kind, title, at in (
            AccountEvent.objects.filter(
                account_id__in=account_ids, occurred_at__gte=since, occurred_at__lte=now
            )
            .order_by("-occurred_at", "pk")
            .values_list("account_id", "kind", "title", "occurred_at")
        ):
            events[account_id].append(EventFacts(kind=kind, title=title, occurred_at=at))
        for account_id, topic, surge, at, source in (
            IntentSignal.objects.filter(
                account_id__in=account_ids, observed_at__gte=since, observed_at__lte=now
            )
            .order_by("-observed_at", "pk")
            .values_list("account_id", "topic", "surge_score", "observed_at", "source")
        ):
            intent[account_id].append(
                IntentFacts(topic=topic, surge_score=surge, observed_at=at, source=source)
            )

    assignments = _assignments(list(leads))

    packages: dict[int, HandoffPackage] = {}
    for lead_id in wanted:
        lead = leads.get(lead_id)
        if lead is None:
            continue
        lead_account = lead.account_id
        packages[lead_id] = build_handoff(
            lead=_card(lead),
            brief=_brief(lead, qualifications.get(lead_id)),
            people=_people(lead=lead, stakeholders=stakeholders_of(lead), activities=activities),
            events=events.get(lead_account, []) if lead_account is not None else [],
            intent=intent.get(lead_account, []) if lead_account is not None else [],
            assignment=assignments.get(lead_id),
            now=now,
        )
    return packages


def handoff_for_lead(*, lead_id: int, now: datetime | None = None) -> HandoffPackage:
    """The handoff package of one lead, as of `now`. Raises Lead.DoesNotExist."""
    package = handoffs_for_leads(lead_ids=[lead_id], now=now).get(lead_id)
    if package is None:
        raise Lead.DoesNotExist(f"Lead {lead_id} does not exist.")
    return package
