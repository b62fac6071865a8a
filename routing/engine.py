"""The routing decision, pure: lead facts, reps, rules and round-robin credits in; a decision
with its readable reason out.

No ORM and no settings. The caller loads rows into the records below, calls `route` for one
lead (or `Router.route` / `route_many` for many), and persists the decision and its
round-robin update; the dry run and the fairness simulations replay the same code.

Decision order:

1. A lead that is not Sales Ready goes to its queue, first match wins: a buyer-looking lead
   caught by a disqualifier (`needs_review`) to human review; the disqualifier's action
   route_success / route_support / route_community / nurture to customer success / support /
   community / marketing nurture; its action disqualify (competitor, analyst, spam, below
   minimum fit, and whatever else an admin set so) to the low-priority pool; then by tier,
   nurture and disqualify likewise, and a lead with no tier yet to human review. A rule's
   action outranks the tier, as in qualification. The queues other than sales and review are
   the alternative paths (routing.models.ALTERNATIVE_PATHS).
2. A lead with a preferred rep (the previous owner of a resurfaced lead, the owner of its
   account's play) goes to that rep when available, else to the rep's team; then a lead at an
   owned account goes to the account owner when the owner is active, not out of
   office, under open-lead capacity and under the daily cap. Skills do not matter here, and
   the owner's leads move no round-robin credit.
3. Otherwise to the owner's team (the other reps with the same `team`), by round-robin among
   those eligible (with the lead's own `required_skills`).
4. Otherwise the first active rule, by (priority, name), whose conditions all hold picks a
   pool; within it weighted round-robin (or least loaded) among the eligible reps: active,
   not out of office, under both caps, with the rule's and the lead's skills and, when the
   rule names languages, the lead's language. Only Sales Ready leads reach the rules.
5. No rule matched, or no one in the rule's pool is eligible: the fallback pool, with the
   same eligibility.
6. No one eligible anywhere: the lead still lands, unassigned in the sales queue for a
   manager, with the reason. A lead is never dropped.

Fair shares (`RoundRobinState`): value-aware weighted fair queueing. Each lead costs a rep
`units = (1 - value_share) + value_share * value / pool mean value` (the value part capped at
`max_value_ratio` pool means, so one giant deal cannot bench a rep for a quarter), and a rep's
credit grows by units / weight. The eligible rep with the lowest credit gets the next lead,
ties to the least recently assigned. Counting leads as well as value keeps counts fair when
values are missing or zero; counting value keeps big deals shared and not only their number.
The pick does not look at the incoming lead's own value: picking by "credit after this lead"
would hand the biggest deals to the heaviest weights (their credit grows slowest) and skew
value against count. Every pool has a clock, its virtual time: the lowest credit among the
reps eligible at the last pick. A rep whose credit is behind the clock (back from holiday,
freed from a full queue, added to the pool) starts again at the clock: it takes its share from
now on, and is neither flooded to "catch up" nor starved. The same holds for a rep passed over
because a lead needed a skill it lacks: it is not paid back later with extra leads.

Persisting: `Decision.credit_update` is two rows to upsert as they are, the clock of `key`
and the credit of (`key`, `rep_id`). Read them, and the reps' loads, under the same row locks
so that two workers never pick from the same stale credits.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

# The values of routing.models.Queue, routing.models.RoutingStrategy, scoring.models.Tier and
# scoring.models.RuleAction: the pure core imports no models (tests check they agree).
QUEUE_SALES = "sales"
QUEUE_NURTURE = "nurture"
QUEUE_SUCCESS = "success"
QUEUE_SUPPORT = "support"
QUEUE_COMMUNITY = "community"
QUEUE_LOW_PRIORITY = "low_priority"
QUEUE_REVIEW = "review"

WEIGHTED_ROUND_ROBIN = "weighted_round_robin"
LEAST_LOADED = "least_loaded"

SALES_READY = "sales_ready"
NURTURE = "nurture"
DISQUALIFY = "disqualify"

ACTION_DISQUALIFY = "disqualify"
ACTION_ROUTE_SUCCESS = "route_success"
ACTION_ROUTE_SUPPORT = "route_support"
ACTION_ROUTE_COMMUNITY = "route_community"
ACTION_NURTURE = "nurture"

# The disqualifier categories that say who the person is (scoring.models.RuleCategory), not how
# ready they are: a lead one of them catches leaves the sales queue even when a rep accepted
# it (`leaves_accepted_sales`). Below minimum fit and a non-decision-maker are judgements a rep
# who is working the lead may know better.
HARD_DISQUALIFIER_CATEGORIES = frozenset(
    {"competitor", "student", "job_seeker", "analyst", "spam", "existing_customer_support"}
)

# Which step of the decision order placed the lead (`Decision.via`).
VIA_REVIEW = "review"
VIA_QUEUE = "queue"
VIA_OWNER = "owner"
VIA_TEAM = "team"
VIA_RULE = "rule"
VIA_FALLBACK = "fallback"
VIA_UNASSIGNED = "unassigned"

_MIN_WEIGHT = 1e-6


def _label(code: str) -> str:
    return code.replace("_", " ")


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What routing needs to know about one qualified lead.

    `deal_size` is the predicted deal size that rules' `min_deal_size` compares with;
    `expected_deal_value` (conversion probability x deal size) is what round-robin shares
    fairly. `rule_category` and `rule_action` are those of the disqualification rule that
    decided the qualification, and `rule_reason_code` its reason code
    (`Qualification.disqualification_reason`).
    Geography is the lead's, or its account's where the lead has none; `region` uses
    accounts.models.Region codes.
    """

    lead_id: int
    tier: str
    rule_category: str = ""
    rule_action: str = ""
    rule_reason_code: str = ""
    needs_review: bool = False
    account_id: int | None = None
    account_owner_rep_id: int | None = None
    country: str = ""
    region: str = ""
    state: str = ""
    industry: str = ""
    employee_count: int | None = None
    deal_size: float | None = None
    expected_deal_value: float = 0.0
    lead_source: str = ""
    language: str = ""
    required_skills: frozenset[str] = frozenset()
    # A rep this lead should go back to before anything else, and why: the previous owner of
    # a resurfaced lead, or the owner of its account's orchestrated play. Unavailable (or not
    # a routable rep), routing goes on as usual, beginning with the rep's own team.
    preferred_rep_id: int | None = None
    preferred_reason: str = ""


