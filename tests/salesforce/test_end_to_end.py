"""Acceptance: an org of 5,000 leads is pulled, qualified, routed and pushed back; the org then
shows the routed owners and our tiers; the next syncs change nothing.

The product's own flow end to end, against the loopback org over HTTP: ``salesforce_sync``
(pull), ``model_train`` on the pulled history, ``leads_qualify``, ``assignments_route``,
``salesforce_sync`` (push). Nothing is mocked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Account, Lead
from accounts.salesforce.client import SalesforceClient, SalesforceConfig
from accounts.salesforce.loopback import (
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    INTEGRATION_USERNAME,
    LoopbackServer,
)
from accounts.salesforce.loopback.seed import SeededOrg, seed_org
from routing.models import Assignment, RoutingPool, RoutingRule, SalesforcePushState, SalesRep
from routing.salesforce_push import salesforce_tier
from routing.salesforce_sync import SyncSummary, salesforce_sync
from routing.services import assignments_route
from scoring.account_services import accounts_qualify
from scoring.models import (
    AccountQualification,
    AccountQualificationReason,
    ModelKind,
    ModelStatus,
    ModelVersion,
    Qualification,
    ScoringSettings,
    Tier,
)
from scoring.services import leads_qualify, model_train

pytestmark = [pytest.mark.django_db, pytest.mark.postgres, pytest.mark.slow]

LEADS = 5_000
# Past leads with a known outcome (converted with a won or lost deal, or closed unconverted):
# enough for the model, not the rules-and-priors cold start, to decide.
HISTORY = 1_500
# Every write the sync could make in the org: sObject and collection writes, Bulk ingest jobs.
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")
WRITE_PATHS = r"/sobjects|/composite|/jobs/ingest"

CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


@pytest.fixture
def org(sf_server: LoopbackServer) -> SeededOrg:
    return seed_org(sf_server.store, leads=LEADS, history=HISTORY)


@pytest.fixture
def sf_settings(settings: Any, sf_server: LoopbackServer) -> Iterator[Any]:
    settings.SALESFORCE_ENABLED = True
    settings.SALESFORCE_USERNAME = INTEGRATION_USERNAME
    settings.SALESFORCE_PASSWORD = DEFAULT_PASSWORD
    settings.SALESFORCE_SECURITY_TOKEN = DEFAULT_SECURITY_TOKEN
    settings.SALESFORCE_LOOPBACK_URL = sf_server.url
    settings.SALESFORCE_BULK_POLL_SECONDS = 0
    settings.SALESFORCE_TIMEOUT_SECONDS = 30.0
    yield settings


def org_client(server: LoopbackServer) -> SalesforceClient:
    """A client of our own, to look at the org as an admin would, apart from the sync's."""
    return SalesforceClient(
        SalesforceConfig(
            username=INTEGRATION_USERNAME,
            password=DEFAULT_PASSWORD,
            security_token=DEFAULT_SECURITY_TOKEN,
            loopback_url=server.url,
            bulk_poll_seconds=0,
        )
    )


def org_leads(client: SalesforceClient) -> dict[str, dict[str, Any]]:
    records = client.query(
        "SELECT Id, OwnerId, Tier__c, Score__c, IsConverted, SystemModstamp, LastModifiedById "
        "FROM Lead"
    )
    return {str(r["Id"]): r for r in records}


def writes(server: LoopbackServer) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for method in WRITE_METHODS
        for r in server.requests_to(method, WRITE_PATHS)
    ]


def pull_counts(summary: SyncSummary) -> dict[str, dict[str, Any]]:
    assert summary.pull is not None
    return {name: counts.as_dict() for name, counts in summary.pull.counts.items()}


def route_sales_ready_to_the_salesforce_reps(org: SeededOrg) -> list[SalesRep]:
    """What a manager does after the first pull: the reps come in inactive (docs/salesforce.md);
    give them capacity and a pool that receives the Sales Ready leads."""
    reps = list(SalesRep.objects.filter(salesforce_user_id__in=org.user_ids))
    for rep in reps:
        rep.is_active = True
        rep.max_open_leads = 400
        rep.max_leads_per_day = 400
        rep.save(update_fields=["is_active", "max_open_leads", "max_leads_per_day"])
    pool = RoutingPool.objects.create(name="Salesforce account executives")
    pool.reps.set(reps)
    RoutingRule.objects.create(
        name="Sales Ready to the Salesforce reps", priority=1, tiers=[Tier.SALES_READY], pool=pool
    )
    return reps


