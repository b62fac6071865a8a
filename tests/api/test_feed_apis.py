"""The account feed endpoints: /api/v1/account-events, /intent-signals, /technologies (+ batch)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.feed_apis import (
    AccountEventInputSerializer,
    IntentSignalInputSerializer,
    TechnologyInputSerializer,
)
from accounts.feed_records import EVENT_FIELDS, INTENT_FIELDS, TECHNOLOGY_FIELDS
from accounts.models import AccountEvent, AccountTechnology, IntentSignal
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

RENEWAL = {
    "external_id": "g2-1",
    "account_domain": "acme.com",
    "kind": "contract_renewal",
    "occurred_at": "2026-11-26T09:00:00Z",
    "vendor": "Acme CRM",
    "renews_at": "2027-03-31",
    "source": "g2",
}
SIGNAL = {
    "account_domain": "acme.com",
    "topic": "CRM software",
    "surge_score": 3.4,
    "observed_at": "2026-11-26T00:00:00Z",
    "source": "bombora",
}


def test_an_account_event_is_stored_then_replayed_as_a_duplicate(
    ingest_client: APIClient,
) -> None:
    account = AccountFactory(domain="acme.com")

    first = ingest_client.post("/api/v1/account-events", RENEWAL, format="json")
    again = ingest_client.post("/api/v1/account-events", RENEWAL, format="json")

    assert first.status_code == 201
    event = AccountEvent.objects.get()
    assert first.json() == {"status": "created", "record_id": event.pk, "account_id": account.pk}
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert AccountEvent.objects.count() == 1


def test_an_event_for_an_unknown_account_is_a_400_naming_the_field(
    ingest_client: APIClient,
) -> None:
    response = ingest_client.post(
        "/api/v1/account-events", {**RENEWAL, "account_domain": "nobody.example"}, format="json"
    )

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "No account has domain 'nobody.example'" in fields["account_domain"][0]
    assert AccountEvent.objects.count() == 0


def test_an_invalid_event_gets_each_bad_field(ingest_client: APIClient) -> None:
    AccountFactory(domain="acme.com")
    response = ingest_client.post(
        "/api/v1/account-events",
        {**RENEWAL, "renews_at": "soon", "kind": "gossip", "colour": "red"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"renews_at", "kind", "colour"}


def test_the_event_batch_stores_the_good_items_and_reports_the_bad_by_index(
    ingest_client: APIClient,
) -> None:
    AccountFactory(domain="acme.com")
    body = {
        "events": [
            RENEWAL,
            {**RENEWAL, "external_id": "g2-2", "vendor": ""},
            {
                "account_domain": "acme.com",
                "kind": "funding",
                "occurred_at": "2026-11-20T00:00:00Z",
            },
            RENEWAL,
        ]
    }

    response = ingest_client.post("/api/v1/account-events/batch", body, format="json")

    assert response.status_code == 200
    data = response.json()
    assert (data["created"], data["duplicates"], data["invalid"]) == (2, 1, 1)
    assert data["items"][1]["errors"] == {
        "events[1].vendor": ["A contract renewal needs the incumbent vendor."]
    }
    assert data["items"][3]["record_id"] == data["items"][0]["record_id"]
    assert AccountEvent.objects.count() == 2


def test_a_resent_intent_batch_changes_nothing(ingest_client: APIClient) -> None:
    AccountFactory(domain="acme.com")
    body = {"signals": [SIGNAL, {**SIGNAL, "topic": "Sales engagement"}]}

    first = ingest_client.post("/api/v1/intent-signals/batch", body, format="json").json()
    second = ingest_client.post("/api/v1/intent-signals/batch", body, format="json").json()

    assert (first["created"], second["duplicates"]) == (2, 2)
    assert IntentSignal.objects.count() == 2


def test_one_intent_signal_and_one_technology(ingest_client: APIClient) -> None:
    AccountFactory(domain="acme.com")

    signal = ingest_client.post("/api/v1/intent-signals", SIGNAL, format="json")
    tech = ingest_client.post(
        "/api/v1/technologies", {"account_domain": "acme.com", "name": "Snowflake"}, format="json"
    )
    batch = ingest_client.post(
        "/api/v1/technologies/batch",
        {"technologies": [{"account_domain": "acme.com", "name": "snowflake"}, {"name": "x"}]},
        format="json",
    ).json()

    assert (signal.status_code, tech.status_code) == (201, 201)
    assert [item["status"] for item in batch["items"]] == ["duplicate", "invalid"]
    assert "technologies[1].account_domain" in batch["items"][1]["errors"]
    assert list(AccountTechnology.objects.values_list("name", flat=True)) == ["snowflake"]


@pytest.mark.parametrize(
    ("url", "body", "path"),
    [
        ("/api/v1/account-events/batch", {"events": []}, "events"),
        ("/api/v1/intent-signals/batch", {"signals": "nope"}, "signals"),
        ("/api/v1/technologies/batch", {"technologies": [{}], "extra": 1}, "extra"),
        ("/api/v1/technologies/batch", [], "non_field_errors"),
    ],
)
def test_a_malformed_batch_is_refused_whole(
    ingest_client: APIClient, url: str, body: Any, path: str
) -> None:
    response = ingest_client.post(url, body, format="json")

    assert response.status_code == 400
    assert path in response.json()["error"]["fields"]


def test_a_read_token_cannot_feed(read_client: APIClient) -> None:
    AccountFactory(domain="acme.com")
    response = read_client.post("/api/v1/intent-signals", SIGNAL, format="json")

    assert response.status_code == 403
    assert IntentSignal.objects.count() == 0


def test_serializers_document_exactly_the_fields_the_validators_take() -> None:
    assert set(AccountEventInputSerializer().fields) == EVENT_FIELDS
    assert set(IntentSignalInputSerializer().fields) == INTENT_FIELDS
    assert set(TechnologyInputSerializer().fields) == TECHNOLOGY_FIELDS
