"""The shape of an incoming event, and its validation. Pure: no ORM, no settings.

An event is one touchpoint of one person, as a JSON object:

    {
      "external_id": "evt-7f3a",                 # required, unique: the idempotency key
      "kind": "page_view",                       # required, a TouchpointKind
      "occurred_at": "2026-11-26T21:04:05Z",     # required, ISO 8601 with an offset
      "url": "https://example.com/pricing",      # optional, http(s)
      "page_category": "pricing",                # optional, a PageCategory
      "duration_seconds": 42,                    # optional, ≥ 0
      "form_type": "",                           # optional, a FormType
      "text": "",                                # optional
      "properties": {"utm_source": "ads"},       # optional, any JSON object
      "person": {                                # required: email and/or external_id
        "email": "jordan.lee@acme.com", "external_id": "visitor-123",
        "name": "Jordan Lee", "title": "VP Sales", "company_domain": "acme.com"
      }
    }

Validation is hand-written rather than a DRF serializer: a batch holds up to 10,000 events,
and a nested serializer costs ~100 µs an event, most of the time budget of the whole request.
Every check here is also one PostgreSQL would otherwise fail on with a 500 (NUL characters,
lone surrogates, out-of-range integers), so a stored row cannot fail at insert time.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from accounts.domains import InvalidEmail, normalise_domain, normalise_email
from accounts.models import FormType, PageCategory, TouchpointKind

# A client's clock may run a little ahead; an hour covers skew without letting a bad
# timestamp sit in "the future" of every time window the features use.
FUTURE_TOLERANCE = timedelta(hours=1)
MAX_TEXT_CHARS = 20_000
MAX_PROPERTIES_CHARS = 20_000
MAX_DURATION_SECONDS = 2_147_483_647  # PositiveIntegerField's range on PostgreSQL

EVENT_FIELDS = frozenset(
    {
        "external_id",
        "kind",
        "occurred_at",
        "url",
        "page_category",
        "duration_seconds",
        "form_type",
        "text",
        "properties",
        "person",
    }
)
PERSON_FIELDS = frozenset({"email", "external_id", "name", "title", "company_domain"})

# ASCII only: Python's and PostgreSQL's lower() disagree on some non-ASCII letters, and the
# table's lead_email_lowercase check is PostgreSQL's. The dot-atom local part of RFC 5322 and
# a host name of two or more labels (Django's EmailValidator, less quoted local parts and IDN,
# at a tenth of its cost per address).
_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?",
    re.IGNORECASE,
)
_KINDS = frozenset(TouchpointKind.values)
_PAGE_CATEGORIES = frozenset(PageCategory.values)
_FORM_TYPES = frozenset(FormType.values)
_KIND_LIST = ", ".join(TouchpointKind.values)


@dataclass(slots=True)
class PersonIn:
    email: str | None
    external_id: str | None
    name: str
    title: str
    company_domain: str


@dataclass(slots=True)
class EventIn:
    external_id: str
    kind: str
    occurred_at: datetime
    url: str
    page_category: str
    duration_seconds: int | None
    form_type: str
    text: str
    properties: dict[str, Any]
    # Serialised once here, and stored as is on PostgreSQL.
    properties_json: str
    person: PersonIn


Errors = dict[str, list[str]]


class _Fields:
    """Collects the errors of one event, by field path."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: Errors = {}

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def text(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        *,
        max_length: int,
        required: bool = False,
    ) -> str | None:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.fail(path, "This field is required.")
            return None
        if not isinstance(value, str):
            self.fail(path, f"Must be a string, not {_json_type(value)}.")
            return None
        value = value.strip()
        if required and not value:
            self.fail(path, "This field may not be blank.")
            return None
        if len(value) > max_length:
            self.fail(path, f"At most {max_length} characters (got {len(value)}).")
            return None
        problem = _unstorable(value)
        if problem:
            self.fail(path, problem)
            return None
        return value

    def choice(self, data: Mapping[str, Any], key: str, path: str, allowed: frozenset[str]) -> str:
        value = data.get(key)
        if value is None or value == "":
            return ""
        if not isinstance(value, str) or value not in allowed:
            shown = ", ".join(sorted(v for v in allowed if v))
            self.fail(path, f"{json.dumps(value)[:60]} is not one of: {shown}.")
            return ""
        return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _unstorable(value: str) -> str | None:
    """Why PostgreSQL would refuse a string, if it would."""
    if value.isascii():  # the common case, checked in C: no surrogates possible
        return "Must not contain NUL (\\u0000) characters." if "\x00" in value else None
    if "\x00" in value:
        return "Must not contain NUL (\\u0000) characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Contains an unpaired UTF-16 surrogate (e.g. \\ud800): not valid Unicode."
    return None


