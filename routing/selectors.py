"""Reads of routing data: the routing engine's inputs, loaded in bulk (no query per lead)."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import Lead, LeadStatus
from routing.account_play_selectors import PLAY_OWNER, account_play_owners
from routing.engine import (
    LeadFacts,
    PoolClock,
    PoolSpec,
    RepCredit,
    RepState,
    RoundRobinState,
    Router,
    RuleSpec,
    TerritorySpec,
    pool_key,
    team_key,
)
from routing.models import (
    Assignment,
    AssignmentStatus,
    PathDestination,
    PathDestinationKind,
    RepRole,
    RoundRobinClock,
    RoundRobinCredit,
    RoutingPool,
    RoutingRule,
    RoutingSettings,
    SalesRep,
    Territory,
)
from routing.resurfacing_owners import resurfacing_owners
from routing.sla import BusinessHours
from scoring.models import DisqualificationRule, Qualification
from scoring.selectors import CurrentAssignment

WORKDAYS_PER_WEEK = 5

# What a rep holds: a lead not yet accepted, or one being worked. Both count against
# max_open_leads, and a lead has at most one of them (assignment_one_current_per_lead).
CURRENT_STATUSES = (AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED)
# Leads that are done: routing leaves them where they are.
FINISHED_LEAD_STATUSES = (LeadStatus.CONVERTED, LeadStatus.CLOSED)


def weekly_capacity() -> int:
    """New Sales Ready leads the active front-line reps can take in a week (per-day caps x 5)."""
    per_day = SalesRep.objects.filter(is_active=True, role__in=[RepRole.SDR, RepRole.AE]).aggregate(
        total=Sum("max_leads_per_day")
    )["total"]
    return int(per_day or 0) * WORKDAYS_PER_WEEK


# --- configuration: rules, pools, settings -----------------------------------------------------


def territory_spec(territory: Territory) -> TerritorySpec:
    return TerritorySpec(
        name=territory.name,
        regions=territory.regions or (),
        countries=territory.countries or (),
        states=territory.states or (),
        territory_id=territory.pk,
    )


def rule_spec(rule: RoutingRule) -> RuleSpec:
    """The engine's view of one rule, saved or not (the admin's dry run passes an edit)."""
    return RuleSpec(
        rule_id=rule.pk or 0,
        name=rule.name,
        pool_id=rule.pool_id,
        priority=rule.priority,
        is_active=rule.is_active,
        tiers=rule.tiers or (),
        territory=territory_spec(rule.territory) if rule.territory is not None else None,
        industries=rule.industries or (),
        min_employees=rule.min_employees,
        max_employees=rule.max_employees,
        min_deal_size=float(rule.min_deal_size) if rule.min_deal_size is not None else None,
        lead_sources=rule.lead_sources or (),
        languages=rule.languages or (),
        required_skill=rule.required_skill,
        strategy=rule.strategy,
    )


def rule_specs() -> list[RuleSpec]:
    """Every routing rule, inactive ones included (the Router drops them)."""
    return [
        rule_spec(rule)
        for rule in RoutingRule.objects.select_related("territory").order_by("priority", "pk")
    ]


def pool_specs() -> dict[int, PoolSpec]:
    """Every pool with its members in rep id order (round-robin ties need a stable order)."""
    members: dict[int, list[int]] = {}
    through = RoutingPool.reps.through.objects.order_by("salesrep_id")
    for pool_id, rep_id in through.values_list("routingpool_id", "salesrep_id"):
        members.setdefault(pool_id, []).append(rep_id)
    return {
        pool_id: PoolSpec(pool_id, name, members.get(pool_id, ()), is_fallback=is_fallback)
        for pool_id, name, is_fallback in RoutingPool.objects.order_by("pk").values_list(
            "pk", "name", "is_fallback"
        )
    }


def disqualifier_actions() -> dict[str, tuple[str, str]]:
    """Reason code → (category, action) of every disqualification rule, inactive ones too: a
    qualification decided by a rule that has since been switched off still carries its code."""
    return {
        code: (category, action)
        for code, category, action in DisqualificationRule.objects.values_list(
            "reason_code", "category", "action"
        )
    }


@dataclass(frozen=True)
class RoutingSetup:
    """Everything about routing that does not change from lead to lead, read once per run."""

    settings: RoutingSettings
    hours: BusinessHours
    router: Router
    rules: dict[int, RuleSpec]
    pools: dict[int, PoolSpec]
    disqualifiers: dict[str, tuple[str, str]]
    # Rep id → team, and team → members, as they were when the run started: used to choose
    # which rows to lock; the decision itself reads the locked rows.
    rep_teams: dict[int, str] = field(default_factory=dict)
    team_members: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Rep id → (user id, display name): for Lead.owner and readable reassignment records.
    rep_users: dict[int, tuple[int, str]] = field(default_factory=dict)
    # Path → id of its webhook destination: an assignment there is told to the webhook.
    webhook_paths: dict[str, int] = field(default_factory=dict)

    def round_robin_keys(self) -> set[str]:
        return {pool_key(pool_id) for pool_id in self.pools} | {
            team_key(team) for team in self.team_members
        }


def routing_setup(*, rules: list[RuleSpec] | None = None) -> RoutingSetup:
    """Routing's configuration; `rules` replaces the saved rules (the dry run's proposal)."""
    settings_row = RoutingSettings.load()
    if rules is None:
        rules = rule_specs()
    pools = pool_specs()
    rep_teams: dict[int, str] = {}
    rep_users: dict[int, tuple[int, str]] = {}
    team_members: dict[str, list[int]] = {}
    for rep_id, team, user_id, first, last, username in SalesRep.objects.order_by("pk").values_list(
        "pk", "team", "user_id", "user__first_name", "user__last_name", "user__username"
    ):
        rep_teams[rep_id] = team
        rep_users[rep_id] = (user_id, f"{first} {last}".strip() or username)
        if team:
            team_members.setdefault(team, []).append(rep_id)
    return RoutingSetup(
        settings=settings_row,
        hours=settings_row.business_hours(),
        router=Router(
            rules=rules,
            pools=pools,
            value_share=settings_row.value_share,
            max_value_ratio=settings_row.max_value_ratio,
        ),
        rules={rule.rule_id: rule for rule in rules},
        pools=pools,
        disqualifiers=disqualifier_actions(),
        rep_teams=rep_teams,
        team_members={team: tuple(ids) for team, ids in team_members.items()},
        rep_users=rep_users,
        webhook_paths=dict(
            PathDestination.objects.filter(kind=PathDestinationKind.WEBHOOK).values_list(
                "path", "pk"
            )
        ),
    )


# --- leads ---------------------------------------------------------------------------------------


class RoutableLead(NamedTuple):
    facts: LeadFacts
    owner_id: int | None  # Lead.owner, the user


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def deal_size_mid(low: Decimal | None, high: Decimal | None) -> float | None:
    """The middle of a predicted range, or its one known end."""
    if low is not None and high is not None:
        return (float(low) + float(high)) / 2
    return _float(low if low is not None else high)


def expected_value(
    probability: float | None, deal_size: float | None, default_deal_size: float | None
) -> float:
    """Conversion probability x deal size: what round-robin shares fairly besides counts.

    Without a probability or any deal size the lead counts by number only (value 0).
    """
    size = deal_size if deal_size is not None else default_deal_size
    if probability is None or size is None:
        return 0.0
    value = probability * size
    return value if value > 0 and math.isfinite(value) else 0.0


def routable_leads(
    *,
    lead_ids: Collection[int],
    disqualifiers: Mapping[str, tuple[str, str]],
    default_deal_size: float | None = None,
    lock: bool = False,
) -> list[RoutableLead]:
    """The engine's view of these leads (two queries), in lead id order.

    Leads that are converted or closed are left out. With `lock`, the lead rows are locked
    (SELECT ... FOR UPDATE OF the lead table; call it inside a transaction): every write of a
    lead's assignments takes this lock first, so no lead ever gets two current assignments.
    """
    leads: QuerySet[Lead] = (
        Lead.objects.filter(pk__in=list(lead_ids))
        .exclude(status__in=FINISHED_LEAD_STATUSES)
        .order_by("pk")
    )
    if lock:
        leads = leads.select_for_update(of=("self",))
    rows = list(
        leads.values_list(
            "pk",
            "owner_id",
            "country",
            "state",
            "language",
            "source",
            "account_id",
            "account__country",
            "account__state",
            "account__region",
            "account__industry",
            "account__employee_count",
            "account__owner__sales_rep__id",
        )
    )
    if not rows:
        return []
    qualifications = {
        row[0]: row[1:]
        for row in Qualification.objects.filter(
            lead_id__in=[row[0] for row in rows], is_current=True
        ).values_list(
            "lead_id",
            "tier",
            "disqualification_reason",
            "needs_review",
            "conversion_probability",
            "deal_size_low",
            "deal_size_high",
        )
    }
    # A resurfaced lead's previous owner first (TRIGGERS, routing/resurfacing_owners.py).
    preferred = resurfacing_owners(lead_ids=[row[0] for row in rows])
    # Then the owner of its account's orchestrated outreach (routing/account_plays.py).
    play_owners = account_play_owners(account_ids={row[6] for row in rows if row[6] is not None})
    if play_owners:
        for row in rows:
            if row[6] in play_owners:
                preferred.setdefault(row[0], (play_owners[row[6]], PLAY_OWNER))
    result = []
    for (
        lead_id,
        owner_id,
        country,
        state,
        language,
        source,
        account_id,
        account_country,
        account_state,
        region,
        industry,
        employees,
        owner_rep_id,
    ) in rows:
        tier, reason, needs_review, probability, low, high = qualifications.get(
            lead_id, ("", "", False, None, None, None)
        )
        category, action = disqualifiers.get(reason, ("", "")) if reason else ("", "")
        mid = deal_size_mid(low, high)
        # The lead's own place when it has one; its account's otherwise.
        place_country = country or account_country or ""
        place_state = state or (account_state or "" if place_country == account_country else "")
        facts = LeadFacts(
            lead_id=lead_id,
            tier=tier,
            rule_category=category,
            rule_action=action,
            rule_reason_code=reason or "",
            needs_review=needs_review,
            account_id=account_id,
            account_owner_rep_id=owner_rep_id,
            country=place_country,
            region=region or "",
            state=place_state,
            industry=industry or "",
            employee_count=employees,
            deal_size=mid,
            expected_deal_value=expected_value(probability, mid, default_deal_size),
            lead_source=source,
            language=language,
        )
        if lead_id in preferred:
            facts = replace(
                facts,
                preferred_rep_id=preferred[lead_id][0],
                preferred_reason=preferred[lead_id][1],
            )
        result.append(RoutableLead(facts, owner_id))
    return result


def current_assignments(*, lead_ids: Collection[int]) -> dict[int, Assignment]:
    """Each lead's current (open or accepted) assignment, if it has one."""
    return {
        assignment.lead_id: assignment
        for assignment in Assignment.objects.filter(
            lead_id__in=list(lead_ids), status__in=CURRENT_STATUSES
        ).order_by("assigned_at", "pk")
    }


