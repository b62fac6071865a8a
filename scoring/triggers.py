"""Re-qualification triggers: the seed's pattern 2, "which leads, and why", given the evidence
that just arrived.

Pure: plain facts in (the leads concerned, as they stood before the evidence, and the
evidence), `Firing`s out. The services that call it read the facts, store a "why resurfaced"
per firing, and re-qualify and route the leads at once; nothing here waits for the night.

The triggers, each configurable with a cooldown (a lead resurfaces by the same trigger at most
once per cooldown):

- ``dormant_activity``: a lead quiet for `dormant_days` (or closed, or recycled) acts again;
- ``company_change``: funding, a new leader or an initiative at the lead's account;
- ``timing_window``: a rep's "not buying now" verdict named a revisit date, and it has come;
- ``competitor_news``: a competitor is in the news at the account (a displacement opening);
- ``new_contact``: a new person appears at a company that was engaged recently; the new lead
  and its engaged colleagues re-qualify;
- ``now_at_company``: a student or job seeker now writes from a company domain;
- ``expansion_intent``: an existing customer routed to support or success evaluates again
  (pricing, a demo request, evaluation pages).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DORMANT_ACTIVITY = "dormant_activity"
COMPANY_CHANGE = "company_change"
TIMING_WINDOW = "timing_window"
COMPETITOR_NEWS = "competitor_news"
NEW_CONTACT = "new_contact"
NOW_AT_COMPANY = "now_at_company"
EXPANSION_INTENT = "expansion_intent"
TRIGGERS = (
    DORMANT_ACTIVITY,
    COMPANY_CHANGE,
    TIMING_WINDOW,
    COMPETITOR_NEWS,
    NEW_CONTACT,
    NOW_AT_COMPANY,
    EXPANSION_INTENT,
)
TRIGGER_LABELS = {
    DORMANT_ACTIVITY: "Dormant lead active again",
    COMPANY_CHANGE: "Company change",
    TIMING_WINDOW: "Timing objection window expired",
    COMPETITOR_NEWS: "Competitor in the news",
    NEW_CONTACT: "New contact at an engaged company",
    NOW_AT_COMPANY: "Now at a company",
    EXPANSION_INTENT: "Customer showing expansion intent",
}

CLOSED = "closed"
# A lead sales sent back to marketing (Salesforce's "Recycled", "Nurturing"): like a closed one,
# any new activity resurfaces it, however recent its last touch.
RECYCLED = "nurturing"
FINISHED = ("converted",)
COMPANY_CHANGE_KINDS = ("funding", "leadership_change", "initiative")
# Identity disqualifiers: re-qualifying such a lead on company news changes nothing, so
# company-level triggers pass them over (their own status watches are separate triggers).
IDENTITY_CATEGORIES = ("competitor", "student", "job_seeker", "analyst", "spam")
PERSON_CATEGORIES = ("student", "job_seeker")
SUPPORT_PATHS = ("success", "support")
# What a customer does when they evaluate again rather than ask for help.
EXPANSION_PAGES = ("pricing", "roi_calculator", "implementation", "comparison", "demo")
EXPANSION_FORMS = ("demo_request", "contact_sales", "trial")


@dataclass(frozen=True)
class TriggerSpec:
    """One trigger's settings (the admin's TriggerRule, as plain values)."""

    kind: str
    is_active: bool = True
    cooldown_days: float = 14.0
    # dormant_activity: how long without a touch makes a lead dormant.
    dormant_days: int = 30
    # new_contact: how recently a colleague must have been active for the company to count
    # as engaged.
    engaged_days: int = 90
    # company_change / competitor_news: the account event kinds that count (empty: the
    # defaults, COMPANY_CHANGE_KINDS and "competitor_news").
    event_kinds: tuple[str, ...] = ()
    # competitor_news / expansion_intent: third-party intent topics that count (a topic counts
    # when it contains one of these, case-insensitively) at or above `min_surge`.
    intent_topics: tuple[str, ...] = ()
    min_surge: float = 2.0

    def __post_init__(self) -> None:
        if self.kind not in TRIGGERS:
            raise ValueError(f"Unknown trigger {self.kind!r}; one of {', '.join(TRIGGERS)}.")
        if self.cooldown_days < 0 or self.dormant_days < 1 or self.engaged_days < 1:
            raise ValueError("Cooldown must be >= 0 days, windows at least a day.")


@dataclass(frozen=True)
class LeadFacts:
    """A lead as it stood before the evidence arrived."""

    lead_id: int
    account_id: int | None = None
    status: str = "new"
    tier: str = ""
    rule_category: str = ""
    path: str = ""  # the queue its current assignment is in ("" when none)
    email_domain_type: str = "corporate"  # "corporate", "free_mail" or "academic"
    last_touch_at: datetime | None = None  # the last touch *before* the new evidence
    # When each trigger last resurfaced it: the cooldown.
    last_fired: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class TouchFacts:
    lead_id: int
    occurred_at: datetime
    kind: str = "page_view"
    page_category: str = ""
    form_type: str = ""


@dataclass(frozen=True)
class EvidenceFacts:
    """Account evidence (accounts.evidence.AccountEvidence, as this module needs it)."""

    account_id: int
    kind: str  # "event", "intent", "technology"
    subtype: str  # the event's kind
    occurred_at: datetime
    summary: str
    vendor: str = ""


@dataclass(frozen=True)
class Firing:
    lead_id: int
    trigger: str
    # What arrived, as sentences a rep reads ("Funding round: Raised $20M Series B, 2 h ago").
    evidence: tuple[str, ...]
    at: datetime

    @property
    def label(self) -> str:
        return TRIGGER_LABELS[self.trigger]


def _active(specs: Mapping[str, TriggerSpec], kind: str) -> TriggerSpec | None:
    spec = specs.get(kind)
    return spec if spec is not None and spec.is_active else None


def cooled_down(lead: LeadFacts, spec: TriggerSpec, now: datetime) -> bool:
    """True when the trigger may resurface this lead again (no firing inside its cooldown)."""
    last = lead.last_fired.get(spec.kind)
    return last is None or now - last >= timedelta(days=spec.cooldown_days)


def _ago(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    if days < 1:
        hours = max(round(delta.total_seconds() / 3600), 0)
        return "just now" if hours == 0 else f"{hours} h ago"
    return f"{round(days)} day{'s' if round(days) != 1 else ''} ago"


def _touch_words(touch: TouchFacts) -> str:
    if touch.form_type:
        return touch.form_type.replace("_", " ")
    if touch.page_category:
        return f"{touch.page_category.replace('_', ' ')} page"
    return touch.kind.replace("_", " ")


def on_activity(
    *,
    leads: Iterable[LeadFacts],
    touches: Mapping[int, Sequence[TouchFacts]],
    specs: Mapping[str, TriggerSpec],
    now: datetime,
) -> list[Firing]:
    """Firings for leads with new touchpoints: dormant (or closed) leads active again, and
    customers on a support path evaluating again."""
    firings: list[Firing] = []
    dormant = _active(specs, DORMANT_ACTIVITY)
    expansion = _active(specs, EXPANSION_INTENT)
    for lead in leads:
        new = sorted(touches.get(lead.lead_id, ()), key=lambda t: t.occurred_at)
        if not new or lead.status in FINISHED:
            continue
        first = new[0]
        if dormant is not None and cooled_down(lead, dormant, now):
            quiet_for = (
                first.occurred_at - lead.last_touch_at if lead.last_touch_at is not None else None
            )
            if lead.status == CLOSED:
                why = "closed lead active again"
            elif lead.status == RECYCLED:
                why = "recycled lead active again"
            elif quiet_for is not None and quiet_for >= timedelta(days=dormant.dormant_days):
                why = f"first touch in {round(quiet_for.total_seconds() / 86400)} days"
            else:
                why = ""
            if why:
                firings.append(
                    Firing(
                        lead_id=lead.lead_id,
                        trigger=DORMANT_ACTIVITY,
                        evidence=(
                            f"{why.capitalize()}: {_touch_words(first)} "
                            f"({_ago(now - first.occurred_at)}), {len(new)} new "
                            f"touchpoint{'s' if len(new) != 1 else ''}.",
                        ),
                        at=now,
                    )
                )
        if (
            expansion is not None
            and (lead.path in SUPPORT_PATHS or lead.rule_category == "existing_customer_support")
            and cooled_down(lead, expansion, now)
        ):
            evaluating = [
                t
                for t in new
                if t.page_category in EXPANSION_PAGES or t.form_type in EXPANSION_FORMS
            ]
            if evaluating:
                firings.append(
                    Firing(
                        lead_id=lead.lead_id,
                        trigger=EXPANSION_INTENT,
                        evidence=tuple(
                            f"Customer on the {lead.path or 'support'} path: "
                            f"{_touch_words(t)} ({_ago(now - t.occurred_at)})."
                            for t in evaluating[:3]
                        ),
                        at=now,
                    )
                )
    return firings


def _company_trigger(item: EvidenceFacts, specs: Mapping[str, TriggerSpec]) -> str | None:
    if item.kind != "event":
        return None
    for trigger, default in (
        (COMPANY_CHANGE, COMPANY_CHANGE_KINDS),
        (COMPETITOR_NEWS, ("competitor_news",)),
    ):
        spec = specs.get(trigger)
        kinds = spec.event_kinds if spec is not None and spec.event_kinds else default
        if item.subtype in kinds:
            return trigger
    return None


def on_account_evidence(
    *,
    evidence: Iterable[EvidenceFacts],
    leads_by_account: Mapping[int, Sequence[LeadFacts]],
    specs: Mapping[str, TriggerSpec],
    now: datetime,
) -> list[Firing]:
    """Firings for the leads of accounts with a company change or a competitor in the news.

    Passed over: converted leads, leads already Sales Ready (nothing to resurface), and leads an
    identity rule disqualified (a competitor's employee is no buyer whatever the news).
    """
    grouped: dict[tuple[int, str], list[EvidenceFacts]] = {}
    for item in evidence:
        trigger = _company_trigger(item, specs)
        if trigger is not None and _active(specs, trigger) is not None:
            grouped.setdefault((item.account_id, trigger), []).append(item)
    firings: list[Firing] = []
    for (account_id, trigger), items in sorted(grouped.items()):
        spec = specs[trigger]
        lines = tuple(
            f"{item.summary} ({_ago(now - item.occurred_at)})."
            for item in sorted(items, key=lambda i: i.occurred_at, reverse=True)[:3]
        )
        for lead in leads_by_account.get(account_id, ()):
            if (
                lead.status in FINISHED
                or lead.tier == "sales_ready"
                or lead.rule_category in IDENTITY_CATEGORIES
                or not cooled_down(lead, spec, now)
            ):
                continue
            firings.append(Firing(lead_id=lead.lead_id, trigger=trigger, evidence=lines, at=now))
    return firings


@dataclass(frozen=True)
class IntentFacts:
    """A third-party intent signal (accounts.IntentSignal, as this module needs it)."""

    account_id: int
    topic: str
    surge: float
    occurred_at: datetime
    source: str = ""


def topic_matches(topic: str, spec: TriggerSpec) -> bool:
    words = topic.casefold()
    return any(w.strip().casefold() in words for w in spec.intent_topics if w.strip())


def on_intent(
    *,
    intents: Iterable[IntentFacts],
    leads_by_account: Mapping[int, Sequence[LeadFacts]],
    specs: Mapping[str, TriggerSpec],
    now: datetime,
) -> list[Firing]:
    """Firings for intent surges: a competitor-related topic (a displacement opening) for the
    account's leads as on_account_evidence passes them, and an expansion topic for its
    customers on a support or success path (a status watch)."""
    competitor = _active(specs, COMPETITOR_NEWS)
    expansion = _active(specs, EXPANSION_INTENT)
    grouped: dict[tuple[int, str], list[IntentFacts]] = {}
    for item in intents:
        for spec in (competitor, expansion):
            if (
                spec is not None
                and item.surge >= spec.min_surge
                and topic_matches(item.topic, spec)
            ):
                grouped.setdefault((item.account_id, spec.kind), []).append(item)
    firings: list[Firing] = []
    for (account_id, trigger), items in sorted(grouped.items()):
        spec = specs[trigger]
        lines = tuple(
            f"Intent surge on {item.topic!r} x{item.surge:.1f}"
            f"{f' ({item.source})' if item.source else ''}, {_ago(now - item.occurred_at)}."
            for item in sorted(items, key=lambda i: i.occurred_at, reverse=True)[:3]
        )
        for lead in leads_by_account.get(account_id, ()):
            if lead.status in FINISHED or not cooled_down(lead, spec, now):
                continue
            if trigger == EXPANSION_INTENT:
                if not (
                    lead.path in SUPPORT_PATHS or lead.rule_category == "existing_customer_support"
                ):
                    continue
                evidence = tuple(
                    f"Customer on the {lead.path or 'support'} path: {line}" for line in lines
                )
            else:
                if lead.tier == "sales_ready" or lead.rule_category in IDENTITY_CATEGORIES:
                    continue
                evidence = lines
            firings.append(Firing(lead_id=lead.lead_id, trigger=trigger, evidence=evidence, at=now))
    return firings


def on_new_contacts(
    *,
    new_leads: Iterable[LeadFacts],
    colleagues_by_account: Mapping[int, Sequence[LeadFacts]],
    specs: Mapping[str, TriggerSpec],
    now: datetime,
    names: Mapping[int, str] | None = None,
) -> list[Firing]:
    """A new contact at a company whose people were active in the last `engaged_days`: the
    new lead and those engaged colleagues re-qualify (a committee may be forming)."""
    spec = _active(specs, NEW_CONTACT)
    if spec is None:
        return []
    names = names or {}
    window = timedelta(days=spec.engaged_days)
    firings: list[Firing] = []
    seen: set[int] = set()
    for new in new_leads:
        if new.account_id is None:
            continue
        engaged = [
            c
            for c in colleagues_by_account.get(new.account_id, ())
            if c.lead_id != new.lead_id
            and c.last_touch_at is not None
            and now - c.last_touch_at <= window
            and c.status not in FINISHED
            and c.rule_category not in IDENTITY_CATEGORIES
        ]
        if not engaged:
            continue
        who = names.get(new.lead_id) or f"lead {new.lead_id}"
        line = (
            f"New contact {who} at a company with {len(engaged)} "
            f"colleague{'s' if len(engaged) != 1 else ''} active in {spec.engaged_days} days."
        )
        for lead in (new, *engaged):
            if lead.lead_id in seen or not cooled_down(lead, spec, now):
                continue
            seen.add(lead.lead_id)
            firings.append(
                Firing(lead_id=lead.lead_id, trigger=NEW_CONTACT, evidence=(line,), at=now)
            )
    return firings


def on_revisit_due(
    *,
    revisits: Iterable[tuple[LeadFacts, datetime, str]],
    specs: Mapping[str, TriggerSpec],
    now: datetime,
) -> list[Firing]:
    """Leads whose "not buying now" verdict named a revisit date that has come: (lead, the
    revisit moment, who said it)."""
    spec = _active(specs, TIMING_WINDOW)
    if spec is None:
        return []
    firings = []
    for lead, due, by in revisits:
        if due > now or lead.status in FINISHED or not cooled_down(lead, spec, now):
            continue
        firings.append(
            Firing(
                lead_id=lead.lead_id,
                trigger=TIMING_WINDOW,
                evidence=(f"{by} said 'not buying now' and asked to revisit on {due:%Y-%m-%d}.",),
                at=now,
            )
        )
    return firings


def on_identity_change(
    *,
    changes: Iterable[tuple[LeadFacts, str, str, str]],
    specs: Mapping[str, TriggerSpec],
    now: datetime,
) -> list[Firing]:
    """A student or job seeker whose address moved to a company domain: (the lead as it was,
    the old email, the new email, the new email's domain type)."""
    spec = _active(specs, NOW_AT_COMPANY)
    if spec is None:
        return []
    firings = []
    for lead, old, new, new_type in changes:
        if (
            lead.rule_category in PERSON_CATEGORIES
            and new_type == "corporate"
            and old.rsplit("@", 1)[-1] != new.rsplit("@", 1)[-1]
            and cooled_down(lead, spec, now)
        ):
            role = "student" if lead.rule_category == "student" else "job seeker"
            firings.append(
                Firing(
                    lead_id=lead.lead_id,
                    trigger=NOW_AT_COMPANY,
                    evidence=(f"Was a {role} ({old}); now writes from {new}.",),
                    at=now,
                )
            )
    return firings


def merge_firings(firings: Iterable[Firing]) -> list[Firing]:
    """One firing per lead and trigger (their evidence joined), in a stable order."""
    merged: dict[tuple[int, str], Firing] = {}
    for f in firings:
        key = (f.lead_id, f.trigger)
        if key in merged:
            old = merged[key]
            evidence = old.evidence + tuple(e for e in f.evidence if e not in old.evidence)
            merged[key] = Firing(f.lead_id, f.trigger, evidence, max(old.at, f.at))
        else:
            merged[key] = f
    return [merged[k] for k in sorted(merged, key=lambda k: (k[0], TRIGGERS.index(k[1])))]


def change_line(
    *,
    before: tuple[str, float | None] | None,
    after: tuple[str, float | None],
    labels: Mapping[str, str],
) -> str:
    """The change from the previous qualification: "Nurture 38% → Sales Ready 61%"."""

    def show(tier: str, probability: float | None) -> str:
        text = labels.get(tier, tier or "not qualified")
        return f"{text} {probability:.0%}" if probability is not None else text

    if before is None:
        return f"first assessment: {show(*after)}"
    return f"{show(*before)} → {show(*after)}"
