"""POST /api/v1/events and /api/v1/events/batch: people found or created, touchpoints stored
once, leads marked for re-qualification, errors by path."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import ingest
from accounts.apis import EventInputSerializer, PersonInputSerializer
from accounts.events import EVENT_FIELDS, PERSON_FIELDS
from accounts.ingest import events_ingest
from accounts.models import Account, Lead, Touchpoint
from accounts.services import account_match_for_email
from tests.factories import AccountFactory, LeadFactory, TouchpointFactory

EVENTS_URL = "/api/v1/events"
BATCH_URL = "/api/v1/events/batch"

hook_calls: list[list[int]] = []


def record_ingested(lead_ids: list[int]) -> None:
    """A LEADQUAL_AFTER_INGEST hook for the tests."""
    hook_calls.append(lead_ids)


@pytest.fixture(autouse=True)
def _recording_hook(settings: Any) -> None:
    hook_calls.clear()
    settings.LEADQUAL_AFTER_INGEST = [f"{__name__}.record_ingested"]
    # A new person at an account is account evidence too (TRIGGERS, new contact); its
    # re-scoring would re-qualify the lead here, and these tests are about the ingest's own hook.
    settings.LEADQUAL_AFTER_ACCOUNT_EVIDENCE = []


def event(external_id: str, email: str | None = None, **fields: Any) -> dict[str, Any]:
    person: dict[str, Any] = fields.pop("person", {})
    if email is not None:
        person["email"] = email
    return {
        "external_id": external_id,
        "kind": "page_view",
        "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "url": "https://example.com/pricing",
        "page_category": "pricing",
        "duration_seconds": 30,
        "properties": {"utm_source": "ads"},
        "person": person,
        **fields,
    }


# --- one event ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_event_of_a_new_person_creates_the_lead_matched_to_the_account(
    ingest_client: APIClient, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    acme: Account = AccountFactory(domain="acme.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = ingest_client.post(
            EVENTS_URL,
            event(
                "evt-1",
                person={"email": "Jordan.Lee@EU.Acme.com", "name": "Jordan Lee", "title": "VP"},
            ),
            format="json",
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    lead = Lead.objects.get()
    assert (lead.email, lead.name, lead.title, lead.source) == (
        "jordan.lee@eu.acme.com",
        "Jordan Lee",
        "VP",
        "api",
    )
    assert lead.account_id == acme.pk
    touchpoint = Touchpoint.objects.get()
    assert body == {"status": "created", "touchpoint_id": touchpoint.pk, "lead_id": lead.pk}
    assert (touchpoint.lead_id, touchpoint.account_id) == (lead.pk, acme.pk)
    assert (touchpoint.kind, touchpoint.page_category, touchpoint.duration_seconds) == (
        "page_view",
        "pricing",
        30,
    )
    assert touchpoint.properties == {"utm_source": "ads"}
    assert lead.requalify_requested_at is not None
    assert hook_calls == [[lead.pk]]


@pytest.mark.django_db
def test_free_mail_person_is_not_matched_even_with_a_company_domain(
    ingest_client: APIClient,
) -> None:
    AccountFactory(domain="acme.com")

    response = ingest_client.post(
        EVENTS_URL,
        event("evt-1", person={"email": "jordan@gmail.com", "company_domain": "acme.com"}),
        format="json",
    )

    assert response.status_code == 201
    assert Lead.objects.get().account_id is None


@pytest.mark.django_db
def test_company_domain_matches_when_the_email_domain_names_no_account(
    ingest_client: APIClient,
) -> None:
    acme: Account = AccountFactory(domain="acme.com")

    ingest_client.post(
        EVENTS_URL,
        event("evt-1", person={"email": "jo@acme-labs.io", "company_domain": "www.acme.com"}),
        format="json",
    )

    assert Lead.objects.get().account_id == acme.pk


@pytest.mark.django_db
def test_known_person_is_found_by_email_and_then_by_external_id(
    ingest_client: APIClient, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    lead: Lead = LeadFactory(email="jordan@acme.com")

    with django_capture_on_commit_callbacks(execute=True):
        by_email = ingest_client.post(
            EVENTS_URL,
            event("evt-1", person={"email": "JORDAN@acme.com", "external_id": "visitor-9"}),
            format="json",
        )
        by_visitor_id = ingest_client.post(
            EVENTS_URL, event("evt-2", person={"external_id": "visitor-9"}), format="json"
        )

    assert (by_email.status_code, by_visitor_id.status_code) == (201, 201)
    assert by_email.json()["lead_id"] == by_visitor_id.json()["lead_id"] == lead.pk
    assert Lead.objects.count() == 1
    lead.refresh_from_db()
    # The first event carrying both keys taught us the tracker's id for this person.
    assert lead.external_id == "visitor-9"
    assert lead.requalify_requested_at is not None
    assert hook_calls == [[lead.pk], [lead.pk]]


@pytest.mark.django_db
def test_replaying_an_event_changes_nothing_and_says_so(
    ingest_client: APIClient, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    first = ingest_client.post(EVENTS_URL, event("evt-1", "jo@acme.com"), format="json")
    lead = Lead.objects.get()
    marked = lead.requalify_requested_at

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        replay = ingest_client.post(
            EVENTS_URL, event("evt-1", "jo@acme.com", kind="form_submit"), format="json"
        )

    assert replay.status_code == 200
    assert replay.json() == {**first.json(), "status": "duplicate"}
    assert (Lead.objects.count(), Touchpoint.objects.count()) == (1, 1)
    assert Touchpoint.objects.get().kind == "page_view"
    lead.refresh_from_db()
    assert lead.requalify_requested_at == marked
    assert callbacks == []


@pytest.mark.django_db
def test_invalid_event_stores_nothing_and_gets_field_errors(ingest_client: APIClient) -> None:
    bad = event(
        "evt-1",
        "jo@acme.com",
        kind="telepathy",
        occurred_at=(timezone.now() + timedelta(days=2)).isoformat(),
        duration_seconds=-1,
        url="javascript:alert(1)",
        colour="red",
    )

    response = ingest_client.post(EVENTS_URL, bad, format="json")

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"kind", "occurred_at", "duration_seconds", "url", "colour"}
    assert "page_view" in fields["kind"][0]
    assert "future" in fields["occurred_at"][0]
    assert fields["colour"] == ["Unknown field."]
    assert (Lead.objects.count(), Touchpoint.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_new_person_known_only_by_external_id_is_refused_storing_nothing(
    ingest_client: APIClient,
) -> None:
    response = ingest_client.post(
        EVENTS_URL, event("evt-1", person={"external_id": "visitor-1"}), format="json"
    )

    assert response.status_code == 400
    assert "needs their email" in response.json()["error"]["fields"]["person.email"][0]
    assert (Lead.objects.count(), Touchpoint.objects.count()) == (0, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"person": {}}, "person"),
        ({"person": {"email": "jo@acme.com", "shoe_size": 9}}, "person.shoe_size"),
        ({"occurred_at": "2026-11-26T10:00:00"}, "occurred_at"),
        ({"text": "nul \x00 byte"}, "text"),
        ({"properties": {"k": "nul \x00"}}, "properties"),
        ({"properties": ["not", "an", "object"]}, "properties"),
        ({"duration_seconds": True}, "duration_seconds"),
        ({"duration_seconds": 2**40}, "duration_seconds"),
        ({"page_category": "nowhere"}, "page_category"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "x" * 256}, "external_id"),
        ({"person": {"email": "jö@acme.com"}}, "person.email"),
        ({"url": "http://[::1"}, "url"),
        ({"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at"),
        ({"duration_seconds": 1.5}, "duration_seconds"),
    ],
)
def test_each_bad_field_is_named(
    ingest_client: APIClient, change: dict[str, Any], path: str
) -> None:
    response = ingest_client.post(
        EVENTS_URL, {**event("evt-1", "jo@acme.com"), **change}, format="json"
    )

    assert response.status_code == 400
    assert path in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_email_and_external_id_of_two_different_leads_are_refused(
    ingest_client: APIClient,
) -> None:
    LeadFactory(email="a@acme.com", external_id="visitor-a")
    LeadFactory(email="b@acme.com", external_id="visitor-b")

    response = ingest_client.post(
        EVENTS_URL,
        event("evt-1", person={"email": "a@acme.com", "external_id": "visitor-b"}),
        format="json",
    )

    assert response.status_code == 400
    assert "two different leads" in response.json()["error"]["fields"]["person"][0]
    assert not Touchpoint.objects.exists()


# --- batches ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_batch_stores_valid_items_and_reports_each_with_paths(
    ingest_client: APIClient, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    known: Lead = LeadFactory(email="known@acme.com")
    TouchpointFactory(lead=known, external_id="evt-old")
    events = [
        event("evt-a", "known@acme.com"),
        event("evt-b", "new@acme.com"),
        event("evt-c", "new@acme.com", kind="form_submit", form_type="demo_request"),
        event("evt-d", "x@acme.com", occurred_at="soon"),
        event("evt-old", "known@acme.com"),
        event("evt-a", "known@acme.com"),
        "not an object",
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = ingest_client.post(BATCH_URL, {"events": events}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [item["status"] for item in body["items"]] == [
        "created",
        "created",
        "created",
        "invalid",
        "duplicate",
        "duplicate",
        "invalid",
    ]
    assert (body["created"], body["duplicates"], body["invalid"], body["leads_created"]) == (
        3,
        2,
        2,
        1,
    )
    items = body["items"]
    assert [item["index"] for item in items] == list(range(7))
    assert set(items[3]["errors"]) == {"events[3].occurred_at"}
    assert set(items[6]["errors"]) == {"events[6]"}
    assert items[5]["touchpoint_id"] == items[0]["touchpoint_id"]
    new = Lead.objects.get(email="new@acme.com")
    assert items[1]["lead_id"] == items[2]["lead_id"] == new.pk
    assert Touchpoint.objects.count() == 4
    assert hook_calls == [sorted([known.pk, new.pk])]


@pytest.mark.django_db
def test_batch_resolves_a_persons_tracker_id_from_another_event_in_any_order(
    ingest_client: APIClient,
) -> None:
    known: Lead = LeadFactory(email="known@acme.com")
    events = [
        event("evt-1", person={"external_id": "visitor-new"}),  # before the event naming them
        event("evt-2", person={"email": "new@acme.com"}),
        event("evt-3", person={"email": "new@acme.com", "external_id": "visitor-new"}),
        event("evt-4", person={"email": "known@acme.com", "external_id": "visitor-known"}),
        event("evt-5", person={"external_id": "visitor-known"}),
        event("evt-6", person={"email": "other@acme.com", "external_id": "visitor-new"}),
    ]

    body = ingest_client.post(BATCH_URL, {"events": events}, format="json").json()

    statuses = [item["status"] for item in body["items"]]
    assert statuses == ["created"] * 5 + ["invalid"]
    new = Lead.objects.get(email="new@acme.com")
    assert new.external_id == "visitor-new"
    assert [item["lead_id"] for item in body["items"][:3]] == [new.pk] * 3
    known.refresh_from_db()
    assert known.external_id == "visitor-known"
    assert [item["lead_id"] for item in body["items"][3:5]] == [known.pk] * 2
    assert "another new person" in body["items"][5]["errors"]["events[5].person.external_id"][0]
    assert not Lead.objects.filter(email="other@acme.com").exists()


@pytest.mark.django_db
def test_an_event_stored_by_another_request_meanwhile_becomes_a_duplicate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The other request commits between this one's lookup of stored events and its insert:
    # the lookup is made to miss the row once. On PostgreSQL the COPY then fails on the unique
    # external id and the rows go through the staging table's ON CONFLICT DO NOTHING.
    lead: Lead = LeadFactory(email="jo@acme.com")
    earlier = TouchpointFactory(lead=lead, external_id="evt-raced")
    real_stored = ingest._touchpoints_stored
    lookups: list[int] = []

    def stored_missing_it_once(ids: Any) -> dict[str, Any]:
        lookups.append(1)
        return {} if len(lookups) == 1 else real_stored(ids)

    real_staged = ingest._touchpoints_insert_staged
    staged: list[int] = []

    def staged_spy(rows: Any, *, now: Any) -> dict[str, int]:
        staged.append(len(rows))
        return real_staged(rows, now=now)

    monkeypatch.setattr(ingest, "_touchpoints_stored", stored_missing_it_once)
    monkeypatch.setattr(ingest, "_touchpoints_insert_staged", staged_spy)

    result = events_ingest(
        events=[event("evt-raced", "jo@acme.com"), event("evt-new", "jo@acme.com")]
    )

    assert [item.status for item in result.items] == ["duplicate", "created"]
    assert staged == ([2] if connection.vendor == "postgresql" else [])
    assert result.items[0].touchpoint_id == earlier.pk
    assert Touchpoint.objects.count() == 2
    assert Touchpoint.objects.get(external_id="evt-new").lead_id == lead.pk


@pytest.mark.django_db
def test_every_event_naming_the_same_bad_person_gets_the_error(ingest_client: APIClient) -> None:
    # A batch parses each distinct person object once; its errors still belong to each event.
    events = [event(f"evt-{i}", person={"email": "not-an-email"}) for i in range(3)]

    body = ingest_client.post(BATCH_URL, {"events": events}, format="json").json()

    assert [set(item["errors"]) for item in body["items"]] == [
        {f"events[{i}].person.email"} for i in range(3)
    ]


@pytest.mark.django_db
def test_replaying_a_whole_batch_changes_nothing(ingest_client: APIClient) -> None:
    AccountFactory(domain="acme.com")
    events = [event(f"evt-{i}", f"person{i % 7}@acme.com") for i in range(40)]
    first = ingest_client.post(BATCH_URL, {"events": events}, format="json").json()
    marks = dict(Lead.objects.values_list("pk", "requalify_requested_at"))
    counts = (Lead.objects.count(), Touchpoint.objects.count())

    replay = ingest_client.post(BATCH_URL, {"events": events}, format="json").json()

    assert first["created"] == 40 and first["leads_created"] == 7
    assert (replay["created"], replay["duplicates"], replay["leads_created"]) == (0, 40, 0)
    assert {item["status"] for item in replay["items"]} == {"duplicate"}
    assert [i["touchpoint_id"] for i in replay["items"]] == [
        i["touchpoint_id"] for i in first["items"]
    ]
    assert (Lead.objects.count(), Touchpoint.objects.count()) == counts
    assert dict(Lead.objects.values_list("pk", "requalify_requested_at")) == marks


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"events": []}, "events"),
        ({"events": "nope"}, "events"),
        ({}, "events"),
        ({"events": [], "extra": 1}, "extra"),
        ([], "non_field_errors"),
    ],
)
def test_malformed_batch_is_refused_whole(ingest_client: APIClient, body: Any, path: str) -> None:
    response = ingest_client.post(BATCH_URL, body, format="json")

    assert response.status_code == 400
    assert path in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_batch_body_over_its_own_limit_gets_413(
    ingest_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("accounts.apis.MAX_BATCH_BODY_BYTES", 1000)
    events = [event(f"evt-{i}", "jo@acme.com") for i in range(10)]

    response = ingest_client.post(BATCH_URL, {"events": events}, format="json")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Touchpoint.objects.exists()


@pytest.mark.django_db
def test_batch_over_ten_thousand_is_refused_whole(ingest_client: APIClient) -> None:
    one = event("evt", "jo@acme.com")
    response = ingest_client.post(BATCH_URL, {"events": [one] * 10_001}, format="json")

    assert response.status_code == 400
    assert "between 1 and 10000" in response.json()["error"]["fields"]["events"][0]
    assert not Touchpoint.objects.exists()


@pytest.mark.django_db
def test_batch_of_ten_thousand_is_accepted_beyond_the_form_upload_limit(
    ingest_client: APIClient, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000_000  # the batch is bigger: ~3 MB
    AccountFactory(domain="acme.com")
    LeadFactory(email="person0@acme.com")
    events = [event(f"evt-{i}", f"person{i % 500}@acme.com") for i in range(10_000)]

    response = ingest_client.post(BATCH_URL, {"events": events}, format="json")

    assert response.status_code == 200
    assert (response.json()["created"], response.json()["leads_created"]) == (10_000, 499)
    assert Touchpoint.objects.count() == 10_000
    # The new people are matched; a known one keeps the account it has (none here).
    assert Lead.objects.filter(account__domain="acme.com").count() == 499
    assert Lead.objects.get(email="person0@acme.com").account_id is None


# --- the service and its pieces -----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email",
    ["jo@acme.com", "jo@eu.sales.acme.com", "jo@gmail.com", "jo@other.org", "jo@acme.co.uk"],
)
def test_bulk_account_match_agrees_with_the_one_by_one_rule(email: str) -> None:
    AccountFactory(domain="acme.com")
    AccountFactory(domain="acme.co.uk")
    expected = account_match_for_email(email=email)

    events_ingest(events=[event("evt-1", email)])

    assert Lead.objects.get().account_id == (expected.pk if expected else None)


def test_serializers_document_exactly_the_fields_the_validator_takes() -> None:
    assert set(EventInputSerializer().fields) == EVENT_FIELDS
    assert set(PersonInputSerializer().fields) == PERSON_FIELDS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_sharing_people_and_events_store_each_event_once(
    settings: Any,
) -> None:
    settings.LEADQUAL_AFTER_INGEST = []
    for i in range(40):
        LeadFactory(email=f"known{i}@acme.com")
    shared = [event(f"shared-{i}", f"known{i}@acme.com") for i in range(20)]

    def batch(tag: str) -> list[dict[str, Any]]:
        own = [event(f"{tag}-{i}", f"known{(i * 7) % 40}@acme.com") for i in range(200)]
        new = [event(f"{tag}-new-{i}", f"new{i % 30}@acme.com") for i in range(60)]
        # Reversed in one batch: the two lock the leads they share in opposite input orders.
        events = shared + own + new
        return events if tag == "a" else events[::-1]

    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def run(tag: str) -> None:
        events = batch(tag)
        barrier.wait()
        try:
            results[tag] = events_ingest(events=events)
        except Exception as error:  # reported below
            results[tag] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(tag,)) for tag in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    a, b = results["a"], results["b"]
    assert not isinstance(a, Exception), a
    assert not isinstance(b, Exception), b
    assert a.invalid == b.invalid == 0
    # Each shared event is stored by exactly one of the two; everything else by its own batch.
    assert a.created + b.created == 20 + 2 * 260
    assert a.duplicates + b.duplicates == 20
    assert Touchpoint.objects.count() == 20 + 2 * 260
    assert Lead.objects.filter(email__startswith="new").count() == 30
    assert not Lead.objects.filter(email__startswith="known", requalify_requested_at=None).exists()
