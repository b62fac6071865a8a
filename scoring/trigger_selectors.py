"""Reads of the re-qualification triggers: the rules, the leads as the pure core sees them
(scoring.triggers.LeadFacts), the evidence that arrived, and what resurfaced.

Every read is set-wide (a handful of queries per batch, whatever its size): the activity path
runs for every event batch, and the account-evidence path for every feed call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Max, QuerySet

from accounts.domains import email_domain, is_free_mail
from accounts.models import AccountEvent, IntentSignal, Lead, Touchpoint
from scoring.models import (
    DisqualificationRule,
    Feedback,
    FeedbackReason,
    Qualification,
    Resurfacing,
    ResurfacingStatus,
    TriggerRule,
)
from scoring.triggers import (
    TRIGGERS,
    EvidenceFacts,
    IntentFacts,
    LeadFacts,
    TouchFacts,
    TriggerSpec,
)

# Where a disqualifier's action sends a lead (routing's queues, named here because scoring
# cannot import routing): the "path" a status watch looks at.
ACTION_PATHS = {
    "route_success": "success",
    "route_support": "support",
    "route_community": "community",
    "nurture": "nurture",
}
ACADEMIC_SUFFIXES = (".edu", ".ac.uk", ".edu.au", ".ac.jp", ".ac.nz", ".ac.za")


def trigger_rule_spec(rule: TriggerRule) -> TriggerSpec:
    return TriggerSpec(
        kind=rule.kind,
        is_active=rule.is_active,
        cooldown_days=float(rule.cooldown_days),
        dormant_days=rule.dormant_days,
        engaged_days=rule.engaged_days,
        event_kinds=tuple(str(k) for k in rule.event_kinds or ()),
        intent_topics=tuple(str(t) for t in rule.intent_topics or ()),
        min_surge=float(rule.min_surge),
    )


def trigger_specs() -> dict[str, TriggerSpec]:
    """Every trigger's spec; a kind without a row (the migration seeds them all) runs on the
    core's defaults."""
    specs = {kind: TriggerSpec(kind=kind) for kind in TRIGGERS}
    for rule in TriggerRule.objects.all():
        specs[rule.kind] = trigger_rule_spec(rule)
    return specs


def trigger_rule(*, kind: str) -> TriggerRule:
    rule = TriggerRule.objects.filter(kind=kind).first()
    return rule if rule is not None else TriggerRule(kind=kind)


def email_domain_type(email: str) -> str:
    domain = email_domain(email)
    if domain.endswith(ACADEMIC_SUFFIXES):
        return "academic"
    if is_free_mail(domain, settings.LEADQUAL_FREE_MAIL_DOMAINS_EXTRA):
        return "free_mail"
    return "corporate"


def _rule_meanings() -> dict[str, tuple[str, str]]:
    return {
        code: (category, ACTION_PATHS.get(action, ""))
        for code, category, action in DisqualificationRule.objects.values_list(
            "reason_code", "category", "action"
        )
    }


def _last_fired(lead_ids: Collection[int], since: datetime) -> dict[int, dict[str, datetime]]:
    fired: dict[int, dict[str, datetime]] = defaultdict(dict)
    rows = (
        Resurfacing.objects.filter(lead_id__in=list(lead_ids), fired_at__gte=since)
        .values("lead_id", "trigger")
        .annotate(last=Max("fired_at"))
    )
    for row in rows:
        fired[row["lead_id"]][row["trigger"]] = row["last"]
    return fired


def lead_facts(
    *,
    leads: QuerySet[Lead],
    now: datetime,
    specs: Mapping[str, TriggerSpec],
    last_touch: bool = True,
) -> dict[int, LeadFacts]:
    """The core's view of these leads, by id: status, current tier and disqualifier (its
    category and the path its action sends the lead to), email type, last touch, and when
    each trigger last resurfaced them (as far back as the longest cooldown)."""
    rows = list(leads.values_list("pk", "account_id", "status", "email"))
    if not rows:
        return {}
    ids = [row[0] for row in rows]
    current = {
        lead_id: (tier, reason)
        for lead_id, tier, reason in Qualification.objects.filter(
            lead_id__in=ids, is_current=True
        ).values_list("lead_id", "tier", "disqualification_reason")
    }
    meanings = _rule_meanings() if any(reason for _, reason in current.values()) else {}
    touched: dict[int, datetime] = {}
    if last_touch:
        touched = dict(
            Touchpoint.objects.filter(lead_id__in=ids)
            .values("lead_id")
            .annotate(last=Max("occurred_at"))
            .values_list("lead_id", "last")
        )
    longest = max((spec.cooldown_days for spec in specs.values()), default=0.0)
    fired = _last_fired(ids, now - timedelta(days=longest))
    facts = {}
    for lead_id, account_id, status, email in rows:
        tier, reason = current.get(lead_id, ("", ""))
        category, path = meanings.get(reason, ("", "")) if reason else ("", "")
        facts[lead_id] = LeadFacts(
            lead_id=lead_id,
            account_id=account_id,
            status=status,
            tier=tier,
            rule_category=category,
            path=path,
            email_domain_type=email_domain_type(email),
            last_touch_at=touched.get(lead_id),
            last_fired=fired.get(lead_id, {}),
        )
    return facts


def leads_by_account(
    *, account_ids: Collection[int], now: datetime, specs: Mapping[str, TriggerSpec]
) -> dict[int, list[LeadFacts]]:
    facts = lead_facts(
        leads=Lead.objects.filter(account_id__in=list(account_ids)), now=now, specs=specs
    )
    grouped: dict[int, list[LeadFacts]] = defaultdict(list)
    for lead in sorted(facts.values(), key=lambda f: f.lead_id):
        if lead.account_id is not None:
            grouped[lead.account_id].append(lead)
    return dict(grouped)


