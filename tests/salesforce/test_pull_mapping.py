"""The pure mapping from Salesforce records to leadqual's field values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.salesforce import mapping
from accounts.salesforce.mapping import MappingError

UTC = dt.UTC


@pytest.mark.parametrize(
    ("status", "converted", "expected"),
    [
        ("Open - Not Contacted", False, "new"),
        ("Working - Contacted", False, "working"),
        ("Closed - Not Converted", False, "closed"),
        ("Unqualified", False, "closed"),
        ("Nurturing", False, "nurturing"),
        ("Recycled", False, "nurturing"),  # sent back to marketing (TRIGGERS, dormant)
        ("Closed - Converted", True, "converted"),
        ("Anything", True, "converted"),
    ],
)
def test_lead_status_from_the_orgs_picklist(status: str, converted: bool, expected: str) -> None:
    assert mapping.lead_status(status, is_converted=converted) == expected


@pytest.mark.parametrize(
    ("stage", "closed", "won", "expected"),
    [
        ("Prospecting", False, False, "prospecting"),
        ("Needs Analysis", False, False, "discovery"),
        ("Id. Decision Makers", False, False, "evaluation"),
        ("Proposal/Price Quote", False, False, "proposal"),
        ("Negotiation/Review", False, False, "negotiation"),
        ("Signed (custom)", True, True, "closed_won"),
        ("Closed Lost", True, False, "closed_lost"),
        ("Something custom", False, False, "prospecting"),
    ],
)
def test_opportunity_stage_trusts_iswon_and_isclosed(
    stage: str, closed: bool, won: bool, expected: str
) -> None:
    assert mapping.opportunity_stage(stage, is_closed=closed, is_won=won) == expected


def test_a_lead_maps_to_columns_evidence_and_outcome_attributes() -> None:
    values = mapping.lead_fields(
        {
            "Id": "00Q000000000001AAA",
            "FirstName": "Ana",
            "LastName": "Diaz",
            "Email": " Ana.Diaz@Acme.COM ",
            "Title": "VP Engineering",
            "Company": "Acme",
            "Website": "https://www.acme.com/about",
            "LeadSource": "Web",
            "Status": "Closed - Converted",
            "Country": "Germany",
            "OwnerId": "005000000000001AAA",
            "IsConverted": True,
            "ConvertedDate": dt.date(2026, 3, 1),
            "ConvertedAccountId": "001000000000001AAA",
            "Region__c": "DACH",
        },
        custom_fields=["Region__c", "Empty__c"],
    )
    assert values["email"] == "ana.diaz@acme.com"
    assert (values["seniority"], values["department"]) == ("vp", "engineering")
    assert values["country"] == "DE"
    assert values["status"] == "converted"
    assert values["converted_at"] == dt.datetime(2026, 3, 1, tzinfo=UTC)
    assert values["attributes"]["Region__c"] == "DACH"
    assert values["attributes"]["Empty__c"] is None  # removed from the lead's attributes
    assert values["attributes"]["company_domain"] == "acme.com"
    assert values["outcome_attributes"]["salesforce_owner_id"] == "005000000000001AAA"
    assert values["account_salesforce_id"] == "001000000000001AAA"


@pytest.mark.parametrize("email", [None, "", "not-an-address"])
def test_a_lead_without_a_usable_email_is_a_mapping_error(email: str | None) -> None:
    with pytest.raises(MappingError, match="Email"):
        mapping.lead_fields({"Id": "00Q1", "LastName": "X", "Email": email})


def test_an_account_gets_its_domain_region_and_money_as_decimal() -> None:
    values = mapping.account_fields(
        {
            "Name": "Globex",
            "Website": "globex.co.uk",
            "AnnualRevenue": 1234.5,
            "NumberOfEmployees": 40,
            "BillingCountry": "United Kingdom",
        }
    )
    assert values["domain"] == "globex.co.uk"
    assert values["annual_revenue"] == Decimal("1234.50")
    assert (values["country"], values["region"]) == ("GB", "EMEA")
    assert mapping.account_fields({"Name": "NoSite", "Website": "n/a"})["domain"] == ""
    with pytest.raises(MappingError, match="Name"):
        mapping.account_fields({"Name": "  "})


def test_a_closed_opportunity_never_closes_before_it_was_created() -> None:
    created = dt.datetime(2026, 5, 10, 9, 30, tzinfo=UTC)
    values = mapping.opportunity_fields(
        {
            "StageName": "Closed Won",
            "IsClosed": True,
            "IsWon": True,
            "CloseDate": dt.date(2026, 5, 1),
            "CreatedDate": created,
            "Amount": 5000.0,
        }
    )
    assert values["closed_at"] == created
    assert values["stage"] == "closed_won"


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        ({"TaskSubtype": "Call", "Status": "Completed", "IsClosed": True}, "sales_reply"),
        ({"TaskSubtype": "Call", "Status": "Not Started", "IsClosed": False}, None),
        ({"TaskSubtype": "Email", "Subject": "Email: pricing"}, None),
        ({"TaskSubtype": "Email", "Subject": "RE: pricing"}, "email_reply"),
        ({"TaskSubtype": "Task", "Status": "Completed", "IsClosed": True}, None),
    ],
)
def test_only_tasks_that_show_the_persons_interest_become_touchpoints(
    record: dict[str, object], kind: str | None
) -> None:
    base = {"Id": "00T000000000001AAA", "WhoId": "00Q000000000001AAA"}
    base["ActivityDate"] = dt.date(2026, 4, 2)  # type: ignore[assignment]
    values = mapping.activity_fields({**base, **record}, object_name="Task")
    assert (values["kind"] if values else None) == kind
    if values:
        assert values["external_id"] == "salesforce:00T000000000001AAA"
        assert values["occurred_at"] == dt.datetime(2026, 4, 2, tzinfo=UTC)


def test_an_event_is_a_meeting_with_its_duration() -> None:
    start = dt.datetime(2026, 4, 2, 15, 0, tzinfo=UTC)
    values = mapping.activity_fields(
        {"Id": "00U1", "WhoId": "003X", "StartDateTime": start, "DurationInMinutes": 30},
        object_name="Event",
    )
    assert values is not None
    assert (values["kind"], values["occurred_at"], values["duration_seconds"]) == (
        "meeting",
        start,
        1800,
    )
    with pytest.raises(MappingError, match="names nobody"):
        mapping.activity_fields({"Id": "00U2", "StartDateTime": start}, object_name="Event")


def test_money_and_counts_that_do_not_fit_the_columns_are_mapping_errors() -> None:
    with pytest.raises(MappingError, match=r"AnnualRevenue .* out of range"):
        mapping.account_fields({"Name": "Big", "AnnualRevenue": 1e15})
    with pytest.raises(MappingError, match=r"Amount .* out of range"):
        mapping.opportunity_fields({"StageName": "Prospecting", "Amount": 1e13})
    with pytest.raises(MappingError, match="NumberOfEmployees"):
        mapping.account_fields({"Name": "Odd", "NumberOfEmployees": -3})
