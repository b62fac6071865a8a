"""The routing decision core: every step of the decision order, eligibility, rule conditions,
round-robin mechanics and the reasons. Pure: no database."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from routing.engine import (
    ACTION_DISQUALIFY,
    ACTION_NURTURE,
    ACTION_ROUTE_SUCCESS,
    ACTION_ROUTE_SUPPORT,
    DISQUALIFY,
    LEAST_LOADED,
    NURTURE,
    QUEUE_LOW_PRIORITY,
    QUEUE_NURTURE,
    QUEUE_REVIEW,
    QUEUE_SALES,
    QUEUE_SUCCESS,
    QUEUE_SUPPORT,
    SALES_READY,
    VIA_FALLBACK,
    VIA_OWNER,
    VIA_QUEUE,
    VIA_REVIEW,
    VIA_RULE,
    VIA_TEAM,
    VIA_UNASSIGNED,
    WEIGHTED_ROUND_ROBIN,
    Decision,
    LeadFacts,
    PoolSpec,
    RepState,
    RoundRobinState,
    Router,
    RuleSpec,
    TerritorySpec,
    pool_key,
    route,
    route_many,
    team_key,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
AWAY: dict[str, Any] = {
    "out_of_office_from": NOW - timedelta(days=1),
    "out_of_office_until": NOW + timedelta(days=3),
}
FULL: dict[str, Any] = {"open_leads": 50, "max_open_leads": 50}
CAPPED: dict[str, Any] = {"assigned_today": 15, "max_leads_per_day": 15}

EMEA_AES, NA_SDRS, OVERFLOW = 10, 20, 99
EMEA = TerritorySpec("EMEA", regions=["EMEA"])
NORTH_AMERICA = TerritorySpec("North America", regions=["NA"])
POOLS = [
    PoolSpec(EMEA_AES, "EMEA AEs", [1, 2, 3]),
    PoolSpec(NA_SDRS, "NA SDRs", [4, 5]),
    PoolSpec(OVERFLOW, "Overflow", [6, 7], is_fallback=True),
]
EMEA_RULE = RuleSpec(1, "EMEA", EMEA_AES, priority=30, territory=EMEA)
NA_RULE = RuleSpec(2, "North America", NA_SDRS, priority=40, territory=NORTH_AMERICA)
RULES = [EMEA_RULE, NA_RULE]


def rep(rep_id: int, **overrides: Any) -> RepState:
    """A rep with room for every lead a test sends, unless the test says otherwise."""
    fields: dict[str, Any] = {"max_open_leads": 1000, "max_leads_per_day": 1000}
    fields.update(overrides)
    return RepState(rep_id=rep_id, user_id=100 + rep_id, **fields)


def reps(*rep_states: RepState, count: int = 7, **changed: dict[str, Any]) -> dict[int, RepState]:
    """Reps 1..count, available and with room, replaced by the given ones and changed by
    `r<id>={...}` overrides."""
    everyone = {i: rep(i) for i in range(1, count + 1)}
    everyone.update({r.rep_id: r for r in rep_states})
    for name, fields in changed.items():
        rep_id = int(name.removeprefix("r"))
        everyone[rep_id] = dataclasses.replace(everyone[rep_id], **fields)
    return everyone


def lead(lead_id: int = 1, **overrides: Any) -> LeadFacts:
    fields: dict[str, Any] = {"tier": SALES_READY, "region": "EMEA", "country": "DE"}
    fields.update(overrides)
    return LeadFacts(lead_id=lead_id, **fields)


def decide(
    the_lead: LeadFacts,
    rep_states: dict[int, RepState] | None = None,
    *,
    rules: list[RuleSpec] | None = None,
    pools: list[PoolSpec] | None = None,
    state: RoundRobinState | None = None,
    now: datetime = NOW,
    fallback_pool_id: int | None = OVERFLOW,
) -> Decision:
    return route(
        the_lead,
        reps=reps() if rep_states is None else rep_states,
        rules=RULES if rules is None else rules,
        rr_state=RoundRobinState() if state is None else state,
        pools=POOLS if pools is None else pools,
        now=now,
        fallback_pool_id=fallback_pool_id,
    )


def run(
    leads: list[LeadFacts],
    rep_states: dict[int, RepState] | None = None,
    *,
    rules: list[RuleSpec] | None = None,
    pools: list[PoolSpec] | None = None,
    now: datetime = NOW,
) -> list[Decision]:
    return list(
        route_many(
            leads,
            reps=reps() if rep_states is None else rep_states,
            rules=RULES if rules is None else rules,
            rr_state=RoundRobinState(),
            pools=POOLS if pools is None else pools,
            now=now,
            fallback_pool_id=OVERFLOW,
        ).decisions
    )


def many(n: int, **overrides: Any) -> list[LeadFacts]:
    return [lead(i, **overrides) for i in range(1, n + 1)]


def received(decisions: list[Decision]) -> Counter[int | None]:
    return Counter(d.rep_id for d in decisions)


# --- step 1: leads that are not Sales Ready go to their queues ------------------------------


@pytest.mark.parametrize(
    ("tier", "category", "action", "queue", "reason"),
    [
        (NURTURE, "", "", QUEUE_NURTURE, "tier Nurture → marketing nurture queue"),
        (DISQUALIFY, "", "", QUEUE_LOW_PRIORITY, "tier Disqualify → low-priority pool"),
        (
            DISQUALIFY,
            "non_decision_maker",
            ACTION_ROUTE_SUCCESS,
            QUEUE_SUCCESS,
            "rule non decision maker → customer success queue",
        ),
        (
            DISQUALIFY,
            "existing_customer_support",
            ACTION_ROUTE_SUPPORT,
            QUEUE_SUPPORT,
            "rule existing customer support → support queue",
        ),
        (
            NURTURE,
            "minimum_fit",
            ACTION_NURTURE,
            QUEUE_NURTURE,
            "rule minimum fit → marketing nurture queue",
        ),
    ],
)
def test_a_lead_that_is_not_sales_ready_goes_to_its_queue_even_with_an_available_owner(
    tier: str, category: str, action: str, queue: str, reason: str
) -> None:
    decision = decide(
        lead(tier=tier, rule_category=category, rule_action=action, account_owner_rep_id=1)
    )
    assert decision.queue == queue
    assert decision.via == VIA_QUEUE
    assert decision.reason == reason
    assert (decision.rep_id, decision.pool_id, decision.rule_id) == (None, None, None)
    assert decision.credit_update is None


@pytest.mark.parametrize(
    "category", ["competitor", "student", "job_seeker", "analyst", "spam", "minimum_fit"]
)
def test_disqualified_leads_go_to_the_low_priority_pool_naming_the_category(category: str) -> None:
    decision = decide(lead(tier=DISQUALIFY, rule_category=category, rule_action=ACTION_DISQUALIFY))
    assert decision.queue == QUEUE_LOW_PRIORITY
    assert decision.reason == f"disqualified ({category.replace('_', ' ')}) → low-priority pool"
    assert decision.rep_id is None


def test_a_disqualifying_rule_outranks_a_sales_ready_tier() -> None:
    decision = decide(lead(tier=SALES_READY, rule_category="competitor", rule_action="disqualify"))
    assert decision.queue == QUEUE_LOW_PRIORITY


def test_a_buyer_looking_lead_caught_by_a_disqualifier_goes_to_human_review() -> None:
    decision = decide(
        lead(
            tier=DISQUALIFY,
            rule_category="student",
            rule_action=ACTION_DISQUALIFY,
            needs_review=True,
            account_owner_rep_id=1,
        )
    )
    assert decision.queue == QUEUE_REVIEW
    assert decision.via == VIA_REVIEW
    assert decision.rep_id is None
    assert "student" in decision.reason and decision.reason.endswith("human review queue")


def test_a_lead_without_a_tier_goes_to_review_rather_than_vanishing() -> None:
    decision = decide(lead(tier=""))
    assert decision.queue == QUEUE_REVIEW
    assert decision.reason == "tier unknown → human review queue"


# --- step 2: the account owner ---------------------------------------------------------------


def test_an_account_owner_gets_the_account_s_new_leads_before_any_rule() -> None:
    leads = many(4, account_id=7, account_owner_rep_id=5)  # rep 5 is not in the EMEA pool
    result = route_many(
        leads, reps=reps(), rules=RULES, rr_state=RoundRobinState(), pools=POOLS, now=NOW
    )
    assert [d.rep_id for d in result.decisions] == [5, 5, 5, 5]
    assert {d.via for d in result.decisions} == {VIA_OWNER}
    assert {d.reason for d in result.decisions} == {"account owner"}
    assert {d.queue for d in result.decisions} == {QUEUE_SALES}
    # Ownership is outside round-robin: no credit moves, but the load does.
    assert all(d.credit_update is None for d in result.decisions)
    assert result.reps[5].open_leads == 4 and result.reps[5].assigned_today == 4


@pytest.mark.parametrize(
    ("unavailable", "why"),
    [
        (AWAY, "out of office"),
        (FULL, "at capacity (50/50 open leads)"),
        (CAPPED, "at daily cap (15/15 today)"),
        ({"is_active": False}, "inactive"),
    ],
)
def test_an_unavailable_owner_s_lead_goes_to_the_owner_s_team(
    unavailable: dict[str, Any], why: str
) -> None:
    team = reps(
        r1={"team": "SDR East", **unavailable},
        r2={"team": "SDR East"},
        r3={"team": "SDR East"},
        r4={"team": "SDR West"},
    )
    decision = decide(lead(account_owner_rep_id=1), team)
    assert decision.via == VIA_TEAM
    assert decision.rep_id in {2, 3}
    assert decision.reason == (
        f"account owner {why} → owner's team (SDR East) → "
        "weighted round-robin among 2 eligible reps"
    )
    assert decision.pool_id is None and decision.rule_id is None
    assert decision.credit_update is not None
    assert decision.credit_update.key == team_key("SDR East")


def test_the_owner_s_team_shares_the_owner_s_leads_by_round_robin() -> None:
    team = reps(r1={"team": "SDR East", **AWAY}, r2={"team": "SDR East"}, r3={"team": "SDR East"})
    decisions = run(many(10, account_owner_rep_id=1), team)
    assert received(decisions) == {2: 5, 3: 5}


def test_an_owner_who_reaches_the_daily_cap_mid_batch_hands_the_rest_to_the_team() -> None:
    team = reps(r1={"team": "SDR East", "max_leads_per_day": 2}, r2={"team": "SDR East"})
    decisions = run(many(5, account_owner_rep_id=1), team)
    assert [d.rep_id for d in decisions] == [1, 1, 2, 2, 2]
    assert decisions[2].reason.startswith("account owner at daily cap (2/2 today) → owner's team")


def test_when_the_owner_s_whole_team_is_unavailable_the_rules_decide() -> None:
    team = reps(
        r1={"team": "SDR East", **FULL},
        r4={"team": "SDR East", **AWAY},
        r5={"team": "SDR East", **AWAY},
    )
    decision = decide(lead(account_owner_rep_id=1), team)
    assert decision.via == VIA_RULE
    assert decision.rep_id in {2, 3}
    assert decision.reason == (
        "account owner at capacity (50/50 open leads) → owner's team (SDR East): "
        "no eligible rep of 2 (2 out of office) → rule EMEA → pool EMEA AEs → "
        "weighted round-robin among 2 eligible reps (1 at capacity)"
    )


def test_an_owner_who_is_not_a_routable_rep_falls_through_to_the_rules() -> None:
    decision = decide(lead(account_owner_rep_id=42))
    assert decision.via == VIA_RULE
    assert decision.reason.startswith("account owner is not a routable rep → rule EMEA → ")


def test_an_unavailable_owner_without_a_team_falls_through_to_the_rules() -> None:
    decision = decide(lead(account_owner_rep_id=4, region="APAC", country="JP"), reps(r4=AWAY))
    assert decision.via == VIA_FALLBACK
    assert decision.reason == (
        "account owner out of office → owner has no team → no rule matched → "
        "fallback pool Overflow → weighted round-robin among 2 eligible reps"
    )


# --- eligibility within a pool ---------------------------------------------------------------


def test_an_out_of_office_rep_gets_nothing() -> None:
    decisions = run(many(30), reps(r2=AWAY))
    assert received(decisions) == {1: 15, 3: 15}
    assert decisions[0].reason.endswith("among 2 eligible reps (1 out of office)")


def test_out_of_office_ends_when_the_interval_does() -> None:
    back = NOW + timedelta(days=3)
    assert received(run(many(30), reps(r2=AWAY), now=back)) == {1: 10, 2: 10, 3: 10}


@pytest.mark.parametrize(
    "interval",
    [
        {"out_of_office_from": NOW - timedelta(hours=1)},
        {"out_of_office_until": NOW + timedelta(hours=1)},
    ],
)
def test_an_open_ended_absence_counts_as_out_of_office(interval: dict[str, datetime]) -> None:
    assert received(run(many(10), reps(r2=interval))) == {1: 5, 3: 5}


def test_an_absence_that_has_not_started_does_not_count() -> None:
    later = {"out_of_office_from": NOW + timedelta(hours=1)}
    assert received(run(many(9), reps(r2=later))) == {1: 3, 2: 3, 3: 3}


def test_a_full_rep_gets_nothing() -> None:
    decisions = run(many(20), reps(r3=FULL))
    assert received(decisions) == {1: 10, 2: 10}
    assert decisions[0].reason.endswith("among 2 eligible reps (1 at capacity)")


def test_a_rep_who_fills_up_mid_batch_stops_receiving() -> None:
    decisions = run(many(30), reps(r3={"open_leads": 48, "max_open_leads": 50}))
    assert received(decisions)[3] == 2


def test_a_rep_at_the_daily_cap_gets_nothing_more() -> None:
    assert received(run(many(30), reps(r2=CAPPED)))[2] == 0
    assert received(run(many(30), reps(r2={"max_leads_per_day": 3})))[2] == 3


def test_an_inactive_rep_gets_nothing() -> None:
    decisions = run(many(10), reps(r1={"is_active": False}))
    assert received(decisions) == {2: 5, 3: 5}
    assert decisions[0].reason.endswith("(1 inactive)")


def test_a_rule_s_required_skill_limits_the_pool_to_the_reps_who_have_it() -> None:
    rule = dataclasses.replace(EMEA_RULE, required_skill="Enterprise")
    decisions = run(
        many(6), reps(r2={"skills": frozenset({"enterprise", "fintech"})}), rules=[rule]
    )
    assert received(decisions) == {2: 6}
    assert decisions[0].reason == (
        "rule EMEA → pool EMEA AEs → only eligible rep (2 without skill enterprise)"
    )


def test_a_lead_s_own_required_skills_limit_the_pool_too() -> None:
    fintech = frozenset({"fintech"})
    decisions = run(many(4, required_skills=frozenset({"fintech"})), reps(r1={"skills": fintech}))
    assert received(decisions) == {1: 4}


def test_a_rule_with_languages_needs_reps_who_speak_the_lead_s_language() -> None:
    rule = dataclasses.replace(EMEA_RULE, languages=["de", "fr"])
    speakers = reps(r1={"languages": frozenset({"en", "de"})}, r3={"languages": frozenset({"fr"})})
    decisions = run(many(4, language="DE"), speakers, rules=[rule])
    assert received(decisions) == {1: 4}
    assert decisions[0].reason.endswith("only eligible rep (2 not speaking de)")


def test_without_a_language_condition_any_rep_may_take_the_lead() -> None:
    assert received(run(many(6, language="ja"))) == {1: 2, 2: 2, 3: 2}


# --- step 3: rules -----------------------------------------------------------------------------


def test_rules_apply_in_priority_order_not_list_order() -> None:
    broad = RuleSpec(3, "Everyone", NA_SDRS, priority=90)
    first = RuleSpec(4, "EMEA first", EMEA_AES, priority=5, territory=EMEA)
    decision = decide(lead(), rules=[broad, first])
    assert (decision.rule_id, decision.pool_id) == (4, EMEA_AES)
    assert Router(rules=[broad, first], pools=POOLS).first_rule(lead()) == first
    assert decide(lead(region="NA", country="US"), rules=[broad, first]).rule_id == 3


def test_rules_of_equal_priority_apply_in_name_order() -> None:
    zulu = RuleSpec(5, "Zulu", NA_SDRS, priority=10)
    alpha = RuleSpec(6, "Alpha", EMEA_AES, priority=10)
    assert decide(lead(), rules=[zulu, alpha]).rule_id == 6


def test_an_inactive_rule_is_skipped() -> None:
    retired = RuleSpec(7, "Retired", NA_SDRS, priority=1, is_active=False)
    decision = decide(lead(), rules=[retired, EMEA_RULE])
    assert decision.rule_id == EMEA_RULE.rule_id
    assert decision.pool_id == EMEA_AES


DACH = TerritorySpec("DACH", regions=["EMEA"], countries=["DE", "AT", "CH"])
US_WEST = TerritorySpec("US West", countries=["US"], states=["CA", "WA"])
MID = {"min_employees": 100, "max_employees": 999}
WEST = {"territory": US_WEST}


@pytest.mark.parametrize(
    ("condition", "matching", "not_matching"),
    [
        ({"tiers": [SALES_READY]}, {}, {"tier": NURTURE}),
        ({"territory": EMEA}, {"region": "emea"}, {"region": "NA", "country": "US"}),
        ({"territory": EMEA}, {"region": "EMEA", "country": ""}, {"region": "", "country": ""}),
        ({"territory": DACH}, {"country": "at", "region": "EMEA"}, {"country": "FR"}),
        ({"territory": DACH}, {"country": "CH", "region": ""}, {"country": "", "region": "EMEA"}),
        (WEST, {"country": "US", "state": "ca"}, {"country": "US", "state": "NY"}),
        (WEST, {"country": "", "state": "WA"}, {"country": "US", "state": ""}),
        ({"industries": ["Finance"]}, {"industry": "finance "}, {"industry": "retail"}),
        ({"industries": ["Finance"]}, {"industry": "FINANCE"}, {"industry": ""}),
        (MID, {"employee_count": 100}, {"employee_count": 99}),
        (MID, {"employee_count": 999}, {"employee_count": 1000}),
        ({"min_employees": 100}, {"employee_count": 5000}, {"employee_count": None}),
        ({"max_employees": 50}, {"employee_count": 12}, {"employee_count": None}),
        ({"min_deal_size": 100_000}, {"deal_size": 100_000.0}, {"deal_size": 99_999.0}),
        ({"min_deal_size": 100_000}, {"deal_size": 250_000.0}, {"deal_size": None}),
        ({"lead_sources": ["Partner"]}, {"lead_source": "partner"}, {"lead_source": "web"}),
        ({"languages": ["de", "fr"]}, {"language": "DE"}, {"language": "en"}),
        ({"languages": ["de"]}, {"language": "de"}, {"language": ""}),
    ],
)  # fmt: skip
def test_each_rule_condition(
    condition: dict[str, Any], matching: dict[str, Any], not_matching: dict[str, Any]
) -> None:
    rule = RuleSpec(8, "Condition", EMEA_AES, **condition)
    assert rule.matches(lead(**matching))
    assert not rule.matches(lead(**not_matching))


def test_a_rule_without_conditions_matches_any_sales_ready_lead() -> None:
    assert RuleSpec(9, "Anything", EMEA_AES).matches(lead(region="", country=""))


def test_a_lead_failing_one_condition_moves_on_to_the_next_rule() -> None:
    big = RuleSpec(10, "EMEA enterprise", NA_SDRS, priority=1, territory=EMEA, min_employees=1000)
    assert decide(lead(employee_count=5000), rules=[big, EMEA_RULE]).rule_id == 10
    assert decide(lead(employee_count=50), rules=[big, EMEA_RULE]).rule_id == EMEA_RULE.rule_id


def test_a_territory_can_be_checked_on_its_own() -> None:
    assert US_WEST.contains(country="us", state="Ca")
    assert not US_WEST.contains(country="CA", state="CA")
    assert TerritorySpec("Anywhere").contains()


# --- steps 4 and 5: fallback pool, and a lead is never dropped -------------------------------


def test_a_lead_no_rule_matches_reaches_the_fallback_pool() -> None:
    decision = decide(lead(region="APAC", country="JP"))
    assert decision.via == VIA_FALLBACK
    assert decision.queue == QUEUE_SALES
    assert decision.rep_id in {6, 7}
    assert (decision.pool_id, decision.rule_id) == (OVERFLOW, None)
    assert decision.reason == (
        "no rule matched → fallback pool Overflow → weighted round-robin among 2 eligible reps"
    )
    assert decision.credit_update is not None
    assert decision.credit_update.key == pool_key(OVERFLOW)


def test_a_rule_whose_pool_has_no_one_eligible_hands_over_to_the_fallback_pool() -> None:
    decision = decide(lead(), reps(r1=AWAY, r2=AWAY, r3=FULL))
    assert decision.via == VIA_FALLBACK
    assert (decision.pool_id, decision.rule_id) == (OVERFLOW, EMEA_RULE.rule_id)
    assert decision.reason == (
        "rule EMEA → pool EMEA AEs: no eligible rep of 3 (2 out of office, 1 at capacity) → "
        "fallback pool Overflow → weighted round-robin among 2 eligible reps"
    )


def test_the_fallback_pool_asks_for_the_same_skill() -> None:
    rule = dataclasses.replace(EMEA_RULE, required_skill="enterprise")
    decision = decide(lead(), reps(r7={"skills": frozenset({"enterprise"})}), rules=[rule])
    assert (decision.via, decision.rep_id) == (VIA_FALLBACK, 7)
    assert decision.reason.endswith(
        "fallback pool Overflow → only eligible rep (1 without skill enterprise)"
    )


def test_when_no_one_is_eligible_anywhere_the_lead_still_lands_with_the_reason() -> None:
    nobody = reps(r1=AWAY, r2=FULL, r3=CAPPED, r6={"is_active": False}, r7=AWAY)
    decision = decide(lead(lead_id=11), nobody)
    assert decision.via == VIA_UNASSIGNED
    assert (decision.lead_id, decision.queue, decision.rep_id) == (11, QUEUE_SALES, None)
    assert (decision.pool_id, decision.rule_id) == (OVERFLOW, EMEA_RULE.rule_id)
    assert decision.credit_update is None
    assert decision.reason == (
        "rule EMEA → pool EMEA AEs: no eligible rep of 3 "
        "(1 out of office, 1 at capacity, 1 at daily cap) → "
        "fallback pool Overflow: no eligible rep of 2 (1 inactive, 1 out of office) → "
        "unassigned in the sales queue for a manager to assign"
    )


def test_without_a_fallback_pool_an_unmatched_lead_is_still_kept() -> None:
    pools = POOLS[:2]
    decision = decide(lead(region="APAC"), pools=pools, fallback_pool_id=None)
    assert (decision.via, decision.queue, decision.pool_id) == (VIA_UNASSIGNED, QUEUE_SALES, None)
    assert decision.reason == (
        "no rule matched → no fallback pool → unassigned in the sales queue for a manager to assign"
    )


def test_the_fallback_pool_is_found_by_its_flag_when_not_named() -> None:
    decision = decide(lead(region="APAC"), fallback_pool_id=None)
    assert (decision.via, decision.pool_id) == (VIA_FALLBACK, OVERFLOW)


def test_a_rule_that_targets_the_fallback_pool_does_not_try_it_twice() -> None:
    rule = RuleSpec(12, "Everything to overflow", OVERFLOW)
    decision = decide(lead(), reps(r6=AWAY, r7=AWAY), rules=[rule])
    assert decision.via == VIA_UNASSIGNED
    assert decision.reason == (
        "rule Everything to overflow → pool Overflow: no eligible rep of 2 (2 out of office) → "
        "unassigned in the sales queue for a manager to assign"
    )


def test_a_rule_pointing_at_an_unknown_pool_hands_over_to_the_fallback_pool() -> None:
    decision = decide(lead(), rules=[RuleSpec(13, "Stale", 404)])
    assert decision.via == VIA_FALLBACK
    assert decision.reason.startswith("rule Stale → pool #404: no reps → fallback pool Overflow")


def test_a_batch_of_mixed_leads_never_drops_one() -> None:
    tiers = [SALES_READY, NURTURE, DISQUALIFY, SALES_READY, ""]
    regions = ["EMEA", "NA", "APAC", "LATAM", ""]
    leads = [lead(i, tier=tiers[i % 5], region=regions[i // 5 % 5]) for i in range(200)]
    small = reps(*(rep(i, max_leads_per_day=4) for i in range(1, 8)))
    decisions = run(leads, small)
    assert [d.lead_id for d in decisions] == list(range(200))
    assert all(d.queue and d.reason for d in decisions)
    assert max(received(decisions)[i] for i in range(1, 8)) == 4
    assert sum(d.via == VIA_UNASSIGNED for d in decisions) > 0


# --- round-robin -------------------------------------------------------------------------------


def test_weights_share_leads_in_proportion() -> None:
    weighted = reps(r1={"weight": 2.0}, r2={"weight": 1.0}, r3={"is_active": False})
    assert received(run(many(300, expected_deal_value=1000.0), weighted)) == {1: 200, 2: 100}


def test_equal_reps_take_turns_and_ties_go_to_the_least_recently_assigned() -> None:
    decisions = run(many(9, expected_deal_value=500.0))
    assert [d.rep_id for d in decisions] == [1, 2, 3, 1, 2, 3, 1, 2, 3]


def test_leads_without_a_value_are_still_shared_by_count() -> None:
    decisions = run(many(9, expected_deal_value=0.0))
    assert [d.rep_id for d in decisions] == [1, 2, 3, 1, 2, 3, 1, 2, 3]


def test_a_rep_who_received_a_big_lead_sits_out_while_the_others_catch_up() -> None:
    two = reps(r3={"is_active": False})
    leads = [
        *many(10, expected_deal_value=1000.0),
        lead(11, expected_deal_value=5000.0),
        *(lead(i, expected_deal_value=1000.0) for i in range(12, 16)),
    ]
    decisions = run(leads, two)
    big = decisions[10].rep_id
    other = 1 if big == 2 else 2
    # Five times the mean value costs three leads' worth of credit (half count, half value).
    assert [d.rep_id for d in decisions[11:14]] == [other, other, other]


def test_least_loaded_picks_the_rep_with_the_most_room() -> None:
    rule = dataclasses.replace(EMEA_RULE, strategy=LEAST_LOADED)
    loads = reps(
        r1={"open_leads": 10, "max_open_leads": 50},
        r2={"open_leads": 5, "max_open_leads": 50},
        r3={"open_leads": 40, "max_open_leads": 100},
    )
    decision = decide(lead(), loads, rules=[rule])
    assert decision.rep_id == 2
    assert decision.strategy == LEAST_LOADED
    assert decision.reason == "rule EMEA → pool EMEA AEs → least loaded of 3 eligible reps"


def test_route_reads_the_round_robin_state_and_the_caller_applies_the_update() -> None:
    state = RoundRobinState()
    first = decide(lead(1, expected_deal_value=800.0), state=state)
    assert state.clocks == {} and state.credits == {}
    assert decide(lead(1, expected_deal_value=800.0), state=state) == first
    assert first.credit_update is not None and first.rep_id is not None
    update = first.credit_update
    assert (update.key, update.rep_id) == (pool_key(EMEA_AES), first.rep_id)
    assert (update.credit.leads, update.credit.value, update.clock.leads) == (1, 800.0, 1)
    state.apply(update)
    assert state.credit(pool_key(EMEA_AES), first.rep_id) == update.credit
    assert state.clock(pool_key(EMEA_AES)) == update.clock
    assert decide(lead(2, expected_deal_value=800.0), state=state).rep_id != first.rep_id


def test_route_many_leaves_its_inputs_alone_and_returns_the_new_state() -> None:
    rep_states, state = reps(), RoundRobinState()
    before = dict(rep_states)
    result = route_many(many(6), reps=rep_states, rules=RULES, rr_state=state, pools=POOLS, now=NOW)
    assert rep_states == before and state.clocks == {}
    assert {result.reps[i].open_leads for i in (1, 2, 3)} == {2}
    assert result.rr_state.clock(pool_key(EMEA_AES)).leads == 6
    assert result.load_by_rep() == {1: (2, 0.0), 2: (2, 0.0), 3: (2, 0.0)}


def test_a_newcomer_takes_its_share_from_now_on_without_a_catch_up_flood() -> None:
    router = Router(rules=RULES, pools=POOLS, fallback_pool_id=OVERFLOW)
    first = router.route_many(many(30), reps=reps(), rr_state=RoundRobinState(), now=NOW)
    grown = [dataclasses.replace(POOLS[0], rep_ids=[1, 2, 3, 8]), *POOLS[1:]]
    router = Router(rules=RULES, pools=grown, fallback_pool_id=OVERFLOW)
    later = router.route_many(
        many(8), reps={**first.reps, 8: rep(8)}, rr_state=first.rr_state, now=NOW
    )
    assert received(list(later.decisions)) == {1: 2, 2: 2, 3: 2, 8: 2}


def test_a_rep_back_from_leave_takes_its_share_without_a_catch_up_flood() -> None:
    router = Router(rules=RULES, pools=POOLS, fallback_pool_id=OVERFLOW)
    before = router.route_many(many(30), reps=reps(), rr_state=RoundRobinState(), now=NOW)
    leave = {**before.reps, 3: dataclasses.replace(before.reps[3], **AWAY)}
    away = router.route_many(many(30), reps=leave, rr_state=before.rr_state, now=NOW)
    assert received(list(away.decisions)) == {1: 15, 2: 15}
    # Rep 3 is 15 leads behind; back, it takes a third from now on, not the next 15.
    back = NOW + timedelta(days=4)
    later = router.route_many(many(9), reps=away.reps, rr_state=away.rr_state, now=back)
    assert received(list(later.decisions)) == {1: 3, 2: 3, 3: 3}


def test_a_routing_run_reports_each_rep_s_new_load_and_value() -> None:
    result = route_many(
        [lead(1, expected_deal_value=100.0), lead(2, expected_deal_value=300.0)],
        reps=reps(r3=AWAY),
        rules=RULES,
        rr_state=RoundRobinState(),
        pools=POOLS,
        now=NOW,
    )
    assert result.load_by_rep() == {1: (1, 100.0), 2: (1, 300.0)}


def test_value_share_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="value_share"):
        Router(rules=RULES, pools=POOLS, value_share=1.5)


# --- agreement with the models ---------------------------------------------------------------


def test_the_engine_s_values_are_the_models_choices() -> None:
    from routing import engine
    from routing.models import Queue, RoutingStrategy
    from scoring.models import RuleAction, Tier

    assert {
        engine.QUEUE_SALES,
        engine.QUEUE_NURTURE,
        engine.QUEUE_SUCCESS,
        engine.QUEUE_SUPPORT,
        engine.QUEUE_COMMUNITY,
        engine.QUEUE_LOW_PRIORITY,
        engine.QUEUE_REVIEW,
    } == set(Queue.values)
    assert {WEIGHTED_ROUND_ROBIN, LEAST_LOADED} == set(RoutingStrategy.values)
    assert {SALES_READY, NURTURE, DISQUALIFY} == set(Tier.values)
    assert {
        ACTION_DISQUALIFY,
        ACTION_ROUTE_SUCCESS,
        ACTION_ROUTE_SUPPORT,
        engine.ACTION_ROUTE_COMMUNITY,
        ACTION_NURTURE,
    } == set(RuleAction.values)


@pytest.mark.parametrize(
    ("starts", "ends"),
    [(None, None), (-2, 2), (-2, None), (None, 2), (1, 3), (-3, -1), (0, 1)],
)
def test_out_of_office_agrees_with_the_sales_rep_model(
    starts: int | None, ends: int | None
) -> None:
    from routing.models import SalesRep

    def at(hours: int | None) -> datetime | None:
        return None if hours is None else NOW + timedelta(hours=hours)

    model = SalesRep(out_of_office_from=at(starts), out_of_office_until=at(ends))
    state = rep(1, out_of_office_from=at(starts), out_of_office_until=at(ends))
    for moment in (
        NOW - timedelta(hours=3),
        NOW,
        NOW + timedelta(hours=1),
        NOW + timedelta(hours=4),
    ):
        assert state.is_out_of_office(moment) == model.is_out_of_office(moment)


def test_with_assignment_changes_only_the_load() -> None:
    full = RepState(
        rep_id=3,
        user_id=9,
        team="SDR East",
        weight=1.5,
        skills=frozenset({"enterprise"}),
        languages=frozenset({"de"}),
        territories=frozenset({4}),
        is_active=False,
        out_of_office_from=NOW,
        out_of_office_until=NOW + timedelta(days=1),
        open_leads=7,
        max_open_leads=20,
        assigned_today=2,
        max_leads_per_day=5,
    )
    assert full.with_assignment() == dataclasses.replace(full, open_leads=8, assigned_today=3)


# --- a preferred rep (previous owner of a resurfaced lead, owner of an account's play) -------


def test_a_preferred_rep_comes_before_the_account_owner() -> None:
    team = reps(r1={"team": "SDR East"}, r2={"team": "SDR West"})
    decision = decide(
        lead(account_owner_rep_id=1, preferred_rep_id=2, preferred_reason="previous owner"),
        team,
    )
    assert decision.via == VIA_OWNER
    assert decision.rep_id == 2
    assert decision.reason == "previous owner"
    assert decision.credit_update is None


def test_an_unavailable_preferred_rep_hands_over_to_their_team_then_the_owner() -> None:
    team = reps(r1={"team": "SDR East"}, r2={"team": "SDR West", **AWAY}, r3={"team": "SDR West"})
    to_team = decide(lead(preferred_rep_id=2, preferred_reason="account play owner"), team)
    assert to_team.via == VIA_TEAM and to_team.rep_id == 3
    assert to_team.reason.startswith(
        "account play owner out of office → account play owner's team (SDR West) → "
    )
    alone = reps(r1={"team": "SDR East"}, r2={**AWAY})
    to_owner = decide(
        lead(account_owner_rep_id=1, preferred_rep_id=2, preferred_reason="previous owner"),
        alone,
    )
    assert to_owner.rep_id == 1
    assert (
        to_owner.reason
        == "previous owner out of office → previous owner has no team → account owner"
    )


def test_a_preferred_rep_who_is_not_routable_is_skipped_with_the_reason() -> None:
    team = reps(r1={"team": "SDR East"})
    decision = decide(
        lead(account_owner_rep_id=1, preferred_rep_id=77, preferred_reason="previous owner"),
        team,
    )
    assert decision.rep_id == 1
    assert decision.reason == "previous owner is not a routable rep → account owner"
