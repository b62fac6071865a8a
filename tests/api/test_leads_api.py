"""The lead and account read endpoints: filters, pagination, visibility, query counts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from accounts.models import ApiScope, CommitteeRole, Lead
from accounts.services import api_token_issue
from scoring.apis import _encode_cursor
from scoring.models import Qualification, Tier
from scoring.selectors import CurrentAssignment, Position
from tests.conftest import ROLE_SDR, user_in_role
from tests.factories import (
    AccountEventFactory,
    AccountFactory,
    IntentSignalFactory,
    LeadFactory,
    QualificationFactory,
    StakeholderFactory,
    TouchpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads"


def token_client(scope: str) -> Client:
    """A client that sends a fresh token of `scope` as a Bearer header."""
    issuer = UserFactory()
    _, key = api_token_issue(name=f"{scope} test", scope=scope, created_by=issuer)
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def reader() -> Client:
    return token_client(ApiScope.READ)


def ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def field_errors(response: Any) -> dict[str, Any]:
    """The one error shape: {"error": {"status", "code", "message", "fields"}}."""
    error = response.json()["error"]
    assert error["status"] == response.status_code
    assert error["code"]
    assert error["message"]
    fields: dict[str, Any] = error["fields"]
    return fields


def touch_updated_at(lead: Lead, when: Any) -> None:
    # updated_at is auto_now: only a queryset update can set it to a chosen moment.
    Lead.objects.filter(pk=lead.pk).update(updated_at=when)


# --- list: filters --------------------------------------------------------------------------


def test_lead_list_filters_by_current_tier(reader: Client) -> None:
    ready = LeadFactory()
    QualificationFactory(lead=ready, tier=Tier.SALES_READY)
    nurture = LeadFactory()
    # History says Sales Ready, the current decision says nurture: the filter reads the current.
    QualificationFactory(lead=nurture, tier=Tier.SALES_READY, is_current=False)
    QualificationFactory(lead=nurture, tier=Tier.NURTURE)
    LeadFactory()  # never qualified

    response = reader.get(LEADS, {"tier": "sales_ready"})

    assert response.status_code == 200
    assert ids(response) == [ready.pk]
    assert response.json()["results"][0]["qualification"]["tier"] == "sales_ready"


def test_lead_list_filters_by_owner_account_and_updated_since(reader: Client) -> None:
    owner = UserFactory()
    account = AccountFactory()
    now = timezone.now()
    mine_recent = LeadFactory(owner=owner, account=account)
    mine_old = LeadFactory(owner=owner, account=account)
    other = LeadFactory(account=AccountFactory())
    touch_updated_at(mine_recent, now - timedelta(hours=1))
    touch_updated_at(mine_old, now - timedelta(days=10))
    touch_updated_at(other, now - timedelta(hours=1))

    assert set(ids(reader.get(LEADS, {"owner": owner.pk}))) == {mine_recent.pk, mine_old.pk}
    assert set(ids(reader.get(LEADS, {"account": account.pk}))) == {mine_recent.pk, mine_old.pk}
    since = (now - timedelta(days=1)).isoformat()
    assert set(ids(reader.get(LEADS, {"updated_since": since}))) == {mine_recent.pk, other.pk}
    both = reader.get(LEADS, {"owner": owner.pk, "updated_since": since})
    assert ids(both) == [mine_recent.pk]


def test_updated_since_also_finds_leads_requalified_since(reader: Client) -> None:
    now = timezone.now()
    requalified = LeadFactory()
    QualificationFactory(lead=requalified, is_current=False, computed_at=now - timedelta(days=9))
    QualificationFactory(lead=requalified, computed_at=now - timedelta(hours=2))
    stale = LeadFactory()
    QualificationFactory(lead=stale, computed_at=now - timedelta(days=9))
    for lead in (requalified, stale):
        touch_updated_at(lead, now - timedelta(days=10))

    response = reader.get(LEADS, {"updated_since": (now - timedelta(days=1)).isoformat()})

    assert ids(response) == [requalified.pk]


def test_owner_me_is_the_signed_in_user(manager_client: Client, manager_user: User) -> None:
    mine = LeadFactory(owner=manager_user)
    LeadFactory(owner=UserFactory())

    response = manager_client.get(LEADS, {"owner": "me"})

    assert response.status_code == 200
    assert ids(response) == [mine.pk]


def test_owner_me_with_a_token_is_a_field_error(reader: Client) -> None:
    response = reader.get(LEADS, {"owner": "me"})

    assert response.status_code == 400
    assert "owner" in field_errors(response)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"updated_since": "2026-13-01T00:00:00Z"}, "updated_since"),
        ({"tier": "hot"}, "tier"),
        ({"owner": "someone"}, "owner"),
        ({"account": "acme"}, "account"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "201"}, "page_size"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzEsMl0"}, "cursor"),  # base64 of [1,2]: ours in form, not in content
        ({"cursor": _encode_cursor(Position("0001-01-01T00:00:00+05:00", 1))}, "cursor"),
        ({"cursor": _encode_cursor(Position("2026-01-01T00:00:00", 1))}, "cursor"),  # naive
    ],
)
def test_bad_list_parameters_answer_400_naming_the_field(
    reader: Client, params: dict[str, str], field: str
) -> None:
    response = reader.get(LEADS, params)

    assert response.status_code == 400
    assert field in field_errors(response)


# --- list: pagination -----------------------------------------------------------------------


def test_cursor_pages_return_every_lead_once_newest_first(reader: Client) -> None:
    now = timezone.now()
    # Three share one created_at (as an import's rows do): the id breaks the tie, so no page
    # repeats or skips one.
    moments = [now - timedelta(minutes=m) for m in (5, 1, 5, 20, 5, 12, 9)]
    leads = [LeadFactory(created_at=moment) for moment in moments]
    expected = [
        lead.pk
        for lead, moment in sorted(
            zip(leads, moments, strict=True), key=lambda pair: (pair[1], pair[0].pk), reverse=True
        )
    ]

    seen: list[int] = []
    pages = 0
    params: dict[str, Any] = {"page_size": 3}
    while True:
        body = reader.get(LEADS, params).json()
        pages += 1
        seen.extend(row["id"] for row in body["results"])
        if body["next_cursor"] is None:
            assert body["next"] is None
            break
        assert f"cursor={body['next_cursor']}" in body["next"]
        params = {"page_size": 3, "cursor": body["next_cursor"]}
        # An update while paging moves nothing between pages.
        touch_updated_at(leads[3], timezone.now())

    assert seen == expected
    assert pages == 3


def test_page_size_defaults_to_50(reader: Client) -> None:
    for _ in range(51):
        LeadFactory()

    body = reader.get(LEADS).json()

    assert len(body["results"]) == 50
    assert body["next_cursor"] is not None


# --- visibility -----------------------------------------------------------------------------


def test_an_sdr_lists_only_the_leads_they_own(sdr_client: Client, sdr_user: User) -> None:
    mine = LeadFactory(owner=sdr_user)
    LeadFactory(owner=user_in_role(ROLE_SDR))
    LeadFactory()

    response = sdr_client.get(LEADS)

    assert response.status_code == 200
    assert ids(response) == [mine.pk]


def test_a_manager_and_a_read_token_list_every_lead(manager_client: Client, reader: Client) -> None:
    leads = {LeadFactory(owner=user_in_role(ROLE_SDR)).pk, LeadFactory().pk}

    assert set(ids(manager_client.get(LEADS))) == leads
    assert set(ids(reader.get(LEADS))) == leads


@pytest.mark.parametrize("suffix", ["", "/qualifications"])
def test_another_sdrs_lead_is_404_for_an_sdr(sdr_client: Client, suffix: str) -> None:
    theirs = LeadFactory(owner=user_in_role(ROLE_SDR))
    QualificationFactory(lead=theirs)

    response = sdr_client.get(f"{LEADS}/{theirs.pk}{suffix}")

    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404
    # Not a different answer from a lead that does not exist: ids of colleagues stay private.
    missing = sdr_client.get(f"{LEADS}/{theirs.pk + 1000}{suffix}")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"].replace(str(theirs.pk + 1000), "") == (
        response.json()["error"]["message"].replace(str(theirs.pk), "")
    )


def test_a_user_without_the_lead_permissions_gets_403() -> None:
    client = Client()
    client.force_login(UserFactory())  # signed in, in no role

    assert client.get(LEADS).status_code == 403


# --- detail and history ---------------------------------------------------------------------


def current_assignment_for_tests(lead_id: int) -> CurrentAssignment | None:
    """Stands in for routing's provider: the API must show what the provider says."""
    return CurrentAssignment(
        assignment_id=77,
        status="open",
        queue="sales",
        rep_user_id=5,
        rep_name="Sam Rivera",
        assigned_at=timezone.now(),
        sla_due_at=None,
        reason=f"Rule 1 for lead {lead_id}",
    )


