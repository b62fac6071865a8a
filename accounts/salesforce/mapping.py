"""Salesforce records → the values of leadqual's models. Pure: no ORM, no settings.

Each function takes one record as the client returns it (a dict keyed by the selected field
names, values already typed: bool, int, float, aware datetime, date, str or None) and returns a
plain dict of model field values, or raises MappingError when the record cannot be stored (a
required value missing or malformed). References to other records (AccountId, WhoId, ...) are
returned as Salesforce ids; the pull resolves them against the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from accounts.domains import InvalidEmail, normalise_domain, normalise_email
from accounts.importers import country_code
from accounts.titles import committee_role_for, title_seniority_department

# The Touchpoint.external_id of a pulled Task or Event: the Salesforce id, namespaced so that it
# can never collide with an id a web tracker sends.
TOUCHPOINT_EXTERNAL_PREFIX = "salesforce:"
# Accounts without a usable Website still need a unique domain (the matching key): one that
# cannot be a real company's and that stays the same on every pull.
SYNTHETIC_DOMAIN_SUFFIX = "salesforce.invalid"

ACCOUNT_FIELDS = (
    "Name",
    "Website",
    "Industry",
    "NumberOfEmployees",
    "AnnualRevenue",
    "BillingCountry",
    "BillingState",
    "CreatedDate",
)
CONTACT_FIELDS = ("FirstName", "LastName", "Email", "Title", "AccountId", "CreatedDate")
LEAD_FIELDS = (
    "FirstName",
    "LastName",
    "Email",
    "Title",
    "Company",
    "Website",
    "LeadSource",
    "Status",
    "Rating",
    "Industry",
    "NumberOfEmployees",
    "AnnualRevenue",
    "State",
    "Country",
    "OwnerId",
    "IsConverted",
    "ConvertedDate",
    "ConvertedAccountId",
    "ConvertedContactId",
    "ConvertedOpportunityId",
    "CreatedDate",
    "LastModifiedDate",
)
OPPORTUNITY_FIELDS = (
    "Name",
    "AccountId",
    "ContactId",
    "StageName",
    "IsClosed",
    "IsWon",
    "Amount",
    "CloseDate",
    "CreatedDate",
)
TASK_FIELDS = (
    "Subject",
    "WhoId",
    "WhatId",
    "Status",
    "IsClosed",
    "ActivityDate",
    "TaskSubtype",
    "CallDurationInSeconds",
    "CreatedDate",
)
EVENT_FIELDS = (
    "Subject",
    "WhoId",
    "WhatId",
    "StartDateTime",
    "ActivityDateTime",
    "DurationInMinutes",
    "CreatedDate",
)

# Lead values that are evidence for qualification: a change to one of them asks for a new
# qualification. The rest (owner, conversion, rating) are stored without asking for one.
LEAD_EVIDENCE_FIELDS = (
    "email",
    "name",
    "title",
    "seniority",
    "department",
    "source",
    "country",
    "state",
    "status",
    "attributes",
)

_REGIONS: dict[str, frozenset[str]] = {
    "NA": frozenset({"US", "CA"}),
    "LATAM": frozenset(
        {"MX", "BR", "AR", "CL", "CO", "PE", "UY", "PY", "BO", "EC", "VE", "CR", "PA", "GT",
         "DO", "PR", "HN", "SV", "NI", "CU", "JM", "TT"}
    ),
    "APAC": frozenset(
        {"AU", "NZ", "JP", "CN", "HK", "TW", "KR", "SG", "MY", "TH", "VN", "PH", "ID", "IN",
         "PK", "BD", "LK", "NP", "MN", "KH", "MM", "LA", "BN", "FJ", "PG", "MO"}
    ),
}  # fmt: skip


class MappingError(ValueError):
    """One record cannot be stored: the message says which value and why."""


def region_for_country(code: str) -> str:
    """The accounts.models.Region of an ISO country code; EMEA for the rest of a known code."""
    if not code:
        return ""
    for region, codes in _REGIONS.items():
        if code in codes:
            return region
    return "EMEA"


def website_domain(value: str | None) -> str:
    """The domain of a Website value ("https://www.acme.com/x" → "acme.com"), "" if none."""
    if not value or not value.strip():
        return ""
    domain = normalise_domain(value)
    return domain if "." in domain and " " not in domain else ""


def synthetic_domain(salesforce_id: str) -> str:
    # 18-character ids are unique case-insensitively (that is what their suffix is for).
    return f"{salesforce_id.lower()}.{SYNTHETIC_DOMAIN_SUFFIX}"


def custom_values(record: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The org's own fields, JSON-ready, for `attributes`; None means "not set" (the pull then
    removes the key, so a value cleared in Salesforce is cleared here too)."""
    out: dict[str, Any] = {}
    for name in names:
        value = record.get(name)
        if value == "":
            value = None
        out[name] = value.isoformat() if isinstance(value, dt.date) else value
    return out


def _text(record: Mapping[str, Any], name: str, limit: int = 255) -> str:
    value = record.get(name)
    return str(value).strip()[:limit] if value is not None else ""


