"""The incremental pull against the loopback org and PostgreSQL: what it creates, that a second
pull (and leadqual's own push) changes nothing, deletes, crashes between pages, Bulk API 2.0,
the API usage stop and dry runs."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.models import (
    Account,
    Lead,
    Opportunity,
    SalesforceSyncState,
    Stakeholder,
    Touchpoint,
)
from accounts.salesforce import mapping
from accounts.salesforce.client import SalesforceClient, SalesforceConfig
from accounts.salesforce.errors import SalesforceRetryable
from accounts.salesforce.loopback import LoopbackServer, OrgStore
from accounts.salesforce.loopback.seed import SeededOrg, seed_org
from accounts.salesforce.pull import (
    DEFAULT_OBJECTS,
    LeadPullHandler,
    PullCounts,
    safe_watermark,
    salesforce_pull,
)
from tests.salesforce.conftest import client_with

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

LEADS = 300  # two pull pages of 200


@pytest.fixture(autouse=True)
def _pull_settings() -> Iterator[None]:
    with override_settings(
        SALESFORCE_PULL_PAGE_SIZE=200,
        SALESFORCE_PULL_BULK_THRESHOLD=10_000,
        SALESFORCE_PULL_LOOKBACK_SECONDS=300,
    ):
        yield


@pytest.fixture
def org(sf_server: LoopbackServer) -> SeededOrg:
    return seed_org(sf_server.store, leads=LEADS, seed=11)


# --- helpers -------------------------------------------------------------------------------


def _live(store: OrgStore, obj: str) -> list[dict[str, Any]]:
    return store.all(obj, include_deleted=False)


def assert_matches_org(store: OrgStore) -> None:
    """Every live Salesforce record is here once, linked by its id, and nothing else is."""
    leads = {r["Id"]: r["Email"].lower() for r in _live(store, "Lead")}
    assert dict(Lead.objects.exclude(salesforce_id=None).values_list("salesforce_id", "email")) == (
        leads
    )
    converted = {r["Id"] for r in _live(store, "Lead") if r["IsConverted"]}
    assert (
        set(Lead.objects.exclude(converted_at=None).values_list("salesforce_id", flat=True))
        == converted
    )
    assert set(
        Account.objects.exclude(salesforce_id=None).values_list("salesforce_id", flat=True)
    ) == {r["Id"] for r in _live(store, "Account")}
    assert set(
        Stakeholder.objects.exclude(salesforce_id=None).values_list("salesforce_id", flat=True)
    ) == {r["Id"] for r in _live(store, "Contact") if r["AccountId"]}
    assert {
        sfid: (closed, won)
        for sfid, closed, won in Opportunity.objects.exclude(salesforce_id=None).values_list(
            "salesforce_id", "is_closed", "is_won"
        )
    } == {r["Id"]: (r["IsClosed"], r["IsWon"]) for r in _live(store, "Opportunity")}
    expected_touchpoints = {
        mapping.TOUCHPOINT_EXTERNAL_PREFIX + r["Id"]
        for obj in ("Task", "Event")
        for r in _live(store, obj)
        if mapping.activity_fields(r, object_name=obj) is not None
    }
    assert expected_touchpoints, "the seeded org should hold some meetings and calls"
    assert (
        set(
            Touchpoint.objects.filter(
                external_id__startswith=mapping.TOUCHPOINT_EXTERNAL_PREFIX
            ).values_list("external_id", flat=True)
        )
        == expected_touchpoints
    )


def _writes(queries: CaptureQueriesContext) -> list[str]:
    """INSERT/UPDATE/DELETE statements other than the pull's own bookkeeping."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")
        and "salesforcesyncstate" not in q["sql"]
    ]


def _dirty() -> set[str | None]:
    return set(
        Lead.objects.exclude(requalify_requested_at=None).values_list("salesforce_id", flat=True)
    )


def _first_pull(client: SalesforceClient) -> None:
    report = salesforce_pull(client=client)
    assert not report.errors, report.errors
    Lead.objects.update(requalify_requested_at=None)


def _open_leads(store: OrgStore, count: int) -> list[str]:
    return [r["Id"] for r in _live(store, "Lead") if not r["IsConverted"]][:count]


