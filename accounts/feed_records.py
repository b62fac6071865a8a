"""The shape of the account feeds' items, and their validation. Pure: no ORM, no settings.

Three feeds carry account-level evidence (docs/feeds.md):

- account events: a funding round, a new leader, an initiative, a job posting, a contract
  renewal (with the incumbent vendor and the renewal date), a competitor in the news;
- intent signals: a third-party vendor's topic surge for an account;
- technologies: a technology seen at an account (technographics).

Every item names its account by `account_domain`, `account_id` or `account_salesforce_id`
(at least one); the service resolves it. Each parser returns a typed record or the item's
errors by field path, the same contract as accounts.events.event_parse, so the API, the CSV
import and the Salesforce pull report a bad item the same way.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from accounts.domains import normalise_domain
from accounts.events import (
    FUTURE_TOLERANCE,
    Errors,
    _Fields,
    _json_type,
    _json_unstorable,
    datetime_parse,
)
from accounts.models import AccountEventKind

MAX_DETAILS_CHARS = 20_000
# Research volume against the account's baseline; anything past this is a vendor's bug.
MAX_SURGE = 1000.0
ACCOUNT_FIELDS = frozenset({"account_domain", "account_id", "account_salesforce_id"})
EVENT_FIELDS = ACCOUNT_FIELDS | {
    "external_id",
    "kind",
    "occurred_at",
    "title",
    "details",
    "source",
    "vendor",
    "renews_at",
}
INTENT_FIELDS = ACCOUNT_FIELDS | {"external_id", "topic", "surge_score", "observed_at", "source"}
TECHNOLOGY_FIELDS = ACCOUNT_FIELDS | {"name", "category", "seen_at", "source"}

_EVENT_KINDS = frozenset(AccountEventKind.values)
_EVENT_KIND_LIST = ", ".join(AccountEventKind.values)
# Kinds about another vendor: the incumbent whose contract renews, the competitor in the news.
VENDOR_KINDS = frozenset({AccountEventKind.CONTRACT_RENEWAL, AccountEventKind.COMPETITOR_NEWS})
_SALESFORCE_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_MAX_INT = 2**63 - 1


@dataclass(frozen=True, slots=True)
class AccountRef:
    """How an item names its account; the service finds it by the first one given."""

    domain: str | None = None
    account_id: int | None = None
    salesforce_id: str | None = None

    def describe(self) -> str:
        if self.account_id is not None:
            return f"id {self.account_id}"
        if self.salesforce_id:
            return f"Salesforce id {self.salesforce_id!r}"
        return f"domain {self.domain!r}"

    @property
    def path(self) -> str:
        """The field an unknown account is reported on."""
        if self.account_id is not None:
            return "account_id"
        if self.salesforce_id:
            return "account_salesforce_id"
        return "account_domain"


@dataclass(slots=True)
class AccountEventIn:
    account: AccountRef
    external_id: str | None
    kind: str
    occurred_at: datetime
    title: str
    details: dict[str, Any]
    source: str
    vendor: str
    renews_at: date | None


@dataclass(slots=True)
class IntentIn:
    account: AccountRef
    external_id: str | None
    topic: str
    surge_score: float
    observed_at: datetime
    source: str


@dataclass(slots=True)
class TechnologyIn:
    account: AccountRef
    name: str
    category: str
    seen_at: datetime
    source: str


def technology_name_normalise(value: str) -> str:
    """One spelling per technology: trimmed, single-spaced, lower case ("google analytics")."""
    return " ".join(value.split()).lower()


def _unknown_fields(raw: Mapping[str, Any], allowed: frozenset[str], f: _Fields) -> None:
    for key in sorted(str(k) for k in raw.keys() - allowed):
        f.fail(key, "Unknown field.")


def _account_ref(raw: Mapping[str, Any], f: _Fields) -> AccountRef | None:
    domain_text = f.text(raw, "account_domain", "account_domain", max_length=255)
    domain = normalise_domain(domain_text) if domain_text else None
    if domain_text and (not domain or "." not in domain or " " in domain):
        f.fail("account_domain", f"{domain_text[:60]!r} is not a domain (e.g. acme.com).")
        domain = None
    account_id: int | None = None
    raw_id = raw.get("account_id")
    if raw_id is not None and raw_id != "":
        if isinstance(raw_id, str) and raw_id.strip().isdigit():
            raw_id = int(raw_id.strip())
        if isinstance(raw_id, bool) or not isinstance(raw_id, int) or not 0 < raw_id <= _MAX_INT:
            f.fail("account_id", "Must be a positive whole number.")
        else:
            account_id = raw_id
    salesforce_id = f.text(raw, "account_salesforce_id", "account_salesforce_id", max_length=18)
    if salesforce_id and not _SALESFORCE_ID.fullmatch(salesforce_id):
        f.fail("account_salesforce_id", "Must be a 15 or 18 character Salesforce id.")
        salesforce_id = None
    given = any(raw.get(key) not in (None, "") for key in ACCOUNT_FIELDS)
    if not given:
        f.fail(
            "account_domain",
            "Name the account: account_domain (e.g. acme.com), account_id or "
            "account_salesforce_id.",
        )
        return None
    if domain is None and account_id is None and salesforce_id is None:
        return None  # each given one was reported
    return AccountRef(domain=domain, account_id=account_id, salesforce_id=salesforce_id)


def _moment(raw: Mapping[str, Any], key: str, f: _Fields, *, now: datetime) -> datetime | None:
    value = raw.get(key)
    if value is None or value == "":
        f.fail(key, "This field is required.")
        return None
    moment, problem = datetime_parse(value)
    if problem or moment is None:
        f.fail(key, problem or "Not a date-time.")
        return None
    if moment > now + FUTURE_TOLERANCE:
        f.fail(
            key,
            f"Is in the future ({moment.isoformat()}; the server's time is "
            f"{now.isoformat(timespec='seconds')}).",
        )
        return None
    if moment.year < 1970:
        f.fail(key, "Is before 1970.")
        return None
    return moment


def _date(raw: Mapping[str, Any], key: str, f: _Fields) -> date | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        f.fail(key, f"Must be an ISO 8601 date string (2027-03-31), not {_json_type(value)}.")
        return None
    text = value.strip()
    try:
        # A date-time is accepted for a date (a CRM export often writes midnight).
        parsed = date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
    except ValueError:
        f.fail(key, f"{text[:40]!r} is not an ISO 8601 date (e.g. 2027-03-31).")
        return None
    day = parsed.date() if isinstance(parsed, datetime) else parsed
    if not 1970 <= day.year <= 2200:
        f.fail(key, "Must be between 1970 and 2200.")
        return None
    return day


def _details(raw: Mapping[str, Any], f: _Fields) -> dict[str, Any]:
    details = raw.get("details")
    if details is None:
        return {}
    if not isinstance(details, dict):
        f.fail("details", f"Must be an object, not {_json_type(details)}.")
        return {}
    problem = _json_unstorable(details)
    if problem:
        f.fail("details", problem)
        return {}
    size = len(json.dumps(details, ensure_ascii=False, allow_nan=False))
    if size > MAX_DETAILS_CHARS:
        f.fail("details", f"At most {MAX_DETAILS_CHARS} characters as JSON (got {size}).")
        return {}
    return details


def _not_an_object(raw: Any, what: str) -> Errors:
    return {"non_field_errors": [f"{what} must be an object, not {_json_type(raw)}."]}


def default_event_title(kind: str, vendor: str, renews_at: date | None) -> str:
    """The title an event gets when the sender gives none (deterministic: it is part of the
    idempotency key of an event without an external id)."""
    if kind == AccountEventKind.CONTRACT_RENEWAL:
        when = f" on {renews_at.isoformat()}" if renews_at else ""
        return f"Contract with {vendor or 'the incumbent vendor'} renews{when}"
    if kind == AccountEventKind.COMPETITOR_NEWS:
        return f"{vendor or 'A competitor'} in the news"
    return str(AccountEventKind(kind).label)


def account_event_parse(
    raw: Any, *, now: datetime, default_source: str = ""
) -> tuple[AccountEventIn | None, Errors]:
    """One account event validated and normalised, or its errors by field."""
    if not isinstance(raw, dict):
        return None, _not_an_object(raw, "An account event")
    f = _Fields()
    _unknown_fields(raw, EVENT_FIELDS, f)
    account = _account_ref(raw, f)
    external_id = f.text(raw, "external_id", "external_id", max_length=255)
    kind = raw.get("kind")
    if kind is None or kind == "":
        f.fail("kind", "This field is required.")
    elif not isinstance(kind, str) or kind not in _EVENT_KINDS:
        f.fail("kind", f"{json.dumps(kind)[:60]} is not a known kind: {_EVENT_KIND_LIST}.")
    occurred_at = _moment(raw, "occurred_at", f, now=now)
    vendor = f.text(raw, "vendor", "vendor", max_length=200) or ""
    renews_at = _date(raw, "renews_at", f)
    if kind == AccountEventKind.CONTRACT_RENEWAL:
        if renews_at is None and "renews_at" not in f.errors:
            f.fail("renews_at", "A contract renewal needs its renewal date.")
        if not vendor and "vendor" not in f.errors:
            f.fail("vendor", "A contract renewal needs the incumbent vendor.")
    elif kind == AccountEventKind.COMPETITOR_NEWS:
        if not vendor and "vendor" not in f.errors:
            f.fail("vendor", "Competitor news needs the competitor's name.")
    elif renews_at is not None and isinstance(kind, str) and kind in _EVENT_KINDS:
        f.fail("renews_at", "Only a contract_renewal has a renewal date.")
    title = f.text(raw, "title", "title", max_length=255)
    details = _details(raw, f)
    source = f.text(raw, "source", "source", max_length=100) or default_source
    if f.errors or account is None or occurred_at is None or not isinstance(kind, str):
        return None, f.errors
    return (
        AccountEventIn(
            account=account,
            external_id=external_id,
            kind=kind,
            occurred_at=occurred_at,
            title=title or default_event_title(kind, vendor, renews_at),
            details=details,
            source=source,
            vendor=vendor,
            renews_at=renews_at,
        ),
        {},
    )


def intent_parse(
    raw: Any, *, now: datetime, default_source: str = ""
) -> tuple[IntentIn | None, Errors]:
    """One intent signal validated and normalised, or its errors by field."""
    if not isinstance(raw, dict):
        return None, _not_an_object(raw, "An intent signal")
    f = _Fields()
    _unknown_fields(raw, INTENT_FIELDS, f)
    account = _account_ref(raw, f)
    external_id = f.text(raw, "external_id", "external_id", max_length=255)
    topic = f.text(raw, "topic", "topic", max_length=200, required=True)
    surge = raw.get("surge_score")
    surge_score: float | None = None
    if isinstance(surge, str) and surge.strip():
        with contextlib.suppress(ValueError):
            surge = float(surge.strip())
    if surge is None or surge == "":
        f.fail("surge_score", "This field is required.")
    elif isinstance(surge, bool) or not isinstance(surge, int | float):
        f.fail("surge_score", f"Must be a number, not {_json_type(surge)}.")
    elif not math.isfinite(surge) or not 0 <= surge <= MAX_SURGE:
        f.fail(
            "surge_score",
            f"Must be between 0 and {MAX_SURGE:g} (research volume against the account's "
            "baseline: 3.4 is a 340% surge).",
        )
    else:
        surge_score = float(surge)
    observed_at = _moment(raw, "observed_at", f, now=now)
    source = f.text(raw, "source", "source", max_length=100) or default_source
    if f.errors or account is None or topic is None or surge_score is None:
        return None, f.errors
    assert observed_at is not None
    return (
        IntentIn(
            account=account,
            external_id=external_id,
            topic=topic,
            surge_score=surge_score,
            observed_at=observed_at,
            source=source,
        ),
        {},
    )


def technology_parse(
    raw: Any, *, now: datetime, default_source: str = ""
) -> tuple[TechnologyIn | None, Errors]:
    """One technology sighting validated and normalised, or its errors by field."""
    if not isinstance(raw, dict):
        return None, _not_an_object(raw, "A technology")
    f = _Fields()
    _unknown_fields(raw, TECHNOLOGY_FIELDS, f)
    account = _account_ref(raw, f)
    name_text = f.text(raw, "name", "name", max_length=100, required=True)
    name = technology_name_normalise(name_text) if name_text else None
    category = f.text(raw, "category", "category", max_length=100) or ""
    seen_at: datetime | None = now
    if raw.get("seen_at") not in (None, ""):
        seen_at = _moment(raw, "seen_at", f, now=now)
    source = f.text(raw, "source", "source", max_length=100) or default_source
    if f.errors or account is None or not name or seen_at is None:
        return None, f.errors
    return (
        TechnologyIn(account=account, name=name, category=category, seen_at=seen_at, source=source),
        {},
    )
