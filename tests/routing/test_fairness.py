"""Fairness of the weighted round-robin, simulated: shares of count and of expected deal value
track the weights, and reps who join or come back take their share from then on.

Expected deal values are lognormal (a few big deals, many small ones), seeded. Tolerances are
absolute differences of shares: |share - target| <= 0.03 means 20% of the leads for a target of
1/5 may land anywhere between 17% and 23%.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from routing.engine import (
    SALES_READY,
    Decision,
    LeadFacts,
    PoolSpec,
    RepState,
    RoundRobinState,
    Router,
    RoutingRun,
    RuleSpec,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POOL = 1
WEIGHTS = {1: 2.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}
TOLERANCE = 0.03


def router(members: Iterable[int]) -> Router:
    return Router(rules=[RuleSpec(1, "All", POOL)], pools=[PoolSpec(POOL, "Pool", list(members))])


def reps(weights: dict[int, float]) -> dict[int, RepState]:
    # Caps out of the way: the simulation is about shares, not about capacity.
    return {
        rep_id: RepState(
            rep_id=rep_id, weight=weight, max_open_leads=10**9, max_leads_per_day=10**9
        )
        for rep_id, weight in weights.items()
    }


def leads(values: np.ndarray, first_id: int = 1) -> list[LeadFacts]:
    return [
        LeadFacts(lead_id=first_id + i, tier=SALES_READY, expected_deal_value=float(value))
        for i, value in enumerate(values)
    ]


def deal_values(n: int, seed: int) -> np.ndarray:
    # Median about 13,000, mean about 22,000; the top 1% above 10x the median.
    return np.random.default_rng(seed).lognormal(mean=9.5, sigma=1.0, size=n)


def shares(decisions: Iterable[Decision], rep_ids: Iterable[int]) -> dict[int, tuple[float, float]]:
    """Per rep: (share of the leads, share of the expected value)."""
    placed = [d for d in decisions if d.rep_id is not None]
    total_value = sum(d.expected_value for d in placed)
    return {
        rep_id: (
            sum(d.rep_id == rep_id for d in placed) / len(placed),
            sum(d.expected_value for d in placed if d.rep_id == rep_id) / total_value,
        )
        for rep_id in rep_ids
    }


def targets(weights: dict[int, float]) -> dict[int, float]:
    total = sum(weights.values())
    return {rep_id: weight / total for rep_id, weight in weights.items()}


def continue_run(
    previous: RoutingRun, members: Iterable[int], batch: list[LeadFacts], **changes: RepState
) -> RoutingRun:
    rep_states = {**previous.reps, **{int(k.removeprefix("r")): v for k, v in changes.items()}}
    return router(members).route_many(batch, reps=rep_states, rr_state=previous.rr_state, now=NOW)


def test_ten_thousand_leads_land_within_three_points_of_the_weights_in_count_and_value() -> None:
    values = deal_values(10_000, seed=20260302)
    result = router(WEIGHTS).route_many(
        leads(values), reps=reps(WEIGHTS), rr_state=RoundRobinState(), now=NOW
    )
    assert all(d.rep_id is not None for d in result.decisions)
    observed = shares(result.decisions, WEIGHTS)
    for rep_id, target in targets(WEIGHTS).items():
        count_share, value_share = observed[rep_id]
        assert abs(count_share - target) <= TOLERANCE, (rep_id, count_share, target)
        assert abs(value_share - target) <= TOLERANCE, (rep_id, value_share, target)


def test_the_heavier_rep_gets_more_leads_not_bigger_ones() -> None:
    # Picking by "credit after this lead" would hand the big deals to the weight-2 rep (its
    # credit grows half as fast) and the small ones to the others: shares of value would drift
    # far apart from shares of count. The mean deal per rep stays close to the overall mean.
    values = deal_values(10_000, seed=7)
    result = router(WEIGHTS).route_many(
        leads(values), reps=reps(WEIGHTS), rr_state=RoundRobinState(), now=NOW
    )
    overall = float(values.mean())
    for rep_id in WEIGHTS:
        received = [d.expected_value for d in result.decisions if d.rep_id == rep_id]
        assert abs(sum(received) / len(received) / overall - 1) <= 0.1, rep_id


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_rep_added_midway_is_neither_flooded_nor_starved(seed: int) -> None:
    values = deal_values(10_000, seed=seed)
    first = router(WEIGHTS).route_many(
        leads(values[:5_000]), reps=reps(WEIGHTS), rr_state=RoundRobinState(), now=NOW
    )
    grown = {**WEIGHTS, 6: 1.0}
    second = continue_run(first, grown, leads(values[5_000:], first_id=5_001), r6=reps({6: 1.0})[6])
    target = targets(grown)[6]  # 1/7
    decisions = list(second.decisions)
    # Its first leads come at its pace: of the first 70 leads, about 10 (not 70, not none).
    # It starts level with the lowest credit in the pool, so it is first in line once.
    newcomer_early = sum(d.rep_id == 6 for d in decisions[:70])
    assert 6 <= newcomer_early <= 14, newcomer_early
    early_count, _ = shares(decisions[:500], [6])[6]
    assert abs(early_count - target) <= 0.05, early_count
    count_share, value_share = shares(decisions, [6])[6]
    assert abs(count_share - target) <= TOLERANCE, count_share
    assert abs(value_share - target) <= TOLERANCE, value_share
    # And the others keep their proportions among themselves.
    for rep_id, rep_target in targets(grown).items():
        count_share, value_share = shares(decisions, grown)[rep_id]
        assert abs(count_share - rep_target) <= TOLERANCE, (rep_id, count_share)
        assert abs(value_share - rep_target) <= TOLERANCE, (rep_id, value_share)


@pytest.mark.parametrize("seed", [4, 5])
def test_reps_back_from_leave_are_not_flooded_on_return(seed: int) -> None:
    values = deal_values(10_000, seed=seed)
    starts, ends = NOW - timedelta(hours=1), NOW + timedelta(days=7)
    before = router(WEIGHTS).route_many(
        leads(values[:3_000]), reps=reps(WEIGHTS), rr_state=RoundRobinState(), now=NOW
    )
    # Reps 2 (weight 1) and 1 (weight 2) are away for the next 2,000 leads.
    on_leave = continue_run(
        before,
        WEIGHTS,
        leads(values[3_000:5_000], first_id=3_001),
        r1=dataclasses.replace(before.reps[1], out_of_office_from=starts, out_of_office_until=ends),
        r2=dataclasses.replace(before.reps[2], out_of_office_from=starts, out_of_office_until=ends),
    )
    assert not any(d.rep_id in (1, 2) for d in on_leave.decisions)
    back = router(WEIGHTS).route_many(
        leads(values[5_000:], first_id=5_001),
        reps=on_leave.reps,
        rr_state=on_leave.rr_state,
        now=NOW + timedelta(days=7),
    )
    decisions = list(back.decisions)
    expected = targets(WEIGHTS)
    # Without the pool clock they would take every lead until they had caught up: rep 1 alone
    # is about 660 leads behind.
    for rep_id in (1, 2):
        early_count, _ = shares(decisions[:500], [rep_id])[rep_id]
        assert abs(early_count - expected[rep_id]) <= 0.05, (rep_id, early_count)
    for rep_id, target in expected.items():
        count_share, value_share = shares(decisions, WEIGHTS)[rep_id]
        assert abs(count_share - target) <= TOLERANCE, (rep_id, count_share)
        assert abs(value_share - target) <= TOLERANCE, (rep_id, value_share)


def test_a_rep_at_the_daily_cap_is_skipped_and_the_others_stay_in_proportion() -> None:
    values = deal_values(3_000, seed=11)
    capped = reps(WEIGHTS)
    capped[1] = dataclasses.replace(capped[1], max_leads_per_day=300)
    result = router(WEIGHTS).route_many(
        leads(values), reps=capped, rr_state=RoundRobinState(), now=NOW
    )
    counts = {rep_id: sum(d.rep_id == rep_id for d in result.decisions) for rep_id in WEIGHTS}
    assert counts[1] == 300
    others = {rep_id: counts[rep_id] for rep_id in (2, 3, 4, 5)}
    assert max(others.values()) - min(others.values()) <= 0.03 * 2_700, others


def test_counting_value_shares_the_big_deals_more_evenly_than_counting_leads() -> None:
    # Over a thousand leads (a pool's week or two) chance alone spreads the value shares of a
    # count-only round-robin; charging part of each lead by its value pulls them together.
    # Averaged over 16 seeds, the worst rep's gap is about half as wide (0.45 to 0.66 of it
    # across other groups of 16 seeds).
    def worst_value_gap(value_share: float, seed: int) -> float:
        values = deal_values(1_000, seed=seed)
        pool_router = Router(
            rules=[RuleSpec(1, "All", POOL)],
            pools=[PoolSpec(POOL, "Pool", list(WEIGHTS))],
            value_share=value_share,
        )
        result = pool_router.route_many(
            leads(values), reps=reps(WEIGHTS), rr_state=RoundRobinState(), now=NOW
        )
        observed = shares(result.decisions, WEIGHTS)
        return max(abs(observed[r][1] - target) for r, target in targets(WEIGHTS).items())

    seeds = range(100, 116)
    count_only = np.mean([worst_value_gap(0.0, seed) for seed in seeds])
    value_aware = np.mean([worst_value_gap(0.5, seed) for seed in seeds])
    assert value_aware < 0.8 * count_only, (value_aware, count_only)