def path_assignments(
    *, path: str, reason_codes: Collection[str] | None = None
) -> QuerySet[Assignment]:
    """The current assignments on one alternative path, optionally only those these rules sent
    there (`Assignment.reason_code`): where a watch of a path's leads starts (a student later
    at a company domain, a customer with support needs evaluating again). The shape of the
    index assignment_current_queue_idx, newest first."""
    assignments = Assignment.objects.filter(queue=path, status__in=CURRENT_STATUSES)
    if reason_codes is not None:
        assignments = assignments.filter(reason_code__in=list(reason_codes))
    return assignments.order_by("-assigned_at", "-pk")


def lead_current_assignment(lead_id: int) -> CurrentAssignment | None:
    """The lead's current assignment as scoring's API reports it (the provider named by
    LEADQUAL_CURRENT_ASSIGNMENT_PROVIDER, since scoring cannot import routing)."""
    assignment = (
        Assignment.objects.filter(lead_id=lead_id, status__in=CURRENT_STATUSES)
        .select_related("rep__user")
        .order_by("-assigned_at", "-pk")
        .first()
    )
    if assignment is None:
        return None
    rep = assignment.rep
    return CurrentAssignment(
        assignment_id=assignment.pk,
        status=assignment.status,
        queue=assignment.queue,
        rep_user_id=rep.user_id if rep is not None else None,
        rep_name=str(rep) if rep is not None else "",
        assigned_at=assignment.assigned_at,
        sla_due_at=assignment.sla_due_at,
        reason=assignment.reason,
    )


