"""The demo's live evidence: after the first qualification and routing, what arrives next.

`demo_live_evidence_send` sends one scene per re-qualification trigger through the product's
real write paths, as a customer's tracker, data vendors and reps would, so that a new user
opens the demo with leads that came back and says why:

- **dormant activity**: a closed lead and a lead quiet for weeks evaluate again (a burst of
  pricing, ROI, implementation pages and a demo request) through the event ingest
  (`accounts.ingest.events_ingest`, which re-qualifies in real time);
- **company change**: a funding round at an account, through the account-event feed
  (`accounts.account_feeds.account_events_store`);
- **competitor in the news**: the account's incumbent in the news, through the same feed;
- **new contact**: a new colleague at an engaged company writes in (the event ingest creates
  the lead), announced as `new_contact` evidence (`accounts.evidence_arrival`);
- **timing window**: a rep's "not buying now" verdict of ten days ago named yesterday as its
  revisit date (`scoring.feedback_revisit.revisit_on_validate` checks it as the form would),
  and the daily revisit run (`triggers_on_revisit_due`) finds it due.

The scenes' leads are those a rep would want back: not disqualified, at prospects, owned by
a rep who is available now where possible (routing's own view of availability), so that the
resurfaced leads go back to their previous owners. Sending twice does nothing: the scenes'
ids are fixed per world and the first run's touchpoints mark it as done.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from accounts.account_feeds import account_events_store
from accounts.evidence_arrival import (
    KIND_NEW_CONTACT,
    EvidenceArrival,
    account_evidence_on_commit,
)
from accounts.ingest import events_ingest
from accounts.models import AccountEvent, Lead, LeadStatus, Touchpoint
from leadqual.demo.load import DEMO_ID_PREFIX, demo_world_info
from leadqual.demo.world import VENDOR_SITE
from routing import selectors as routing_selectors
from routing.models import Assignment, AssignmentStatus, Queue
from scoring.feedback_revisit import revisit_on_validate
from scoring.models import (
    Feedback,
    FeedbackReason,
    FeedbackVerdict,
    Qualification,
    Resurfacing,
    ResurfacingStatus,
    Tier,
    TriggerKind,
)
from scoring.trigger_services import triggers_on_revisit_due

SOURCE = "demo"
DORMANT_AFTER_DAYS = 45
ENGAGED_DAYS = 60
VERDICT_DAYS_AGO = 10
# A buyer back in evaluation: (minutes ago, kind, page category, path, seconds, form type).
_BURST: tuple[tuple[int, str, str, str, int | None, str], ...] = (
    (95, "page_view", "pricing", "/pricing?plan=enterprise", 260, ""),
    (88, "page_view", "roi_calculator", "/roi-calculator", 340, ""),
    (80, "page_view", "implementation", "/implementation/timeline", 290, ""),
    (74, "page_view", "integration_docs", "/docs/integrations/salesforce", 240, ""),
    (66, "page_view", "security", "/security/soc2", 180, ""),
    (58, "page_view", "comparison", "/compare/alternatives", 200, ""),
    (50, "form_submit", "demo", "/demo", None, "demo_request"),
)
_NEW_CONTACT = ("Grace", "Okafor", "VP Finance")


class DemoWorldMissing(Exception):
    """There is no demo world to send evidence for."""


@dataclass(frozen=True)
class Scene:
    trigger: str
    lead_ids: tuple[int, ...]
    account_id: int | None
    what: str


@dataclass
class LiveEvidenceResult:
    sent: bool  # False: already sent for this world
    scenes: list[Scene] = field(default_factory=list)
    # trigger -> (resurfacings, routed back to the previous owner)
    resurfaced: dict[str, tuple[int, int]] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class _Lead:
    lead_id: int
    owner_id: int | None
    status: str
    account_id: int
    email: str
    tier: str
    probability: float


def demo_live_evidence_send(
    *, now: datetime | None = None, wait_seconds: float = 120.0
) -> LiveEvidenceResult:
    """Send the scenes (above) for the loaded demo world; report what resurfaced.

    With a real worker the re-qualifications run there: this waits up to `wait_seconds` for
    the scenes' resurfacings to be routed or settled. Raises DemoWorldMissing without a world.
    """
    info = demo_world_info()
    if info is None:
        raise DemoWorldMissing("No demo world is loaded: run manage.py generate_demo_data first.")
    started = time.perf_counter()
    moment = now or timezone.now()
    tag = f"{DEMO_ID_PREFIX}{info.seed}-live"
    if Touchpoint.objects.filter(external_id__startswith=tag).exists():
        return LiveEvidenceResult(sent=False)
    leads = _candidates(prefix=f"{DEMO_ID_PREFIX}{info.seed}-lead-", now=moment)
    free = _available_owners(now=moment)
    used: set[int] = set()
    used_accounts: set[int] = set()

    def pick(wanted: Iterable[_Lead]) -> _Lead | None:
        ranked = sorted(
            (c for c in wanted if c.lead_id not in used and c.account_id not in used_accounts),
            key=lambda c: (free.get(c.owner_id or 0, 0) <= 0, -c.probability, c.lead_id),
        )
        if not ranked:
            return None
        chosen = ranked[0]
        used.add(chosen.lead_id)
        used_accounts.add(chosen.account_id)
        if chosen.owner_id in free:
            free[chosen.owner_id] -= 1
        return chosen

    scenes: list[Scene] = []
    quiet = _last_touches([c.lead_id for c in leads])
    live = [c for c in leads if c.tier != Tier.SALES_READY and c.owner_id is not None]
    closed = pick(c for c in live if c.status == LeadStatus.CLOSED)
    dormant = pick(
        c
        for c in live
        if c.status in (LeadStatus.NEW, LeadStatus.WORKING)
        and quiet.get(c.lead_id, moment) <= moment - timedelta(days=DORMANT_AFTER_DAYS)
    )
    for lead, what in ((closed, "A closed lead"), (dormant, "A lead quiet for weeks")):
        if lead is not None:
            _burst(lead, tag=f"{tag}-{lead.lead_id}", now=moment)
            scenes.append(
                Scene(TriggerKind.DORMANT_ACTIVITY, (lead.lead_id,), lead.account_id,
                      f"{what} evaluates again: pricing, ROI, implementation, a demo request.")
            )  # fmt: skip

    open_live = [c for c in live if c.status in (LeadStatus.NEW, LeadStatus.WORKING)]
    company = pick(open_live)
    if company is not None:
        _event_send(
            company.account_id,
            kind="funding",
            title="Raised $45M Series C to expand operations",
            details={"round": "Series C", "amount_usd": 45_000_000},
            source="Crunchbase",
            external_id=f"{tag}-funding",
            now=moment,
        )
        scenes.append(
            Scene(TriggerKind.COMPANY_CHANGE, _account_leads(company.account_id),
                  company.account_id, "A funding round at the account.")
        )  # fmt: skip
    incumbents = _incumbents()
    news = pick(c for c in open_live if c.account_id in incumbents)
    if news is not None:
        vendor = incumbents[news.account_id]
        _event_send(
            news.account_id,
            kind="competitor_news",
            title=f"{vendor} raises list prices by 30% at renewal",
            details={"vendor": vendor},
            source="News",
            vendor=vendor,
            external_id=f"{tag}-news",
            now=moment,
        )
        scenes.append(
            Scene(TriggerKind.COMPETITOR_NEWS, _account_leads(news.account_id), news.account_id,
                  f"The account's incumbent, {vendor}, is in the news.")
        )  # fmt: skip
    engaged = pick(
        c
        for c in open_live
        if quiet.get(c.lead_id, moment - timedelta(days=999))
        >= moment - timedelta(days=ENGAGED_DAYS)
    )
    if engaged is not None:
        new_lead = _new_contact(engaged, tag=tag, now=moment)
        scenes.append(
            Scene(TriggerKind.NEW_CONTACT, (new_lead, *_account_leads(engaged.account_id)),
                  engaged.account_id, "A new colleague at an engaged company asks for a demo.")
        )  # fmt: skip
    held = _held_by_owner([c for c in leads if c.tier == Tier.SALES_READY])
    timing = pick(c for c in leads if c.lead_id in held)
    if timing is not None and timing.owner_id is not None:
        _verdict_backdated(timing, now=moment)
        triggers_on_revisit_due(today=timezone.localdate(moment))
        scenes.append(
            Scene(TriggerKind.TIMING_WINDOW, (timing.lead_id,), timing.account_id,
                  "A rep's 'not buying now' verdict named yesterday as its revisit date.")
        )  # fmt: skip
    result = LiveEvidenceResult(sent=True, scenes=scenes)
    result.resurfaced = _settled(scenes, since=moment, wait_seconds=wait_seconds)
    result.seconds = time.perf_counter() - started
    return result


# --- reads ---------------------------------------------------------------------------------


def _candidates(*, prefix: str, now: datetime) -> list[_Lead]:
    """The demo world's leads at prospects that no disqualifier caught, as last qualified."""
    rows = (
        Qualification.objects.filter(
            is_current=True,
            disqualification_reason="",
            lead__external_id__startswith=prefix,
            lead__account__isnull=False,
            lead__account__is_customer=False,
            lead__account__is_competitor=False,
        )
        .exclude(lead__status=LeadStatus.CONVERTED)
        .order_by("lead_id")
        .values_list(
            "lead_id", "lead__owner_id", "lead__status", "lead__account_id", "lead__email",
            "tier", "conversion_probability",
        )
    )  # fmt: skip
    return [
        _Lead(pk, owner, status, account, email, tier, float(probability or 0.0))
        for pk, owner, status, account, email, tier, probability in rows
    ]