def test_an_org_is_pulled_qualified_routed_and_pushed_and_the_next_sync_changes_nothing(
    sf_settings: Any,
    sf_server: LoopbackServer,
    org: SeededOrg,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    client = org_client(sf_server)
    before = org_leads(client)
    assert len(before) == LEADS
    converted_ids = {i for i, r in before.items() if r["IsConverted"]}
    assert converted_ids

    # 1. Pull everything.
    pulled = salesforce_sync(push=False)
    assert pulled.ok, pulled.errors
    counts = pull_counts(pulled)
    assert counts["Lead"]["created"] == LEADS and counts["Lead"]["errors"] == 0
    assert counts["User"]["created"] >= len(org.user_ids)
    assert counts["Opportunity"]["created"] == len(sf_server.store.all("Opportunity"))
    assert Lead.objects.filter(salesforce_id__isnull=False).count() == LEADS
    assert Lead.objects.filter(converted_at__isnull=False).count() == len(converted_ids)
    reps = route_sales_ready_to_the_salesforce_reps(org)
    assert len(reps) == len(org.user_ids)

    # 2. Train on the pulled history: the model path, not the cold start.
    trained = model_train()
    assert trained.activated
    assert trained.version.training_rows >= ScoringSettings.load().min_outcomes_for_model

    # 3. Score every account (first, as the nightly run does), qualify every lead, 4. route.
    accounts_qualify(reason=AccountQualificationReason.NIGHTLY, requalify_leads=False)
    lead_ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    qualified = leads_qualify(lead_ids=lead_ids, notify=False)
    assert qualified.leads == LEADS
    model = ModelVersion.objects.get(kind=ModelKind.CONVERSION, status=ModelStatus.ACTIVE)
    current = Qualification.objects.filter(is_current=True)
    assert current.filter(model_version=model).count() == LEADS
    assert qualified.tiers.get(Tier.SALES_READY, 0) > 0
    assignments_route(lead_ids=lead_ids)
    owned = {
        a.lead_id: a.rep
        for a in Assignment.objects.filter(
            status__in=["open", "accepted"], rep__isnull=False
        ).select_related("rep")
    }
    assert len(owned) >= 100

    # 5. Push.
    pushed = salesforce_sync(pull=False)
    assert pushed.ok, pushed.errors
    assert pushed.push is not None
    open_leads = LEADS - len(converted_ids)
    # The pull told us which leads are converted (read-only there): they are not even sent.
    assert (pushed.push.pushed, pushed.push.skipped, pushed.push.failed) == (open_leads, 0, 0)
    assert pushed.push.calls == -(-open_leads // 200)
    # And every linked account's stored priority and score.
    scored = dict(
        AccountQualification.objects.filter(
            is_current=True, account__salesforce_id__isnull=False
        ).values_list("account__salesforce_id", "priority")
    )
    assert scored and pushed.account_push is not None
    assert (pushed.account_push.pushed, pushed.account_push.failed) == (len(scored), 0)
    for sf_id, priority in scored.items():
        assert sf_server.store.get("Account", str(sf_id))["LeadQual_Priority__c"] == (
            priority.title()
        )
    assert Account.objects.filter(salesforce_id__isnull=False).count() == len(scored)

    # The org shows our decisions.
    after = org_leads(client)
    by_sf_id = {
        lead.salesforce_id: lead
        for lead in Lead.objects.filter(salesforce_id__isnull=False).only("pk", "salesforce_id")
    }
    qualification_of = {q.lead_id: q for q in current}
    queue_of = {
        a.lead_id: a.queue for a in Assignment.objects.filter(status__in=["open", "accepted"])
    }
    sales_ready_owned = 0
    for sf_id, record in after.items():
        if sf_id in converted_ids:
            assert record == before[sf_id], "a converted lead is read-only in Salesforce"
            continue
        lead = by_sf_id[sf_id]
        q = qualification_of[lead.pk]
        assert record["Tier__c"] == salesforce_tier(
            tier=q.tier, queue=queue_of.get(lead.pk), rule_decided=bool(q.disqualification_reason)
        ), sf_id
        if q.conversion_probability is None:
            assert record["Score__c"] is None, sf_id
        else:
            assert Decimal(str(record["Score__c"])) == round(
                Decimal(str(q.conversion_probability)) * 100, 1
            ), sf_id
        rep = owned.get(lead.pk)
        if q.tier == Tier.SALES_READY and rep is not None:
            assert record["OwnerId"] == rep.salesforce_user_id, sf_id
            sales_ready_owned += 1
        elif rep is None:
            assert record["OwnerId"] == before[sf_id]["OwnerId"], "no rep: the owner stays"
    assert sales_ready_owned > 0
    moved = sum(1 for i, r in after.items() if r["OwnerId"] != before[i]["OwnerId"])
    assert moved > 0

    # 6. The next full sync reads the pushed leads back and changes nothing.
    qualifications = Qualification.objects.count()
    assignments = Assignment.objects.count()
    written = len(writes(sf_server))
    for sync in (2, 3):
        # Executed: a pull that asked for re-qualification would qualify here.
        with django_capture_on_commit_callbacks(execute=True):
            again = salesforce_sync()
        assert again.ok, again.errors
        counts = pull_counts(again)
        # Leads too, from the first pull after the push: the push keeps the owner it wrote
        # where the pull keeps the Salesforce owner (outcome_attributes["salesforce_owner_id"]),
        # so the leads whose owner it moved read back unchanged.
        for name, c in counts.items():
            assert (c["created"], c["updated"], c["deleted"], c["errors"]) == (0, 0, 0, 0), (
                sync,
                name,
            )
        assert again.push is not None
        assert (again.push.pending, again.push.calls) == (0, 0)
        assert again.account_push is not None
        assert (again.account_push.pending, again.account_push.calls) == (0, 0)
        assert writes(sf_server)[written:] == [], "the sync wrote to the org"
        assert not Lead.objects.filter(requalify_requested_at__isnull=False).exists()
        assert Qualification.objects.count() == qualifications
        assert Assignment.objects.count() == assignments
    assert org_leads(client) == after
    assert not SalesforcePushState.objects.filter(lead__salesforce_id__in=converted_ids).exists()