def _json_unstorable(node: Any, depth: int = 0) -> str | None:
    if depth > 32:
        return "Nested too deeply (more than 32 levels)."
    if isinstance(node, str):
        return _unstorable(node)
    if isinstance(node, float) and not math.isfinite(node):
        return "Numbers must be finite."
    if isinstance(node, dict):
        for key, value in node.items():
            problem = _unstorable(key) or _json_unstorable(value, depth + 1)
            if problem:
                return problem
    elif isinstance(node, list):
        for item in node:
            problem = _json_unstorable(item, depth + 1)
            if problem:
                return problem
    return None


def datetime_parse(value: Any) -> tuple[datetime | None, str | None]:
    """An aware datetime from ISO 8601 text, or why not."""
    if not isinstance(value, str):
        return None, f"Must be an ISO 8601 date-time string, not {_json_type(value)}."
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, f"{value[:40]!r} is not an ISO 8601 date-time (e.g. 2026-11-26T21:04:05Z)."
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None, "Needs a time zone offset, e.g. 'Z' or '+01:00'."
    return parsed, None


PersonCache = dict[tuple[tuple[str, str], ...], tuple["PersonIn | None", Errors]]


def event_parse(
    raw: Any, *, now: datetime, person_cache: PersonCache | None = None
) -> tuple[EventIn | None, Errors]:
    """One event validated and normalised, or its errors by path ("person.email").

    `person_cache`: shared by the events of one batch, which name the same people again and
    again (a visit is several events); a person object seen before is not parsed again.
    """
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [f"An event must be an object, not {_json_type(raw)}."]}
    f = _Fields()
    for key in raw.keys() - EVENT_FIELDS:
        f.fail(str(key), "Unknown field.")

    external_id = f.text(raw, "external_id", "external_id", max_length=255, required=True)

    kind = raw.get("kind")
    if kind is None or kind == "":
        f.fail("kind", "This field is required.")
    elif not isinstance(kind, str) or kind not in _KINDS:
        f.fail("kind", f"{json.dumps(kind)[:60]} is not a known kind: {_KIND_LIST}.")

    occurred_at: datetime | None = None
    if raw.get("occurred_at") is None:
        f.fail("occurred_at", "This field is required.")
    else:
        occurred_at, problem = datetime_parse(raw["occurred_at"])
        if problem:
            f.fail("occurred_at", problem)
        elif occurred_at is not None and occurred_at > now + FUTURE_TOLERANCE:
            f.fail(
                "occurred_at",
                f"Is in the future ({occurred_at.isoformat()}; the server's time is "
                f"{now.isoformat(timespec='seconds')}).",
            )
            occurred_at = None
        elif occurred_at is not None and occurred_at.year < 1970:
            f.fail("occurred_at", "Is before 1970.")
            occurred_at = None

    url = f.text(raw, "url", "url", max_length=1000) or ""
    if url:
        try:
            parts = urlsplit(url)
            absolute = parts.scheme in ("http", "https") and bool(parts.netloc)
        except ValueError:  # e.g. an unclosed IPv6 bracket: "http://[::1"
            absolute = False
        if not absolute:
            f.fail("url", "Must be an absolute http(s) URL.")

    page_category = f.choice(raw, "page_category", "page_category", _PAGE_CATEGORIES)
    form_type = f.choice(raw, "form_type", "form_type", _FORM_TYPES)

    duration = raw.get("duration_seconds")
    duration_seconds: int | None = None
    if duration is not None:
        if isinstance(duration, bool) or not isinstance(duration, int | float):
            f.fail("duration_seconds", f"Must be a whole number, not {_json_type(duration)}.")
        elif isinstance(duration, float) and not duration.is_integer():
            f.fail("duration_seconds", "Must be a whole number of seconds.")
        elif not 0 <= duration <= MAX_DURATION_SECONDS:
            f.fail("duration_seconds", f"Must be between 0 and {MAX_DURATION_SECONDS}.")
        else:
            duration_seconds = int(duration)

    text = f.text(raw, "text", "text", max_length=MAX_TEXT_CHARS) or ""

    properties = raw.get("properties")
    properties_json = "{}"
    if properties is None:
        properties = {}
    else:
        if not isinstance(properties, dict):
            f.fail("properties", f"Must be an object, not {_json_type(properties)}.")
        else:
            problem = _json_unstorable(properties)
            if problem:
                f.fail("properties", problem)
            else:
                properties_json = json.dumps(properties, ensure_ascii=False, allow_nan=False)
                if len(properties_json) > MAX_PROPERTIES_CHARS:
                    f.fail(
                        "properties",
                        f"At most {MAX_PROPERTIES_CHARS} characters as JSON "
                        f"(got {len(properties_json)}).",
                    )

    person = _person_parse_cached(raw.get("person"), f, person_cache)

    if f.errors or external_id is None or occurred_at is None or person is None:
        return None, f.errors
    return (
        EventIn(
            external_id=external_id,
            kind=str(kind),
            occurred_at=occurred_at,
            url=url,
            page_category=page_category,
            duration_seconds=duration_seconds,
            form_type=form_type,
            text=text,
            properties=properties,
            properties_json=properties_json,
            person=person,
        ),
        {},
    )