def _last_touches(lead_ids: Sequence[int]) -> dict[int, datetime]:
    return dict(
        Touchpoint.objects.filter(lead_id__in=list(lead_ids))
        .values("lead_id")
        .annotate(last=Max("occurred_at"))
        .values_list("lead_id", "last")
    )


def _available_owners(*, now: datetime) -> dict[int, int]:
    """User id -> leads the rep can still take now (routing's availability: active, in the
    office, under both caps)."""
    setup = routing_selectors.routing_setup()
    free: dict[int, int] = {}
    for rep in routing_selectors.rep_states(now=now, hours=setup.hours).values():
        if rep.user_id is not None and not rep.unavailable_because(now):
            free[rep.user_id] = min(
                rep.max_open_leads - rep.open_leads, rep.max_leads_per_day - rep.assigned_today
            )
    return free


def _held_by_owner(leads: Sequence[_Lead]) -> set[int]:
    """Of these leads, those in their owner's sales queue."""
    owners = {c.lead_id: c.owner_id for c in leads}
    return {
        lead_id
        for lead_id, user_id in Assignment.objects.filter(
            lead_id__in=list(owners),
            status__in=(AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED),
            queue=Queue.SALES,
        ).values_list("lead_id", "rep__user_id")
        if user_id is not None and owners.get(lead_id) == user_id
    }