def account_events(*, event_ids: Collection[int]) -> list[tuple[int, EvidenceFacts]]:
    """(event id, facts) of these account events."""
    return [
        (
            event.pk,
            EvidenceFacts(
                account_id=event.account_id,
                kind="event",
                subtype=event.kind,
                occurred_at=event.occurred_at,
                summary=f"{_event_label(event)}: {event.title}",
                vendor=str((event.details or {}).get("vendor", "")),
            ),
        )
        for event in AccountEvent.objects.filter(pk__in=list(event_ids)).order_by("pk")
    ]


def _event_label(event: AccountEvent) -> str:
    label = event.get_kind_display()
    # A kind a feed added after these choices (competitor_news) shows its own words.
    return label.replace("_", " ").capitalize() if label == event.kind else label


def intent_signals(*, signal_ids: Collection[int]) -> list[tuple[int, IntentFacts]]:
    return [
        (
            signal.pk,
            IntentFacts(
                account_id=signal.account_id,
                topic=signal.topic,
                surge=signal.surge_score,
                occurred_at=signal.observed_at,
                source=signal.source,
            ),
        )
        for signal in IntentSignal.objects.filter(pk__in=list(signal_ids)).order_by("pk")
    ]


@dataclass(frozen=True)
class ActivityFacts:
    """The leads of an event batch with touches new since their last qualification."""

    leads: list[LeadFacts]
    touches: dict[int, list[TouchFacts]]
    touch_ids: dict[int, list[int]]


def activity_facts(
    *, lead_ids: Collection[int], now: datetime, specs: Mapping[str, TriggerSpec]
) -> ActivityFacts:
    """Of these leads (about to be re-qualified), those with touchpoints stored since their
    current qualification, as they stood before them: three queries.

    A lead never qualified is new, not dormant, and is left out. `last_touch_at` is the
    latest touch stored before the current qualification: "quiet since" as the last
    assessment saw it.
    """
    ids = list(lead_ids)
    qualified = dict(
        Qualification.objects.filter(lead_id__in=ids, is_current=True).values_list(
            "lead_id", "computed_at"
        )
    )
    if not qualified:
        return ActivityFacts([], {}, {})
    earliest = min(qualified.values())
    new: dict[int, list[TouchFacts]] = defaultdict(list)
    new_ids: dict[int, list[int]] = defaultdict(list)
    for pk, lead_id, occurred_at, created_at, kind, page, form in Touchpoint.objects.filter(
        lead_id__in=list(qualified), created_at__gt=earliest
    ).values_list(
        "pk", "lead_id", "occurred_at", "created_at", "kind", "page_category", "form_type"
    ):
        if created_at > qualified[lead_id]:
            new[lead_id].append(TouchFacts(lead_id, occurred_at, kind, page or "", form or ""))
            new_ids[lead_id].append(pk)
    if not new:
        return ActivityFacts([], {}, {})
    facts = lead_facts(leads=Lead.objects.filter(pk__in=list(new)), now=now, specs=specs,
                       last_touch=False)  # fmt: skip
    before: dict[int, datetime] = {}
    seen = [pk for pks in new_ids.values() for pk in pks]
    for lead_id, last in (
        Touchpoint.objects.filter(lead_id__in=list(new))
        .exclude(pk__in=seen)
        .values("lead_id")
        .annotate(last=Max("occurred_at"))
        .values_list("lead_id", "last")
    ):
        before[lead_id] = last
    leads = [
        LeadFacts(**{**lead.__dict__, "last_touch_at": before.get(lead.lead_id)})
        for lead in facts.values()
    ]
    return ActivityFacts(leads, dict(new), dict(new_ids))


def revisits_due(*, today: date) -> list[Feedback]:
    """Each lead's latest "not buying now" verdict whose revisit date has come and that has
    not resurfaced the lead yet (no timing-window resurfacing since the verdict)."""
    latest: dict[int, Feedback] = {}
    for feedback in (
        Feedback.objects.filter(reason=FeedbackReason.BAD_TIMING, revisit_on__lte=today)
        .select_related("user")
        .order_by("lead_id", "-created_at", "-pk")
    ):
        latest.setdefault(feedback.lead_id, feedback)
    if not latest:
        return []
    done = dict(
        Resurfacing.objects.filter(lead_id__in=list(latest), trigger="timing_window")
        .values("lead_id")
        .annotate(last=Max("fired_at"))
        .values_list("lead_id", "last")
    )
    return [
        feedback
        for lead_id, feedback in sorted(latest.items())
        if done.get(lead_id) is None or done[lead_id] < feedback.created_at
    ]


def resurfacings_pending(*, lead_ids: Iterable[int]) -> QuerySet[Resurfacing]:
    return Resurfacing.objects.filter(
        lead_id__in=list(lead_ids), status=ResurfacingStatus.PENDING
    ).order_by("lead_id", "-fired_at", "-pk")


def resurfacing_latest(*, lead_ids: Iterable[int]) -> dict[int, Resurfacing]:
    """Each lead's latest resurfacing (one query), with its previous owner and routed-to."""
    latest: dict[int, Resurfacing] = {}
    ids = list(lead_ids)
    if not ids:
        return latest
    for item in (
        Resurfacing.objects.filter(lead_id__in=ids)
        .select_related("previous_owner", "routed_to")
        .order_by("lead_id", "-fired_at", "-pk")
    ):
        latest.setdefault(item.lead_id, item)
    return latest