def _person_parse_cached(raw: Any, f: _Fields, cache: PersonCache | None) -> PersonIn | None:
    # Only objects of strings are cached: their items make an exact key (1 and True, equal as
    # keys, would share an entry and an error message).
    if cache is None or not isinstance(raw, dict) or not all(type(v) is str for v in raw.values()):
        return _person_parse(raw, f)
    key = tuple(sorted(raw.items()))
    hit = cache.get(key)
    if hit is None:
        alone = _Fields()
        hit = cache[key] = (_person_parse(raw, alone), alone.errors)
    person, errors = hit
    for path, messages in errors.items():
        f.errors.setdefault(path, []).extend(messages)
    return person


def _person_parse(raw: Any, f: _Fields) -> PersonIn | None:
    if raw is None:
        f.fail("person", "This field is required: an object with email and/or external_id.")
        return None
    if not isinstance(raw, dict):
        f.fail("person", f"Must be an object, not {_json_type(raw)}.")
        return None
    before = len(f.errors)
    for key in raw.keys() - PERSON_FIELDS:
        f.fail(f"person.{key}", "Unknown field.")
    email = f.text(raw, "email", "person.email", max_length=254)
    if email is not None:
        try:
            if not email.isascii() or _EMAIL.fullmatch(email) is None:
                raise InvalidEmail(email)
            email = normalise_email(email)
        except InvalidEmail:
            f.fail("person.email", f"{email[:80]!r} is not an email address.")
            email = None
    external_id = f.text(raw, "external_id", "person.external_id", max_length=255)
    name = f.text(raw, "name", "person.name", max_length=255) or ""
    title = f.text(raw, "title", "person.title", max_length=255) or ""
    company_domain = f.text(raw, "company_domain", "person.company_domain", max_length=255)
    if company_domain:
        company_domain = normalise_domain(company_domain)
        if (
            "." not in company_domain
            or not company_domain.isascii()
            or any(c.isspace() for c in company_domain)
        ):
            f.fail("person.company_domain", f"{company_domain[:80]!r} is not a domain.")
    if len(f.errors) > before:
        return None
    if email is None and external_id is None:
        f.fail("person", "Give the person's email, their external_id, or both.")
        return None
    return PersonIn(
        email=email,
        external_id=external_id,
        name=name,
        title=title,
        company_domain=company_domain or "",
    )