def _incumbents() -> dict[int, str]:
    """Account id -> the competitor whose contract it holds (its latest renewal's vendor)."""
    return dict(
        AccountEvent.objects.filter(kind="contract_renewal")
        .exclude(vendor="")
        .order_by("account_id", "renews_at")
        .values_list("account_id", "vendor")
    )


def _account_leads(account_id: int) -> tuple[int, ...]:
    return tuple(
        Lead.objects.filter(account_id=account_id).order_by("pk").values_list("pk", flat=True)
    )


# --- writes, each through the product's own path --------------------------------------------


def _burst(lead: _Lead, *, tag: str, now: datetime, email: str = "", person: Any = None) -> None:
    events = []
    for i, (minutes, kind, category, path, seconds, form) in enumerate(_BURST):
        event: dict[str, Any] = {
            "external_id": f"{tag}-{i}",
            "kind": kind,
            "occurred_at": (now - timedelta(minutes=minutes)).isoformat(),
            "url": f"{VENDOR_SITE}{path}",
            "page_category": category,
            "person": person or {"email": email or lead.email},
        }
        if seconds is not None:
            event["duration_seconds"] = seconds
        if form:
            event["form_type"] = form
        events.append(event)
    result = events_ingest(events=events, now=now)
    if result.invalid:
        raise ValueError(f"The demo's events were refused: {result.items}")