@dataclass(frozen=True, slots=True)
class RepState:
    """A rep as routing sees them now: profile, availability and load.

    `skills` and `languages` are lower case, as the admin stores them. `open_leads` and
    `assigned_today` are counted by the caller (today in the business's time zone).
    `territories` (territory ids) describe the rep; routing goes through rules and pools.
    """

    rep_id: int
    user_id: int | None = None
    team: str = ""
    weight: float = 1.0
    skills: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    territories: frozenset[int] = frozenset()
    is_active: bool = True
    out_of_office_from: datetime | None = None
    out_of_office_until: datetime | None = None
    open_leads: int = 0
    max_open_leads: int = 50
    assigned_today: int = 0
    max_leads_per_day: int = 15

    def is_out_of_office(self, at: datetime) -> bool:
        """Same rule as SalesRep.is_out_of_office: an open-ended interval is allowed."""
        starts, ends = self.out_of_office_from, self.out_of_office_until
        if starts is None and ends is None:
            return False
        return (starts is None or starts <= at) and (ends is None or at < ends)

    def unavailable_because(self, at: datetime) -> str:
        """Why the rep cannot take a lead now, or "" when they can (skills aside)."""
        if not self.is_active:
            return "inactive"
        if self.is_out_of_office(at):
            return "out of office"
        if self.open_leads >= self.max_open_leads:
            return f"at capacity ({self.open_leads}/{self.max_open_leads} open leads)"
        if self.assigned_today >= self.max_leads_per_day:
            return f"at daily cap ({self.assigned_today}/{self.max_leads_per_day} today)"
        return ""

    def with_assignment(self) -> RepState:
        """The rep after taking one more lead (what `route_many` does between decisions)."""
        return RepState(
            rep_id=self.rep_id,
            user_id=self.user_id,
            team=self.team,
            weight=self.weight,
            skills=self.skills,
            languages=self.languages,
            territories=self.territories,
            is_active=self.is_active,
            out_of_office_from=self.out_of_office_from,
            out_of_office_until=self.out_of_office_until,
            open_leads=self.open_leads + 1,
            max_open_leads=self.max_open_leads,
            assigned_today=self.assigned_today + 1,
            max_leads_per_day=self.max_leads_per_day,
        )


