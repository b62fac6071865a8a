"""The account feeds' write path (accounts.account_feeds): validation, idempotency, arrivals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.test import override_settings

from accounts.account_feeds import (
    ItemStatus,
    account_events_store,
    intent_signals_store,
    technologies_store,
)
from accounts.models import AccountEvent, AccountTechnology, IntentSignal
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_received: list[dict[str, Any]] = []
HOOKS = override_settings(
    LEADQUAL_AFTER_ACCOUNT_EVIDENCE=["tests.accounts.test_account_feeds.record_arrivals"]
)


def record_arrivals(payload: list[dict[str, Any]]) -> None:
    """A LEADQUAL_AFTER_ACCOUNT_EVIDENCE hook for the tests: keeps what it was handed."""
    _received.extend(payload)


def _renewal(**extra: Any) -> dict[str, Any]:
    return {
        "account_domain": "acme.com",
        "external_id": "ren-1",
        "kind": "contract_renewal",
        "occurred_at": "2026-11-30T09:00:00Z",
        "vendor": "Acme CRM",
        "renews_at": "2027-03-01",
        "source": "g2",
        **extra,
    }


@HOOKS
def test_a_contract_renewal_is_stored_with_its_vendor_and_date_and_announced_on_commit(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    account = AccountFactory(domain="acme.com")
    _received.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = account_events_store(items=[_renewal()], now=NOW)
        # Nothing is announced before the transaction commits.
        assert _received == []
    for callback in callbacks:
        callback()
    assert [item.status for item in result.items] == [ItemStatus.CREATED]
    event = AccountEvent.objects.get()
    assert (event.account_id, event.vendor, event.renews_at) == (
        account.pk,
        "Acme CRM",
        date(2027, 3, 1),
    )
    assert event.title == "Contract with Acme CRM renews on 2027-03-01"
    assert event.received_at == NOW
    assert _received == [
        {
            "account_id": account.pk,
            "kind": "account_event",
            "record_id": event.pk,
            "detail": "contract_renewal",
        }
    ]


@HOOKS
def test_a_duplicate_announces_nothing(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    AccountFactory(domain="acme.com")
    account_events_store(items=[_renewal()], now=NOW)
    _received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        # Sent again (the vendor's retry): a duplicate, no arrival.
        again = account_events_store(items=[_renewal()], now=NOW)
    assert again.items[0].status == ItemStatus.DUPLICATE
    assert again.arrivals == []
    assert _received == []
    assert AccountEvent.objects.count() == 1


def test_a_resent_batch_changes_nothing_and_reports_the_stored_ids() -> None:
    AccountFactory(domain="acme.com")
    batch = [
        _renewal(),
        {"account_domain": "acme.com", "kind": "funding", "occurred_at": "2026-11-20T00:00:00Z"},
    ]
    first = account_events_store(items=batch, now=NOW)
    second = account_events_store(items=batch, now=NOW)
    assert [i.status for i in first.items] == [ItemStatus.CREATED, ItemStatus.CREATED]
    assert [i.status for i in second.items] == [ItemStatus.DUPLICATE, ItemStatus.DUPLICATE]
    assert [i.record_id for i in second.items] == [i.record_id for i in first.items]
    assert AccountEvent.objects.count() == 2


def test_an_event_repeated_inside_one_batch_is_stored_once() -> None:
    AccountFactory(domain="acme.com")
    result = account_events_store(items=[_renewal(), _renewal()], now=NOW)
    assert [i.status for i in result.items] == [ItemStatus.CREATED, ItemStatus.DUPLICATE]
    assert result.items[1].record_id == result.items[0].record_id
    assert len(result.arrivals) == 1


def test_the_same_external_id_from_another_source_is_another_event() -> None:
    AccountFactory(domain="acme.com")
    result = account_events_store(items=[_renewal(), _renewal(source="bombora")], now=NOW)
    assert result.created == 2


def test_bad_items_get_their_position_and_reason_and_the_good_ones_are_stored() -> None:
    AccountFactory(domain="acme.com")
    result = account_events_store(
        items=[
            _renewal(),
            _renewal(external_id="ren-2", renews_at=None),
            {
                "account_domain": "unknown.example",
                "kind": "funding",
                "occurred_at": "2026-11-01T00:00:00Z",
            },
            {"kind": "rumour", "occurred_at": "yesterday"},
        ],
        now=NOW,
    )
    assert [i.status for i in result.items] == [
        ItemStatus.CREATED,
        ItemStatus.INVALID,
        ItemStatus.INVALID,
        ItemStatus.INVALID,
    ]
    assert result.items[1].errors == {"renews_at": ["A contract renewal needs its renewal date."]}
    assert "No account has domain 'unknown.example'" in result.items[2].errors["account_domain"][0]
    assert set(result.items[3].errors) == {"account_domain", "kind", "occurred_at"}
    assert AccountEvent.objects.count() == 1


def test_all_or_nothing_stores_nothing_when_one_item_is_bad() -> None:
    AccountFactory(domain="acme.com")
    result = account_events_store(
        items=[_renewal(), _renewal(external_id="x", vendor="")], all_or_nothing=True, now=NOW
    )
    assert result.refused
    assert result.items[1].errors == {"vendor": ["A contract renewal needs the incumbent vendor."]}
    assert AccountEvent.objects.count() == 0
    assert result.arrivals == []


def test_competitor_news_needs_the_competitor_and_only_renewals_take_a_date() -> None:
    AccountFactory(domain="acme.com")
    result = account_events_store(
        items=[
            {
                "account_domain": "acme.com",
                "kind": "competitor_news",
                "occurred_at": "2026-11-01T00:00:00Z",
            },
            {
                "account_domain": "acme.com",
                "kind": "funding",
                "occurred_at": "2026-11-01T00:00:00Z",
                "renews_at": "2027-01-01",
            },
        ],
        now=NOW,
    )
    assert result.items[0].errors == {"vendor": ["Competitor news needs the competitor's name."]}
    assert result.items[1].errors == {"renews_at": ["Only a contract_renewal has a renewal date."]}


def test_an_account_is_found_by_id_salesforce_id_or_domain_and_conflicts_are_refused() -> None:
    acme = AccountFactory(domain="acme.com", salesforce_id="001000000000001AAA")
    other = AccountFactory(domain="other.com")
    base = {"kind": "initiative", "occurred_at": "2026-11-01T00:00:00Z"}
    result = account_events_store(
        items=[
            {**base, "account_id": acme.pk, "title": "a"},
            {**base, "account_salesforce_id": "001000000000001", "title": "b"},
            {**base, "account_domain": "WWW.Acme.com", "title": "c"},
            {**base, "account_domain": "acme.com", "account_id": other.pk, "title": "d"},
        ],
        now=NOW,
    )
    assert [i.account_id for i in result.items[:3]] == [acme.pk, acme.pk, acme.pk]
    assert result.items[3].errors == {
        "account_id": ["The account fields name two different accounts; send one."]
    }


def test_an_intent_signal_without_an_id_is_idempotent_by_its_observation() -> None:
    account = AccountFactory(domain="acme.com")
    signal = {
        "account_domain": "acme.com",
        "topic": "CRM software",
        "surge_score": 3.4,
        "observed_at": "2026-11-30T00:00:00Z",
        "source": "bombora",
    }
    first = intent_signals_store(items=[signal], now=NOW)
    second = intent_signals_store(items=[signal, {**signal, "surge_score": "2.5"}], now=NOW)
    assert first.created == 1
    # The same account, topic, source and time: the vendor's replay, even with a new score.
    assert [i.status for i in second.items] == [ItemStatus.DUPLICATE, ItemStatus.DUPLICATE]
    stored = IntentSignal.objects.get()
    assert (stored.account_id, stored.surge_score, stored.received_at) == (account.pk, 3.4, NOW)
    assert [a.detail for a in first.arrivals] == ["CRM software"]


def test_an_intent_signal_reports_a_bad_score_and_a_future_time() -> None:
    AccountFactory(domain="acme.com")
    result = intent_signals_store(
        items=[
            {
                "account_domain": "acme.com",
                "topic": "x",
                "surge_score": "lots",
                "observed_at": "2026-11-30T00:00:00Z",
            },
            {
                "account_domain": "acme.com",
                "topic": "x",
                "surge_score": 2,
                "observed_at": "2027-06-01T00:00:00Z",
            },
        ],
        now=NOW,
    )
    assert result.items[0].errors == {"surge_score": ["Must be a number, not str."]}
    assert "Is in the future" in result.items[1].errors["observed_at"][0]


def test_a_technology_is_one_row_per_account_and_name_and_fills_the_tech_stack() -> None:
    account = AccountFactory(domain="acme.com", tech_stack=["HubSpot"])
    first = technologies_store(
        items=[
            {
                "account_domain": "acme.com",
                "name": "  Google   Analytics ",
                "seen_at": "2026-10-01T00:00:00Z",
            },
            {
                "account_domain": "acme.com",
                "name": "google analytics",
                "category": "Analytics",
                "seen_at": "2026-11-01T00:00:00Z",
            },
            {"account_domain": "acme.com", "name": "hubspot"},
        ],
        now=NOW,
    )
    assert [i.status for i in first.items] == [
        ItemStatus.CREATED,
        ItemStatus.DUPLICATE,
        ItemStatus.CREATED,
    ]
    ga = AccountTechnology.objects.get(name="google analytics")
    assert (ga.first_seen.month, ga.last_seen.month, ga.category) == (10, 11, "Analytics")
    account.refresh_from_db()
    # HubSpot was typed in the admin: kept, not added twice in another case.
    assert account.tech_stack == ["HubSpot", "google analytics"]
    again = technologies_store(
        items=[
            {
                "account_domain": "acme.com",
                "name": "Google Analytics",
                "seen_at": "2026-11-30T00:00:00Z",
            }
        ],
        now=NOW,
    )
    assert again.items[0].status == ItemStatus.DUPLICATE
    assert again.arrivals == []
    ga.refresh_from_db()
    assert ga.last_seen == datetime(2026, 11, 30, tzinfo=UTC)
    assert sorted(a.detail for a in first.arrivals) == ["google analytics", "hubspot"]


def test_a_batch_past_the_limit_is_refused_whole() -> None:
    with pytest.raises(ValueError, match="At most 10000"):
        intent_signals_store(items=[{}] * 10_001, now=NOW)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgres_the_bulk_upserts_are_idempotent_and_cast_all_null_columns() -> None:
    account = AccountFactory(domain="acme.com")
    # No renewal in the batch: renews_at and external_id are all NULL (the array casts).
    events = [
        {
            "account_domain": "acme.com",
            "kind": "funding",
            "occurred_at": f"2026-11-{d:02d}T00:00:00Z",
        }
        for d in range(1, 21)
    ]
    first = account_events_store(items=events, now=NOW)
    second = account_events_store(items=[*events, _renewal()], now=NOW)
    assert first.created == 20
    assert (second.created, second.duplicates) == (1, 20)
    assert [i.record_id for i in second.items[:20]] == [i.record_id for i in first.items]
    assert AccountEvent.objects.filter(account=account).count() == 21
    assert AccountEvent.objects.get(kind="contract_renewal").renews_at == date(2027, 3, 1)

    signals = [
        {
            "account_domain": "acme.com",
            "topic": f"t{n}",
            "surge_score": 2.0,
            "observed_at": "2026-11-30T00:00:00Z",
        }
        for n in range(5)
    ]
    assert intent_signals_store(items=signals, now=NOW).created == 5
    assert intent_signals_store(items=signals, now=NOW).duplicates == 5

    techs = [{"account_domain": "acme.com", "name": "Snowflake", "category": "Data warehouse"}]
    created = technologies_store(items=techs, now=NOW)
    seen_again = technologies_store(
        items=[
            {"account_domain": "acme.com", "name": "snowflake", "seen_at": "2026-12-01T11:00:00Z"}
        ],
        now=datetime(2026, 12, 1, 12, 30, tzinfo=UTC),
    )
    assert (created.created, seen_again.duplicates) == (1, 1)
    assert seen_again.items[0].record_id == created.items[0].record_id
    tech = AccountTechnology.objects.get()
    assert (tech.category, tech.first_seen) == (
        "Data warehouse",
        datetime(2026, 12, 1, 11, tzinfo=UTC),
    )
    account.refresh_from_db()
    assert account.tech_stack == ["snowflake"]
