"""The routing dry run: where the last N qualified leads would be under a proposed rule set.

Sales managers edit rules in the admin and want to see the effect before saving. The dry run
reads the same rows the persisted path reads (`selectors.routing_setup`, `routable_leads`,
`rep_states`, `round_robin_state`), replays the leads through the pure engine
(`routing.engine.Router.route`) and writes nothing: no assignment, no credit, no clock.

How the replay follows routing:

- The leads are the N most recently qualified (converted and closed ones left out), replayed
  in the order they were qualified, each decision seeing the loads and credits of the ones
  before, from the reps' current open loads and round-robin state.
- A lead the proposal would place where it already is (the same queue; the same pool, with a
  holder still in it who has the rule's skill and language; the same owner or owner's team),
  and a sales lead a manager placed by hand, stays with its current rep. Routing never
  reshuffles a lead already with a rep (`services.assignments_route`), so only what the rules
  change shows up as a move: the saved rules, dry-run, move nothing but the leads whose place
  is no longer valid (waiting with no rep, or their rep no longer in the pool).
- Each lead is decided as if new, its holder's slot free (a rep exactly at capacity keeps
  what they hold); a lead that moves leaves that slot free and takes one of the new rep's.
- Daily caps are counted per day of qualification (today's from the real assignments), so
  that 500 leads of a month are not squeezed into one day's caps.
- Availability (active, out of office) is the reps' as of `now`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from routing import selectors
from routing.engine import (
    QUEUE_SALES,
    VIA_FALLBACK,
    VIA_OWNER,
    VIA_RULE,
    VIA_TEAM,
    Decision,
    LeadFacts,
    RepState,
    RuleSpec,
)
from routing.models import Assignment, Queue
from routing.selectors import RoutingSetup

DEFAULT_LAST_N = 500
MAX_LAST_N = 5000
DEFAULT_SAMPLE = 50

# A place is where a lead is, coarser than the rep: ("queue", code), ("owner",), ("team",),
# ("rule", rule id, pool id), ("fallback", pool id), ("pool", pool id), ("unassigned",),
# ("manual",) for a rep placed outside the rules, ("none",) for a lead never routed.
Place = tuple[str | int, ...]


class DryRunError(ValueError):
    """The dry run's input is invalid; the message says which and why."""


@dataclass(frozen=True)
class RepRow:
    """One rep: their share of these N leads now and in the dry run, and their open load."""

    rep_id: int
    name: str
    now_leads: int
    now_value: float
    dry_leads: int
    dry_value: float
    open_now: int
    open_after: int
    max_open_leads: int

    @property
    def change_leads(self) -> int:
        return self.dry_leads - self.now_leads

    @property
    def change_value(self) -> float:
        return self.dry_value - self.now_value

    @property
    def over_capacity(self) -> bool:
        return self.open_after > self.max_open_leads


@dataclass(frozen=True)
class PlaceRow:
    """One rule (with its pool), queue or fallback: how many of the N leads it holds."""

    label: str
    now_leads: int
    dry_leads: int

    @property
    def change(self) -> int:
        return self.dry_leads - self.now_leads


@dataclass(frozen=True)
class ChangedLead:
    """A lead the dry run places elsewhere: where it is, where it would go, and why."""

    lead_id: int
    now: str
    dry_run: str
    reason: str
    expected_value: float
    newly_assigned: bool


@dataclass(frozen=True)
class RoutingDryRun:
    last_n: int
    leads: int
    moved: int
    newly_assigned: int
    unchanged: int
    unassigned: int  # of the leads the dry run would leave in the sales queue with no rep
    reps: list[RepRow] = field(default_factory=list)
    places: list[PlaceRow] = field(default_factory=list)
    changed_sample: list[ChangedLead] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.moved + self.newly_assigned