@dataclass(frozen=True, slots=True)
class TerritorySpec:
    """Places: every non-empty list narrows, like a rule's conditions.

    {regions: [EMEA], countries: [DE, AT, CH]} is DACH; {countries: [US], states: [CA, WA]} is
    two US states. A lead whose coarser place is unknown is placed by a finer one that matched
    (a lead in DE with no region is in EMEA's DACH); an unknown finest listed level never
    matches.
    """

    name: str
    regions: Collection[str] = ()
    countries: Collection[str] = ()
    states: Collection[str] = ()
    territory_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", frozenset(r.strip().upper() for r in self.regions))
        object.__setattr__(self, "countries", frozenset(c.strip().upper() for c in self.countries))
        object.__setattr__(self, "states", frozenset(s.strip().casefold() for s in self.states))

    def contains(self, *, region: str = "", country: str = "", state: str = "") -> bool:
        return _territory_contains(
            self, region.strip().upper(), country.strip().upper(), state.strip().casefold()
        )


def _territory_contains(t: TerritorySpec, region: str, country: str, state: str) -> bool:
    if t.states and state not in t.states:
        return False
    if t.countries:
        if country:
            if country not in t.countries:
                return False
        elif not t.states:
            return False
    if t.regions:
        if region:
            if region not in t.regions:
                return False
        elif not (t.states or t.countries):
            return False
    return True


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A RoutingRule: every non-empty condition must hold; an empty one matches any lead.

    `required_skill` is not a condition on the lead but on the reps who may take it.
    Text conditions compare case-insensitively.
    """

    rule_id: int
    name: str
    pool_id: int
    priority: int = 100
    is_active: bool = True
    tiers: Collection[str] = ()
    territory: TerritorySpec | None = None
    industries: Collection[str] = ()
    min_employees: int | None = None
    max_employees: int | None = None
    min_deal_size: float | None = None
    lead_sources: Collection[str] = ()
    languages: Collection[str] = ()
    required_skill: str = ""
    strategy: str = WEIGHTED_ROUND_ROBIN

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", frozenset(self.tiers))
        for name in ("industries", "lead_sources", "languages"):
            values = getattr(self, name)
            object.__setattr__(self, name, frozenset(v.strip().casefold() for v in values))
        object.__setattr__(self, "required_skill", self.required_skill.strip().casefold())

    def matches(self, lead: LeadFacts) -> bool:
        return _rule_matches(self, _Facts.of(lead))


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """A RoutingPool and its members, in a stable order."""

    pool_id: int
    name: str
    rep_ids: Sequence[int] = ()
    is_fallback: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "rep_ids", tuple(self.rep_ids))


# --- round-robin state -------------------------------------------------------------------------


class RepCredit(NamedTuple):
    """One rep in one pool: its credit (units received / weight) and what it has received."""

    credit: float
    leads: int
    value: float
    last_seq: int


class PoolClock(NamedTuple):
    """One pool: its virtual time, a pick counter for recency, and what it has handed out."""

    virtual_time: float
    seq: int
    leads: int
    value: float


class CreditUpdate(NamedTuple):
    """The round-robin delta of one decision: the new rows, to upsert as they are."""

    key: str
    rep_id: int
    credit: RepCredit
    clock: PoolClock


EMPTY_CLOCK = PoolClock(0.0, 0, 0, 0.0)


def pool_key(pool_id: int) -> str:
    return f"pool:{pool_id}"


def team_key(team: str) -> str:
    return f"team:{team}"


class RoundRobinState:
    """Credits per round-robin key (`pool_key`, `team_key`) and rep, and each key's clock.

    `route` only reads it; the caller applies `Decision.credit_update` (and persists the two
    rows it names).
    """

    __slots__ = ("clocks", "credits")

    def __init__(
        self,
        clocks: Mapping[str, PoolClock] | None = None,
        credits: Mapping[str, Mapping[int, RepCredit]] | None = None,
    ) -> None:
        self.clocks: dict[str, PoolClock] = dict(clocks or {})
        self.credits: dict[str, dict[int, RepCredit]] = {
            key: dict(per_rep) for key, per_rep in (credits or {}).items()
        }

    def clock(self, key: str) -> PoolClock:
        return self.clocks.get(key, EMPTY_CLOCK)

    def credit(self, key: str, rep_id: int) -> RepCredit | None:
        return self.credits.get(key, {}).get(rep_id)

    def apply(self, update: CreditUpdate) -> None:
        self.clocks[update.key] = update.clock
        per_rep = self.credits.get(update.key)
        if per_rep is None:
            per_rep = self.credits[update.key] = {}
        per_rep[update.rep_id] = update.credit

    def copy(self) -> RoundRobinState:
        return RoundRobinState(self.clocks, self.credits)


# --- output ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one lead goes and why. `rep_id` is None for queues and for an unassigned lead;
    `reason_code` is the disqualification rule's when one sent the lead to its queue."""

    lead_id: int
    queue: str
    via: str
    reason: str
    reason_code: str = ""
    rep_id: int | None = None
    pool_id: int | None = None
    rule_id: int | None = None
    tier: str = ""
    expected_value: float = 0.0
    strategy: str = ""
    eligible: int = 0
    credit_update: CreditUpdate | None = None