# --- tests ---------------------------------------------------------------------------------


def test_the_first_pull_creates_every_record_and_marks_open_leads_for_qualification(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    progress: list[tuple[str, int, int | None]] = []

    report = salesforce_pull(client=sf_client, progress=lambda *a: progress.append(a))

    assert not report.errors and not report.stopped
    assert list(report.counts) == list(DEFAULT_OBJECTS)
    assert report.counts["Lead"].created == LEADS
    assert report.counts["Account"].created == len(_live(sf_server.store, "Account"))
    assert_matches_org(sf_server.store)
    converted = set(Lead.objects.exclude(converted_at=None).values_list("salesforce_id", flat=True))
    assert converted and not converted & _dirty()
    # Every open lead, and only those, waits for a qualification.
    assert _dirty() == {r["Id"] for r in _live(sf_server.store, "Lead") if not r["IsConverted"]}
    lead = Lead.objects.get(salesforce_id=org.lead_ids[-1])
    source = sf_server.store.get("Lead", org.lead_ids[-1])
    assert lead.name == f"{source['FirstName']} {source['LastName']}"
    assert lead.source == source["LeadSource"]
    assert (source["Status"], lead.status) == ("Open - Not Contacted", "new")
    assert len(lead.country) == 2
    assert lead.outcome_attributes["salesforce_owner_id"] == source["OwnerId"]
    assert "Score__c" not in lead.attributes
    # Leads at a pulled account's domain are matched to it by the account-matching rule.
    assert Lead.objects.filter(salesforce_id__isnull=False, account__isnull=False).exists()
    # A contact gets a committee role from its title.
    assert Stakeholder.objects.exclude(committee_role="").exists()
    states = {s.object_name: s for s in SalesforceSyncState.objects.all()}
    assert set(states) == set(DEFAULT_OBJECTS)
    assert all(s.last_status == "ok" and s.watermark is not None for s in states.values())
    assert states["Lead"].watermark == max(r["SystemModstamp"] for r in sf_server.store.all("Lead"))
    assert states["Lead"].last_counts["created"] == LEADS
    assert ("Lead", 0, LEADS) in progress and ("Lead", LEADS, LEADS) in progress
    # Through queryAll (deleted rows included), in pages of 200, ordered for the watermark.
    (lead_query,) = [
        r for r in sf_server.requests_to("GET", r"/queryAll/?$") if " FROM Lead " in r.query["q"][0]
    ]
    assert lead_query.query["q"][0].endswith("ORDER BY SystemModstamp, Id")
    assert lead_query.header("Sforce-Query-Options") == "batchSize=200"


def test_a_second_pull_with_no_change_writes_nothing_and_marks_no_lead(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    _first_pull(sf_client)

    with CaptureQueriesContext(connection) as queries:
        report = salesforce_pull(client=sf_client)

    assert not report.errors
    for name, counts in report.counts.items():
        assert (counts.created, counts.updated, counts.deleted) == (0, 0, 0), name
    # The lookback reads the last five minutes again: the converted leads (converted "now").
    assert report.counts["Lead"].unchanged >= len(
        [r for r in _live(sf_server.store, "Lead") if r["IsConverted"]]
    )
    assert _writes(queries) == []
    assert _dirty() == set()
    assert_matches_org(sf_server.store)


def test_the_push_writing_back_its_fields_is_not_new_work(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    _first_pull(sf_client)
    sf_server.store.clock.advance(60)
    scored = _open_leads(sf_server.store, 30)
    rerouted = scored[:5]
    new_owner = org.user_ids[0]
    results = sf_client.collection_update(
        "Lead",
        [
            {
                "Id": lead_id,
                "Score__c": 87.0,
                "Tier__c": "Sales Ready",
                "Brief__c": "Pricing page twice this week; VP title.",
                "Top_Reasons__c": "pricing; seniority",
                **({"OwnerId": new_owner} if lead_id in rerouted else {}),
            }
            for lead_id in scored
        ],
    )
    assert all(r.success for r in results)
    rerouted = [
        lead_id
        for lead_id in rerouted
        if Lead.objects.get(salesforce_id=lead_id).outcome_attributes["salesforce_owner_id"]
        != new_owner
    ]

    report = salesforce_pull(client=sf_client)

    leads = report.counts["Lead"]
    assert leads.created == 0
    # The owner is stored (outcome_attributes), so a new one is an update, and nothing more.
    assert leads.updated == len(rerouted)
    assert leads.unchanged >= len(scored) - len(rerouted)
    assert _dirty() == set()
    for lead_id in rerouted:
        lead = Lead.objects.get(salesforce_id=lead_id)
        assert lead.outcome_attributes["salesforce_owner_id"] == new_owner
        assert "Tier__c" not in lead.attributes and "Score__c" not in lead.attributes


def test_a_change_to_one_lead_in_the_org_updates_and_marks_only_that_lead(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    _first_pull(sf_client)
    sf_server.store.clock.advance(60)
    (changed,) = _open_leads(sf_server.store, 1)
    sf_server.store.update("Lead", changed, {"Title": "Chief Financial Officer"})

    report = salesforce_pull(client=sf_client)

    assert report.counts["Lead"].updated == 1
    assert report.counts["Lead"].created == 0
    assert _dirty() == {changed}
    lead = Lead.objects.get(salesforce_id=changed)
    assert (lead.title, lead.seniority) == ("Chief Financial Officer", "c_level")


def test_deletes_in_the_org_delete_crm_only_records_and_unlink_shared_ones(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    _first_pull(sf_client)
    store = sf_server.store
    store.clock.advance(60)
    lead_id = _open_leads(store, 1)[0]
    contact_id = org.contact_ids[0]
    opportunity_id = org.opportunity_ids[0]
    account_id = org.account_ids[-1]
    touchpoint = Touchpoint.objects.filter(
        external_id__startswith=mapping.TOUCHPOINT_EXTERNAL_PREFIX
    ).first()
    assert touchpoint is not None
    activity_id = touchpoint.external_id.removeprefix(mapping.TOUCHPOINT_EXTERNAL_PREFIX)
    activity_object = "Event" if activity_id.startswith("00U") else "Task"
    for obj, record_id in (
        ("Lead", lead_id),
        ("Contact", contact_id),
        ("Opportunity", opportunity_id),
        ("Account", account_id),
        (activity_object, activity_id),
    ):
        store.delete(obj, record_id)

    report = salesforce_pull(client=sf_client)

    assert {name: c.deleted for name, c in report.counts.items() if c.deleted} == {
        "Lead": 1,
        "Contact": 1,
        "Opportunity": 1,
        "Account": 1,
        activity_object: 1,
    }
    # The lead and account stay (their history came from elsewhere too), unlinked.
    lead = Lead.objects.get(email=store.get("Lead", lead_id, include_deleted=True)["Email"].lower())
    assert lead.salesforce_id is None
    assert (
        Account.objects.filter(
            domain=mapping.website_domain(
                store.get("Account", account_id, include_deleted=True)["Website"]
            )
        )
        .get()
        .salesforce_id
        is None
    )
    assert not Stakeholder.objects.filter(salesforce_id=contact_id).exists()
    assert not Opportunity.objects.filter(salesforce_id=opportunity_id).exists()
    assert not Touchpoint.objects.filter(pk=touchpoint.pk).exists()
    assert_matches_org(store)

    # Undeleted in Salesforce: linked again, not duplicated.
    store.clock.advance(60)
    store.undelete("Lead", lead_id)
    salesforce_pull(client=sf_client, objects=["Lead"])
    assert Lead.objects.get(pk=lead.pk).salesforce_id == lead_id


def _tie_across_the_page_boundary(store: OrgStore) -> dt.datetime:
    """Give the leads around the 200th (in pull order) one SystemModstamp: a tie that the
    first page ends in the middle of."""
    ordered = sorted(store.all("Lead"), key=lambda r: (r["SystemModstamp"], r["Id"]))
    tie = ordered[249]["SystemModstamp"]
    for record in ordered[150:250]:
        store.set_system_modstamp("Lead", record["Id"], tie)
    return tie


def test_a_crash_between_two_pages_resumes_from_the_watermark_with_nothing_lost(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    tie = _tie_across_the_page_boundary(sf_server.store)
    sf_server.faults.crash_between_pages(after_page=1)

    with pytest.raises(SalesforceRetryable):
        salesforce_pull(client=sf_client)

    state = SalesforceSyncState.objects.get(object_name="Lead")
    assert state.last_status == "failed" and "queryMore" in state.last_error
    # Page 1 is applied; the watermark stops below the tie that page 1 ended inside.
    assert Lead.objects.count() == 200
    assert state.watermark is not None and state.watermark < tie
    assert not SalesforceSyncState.objects.filter(object_name="Opportunity").exists()

    sf_server.faults.clear()
    # No lookback: only the watermark's own rule keeps the tied records of page 2.
    with override_settings(SALESFORCE_PULL_LOOKBACK_SECONDS=0):
        report = salesforce_pull(client=sf_client)

    assert not report.errors
    assert report.counts["Lead"].created == LEADS - 200
    assert report.counts["Lead"].unchanged == 50  # the tied leads page 1 applied already
    assert_matches_org(sf_server.store)
    assert SalesforceSyncState.objects.get(object_name="Lead").last_status == "ok"


class _FailingOnPage:
    """The Lead handler, failing on its n-th page (a bug, a database error)."""

    def __init__(self, page: int) -> None:
        self.inner = LeadPullHandler()
        self.object_name = "Lead"
        self.fields = self.inner.fields
        self.page = page
        self.calls = 0

    def prepare(self, describe: Any) -> None:
        self.inner.prepare(describe)
        self.fields = self.inner.fields

    def apply(self, records: Sequence[Mapping[str, Any]], *, dry_run: bool) -> PullCounts:
        self.calls += 1
        counts = self.inner.apply(records, dry_run=dry_run)
        if self.calls == self.page:
            raise RuntimeError("disk full")
        return counts

    def delete(self, salesforce_ids: Sequence[str], *, dry_run: bool) -> int:
        return self.inner.delete(salesforce_ids, dry_run=dry_run)


def test_a_page_that_fails_to_apply_is_rolled_back_whole_and_read_again(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    with pytest.raises(RuntimeError, match="disk full"):
        salesforce_pull(client=sf_client, handlers={"Lead": _FailingOnPage(2)})

    assert Lead.objects.count() == 200
    state = SalesforceSyncState.objects.get(object_name="Lead")
    assert state.last_status == "failed" and "disk full" in state.last_error

    salesforce_pull(client=sf_client)

    assert_matches_org(sf_server.store)


def test_above_the_threshold_the_pull_reads_through_a_bulk_queryall_job(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    store = sf_server.store
    store.delete("Lead", _open_leads(store, 1)[0])  # deleted rows come through Bulk too

    with override_settings(SALESFORCE_PULL_BULK_THRESHOLD=100):
        report = salesforce_pull(client=sf_client)

    assert not report.errors
    jobs = [json.loads(r.body) for r in sf_server.requests_to("POST", r"/jobs/query/?$")]
    assert jobs and {job["operation"] for job in jobs} == {"queryAll"}
    # Leads (300) and the other objects above 100 went through Bulk; accounts (60) did not.
    bulk_objects = {
        name for name in DEFAULT_OBJECTS for job in jobs if f" FROM {name} " in job["query"]
    }
    assert "Lead" in bulk_objects and "Account" not in bulk_objects
    assert report.counts["Lead"].created == LEADS - 1
    assert_matches_org(store)


def test_the_api_usage_stop_ends_the_run_cleanly_and_the_next_run_finishes(
    sf_server: LoopbackServer,
    org: SeededOrg,
    sf_config: SalesforceConfig,
) -> None:
    # The client stops at 80% of the limit: a few calls into the run.
    sf_server.faults.set_api_usage(72, 100)
    client = client_with(sf_config)

    report = salesforce_pull(client=client)

    assert report.stopped
    assert report.api_usage is not None and report.api_usage.share >= 0.8
    states = {s.object_name: s for s in SalesforceSyncState.objects.all()}
    stopped = [name for name, s in states.items() if s.last_status == "stopped"]
    assert len(stopped) == 1
    assert "API_USAGE_STOP_SHARE" in states[stopped[0]].last_error
    done = DEFAULT_OBJECTS[: DEFAULT_OBJECTS.index(stopped[0])]
    assert all(states[name].last_status == "ok" for name in done)
    assert set(states) == {*done, stopped[0]}
    assert Account.objects.exists()  # what was applied stays

    sf_server.faults.set_api_usage(0, 100_000)
    report = salesforce_pull(client=client_with(sf_config))

    assert not report.stopped
    assert_matches_org(sf_server.store)


def test_a_dry_run_counts_everything_and_keeps_nothing(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    report = salesforce_pull(client=sf_client, dry_run=True)

    assert report.counts["Lead"].created == LEADS
    assert report.counts["Contact"].created > 0  # its accounts existed inside the dry run
    assert not Lead.objects.exists() and not Account.objects.exists()
    assert not SalesforceSyncState.objects.exists()


def test_bad_records_are_reported_one_by_one_and_the_rest_is_pulled(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    store = sf_server.store
    (no_email,) = store.seed("Lead", [{"LastName": "Nobody", "Company": "Nowhere"}])
    (orphan,) = store.seed("Contact", [{"LastName": "Lost", "AccountId": "001000000000999AAA"}])
    taken = store.get("Lead", org.lead_ids[-1])["Email"]
    (duplicate,) = store.seed("Lead", [{"LastName": "Twin", "Company": "X", "Email": taken}])

    report = salesforce_pull(client=sf_client)

    errors = {(e["object"], e["id"]): e["message"] for e in report.errors}
    assert "Email is empty" in errors[("Lead", no_email)]
    assert "not an account pulled here" in errors[("Contact", orphan)]
    assert len([k for k in errors if k[0] == "Lead"]) == 2
    assert duplicate in {k[1] for k in errors} or org.lead_ids[-1] in {k[1] for k in errors}
    assert report.counts["Lead"].created == LEADS
    assert report.counts["Lead"].skipped == 2
    assert SalesforceSyncState.objects.get(object_name="Lead").last_counts["errors"] == 2


def test_safe_watermark_stops_below_a_tie_that_a_page_ends_in() -> None:
    t = [dt.datetime(2026, 1, 1, 12, 0, s, tzinfo=dt.UTC) for s in range(3)]
    page = [{"SystemModstamp": t[0]}, {"SystemModstamp": t[1]}, {"SystemModstamp": t[2]}]
    tied = [{"SystemModstamp": t[0]}, {"SystemModstamp": t[2]}, {"SystemModstamp": t[2]}]

    assert safe_watermark(page, last_page=False) == t[1]
    assert safe_watermark(tied, last_page=False) == t[0]
    assert safe_watermark(tied, last_page=True) == t[2]
    assert safe_watermark([{"SystemModstamp": t[2]}] * 2, last_page=False) is None


def test_records_known_here_before_are_linked_not_duplicated(
    sf_server: LoopbackServer, org: SeededOrg, sf_client: SalesforceClient
) -> None:
    store = sf_server.store
    sf_account = store.get("Account", org.account_ids[0])
    domain = mapping.website_domain(sf_account["Website"])
    account = Account.objects.create(name="From a CSV", domain=domain, industry="Retail")
    sf_lead = store.get("Lead", org.lead_ids[-1])
    lead = Lead.objects.create(
        email=sf_lead["Email"].lower(), source="api", attributes={"utm_campaign": "spring"}
    )

    report = salesforce_pull(client=sf_client)

    assert not report.errors
    account.refresh_from_db()
    lead.refresh_from_db()
    assert (account.salesforce_id, account.name) == (sf_account["Id"], sf_account["Name"])
    assert lead.salesforce_id == sf_lead["Id"]
    assert lead.attributes["utm_campaign"] == "spring"  # what the tracker wrote stays
    assert lead.attributes["company"] == sf_lead["Company"]
    assert report.counts["Lead"].created == LEADS - 1
    assert report.counts["Lead"].updated == 1
    assert lead.requalify_requested_at is not None
    assert_matches_org(store)