def validate_last_n(value: object) -> int:
    """N as an int from 1 to MAX_LAST_N, or DryRunError saying what was wrong."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise DryRunError(f"last_n must be a whole number of leads, got {value!r}.")
    if not 1 <= value <= MAX_LAST_N:
        raise DryRunError(f"last_n must be between 1 and {MAX_LAST_N} leads, got {value}.")
    return value


def routing_dry_run(
    *,
    rules: list[RuleSpec] | None = None,
    last_n: int = DEFAULT_LAST_N,
    now: datetime | None = None,
    sample_limit: int = DEFAULT_SAMPLE,
) -> RoutingDryRun:
    """Where the last `last_n` qualified leads would be under `rules` (None: the saved rules),
    compared with where they are now. Reads only."""
    last_n = validate_last_n(last_n)
    moment = now or timezone.now()
    setup = selectors.routing_setup(rules=rules)
    saved = setup.rules if rules is None else {r.rule_id: r for r in selectors.rule_specs()}
    recent = dict(selectors.recent_qualifications(limit=last_n))
    default_size = setup.settings.default_deal_size
    leads = selectors.routable_leads(
        lead_ids=list(recent),
        disqualifiers=setup.disqualifiers,
        default_deal_size=float(default_size) if default_size is not None else None,
    )
    leads.sort(key=lambda lead: (recent[lead.facts.lead_id], lead.facts.lead_id))
    held_by_lead = selectors.current_assignments(lead_ids=list(recent))
    reps = selectors.rep_states(now=moment, hours=setup.hours)
    open_now = {rep_id: rep.open_leads for rep_id, rep in reps.items()}
    state = selectors.round_robin_state()

    zone = ZoneInfo(setup.hours.timezone)
    today = selectors.start_of_day(moment, setup.hours).date()
    real_today = {rep_id: rep.assigned_today for rep_id, rep in reps.items()}
    per_day: dict[tuple[date, int], int] = {}
    day: date | None = None

    now_load: dict[int, list[float]] = {}
    dry_load: dict[int, list[float]] = {}
    now_places: dict[Place, int] = {}
    dry_places: dict[Place, int] = {}
    moved = newly = unassigned = 0
    changed: list[tuple[LeadFacts, Assignment | None, Decision]] = []

    for lead in leads:
        facts = lead.facts
        lead_day = recent[facts.lead_id].astimezone(zone).date()
        if lead_day != day:
            day = lead_day
            # Each day's cap starts again: that day's real count (known for today only) plus
            # what the replay has put on it.
            for rep_id, rep in reps.items():
                count = (real_today.get(rep_id, 0) if day == today else 0) + per_day.get(
                    (day, rep_id), 0
                )
                reps[rep_id] = dataclasses.replace(rep, assigned_today=count)

        held = held_by_lead.get(facts.lead_id)
        value = facts.expected_deal_value
        before = _held_place(held, setup, saved)
        now_places[before] = now_places.get(before, 0) + 1
        if held is not None and held.rep_id is not None:
            _add(now_load, held.rep_id, value)

        # The lead is routed as if it were new: its holder's slot is free while it is decided,
        # so a rep exactly at capacity can keep what they hold.
        holder = held.rep_id if held is not None and held.rep_id in reps else None
        if holder is not None:
            old = reps[holder]
            reps[holder] = dataclasses.replace(old, open_leads=max(old.open_leads - 1, 0))
        decision = setup.router.route(facts, reps=reps, rr_state=state, now=moment)
        same_rep = (
            holder is not None
            and held is not None
            and (
                decision.rep_id,
                decision.queue,
            )
            == (holder, held.queue)
        )
        if same_rep or _stays(facts, held, decision, reps, setup):
            assert held is not None
            if same_rep:
                # The rules pick the rep who has it already, maybe by another rule.
                after = _decision_place(decision)
                if decision.credit_update is not None:
                    state.apply(decision.credit_update)
            else:
                after = before
            if holder is not None:
                kept = reps[holder]
                reps[holder] = dataclasses.replace(
                    kept,
                    open_leads=kept.open_leads + 1,
                    # Today's real count has the lead already; an earlier day's has only the
                    # replay's leads.
                    assigned_today=kept.assigned_today + (1 if lead_day != today else 0),
                )
                if lead_day != today:
                    per_day[lead_day, holder] = per_day.get((lead_day, holder), 0) + 1
                _add(dry_load, holder, value)
        else:
            after = _decision_place(decision)
            target = decision.rep_id
            if target is not None:
                reps[target] = reps[target].with_assignment()
                per_day[lead_day, target] = per_day.get((lead_day, target), 0) + 1
                _add(dry_load, target, decision.expected_value)
            if decision.credit_update is not None:
                state.apply(decision.credit_update)
            if target is not None and (held is None or held.rep_id is None):
                newly += 1
            else:
                moved += 1
            changed.append((facts, held, decision))
        dry_places[after] = dry_places.get(after, 0) + 1
        if after == ("unassigned",):
            unassigned += 1

    names = {rep_id: name for rep_id, (_, name) in setup.rep_users.items()}
    no_load = [0.0, 0.0]
    rep_rows = [
        RepRow(
            rep_id=rep_id,
            name=names.get(rep_id, f"rep #{rep_id}"),
            now_leads=int(now_load.get(rep_id, no_load)[0]),
            now_value=now_load.get(rep_id, no_load)[1],
            dry_leads=int(dry_load.get(rep_id, no_load)[0]),
            dry_value=dry_load.get(rep_id, no_load)[1],
            open_now=open_now.get(rep_id, 0),
            open_after=reps[rep_id].open_leads if rep_id in reps else 0,
            max_open_leads=reps[rep_id].max_open_leads if rep_id in reps else 0,
        )
        for rep_id in sorted(set(now_load) | set(dry_load), key=lambda r: (names.get(r, ""), r))
    ]
    place_rows = [
        PlaceRow(
            _place_label(place, setup, saved), now_places.get(place, 0), dry_places.get(place, 0)
        )
        for place in sorted(set(now_places) | set(dry_places), key=_place_order)
    ]
    # Newest first, as the leads were chosen.
    sample = [
        ChangedLead(
            lead_id=facts.lead_id,
            now=_held_label(held, setup, saved),
            dry_run=_target_label(decision, setup),
            reason=decision.reason,
            expected_value=decision.expected_value,
            newly_assigned=decision.rep_id is not None and (held is None or held.rep_id is None),
        )
        for facts, held, decision in reversed(changed[-sample_limit:] if sample_limit else [])
    ]
    return RoutingDryRun(
        last_n=last_n,
        leads=len(leads),
        moved=moved,
        newly_assigned=newly,
        unchanged=len(leads) - moved - newly,
        unassigned=unassigned,
        reps=rep_rows,
        places=place_rows,
        changed_sample=sample,
    )


def _add(load: dict[int, list[float]], rep_id: int, value: float) -> None:
    entry = load.setdefault(rep_id, [0.0, 0.0])
    entry[0] += 1
    entry[1] += value


def _stays(
    facts: LeadFacts,
    held: Assignment | None,
    decision: Decision,
    reps: Mapping[int, RepState],
    setup: RoutingSetup,
) -> bool:
    """Whether the proposal places the lead where it already is (see the module docstring)."""
    if held is None or held.queue != decision.queue:
        return False
    if _placed_by_hand(held):
        # A manager chose this rep; routing leaves a sales lead with its rep, whatever rules say.
        return held.rep_id in reps
    if decision.rep_id is None:
        return held.rep_id is None
    if held.rep_id is None:
        return False
    holder = reps.get(held.rep_id)
    if holder is None:
        return False
    if decision.via == VIA_OWNER:
        return held.rep_id == decision.rep_id
    if decision.via == VIA_TEAM:
        return held.pool_id is None and holder.team == reps[decision.rep_id].team
    pool = setup.pools.get(decision.pool_id or 0)
    if held.pool_id != decision.pool_id or pool is None or held.rep_id not in pool.rep_ids:
        return False
    rule = setup.rules.get(decision.rule_id) if decision.rule_id is not None else None
    if rule is not None:
        if rule.required_skill and rule.required_skill not in holder.skills:
            return False
        if rule.languages and facts.language.strip().casefold() not in holder.languages:
            return False
    return True


def _placed_by_hand(held: Assignment) -> bool:
    """A manager named the rep (`services.assignment_reassign`): no pool, no owner reason."""
    return (
        held.rep_id is not None
        and held.pool_id is None
        and held.reason != "account owner"
        and "owner's team" not in held.reason
    )


def _decision_place(decision: Decision) -> Place:
    if decision.queue != QUEUE_SALES:
        return ("queue", decision.queue)
    if decision.via == VIA_OWNER:
        return ("owner",)
    if decision.via == VIA_TEAM:
        return ("team",)
    if decision.via == VIA_RULE and decision.rule_id is not None:
        return ("rule", decision.rule_id, decision.pool_id or 0)
    if decision.via == VIA_FALLBACK:
        return ("fallback", decision.pool_id or 0)
    return ("unassigned",)


def _held_place(
    held: Assignment | None, setup: RoutingSetup, saved: Mapping[int, RuleSpec]
) -> Place:
    if held is None:
        return ("none",)
    if held.queue != Queue.SALES:
        return ("queue", held.queue)
    if held.rep_id is None:
        return ("unassigned",)
    if _placed_by_hand(held):
        return ("manual",)
    if held.pool_id is None:
        return ("owner",) if held.reason == "account owner" else ("team",)
    rule = saved.get(held.rule_id) if held.rule_id is not None else None
    if rule is not None and rule.pool_id == held.pool_id:
        return ("rule", rule.rule_id, held.pool_id)
    fallback = setup.router.fallback
    if fallback is not None and fallback.pool_id == held.pool_id:
        return ("fallback", held.pool_id)
    return ("pool", held.pool_id)


_PLACE_ORDER = {
    "rule": 0,
    "owner": 1,
    "team": 2,
    "fallback": 3,
    "pool": 4,
    "manual": 5,
    "unassigned": 6,
    "queue": 7,
    "none": 8,
}


def _place_order(place: Place) -> tuple[int, str]:
    return (_PLACE_ORDER.get(str(place[0]), 9), ":".join(map(str, place[1:])))


def _pool_name(setup: RoutingSetup, pool_id: int | str) -> str:
    pool = setup.pools.get(int(pool_id))
    return pool.name if pool is not None else f"#{pool_id}"


def _place_label(place: Place, setup: RoutingSetup, saved: Mapping[int, RuleSpec]) -> str:
    kind = place[0]
    if kind == "queue":
        return f"{Queue(str(place[1])).label} queue"
    if kind == "rule":
        rule_id = int(place[1])
        rule = setup.rules.get(rule_id) or saved.get(rule_id)
        name = rule.name if rule is not None else f"#{rule_id}"
        if rule_id == 0:
            name += " (new)"
        return f"Rule {name} → pool {_pool_name(setup, place[2])}"
    if kind == "fallback":
        return f"Fallback pool {_pool_name(setup, place[1])}"
    if kind == "pool":
        return f"Pool {_pool_name(setup, place[1])}"
    return {
        "owner": "Account owner",
        "team": "Account owner's team",
        "manual": "Placed by a manager",
        "unassigned": "Sales queue, no rep",
        "none": "Not routed yet",
    }[str(kind)]


def _rep_name(setup: RoutingSetup, rep_id: int) -> str:
    known = setup.rep_users.get(rep_id)
    return known[1] if known is not None else f"rep #{rep_id}"


def _held_label(held: Assignment | None, setup: RoutingSetup, saved: Mapping[int, RuleSpec]) -> str:
    if held is not None and held.rep_id is not None:
        return _rep_name(setup, held.rep_id)
    return _place_label(_held_place(held, setup, saved), setup, saved)


def _target_label(decision: Decision, setup: RoutingSetup) -> str:
    if decision.rep_id is not None:
        return _rep_name(setup, decision.rep_id)
    return _place_label(_decision_place(decision), setup, {})
