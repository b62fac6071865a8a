"""The Salesforce push against the loopback org, with PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accounts.models import Lead
from accounts.salesforce.client import SalesforceClient
from accounts.salesforce.errors import SalesforceConfigError
from accounts.salesforce.loopback import LoopbackServer
from routing.models import Assignment, AssignmentStatus, Queue, SalesforcePushState, SalesRep
from routing.salesforce_push import (
    TIER_DISQUALIFIED,
    TIER_LOW_PRIORITY,
    TIER_NURTURE,
    TIER_SALES_READY,
    TIER_SUCCESS,
    PushFields,
    salesforce_push,
    salesforce_tier,
)
from scoring.models import Qualification, Tier
from tests.factories import (
    AssignmentFactory,
    LeadFactory,
    QualificationFactory,
    SalesRepFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

PUSHED = ["Score__c", "Tier__c", "Brief__c", "Top_Reasons__c", "OwnerId"]


def org_leads(server: LoopbackServer, count: int) -> list[str]:
    return server.store.seed(
        "Lead", [{"LastName": f"Lead {n}", "Company": f"Company {n}"} for n in range(count)]
    )


def org_user(server: LoopbackServer, name: str) -> str:
    return server.add_user(f"{name}@example.com", password="x", LastName=name.title())


def rep_for(server: LoopbackServer, name: str) -> SalesRep:
    rep: SalesRep = SalesRepFactory(
        user=UserFactory(username=name, first_name=name.title()),
        salesforce_user_id=org_user(server, name),
    )
    return rep


def decided_lead(
    sf_id: str,
    *,
    rep: SalesRep | None = None,
    tier: str = Tier.SALES_READY,
    probability: float | None = 0.87,
    queue: str = Queue.SALES,
    **lead_fields: Any,
) -> Lead:
    lead: Lead = LeadFactory(salesforce_id=sf_id, **lead_fields)
    QualificationFactory(
        lead=lead,
        tier=tier,
        conversion_probability=probability,
        brief={
            "tier": tier,
            "status": "Sales Ready",
            "factors": {
                "positive": [{"feature": "pricing_visits", "sentence": "Visited pricing 4 times"}]
            },
            "recommended_action": "Call within the hour.",
            "talking_points": ["Be ready to discuss pricing tiers and packaging."],
        },
    )
    if rep is not None or queue != Queue.SALES:
        AssignmentFactory(lead=lead, rep=rep, queue=queue, tier=tier)
    return lead


def collection_patches(server: LoopbackServer) -> list[dict[str, Any]]:
    return [
        {"headers": r.headers, "body": json.loads(r.body)}
        for r in server.requests_to("PATCH", r"/composite/sobjects$")
    ]


def test_push_writes_score_tier_brief_reasons_and_owner_to_the_lead(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = rep_for(sf_server, "sam")
    (sf_id,) = org_leads(sf_server, 1)
    decided_lead(sf_id, rep=rep, name="Jordan Lee", title="VP Finance")

    report = salesforce_push(client=sf_client)

    assert (report.pushed, report.failed, report.calls) == (1, 0, 1)
    record = sf_client.get("Lead", sf_id, PUSHED)
    assert record["Score__c"] == 87.0
    assert record["Tier__c"] == TIER_SALES_READY
    assert record["OwnerId"] == rep.salesforce_user_id
    brief = record["Brief__c"]
    assert brief.startswith("LEAD HANDOFF: Jordan Lee, VP Finance")
    assert "RECOMMENDED APPROACH" in brief
    assert "Assigned: Sam" in brief
    assert "Be ready to discuss pricing tiers and packaging." in brief
    assert record["Top_Reasons__c"].startswith("- ")
    (patch,) = collection_patches(sf_server)
    assert {k.lower(): v for k, v in patch["headers"].items()}["sforce-auto-assign"] == "FALSE"


def test_push_sends_450_leads_in_three_collection_calls_of_at_most_200(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = rep_for(sf_server, "sam")
    for sf_id in org_leads(sf_server, 450):
        decided_lead(sf_id, rep=rep)

    report = salesforce_push(client=sf_client)

    assert (report.pushed, report.calls) == (450, 3)
    sizes = [len(p["body"]["records"]) for p in collection_patches(sf_server)]
    assert sizes == [200, 200, 50]
    owners = {r["OwnerId"] for r in sf_server.store.all("Lead")}
    assert owners == {rep.salesforce_user_id}


def test_the_orgs_active_assignment_rule_does_not_override_the_routed_owner(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = rep_for(sf_server, "sam")
    queue_owner = org_user(sf_server, "rule-owner")
    sf_server.store.set_lead_assignment_rule(queue_owner)
    (sf_id,) = org_leads(sf_server, 1)
    decided_lead(sf_id, rep=rep)

    salesforce_push(client=sf_client)

    assert sf_server.store.get("Lead", sf_id)["OwnerId"] == rep.salesforce_user_id
    # The switch is live: a write that lets the rule run loses the owner.
    sf_client.update("Lead", sf_id, {"OwnerId": rep.salesforce_user_id}, auto_assign=True)
    assert sf_server.store.get("Lead", sf_id)["OwnerId"] == queue_owner


def test_converted_leads_are_skipped_recorded_and_never_sent_again(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = rep_for(sf_server, "sam")
    converted_id, open_id = org_leads(sf_server, 2)
    sf_server.store.convert_lead(converted_id)
    converted = decided_lead(converted_id, rep=rep)
    decided_lead(open_id, rep=rep)

    report = salesforce_push(client=sf_client)

    assert (report.pushed, report.skipped, report.failed, report.errors) == (1, 1, 0, [])
    state = SalesforcePushState.objects.get(lead=converted)
    assert state.converted_at is not None and state.pushed_at is None
    assert sf_server.store.get("Lead", converted_id)["Tier__c"] is None

    # A new decision for the converted lead is still not sent: Salesforce would refuse it.
    Qualification.objects.filter(lead=converted).update(is_current=False)
    QualificationFactory(lead=converted, tier=Tier.NURTURE)
    calls = len(sf_server.requests_log)
    again = salesforce_push(client=sf_client)
    assert (again.pending, again.calls) == (0, 0)
    assert len(sf_server.requests_log) == calls


def test_a_second_push_with_nothing_changed_makes_no_api_call(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = rep_for(sf_server, "sam")
    for sf_id in org_leads(sf_server, 5):
        decided_lead(sf_id, rep=rep)
    salesforce_push(client=sf_client)
    calls = len(sf_server.requests_log)

    again = salesforce_push(client=sf_client)

    assert (again.pending, again.pushed, again.unchanged, again.calls) == (0, 0, 5, 0)
    assert len(sf_server.requests_log) == calls


def test_only_leads_with_a_new_qualification_or_owner_are_sent_again(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sam, alex = rep_for(sf_server, "sam"), rep_for(sf_server, "alex")
    ids = org_leads(sf_server, 3)
    requalified, reassigned, untouched = (decided_lead(i, rep=sam) for i in ids)
    salesforce_push(client=sf_client)

    Qualification.objects.filter(lead=requalified).update(is_current=False)
    QualificationFactory(lead=requalified, tier=Tier.NURTURE, conversion_probability=0.2)
    Assignment.objects.filter(lead=reassigned).update(status=AssignmentStatus.REASSIGNED)
    AssignmentFactory(lead=reassigned, rep=alex)
    report = salesforce_push(client=sf_client)

    assert (report.pushed, report.unchanged) == (2, 1)
    last = collection_patches(sf_server)[-1]["body"]["records"]
    assert {r["id"] for r in last} == {ids[0], ids[1]}
    store = sf_server.store
    assert store.get("Lead", ids[0])["Tier__c"] == TIER_NURTURE
    assert store.get("Lead", ids[0])["Score__c"] == 20.0
    assert store.get("Lead", ids[1])["OwnerId"] == alex.salesforce_user_id
    assert store.get("Lead", ids[2])["OwnerId"] == sam.salesforce_user_id
    assert untouched.salesforce_id == ids[2]


def test_a_lead_without_a_rep_gets_its_fields_but_keeps_its_salesforce_owner(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    (sf_id,) = org_leads(sf_server, 1)
    owner_before = sf_server.store.get("Lead", sf_id)["OwnerId"]
    decided_lead(sf_id, tier=Tier.NURTURE, queue=Queue.NURTURE)

    report = salesforce_push(client=sf_client)

    assert report.pushed == 1
    record = sf_server.store.get("Lead", sf_id)
    assert (record["Tier__c"], record["OwnerId"]) == (TIER_NURTURE, owner_before)
    assert "OwnerId" not in collection_patches(sf_server)[0]["body"]["records"][0]


def test_leads_without_a_salesforce_id_or_a_decision_are_not_sent(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    (sf_id,) = org_leads(sf_server, 1)
    LeadFactory(salesforce_id=sf_id)  # not qualified, not routed
    QualificationFactory()  # not in Salesforce

    report = salesforce_push(client=sf_client)

    assert (report.pending, report.calls) == (0, 0)
    assert collection_patches(sf_server) == []


def test_a_refused_record_is_reported_and_tried_again_the_others_are_pushed(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = rep_for(sf_server, "sam")
    good_id, bad_id = org_leads(sf_server, 2)
    decided_lead(good_id, rep=rep)
    bad = decided_lead(bad_id, rep=rep)
    # A user id the org does not have: Salesforce refuses the reference.
    SalesRep.objects.filter(pk=rep.pk).update(salesforce_user_id="005000000000001AAA")
    Assignment.objects.filter(lead__salesforce_id=good_id).update(rep=rep_for(sf_server, "alex"))

    report = salesforce_push(client=sf_client)

    assert (report.pushed, report.failed) == (1, 1)
    (error,) = report.errors
    assert (error.lead_id, error.salesforce_id) == (bad.pk, bad_id)
    assert error.code
    state = SalesforcePushState.objects.get(lead=bad)
    assert state.pushed_at is None and state.last_error.startswith(error.code)
    assert salesforce_push(client=sf_client).pending == 1


def test_row_locks_and_503s_are_retried_by_the_client(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = rep_for(sf_server, "sam")
    for sf_id in org_leads(sf_server, 4):
        decided_lead(sf_id, rep=rep)
    sf_client.describe("Lead")
    sf_server.faults.unavailable(times=1)
    sf_server.faults.lock_records(2)

    report = salesforce_push(client=sf_client)

    assert (report.pushed, report.failed) == (4, 0)
    assert {r["Tier__c"] for r in sf_server.store.all("Lead")} == {TIER_SALES_READY}


def test_the_push_stops_cleanly_at_the_api_usage_share_and_resumes_later(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = rep_for(sf_server, "sam")
    for sf_id in org_leads(sf_server, 4):
        decided_lead(sf_id, rep=rep)
    sf_client.describe("Lead")
    # The first batch's answer reports 80/100: the client's stop share (0.8) is reached.
    sf_server.faults.set_api_usage(79, 100)

    report = salesforce_push(client=sf_client, batch_size=2)

    assert report.stopped and "API_USAGE_STOP_SHARE" in report.stop_reason
    assert (report.pushed, report.calls) == (2, 1)
    assert report.api_usage is not None and report.api_usage.used == 80
    assert SalesforcePushState.objects.filter(pushed_at__isnull=False).count() == 2

    sf_server.faults.set_api_usage(0, 100)
    resumed = salesforce_push(
        client=SalesforceClient(sf_client.config), batch_size=2
    )  # a new run, a new client
    assert (resumed.pushed, resumed.unchanged, resumed.stopped) == (2, 2, False)


def test_dry_run_counts_and_sends_nothing(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    rep = rep_for(sf_server, "sam")
    for sf_id in org_leads(sf_server, 3):
        decided_lead(sf_id, rep=rep)
    calls = len(sf_server.requests_log)

    report = salesforce_push(client=sf_client, dry_run=True)

    assert (report.pending, report.pushed, report.calls) == (3, 0, 0)
    assert len(sf_server.requests_log) == calls
    assert not SalesforcePushState.objects.exists()


def test_a_field_missing_in_the_org_is_a_clear_configuration_error(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    (sf_id,) = org_leads(sf_server, 1)
    decided_lead(sf_id)

    with pytest.raises(SalesforceConfigError, match="Lead has no field 'Fit__c'"):
        salesforce_push(client=sf_client, fields=PushFields(score="Fit__c"))
    assert collection_patches(sf_server) == []


def test_an_empty_field_name_leaves_that_field_out(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    (sf_id,) = org_leads(sf_server, 1)
    decided_lead(sf_id)

    salesforce_push(client=sf_client, fields=PushFields(brief="", top_reasons=""))

    (record,) = collection_patches(sf_server)[0]["body"]["records"]
    assert set(record) == {"attributes", "id", "Score__c", "Tier__c"}


@pytest.mark.parametrize(
    ("tier", "queue", "rule_decided", "expected"),
    [
        (Tier.SALES_READY, Queue.SALES, False, TIER_SALES_READY),
        (Tier.NURTURE, Queue.NURTURE, False, TIER_NURTURE),
        (Tier.DISQUALIFY, Queue.SUCCESS, True, TIER_SUCCESS),
        (Tier.DISQUALIFY, Queue.LOW_PRIORITY, False, TIER_LOW_PRIORITY),
        (Tier.DISQUALIFY, Queue.LOW_PRIORITY, True, TIER_DISQUALIFIED),
        (Tier.DISQUALIFY, None, False, TIER_LOW_PRIORITY),
    ],
)
def test_tiers_map_to_the_orgs_picklist(
    tier: str, queue: str | None, rule_decided: bool, expected: str
) -> None:
    from accounts.salesforce.loopback.schema import TIERS

    assert salesforce_tier(tier=tier, queue=queue, rule_decided=rule_decided) == expected
    assert expected in TIERS
