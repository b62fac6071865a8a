"""The demo world's account feeds (leadqual.demo.feeds): renewals with their incumbents,
competitor news, intent deliveries, technographics and fiscal years, as the feeds would have
delivered them by the anchor."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from accounts.feed_records import account_event_parse, intent_parse, technology_parse
from accounts.models import AccountEventKind
from leadqual.demo.feeds import TECHNOLOGY_CATEGORIES
from leadqual.demo.world import COMPETITORS, DemoWorld, world_digest, world_generate
from tests.demo.conftest import ANCHOR

COMPETITOR_NAMES = {name for name, _ in COMPETITORS}


def _events(world: DemoWorld, kind: str) -> pd.DataFrame:
    events = world.account_events
    return events[events["kind"] == kind]


def test_every_event_kind_of_the_feeds_is_in_the_world(world: DemoWorld) -> None:
    kinds = set(world.account_events["kind"])
    assert kinds >= {
        "funding", "leadership_change", "initiative", "contract_renewal", "competitor_news",
    }  # fmt: skip
    assert kinds <= set(AccountEventKind.values)


def test_renewals_name_a_competitor_as_incumbent_and_a_date_reported_before_the_anchor(
    world: DemoWorld,
) -> None:
    renewals = _events(world, "contract_renewal")
    assert len(renewals) > 50
    assert set(renewals["vendor"]) <= COMPETITOR_NAMES
    assert (renewals["occurred_at"] <= ANCHOR).all()
    renews = pd.to_datetime(renewals["renews_at"], utc=True)
    # Reported ahead of the date, by up to eight months, and a share of them still to come.
    ahead = (renews - renewals["occurred_at"]).dt.days
    assert ahead.between(0, 245).all()
    assert ahead.median() > 60
    assert (renews > ANCHOR).mean() > 0.2
    # The title and details say the same (readers of details, the brief's words).
    first = renewals.iloc[0]
    assert first["title"] == f"Contract with {first['vendor']} renews on {first['renews_at']}"
    assert first["details"]["vendor"] == first["vendor"]
    # Customers run the vendor's own product: no competitor contract to renew.
    customer = world.accounts["is_customer"].to_numpy()[renewals["account"].to_numpy()]
    assert not customer.any()


def test_committees_evaluating_now_often_have_a_renewal_coming() -> None:
    """The displacement window: a renewal in the next months is far more common at accounts
    with a live buying committee than at the rest (a world with a few dozen of them)."""
    world = world_generate(leads=5000, seed=3, anchor=ANCHOR)
    renewals = _events(world, "contract_renewal")
    renews = pd.to_datetime(renewals["renews_at"], utc=True)
    soon = set(renewals["account"][(renews > ANCHOR) & (renews <= ANCHOR + timedelta(180))])
    truth, leads = world.truth, world.leads
    live = (truth["episode"] >= 0) & (truth["snapshot_at"] > ANCHOR - timedelta(days=5))
    live_accounts = set(leads["account"][live & (leads["account"] >= 0)])
    others = set(range(len(world.accounts))) - live_accounts
    share_live = len(soon & live_accounts) / max(len(live_accounts), 1)
    share_other = len(soon & others) / len(others)
    assert len(live_accounts) >= 20
    assert share_live > share_other + 0.25


def test_competitor_news_is_about_the_account_s_incumbent(world: DemoWorld) -> None:
    news = _events(world, "competitor_news")
    assert len(news) > 20
    assert set(news["vendor"]) <= COMPETITOR_NAMES
    assert all(
        title.startswith(vendor)
        for title, vendor in zip(news["title"], news["vendor"], strict=True)
    )
    incumbents = _events(world, "contract_renewal").groupby("account")["vendor"].agg(set).to_dict()
    for account, vendor in zip(news["account"], news["vendor"], strict=True):
        assert vendor in incumbents.get(account, set())


def test_intent_arrives_after_it_is_observed_and_before_the_anchor(world: DemoWorld) -> None:
    intent = world.intent_signals
    assert (intent["received_at"] >= intent["observed_at"]).all()
    assert (intent["received_at"] <= ANCHOR).all()
    assert intent["external_id"].is_unique
    lag = (intent["received_at"] - intent["observed_at"]).dt.total_seconds() / 86400
    weekly = intent["source"].isin(["Bombora", "TechTarget"])
    assert lag[weekly].median() > lag[~weekly].median()
    alternatives = intent[intent["topic"].str.endswith(" alternatives")]
    assert len(alternatives) > 10
    assert {t.removesuffix(" alternatives") for t in alternatives["topic"]} <= COMPETITOR_NAMES


def test_technologies_are_the_tech_stack_with_a_category_and_sightings(world: DemoWorld) -> None:
    tech = world.technologies
    stacks = world.accounts["tech_stack"].tolist()
    assert len(tech) == sum(len(s) for s in stacks)
    for account in (0, 7, len(stacks) - 1):
        names = set(tech.loc[tech["account"] == account, "name"])
        assert names == {t.lower() for t in stacks[account]}
    assert set(tech["name"]) <= set(TECHNOLOGY_CATEGORIES)
    assert (tech["category"] != "").all()
    assert (tech["first_seen"] < tech["last_seen"]).all()
    assert (tech["last_seen"] <= ANCHOR).all()


def test_fiscal_year_starts_are_months_or_unknown(world: DemoWorld) -> None:
    months = world.accounts["fiscal_year_start_month"]
    assert set(months) <= {0, 1, 4, 7, 10}
    assert 0.4 < (months > 0).mean() < 0.8
    assert months[months > 0].value_counts().idxmax() == 1


def test_the_feeds_rows_are_valid_feed_items(world: DemoWorld) -> None:
    """Each kind of row, sent to the feeds as a customer would, passes their validation."""
    domains = world.accounts["domain"].to_numpy()
    now = ANCHOR + timedelta(minutes=1)
    for kind in ("contract_renewal", "competitor_news", "funding"):
        row = _events(world, kind).iloc[0]
        raw = {
            "account_domain": domains[row["account"]],
            "kind": kind,
            "occurred_at": row["occurred_at"].isoformat(),
            "title": row["title"],
            "vendor": row["vendor"],
            "renews_at": row["renews_at"],
            "details": row["details"],
            "source": row["source"],
        }
        record, errors = account_event_parse(raw, now=now)
        assert errors == {} and record is not None, (kind, errors)
        if kind == "contract_renewal":
            assert record.renews_at == date.fromisoformat(row["renews_at"])
    signal = world.intent_signals.iloc[-1]
    _, errors = intent_parse(
        {
            "account_domain": domains[signal["account"]],
            "external_id": signal["external_id"],
            "topic": signal["topic"],
            "surge_score": float(signal["surge_score"]),
            "observed_at": signal["observed_at"].isoformat(),
            "source": signal["source"],
        },
        now=now,
    )
    assert errors == {}
    tech = world.technologies.iloc[0]
    technology, errors = technology_parse(
        {
            "account_domain": domains[tech["account"]],
            "name": tech["name"],
            "category": tech["category"],
            "seen_at": tech["last_seen"].isoformat(),
            "source": tech["source"],
        },
        now=now,
    )
    assert errors == {} and technology is not None and technology.name == tech["name"]


def test_the_feeds_are_seeded() -> None:
    first = world_generate(leads=400, seed=8, anchor=ANCHOR)
    again = world_generate(leads=400, seed=8, anchor=ANCHOR)
    other = world_generate(leads=400, seed=9, anchor=ANCHOR)
    for name in ("account_events", "intent_signals", "technologies"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(
        first.accounts["fiscal_year_start_month"], other.accounts["fiscal_year_start_month"]
    )
    assert world_digest(first) == world_digest(again) != world_digest(other)
