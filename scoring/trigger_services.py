"""Re-qualification triggers in real time: read the facts, ask the pure core
(scoring.triggers) which leads resurface and why, store a Resurfacing per firing, reopen
closed leads, re-qualify at once, and record the change from the previous qualification.

Routing follows through LEADQUAL_AFTER_QUALIFY as for any re-qualification; it routes a lead
with a pending resurfacing to its previous owner first (routing.resurfacing_owners) and marks
the resurfacing routed (`resurfacings_mark_routed`).

Entry points:
- `triggers_on_account_evidence`: a step of settings.LEADQUAL_ON_ACCOUNT_EVIDENCE (company
  change, competitor news, intent surges, new contacts);
- `triggers_on_activity`: called by the real-time re-qualification task before it qualifies
  an event batch's leads (dormant or closed leads active again, customers evaluating again);
- `triggers_on_revisit_due`: the daily beat task and the nightly run (timing objections);
- `triggers_on_identity_change`: a student or job seeker now writing from a company domain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.evidence_arrival import (
    KIND_ACCOUNT_EVENT,
    KIND_INTENT,
    KIND_NEW_CONTACT,
    EvidenceArrival,
)
from accounts.models import Lead, LeadStatus
from scoring import services
from scoring import trigger_selectors as selectors
from scoring.models import (
    Qualification,
    Resurfacing,
    ResurfacingStatus,
    Tier,
    TriggerKind,
)
from scoring.triggers import (
    Firing,
    LeadFacts,
    change_line,
    merge_firings,
    on_account_evidence,
    on_activity,
    on_identity_change,
    on_intent,
    on_new_contacts,
    on_revisit_due,
)

# A resurfaced closed lead is reopened: "working" when it has an owner (routing gives it back
# to them first), "new" otherwise. LeadStatus has no "recycled"; a lead sent back to marketing
# is "nurturing", which routing still routes, so only "closed" needs reopening.
REOPENED_WITH_OWNER = LeadStatus.WORKING
REOPENED_WITHOUT_OWNER = LeadStatus.NEW
TIER_LABELS = dict(Tier.choices)


def resurfacings_store(
    *,
    firings: Iterable[Firing],
    records: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
    now: datetime | None = None,
) -> list[Resurfacing]:
    """Store one Resurfacing per lead and trigger (their evidence merged) and reopen the
    closed leads among them, atomically; the leads' re-qualification is the caller's.

    `records`: per lead, what arrived (`{"kind": "account_event", "id": 5}`...), kept with the
    evidence sentences.
    """
    merged = merge_firings(firings)
    if not merged:
        return []
    moment = now or timezone.now()
    records = records or {}
    ids = sorted({f.lead_id for f in merged})
    with transaction.atomic():
        leads = {
            pk: (owner_id, status)
            for pk, owner_id, status in Lead.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "owner_id", "status")
        }
        previous = dict(
            Qualification.objects.filter(lead_id__in=ids, is_current=True).values_list(
                "lead_id", "pk"
            )
        )
        rows = [
            Resurfacing(
                lead_id=f.lead_id,
                trigger=f.trigger,
                evidence={
                    "sentences": list(f.evidence),
                    "records": list(records.get(f.lead_id, ())),
                },
                fired_at=moment,
                previous_qualification_id=previous.get(f.lead_id),
                previous_owner_id=leads[f.lead_id][0],
                previous_status=leads[f.lead_id][1],
            )
            for f in merged
            if f.lead_id in leads
        ]
        created = Resurfacing.objects.bulk_create(rows)
        closed = [pk for pk, (_, status) in leads.items() if status == LeadStatus.CLOSED]
        if closed:
            Lead.objects.filter(pk__in=closed, owner__isnull=False).update(
                status=REOPENED_WITH_OWNER, updated_at=moment
            )
            Lead.objects.filter(pk__in=closed, owner__isnull=True).update(
                status=REOPENED_WITHOUT_OWNER, updated_at=moment
            )
    return created


def resurfacings_complete(*, lead_ids: Collection[int]) -> int:
    """After the re-qualification: link each new resurfacing of these leads to the lead's new
    qualification and fill its change line; one that did not make the lead Sales Ready is
    "no change" for sales (routing sends it where its tier belongs, as ever). Returns how many
    were completed."""
    ids = list(lead_ids)
    if not ids:
        return 0
    todo = list(
        Resurfacing.objects.filter(lead_id__in=ids, qualification__isnull=True).select_related(
            "previous_qualification"
        )
    )
    if not todo:
        return 0
    current = {
        q.lead_id: q
        for q in Qualification.objects.filter(
            lead_id__in={r.lead_id for r in todo}, is_current=True
        ).only("pk", "lead_id", "tier", "conversion_probability")
    }
    done = 0
    with transaction.atomic():
        for item in todo:
            new = current.get(item.lead_id)
            if new is None:
                continue
            before = item.previous_qualification
            item.qualification = new
            item.change = change_line(
                before=(before.tier, before.conversion_probability) if before else None,
                after=(new.tier, new.conversion_probability),
                labels=TIER_LABELS,
            )
            fields = ["qualification", "change"]
            # Only a pending one: routing may have marked it routed already.
            if new.tier != Tier.SALES_READY and item.status == ResurfacingStatus.PENDING:
                updated = Resurfacing.objects.filter(
                    pk=item.pk, status=ResurfacingStatus.PENDING
                ).update(status=ResurfacingStatus.NO_CHANGE, qualification=new, change=item.change)
                done += updated
                if updated:
                    continue
            Resurfacing.objects.filter(pk=item.pk).update(
                **{name: getattr(item, name) for name in fields}
            )
            done += 1
    return done


def resurfacings_mark_routed(
    *, routed: Mapping[int, int | None], now: datetime | None = None
) -> int:
    """Routing's hook: the pending resurfacings of these leads are routed, to the given user
    (the rep's user of the lead's current sales assignment). Returns how many were marked."""
    moment = now or timezone.now()
    marked = 0
    by_user: dict[int | None, list[int]] = defaultdict(list)
    for lead_id, user_id in routed.items():
        by_user[user_id].append(lead_id)
    for user_id, lead_ids in by_user.items():
        marked += Resurfacing.objects.filter(
            lead_id__in=lead_ids, status=ResurfacingStatus.PENDING
        ).update(status=ResurfacingStatus.ROUTED, routed_to_id=user_id, routed_at=moment)
    return marked


def _resurface(
    firings: list[Firing],
    *,
    records: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
    now: datetime,
    also: Collection[int] = (),
) -> list[Resurfacing]:
    """Store, re-qualify at once (routing follows on commit), complete. `also`: other leads
    to re-qualify in the same run."""
    created = resurfacings_store(firings=firings, records=records, now=now)
    ids = sorted({r.lead_id for r in created} | set(also))
    if ids:
        services.leads_qualify(lead_ids=ids)
        resurfacings_complete(lead_ids=[r.lead_id for r in created])
    return created


def triggers_on_account_evidence(arrivals: Sequence[EvidenceArrival]) -> None:
    """settings.LEADQUAL_ON_ACCOUNT_EVIDENCE step: company change and competitor news (account
    events), competitor and expansion intent surges, and new contacts at engaged companies
    (the new lead and its engaged colleagues). Safe to run twice: the cooldown holds a second
    firing back."""
    account_evidence_resurface(arrivals=arrivals)


def account_evidence_resurface(
    *, arrivals: Sequence[EvidenceArrival], now: datetime | None = None
) -> list[Resurfacing]:
    moment = now or timezone.now()
    events = [a.record_id for a in arrivals if a.kind == KIND_ACCOUNT_EVENT and a.record_id]
    intents = [a.record_id for a in arrivals if a.kind == KIND_INTENT and a.record_id]
    contacts = [a.record_id for a in arrivals if a.kind == KIND_NEW_CONTACT and a.record_id]
    if not (events or intents or contacts):
        return []
    specs = selectors.trigger_specs()
    evidence = selectors.account_events(event_ids=events) if events else []
    signals = selectors.intent_signals(signal_ids=intents) if intents else []
    new_leads = (
        selectors.lead_facts(leads=Lead.objects.filter(pk__in=contacts), now=moment, specs=specs)
        if contacts
        else {}
    )
    accounts = (
        {facts.account_id for _, facts in evidence}
        | {facts.account_id for _, facts in signals}
        | {f.account_id for f in new_leads.values() if f.account_id is not None}
    )
    people = selectors.leads_by_account(account_ids=accounts, now=moment, specs=specs)
    names = dict(Lead.objects.filter(pk__in=list(new_leads)).values_list("pk", "name"))
    firings = [
        *on_account_evidence(
            evidence=[f for _, f in evidence], leads_by_account=people, specs=specs, now=moment
        ),
        *on_intent(
            intents=[f for _, f in signals], leads_by_account=people, specs=specs, now=moment
        ),
        *on_new_contacts(
            new_leads=new_leads.values(),
            colleagues_by_account=people,
            specs=specs,
            now=moment,
            names={k: v for k, v in names.items() if v},
        ),
    ]
    # What arrived at each account, kept with each of its leads' resurfacings.
    by_account: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for pk, facts in evidence:
        by_account[facts.account_id].append({"kind": KIND_ACCOUNT_EVENT, "id": pk})
    for pk, intent in signals:
        by_account[intent.account_id].append({"kind": KIND_INTENT, "id": pk})
    for lead in new_leads.values():
        if lead.account_id is not None:
            by_account[lead.account_id].append({"kind": KIND_NEW_CONTACT, "id": lead.lead_id})
    account_of = {lead.lead_id: lead.account_id for group in people.values() for lead in group}
    records = {f.lead_id: by_account.get(account_of.get(f.lead_id) or 0, []) for f in firings}
    return _resurface(firings, records=records, now=moment)


def triggers_on_activity(*, lead_ids: Collection[int], now: datetime | None = None) -> list[int]:
    """Before an event batch's leads are re-qualified: store the resurfacings of those that
    were dormant (or closed) and act again, and of customers on a support path who evaluate
    again. Returns the leads that resurfaced; the caller re-qualifies the whole batch and then
    calls `resurfacings_complete` with them."""
    moment = now or timezone.now()
    specs = selectors.trigger_specs()
    if not any(
        specs[k].is_active for k in (TriggerKind.DORMANT_ACTIVITY, TriggerKind.EXPANSION_INTENT)
    ):
        return []
    facts = selectors.activity_facts(lead_ids=lead_ids, now=moment, specs=specs)
    if not facts.leads:
        return []
    firings = on_activity(leads=facts.leads, touches=facts.touches, specs=specs, now=moment)
    records = {
        f.lead_id: [
            {"kind": "touchpoint", "id": pk} for pk in facts.touch_ids.get(f.lead_id, [])[:10]
        ]
        for f in firings
    }
    created = resurfacings_store(firings=firings, records=records, now=moment)
    return sorted({r.lead_id for r in created})


def triggers_on_revisit_due(*, today: date | None = None) -> list[Resurfacing]:
    """Resurface the leads whose "not buying now" verdict named a revisit date that has come."""
    moment = timezone.now()
    day = today or timezone.localdate()
    due = selectors.revisits_due(today=day)
    if not due:
        return []
    specs = selectors.trigger_specs()
    facts = selectors.lead_facts(
        leads=Lead.objects.filter(pk__in=[f.lead_id for f in due]), now=moment, specs=specs,
        last_touch=False,
    )  # fmt: skip
    revisits: list[tuple[LeadFacts, datetime, str]] = []
    for feedback in due:
        lead = facts.get(feedback.lead_id)
        if lead is None or feedback.revisit_on is None:
            continue
        by = feedback.user.get_full_name() or feedback.user.get_username() if feedback.user else ""
        start = datetime.combine(feedback.revisit_on, datetime.min.time(), tzinfo=moment.tzinfo)
        revisits.append((lead, start, by or "A rep"))
    firings = on_revisit_due(revisits=revisits, specs=specs, now=moment)
    records = {f.lead_id: [{"kind": "feedback", "id": f.pk}] for f in due}
    return _resurface(firings, records=records, now=moment)


def triggers_on_identity_change(
    *, changes: Iterable[tuple[int, str, str]], now: datetime | None = None
) -> list[Resurfacing]:
    """(lead id, old email, new email) of leads whose address changed: a student or job seeker
    now at a company domain resurfaces (the status watch of the community and nurture
    paths)."""
    moment = now or timezone.now()
    items = list(changes)
    if not items:
        return []
    specs = selectors.trigger_specs()
    facts = selectors.lead_facts(
        leads=Lead.objects.filter(pk__in=[i[0] for i in items]), now=moment, specs=specs,
        last_touch=False,
    )  # fmt: skip
    firings = on_identity_change(
        changes=[
            (facts[lead_id], old, new, selectors.email_domain_type(new))
            for lead_id, old, new in items
            if lead_id in facts
        ],
        specs=specs,
        now=moment,
    )
    return _resurface(firings, now=moment)
