"""The account push: each scored account's priority and score written to its Salesforce
Account through unmodified simple-salesforce and the loopback org, only when they changed; the
pull reads the write back as no change, so the next sync does nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accounts.models import Account
from accounts.salesforce.client import SalesforceClient
from accounts.salesforce.errors import SalesforceConfigError
from accounts.salesforce.loopback import LoopbackServer
from accounts.salesforce.pull import salesforce_pull
from routing.salesforce_account_push import (
    AccountPushFields,
    account_push_needed,
    account_push_values,
    salesforce_account_push,
)
from tests.account_qualification_world import account_qualification_store
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

PRIORITY, SCORE = "LeadQual_Priority__c", "LeadQual_Account_Score__c"


def org_accounts(server: LoopbackServer, count: int) -> list[str]:
    return server.store.seed(
        "Account",
        [{"Name": f"Company {n}", "Website": f"https://company{n}.example"} for n in range(count)],
    )


def pulled(client: SalesforceClient, ids: list[str]) -> list[Account]:
    salesforce_pull(client=client, objects=["Account"])
    return [Account.objects.get(salesforce_id=sf_id) for sf_id in ids]


def account_writes(server: LoopbackServer) -> list[dict[str, Any]]:
    """The Account records every composite update sent, in order."""
    records = []
    for request in server.requests_to("PATCH", r"/composite/sobjects$"):
        for record in json.loads(request.body)["records"]:
            if record["attributes"]["type"] == "Account":
                records.append(record)
    return records


def test_the_values_are_the_picklist_label_and_the_score_as_a_number() -> None:
    fields = AccountPushFields()

    assert account_push_values(priority="medium", score=44, fields=fields) == {
        PRIORITY: "Medium",
        SCORE: 44.0,
    }
    assert account_push_values(priority="high", score=9, fields=AccountPushFields(score="")) == {
        PRIORITY: "High"
    }
    wanted = {PRIORITY: "High", SCORE: 71.0}
    assert not account_push_needed(wanted=wanted, org={PRIORITY: "High", SCORE: 71, "X__c": 1})
    assert account_push_needed(wanted=wanted, org={PRIORITY: "High"})
    assert account_push_needed(wanted=wanted, org={PRIORITY: "Low", SCORE: 71.0})


def test_scored_accounts_get_their_priority_and_score_in_salesforce(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    ids = org_accounts(sf_server, 3)
    high, medium, _never = pulled(sf_client, ids)
    account_qualification_store(high, score=71, priority="high")
    account_qualification_store(medium, score=44, priority="medium")
    account_qualification_store(AccountFactory(), score=90, priority="high")  # not in the org

    report = salesforce_account_push(client=sf_client)

    assert (report.pending, report.pushed, report.failed, report.calls) == (2, 2, 0, 1)
    org = {i: sf_server.store.get("Account", i) for i in ids}
    assert (org[ids[0]][PRIORITY], org[ids[0]][SCORE]) == ("High", 71.0)
    assert (org[ids[1]][PRIORITY], org[ids[1]][SCORE]) == ("Medium", 44.0)
    # An account never scored is left as it is in the org.
    assert (org[ids[2]][PRIORITY], org[ids[2]][SCORE]) == (None, None)
    assert [r["id"] for r in account_writes(sf_server)] == ids[:2]


def test_the_next_pull_reads_the_write_back_as_no_change_and_the_next_push_sends_nothing(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    ids = org_accounts(sf_server, 4)
    accounts = pulled(sf_client, ids)
    for account in accounts:
        account_qualification_store(account, score=62, priority="high")
    assert salesforce_account_push(client=sf_client).pushed == 4

    # The push moved every account's SystemModstamp: the pull reads them all again.
    report = salesforce_pull(client=sf_client, objects=["Account"])

    counts = report.counts["Account"]
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 4)
    assert Account.objects.get(pk=accounts[0].pk).attributes[PRIORITY] == "High"
    calls = len(sf_server.requests_log)
    again = salesforce_account_push(client=sf_client)
    assert (again.pending, again.unchanged, again.calls) == (0, 4, 0)
    assert len(sf_server.requests_log) == calls
    third = salesforce_pull(client=sf_client, objects=["Account"]).counts["Account"]
    # (The lookback reads the last minutes again: the same records, still unchanged.)
    assert (third.created, third.updated) == (0, 0)


def test_only_the_account_whose_priority_or_score_changed_is_sent_again(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    ids = org_accounts(sf_server, 3)
    accounts = pulled(sf_client, ids)
    for account in accounts:
        account_qualification_store(account, score=35, priority="medium")
    salesforce_account_push(client=sf_client)
    sent_before = len(account_writes(sf_server))

    account_qualification_store(accounts[1], score=64, priority="high")
    # A new stored row with the same priority and score (its roles changed): nothing to send.
    account_qualification_store(accounts[2], score=35, priority="medium", reason_detail="other")
    report = salesforce_account_push(client=sf_client)

    assert (report.pushed, report.unchanged) == (1, 2)
    sent = account_writes(sf_server)[sent_before:]
    assert sent == [
        {"attributes": {"type": "Account"}, "id": ids[1], PRIORITY: "High", SCORE: 64.0}
    ]
    assert sf_server.store.get("Account", ids[1])[PRIORITY] == "High"


def test_a_value_a_person_changed_in_salesforce_is_written_back_after_the_next_pull(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    ids = org_accounts(sf_server, 1)
    (account,) = pulled(sf_client, ids)
    account_qualification_store(account, score=71, priority="high")
    salesforce_account_push(client=sf_client)
    salesforce_pull(client=sf_client, objects=["Account"])

    sf_server.store.update("Account", ids[0], {PRIORITY: "Low"})
    salesforce_pull(client=sf_client, objects=["Account"])
    report = salesforce_account_push(client=sf_client)

    assert report.pushed == 1
    assert sf_server.store.get("Account", ids[0])[PRIORITY] == "High"


def test_a_dry_run_counts_and_writes_nothing(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    ids = org_accounts(sf_server, 2)
    for account in pulled(sf_client, ids):
        account_qualification_store(account)
    calls = len(sf_server.requests_log)

    report = salesforce_account_push(client=sf_client, dry_run=True)

    assert (report.pending, report.pushed, report.calls) == (2, 0, 0)
    assert len(sf_server.requests_log) == calls
    assert sf_server.store.get("Account", ids[0])[PRIORITY] is None
    assert PRIORITY not in Account.objects.get(salesforce_id=ids[0]).attributes


def test_a_record_salesforce_refuses_is_reported_and_tried_again(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    ids = org_accounts(sf_server, 2)
    gone, kept = pulled(sf_client, ids)
    account_qualification_store(gone)
    account_qualification_store(kept)
    sf_server.store.delete("Account", ids[0])

    report = salesforce_account_push(client=sf_client)

    assert (report.pushed, report.failed) == (1, 1)
    (error,) = report.errors
    assert (error.account_id, error.salesforce_id) == (gone.pk, ids[0])
    assert error.code == "ENTITY_IS_DELETED"
    assert error.as_dict()["object"] == "Account"
    # Not marked as written: the next run tries it again (until the pull unlinks it).
    assert salesforce_account_push(client=sf_client).pending == 1


def test_a_field_missing_from_the_org_stops_the_push_with_its_setting(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    ids = org_accounts(sf_server, 1)
    account_qualification_store(pulled(sf_client, ids)[0])

    with pytest.raises(SalesforceConfigError) as caught:
        salesforce_account_push(
            client=sf_client, fields=AccountPushFields(priority="Account_Tier__c")
        )

    assert caught.value.code == "PUSH_FIELD_MISSING"
    assert "SALESFORCE_ACCOUNT_PUSH_FIELD_PRIORITY" in str(caught.value)
    assert account_writes(sf_server) == []


def test_with_no_field_configured_the_account_push_is_off(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    ids = org_accounts(sf_server, 1)
    account_qualification_store(pulled(sf_client, ids)[0])
    calls = len(sf_server.requests_log)

    report = salesforce_account_push(
        client=sf_client, fields=AccountPushFields(priority="", score="")
    )

    assert (report.pending, report.calls) == (0, 0)
    assert len(sf_server.requests_log) == calls