def _event_send(account_id: int, *, now: datetime, **fields: Any) -> None:
    item = {"account_id": account_id, "occurred_at": (now - timedelta(hours=2)).isoformat()}
    result = account_events_store(items=[{**item, **fields}], all_or_nothing=True, now=now)
    if result.invalid:
        raise ValueError(f"The demo's account event was refused: {result.items[0].errors}")


def _new_contact(colleague: _Lead, *, tag: str, now: datetime) -> int:
    """A new person at the colleague's company writes in; announced as a new contact."""
    first, last, title = _NEW_CONTACT
    domain = colleague.email.rsplit("@", 1)[1]
    email = f"{first.lower()}.{last.lower()}@{domain}"
    person = {
        "email": email,
        "external_id": f"{tag}-lead-1",
        "name": f"{first} {last}",
        "title": title,
    }
    _burst(colleague, tag=f"{tag}-contact", now=now, person=person)
    lead = Lead.objects.only("pk", "account_id").get(email=email)
    account_evidence_on_commit(
        [EvidenceArrival(account_id=lead.account_id or colleague.account_id,
                         kind=KIND_NEW_CONTACT, record_id=lead.pk)]
    )  # fmt: skip
    return lead.pk


def _verdict_backdated(lead: _Lead, *, now: datetime) -> None:
    """The rep's verdict as the feedback form would have stored it ten days ago."""
    given = now - timedelta(days=VERDICT_DAYS_AGO)
    revisit = revisit_on_validate(
        revisit_on=timezone.localdate(now) - timedelta(days=1), today=timezone.localdate(given)
    )
    Feedback.objects.create(
        lead_id=lead.lead_id,
        user_id=lead.owner_id,
        verdict=FeedbackVerdict.REJECT,
        reason=FeedbackReason.BAD_TIMING,
        comment="Budget opens with the new quarter; call back then.",
        revisit_on=revisit,
        created_at=given,
    )


def _settled(
    scenes: Sequence[Scene], *, since: datetime, wait_seconds: float
) -> dict[str, tuple[int, int]]:
    """Per trigger: the scenes' resurfacings, and how many went back to the previous owner;
    with a worker, once none is pending any more (or the wait is over)."""
    ids = {lead_id for scene in scenes for lead_id in scene.lead_ids}
    deadline = time.monotonic() + (0 if settings.CELERY_TASK_ALWAYS_EAGER else wait_seconds)
    while True:
        rows = list(
            Resurfacing.objects.filter(lead_id__in=ids, fired_at__gte=since).values_list(
                "trigger", "status", "routed_to_id", "previous_owner_id"
            )
        )
        pending = any(status == ResurfacingStatus.PENDING for _, status, _, _ in rows)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for trigger, status, routed_to, previous in rows:
        out[trigger][0] += 1
        if status == ResurfacingStatus.ROUTED and routed_to is not None and routed_to == previous:
            out[trigger][1] += 1
    return {trigger: (n, back) for trigger, (n, back) in sorted(out.items())}