def _person_name(record: Mapping[str, Any]) -> str:
    parts = (_text(record, "FirstName"), _text(record, "LastName"))
    return " ".join(p for p in parts if p)[:255]


def _email(record: Mapping[str, Any], *, required: bool) -> str:
    raw = _text(record, "Email", 254)
    if not raw:
        if required:
            raise MappingError("Email is empty: a lead is found by its email address")
        return ""
    try:
        return normalise_email(raw)
    except InvalidEmail as error:
        raise MappingError(f"Email {raw!r} is not an email address") from error


def _decimal(value: Any, name: str, *, max_digits: int) -> Decimal | None:
    """Money with two decimals, within the column's digits (a value too big for it would
    fail the whole page's transaction, not just this record)."""
    if value is None:
        return None
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation as error:
        raise MappingError(f"{name} {value!r} is not a number") from error
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** (max_digits - 2):
        raise MappingError(f"{name} {value!r} is out of range")
    return amount


_MAX_COUNT = 2**31 - 1  # PositiveIntegerField


def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= _MAX_COUNT
    ):
        raise MappingError(f"{name} {value!r} is not a count")
    return int(value)


def date_start(value: dt.date | None) -> dt.datetime | None:
    """A Salesforce date as the start of that day in UTC (Salesforce dates carry no zone)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC)


def _country(record: Mapping[str, Any], name: str) -> str:
    text = _text(record, name)
    return (country_code(text) or "") if text else ""


def account_fields(
    record: Mapping[str, Any], *, custom_fields: Iterable[str] = ()
) -> dict[str, Any]:
    name = _text(record, "Name")
    if not name:
        raise MappingError("Name is empty")
    country = _country(record, "BillingCountry")
    return {
        "name": name,
        # "" when the Website gives none: the pull then keeps the account's domain, or makes one.
        "domain": website_domain(record.get("Website")),
        "industry": _text(record, "Industry", 100),
        "employee_count": _count(record.get("NumberOfEmployees"), "NumberOfEmployees"),
        "annual_revenue": _decimal(record.get("AnnualRevenue"), "AnnualRevenue", max_digits=16),
        "country": country,
        "state": _text(record, "BillingState", 100),
        "region": region_for_country(country),
        "custom": custom_values(record, custom_fields),
        "created_at": record.get("CreatedDate"),
    }


def contact_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """A Contact as a Stakeholder of its account, with the committee role its title suggests."""
    if not record.get("AccountId"):
        raise MappingError("AccountId is empty: a stakeholder belongs to an account")
    title = _text(record, "Title")
    seniority, department = title_seniority_department(title)
    return {
        "name": _person_name(record),
        "email": _email(record, required=False),
        "title": title,
        "committee_role": committee_role_for(title, seniority, department),
        "account_salesforce_id": str(record["AccountId"]),
        "created_at": record.get("CreatedDate"),
    }


def lead_status(status: str, *, is_converted: bool) -> str:
    """accounts.models.LeadStatus from the org's Lead Status picklist value (orgs rename them,
    so by keyword, most decisive first)."""
    text = status.lower()
    if is_converted:
        return "converted"
    if any(k in text for k in ("not converted", "unqualified", "disqualified", "closed", "lost")):
        return "closed"
    if "not contacted" in text:
        return "new"
    if "nurtur" in text or "recycl" in text:
        return "nurturing"
    if any(k in text for k in ("working", "contacted", "qualified", "engaged")):
        return "working"
    return "new"


def lead_fields(record: Mapping[str, Any], *, custom_fields: Iterable[str] = ()) -> dict[str, Any]:
    """A Lead: the model columns, the evidence `attributes` and the `outcome_attributes`.

    Firmographics the Lead carries (industry, size, company) go to attributes, where scoring
    reads custom CRM columns; owner, rating, raw status and conversion ids go to
    outcome_attributes, which scoring never reads: they are decided after contact, and the owner
    is what leadqual's own push writes.
    """
    email = _email(record, required=True)
    title = _text(record, "Title")
    seniority, department = title_seniority_department(title)
    is_converted = bool(record.get("IsConverted"))
    raw_status = _text(record, "Status", 100)
    status = lead_status(raw_status, is_converted=is_converted)
    attributes: dict[str, Any] = {
        "company": _text(record, "Company") or None,
        "company_domain": website_domain(record.get("Website")) or None,
        "industry": _text(record, "Industry", 100) or None,
        "employee_count": _count(record.get("NumberOfEmployees"), "NumberOfEmployees"),
        "annual_revenue": (
            float(record["AnnualRevenue"]) if record.get("AnnualRevenue") is not None else None
        ),
        **custom_values(record, custom_fields),
    }
    outcome: dict[str, Any] = {
        "salesforce_owner_id": record.get("OwnerId") or None,
        "salesforce_status": raw_status or None,
        "salesforce_rating": _text(record, "Rating", 40) or None,
        "salesforce_converted_account_id": record.get("ConvertedAccountId") or None,
        "salesforce_converted_contact_id": record.get("ConvertedContactId") or None,
        "salesforce_converted_opportunity_id": record.get("ConvertedOpportunityId") or None,
    }
    converted_at = date_start(record.get("ConvertedDate")) if is_converted else None
    if is_converted and converted_at is None:
        converted_at = record.get("LastModifiedDate")
    return {
        "email": email,
        "name": _person_name(record),
        "title": title,
        "seniority": seniority,
        "department": department,
        "source": _text(record, "LeadSource", 100),
        "country": _country(record, "Country"),
        "state": _text(record, "State", 100),
        "status": status,
        "attributes": attributes,
        "outcome_attributes": outcome,
        "is_converted": is_converted,
        "converted_at": converted_at,
        # When it was closed is not in the record: the first pull that sees it closed says.
        "closed_hint": record.get("LastModifiedDate") if status == "closed" else None,
        "company_domain": attributes["company_domain"] or "",
        "account_salesforce_id": record.get("ConvertedAccountId") or None,
        "created_at": record.get("CreatedDate"),
    }


_STAGE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("negotiation", ("negotiat", "contract", "commit")),
    ("proposal", ("proposal", "quote", "pricing")),
    ("evaluation", ("value prop", "decision", "perception", "evaluat", "demo", "trial", "poc")),
    ("discovery", ("qualif", "needs analysis", "discovery", "analysis")),
    ("prospecting", ("prospect",)),
)


def opportunity_stage(stage_name: str, *, is_closed: bool, is_won: bool) -> str:
    """accounts.models.OpportunityStage from StageName. IsWon and IsClosed decide closed ones:
    they come from the org's own OpportunityStage table, whatever the stages are called."""
    if is_won:
        return "closed_won"
    if is_closed:
        return "closed_lost"
    text = stage_name.lower()
    for stage, words in _STAGE_WORDS:
        if any(w in text for w in words):
            return stage
    return "prospecting"