def recent_qualifications(*, limit: int) -> list[tuple[int, datetime]]:
    """(lead id, qualified at) of the `limit` leads qualified most recently (by their current
    qualification), newest first; converted and closed leads are left out, as routing leaves
    them."""
    return list(
        Qualification.objects.filter(is_current=True)
        .exclude(lead__status__in=FINISHED_LEAD_STATUSES)
        .order_by("-computed_at", "-pk")
        .values_list("lead_id", "computed_at")[:limit]
    )


# --- reps ------------------------------------------------------------------------------------


def start_of_day(now: datetime, hours: BusinessHours) -> datetime:
    """Midnight of `now`'s day where the team works: when the daily caps start again."""
    local = now.astimezone(ZoneInfo(hours.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def rep_loads(*, rep_ids: Collection[int], since: datetime) -> dict[int, tuple[int, int]]:
    """Rep id → (current leads, leads assigned since `since`), one query."""
    rows = (
        Assignment.objects.filter(rep_id__in=list(rep_ids))
        .filter(Q(status__in=CURRENT_STATUSES) | Q(assigned_at__gte=since))
        .order_by()
        .values("rep_id")
        .annotate(
            current=Count("pk", filter=Q(status__in=CURRENT_STATUSES)),
            today=Count("pk", filter=Q(assigned_at__gte=since)),
        )
        .values_list("rep_id", "current", "today")
    )
    return {rep_id: (current, today) for rep_id, current, today in rows}


def _normalised(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset(str(v).strip().casefold() for v in values or () if str(v).strip())


def rep_states(
    *,
    now: datetime,
    hours: BusinessHours,
    rep_ids: Collection[int] | None = None,
    lock: bool = False,
) -> dict[int, RepState]:
    """Reps as routing sees them now, with their loads counted from the assignments.

    With `lock`, the rep rows are locked in id order (the same order in every worker, so two
    workers cannot deadlock) before the loads are counted: under READ COMMITTED each later
    statement sees what any worker that held the locks before us committed.
    """
    reps: QuerySet[SalesRep] = SalesRep.objects.order_by("pk")
    if rep_ids is not None:
        reps = reps.filter(pk__in=list(rep_ids))
    if lock:
        reps = reps.select_for_update()
    rows = list(
        reps.values_list(
            "pk",
            "user_id",
            "team",
            "weight",
            "skills",
            "languages",
            "is_active",
            "out_of_office_from",
            "out_of_office_until",
            "max_open_leads",
            "max_leads_per_day",
        )
    )
    if not rows:
        return {}
    ids = [row[0] for row in rows]
    territories: dict[int, set[int]] = {}
    through = SalesRep.territories.through.objects.filter(salesrep_id__in=ids)
    for rep_id, territory_id in through.values_list("salesrep_id", "territory_id"):
        territories.setdefault(rep_id, set()).add(territory_id)
    loads = rep_loads(rep_ids=ids, since=start_of_day(now, hours))
    states = {}
    for (
        rep_id,
        user_id,
        team,
        weight,
        skills,
        languages,
        is_active,
        away_from,
        away_until,
        max_open,
        max_per_day,
    ) in rows:
        current, today = loads.get(rep_id, (0, 0))
        states[rep_id] = RepState(
            rep_id=rep_id,
            user_id=user_id,
            team=team,
            weight=float(weight),
            skills=_normalised(skills),
            languages=_normalised(languages),
            territories=frozenset(territories.get(rep_id, ())),
            is_active=is_active,
            out_of_office_from=away_from,
            out_of_office_until=away_until,
            open_leads=current,
            max_open_leads=max_open,
            assigned_today=today,
            max_leads_per_day=max_per_day,
        )
    return states


# --- round-robin state -------------------------------------------------------------------------


def round_robin_state(
    *, keys: Collection[str] | None = None, lock: bool = False
) -> RoundRobinState:
    """Clocks and credits of these keys (all keys when None).

    With `lock`, the clock rows are locked in key order: every change of a key's credits is
    made under its clock's lock, so the credits read next are not stale.
    """
    clocks: QuerySet[RoundRobinClock] = RoundRobinClock.objects.order_by("key")
    credits: QuerySet[RoundRobinCredit] = RoundRobinCredit.objects.order_by()
    if keys is not None:
        clocks = clocks.filter(key__in=list(keys))
        credits = credits.filter(key__in=list(keys))
    if lock:
        clocks = clocks.select_for_update()
    clock_rows = {
        key: PoolClock(virtual_time, seq, leads, value)
        for key, virtual_time, seq, leads, value in clocks.values_list(
            "key", "virtual_time", "seq", "leads", "value"
        )
    }
    per_key: dict[str, dict[int, RepCredit]] = {}
    for key, rep_id, credit, leads, value, last_seq in credits.values_list(
        "key", "rep_id", "credit", "leads", "value", "last_seq"
    ):
        per_key.setdefault(key, {})[rep_id] = RepCredit(credit, leads, value, last_seq)
    return RoundRobinState(clock_rows, per_key)


# --- SLA -----------------------------------------------------------------------------------------


def assignments_past_sla(*, now: datetime) -> list[tuple[int, int]]:
    """(assignment id, lead id) of open, untouched assignments past their deadline, by lead.

    The shape of the partial index assignment_sla_open_idx.
    """
    return list(
        Assignment.objects.filter(
            status=AssignmentStatus.OPEN, first_touch_at__isnull=True, sla_due_at__lt=now
        )
        .exclude(lead__status__in=FINISHED_LEAD_STATUSES)
        .order_by("lead_id", "pk")
        .values_list("pk", "lead_id")
    )
