"""History import: a CRM export (CSV) of past leads with outcomes, read through a TOML mapping.

The module has two halves. The pure half reads bytes, decodes them, finds the delimiter,
validates the mapping against the header and turns every row into a `ParsedRow` or a list of
`RowError`s; it touches no ORM and reads no settings, so it is tested without a database. The
write half, `history_import`, puts the valid rows in the database in one transaction with bulk
upserts. The mapping format and the re-import rules are documented in `docs/importing.md`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import re
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.domains import InvalidEmail, normalise_domain, normalise_email

if TYPE_CHECKING:
    from accounts.models import Lead

# The models are imported inside the write functions, so that the pure half (reading,
# validation, mapping) can be imported and tested without configured Django settings.

# Generated addresses and domains live under the reserved `.invalid` TLD (RFC 2606): they can
# never be delivered to, and leads and accounts use different label depths so a generated lead
# address can never match a generated account domain.
IMPORT_EMAIL_SUFFIX = "import.invalid"
IMPORT_ACCOUNT_SUFFIX = "account.import.invalid"

DEFAULT_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
# Tried in order when no encoding is given. UTF-8 is strict, so a cp1252 file fails it on its
# first accented byte; cp1252 (what Excel on Windows writes) leaves five bytes undefined, and
# latin-1 decodes anything, so the chain always ends with a result.
ENCODING_FALLBACKS: tuple[str, ...] = ("utf-8", "cp1252", "latin-1")

TRUE_TOKENS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_TOKENS = frozenset({"no", "n", "false", "f", "0"})
_BOOLEAN_WORDS = (TRUE_TOKENS | FALSE_TOKENS) - {"1", "0"}

# Lead fields a mapping may fill, with the column length the model allows (None: no limit).
LEAD_FIELDS: dict[str, int | None] = {
    "name": 255,
    "first_name": None,
    "last_name": None,
    "title": 255,
    "source": 100,
    "country": 2,
    "state": 100,
    "language": 10,
    "created_at": None,
}
_TEXT_FIELDS = ("name", "title", "source", "country", "state", "language")


class ColumnType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    AUTO = "auto"


class HistoryImportError(Exception):
    """A problem with the whole import (mapping or file), not with one row."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class MappingError(HistoryImportError):
    pass


class CsvFileError(HistoryImportError):
    pass


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet counts: the header is row 1
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.reason}"


# --- The mapping -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeSpec:
    column: str
    type: ColumnType
    key: str  # the key in Lead.attributes; the column name unless the mapping renames it


@dataclass(frozen=True)
class OutcomeSpec:
    column: str
    # Case-folded. Both empty: the column is read as a boolean (yes/no, TRUE/FALSE, 1/0).
    positive: frozenset[str]
    negative: frozenset[str]
    open: frozenset[str]
    date: str | None
    amount: str | None


@dataclass(frozen=True)
class Mapping:
    source: str
    email: str | None = None
    external_id: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # lead field -> column
    account_name: str | None = None
    account_domain: str | None = None
    attributes: tuple[AttributeSpec, ...] = ()
    outcome: OutcomeSpec | None = None
    outcome_time: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    missing: frozenset[str] = frozenset({""})  # case-folded
    delimiter: str | None = None
    encoding: str | None = None
    decimal: str = "."
    date_format: str | None = None
    day_first: bool | None = None
    timezone: str | None = None

    def uses(self) -> list[tuple[str, str]]:
        """Every (column, role) the mapping names, in mapping order."""
        uses: list[tuple[str, str]] = []
        if self.email:
            uses.append((self.email, "identity.email"))
        if self.external_id:
            uses.append((self.external_id, "identity.external_id"))
        uses += [(column, f"fields.{name}") for name, column in self.fields.items()]
        if self.account_name:
            uses.append((self.account_name, "account.name"))
        if self.account_domain:
            uses.append((self.account_domain, "account.domain"))
        uses += [(spec.column, "attributes") for spec in self.attributes]
        if self.outcome:
            uses.append((self.outcome.column, "outcome.column"))
            if self.outcome.date:
                uses.append((self.outcome.date, "outcome.date"))
            if self.outcome.amount:
                uses.append((self.outcome.amount, "outcome.amount"))
        uses += [(column, "outcome_time") for column in self.outcome_time]
        return uses

    def outcome_columns(self) -> set[str]:
        """Columns that describe the outcome: kept out of features and of generated ids."""
        columns = set(self.outcome_time)
        if self.outcome:
            columns.add(self.outcome.column)
            columns |= {c for c in (self.outcome.date, self.outcome.amount) if c}
        return columns


_SECTIONS: dict[str, frozenset[str] | None] = {
    "source": frozenset({"name", "description"}),
    "csv": frozenset({"delimiter", "encoding", "decimal"}),
    "identity": frozenset({"email", "external_id"}),
    "fields": frozenset(LEAD_FIELDS),
    "account": frozenset({"name", "domain"}),
    "attributes": None,  # keys are column names
    "outcome": frozenset({"column", "positive", "negative", "open", "date", "amount"}),
    "outcome_time": frozenset({"columns"}),
    "missing": frozenset({"values"}),
    "ignore": frozenset({"columns"}),
    "dates": frozenset({"format", "day_first", "timezone"}),
}
_SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
# A column given to a lead field or the account may also be a model feature; every other
# column has exactly one role.
_SHAREABLE_ROLES = ("fields.", "account.")


def mapping_load(path: Path) -> Mapping:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise MappingError([f"mapping file {str(path)!r} does not exist"]) from None
    except tomllib.TOMLDecodeError as error:
        raise MappingError([f"{path.name} is not valid TOML: {error}"]) from None
    return mapping_parse(data)