def opportunity_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    stage_name = _text(record, "StageName")
    if not stage_name:
        raise MappingError("StageName is empty")
    is_won = bool(record.get("IsWon"))
    is_closed = bool(record.get("IsClosed")) or is_won
    created_at = record.get("CreatedDate")
    closed_at = date_start(record.get("CloseDate")) if is_closed else None
    if is_closed and closed_at is None:
        raise MappingError("CloseDate is empty on a closed opportunity")
    # CloseDate is a day the rep picks; a deal closed "on" the day it was created, or backdated,
    # would close before it opened, which the model forbids.
    if closed_at is not None and created_at is not None and closed_at < created_at:
        closed_at = created_at
    return {
        "name": _text(record, "Name"),
        "stage": opportunity_stage(stage_name, is_closed=is_closed, is_won=is_won),
        "amount": _decimal(record.get("Amount"), "Amount", max_digits=14),
        "is_closed": is_closed,
        "is_won": is_won,
        "closed_at": closed_at,
        "created_at": created_at,
        "account_salesforce_id": record.get("AccountId") or None,
        "contact_salesforce_id": record.get("ContactId") or None,
    }


def activity_fields(record: Mapping[str, Any], *, object_name: str) -> dict[str, Any] | None:
    """A Task or Event as a touchpoint, or None when it is not evidence of the person's interest.

    A held meeting (Event) and a completed call are; so is an email logged as a reply ("RE:").
    A rep's own outgoing email, an open to-do or a planned call says what the rep did, not what
    the person did: storing them would let a rep's activity raise the score it is meant to follow.
    """
    subject = _text(record, "Subject", 1000)
    if object_name == "Event":
        occurred = record.get("StartDateTime") or record.get("ActivityDateTime")
        minutes = record.get("DurationInMinutes")
        kind = "meeting"
        duration = int(minutes) * 60 if isinstance(minutes, int | float) and minutes > 0 else None
        subtype = "Event"
    else:
        subtype = _text(record, "TaskSubtype", 40) or "Task"
        completed = bool(record.get("IsClosed")) or _text(record, "Status") == "Completed"
        seconds = record.get("CallDurationInSeconds")
        duration = int(seconds) if isinstance(seconds, int | float) and seconds > 0 else None
        if subtype == "Call" and completed:
            kind = "sales_reply"
        elif subtype == "Email" and subject.lower().startswith(("re:", "re ")):
            kind = "email_reply"
        else:
            return None
        occurred = date_start(record.get("ActivityDate"))
    occurred = occurred or record.get("CreatedDate")
    if occurred is None:
        raise MappingError("No date: neither the activity's own date nor CreatedDate")
    who = record.get("WhoId") or None
    what = record.get("WhatId") or None
    if who is None and what is None:
        raise MappingError("Neither WhoId nor WhatId: the activity names nobody")
    return {
        "external_id": TOUCHPOINT_EXTERNAL_PREFIX + str(record["Id"]),
        "kind": kind,
        "occurred_at": occurred,
        "duration_seconds": duration,
        "text": subject,
        "properties": {"salesforce_object": object_name, "subtype": subtype},
        "who_salesforce_id": who,
        "what_salesforce_id": what,
    }
