"""The RevOps data page: each account feed's freshness, volume and sources."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AccountEvent, AccountEventKind, AccountTechnology, IntentSignal
from dashboards.selectors.feeds import feed_freshness
from tests.dashboards.conftest import client_for
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HTMX = {"HX-Request": "true"}
URL = "dashboards:revops-data"


def _world(now: datetime = NOW) -> None:
    acme = AccountFactory(domain="acme.com")
    globex = AccountFactory(domain="globex.com")
    for days, source, account in ((2, "g2", acme), (12, "g2", globex), (40, "salesforce", acme)):
        AccountEvent.objects.create(
            account=account,
            kind=AccountEventKind.CONTRACT_RENEWAL,
            occurred_at=now - timedelta(days=days + 1),
            title=f"renewal {days}",
            source=source,
            vendor="Acme CRM",
            renews_at=(now + timedelta(days=90)).date(),
            received_at=now - timedelta(days=days),
        )
    AccountEvent.objects.create(
        account=acme,
        kind=AccountEventKind.FUNDING,
        occurred_at=now - timedelta(days=20),
        title="Series B",
        source="crunchbase",
        received_at=now - timedelta(days=20),
    )
    for i in range(3):
        IntentSignal.objects.create(
            account=acme,
            topic=f"topic {i}",
            surge_score=2.0,
            observed_at=now - timedelta(days=3 + i),
            source="bombora",
            received_at=now - timedelta(days=1),
        )
    AccountTechnology.objects.create(
        account=acme,
        name="snowflake",
        first_seen=now - timedelta(days=60),
        last_seen=now - timedelta(days=9),
        source="builtwith",
        received_at=now - timedelta(days=60),
    )


@pytest.fixture
def revops(demo_users: dict[str, User]) -> Client:
    return client_for(demo_users["revops"])


def test_each_feed_has_its_freshness_volume_and_sources() -> None:
    _world()
    feeds = {row.key: row for row in feed_freshness(now=NOW).rows}

    renewal = feeds["event:contract_renewal"]
    assert (renewal.total, renewal.last_7_days, renewal.last_30_days) == (3, 1, 2)
    assert renewal.latest_received_at == NOW - timedelta(days=2)
    assert renewal.latest_observed_at == NOW - timedelta(days=3)
    assert renewal.age == timedelta(days=2) and not renewal.stale
    assert renewal.sources == [("g2", 2), ("salesforce", 1)]

    funding = feeds["event:funding"]
    assert (funding.total, funding.last_7_days, funding.last_30_days) == (1, 0, 1)
    assert funding.stale  # nothing new for 20 days
    assert feeds["event:job_posting"].never and feeds["event:job_posting"].age is None

    intent = feeds["intent"]
    assert (intent.total, intent.last_7_days) == (3, 3)
    assert intent.latest_observed_at == NOW - timedelta(days=3)
    assert intent.sources == [("bombora", 3)]

    tech = feeds["technologies"]
    assert (tech.total, tech.last_30_days) == (1, 0)
    assert tech.latest_observed_at == NOW - timedelta(days=9)  # last seen, not first
    assert tech.sources == [("builtwith", 1)]


def test_the_page_shows_every_feed_and_the_fragment_only_the_table(revops: Client) -> None:
    _world(now=datetime.now(tz=UTC))
    page = revops.get(reverse(URL))
    html = page.content.decode()
    assert page.status_code == 200
    assert "<h1>Data feeds</h1>" in html
    assert 'aria-current="page">Data</a>' in html
    for label in ("Competitor contract renewal", "Funding round", "Intent signals", "Technologies"):
        assert label in html
    row = re.search(r'<tr data-feed="event:contract_renewal">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "g2 (2), salesforce (1)" in row.group(1)
    funding = re.search(r'<tr data-feed="event:funding">(.*?)</tr>', html, re.S)
    assert funding is not None and "stale" in funding.group(1)
    never = re.search(r'<tr data-feed="event:job_posting">(.*?)</tr>', html, re.S)
    assert never is not None and "never" in never.group(1)

    fragment = revops.get(reverse(URL), headers=HTMX)
    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert body.lstrip().startswith('<section id="feeds"')
    assert "<h1>" not in body and "intent" in body
    assert "HX-Request" in fragment["Vary"]


@pytest.mark.parametrize("role", ["sdr", "manager"])
def test_the_data_page_is_for_revops(demo_users: dict[str, User], role: str) -> None:
    response = client_for(demo_users[role]).get(reverse(URL))
    assert response.status_code == 403
    assert "RevOps only" in response.content.decode()


def test_the_query_count_does_not_grow_with_the_rows(revops: Client) -> None:
    _world()
    revops.get(reverse(URL))  # session, permission caches
    with CaptureQueriesContext(connection) as few:
        revops.get(reverse(URL))
    account = AccountFactory(domain="initech.com")
    IntentSignal.objects.bulk_create(
        IntentSignal(
            account=account, topic=f"t{i}", surge_score=1.0, observed_at=NOW, source=f"s{i % 9}"
        )
        for i in range(200)
    )
    with CaptureQueriesContext(connection) as many:
        response = revops.get(reverse(URL))
    assert response.status_code == 200
    # Two aggregate queries per feed model, and the session, user and permission lookups.
    assert len(many) == len(few) <= 12, [q["sql"][:120] for q in many.captured_queries]
    assert "and 5 more" in response.content.decode()  # bombora and 9 others, 5 shown
