"""The push never comes back as new work: push, then pull, then push again."""

from __future__ import annotations

import pytest

from accounts.models import Lead
from accounts.salesforce.client import SalesforceClient
from accounts.salesforce.loopback import INTEGRATION_USERNAME, LoopbackServer
from accounts.salesforce.pull import salesforce_pull
from routing.models import Assignment, SalesRep
from routing.salesforce_push import TIER_SALES_READY, salesforce_push
from routing.salesforce_users import SalesforceUserHandler
from scoring.models import Qualification, Tier
from tests.factories import AssignmentFactory, QualificationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_a_pull_after_a_push_marks_no_lead_and_makes_no_qualification(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sam_id = sf_server.add_user(
        "sam@acme.example", password="x", FirstName="Sam", LastName="Rivera"
    )
    ids = sf_server.store.seed(
        "Lead",
        [
            {"LastName": f"Person {n}", "Company": f"Co {n}", "Email": f"p{n}@co{n}.example"}
            for n in range(6)
        ],
    )
    handlers = {
        "User": SalesforceUserHandler(
            integration_username=INTEGRATION_USERNAME, new_reps_active=True
        )
    }
    salesforce_pull(client=sf_client, handlers=handlers)
    rep = SalesRep.objects.get(salesforce_user_id=sam_id)
    leads = list(Lead.objects.filter(salesforce_id__in=ids))
    assert len(leads) == 6
    # What qualification and routing do: decide, assign, clear the re-qualification mark.
    for lead in leads:
        QualificationFactory(lead=lead, tier=Tier.SALES_READY, conversion_probability=0.7)
        AssignmentFactory(lead=lead, rep=rep)
    Lead.objects.update(requalify_requested_at=None)
    pushed = salesforce_push(client=sf_client)
    assert pushed.pushed == 6
    assert {sf_server.store.get("Lead", i)["Tier__c"] for i in ids} == {TIER_SALES_READY}
    qualifications, assignments = Qualification.objects.count(), Assignment.objects.count()

    # Every pushed lead now has a newer SystemModstamp: the pull reads them all again.
    report = salesforce_pull(client=sf_client, handlers=handlers)

    lead_counts = report.counts["Lead"]
    assert lead_counts.created == 0 and lead_counts.errors == []
    # The owner the push wrote is where the pull keeps it: nothing reads as changed.
    assert (lead_counts.updated, lead_counts.unchanged) == (0, 6)
    assert not Lead.objects.filter(requalify_requested_at__isnull=False).exists()
    assert Qualification.objects.count() == qualifications
    assert Assignment.objects.count() == assignments
    assert report.counts["User"].created == 0

    calls = len(sf_server.requests_log)
    again = salesforce_push(client=sf_client)
    assert (again.pending, again.calls, again.unchanged) == (0, 0, 6)
    assert len(sf_server.requests_log) == calls

    # And a third pull finds nothing changed at all.
    third = salesforce_pull(client=sf_client, handlers=handlers)
    assert third.counts["Lead"].updated == 0 and third.counts["Lead"].created == 0
    assert not Lead.objects.filter(requalify_requested_at__isnull=False).exists()
