"""The account feeds Salesforce holds on the Account (fiscal year, renewal with its incumbent,
technologies): read by simple-salesforce from the loopback org, pulled into leadqual."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import override_settings
from simple_salesforce import Salesforce

from accounts.models import Account, AccountEvent, AccountEventKind, AccountTechnology
from accounts.salesforce.account_feed_fields import (
    AccountFeedFields,
    account_feed_values,
    fiscal_month_parse,
    technologies_split,
)
from accounts.salesforce.client import SalesforceClient
from accounts.salesforce.loopback import (
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    INTEGRATION_USERNAME,
    LoopbackServer,
)
from accounts.salesforce.pull import salesforce_pull

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
_received: list[dict[str, Any]] = []


def record_arrivals(payload: list[dict[str, Any]]) -> None:
    _received.extend(payload)


# --- pure ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "month"),
    [(4, 4), (4.0, 4), ("07", 7), ("October", 10), ("sept.", 9), (None, None), ("", None)],
)
def test_a_fiscal_year_start_is_a_month_number_or_name(value: Any, month: int | None) -> None:
    assert fiscal_month_parse(value) == (month, "")


@pytest.mark.parametrize("value", [0, 13, 4.5, "Q2", True])
def test_a_fiscal_year_start_that_is_no_month_says_why(value: Any) -> None:
    month, problem = fiscal_month_parse(value)
    assert month is None and "is not a month" in problem


def test_technologies_split_on_semicolons_and_lines_once_each() -> None:
    assert technologies_split("Snowflake; HubSpot;;\nLooker;Snowflake") == [
        "Snowflake",
        "HubSpot",
        "Looker",
    ]


def test_only_the_fields_the_org_has_are_selected_in_its_spelling() -> None:
    names = AccountFeedFields(
        fiscal_year_start="Fiscal_Year_Start_Month__c",
        renewal_date="Contract_Renewal_Date__c",
        incumbent_vendor="Incumbent_Vendor__c",
        technologies="",
    ).present(["Id", "fiscal_year_start_month__C", "Contract_Renewal_Date__c"])
    assert names.names() == ("fiscal_year_start_month__C", "Contract_Renewal_Date__c")


def test_a_renewal_is_one_event_per_date_and_vendor() -> None:
    names = AccountFeedFields(renewal_date="R__c", incumbent_vendor="V__c", technologies="T__c")
    record = {"R__c": dt.date(2027, 3, 31), "V__c": "Acme CRM", "T__c": "AWS;Looker"}
    values = account_feed_values(record, names, salesforce_id="001A", seen_at=NOW)
    assert values.events == [
        {
            "account_salesforce_id": "001A",
            "external_id": "001A:renewal:2027-03-31:acme crm",
            "kind": "contract_renewal",
            "occurred_at": NOW.isoformat(),
            "vendor": "Acme CRM",
            "renews_at": "2027-03-31",
        }
    ]
    assert [t["name"] for t in values.technologies] == ["AWS", "Looker"]


# --- simple-salesforce, unmodified, reads them from the loopback org --------------------------


def test_simple_salesforce_describes_and_reads_the_account_feed_fields(
    sf_server: LoopbackServer,
) -> None:
    sf: Any = Salesforce(
        username=INTEGRATION_USERNAME,
        password=DEFAULT_PASSWORD,
        security_token=DEFAULT_SECURITY_TOKEN,
        session=sf_server.session(),
    )
    types = {f["name"]: f["type"] for f in sf.Account.describe()["fields"]}
    assert types["Fiscal_Year_Start_Month__c"] == "double"
    assert types["Contract_Renewal_Date__c"] == "date"
    assert types["Incumbent_Vendor__c"] == "string"
    assert types["Technologies__c"] == "multipicklist"
    created = sf.Account.create(
        {
            "Name": "Acme",
            "Website": "https://acme.com",
            "Fiscal_Year_Start_Month__c": 4,
            "Contract_Renewal_Date__c": "2027-03-31",
            "Incumbent_Vendor__c": "Globex Cloud",
            "Technologies__c": "Snowflake;Looker",
        }
    )
    rows = sf.query(
        "SELECT Fiscal_Year_Start_Month__c, Contract_Renewal_Date__c, Incumbent_Vendor__c, "
        f"Technologies__c FROM Account WHERE Id = '{created['id']}'"
    )["records"]
    assert {k: v for k, v in rows[0].items() if k != "attributes"} == {
        "Fiscal_Year_Start_Month__c": 4.0,
        "Contract_Renewal_Date__c": "2027-03-31",
        "Incumbent_Vendor__c": "Globex Cloud",
        "Technologies__c": "Snowflake;Looker",
    }


# --- the pull, end to end -------------------------------------------------------------------


def _account(sf_server: LoopbackServer, **fields: Any) -> str:
    (account_id,) = sf_server.store.seed(
        "Account", [{"Name": "Acme", "Website": "https://www.acme.com", **fields}]
    )
    return account_id


@pytest.mark.django_db(transaction=True)
@override_settings(
    LEADQUAL_AFTER_ACCOUNT_EVIDENCE=["tests.salesforce.test_pull_account_feeds.record_arrivals"]
)
def test_the_pull_stores_the_fiscal_year_the_renewal_and_the_technologies_once(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sfid = _account(
        sf_server,
        Fiscal_Year_Start_Month__c=7,
        Contract_Renewal_Date__c="2027-03-31",
        Incumbent_Vendor__c="Acme CRM",
        Technologies__c="Snowflake;HubSpot",
    )
    _received.clear()
    report = salesforce_pull(client=sf_client, objects=["Account"])
    assert report.errors == []
    account = Account.objects.get(salesforce_id=sfid)
    assert account.fiscal_year_start_month == 7
    # A feed, not a feature: not copied to attributes as other custom fields are.
    assert not {"Fiscal_Year_Start_Month__c", "Technologies__c"} & set(account.attributes)
    renewal = AccountEvent.objects.get(account=account)
    assert (renewal.kind, renewal.vendor, renewal.renews_at, renewal.source) == (
        AccountEventKind.CONTRACT_RENEWAL,
        "Acme CRM",
        dt.date(2027, 3, 31),
        "salesforce",
    )
    assert sorted(AccountTechnology.objects.values_list("name", flat=True)) == [
        "hubspot",
        "snowflake",
    ]
    assert sorted(account.tech_stack) == ["hubspot", "snowflake"]
    assert sorted(a["kind"] for a in _received) == ["account_event", "technology", "technology"]

    # leadqual's own push bumps SystemModstamp: the record comes back unchanged, and so
    # do its feeds: duplicates, nothing new to re-qualify.
    _received.clear()
    sf_server.store.update("Account", sfid, {"Name": "Acme"})
    salesforce_pull(client=sf_client, objects=["Account"])
    assert AccountEvent.objects.count() == 1 and AccountTechnology.objects.count() == 2
    assert _received == []

    # The renewal moves and the incumbent changes: a new event; a cleared month is cleared.
    sf_server.store.update(
        "Account",
        sfid,
        {
            "Contract_Renewal_Date__c": "2027-09-30",
            "Incumbent_Vendor__c": "Initech Suite",
            "Fiscal_Year_Start_Month__c": None,
        },
    )
    salesforce_pull(client=sf_client, objects=["Account"])
    account.refresh_from_db()
    assert account.fiscal_year_start_month is None
    assert sorted(AccountEvent.objects.values_list("vendor", "renews_at")) == [
        ("Acme CRM", dt.date(2027, 3, 31)),
        ("Initech Suite", dt.date(2027, 9, 30)),
    ]
    moved = AccountEvent.objects.get(vendor="Initech Suite")
    assert [(a["kind"], a["record_id"]) for a in _received] == [("account_event", moved.pk)]


@pytest.mark.django_db
def test_bad_feed_values_are_reported_on_the_account_which_is_still_stored(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    sfid = _account(sf_server, Contract_Renewal_Date__c="2027-03-31", Technologies__c="AWS")
    report = salesforce_pull(client=sf_client, objects=["Account"])
    assert report.errors == [
        {
            "object": "Account",
            "id": sfid,
            "message": "contract renewal: vendor: A contract renewal needs the incumbent vendor.",
        }
    ]
    account = Account.objects.get(salesforce_id=sfid)
    assert list(account.tech_stack) == ["aws"]
    assert not AccountEvent.objects.exists()


@pytest.mark.django_db
def test_a_month_typed_in_the_admin_stays_when_the_org_has_no_fiscal_year_field(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    account = Account.objects.create(name="Acme", domain="acme.com", fiscal_year_start_month=4)
    _account(sf_server, Fiscal_Year_Start_Month__c=10)
    with override_settings(SALESFORCE_PULL_FIELD_FISCAL_YEAR_START=""):
        salesforce_pull(client=sf_client, objects=["Account"])
    account.refresh_from_db()
    assert account.salesforce_id is not None  # linked by its domain
    assert account.fiscal_year_start_month == 4
    # Switched off, it is one more custom field, copied to attributes like the others.
    assert account.attributes["Fiscal_Year_Start_Month__c"] == 10.0


@pytest.mark.django_db
def test_a_dry_run_pull_stores_no_feed_rows(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    _account(sf_server, Technologies__c="AWS;Azure")
    report = salesforce_pull(client=sf_client, objects=["Account"], dry_run=True)
    assert report.counts["Account"].created == 1
    assert not AccountTechnology.objects.exists() and not Account.objects.exists()


@pytest.mark.django_db
def test_the_seeded_loopback_org_brings_fiscal_years_renewals_and_technologies(
    sf_server: LoopbackServer, sf_client: SalesforceClient
) -> None:
    from accounts.salesforce.loopback.seed import seed_org

    org = seed_org(sf_server.store, leads=50)
    assert len(org.account_ids) == 10
    report = salesforce_pull(client=sf_client, objects=["Account"])
    assert report.errors == []
    months = Account.objects.exclude(fiscal_year_start_month=None)
    assert sorted(m or 0 for m in months.values_list("fiscal_year_start_month", flat=True)) == [
        4,
        4,
        7,
        7,
        10,
    ]
    # Accounts 1, 4, 7 and 10 (every third from the first) renew with their incumbent.
    assert AccountEvent.objects.filter(kind=AccountEventKind.CONTRACT_RENEWAL).count() == 4
    assert AccountTechnology.objects.values("account").distinct().count() == 8
