"""Account qualification's pure core: parts, priority and play from crafted evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from scoring.account_scoring import (
    HIGH,
    LOW,
    MEDIUM,
    AccountFrames,
    AccountScoringConfig,
    account_parts,
    account_play,
    accounts_score,
    part_sentences,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CONFIG = AccountScoringConfig()


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _frames(
    *,
    touches: list[tuple[int, float | None, float]] = (),  # type: ignore[assignment]
    people: list[tuple[float, int, str, str]] = (),  # type: ignore[assignment]
    intent: list[tuple[int, str, float, float]] = (),  # type: ignore[assignment]
    events: list[tuple[int, str, float, str, float | None, str]] = (),  # type: ignore[assignment]
    accounts: tuple[int, ...] = (1, 2),
) -> AccountFrames:
    return AccountFrames(
        accounts=pd.DataFrame({"account_id": list(accounts)}),
        touchpoints=pd.DataFrame(
            [(a, lead, ago(d)) for a, lead, d in touches],
            columns=["account_id", "lead_id", "occurred_at"],
        ),
        people=pd.DataFrame(
            list(people), columns=["lead_id", "account_id", "department", "committee_role"]
        ),
        intent=pd.DataFrame(
            [(a, t, s, ago(d)) for a, t, s, d in intent],
            columns=["account_id", "topic", "surge_score", "observed_at"],
        ),
        events=pd.DataFrame(
            [
                (a, k, ago(d), title, NOW + timedelta(days=r) if r is not None else None, v)
                for a, k, d, title, r, v in events
            ],
            columns=["account_id", "kind", "occurred_at", "title", "renews_at", "vendor"],
        ),
    )


def _committee_world() -> AccountFrames:
    """Account 1: a buying committee in full swing, a surge, a renewal coming up. Account 2:
    one researcher reading the blog now and then."""
    return _frames(
        touches=[
            *[(1, 10.0, d) for d in (1, 2, 3, 4, 5, 6, 8)],
            *[(1, 11.0, d) for d in (1, 2, 9)],
            *[(1, 12.0, d) for d in (3, 12)],
            (1, 13.0, 20),
            (1, None, 2),
            (1, None, 4),
            (1, 14.0, 45),  # outside the window
            (2, 20.0, 25),
        ],
        people=[
            (10.0, 1, "operations", "champion"),
            (11.0, 1, "finance", "economic_buyer"),
            (12.0, 1, "it", "technical_evaluator"),
            (13.0, 1, "operations", "user"),
            (14.0, 1, "it", "blocker"),
            (20.0, 2, "marketing", ""),
        ],
        intent=[(1, "workflow automation", 3.4, 5), (1, "rpa", 1.2, 2), (2, "crm", 0.9, 60)],
        events=[
            (1, "contract_renewal", 30, "Renewal of Acme CRM", 84, "Acme CRM"),
            (1, "funding", 10, "Raised $20M Series B", None, ""),
        ],
    )


def test_a_committee_in_full_swing_is_high_and_every_part_says_why() -> None:
    scores = accounts_score(_committee_world(), now=NOW)
    one = scores.loc[1]
    assert one["priority"] == HIGH
    assert (one["touches"], one["anonymous_touches"], one["people_active"]) == (15, 2, 4)
    assert one["roles_engaged"] == ("economic_buyer", "champion", "technical_evaluator", "user")
    assert one["roles_missing"] == ()
    # The blocker was active 45 days ago only: known, quiet.
    assert one["roles_quiet"] == ("blocker",)
    assert one["departments"] == ("finance", "it", "operations")
    assert (one["coverage"], one["cross_functional"], one["intent"]) == (25, 15, 20)
    assert one["renewal_in_days"] == pytest.approx(84)
    assert one["score"] == sum(int(one[p]) for p in CONFIG.maxima)
    sentences = part_sentences(one, CONFIG)
    assert sentences["engagement"] == (
        "15 touchpoints in 30 days from 4 people and 2 anonymous visits"
    )
    assert sentences["intent"] == '340% research surge on "workflow automation"'
    assert sentences["timing"] == (
        "Contract with Acme CRM renews in 84 days; Raised $20M Series B (10 days ago)"
    )
    parts = account_parts(one, CONFIG)
    assert [p["part"] for p in parts] == [
        "engagement", "coverage", "cross_functional", "intent", "timing",
    ]  # fmt: skip
    assert sum(p["points"] for p in parts) == one["score"]
    assert account_play(one, CONFIG) == []


def test_a_lone_researcher_is_low_with_the_whole_committee_to_find() -> None:
    two = accounts_score(_committee_world(), now=NOW).loc[2]
    assert two["priority"] == LOW
    assert (two["coverage"], two["intent"], two["timing"]) == (0, 0, 0)
    assert two["roles_missing"] == ("economic_buyer", "champion", "technical_evaluator", "user")
    assert account_play(two, CONFIG)[0] == (
        "Find the economic buyer: no one in that role is mapped."
    )


def test_the_thresholds_set_the_priority() -> None:
    world = _committee_world()
    score = int(accounts_score(world, now=NOW).loc[1, "score"])
    assert (
        accounts_score(world, now=NOW, config=AccountScoringConfig(high=score, medium=0)).loc[
            1, "priority"
        ]
        == HIGH
    )
    assert (
        accounts_score(
            world, now=NOW, config=AccountScoringConfig(high=score + 1, medium=score)
        ).loc[1, "priority"]
        == MEDIUM
    )
    with pytest.raises(ValueError, match="medium <= high"):
        AccountScoringConfig(high=20, medium=40)


def test_nothing_from_the_future_counts() -> None:
    """As of an earlier moment, later touches, surges and announcements do not exist."""
    world = _committee_world()
    earlier = NOW - timedelta(days=40)
    one = accounts_score(world, now=earlier).loc[1]
    assert one["touches"] == 1  # only the touch 45 days before NOW
    assert np.isnan(one["max_surge"])
    assert np.isnan(one["renewal_in_days"])  # announced 30 days before NOW


def test_a_renewal_outside_the_window_or_past_is_no_displacement_timing() -> None:
    world = _frames(
        events=[
            (1, "contract_renewal", 5, "Renewal", 400, "Far Away CRM"),
            (2, "contract_renewal", 5, "Renewal", -3, "Lapsed CRM"),
        ]
    )
    scores = accounts_score(world, now=NOW)
    assert scores["timing"].tolist() == [0, 0]
    assert scores["renewal_in_days"].isna().all()


def test_an_account_with_no_evidence_at_all_scores_zero() -> None:
    scores = accounts_score(_frames(accounts=(7,)), now=NOW)
    assert scores.loc[7, "score"] == 0 and scores.loc[7, "priority"] == LOW
    assert part_sentences(scores.loc[7], CONFIG)["timing"] == "No displacement window or change"