def test_lead_detail_has_the_current_qualification_with_its_brief(
    sdr_client: Client, sdr_user: User
) -> None:
    lead = LeadFactory(owner=sdr_user, name="Jordan Lee", account=AccountFactory(name="Acme"))
    QualificationFactory(lead=lead, tier=Tier.NURTURE, is_current=False)
    current = QualificationFactory(
        lead=lead,
        tier=Tier.SALES_READY,
        conversion_probability=0.62,
        deal_size_low=Decimal("10000.00"),
        deal_size_high=Decimal("25000.50"),
        brief={"headline": "Pricing twice this week", "factors": ["Director", "ICP fit"]},
        recommended_action="Call today",
    )

    response = sdr_client.get(f"{LEADS}/{lead.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Jordan Lee"
    assert body["account"]["name"] == "Acme"
    assert body["owner"]["id"] == sdr_user.pk
    qualification = body["qualification"]
    assert qualification["id"] == current.pk
    assert qualification["tier"] == "sales_ready"
    assert qualification["conversion_probability"] == 0.62
    assert qualification["deal_size_high"] == 25000.5
    assert qualification["brief"]["headline"] == "Pricing twice this week"
    assert qualification["recommended_action"] == "Call today"
    # The lead has no assignment (routing provides it): null, not an error.
    assert body["assignment"] is None


@override_settings(
    LEADQUAL_CURRENT_ASSIGNMENT_PROVIDER="tests.api.test_leads_api.current_assignment_for_tests"
)
def test_lead_detail_shows_the_assignment_the_provider_reports(reader: Client) -> None:
    lead = LeadFactory()

    body = reader.get(f"{LEADS}/{lead.pk}").json()

    assert body["assignment"]["assignment_id"] == 77
    assert body["assignment"]["rep_name"] == "Sam Rivera"
    assert body["assignment"]["reason"] == f"Rule 1 for lead {lead.pk}"


def test_an_unqualified_lead_has_a_null_qualification(reader: Client) -> None:
    lead = LeadFactory()

    body = reader.get(f"{LEADS}/{lead.pk}").json()

    assert body["qualification"] is None


def test_qualification_history_is_newest_first_and_paginated(reader: Client) -> None:
    lead = LeadFactory()
    now = timezone.now()
    old = [
        QualificationFactory(lead=lead, is_current=False, computed_at=now - timedelta(days=d))
        for d in (3, 1, 2)
    ]
    current = QualificationFactory(lead=lead, computed_at=now)
    QualificationFactory(lead=LeadFactory())  # another lead's

    first = reader.get(f"{LEADS}/{lead.pk}/qualifications", {"page_size": 2}).json()
    second = reader.get(
        f"{LEADS}/{lead.pk}/qualifications", {"page_size": 2, "cursor": first["next_cursor"]}
    ).json()

    order = [row["id"] for row in first["results"] + second["results"]]
    assert order == [current.pk, old[1].pk, old[2].pk, old[0].pk]
    assert [row["is_current"] for row in first["results"]] == [True, False]
    assert second["next_cursor"] is None


def test_a_missing_lead_is_404_in_the_error_shape(reader: Client) -> None:
    response = reader.get(f"{LEADS}/999999")

    assert response.status_code == 404
    assert response.json()["error"]["code"]


# --- query counts ---------------------------------------------------------------------------


def _queries(client: Client, path: str, params: dict[str, Any]) -> int:
    # A first request stamps the token's last_used_at (once a minute): not part of the read.
    client.get(path, params)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    return len(captured)


def test_lead_list_queries_do_not_grow_with_the_page_size(reader: Client) -> None:
    owner = UserFactory()
    account = AccountFactory()
    for _ in range(25):
        lead = LeadFactory(owner=owner, account=account)
        QualificationFactory(lead=lead, tier=Tier.SALES_READY)

    small = _queries(reader, LEADS, {"page_size": 2})
    large = _queries(reader, LEADS, {"page_size": 25})

    assert small == large
    # The token lookup, the page with account and owner, the current qualifications.
    assert large == 3


def test_account_list_queries_do_not_grow_with_the_page_size(reader: Client) -> None:
    for n in range(12):
        account = AccountFactory()
        lead = LeadFactory(account=account)
        QualificationFactory(lead=lead)
        StakeholderFactory(account=account, lead=lead, committee_role=CommitteeRole.CHAMPION)
        TouchpointFactory(lead=lead)
        IntentSignalFactory(account=account, topic=f"topic {n}")
        AccountEventFactory(account=account)

    small = _queries(reader, "/api/v1/accounts", {"page_size": 2})
    large = _queries(reader, "/api/v1/accounts", {"page_size": 12})

    assert small == large
    # The token, the page with owners, seven grouped queries for the roll-ups and one for
    # the current account qualifications.
    assert large == 10


# --- accounts -------------------------------------------------------------------------------


def test_account_detail_rolls_up_leads_committee_touches_intent_and_events(
    reader: Client,
) -> None:
    now = timezone.now()
    account = AccountFactory(name="Acme", domain="acme.com")
    buyer = LeadFactory(account=account)
    champion = LeadFactory(account=account)
    quiet = LeadFactory(account=account)
    QualificationFactory(lead=buyer, tier=Tier.NURTURE, conversion_probability=0.2)
    QualificationFactory(lead=champion, tier=Tier.SALES_READY, conversion_probability=0.55)
    # A former decision: not current, so neither its tier nor its probability counts.
    QualificationFactory(
        lead=quiet, tier=Tier.SALES_READY, conversion_probability=0.9, is_current=False
    )
    QualificationFactory(lead=quiet, tier=Tier.DISQUALIFY, conversion_probability=0.01)
    StakeholderFactory(account=account, lead=buyer, committee_role=CommitteeRole.ECONOMIC_BUYER)
    StakeholderFactory(account=account, lead=champion, committee_role=CommitteeRole.CHAMPION)
    StakeholderFactory(account=account, lead=quiet, committee_role=CommitteeRole.BLOCKER)
    TouchpointFactory(lead=buyer, occurred_at=now - timedelta(days=2))
    TouchpointFactory(lead=buyer, occurred_at=now - timedelta(days=3))
    TouchpointFactory(lead=champion, occurred_at=now - timedelta(days=1))
    TouchpointFactory(lead=quiet, occurred_at=now - timedelta(days=45))  # outside 30 days
    TouchpointFactory(lead=None, account=account, occurred_at=now - timedelta(days=4))
    IntentSignalFactory(account=account, topic="lead scoring", surge_score=3.4)
    IntentSignalFactory(account=account, topic="lead scoring", surge_score=2.0)
    IntentSignalFactory(account=account, topic="crm", surge_score=1.5)
    AccountEventFactory(account=account, title="Series B", occurred_at=now - timedelta(days=10))
    AccountEventFactory(account=account, title="Old news", occurred_at=now - timedelta(days=200))
    other = AccountFactory()
    QualificationFactory(lead=LeadFactory(account=other), tier=Tier.SALES_READY)

    response = reader.get(f"/api/v1/accounts/{account.pk}")

    assert response.status_code == 200
    rollup = response.json()["rollup"]
    assert rollup["leads"] == 3
    assert rollup["qualified_leads"] == 3
    assert rollup["leads_by_tier"] == {"nurture": 1, "sales_ready": 1, "disqualify": 1}
    assert rollup["best_tier"] == "sales_ready"
    assert rollup["highest_conversion_probability"] == 0.55
    assert rollup["engaged_stakeholders"] == 2
    assert rollup["committee_roles_covered"] == ["champion", "economic_buyer"]
    assert rollup["touches_30d"] == 4
    assert rollup["intent_signals_30d"] == 3
    assert rollup["max_intent_surge_30d"] == 3.4
    assert [t["topic"] for t in rollup["top_intent_topics"]] == ["lead scoring", "crm"]
    assert rollup["events_90d"] == 1
    assert [e["title"] for e in rollup["recent_events"]] == ["Series B"]


def test_account_list_is_by_name_with_cursor_pages(reader: Client) -> None:
    names = ["Beta", "Alpha", "Gamma", "Alpha"]
    accounts = [AccountFactory(name=name) for name in names]
    expected = [a.pk for a in sorted(accounts, key=lambda a: (a.name, a.pk))]

    first = reader.get("/api/v1/accounts", {"page_size": 3}).json()
    second = reader.get("/api/v1/accounts", {"page_size": 3, "cursor": first["next_cursor"]}).json()

    assert [row["id"] for row in first["results"] + second["results"]] == expected
    assert first["results"][0]["rollup"]["leads"] == 0


def test_a_missing_account_is_404(reader: Client) -> None:
    assert reader.get("/api/v1/accounts/999999").status_code == 404


def test_an_sdr_reads_accounts(sdr_client: Client) -> None:
    account = AccountFactory()

    assert sdr_client.get(f"/api/v1/accounts/{account.pk}").status_code == 200


def test_history_rows_are_the_leads_own(reader: Client) -> None:
    lead = LeadFactory()
    mine = QualificationFactory(lead=lead)
    QualificationFactory(lead=LeadFactory())

    body = reader.get(f"{LEADS}/{lead.pk}/qualifications").json()

    assert [row["id"] for row in body["results"]] == [mine.pk]
    assert Qualification.objects.count() == 2


def test_ids_beyond_the_databases_integer_range_are_refused_or_not_found(
    reader: Client,
) -> None:
    LeadFactory()
    huge = str(10**30)
    cursor = _encode_cursor(Position(timezone.now(), 10**30))
    assert cursor is not None

    for params in ({"owner": huge}, {"account": huge}, {"owner": "9" * 5000}):
        response = reader.get(LEADS, params)
        assert response.status_code == 400, (params, response.content)
        assert set(field_errors(response)) == set(params)
    assert reader.get(LEADS, {"cursor": cursor}).status_code == 200
    assert reader.get(f"{LEADS}/{huge}").status_code == 404
    assert reader.get(f"/api/v1/accounts/{huge}").status_code == 404