def mapping_parse(data: dict[str, Any]) -> Mapping:
    """Validate a decoded TOML mapping; every problem is reported at once."""
    problems: list[str] = []

    def table(name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            problems.append(f"[{name}] must be a table")
            return {}
        allowed = _SECTIONS[name]
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    problems.append(
                        f"unknown key {key!r} in [{name}] (allowed: {', '.join(sorted(allowed))})"
                    )
        return value

    def text(section: str, key: str, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            problems.append(f"[{section}] {key} must be a non-empty string")
            return None
        return value.strip()

    def texts(section: str, key: str, value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"[{section}] {key} must be a list of strings")
            return []
        return [v.strip() for v in value]

    for name in data:
        if name not in _SECTIONS:
            problems.append(f"unknown section [{name}] (allowed: {', '.join(_SECTIONS)})")

    source_table = table("source")
    source = text("source", "name", source_table.get("name"))
    if source is None:
        problems.append("[source] name is required: it prefixes every external id")
    elif not _SOURCE_NAME.fullmatch(source):
        problems.append(
            f"[source] name {source!r} must be 1-40 lower-case letters, digits, '_' or '-'"
        )
    text("source", "description", source_table.get("description"))

    csv_table = table("csv")
    delimiter = text("csv", "delimiter", csv_table.get("delimiter"))
    if delimiter is not None:
        try:
            delimiter = delimiter_parse(delimiter)
        except ValueError as error:
            problems.append(f"[csv] {error}")
    encoding = text("csv", "encoding", csv_table.get("encoding"))
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            problems.append(f"[csv] encoding {encoding!r} is not an encoding Python knows")
    decimal = csv_table.get("decimal", ".")
    if decimal not in (".", ","):
        problems.append('[csv] decimal must be "." or ","')
        decimal = "."

    identity = table("identity")
    email = text("identity", "email", identity.get("email"))
    external_id = text("identity", "external_id", identity.get("external_id"))

    fields: dict[str, str] = {}
    for key, value in table("fields").items():
        column = text("fields", key, value)
        if column is not None and key in LEAD_FIELDS:
            fields[key] = column
    if "name" in fields and ({"first_name", "last_name"} & fields.keys()):
        problems.append("[fields] name cannot be combined with first_name/last_name")

    account_table = table("account")
    account_name = text("account", "name", account_table.get("name"))
    account_domain = text("account", "domain", account_table.get("domain"))
    if account_domain and not account_name:
        problems.append("[account] domain needs [account] name: the account has to be named")

    attributes: list[AttributeSpec] = []
    for column, value in table("attributes").items():
        spec = _attribute_parse(column, value, problems)
        if spec is not None:
            attributes.append(spec)
    keys = Counter(spec.key for spec in attributes)
    for key, count in keys.items():
        if count > 1:
            problems.append(f"[attributes] {count} columns are stored under the same key {key!r}")

    outcome: OutcomeSpec | None = None
    outcome_table = table("outcome")
    if outcome_table:
        column = text("outcome", "column", outcome_table.get("column"))
        if column is None:
            problems.append("[outcome] column is required when [outcome] is given")
        positive = {
            v.casefold() for v in texts("outcome", "positive", outcome_table.get("positive"))
        }
        negative = {
            v.casefold() for v in texts("outcome", "negative", outcome_table.get("negative"))
        }
        open_values = {v.casefold() for v in texts("outcome", "open", outcome_table.get("open"))}
        if bool(positive) != bool(negative):
            problems.append(
                "[outcome] give both positive and negative values, or neither (then the column "
                "is read as yes/no, TRUE/FALSE or 1/0)"
            )
        for a, b, label in (
            (positive, negative, "positive and negative"),
            (positive, open_values, "positive and open"),
            (negative, open_values, "negative and open"),
        ):
            if a & b:
                problems.append(f"[outcome] {label} share the values {sorted(a & b)}")
        if outcome_table.get("amount") is not None and outcome_table.get("date") is None:
            problems.append(
                "[outcome] amount needs [outcome] date: the opportunity it makes closes then"
            )
        if column is not None:
            outcome = OutcomeSpec(
                column=column,
                positive=frozenset(positive),
                negative=frozenset(negative),
                open=frozenset(open_values),
                date=text("outcome", "date", outcome_table.get("date")),
                amount=text("outcome", "amount", outcome_table.get("amount")),
            )

    outcome_time = texts("outcome_time", "columns", table("outcome_time").get("columns"))
    ignore = texts("ignore", "columns", table("ignore").get("columns"))
    missing_table = table("missing")
    missing = {v.casefold() for v in texts("missing", "values", missing_table.get("values"))}

    dates = table("dates")
    date_format = text("dates", "format", dates.get("format"))
    day_first = dates.get("day_first")
    if day_first is not None and not isinstance(day_first, bool):
        problems.append("[dates] day_first must be true or false")
        day_first = None
    tz_name = text("dates", "timezone", dates.get("timezone"))
    if tz_name is not None:
        try:
            ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"[dates] timezone {tz_name!r} is not an IANA time zone")

    mapping = Mapping(
        source=source or "",
        email=email,
        external_id=external_id,
        fields=fields,
        account_name=account_name,
        account_domain=account_domain,
        attributes=tuple(attributes),
        outcome=outcome,
        outcome_time=tuple(outcome_time),
        ignore=tuple(ignore),
        missing=frozenset(missing | {""}),
        delimiter=delimiter,
        encoding=encoding,
        decimal=decimal,
        date_format=date_format,
        day_first=day_first,
        timezone=tz_name,
    )
    problems += _mapping_overlaps(mapping)
    if problems:
        raise MappingError(problems)
    return mapping


def _attribute_parse(column: str, value: Any, problems: list[str]) -> AttributeSpec | None:
    key = column
    if isinstance(value, dict):
        unknown = set(value) - {"type", "key"}
        if unknown:
            problems.append(f"[attributes] {column!r}: unknown keys {sorted(unknown)}")
        key = value.get("key", column)
        if not isinstance(key, str) or not key.strip():
            problems.append(f"[attributes] {column!r}: key must be a non-empty string")
            return None
        value = value.get("type", "auto")
    if not isinstance(value, str) or value not in ColumnType.__members__.values():
        allowed = ", ".join(t.value for t in ColumnType)
        problems.append(f"[attributes] {column!r}: type {value!r} is not one of {allowed}")
        return None
    return AttributeSpec(column=column.strip(), type=ColumnType(value), key=key.strip())


def _mapping_overlaps(mapping: Mapping) -> list[str]:
    problems = []
    roles: dict[str, list[str]] = {}
    for column, role in mapping.uses():
        roles.setdefault(column, []).append(role)
    for column in mapping.ignore:
        roles.setdefault(column, []).append("ignore")
    for column, used_as in roles.items():
        if len(used_as) == 1:
            continue
        shared = [r for r in used_as if r.startswith(_SHAREABLE_ROLES)]
        if used_as.count("attributes") == 1 and len(shared) == len(used_as) - 1 == 1:
            continue
        if mapping.outcome and column == mapping.outcome.column and "attributes" in used_as:
            problems.append(
                f"column {column!r} is the outcome and cannot also be an attribute: a model "
                "would learn the answer from it"
            )
            continue
        problems.append(f"column {column!r} is mapped more than once: {', '.join(used_as)}")
    return problems


def mapping_check_header(mapping: Mapping, header: Sequence[str]) -> list[str]:
    """Problems between the mapping and the file's header (an empty list when they agree)."""
    present = Counter(header)
    problems = []
    for column, role in mapping.uses():
        if column not in present:
            problems.append(f"column {column!r} ({role}) is not in the file")
        elif present[column] > 1:
            problems.append(
                f"column {column!r} ({role}) appears {present[column]} times in the header"
            )
    return problems


def mapping_unmapped_columns(mapping: Mapping, header: Sequence[str]) -> list[str]:
    """Named columns of the file that the mapping neither uses nor ignores."""
    known = {column for column, _ in mapping.uses()} | set(mapping.ignore)
    return [c for c in dict.fromkeys(header) if c and c not in known]


# --- Reading the file --------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvTable:
    header: list[str]
    records: list[tuple[int, list[str]]]  # (spreadsheet row number, cells)
    encoding: str
    delimiter: str


def delimiter_parse(value: str) -> str:
    """A delimiter as typed on a command line: ';', 'tab', '\\t', 'semicolon', 'pipe'."""
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(value.lower(), value)
    if len(value) != 1 or value in '"\r\n':
        raise ValueError(f"delimiter {value!r} must be a single character (or 'tab')")
    return value


def bytes_decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text and the encoding used. A given encoding is strict; without one, a BOM decides,
    then UTF-8, cp1252 and latin-1 are tried in that order."""
    if encoding:
        name = codecs.lookup(encoding).name
        if name == "utf-8" and data.startswith(codecs.BOM_UTF8):
            name = "utf-8-sig"  # a BOM is not part of the first column's name
        try:
            return data.decode(name), name
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise CsvFileError(
                [
                    f"the file is not valid {encoding}: byte 0x{data[error.start]:02x} on line "
                    f"{line}; try --encoding cp1252 (Excel on Windows) or leave --encoding out "
                    "to detect it"
                ]
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        return data.decode("utf-8-sig"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    for candidate in ENCODING_FALLBACKS:
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def delimiter_sniff(text: str, candidates: Sequence[str] = DEFAULT_DELIMITERS) -> str:
    """The candidate that splits the first lines into the most, equally wide, columns."""
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # drop a line cut in half
    best, best_score = ",", (0.0, 1)
    for candidate in candidates:
        try:
            rows = [
                r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=candidate) if r
            ]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistency = sum(1 for r in rows[:200] if len(r) == width) / min(len(rows), 200)
        score = (consistency, width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def csv_read(data: bytes, *, encoding: str | None = None, delimiter: str | None = None) -> CsvTable:
    text, used_encoding = bytes_decode(data, encoding)
    used_delimiter = delimiter or delimiter_sniff(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=used_delimiter)
    records: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    row = 0
    try:
        for cells in reader:
            row += 1
            if header is None:
                if not any(c.strip() for c in cells):
                    continue  # a blank line above the header: still a spreadsheet row
                header = [c.strip() for c in cells]
                continue
            if cells and any(c.strip() for c in cells):
                records.append((row, cells))
    except csv.Error as error:
        raise CsvFileError([f"the file is not readable CSV near row {row + 1}: {error}"]) from None
    if header is None:
        raise CsvFileError(["the file is empty: it has no header row"])
    return CsvTable(
        header=header, records=records, encoding=used_encoding, delimiter=used_delimiter
    )


# --- Values ------------------------------------------------------------------------------------


def boolean_parse(value: str) -> bool:
    token = value.strip().casefold()
    if token in TRUE_TOKENS:
        return True
    if token in FALSE_TOKENS:
        return False
    raise ValueError(f"{value!r} is not a yes/no value (yes/no, true/false, y/n, 1/0)")


_CURRENCY = "$€£¥₹"
_GROUPING = (" ", "\u00a0", "\u202f", "'", "\u2019")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def number_parse(value: str, *, decimal: str = ".") -> int | float:
    """A number, accepting thousands separators only where they group digits in threes.

    With decimal ".", "1,234" and "1,234.5" are read, "2,5" is refused (it could be 2.5 or 25);
    with decimal ",", "1.234,5" and "2,5" are read. Spaces and apostrophes group digits in
    either convention. Currency signs are dropped; "nan" and "inf" are not numbers.
    """
    text = value.strip().strip(_CURRENCY).strip()
    group = "," if decimal == "." else "."
    sign = ""
    if text[:1] in "+-":
        sign, text = text[0], text[1:].lstrip(_CURRENCY).strip()
    for mark in _GROUPING:
        if mark in text:
            text = _ungroup(text, mark, decimal, value)
    if group in text:
        text = _ungroup(text, group, decimal, value)
    if decimal == ",":
        text = text.replace(",", ".")
    text = sign + text
    if not _PLAIN_NUMBER.fullmatch(text):
        hint = ""
        if decimal == "." and re.fullmatch(r"[+-]?\d+,\d+", value.strip()):
            hint = ' (a decimal comma? set decimal = "," under [csv])'
        raise ValueError(f"{value!r} is not a number{hint}")
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return float(text)


def _ungroup(text: str, mark: str, decimal: str, original: str) -> str:
    whole, _, fraction = text.partition(decimal)
    if not re.fullmatch(r"\d{1,3}(?:" + re.escape(mark) + r"\d{3})+", whole):
        raise ValueError(
            f"{original!r} is not a number"
            + (' (a decimal comma? set decimal = "," under [csv])' if mark == "," else "")
        )
    return whole.replace(mark, "") + (decimal + fraction if fraction or decimal in text else "")


_TIME = r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?)?"
_YMD = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})" + _TIME)
_NUMERIC_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})" + _TIME)
_NAMED_FORMATS = (
    "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y", "%d-%b-%Y",
    "%d-%b-%y", "%d %b %Y %H:%M", "%d %b %Y %H:%M:%S", "%b %d, %Y %H:%M", "%b %d, %Y %I:%M %p",
)  # fmt: skip


def date_order_infer(values: Iterable[str]) -> str | None:
    """ "dmy" or "mdy" for dates like 13/03/2017 or 03/13/2017; None when no value decides."""
    day_first = month_first = False
    for value in values:
        match = _NUMERIC_DATE.fullmatch(value.strip())
        if match:
            first, second = int(match.group(1)), int(match.group(2))
            day_first |= first > 12
            month_first |= second > 12
    if day_first and month_first:
        raise ValueError("mixes day-first (31/01/2017) and month-first (01/31/2017) dates")
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    return None


def date_parse(
    value: str, *, tz: dt.tzinfo, fmt: str | None = None, order: str | None = None
) -> dt.datetime:
    """An aware datetime. Naive values are read in `tz`; a date alone is midnight there."""
    text = value.strip()
    parsed: dt.datetime | None = None
    if fmt:
        try:
            parsed = dt.datetime.strptime(text, fmt)  # noqa: DTZ007 (made aware below)
        except ValueError:
            raise ValueError(f"{value!r} does not match the date format {fmt!r}") from None
    else:
        parsed = _date_guess(text, order)
        if parsed is None:
            raise ValueError(f"{value!r} is not a date (use YYYY-MM-DD, or set [dates] format)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def _date_guess(text: str, order: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    match = _YMD.fullmatch(text)
    if match:
        return _date_from_parts(match.group(1), match.group(2), match.group(3), match)
    match = _NUMERIC_DATE.fullmatch(text)
    if match:
        first, second = match.group(1), match.group(2)
        if order is None:
            raise ValueError(
                f"{text!r} could be day-first or month-first: set [dates] day_first = true or "
                "false, or [dates] format"
            )
        day, month = (first, second) if order == "dmy" else (second, first)
        return _date_from_parts(match.group(3), month, day, match)
    for fmt in _NAMED_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)  # noqa: DTZ007 (made aware by the caller)
        except ValueError:
            continue
    return None


def _date_from_parts(year: str, month: str, day: str, match: re.Match[str]) -> dt.datetime | None:
    hour, minute, second, meridiem = match.group(4, 5, 6, 7)
    h = int(hour or 0)
    if meridiem:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if meridiem.lower() == "pm" else 0)
    try:
        return dt.datetime(int(year), int(month), int(day), h, int(minute or 0), int(second or 0))  # noqa: DTZ001
    except ValueError:
        return None


def column_type_infer(
    values: Iterable[str], *, missing: frozenset[str], decimal: str
) -> ColumnType:
    """Boolean when every value is a yes/no word, numeric when every value is a number,
    categorical otherwise. A column of only 1 and 0 is numeric."""
    seen = False
    all_boolean = all_number = True
    has_word = False
    for raw in values:
        value = raw.strip()
        if value.casefold() in missing:
            continue
        seen = True
        token = value.casefold()
        if all_boolean:
            if token in _BOOLEAN_WORDS:
                has_word = True
            elif token not in TRUE_TOKENS | FALSE_TOKENS:
                all_boolean = False
        if all_number:
            try:
                number_parse(value, decimal=decimal)
            except ValueError:
                all_number = False
        if not all_boolean and not all_number:
            return ColumnType.CATEGORICAL
    if not seen:
        return ColumnType.CATEGORICAL
    if all_boolean and has_word:
        return ColumnType.BOOLEAN
    if all_number:
        return ColumnType.NUMERIC
    return ColumnType.BOOLEAN if all_boolean else ColumnType.CATEGORICAL


def typed_value(value: str, kind: ColumnType, *, decimal: str) -> bool | int | float | str:
    if kind is ColumnType.NUMERIC:
        return number_parse(value, decimal=decimal)
    if kind is ColumnType.BOOLEAN:
        return boolean_parse(value)
    return value.strip()


# Country names as CRM exports spell them, to ISO 3166-1 alpha-2 (Lead.country holds the code).
COUNTRY_CODES: dict[str, str] = {
    "afghanistan": "AF", "albania": "AL", "algeria": "DZ", "argentina": "AR", "armenia": "AM",
    "australia": "AU", "austria": "AT", "azerbaijan": "AZ", "bahrain": "BH", "bangladesh": "BD",
    "belarus": "BY", "belgium": "BE", "bolivia": "BO", "bosnia and herzegovina": "BA",
    "botswana": "BW", "brazil": "BR", "bulgaria": "BG", "cambodia": "KH", "cameroon": "CM",
    "canada": "CA", "chile": "CL", "china": "CN", "colombia": "CO", "costa rica": "CR",
    "croatia": "HR", "cyprus": "CY", "czech republic": "CZ", "czechia": "CZ", "denmark": "DK",
    "dominican republic": "DO", "ecuador": "EC", "egypt": "EG", "estonia": "EE",
    "ethiopia": "ET", "finland": "FI", "france": "FR", "georgia": "GE", "germany": "DE",
    "ghana": "GH", "greece": "GR", "guatemala": "GT", "hong kong": "HK", "hungary": "HU",
    "iceland": "IS", "india": "IN", "indonesia": "ID", "iran": "IR", "iraq": "IQ",
    "ireland": "IE", "israel": "IL", "italy": "IT", "jamaica": "JM", "japan": "JP",
    "jordan": "JO", "kazakhstan": "KZ", "kenya": "KE", "korea": "KR", "south korea": "KR",
    "kuwait": "KW", "latvia": "LV", "lebanon": "LB", "liberia": "LR", "lithuania": "LT",
    "luxembourg": "LU", "malaysia": "MY", "malta": "MT", "mexico": "MX", "morocco": "MA",
    "nepal": "NP", "netherlands": "NL", "the netherlands": "NL", "new zealand": "NZ",
    "nigeria": "NG", "norway": "NO", "oman": "OM", "pakistan": "PK", "panama": "PA",
    "peru": "PE", "philippines": "PH", "poland": "PL", "portugal": "PT", "qatar": "QA",
    "romania": "RO", "russia": "RU", "russian federation": "RU", "rwanda": "RW",
    "saudi arabia": "SA", "senegal": "SN", "serbia": "RS", "singapore": "SG", "slovakia": "SK",
    "slovenia": "SI", "south africa": "ZA", "spain": "ES", "sri lanka": "LK", "sweden": "SE",
    "switzerland": "CH", "taiwan": "TW", "tanzania": "TZ", "thailand": "TH", "tunisia": "TN",
    "turkey": "TR", "türkiye": "TR", "uganda": "UG", "ukraine": "UA",
    "united arab emirates": "AE", "uae": "AE", "united kingdom": "GB", "uk": "GB",
    "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "united states": "US", "united states of america": "US", "usa": "US", "us": "US",
    "uruguay": "UY", "uzbekistan": "UZ", "venezuela": "VE", "vietnam": "VN", "viet nam": "VN",
    "zambia": "ZM", "zimbabwe": "ZW",
}  # fmt: skip


def country_code(value: str) -> str | None:
    """The ISO alpha-2 code of a country name or code; None when it is not recognised."""
    text = value.strip()
    folded = text.casefold()
    if folded in COUNTRY_CODES:
        return COUNTRY_CODES[folded]
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    return None


# --- Rows --------------------------------------------------------------------------------------


@dataclass
class ParsedRow:
    row: int
    # Unique per source: "<source>:<id, email or content hash>"; names the row's Opportunity.
    key: str
    email: str
    email_is_real: bool
    external_id: str | None
    fields: dict[str, str]  # lead text fields present in the mapping ("" clears)
    created_at: dt.datetime | None
    account_name: str | None
    account_domain: str | None
    attributes: dict[str, Any]
    outcome_attributes: dict[str, Any]
    outcome: bool | None  # True won/converted, False lost/closed, None open
    outcome_at: dt.datetime | None
    amount: Decimal | None
    unknown_country: str | None = None


@dataclass(frozen=True)
class ColumnPlan:
    """A mapping bound to one file's header, with auto types and date order resolved."""

    mapping: Mapping
    header: list[str]
    index: dict[str, int]
    attribute_types: dict[str, ColumnType]  # column -> concrete type (never AUTO)
    outcome_time_types: dict[str, ColumnType]
    date_order: str | None
    tz: dt.tzinfo
    identity_columns: tuple[int, ...]  # what a generated id hashes


def plan_build(mapping: Mapping, table: CsvTable, *, default_tz: dt.tzinfo) -> ColumnPlan:
    """Bind the mapping to the file: check the columns, infer auto types and the date order."""
    problems = mapping_check_header(mapping, table.header)
    if problems:
        raise MappingError(problems)
    index = {name: i for i, name in enumerate(table.header) if name}

    def column_values(column: str) -> Iterator[str]:
        i = index[column]
        return (cells[i] for _, cells in table.records if i < len(cells))

    attribute_types = {
        spec.column: spec.type
        if spec.type is not ColumnType.AUTO
        else column_type_infer(
            column_values(spec.column), missing=mapping.missing, decimal=mapping.decimal
        )
        for spec in mapping.attributes
    }
    outcome_time_types = {
        column: column_type_infer(
            column_values(column), missing=mapping.missing, decimal=mapping.decimal
        )
        for column in mapping.outcome_time
    }
    date_order: str | None = None
    if mapping.day_first is not None:
        date_order = "dmy" if mapping.day_first else "mdy"
    elif not mapping.date_format:
        date_columns = [mapping.fields.get("created_at")]
        if mapping.outcome:
            date_columns.append(mapping.outcome.date)
        values: list[str] = []
        for column in filter(None, date_columns):
            values.extend(column_values(column))
        try:
            date_order = date_order_infer(values)
        except ValueError as error:
            raise MappingError([f"the date columns {error}; set [dates] format"]) from None
        if date_order is None and any(_NUMERIC_DATE.fullmatch(v.strip()) for v in values):
            raise MappingError(
                [
                    "the dates (like 03/04/2017) could be day-first or month-first and no day "
                    "above 12 decides it: set [dates] day_first = true or false, or [dates] format"
                ]
            )
    tz = ZoneInfo(mapping.timezone) if mapping.timezone else default_tz
    outcome_columns = mapping.outcome_columns()
    identity_columns = tuple(
        i for i, name in enumerate(table.header) if name not in outcome_columns
    )
    return ColumnPlan(
        mapping=mapping,
        header=table.header,
        index=index,
        attribute_types=attribute_types,
        outcome_time_types=outcome_time_types,
        date_order=date_order,
        tz=tz,
        identity_columns=identity_columns,
    )


def _email_local(identifier: str) -> str:
    """An email local part for an id: the id itself when it is already a safe lower-case
    token, else a slug plus a hash of the original, so ids differing only in case stay apart."""
    if (
        re.fullmatch(r"[a-z0-9](?:[a-z0-9._+-]{0,46}[a-z0-9])?", identifier)
        and ".." not in identifier
    ):
        return identifier
    digest = hashlib.sha256(identifier.encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", identifier.lower()).strip("-")[:40]
    return f"{slug}-{digest}" if slug else digest


def generated_email(source: str, identifier: str) -> str:
    return f"{_email_local(identifier)}@{source.replace('_', '-')}.{IMPORT_EMAIL_SUFFIX}"


def synthetic_account_domain(name: str) -> str:
    slug = slugify(name)[:60].strip("-")
    if not slug:
        slug = "account-" + hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{slug}.{IMPORT_ACCOUNT_SUFFIX}"


def content_id(header: Sequence[str], cells: Sequence[str], columns: Iterable[int]) -> str:
    """A stable id from a row's content: the same cells give the same id in any column order."""
    pairs = sorted((header[i], cells[i].strip() if i < len(cells) else "") for i in columns)
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()[:16]


class RowParser:
    def __init__(self, plan: ColumnPlan) -> None:
        self.plan = plan
        self.mapping = plan.mapping
        self._content_seen: Counter[str] = Counter()

    def _cell(self, cells: Sequence[str], column: str) -> str | None:
        """The cell's text, or None when it holds a missing-value token."""
        i = self.plan.index[column]
        value = cells[i].strip() if i < len(cells) else ""
        return None if value.casefold() in self.mapping.missing else value

    def parse(self, row: int, cells: list[str]) -> ParsedRow | list[RowError]:
        mapping, plan = self.mapping, self.plan
        width = len(plan.header)
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            cells = cells[:width]  # trailing empty cells: an Excel export artifact
        if len(cells) != width:
            return [RowError(row, None, f"has {len(cells)} cells; the header has {width}")]
        errors: list[RowError] = []

        def fail(column: str | None, reason: str) -> None:
            errors.append(RowError(row, column, reason))

        # Identity.
        email: str | None = None
        if mapping.email:
            raw_email = self._cell(cells, mapping.email)
            if raw_email:
                try:
                    email = normalise_email(raw_email)
                    validate_email(email)
                except (InvalidEmail, ValidationError):
                    fail(mapping.email, f"{raw_email!r} is not an email address")
                    email = None
        identifier: str | None = None
        if mapping.external_id:
            identifier = self._cell(cells, mapping.external_id)
        if identifier is not None:
            external_id = f"{mapping.source}:{identifier}"
            if len(external_id) > 255:
                longest = 254 - len(mapping.source)
                fail(mapping.external_id, f"the id is longer than {longest} characters")
        elif email is None:
            digest = content_id(plan.header, cells, plan.identity_columns)
            self._content_seen[digest] += 1
            occurrence = self._content_seen[digest]
            identifier = digest if occurrence == 1 else f"{digest}-{occurrence}"
            external_id = f"{mapping.source}:{identifier}"
        else:
            external_id = None
        if email is not None:
            key = f"{mapping.source}:{identifier if identifier is not None else email}"
        else:
            key = external_id or ""
        lead_email = email or generated_email(mapping.source, identifier or "")

        # Lead fields.
        fields: dict[str, str] = {}
        unknown_country: str | None = None
        for name in _TEXT_FIELDS:
            column = mapping.fields.get(name)
            if column is None:
                continue
            value = self._cell(cells, column) or ""
            if name == "country" and value:
                code = country_code(value)
                if code is None:
                    unknown_country, value = value, ""
                else:
                    value = code
            limit = LEAD_FIELDS[name]
            if limit is not None and len(value) > limit:
                fail(column, f"is {len(value)} characters long; {name} holds at most {limit}")
            fields[name] = value
        if "first_name" in mapping.fields or "last_name" in mapping.fields:
            parts = [
                self._cell(cells, mapping.fields[part]) or ""
                for part in ("first_name", "last_name")
                if part in mapping.fields
            ]
            fields["name"] = " ".join(p for p in parts if p)
            if len(fields["name"]) > 255:
                fail(mapping.fields.get("last_name"), "the name is longer than 255 characters")

        created_at = self._date(cells, mapping.fields.get("created_at"), fail)

        # Account.
        account_name = account_domain = None
        if mapping.account_name:
            account_name = self._cell(cells, mapping.account_name)
            if account_name and len(account_name) > 255:
                fail(mapping.account_name, "the account name is longer than 255 characters")
            if account_name and mapping.account_domain:
                raw_domain = self._cell(cells, mapping.account_domain)
                if raw_domain:
                    account_domain = normalise_domain(raw_domain)
                    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", account_domain):
                        fail(mapping.account_domain, f"{raw_domain!r} is not a domain")
            if account_name and not account_domain:
                account_domain = synthetic_account_domain(account_name)

        # Attributes and outcome-time columns.
        attributes: dict[str, Any] = {}
        for spec in mapping.attributes:
            self._typed(
                cells, spec.column, plan.attribute_types[spec.column], spec.key, attributes, fail
            )
        outcome_attributes: dict[str, Any] = {}
        for column in mapping.outcome_time:
            self._typed(
                cells, column, plan.outcome_time_types[column], column, outcome_attributes, fail
            )

        # Outcome.
        outcome: bool | None = None
        outcome_at: dt.datetime | None = None
        amount: Decimal | None = None
        spec_outcome = mapping.outcome
        if spec_outcome is not None:
            raw = self._cell(cells, spec_outcome.column)
            if raw is not None:
                outcome_attributes[spec_outcome.column] = raw
                outcome = self._outcome(raw, spec_outcome, fail)
            if outcome is not None:
                outcome_at = self._date(cells, spec_outcome.date, fail)
                if spec_outcome.amount:
                    amount = self._amount(cells, spec_outcome.amount, fail)
            if outcome_at and created_at and outcome_at < created_at:
                fail(
                    spec_outcome.date,
                    f"the outcome date {outcome_at:%Y-%m-%d} is before the created date "
                    f"{created_at:%Y-%m-%d}",
                )
        if errors:
            return errors
        return ParsedRow(
            row=row,
            key=key,
            email=lead_email,
            email_is_real=email is not None,
            external_id=external_id,
            fields=fields,
            created_at=created_at,
            account_name=account_name,
            account_domain=account_domain,
            attributes=attributes,
            outcome_attributes=outcome_attributes,
            outcome=outcome,
            outcome_at=outcome_at,
            amount=amount,
            unknown_country=unknown_country,
        )

    def _typed(
        self,
        cells: Sequence[str],
        column: str,
        kind: ColumnType,
        key: str,
        into: dict[str, Any],
        fail: Callable[[str | None, str], None],
    ) -> None:
        value = self._cell(cells, column)
        if value is None:
            return
        try:
            into[key] = typed_value(value, kind, decimal=self.mapping.decimal)
        except ValueError as error:
            fail(column, str(error))

    def _date(
        self, cells: Sequence[str], column: str | None, fail: Callable[[str | None, str], None]
    ) -> dt.datetime | None:
        if column is None:
            return None
        value = self._cell(cells, column)
        if value is None:
            return None
        try:
            return date_parse(
                value, tz=self.plan.tz, fmt=self.mapping.date_format, order=self.plan.date_order
            )
        except ValueError as error:
            fail(column, str(error))
            return None

    def _amount(
        self, cells: Sequence[str], column: str, fail: Callable[[str | None, str], None]
    ) -> Decimal | None:
        value = self._cell(cells, column)
        if value is None:
            return None
        try:
            number = number_parse(value, decimal=self.mapping.decimal)
            amount = Decimal(str(number)).quantize(Decimal("0.01"))
        except (ValueError, InvalidOperation):
            fail(column, f"{value!r} is not an amount")
            return None
        if abs(amount) >= Decimal("1e12"):
            fail(column, f"{value!r} is too large for an amount")
            return None
        return amount

    def _outcome(
        self, raw: str, spec: OutcomeSpec, fail: Callable[[str | None, str], None]
    ) -> bool | None:
        token = raw.casefold()
        if token in spec.open:
            return None
        if spec.positive:
            if token in spec.positive:
                return True
            if token in spec.negative:
                return False
            expected = sorted(spec.positive | spec.negative | spec.open)
            fail(
                spec.column, f"{raw!r} is not an outcome the mapping knows ({', '.join(expected)})"
            )
            return None
        try:
            return boolean_parse(raw)
        except ValueError as error:
            fail(spec.column, str(error))
            return None


def rows_parse(
    plan: ColumnPlan,
    records: Iterable[tuple[int, list[str]]],
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[ParsedRow], list[RowError]]:
    """Every row parsed; a row is either valid or has all of its errors reported.

    Two rows with the same email or id are one person to the database, so the later one is an
    error ("duplicate of row N") rather than a silent overwrite.
    """
    parser = RowParser(plan)
    parsed: list[ParsedRow] = []
    errors: list[RowError] = []
    first_email: dict[str, int] = {}
    first_id: dict[str, int] = {}
    mapping = plan.mapping
    for count, (row, cells) in enumerate(records, start=1):
        result = parser.parse(row, cells)
        if isinstance(result, list):
            errors.extend(result)
        else:
            duplicate = None
            if result.email_is_real and result.email in first_email:
                duplicate = (mapping.email, first_email[result.email])
            elif result.external_id and result.external_id in first_id:
                duplicate = (mapping.external_id, first_id[result.external_id])
            if duplicate:
                errors.append(RowError(row, duplicate[0], f"duplicate of row {duplicate[1]}"))
            else:
                if result.email_is_real:
                    first_email[result.email] = row
                if result.external_id:
                    first_id[result.external_id] = row
                parsed.append(result)
        if progress is not None and count % 500 == 0:
            progress(count)
    return parsed, errors


# --- Writing -----------------------------------------------------------------------------------

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    path: str
    source: str
    dry_run: bool = False
    skip_invalid: bool = False
    encoding: str = ""
    delimiter: str = ""
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    positives: int = 0
    negatives: int = 0
    open: int = 0
    accounts_created: int = 0
    leads_matched_by_email: int = 0
    opportunities_created: int = 0
    opportunities_updated: int = 0
    opportunities_deleted: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    unmapped_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: bool = False  # committed (never for a dry run)
    seconds: float = 0.0

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def accepted(self) -> bool:
        """Whether the import went (or, in a dry run, would go) ahead."""
        return self.skip_invalid or not self.errors

    @property
    def skipped(self) -> int:
        return self.bad_rows if self.accepted else self.rows


class _Abort(Exception):
    """Rolls the transaction back when the database shows a row to be bad."""


_LEAD_UPDATE_FIELDS = [
    "external_id", "name", "title", "source", "country", "state", "language", "account",
    "status", "attributes", "outcome_attributes", "created_at", "converted_at", "closed_at",
]  # fmt: skip
_OPPORTUNITY_FIELDS = [
    "account", "stage", "amount", "created_at", "closed_at", "is_closed", "is_won",
]  # fmt: skip
_CHUNK = 500  # values per IN (...) query: under SQLite's variable limit on any build


def history_import(
    *,
    path: Path,
    mapping: Mapping,
    encoding: str | None = None,
    delimiter: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    batch_size: int = 1000,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import a CSV of past leads with outcomes, all or nothing unless skip_invalid.

    Every row is validated before anything is written; with any bad row (and no skip_invalid)
    nothing is written and the report lists the errors. The writes happen in one transaction.
    A dry run performs the whole import and rolls it back, so its counts are the real ones.
    Raises MappingError or CsvFileError for problems with the whole file.
    """
    started = time.monotonic()
    report = ImportReport(
        path=str(path), source=mapping.source, dry_run=dry_run, skip_invalid=skip_invalid
    )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CsvFileError([f"cannot read {str(path)!r}: {error.strerror}"]) from None
    table = csv_read(
        data, encoding=encoding or mapping.encoding, delimiter=delimiter or mapping.delimiter
    )
    report.encoding, report.delimiter = table.encoding, table.delimiter
    report.rows = len(table.records)
    report.ignored_columns = [c for c in mapping.ignore if c in table.header]
    report.warnings += [
        f"ignored column {c!r} is not in the file" for c in mapping.ignore if c not in table.header
    ]
    report.unmapped_columns = mapping_unmapped_columns(mapping, table.header)
    plan = plan_build(mapping, table, default_tz=timezone.get_current_timezone())

    def validating(done: int) -> None:
        if progress is not None:
            progress("validating", done, report.rows)

    validating(0)
    rows, report.errors = rows_parse(plan, table.records, progress=validating)
    validating(report.rows)
    unknown = Counter(r.unknown_country for r in rows if r.unknown_country)
    if unknown:
        listed = ", ".join(f"{name!r} ({n})" for name, n in unknown.most_common(8))
        report.warnings.append(
            f"{unknown.total()} rows name a country that is not recognised, so their country "
            f"field is left blank: {listed}"
        )
    if report.accepted:
        try:
            with transaction.atomic():
                _rows_write(
                    rows, mapping=mapping, report=report, batch_size=batch_size, progress=progress
                )
                if dry_run:
                    transaction.set_rollback(True)
        except _Abort:
            pass
        else:
            report.written = not dry_run
    report.errors.sort(key=lambda e: e.row)
    report.seconds = time.monotonic() - started
    return report


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _accounts_upsert(rows: Sequence[ParsedRow], report: ImportReport) -> dict[str, int]:
    """Account ids by domain for every account the rows name, creating the missing ones.

    An account that already exists keeps its name: the CRM record is not renamed by an import.
    """
    from accounts.models import Account

    names: dict[str, str] = {}
    for row in rows:
        if row.account_domain and row.account_name:
            names.setdefault(row.account_domain, row.account_name)
    found: dict[str, int] = {}
    domains = list(names)
    for chunk in _chunks(domains, _CHUNK):
        found.update(Account.objects.filter(domain__in=chunk).values_list("domain", "id"))
    missing = [Account(name=names[d], domain=d) for d in domains if d not in found]
    if missing:
        Account.objects.bulk_create(missing, batch_size=500)
        report.accounts_created = len(missing)
        if any(a.pk is None for a in missing):  # a backend that cannot return ids
            for chunk in _chunks([a.domain for a in missing], _CHUNK):
                found.update(Account.objects.filter(domain__in=chunk).values_list("domain", "id"))
        else:
            found.update({a.domain: a.pk for a in missing})
    return found


def _accounts_by_email_domain(rows: Sequence[ParsedRow]) -> dict[str, int | None]:
    """The matched account per email domain, for the real addresses of rows naming no account.

    One lookup per distinct domain, not per lead, through the matching the API uses.
    """
    from accounts.services import account_match_for_email

    matches: dict[str, int | None] = {}
    for row in rows:
        if not row.email_is_real or row.account_domain:
            continue
        domain = row.email.rsplit("@", 1)[1]
        if domain not in matches:
            account = account_match_for_email(email=row.email)
            matches[domain] = account.pk if account is not None else None
    return matches


def _leads_existing(rows: Sequence[ParsedRow]) -> tuple[dict[str, Lead], dict[str, Lead]]:
    from accounts.models import Lead

    by_email: dict[str, Lead] = {}
    by_external_id: dict[str, Lead] = {}
    for chunk in _chunks([r.email for r in rows], _CHUNK):
        by_email.update((lead.email, lead) for lead in Lead.objects.filter(email__in=chunk))
    external_ids = [r.external_id for r in rows if r.external_id]
    for chunk in _chunks(external_ids, _CHUNK):
        by_external_id.update(
            (lead.external_id or "", lead) for lead in Lead.objects.filter(external_id__in=chunk)
        )
    return by_email, by_external_id


def _lead_state(lead: Lead) -> tuple[Any, ...]:
    return tuple(getattr(lead, "account_id" if f == "account" else f) for f in _LEAD_UPDATE_FIELDS)


def _rows_write(
    rows: list[ParsedRow],
    *,
    mapping: Mapping,
    report: ImportReport,
    batch_size: int,
    progress: ProgressCallback | None,
) -> None:
    from accounts.models import Lead

    now = timezone.now()
    if progress is not None:
        progress("writing", 0, len(rows))
    account_ids = _accounts_upsert(rows, report)
    email_accounts = _accounts_by_email_domain(rows)
    by_email, by_external_id = _leads_existing(rows)
    owned = {spec.key for spec in mapping.attributes} | set(mapping.outcome_time)
    if mapping.outcome:
        owned.add(mapping.outcome.column)

    creates: list[Lead] = []
    updates: list[Lead] = []
    kept: list[tuple[ParsedRow, Lead]] = []
    for row in rows:
        candidates = {
            lead.pk: lead
            for lead in (by_email.get(row.email), by_external_id.get(row.external_id or ""))
            if lead is not None
        }
        if len(candidates) > 1:
            report.errors.append(
                RowError(
                    row.row,
                    mapping.email,
                    f"the email {row.email} and the id {row.external_id} belong to two "
                    "different leads in the database",
                )
            )
            continue
        existing = next(iter(candidates.values()), None)
        lead = _lead_build(row, existing, account_ids, email_accounts, owned, now)
        if existing is None:
            creates.append(lead)
        elif _lead_state(lead) == _lead_state(existing):
            report.unchanged += 1
        else:
            lead.updated_at = now
            updates.append(lead)
        if row.email_is_real and not row.account_domain:
            domain = row.email.rsplit("@", 1)[1]
            report.leads_matched_by_email += email_accounts.get(domain) is not None
        if row.outcome is True:
            report.positives += 1
        elif row.outcome is False:
            report.negatives += 1
        else:
            report.open += 1
        kept.append((row, lead))
    if report.errors and not report.skip_invalid:
        raise _Abort

    total, done = len(kept), report.unchanged
    if progress is not None:
        progress("writing", done, total)
    for batch in _chunks(creates, batch_size):
        Lead.objects.bulk_create(batch)
        done += len(batch)
        if progress is not None:
            progress("writing", done, total)
    if any(lead.pk is None for lead in creates):  # a backend that cannot return ids
        ids: dict[str, int] = {}
        for chunk in _chunks([lead.email for lead in creates], _CHUNK):
            ids.update(Lead.objects.filter(email__in=chunk).values_list("email", "id"))
        for lead in creates:
            lead.pk = ids[lead.email]
    report.created = len(creates)
    _new_contacts_notify(creates)

    upsert = connection.features.supports_update_conflicts_with_target
    for batch in _chunks(updates, batch_size):
        if upsert:
            # An upsert on the primary key: one INSERT .. ON CONFLICT per batch, where
            # bulk_update would send a CASE expression per field and row.
            Lead.objects.bulk_create(
                batch,
                update_conflicts=True,
                unique_fields=["id"],
                update_fields=[*_LEAD_UPDATE_FIELDS, "updated_at"],
            )
        else:
            Lead.objects.bulk_update(batch, [*_LEAD_UPDATE_FIELDS, "updated_at"])
        done += len(batch)
        if progress is not None:
            progress("writing", done, total)
    report.updated = len(updates)

    if mapping.outcome and mapping.outcome.amount:
        _opportunities_write(kept, report=report, batch_size=batch_size)


def _new_contacts_notify(creates: Sequence[Lead]) -> None:
    """TRIGGERS: an open lead new to the database at a known account is a new contact there
    (accounts.evidence_arrival), sent once the import commits (never for a dry run, which
    rolls back). A past lead imported with its outcome is history, not a new contact."""
    from accounts.evidence_arrival import (
        KIND_NEW_CONTACT,
        EvidenceArrival,
        account_evidence_on_commit,
    )
    from accounts.models import LeadStatus

    account_evidence_on_commit(
        EvidenceArrival(account_id=lead.account_id, kind=KIND_NEW_CONTACT, record_id=lead.pk)
        for lead in creates
        if lead.account_id is not None
        and lead.status not in (LeadStatus.CONVERTED, LeadStatus.CLOSED)
    )


def _lead_build(
    row: ParsedRow,
    existing: Lead | None,
    account_ids: dict[str, int],
    email_accounts: dict[str, int | None],
    owned: set[str],
    now: dt.datetime,
) -> Lead:
    """The lead as the row says it should be; for an existing lead, a changed copy of it."""
    from accounts.models import Lead, LeadStatus

    if existing is None:
        lead = Lead(email=row.email, external_id=row.external_id)
    else:
        lead = Lead(**{f.attname: getattr(existing, f.attname) for f in Lead._meta.concrete_fields})
        lead._state.adding = False
        # The email is the person's identity elsewhere (API, CRM sync): never rewritten; an
        # external id from another system is kept too, and the email finds the lead next time.
        if not existing.external_id:
            lead.external_id = row.external_id
    for name, value in row.fields.items():
        setattr(lead, name, value)

    account_id: int | None = None
    if row.account_domain:
        account_id = account_ids[row.account_domain]
    elif row.email_is_real:
        account_id = email_accounts.get(row.email.rsplit("@", 1)[1])
    if account_id is not None or existing is None:
        lead.account_id = account_id

    # A lead cannot convert before it exists: without a created date the outcome date stands
    # in; without either, a known lead keeps its created_at and a new one gets the import time.
    created_at = row.created_at or row.outcome_at
    if created_at is not None:
        lead.created_at = created_at
    elif existing is None:
        lead.created_at = now

    outcome_at = row.outcome_at or lead.created_at
    if row.outcome is True:
        lead.status, lead.converted_at, lead.closed_at = LeadStatus.CONVERTED, outcome_at, None
    elif row.outcome is False:
        lead.status, lead.converted_at, lead.closed_at = LeadStatus.CLOSED, None, outcome_at
    else:
        if lead.status not in (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.NURTURING):
            lead.status = LeadStatus.NEW
        lead.converted_at = lead.closed_at = None

    # Keys this mapping owns are replaced (a missing value drops the key, and a column moved
    # from attributes to outcome_time leaves the features); keys from elsewhere are kept.
    old_attributes = existing.attributes if existing else {}
    old_outcome = existing.outcome_attributes if existing else {}
    lead.attributes = {k: v for k, v in old_attributes.items() if k not in owned} | row.attributes
    lead.outcome_attributes = {
        k: v for k, v in old_outcome.items() if k not in owned
    } | row.outcome_attributes
    return lead


def _opportunities_write(
    kept: Sequence[tuple[ParsedRow, Lead]], *, report: ImportReport, batch_size: int
) -> None:
    """One closed Opportunity per won or lost row with an outcome date, named after the row.

    The name ("<source>:<id>") is the key a re-import finds it by; a row that is open again
    loses its opportunity.
    """
    from accounts.models import Opportunity, OpportunityStage

    keys = {(lead.pk, row.key[:255]) for row, lead in kept}
    wanted: dict[tuple[int, str], Opportunity] = {}
    for row, lead in kept:
        if row.outcome is None or row.outcome_at is None:
            continue
        wanted[(lead.pk, row.key[:255])] = Opportunity(
            lead_id=lead.pk,
            account_id=lead.account_id,
            name=row.key[:255],
            stage=OpportunityStage.CLOSED_WON if row.outcome else OpportunityStage.CLOSED_LOST,
            amount=row.amount,
            created_at=lead.created_at,
            closed_at=row.outcome_at,
            is_closed=True,
            is_won=row.outcome,
        )
    existing: dict[tuple[int, str], Opportunity] = {}
    lead_ids = sorted({lead.pk for _, lead in kept})
    for chunk in _chunks(lead_ids, _CHUNK):
        for opportunity in Opportunity.objects.filter(lead_id__in=chunk):
            key = (opportunity.lead_id or 0, opportunity.name)
            if key in keys:
                existing[key] = opportunity

    changed: list[Opportunity] = []
    for key, opportunity in wanted.items():
        current = existing.get(key)
        if current is None:
            continue
        values = [
            getattr(opportunity, f if f != "account" else "account_id") for f in _OPPORTUNITY_FIELDS
        ]
        if values != [
            getattr(current, f if f != "account" else "account_id") for f in _OPPORTUNITY_FIELDS
        ]:
            opportunity.pk = current.pk
            changed.append(opportunity)
    stale = [o.pk for key, o in existing.items() if key not in wanted]
    new = [o for key, o in wanted.items() if key not in existing]
    Opportunity.objects.bulk_create(new, batch_size=batch_size)
    if changed:
        Opportunity.objects.bulk_update(changed, _OPPORTUNITY_FIELDS, batch_size=batch_size)
    for chunk in _chunks(stale, _CHUNK):
        Opportunity.objects.filter(pk__in=chunk).delete()
    report.opportunities_created = len(new)
    report.opportunities_updated = len(changed)
    report.opportunities_deleted = len(stale)