class RepLoad(NamedTuple):
    leads: int
    value: float


@dataclass(frozen=True, slots=True)
class RoutingRun:
    """A sequence of decisions and the state after them (nothing of the inputs is changed)."""

    decisions: tuple[Decision, ...]
    reps: dict[int, RepState]
    rr_state: RoundRobinState

    def load_by_rep(self) -> dict[int, RepLoad]:
        """New leads and expected value per rep, over this run's decisions."""
        load: dict[int, RepLoad] = {}
        for decision in self.decisions:
            if decision.rep_id is not None:
                leads, value = load.get(decision.rep_id, (0, 0.0))
                load[decision.rep_id] = RepLoad(leads + 1, value + decision.expected_value)
        return load


# --- the engine ------------------------------------------------------------------------------


class _Facts(NamedTuple):
    """A lead's matching keys, normalised once per decision."""

    tier: str
    region: str
    country: str
    state: str
    industry: str
    employees: int | None
    deal_size: float | None
    source: str
    language: str

    @classmethod
    def of(cls, lead: LeadFacts) -> _Facts:
        return cls(
            lead.tier,
            lead.region.strip().upper(),
            lead.country.strip().upper(),
            lead.state.strip().casefold(),
            lead.industry.strip().casefold(),
            lead.employee_count,
            lead.deal_size,
            lead.lead_source.strip().casefold(),
            lead.language.strip().casefold(),
        )


def _rule_matches(rule: RuleSpec, f: _Facts) -> bool:
    if rule.tiers and f.tier not in rule.tiers:
        return False
    if rule.territory is not None and not _territory_contains(
        rule.territory, f.region, f.country, f.state
    ):
        return False
    if rule.industries and f.industry not in rule.industries:
        return False
    if rule.min_employees is not None and (f.employees is None or f.employees < rule.min_employees):
        return False
    if rule.max_employees is not None and (f.employees is None or f.employees > rule.max_employees):
        return False
    if rule.min_deal_size is not None and (f.deal_size is None or f.deal_size < rule.min_deal_size):
        return False
    if rule.lead_sources and f.source not in rule.lead_sources:
        return False
    return not (rule.languages and f.language not in rule.languages)


