"""The account push inside `manage.py salesforce_sync`: the sync after the one that wrote the
accounts' priorities changes nothing in either system; an org without the Account fields fails
the account push loudly and keeps the lead push's counts."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, SalesforceSyncRun, SyncRunStatus
from accounts.salesforce.loopback import LoopbackServer
from tests.account_qualification_world import account_qualification_store
from tests.salesforce.test_sync_command import sf_settings  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

PRIORITY, SCORE = "LeadQual_Priority__c", "LeadQual_Account_Score__c"


def run(*args: str) -> str:
    out = StringIO()
    call_command("salesforce_sync", *args, stdout=out)
    return out.getvalue()


def test_the_sync_writes_the_priorities_and_the_next_sync_changes_nothing(
    sf_settings: Any,  # noqa: F811
    sf_server: LoopbackServer,
) -> None:
    ids = sf_server.store.seed(
        "Account", [{"Name": f"Co {n}", "Website": f"https://co{n}.example"} for n in range(3)]
    )
    run("--pull", "--objects", "Account")
    for n, sf_id in enumerate(ids[:2]):
        account_qualification_store(
            Account.objects.get(salesforce_id=sf_id), score=30 + n * 40, priority="medium"
        )

    out = run()

    assert "account push: 2 sent, 0 unchanged, 0 refused, 1 calls" in out
    assert sf_server.store.get("Account", ids[0])[PRIORITY] == "Medium"
    assert sf_server.store.get("Account", ids[1])[SCORE] == 70.0
    before = {r["Id"]: dict(r) for r in sf_server.store.all("Account")}
    writes = len(sf_server.requests_to("PATCH", r"composite/sobjects"))

    summary = json.loads(run("--json"))

    assert summary["status"] == "ok"
    account_pull = summary["pull"]["counts"]["Account"]
    assert (account_pull["created"], account_pull["updated"]) == (0, 0)
    assert summary["account_push"]["counts"] == {
        "pending": 0, "pushed": 0, "unchanged": 2, "failed": 0, "calls": 0,
    }  # fmt: skip
    assert len(sf_server.requests_to("PATCH", r"composite/sobjects")) == writes
    assert {r["Id"]: dict(r) for r in sf_server.store.all("Account")} == before
    last_push = SalesforceSyncRun.objects.filter(direction="push").latest("pk")
    assert last_push.counts["Account"]["unchanged"] == 2


def test_an_org_without_the_account_fields_fails_the_account_push_only(
    sf_settings: Any,  # noqa: F811
    sf_server: LoopbackServer,
) -> None:
    ids = sf_server.store.seed("Account", [{"Name": "Co", "Website": "https://co.example"}])
    run("--pull", "--objects", "Account")
    account_qualification_store(Account.objects.get(salesforce_id=ids[0]))
    sf_settings.SALESFORCE_ACCOUNT_PUSH_FIELD_PRIORITY = "Account_Priority__c"

    with pytest.raises(CommandError):
        run("--push")

    push_run = SalesforceSyncRun.objects.filter(direction="push").latest("pk")
    assert push_run.status == SyncRunStatus.FAILED
    assert "Lead" in push_run.counts  # the lead push's counts are kept
    (error,) = [e for e in push_run.errors if e.get("object") == "Account"]
    assert error["code"] == "PUSH_FIELD_MISSING"
    assert "SALESFORCE_ACCOUNT_PUSH_FIELD_PRIORITY" in error["message"]
