"""The account feeds Salesforce holds on the Account: pure mapping, no ORM, no settings reads.

Many orgs keep a few feed facts as custom Account fields (docs/salesforce.md, "Account feed
fields"); the names are settings, since every org names them its own way:

- the fiscal-year start month (SALESFORCE_PULL_FIELD_FISCAL_YEAR_START, default
  Fiscal_Year_Start_Month__c): a number 1-12 or a month name; it becomes
  Account.fiscal_year_start_month, the budget cycle the timing factors read;
- the contract renewal date and the incumbent vendor (Contract_Renewal_Date__c,
  Incumbent_Vendor__c): a `contract_renewal` account event;
- the technologies (Technologies__c), semicolon-separated as a multi-select picklist is:
  technology sightings.

The events and technologies are items in the feed APIs' shape, which the pull hands to the
same store functions (accounts.account_feeds), so a bad value is reported as the API would and
a value pulled again is a duplicate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

SALESFORCE_SOURCE = "salesforce"
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}


@dataclass(frozen=True)
class AccountFeedFields:
    """The Account field names that carry feeds; "" when the org has no such field."""

    fiscal_year_start: str = ""
    renewal_date: str = ""
    incumbent_vendor: str = ""
    technologies: str = ""

    def names(self) -> tuple[str, ...]:
        return tuple(name for name in (getattr(self, f.name) for f in fields(self)) if name)

    def present(self, org_fields: Iterable[str]) -> AccountFeedFields:
        """Only the fields the org's describe has, in its spelling: selecting a field the org
        lacks would fail the whole query (INVALID_FIELD)."""
        spelled = {name.lower(): name for name in org_fields}
        return replace(
            self,
            **{
                f.name: spelled.get(getattr(self, f.name).lower(), "")
                for f in fields(self)
                if getattr(self, f.name)
            },
        )


@dataclass
class AccountFeedValues:
    """What one Account record says: the month (None: cleared or never set), the feed items,
    and problems with values that are not items (a month that is no month)."""

    fiscal_year_start_month: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    technologies: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def fiscal_month_parse(value: Any) -> tuple[int | None, str]:
    """1-12 from a number, "4", "04", "April" or "Apr"; None and why for anything else."""
    if value is None or value == "":
        return None, ""
    if isinstance(value, bool):
        return None, f"{value!r} is not a month"
    if isinstance(value, int | float):
        if float(value).is_integer() and 1 <= int(value) <= 12:
            return int(value), ""
        return None, f"{value!r} is not a month number (1-12)"
    text = str(value).strip().lower().rstrip(".")
    if text.isdigit():
        return fiscal_month_parse(int(text))
    if text in _MONTHS:
        return _MONTHS[text], ""
    return None, f"{str(value)[:40]!r} is not a month (1-12, or a name such as April)"


def technologies_split(value: Any) -> list[str]:
    """The names of a multi-select picklist ("Snowflake;HubSpot") or a text field with
    semicolons or new lines; blanks dropped, order kept."""
    if value is None:
        return []
    parts = str(value).replace("\r", "\n").replace("\n", ";").split(";")
    return list(dict.fromkeys(part.strip() for part in parts if part.strip()))


def account_feed_values(
    record: Mapping[str, Any],
    names: AccountFeedFields,
    *,
    salesforce_id: str,
    seen_at: dt.datetime,
) -> AccountFeedValues:
    """One Account record's feed facts; `seen_at` is when Salesforce last changed it."""
    out = AccountFeedValues()
    if names.fiscal_year_start:
        month, problem = fiscal_month_parse(record.get(names.fiscal_year_start))
        out.fiscal_year_start_month = month
        if problem:
            out.problems.append(f"{names.fiscal_year_start}: {problem}")
    renews = record.get(names.renewal_date) if names.renewal_date else None
    vendor = record.get(names.incumbent_vendor) if names.incumbent_vendor else None
    vendor_text = str(vendor).strip() if vendor is not None else ""
    if renews:
        renews_text = renews.isoformat() if isinstance(renews, dt.date) else str(renews)
        out.events.append(
            {
                "account_salesforce_id": salesforce_id,
                # One event per (date, vendor): pulled again, a duplicate; a new date or a new
                # incumbent, a new event (the renewal moved, the account switched vendor).
                "external_id": (
                    f"{salesforce_id}:renewal:{renews_text[:10]}:{vendor_text.casefold()}"
                )[:255],
                "kind": "contract_renewal",
                "occurred_at": seen_at.isoformat(),
                "vendor": vendor_text,
                "renews_at": renews_text,
            }
        )
    if names.technologies:
        for name in technologies_split(record.get(names.technologies)):
            out.technologies.append(
                {
                    "account_salesforce_id": salesforce_id,
                    "name": name,
                    "seen_at": seen_at.isoformat(),
                }
            )
    return out