def _queue_decision(lead: LeadFacts, value: float) -> Decision | None:
    """Step 1: the queues of leads that are not for a sales rep; None for Sales Ready."""
    action, category, tier = lead.rule_action, lead.rule_category, lead.tier
    if lead.needs_review:
        caught_by = f"disqualifier {_label(category)}" if category else "a disqualifier"
        queue, reason = QUEUE_REVIEW, f"needs review: {caught_by} caught a buyer-looking lead"
        reason += " → human review queue"
    elif action == ACTION_ROUTE_SUCCESS:
        queue, reason = QUEUE_SUCCESS, f"rule {_label(category)} → customer success queue"
    elif action == ACTION_ROUTE_SUPPORT:
        queue, reason = QUEUE_SUPPORT, f"rule {_label(category)} → support queue"
    elif action == ACTION_ROUTE_COMMUNITY:
        queue, reason = QUEUE_COMMUNITY, f"rule {_label(category)} → community"
    elif action == ACTION_NURTURE:
        queue, reason = QUEUE_NURTURE, f"rule {_label(category)} → marketing nurture queue"
    elif action == ACTION_DISQUALIFY:
        queue, reason = QUEUE_LOW_PRIORITY, f"disqualified ({_label(category)}) → low-priority pool"
    elif tier == NURTURE:
        queue, reason = QUEUE_NURTURE, "tier Nurture → marketing nurture queue"
    elif tier == DISQUALIFY:
        queue, reason = QUEUE_LOW_PRIORITY, "tier Disqualify → low-priority pool"
    elif tier != SALES_READY:
        # Not qualified (yet): a person looks rather than the lead vanishing.
        queue, reason = QUEUE_REVIEW, f"tier {tier or 'unknown'} → human review queue"
    else:
        return None
    via = VIA_REVIEW if queue == QUEUE_REVIEW else VIA_QUEUE
    return Decision(
        lead_id=lead.lead_id,
        queue=queue,
        via=via,
        reason=reason,
        reason_code=lead.rule_reason_code if action else "",
        tier=tier,
        expected_value=value,
    )


def leaves_accepted_sales(lead: LeadFacts) -> bool:
    """Whether a lead a rep has accepted leaves the sales queue on its new qualification.

    An accepted lead is the rep's to work, whatever the model now says of it: a drop to
    Nurture, or below minimum fit, stays with them. A hard disqualifier (who the person is:
    `HARD_DISQUALIFIER_CATEGORIES`) takes it out of sales on to its path, unless the rule
    flagged it for review (a buyer-looking lead: the rep working it is that review).
    """
    return (
        bool(lead.rule_action)
        and not lead.needs_review
        and lead.rule_category in HARD_DISQUALIFIER_CATEGORIES
    )


class _Placement(NamedTuple):
    rep: RepState | None
    update: CreditUpdate | None
    eligible: int
    text: str
    strategy: str = ""


