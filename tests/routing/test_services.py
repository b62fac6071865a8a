"""Routing through the database: the engine's inputs built from rows, each branch of the decision
order persisted as an assignment, round-robin credits kept between runs, idempotency,
re-routing, manager reassignment, SLA deadlines and the query count of a batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Lead, LeadStatus
from routing import selectors
from routing.engine import pool_key, team_key
from routing.models import (
    Assignment,
    AssignmentEvent,
    AssignmentEventKind,
    AssignmentStatus,
    Queue,
    RoundRobinClock,
    RoundRobinCredit,
    RoutingPool,
    RoutingRule,
    RoutingSettings,
    SalesRep,
)
from routing.services import ReassignmentError, assignment_reassign, assignments_route
from scoring.models import Confidence, DisqualificationRule, Qualification, RuleAction, Tier
from tests.factories import (
    AccountFactory,
    AssignmentFactory,
    LeadFactory,
    RoutingPoolFactory,
    RoutingRuleFactory,
    SalesRepFactory,
    TerritoryFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# A Monday afternoon, inside business hours (09:00-17:00 UTC, Monday to Friday).
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def make_rep(name: str, **fields: Any) -> SalesRep:
    """A rep with room for everything a test sends, unless the test says otherwise."""
    fields.setdefault("max_open_leads", 1000)
    fields.setdefault("max_leads_per_day", 1000)
    user = UserFactory(username=name.lower(), first_name=name)
    rep: SalesRep = SalesRepFactory(user=user, **fields)
    return rep


@dataclass
class World:
    """EMEA leads go by rule to a pool of three AEs; anything else to an overflow pool of one."""

    ana: SalesRep
    ben: SalesRep
    cleo: SalesRep
    dev: SalesRep
    emea_pool: RoutingPool
    overflow: RoutingPool
    emea_rule: RoutingRule
    account: Account


def build_world(**rep_fields: dict[str, Any]) -> World:
    RoutingSettings.objects.update_or_create(
        pk=1, defaults={"timezone": "UTC", "opens_at": time(9), "closes_at": time(17)}
    )
    reps = {
        name: make_rep(name.capitalize(), **rep_fields.get(name, {}))
        for name in ("ana", "ben", "cleo", "dev")
    }
    emea_pool = RoutingPoolFactory(name="EMEA AEs")
    emea_pool.reps.set([reps["ana"], reps["ben"], reps["cleo"]])
    overflow = RoutingPoolFactory(name="Overflow", is_fallback=True)
    overflow.reps.set([reps["dev"]])
    territory = TerritoryFactory(name="EMEA", regions=["EMEA"])
    rule = RoutingRuleFactory(name="EMEA", priority=10, territory=territory, pool=emea_pool)
    account = AccountFactory(name="Hausbau", domain="hausbau.de", country="DE", region="EMEA")
    return World(
        reps["ana"],
        reps["ben"],
        reps["cleo"],
        reps["dev"],
        emea_pool,
        overflow,
        rule,
        account,
    )


def qualified_lead(
    account: Account | None,
    tier: str = Tier.SALES_READY,
    *,
    probability: float | None = 0.5,
    deal: tuple[int, int] | None = (20_000, 40_000),
    **qualification: Any,
) -> Lead:
    lead: Lead = LeadFactory(account=account)
    Qualification.objects.create(
        lead=lead,
        tier=tier,
        confidence=Confidence.HIGH,
        conversion_probability=probability,
        deal_size_low=deal[0] if deal else None,
        deal_size_high=deal[1] if deal else None,
        **qualification,
    )
    return lead


def leads(n: int, account: Account | None, **kwargs: Any) -> list[Lead]:
    return [qualified_lead(account, **kwargs) for _ in range(n)]


def route(*items: Lead, now: datetime = NOW) -> list[Assignment]:
    return assignments_route(lead_ids=[lead.pk for lead in items], now=now)


def current(lead: Lead) -> Assignment:
    return Assignment.objects.get(lead=lead, status=AssignmentStatus.OPEN)


def counts(assignments: list[Assignment]) -> dict[int | None, int]:
    result: dict[int | None, int] = {}
    for assignment in assignments:
        result[assignment.rep_id] = result.get(assignment.rep_id, 0) + 1
    return result


# --- the inputs --------------------------------------------------------------------------------


def test_lead_facts_come_from_the_lead_its_account_and_its_current_qualification() -> None:
    world = build_world()
    world.account.owner = world.dev.user
    world.account.industry = "Manufacturing"
    world.account.employee_count = 800
    world.account.save()
    rule = DisqualificationRule.objects.create(
        name="Students",
        category="student",
        reason_code="student-email",
        action=RuleAction.DISQUALIFY,
    )
    lead: Lead = LeadFactory(account=world.account, source="webinar", language="de")
    Qualification.objects.create(
        lead=lead, tier=Tier.NURTURE, confidence=Confidence.LOW, is_current=False
    )
    Qualification.objects.create(
        lead=lead,
        tier=Tier.DISQUALIFY,
        confidence=Confidence.HIGH,
        disqualification_reason=rule.reason_code,
        needs_review=True,
        conversion_probability=0.25,
        deal_size_low=Decimal("10000"),
        deal_size_high=Decimal("30000"),
    )

    (routable,) = selectors.routable_leads(
        lead_ids=[lead.pk], disqualifiers=selectors.disqualifier_actions()
    )
    facts = routable.facts
    assert (facts.tier, facts.rule_category, facts.rule_action, facts.needs_review) == (
        Tier.DISQUALIFY,
        "student",
        RuleAction.DISQUALIFY,
        True,
    )
    assert (facts.country, facts.region, facts.industry, facts.employee_count) == (
        "DE",
        "EMEA",
        "Manufacturing",
        800,
    )
    assert (facts.lead_source, facts.language) == ("webinar", "de")
    assert facts.account_owner_rep_id == world.dev.pk
    assert facts.deal_size == 20_000
    assert facts.expected_deal_value == pytest.approx(5_000)


def test_a_lead_without_a_deal_size_uses_the_configured_default_or_counts_by_number() -> None:
    lead = qualified_lead(None, probability=0.4, deal=None)
    (plain,) = selectors.routable_leads(lead_ids=[lead.pk], disqualifiers={})
    (defaulted,) = selectors.routable_leads(
        lead_ids=[lead.pk], disqualifiers={}, default_deal_size=10_000
    )
    assert plain.facts.expected_deal_value == 0.0
    assert defaulted.facts.expected_deal_value == pytest.approx(4_000)


def test_rep_states_count_current_leads_and_today_s_assignments_from_the_table() -> None:
    world = build_world()
    for status in (AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED, AssignmentStatus.CLOSED):
        AssignmentFactory(rep=world.ana, status=status, assigned_at=NOW - timedelta(hours=1))
    AssignmentFactory(rep=world.ana, status=AssignmentStatus.OPEN, assigned_at=NOW - timedelta(1))
    hours = RoutingSettings.load().business_hours()

    state = selectors.rep_states(now=NOW, hours=hours)[world.ana.pk]
    assert state.open_leads == 3  # open and accepted, today's and yesterday's
    assert state.assigned_today == 3  # whatever became of them
    assert state.user_id == world.ana.user_id
    assert state.weight == 1.0


# --- each branch of the decision order, persisted -------------------------------------------


def test_a_sales_ready_lead_is_assigned_by_rule_with_its_reason_value_and_deadline() -> None:
    world = build_world()
    lead = qualified_lead(world.account)

    (assignment,) = route(lead)

    assert assignment.pk is not None
    assert assignment.rep_id == world.ana.pk  # all equal: the lowest id goes first
    assert (assignment.queue, assignment.tier) == (Queue.SALES, Tier.SALES_READY)
    assert (assignment.rule_id, assignment.pool_id) == (world.emea_rule.pk, world.emea_pool.pk)
    assert assignment.reason == (
        "rule EMEA → pool EMEA AEs → weighted round-robin among 3 eligible reps"
    )
    assert assignment.expected_value == Decimal("15000.00")  # 0.5 x the middle of 20k-40k
    assert assignment.status == AssignmentStatus.OPEN
    assert assignment.sla_due_at == NOW + timedelta(hours=1)
    assert assignment.assigned_at == NOW
    lead.refresh_from_db()
    assert lead.owner_id == world.ana.user_id


def test_round_robin_credits_persist_between_runs() -> None:
    world = build_world()
    first = route(*leads(3, world.account))
    second = route(*leads(3, world.account))
    assert counts(first) == {world.ana.pk: 1, world.ben.pk: 1, world.cleo.pk: 1}
    assert counts(second) == {world.ana.pk: 1, world.ben.pk: 1, world.cleo.pk: 1}

    key = pool_key(world.emea_pool.pk)
    clock = RoundRobinClock.objects.get(key=key)
    assert (clock.seq, clock.leads) == (6, 6)
    assert clock.value == pytest.approx(6 * 15_000)
    credits = RoundRobinCredit.objects.filter(key=key)
    assert {c.rep_id: c.leads for c in credits} == {
        world.ana.pk: 2,
        world.ben.pk: 2,
        world.cleo.pk: 2,
    }


def test_a_heavier_weight_takes_a_larger_share() -> None:
    world = build_world(ana={"weight": Decimal("2")})
    assignments = route(*leads(12, world.account))
    assert counts(assignments) == {world.ana.pk: 6, world.ben.pk: 3, world.cleo.pk: 3}


def test_an_out_of_office_rep_gets_nothing() -> None:
    away = {
        "out_of_office_from": NOW - timedelta(days=1),
        "out_of_office_until": NOW + timedelta(days=2),
    }
    world = build_world(ben=away)
    assignments = route(*leads(6, world.account))
    assert counts(assignments) == {world.ana.pk: 3, world.cleo.pk: 3}
    assert assignments[0].reason.endswith("among 2 eligible reps (1 out of office)")


def test_a_full_rep_gets_nothing_counting_the_leads_they_already_hold() -> None:
    world = build_world(ben={"max_open_leads": 2})
    AssignmentFactory(rep=world.ben, assigned_at=NOW - timedelta(days=3))
    AssignmentFactory(rep=world.ben, status=AssignmentStatus.ACCEPTED)
    assignments = route(*leads(6, world.account))
    assert world.ben.pk not in counts(assignments)
    assert assignments[0].reason.endswith("(1 at capacity)")


def test_a_rep_stops_at_capacity_within_a_batch_and_after_it() -> None:
    world = build_world(ben={"max_open_leads": 2})
    assert counts(route(*leads(9, world.account)))[world.ben.pk] == 2
    assert world.ben.pk not in counts(route(*leads(3, world.account)))


def test_a_rep_at_the_daily_cap_gets_nothing_more_until_tomorrow() -> None:
    world = build_world(ben={"max_leads_per_day": 1})
    # Reassigned away since, but still received today; yesterday's does not count.
    AssignmentFactory(rep=world.ben, status=AssignmentStatus.REASSIGNED, assigned_at=NOW)
    AssignmentFactory(
        rep=world.ben, status=AssignmentStatus.CLOSED, assigned_at=NOW - timedelta(days=1)
    )
    today = route(*leads(4, world.account))
    assert world.ben.pk not in counts(today)
    assert today[0].reason.endswith("(1 at daily cap)")
    tomorrow = route(*leads(3, world.account), now=NOW + timedelta(days=1))
    assert counts(tomorrow)[world.ben.pk] == 1


def test_an_account_owner_gets_the_account_s_new_leads() -> None:
    world = build_world()
    world.account.owner = world.dev.user  # dev is not in the EMEA pool
    world.account.save(update_fields=["owner"])
    assignments = route(*leads(3, world.account))
    assert counts(assignments) == {world.dev.pk: 3}
    assert {a.reason for a in assignments} == {"account owner"}
    assert {(a.rule_id, a.pool_id) for a in assignments} == {(None, None)}
    # The owner's leads move no round-robin credit.
    assert not RoundRobinCredit.objects.exists()
    assert set(Lead.objects.values_list("owner_id", flat=True)) == {world.dev.user_id}


def test_an_unavailable_owner_s_leads_go_to_the_owner_s_team() -> None:
    away = {"out_of_office_from": NOW - timedelta(hours=1), "team": "DACH"}
    world = build_world(dev=away, cleo={"team": "DACH"})
    world.account.owner = world.dev.user
    world.account.save(update_fields=["owner"])
    (assignment,) = route(qualified_lead(world.account))
    assert assignment.rep_id == world.cleo.pk
    assert (
        assignment.reason == "account owner out of office → owner's team (DACH) → only eligible rep"
    )
    assert RoundRobinCredit.objects.get(key=team_key("DACH")).rep_id == world.cleo.pk


def test_a_lead_no_rule_matches_reaches_the_fallback_pool() -> None:
    world = build_world()
    apac = AccountFactory(country="JP", region="APAC")
    (assignment,) = route(qualified_lead(apac))
    assert assignment.rep_id == world.dev.pk
    assert assignment.pool_id == world.overflow.pk
    assert assignment.rule_id is None
    assert assignment.reason == "no rule matched → fallback pool Overflow → only eligible rep"


def test_when_no_one_is_eligible_the_lead_still_lands_unassigned_in_the_sales_queue() -> None:
    away = {"is_active": False}
    world = build_world(ana=away, ben=away, cleo=away, dev=away)
    lead = qualified_lead(world.account)
    (assignment,) = route(lead)
    assert (assignment.rep_id, assignment.queue) == (None, Queue.SALES)
    assert assignment.reason.endswith("unassigned in the sales queue for a manager to assign")
    assert assignment.sla_due_at == NOW + timedelta(hours=1)  # a manager's clock runs too
    lead.refresh_from_db()
    assert lead.owner_id is None


@pytest.mark.parametrize(
    ("tier", "rule", "queue", "reason"),
    [
        (Tier.NURTURE, None, Queue.NURTURE, "tier Nurture → marketing nurture queue"),
        (Tier.DISQUALIFY, None, Queue.LOW_PRIORITY, "tier Disqualify → low-priority pool"),
        (
            Tier.DISQUALIFY,
            ("competitor", RuleAction.DISQUALIFY),
            Queue.LOW_PRIORITY,
            "disqualified (competitor) → low-priority pool",
        ),
        (
            Tier.DISQUALIFY,
            ("existing_customer_support", RuleAction.ROUTE_SUPPORT),
            Queue.SUPPORT,
            "rule existing customer support → support queue",
        ),
        (
            Tier.SALES_READY,
            ("non_decision_maker", RuleAction.ROUTE_SUCCESS),
            Queue.SUCCESS,
            "rule non decision maker → customer success queue",
        ),
    ],
)
def test_a_lead_that_is_not_sales_ready_goes_to_its_queue_even_at_an_owned_account(
    tier: str, rule: tuple[str, str] | None, queue: str, reason: str
) -> None:
    world = build_world()
    world.account.owner = world.dev.user
    world.account.save(update_fields=["owner"])
    reason_code = ""
    if rule is not None:
        reason_code = "the-rule"
        DisqualificationRule.objects.create(
            name="A rule", category=rule[0], action=rule[1], reason_code=reason_code
        )
    lead = qualified_lead(world.account, tier, disqualification_reason=reason_code)

    (assignment,) = route(lead)

    assert (assignment.queue, assignment.rep_id, assignment.reason) == (queue, None, reason)
    assert (assignment.rule_id, assignment.pool_id) == (None, None)
    if queue in (Queue.NURTURE, Queue.LOW_PRIORITY):
        assert assignment.sla_due_at is None  # watched, not worked
    lead.refresh_from_db()
    assert lead.owner_id is None
    assert not RoundRobinCredit.objects.exists()


def test_a_lead_caught_by_a_disqualifier_that_looks_like_a_buyer_goes_to_review() -> None:
    build_world()
    DisqualificationRule.objects.create(name="Students", category="student", reason_code="edu")
    lead = qualified_lead(None, Tier.DISQUALIFY, disqualification_reason="edu", needs_review=True)
    (assignment,) = route(lead)
    assert assignment.queue == Queue.REVIEW
    assert assignment.reason == (
        "needs review: disqualifier student caught a buyer-looking lead → human review queue"
    )


def test_a_lead_not_qualified_yet_goes_to_review_rather_than_vanishing() -> None:
    build_world()
    lead: Lead = LeadFactory()
    (assignment,) = route(lead)
    assert (assignment.queue, assignment.tier) == (Queue.REVIEW, "")
    assert assignment.reason == "tier unknown → human review queue"


def test_rules_compare_the_predicted_deal_size_and_employee_count() -> None:
    world = build_world()
    big_pool = RoutingPoolFactory(name="Big deals")
    big_pool.reps.set([world.dev])
    RoutingRuleFactory(name="Big", priority=1, min_deal_size=Decimal("100000"), pool=big_pool)
    small = qualified_lead(world.account, deal=(20_000, 40_000))
    big = qualified_lead(world.account, deal=(80_000, 160_000))
    by_lead = {a.lead_id: a for a in route(small, big)}
    assert by_lead[big.pk].rep_id == world.dev.pk
    assert by_lead[small.pk].pool_id == world.emea_pool.pk


def test_converted_and_closed_leads_are_left_alone() -> None:
    world = build_world()
    won = qualified_lead(world.account)
    Lead.objects.filter(pk=won.pk).update(status=LeadStatus.CONVERTED)
    assert route(won) == []
    assert not Assignment.objects.exists()


# --- idempotency and re-routing --------------------------------------------------------------


def test_routing_twice_changes_nothing() -> None:
    world = build_world()
    batch = [
        *leads(4, world.account),
        qualified_lead(world.account, Tier.NURTURE),
        qualified_lead(None, Tier.DISQUALIFY),
    ]
    first = route(*batch)
    snapshot = list(Assignment.objects.order_by("pk").values())
    credits = list(RoundRobinCredit.objects.order_by("pk").values())

    assert len(first) == 6
    assert route(*batch, now=NOW + timedelta(minutes=5)) == []
    assert list(Assignment.objects.order_by("pk").values()) == snapshot
    assert list(RoundRobinCredit.objects.order_by("pk").values()) == credits


def test_a_lead_requalified_out_of_sales_is_re_routed_and_the_move_recorded() -> None:
    world = build_world()
    lead = qualified_lead(world.account)
    (first,) = route(lead)
    Qualification.objects.filter(lead=lead).update(is_current=False)
    Qualification.objects.create(lead=lead, tier=Tier.NURTURE, confidence=Confidence.MEDIUM)

    (second,) = route(lead, now=NOW + timedelta(days=1))

    first.refresh_from_db()
    assert first.status == AssignmentStatus.REASSIGNED
    assert (second.queue, second.rep_id, second.reassigned_from_id) == (
        Queue.NURTURE,
        None,
        first.pk,
    )
    event = AssignmentEvent.objects.get(assignment=second)
    assert event.kind == AssignmentEventKind.REASSIGNED
    assert (
        event.message == "Ana → the marketing nurture queue: tier Nurture → marketing nurture queue"
    )
    lead.refresh_from_db()
    assert lead.owner_id is None  # it has left Ana


def test_an_unassigned_lead_finds_a_rep_once_one_is_back() -> None:
    off = {"is_active": False}
    world = build_world(ana=off, ben=off, cleo=off, dev=off)
    lead = qualified_lead(world.account)
    (waiting,) = route(lead)
    SalesRep.objects.filter(pk=world.ben.pk).update(is_active=True)

    (placed,) = route(lead, now=NOW + timedelta(minutes=30))

    assert placed.rep_id == world.ben.pk
    assert placed.reassigned_from_id == waiting.pk
    waiting.refresh_from_db()
    assert waiting.status == AssignmentStatus.REASSIGNED
    assert route(lead, now=NOW + timedelta(minutes=31)) == []


def test_an_accepted_lead_stays_with_its_rep_whatever_its_new_tier() -> None:
    world = build_world()
    lead = qualified_lead(world.account)
    (assignment,) = route(lead)
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.ACCEPTED)
    Qualification.objects.filter(lead=lead).update(tier=Tier.DISQUALIFY)
    assert route(lead) == []


# --- manager reassignment --------------------------------------------------------------------


def test_a_manager_moves_a_lead_to_a_named_rep_and_the_move_is_recorded(
    manager_user: Any,
) -> None:
    world = build_world()
    lead = qualified_lead(world.account)
    (held,) = route(lead)

    moved = assignment_reassign(
        assignment=held, to_rep=world.cleo, by_user=manager_user, reason="Speaks German", now=NOW
    )

    held.refresh_from_db()
    assert held.status == AssignmentStatus.REASSIGNED
    assert (moved.rep_id, moved.reassigned_from_id, moved.status) == (
        world.cleo.pk,
        held.pk,
        AssignmentStatus.OPEN,
    )
    assert moved.reason == "reassigned by Morgan Lee: Speaks German → Cleo"
    assert moved.sla_due_at == NOW + timedelta(hours=1)
    event = AssignmentEvent.objects.get(assignment=moved)
    assert (event.kind, event.by_user_id) == (AssignmentEventKind.REASSIGNED, manager_user.pk)
    assert event.message.startswith("Ana → Cleo: ")
    lead.refresh_from_db()
    assert lead.owner_id == world.cleo.user_id


def test_a_manager_lets_the_engine_pick_anyone_but_the_current_rep(manager_user: Any) -> None:
    world = build_world()
    lead = qualified_lead(world.account)
    (held,) = route(lead)
    assert held.rep_id == world.ana.pk

    moved = assignment_reassign(assignment=held, by_user=manager_user, reason="Ana is swamped")

    assert moved.rep_id in {world.ben.pk, world.cleo.pk}
    assert moved.reason.startswith("reassigned by Morgan Lee: Ana is swamped → rule EMEA → ")
    assert AssignmentEvent.objects.get(assignment=moved).by_user_id == manager_user.pk


def test_a_reassignment_needs_a_reason_and_a_current_assignment() -> None:
    world = build_world()
    (held,) = route(qualified_lead(world.account))
    with pytest.raises(ReassignmentError, match="Say why"):
        assignment_reassign(assignment=held, to_rep=world.ben, reason=" ")
    with pytest.raises(ReassignmentError, match="already with"):
        assignment_reassign(assignment=held, to_rep=world.ana, reason="again")
    assignment_reassign(assignment=held, to_rep=world.ben, reason="first move")
    with pytest.raises(ReassignmentError, match="no longer"):
        assignment_reassign(assignment=held, to_rep=world.cleo, reason="stale page")


# --- SLA deadlines ---------------------------------------------------------------------------


def test_the_sales_ready_deadline_is_one_business_hour_in_the_team_s_time_zone() -> None:
    world = build_world()
    RoutingSettings.objects.filter(pk=1).update(timezone="America/New_York")
    friday_afternoon = datetime(2026, 3, 6, 16, 30, tzinfo=ZoneInfo("America/New_York"))
    (assignment,) = route(qualified_lead(world.account), now=friday_afternoon)
    assert assignment.sla_due_at == datetime(2026, 3, 9, 9, 30, tzinfo=ZoneInfo("America/New_York"))


def test_the_deadline_is_configurable() -> None:
    world = build_world()
    RoutingSettings.objects.filter(pk=1).update(sales_ready_sla_minutes=240)
    (assignment,) = route(qualified_lead(world.account))  # Monday 15:00
    assert assignment.sla_due_at == datetime(2026, 3, 3, 11, 0, tzinfo=UTC)


# --- queries ---------------------------------------------------------------------------------


def _queries_to_route(batch: list[Lead]) -> int:
    with CaptureQueriesContext(connection) as captured:
        created = route(*batch)
    assert len(created) == len(batch)
    return len(captured.captured_queries)


def test_routing_a_batch_takes_the_same_number_of_queries_for_5_leads_as_for_50() -> None:
    world = build_world()
    world.account.owner = world.dev.user
    world.account.save(update_fields=["owner"])
    other = AccountFactory(country="FR", region="EMEA")

    def mixed(n: int) -> list[Lead]:
        # Rule, owner, fallback and queue leads: every path of a batch.
        batch = []
        for i in range(n):
            kind = i % 4
            if kind == 0:
                batch.append(qualified_lead(other))
            elif kind == 1:
                batch.append(qualified_lead(world.account))
            elif kind == 2:
                batch.append(qualified_lead(None))
            else:
                batch.append(qualified_lead(other, Tier.NURTURE))
        return batch

    small, large = mixed(5), mixed(50)
    route(qualified_lead(None))  # the first run ever also creates the round-robin clocks
    few, many = _queries_to_route(small), _queries_to_route(large)
    assert many == few
    assert few <= 25


def test_routing_settings_refuse_an_unknown_time_zone_and_empty_workdays() -> None:
    settings_row = RoutingSettings.load()
    settings_row.timezone, settings_row.workdays = "Mars/Olympus", []
    with pytest.raises(ValidationError) as refused:
        settings_row.full_clean()
    assert set(refused.value.message_dict) == {"timezone", "workdays"}
    settings_row.timezone, settings_row.workdays = "Europe/Berlin", [0, 1, 2, 3]
    settings_row.full_clean()
    assert settings_row.business_hours().workdays == frozenset({0, 1, 2, 3})
