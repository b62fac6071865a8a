"""The accounts API shows each account's stored qualification: score, priority, parts and
when it was computed, or null for an account never scored."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import ApiScope
from scoring.account_services import accounts_qualify
from scoring.models import AccountQualification, AccountQualificationReason
from tests.account_qualification_world import (
    CRAFTED_PARTS,
    account_history_store,
    account_qualification_store,
)
from tests.api.test_leads_api import token_client
from tests.factories import AccountFactory, LeadFactory, StakeholderFactory, TouchpointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader() -> Client:
    return token_client(ApiScope.READ)


def test_an_account_detail_carries_its_current_stored_qualification(reader: Client) -> None:
    account = AccountFactory()
    account_history_store(account)  # Low, then Medium, then the current High 71
    current = AccountQualification.objects.get(account=account, is_current=True)

    body = reader.get(f"/api/v1/accounts/{account.pk}").json()

    q: dict[str, Any] = body["qualification"]
    assert (q["id"], q["score"], q["priority"]) == (current.pk, 71, "high")
    assert q["parts"] == CRAFTED_PARTS
    assert (q["roles_engaged"], q["roles_quiet"], q["roles_missing"]) == (
        ["champion", "user"],
        ["technical_evaluator"],
        ["economic_buyer"],
    )
    assert q["departments"] == ["engineering", "operations"]
    assert q["play"][0].startswith("Find the economic buyer")
    assert (q["reason"], q["reason_detail"]) == ("intent", "lead scoring")
    assert q["computed_at"] == current.computed_at.isoformat().replace("+00:00", "Z")
    assert "rollup" in body


def test_an_account_never_scored_has_a_null_qualification(reader: Client) -> None:
    account = AccountFactory()

    body = reader.get(f"/api/v1/accounts/{account.pk}").json()

    assert body["qualification"] is None


def test_the_account_list_gives_each_account_its_own_qualification(reader: Client) -> None:
    scored, never = AccountFactory(name="A scored"), AccountFactory(name="B never")
    account_qualification_store(scored, score=44, priority="medium")
    account_qualification_store(AccountFactory(name="C other"), score=12, priority="low")

    rows = reader.get("/api/v1/accounts").json()["results"]

    by_name = {row["name"]: row["qualification"] for row in rows}
    assert by_name[never.name] is None
    assert (by_name[scored.name]["score"], by_name[scored.name]["priority"]) == (44, "medium")
    assert by_name["C other"]["priority"] == "low"


def test_the_api_shows_what_the_scoring_service_stored(reader: Client) -> None:
    account = AccountFactory()
    lead = LeadFactory(account=account, department="engineering")
    StakeholderFactory(account=account, lead=lead, committee_role="champion")
    TouchpointFactory(lead=lead)
    accounts_qualify(account_ids=[account.pk], reason=AccountQualificationReason.MANUAL)
    stored = AccountQualification.objects.get(account=account, is_current=True)

    q = reader.get(f"/api/v1/accounts/{account.pk}").json()["qualification"]

    assert (q["score"], q["priority"], q["reason"]) == (stored.score, stored.priority, "manual")
    assert [p["part"] for p in q["parts"]] == [
        "engagement",
        "coverage",
        "cross_functional",
        "intent",
        "timing",
    ]
    assert sum(p["points"] for p in q["parts"]) == q["score"]
    assert "champion" in q["roles_engaged"]