class Router:
    """Rules and pools compiled once; `route` many leads against them.

    `team_strategy` picks among the owner's team; `value_share` (0: count only, 1: value only)
    and `max_value_ratio` shape the round-robin units (see the module docstring).
    """

    def __init__(
        self,
        *,
        rules: Iterable[RuleSpec],
        pools: Iterable[PoolSpec] | Mapping[int, PoolSpec],
        fallback_pool_id: int | None = None,
        team_strategy: str = WEIGHTED_ROUND_ROBIN,
        value_share: float = 0.5,
        max_value_ratio: float = 10.0,
    ) -> None:
        if not 0.0 <= value_share <= 1.0:
            raise ValueError("value_share must be between 0 and 1")
        pool_list = list(pools.values() if isinstance(pools, Mapping) else pools)
        self.pools: dict[int, PoolSpec] = {pool.pool_id: pool for pool in pool_list}
        if fallback_pool_id is None:
            fallback_pool_id = next((p.pool_id for p in pool_list if p.is_fallback), None)
        self.fallback: PoolSpec | None = (
            self.pools.get(fallback_pool_id, PoolSpec(fallback_pool_id, f"#{fallback_pool_id}"))
            if fallback_pool_id is not None
            else None
        )
        self.rules: tuple[RuleSpec, ...] = tuple(
            sorted(
                (rule for rule in rules if rule.is_active),
                key=lambda r: (r.priority, r.name, r.rule_id),
            )
        )
        self.team_strategy = team_strategy
        self.count_units = 1.0 - value_share
        self.value_share = value_share
        self.max_value_ratio = max_value_ratio

    def first_rule(self, lead: LeadFacts) -> RuleSpec | None:
        facts = _Facts.of(lead)
        return next((rule for rule in self.rules if _rule_matches(rule, facts)), None)

    def route(
        self,
        lead: LeadFacts,
        *,
        reps: Mapping[int, RepState],
        rr_state: RoundRobinState,
        now: datetime,
    ) -> Decision:
        value = lead.expected_deal_value
        if not (value > 0 and math.isfinite(value)):
            value = 0.0
        queued = _queue_decision(lead, value)
        if queued is not None:
            return queued

        steps: list[str] = []
        skills = (
            frozenset(s.strip().casefold() for s in lead.required_skills)
            if lead.required_skills
            else frozenset()
        )

        tried: set[int] = set()
        preferred = lead.preferred_reason or "preferred rep"
        owners = (
            (lead.preferred_rep_id, preferred, preferred),
            (lead.account_owner_rep_id, "account owner", "owner"),
        )
        for owner_id, label, whose in owners:
            if owner_id is None or owner_id in tried:
                continue
            tried.add(owner_id)
            decision = self._owner_step(
                lead, owner_id, (label, whose), steps, reps, rr_state, now, skills, value
            )
            if decision is not None:
                return decision

        facts = _Facts.of(lead)
        rule: RuleSpec | None = None
        for candidate in self.rules:
            if _rule_matches(candidate, facts):
                rule = candidate
                break
        tried_pool: int | None = None
        rule_id: int | None = None
        if rule is None:
            steps.append("no rule matched")
        else:
            rule_id, tried_pool = rule.rule_id, rule.pool_id
            if rule.required_skill:
                skills = skills | {rule.required_skill}
            language = facts.language if rule.languages else ""
            pool = self.pools.get(rule.pool_id) or PoolSpec(rule.pool_id, f"#{rule.pool_id}")
            placed = self._place(
                pool_key(pool.pool_id),
                pool.rep_ids,
                reps,
                rr_state,
                now,
                exclude=None,
                skills=skills,
                language=language,
                strategy=rule.strategy,
                value=value,
            )
            if placed.rep is not None:
                steps.append(f"rule {rule.name} → pool {pool.name} → {placed.text}")
                return self._decision(lead, VIA_RULE, steps, placed, value, pool.pool_id, rule_id)
            steps.append(f"rule {rule.name} → pool {pool.name}: {placed.text}")

        fallback = self.fallback
        if fallback is None:
            steps.append("no fallback pool")
        elif fallback.pool_id != tried_pool:
            placed = self._place(
                pool_key(fallback.pool_id),
                fallback.rep_ids,
                reps,
                rr_state,
                now,
                exclude=None,
                skills=skills,
                language=facts.language if rule is not None and rule.languages else "",
                strategy=WEIGHTED_ROUND_ROBIN,
                value=value,
            )
            if placed.rep is not None:
                steps.append(f"fallback pool {fallback.name} → {placed.text}")
                return self._decision(
                    lead, VIA_FALLBACK, steps, placed, value, fallback.pool_id, rule_id
                )
            steps.append(f"fallback pool {fallback.name}: {placed.text}")

        steps.append("unassigned in the sales queue for a manager to assign")
        return Decision(
            lead_id=lead.lead_id,
            queue=QUEUE_SALES,
            via=VIA_UNASSIGNED,
            reason=" → ".join(steps),
            pool_id=fallback.pool_id if fallback is not None else tried_pool,
            rule_id=rule_id,
            tier=lead.tier,
            expected_value=value,
        )

    def route_many(
        self,
        leads: Iterable[LeadFacts],
        *,
        reps: Mapping[int, RepState] | Iterable[RepState],
        rr_state: RoundRobinState,
        now: datetime,
    ) -> RoutingRun:
        """Route in order, each decision seeing the loads and credits of the ones before."""
        current = _rep_map(reps)
        state = rr_state.copy()
        decisions: list[Decision] = []
        append = decisions.append
        for lead in leads:
            decision = self.route(lead, reps=current, rr_state=state, now=now)
            rep_id = decision.rep_id
            if rep_id is not None:
                current[rep_id] = current[rep_id].with_assignment()
            if decision.credit_update is not None:
                state.apply(decision.credit_update)
            append(decision)
        return RoutingRun(tuple(decisions), current, state)

    def _owner_step(
        self,
        lead: LeadFacts,
        owner_id: int,
        labels: tuple[str, str],
        steps: list[str],
        reps: Mapping[int, RepState],
        rr_state: RoundRobinState,
        now: datetime,
        skills: frozenset[str],
        value: float,
    ) -> Decision | None:
        """The owner, else the owner's team; None (with the steps noted) when neither can.
        `labels` name the owner in the reason ("account owner") and their team ("owner")."""
        label, whose = labels
        owner = reps.get(owner_id)
        why = "is not a routable rep" if owner is None else owner.unavailable_because(now)
        if not why:
            return Decision(
                lead_id=lead.lead_id,
                queue=QUEUE_SALES,
                via=VIA_OWNER,
                reason=" → ".join([*steps, label]),
                rep_id=owner_id,
                tier=lead.tier,
                expected_value=value,
                eligible=1,
            )
        steps.append(f"{label} {why}")
        if owner is None:
            return None
        if not owner.team:
            steps.append(f"{whose} has no team")
            return None
        team = owner.team
        members = [r.rep_id for r in reps.values() if r.team == team]
        placed = self._place(
            team_key(team),
            members,
            reps,
            rr_state,
            now,
            exclude=owner_id,
            skills=skills,
            language="",
            strategy=self.team_strategy,
            value=value,
        )
        if placed.rep is not None:
            steps.append(f"{whose}'s team ({team}) → {placed.text}")
            return self._decision(lead, VIA_TEAM, steps, placed, value, None, None)
        steps.append(f"{whose}'s team ({team}): {placed.text}")
        return None

    def _decision(
        self,
        lead: LeadFacts,
        via: str,
        steps: list[str],
        placed: _Placement,
        value: float,
        pool_id: int | None,
        rule_id: int | None,
    ) -> Decision:
        assert placed.rep is not None
        update = placed.update
        return Decision(
            lead_id=lead.lead_id,
            queue=QUEUE_SALES,
            via=via,
            reason=" → ".join(steps),
            rep_id=placed.rep.rep_id,
            pool_id=pool_id,
            rule_id=rule_id,
            tier=lead.tier,
            expected_value=value,
            strategy=placed.strategy,
            eligible=placed.eligible,
            credit_update=update,
        )

    def _place(
        self,
        key: str,
        member_ids: Sequence[int],
        reps: Mapping[int, RepState],
        rr_state: RoundRobinState,
        now: datetime,
        *,
        exclude: int | None,
        skills: frozenset[str],
        language: str,
        strategy: str,
        value: float,
    ) -> _Placement:
        """Pick among the eligible members of one pool (or team); say who was left out."""
        eligible: list[RepState] = []
        unknown = inactive = away = full = capped = unskilled = mute = 0
        for rep_id in member_ids:
            if rep_id == exclude:
                continue
            rep = reps.get(rep_id)
            if rep is None:
                unknown += 1
            elif not rep.is_active:
                inactive += 1
            elif (rep.out_of_office_from is not None or rep.out_of_office_until is not None) and (
                rep.is_out_of_office(now)
            ):
                away += 1
            elif rep.open_leads >= rep.max_open_leads:
                full += 1
            elif rep.assigned_today >= rep.max_leads_per_day:
                capped += 1
            elif skills and not skills <= rep.skills:
                unskilled += 1
            elif language and language not in rep.languages:
                mute += 1
            else:
                eligible.append(rep)

        left_out = ""
        if unknown or inactive or away or full or capped or unskilled or mute:
            parts = []
            if unknown:
                parts.append(f"{unknown} not routable")
            if inactive:
                parts.append(f"{inactive} inactive")
            if away:
                parts.append(f"{away} out of office")
            if full:
                parts.append(f"{full} at capacity")
            if capped:
                parts.append(f"{capped} at daily cap")
            if unskilled:
                parts.append(f"{unskilled} without skill {'+'.join(sorted(skills))}")
            if mute:
                parts.append(f"{mute} not speaking {language}")
            left_out = f" ({', '.join(parts)})"

        n = len(eligible)
        if not n:
            members = len(member_ids) - (exclude in member_ids)
            if not members:
                return _Placement(None, None, 0, "no reps")
            return _Placement(None, None, 0, f"no eligible rep of {members}{left_out}")

        chosen, update = self._pick(key, eligible, rr_state, strategy, value)
        if n == 1:
            how = "only eligible rep"
        elif strategy == LEAST_LOADED:
            how = f"least loaded of {n} eligible reps"
        else:
            how = f"weighted round-robin among {n} eligible reps"
        return _Placement(chosen, update, n, how + left_out, strategy)

    def _pick(
        self,
        key: str,
        eligible: list[RepState],
        rr_state: RoundRobinState,
        strategy: str,
        value: float,
    ) -> tuple[RepState, CreditUpdate]:
        clock = rr_state.clocks.get(key, EMPTY_CLOCK)
        credits = rr_state.credits.get(key)
        vt = clock.virtual_time
        # Credits behind the clock count as the clock: see the module docstring.
        best: RepState = eligible[0]
        best_credit = math.inf
        best_seq = 0
        lowest = math.inf
        least_loaded = strategy == LEAST_LOADED
        best_load = math.inf
        for rep in eligible:
            previous = credits.get(rep.rep_id) if credits is not None else None
            if previous is None:
                credit, seq = vt, -1
            else:
                credit = previous.credit if previous.credit > vt else vt
                seq = previous.last_seq
            if credit < lowest:
                lowest = credit
            if least_loaded:
                load = rep.open_leads / rep.max_open_leads
                if load > best_load:
                    continue
                if load < best_load:
                    best, best_load, best_credit, best_seq = rep, load, credit, seq
                    continue
            if credit < best_credit or (
                credit == best_credit
                and (seq < best_seq or (seq == best_seq and rep.rep_id < best.rep_id))
            ):
                best, best_credit, best_seq = rep, credit, seq

        if clock.leads and clock.value > 0:
            ratio = value * clock.leads / clock.value
            if ratio > self.max_value_ratio:
                ratio = self.max_value_ratio
        else:
            ratio = 1.0 if value > 0 else 0.0
        units = self.count_units + self.value_share * ratio
        weight = best.weight if best.weight > _MIN_WEIGHT else _MIN_WEIGHT
        previous = credits.get(best.rep_id) if credits is not None else None
        seq = clock.seq + 1
        new_credit = RepCredit(
            best_credit + units / weight,
            (previous.leads if previous is not None else 0) + 1,
            (previous.value if previous is not None else 0.0) + value,
            seq,
        )
        new_clock = PoolClock(
            lowest if lowest > vt else vt, seq, clock.leads + 1, clock.value + value
        )
        return best, CreditUpdate(key, best.rep_id, new_credit, new_clock)


