"""The push and the alternative paths: a path whose destination is a Salesforce queue or user
makes it the owner of the path's leads in the loopback org, and an owner Salesforce would
refuse is left out (said once) while the rest of each record still goes."""

from __future__ import annotations

import pytest

from accounts.salesforce.client import SalesforceClient
from accounts.salesforce.loopback import LoopbackServer
from routing.models import (
    PathDestination,
    PathDestinationKind,
    Queue,
    SalesforcePushState,
    salesforce_id18,
)
from routing.salesforce_push import TIER_LOW_PRIORITY, TIER_SALES_READY, salesforce_push
from scoring.models import Tier
from tests.salesforce.test_push import collection_patches, decided_lead, org_leads, rep_for

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def org_queue(server: LoopbackServer, name: str, kind: str = "Queue") -> str:
    (group_id,) = server.store.seed("Group", [{"Name": name, "Type": kind}])
    return group_id


def path_to_salesforce(path: str, owner: str) -> PathDestination:
    destination = PathDestination(path=path, kind=PathDestinationKind.SALESFORCE)
    destination.salesforce_owner_id = owner
    destination.full_clean()
    destination.save()
    return destination


def test_leads_on_a_path_with_a_salesforce_queue_are_owned_by_that_queue(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    queue_id = org_queue(sf_server, "Community")
    path_to_salesforce(Queue.COMMUNITY, queue_id)
    rep = rep_for(sf_server, "sam")
    student_sf, buyer_sf, nurture_sf = org_leads(sf_server, 3)
    decided_lead(student_sf, tier=Tier.DISQUALIFY, queue=Queue.COMMUNITY)
    decided_lead(buyer_sf, rep=rep)
    # A path without a destination: its leads keep whatever owner they have.
    decided_lead(nurture_sf, tier=Tier.NURTURE, queue=Queue.NURTURE)
    owner_before = sf_client.get("Lead", nurture_sf, ["OwnerId"])["OwnerId"]

    report = salesforce_push(client=sf_client)

    assert (report.pushed, report.failed, report.owner_errors) == (3, 0, [])
    assert sf_client.get("Lead", student_sf, ["OwnerId"])["OwnerId"] == queue_id
    assert sf_client.get("Lead", buyer_sf, ["OwnerId"])["OwnerId"] == rep.salesforce_user_id
    assert sf_client.get("Lead", nurture_sf, ["OwnerId"])["OwnerId"] == owner_before
    state = SalesforcePushState.objects.get(lead__salesforce_id=student_sf)
    assert state.pushed_owner_salesforce_id == queue_id
    # The assignment rule must not overwrite the queue just set.
    (patch,) = collection_patches(sf_server)
    assert {k.lower(): v for k, v in patch["headers"].items()}["sforce-auto-assign"] == "FALSE"
    # Nothing new: no call at all, the owner check included.
    calls = len(sf_server.requests_log)
    again = salesforce_push(client=sf_client)
    assert (again.pending, again.calls) == (0, 0)
    assert len(sf_server.requests_log) == calls


def test_a_path_owned_by_a_salesforce_user_given_as_a_15_character_id(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    owner = sf_server.add_user("success@example.com", password="x", LastName="Success")
    destination = path_to_salesforce(Queue.SUCCESS, owner[:15])
    assert destination.salesforce_owner_id == owner == salesforce_id18(owner[:15])
    (lead_sf,) = org_leads(sf_server, 1)
    decided_lead(lead_sf, tier=Tier.DISQUALIFY, queue=Queue.SUCCESS)

    report = salesforce_push(client=sf_client)

    assert report.pushed == 1
    assert sf_client.get("Lead", lead_sf, ["OwnerId"])["OwnerId"] == owner


@pytest.mark.parametrize(
    ("make_owner", "why"),
    [
        (lambda server: "00G" + "5g0000009ZzZ" + "AAA", "does not exist in the org"),
        (lambda server: org_queue(server, "Everyone", kind="Regular"), "not a queue"),
        ("inactive", "is an inactive user"),
    ],
    ids=["missing", "a group that is not a queue", "an inactive user"],
)
def test_an_owner_salesforce_would_refuse_is_left_out_and_the_rest_of_the_record_goes(
    sf_server: LoopbackServer, sf_client: SalesforceClient, make_owner: object, why: str
) -> None:
    if make_owner == "inactive":
        owner = sf_server.add_user("gone@example.com", password="x", LastName="Gone")
        sf_server.store.update("User", owner, {"IsActive": False})
    else:
        assert callable(make_owner)
        owner = make_owner(sf_server)
    PathDestination.objects.create(
        path=Queue.COMMUNITY, kind=PathDestinationKind.SALESFORCE, salesforce_owner_id=owner
    )
    (lead_sf,) = org_leads(sf_server, 1)
    owner_before = sf_client.get("Lead", lead_sf, ["OwnerId"])["OwnerId"]
    decided_lead(lead_sf, tier=Tier.DISQUALIFY, queue=Queue.COMMUNITY, probability=0.02)

    report = salesforce_push(client=sf_client)

    assert (report.pushed, report.failed) == (1, 0)
    (message,) = report.owner_errors
    assert message.startswith(f"Community path: Salesforce owner {owner} ")
    assert why in message and "1 lead sent without it" in message
    record = sf_client.get("Lead", lead_sf, ["OwnerId", "Tier__c", "Score__c"])
    assert record["OwnerId"] == owner_before
    assert (record["Tier__c"], record["Score__c"]) == (TIER_LOW_PRIORITY, 2.0)
    (patch,) = collection_patches(sf_server)
    assert "OwnerId" not in patch["body"]["records"][0]


def test_a_lead_whose_only_change_is_a_refused_owner_is_not_sent(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    (lead_sf,) = org_leads(sf_server, 1)
    decided_lead(lead_sf, tier=Tier.DISQUALIFY, queue=Queue.COMMUNITY)
    salesforce_push(client=sf_client)  # tier, score and brief are now in Salesforce
    PathDestination.objects.create(
        path=Queue.COMMUNITY,
        kind=PathDestinationKind.SALESFORCE,
        salesforce_owner_id="00G5g0000009ZzZAAA",
    )
    patches = len(collection_patches(sf_server))

    report = salesforce_push(client=sf_client)

    assert report.pending == 1 and report.pushed == 0
    assert len(report.owner_errors) == 1
    assert len(collection_patches(sf_server)) == patches


def test_a_rep_s_owner_is_never_checked_or_replaced_by_a_path_owner(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    path_to_salesforce(Queue.COMMUNITY, org_queue(sf_server, "Community"))
    rep = rep_for(sf_server, "sam")
    (lead_sf,) = org_leads(sf_server, 1)
    decided_lead(lead_sf, rep=rep)

    report = salesforce_push(client=sf_client)

    assert report.pushed == 1
    assert sf_client.get("Lead", lead_sf, ["OwnerId", "Tier__c"]) == {
        "OwnerId": rep.salesforce_user_id,
        "Tier__c": TIER_SALES_READY,
    }
    assert not sf_server.requests_to("GET", r"/query")