def _rep_map(reps: Mapping[int, RepState] | Iterable[RepState]) -> dict[int, RepState]:
    if isinstance(reps, Mapping):
        return dict(reps)
    return {rep.rep_id: rep for rep in reps}


def route(
    lead: LeadFacts,
    *,
    reps: Mapping[int, RepState] | Iterable[RepState],
    rules: Iterable[RuleSpec],
    rr_state: RoundRobinState,
    pools: Iterable[PoolSpec] | Mapping[int, PoolSpec],
    now: datetime,
    fallback_pool_id: int | None = None,
) -> Decision:
    """Where one lead goes, and why. Reads `rr_state`; apply `Decision.credit_update` to it."""
    router = Router(rules=rules, pools=pools, fallback_pool_id=fallback_pool_id)
    rep_map = reps if isinstance(reps, Mapping) else _rep_map(reps)
    return router.route(lead, reps=rep_map, rr_state=rr_state, now=now)


def route_many(
    leads: Iterable[LeadFacts],
    *,
    reps: Mapping[int, RepState] | Iterable[RepState],
    rules: Iterable[RuleSpec],
    rr_state: RoundRobinState,
    pools: Iterable[PoolSpec] | Mapping[int, PoolSpec],
    now: datetime,
    fallback_pool_id: int | None = None,
) -> RoutingRun:
    """Route a sequence, counting each assignment against the rep's caps as it goes."""
    router = Router(rules=rules, pools=pools, fallback_pool_id=fallback_pool_id)
    return router.route_many(leads, reps=reps, rr_state=rr_state, now=now)
