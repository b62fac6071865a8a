"""CSV import of the account feeds: `manage.py import_account_feed --kind KIND FILE`.

A data vendor's nightly file (Bombora intent, a BuiltWith export, a news feed) goes through the
same store functions as the feed APIs (accounts.account_feeds), so a row is validated, keyed
and announced exactly as an API item is. Column mapping and behaviour: docs/feeds.md, "CSV
import"; a sample mapping is docs/feed-mappings/bombora_intent.toml.

The file is streamed in chunks (`chunk_size` rows, at most MAX_BATCH), never held whole:

- by default the import is all or nothing: a first pass validates every row (the fields, and
  that its account exists) and writes nothing; if any row is bad, every bad row is reported
  with its line and reason and nothing is stored. Only a clean file is read a second time and
  written, one transaction per chunk;
- with `skip_invalid` there is one pass: each chunk's good rows are stored, its bad rows
  reported;
- with `dry_run` each chunk is written and rolled back, so the counts (created, duplicate)
  are the real run's, but nothing stays and nothing is announced.

A chunk is one transaction: if it fails (the database goes away, an account is deleted
between the two passes) it is rolled back whole, the chunks before it stay stored, and the
import stops with the chunk's lines. Running the same file again is safe: stored rows come
back as duplicates and re-qualify nobody.
"""

from __future__ import annotations

import csv
import json
import time
import tomllib
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone

from accounts.account_feeds import (
    MAX_BATCH,
    FeedResult,
    ItemStatus,
    account_events_store,
    accounts_resolve,
    intent_signals_store,
    technologies_store,
)
from accounts.events import Errors
from accounts.feed_records import (
    ACCOUNT_FIELDS,
    EVENT_FIELDS,
    INTENT_FIELDS,
    TECHNOLOGY_FIELDS,
    account_event_parse,
    intent_parse,
    technology_parse,
)
from accounts.importers import DEFAULT_DELIMITERS, delimiter_sniff

CSV_SOURCE = "csv"
DETAILS_PREFIX = "details."


@dataclass(frozen=True)
class FeedKind:
    name: str
    fields: frozenset[str]
    required: tuple[str, ...]
    moments: tuple[str, ...]  # date-time fields, which take the file's time zone
    parse: Callable[..., tuple[Any, Errors]]
    store: Callable[..., FeedResult]


KINDS: dict[str, FeedKind] = {
    "events": FeedKind(
        "events",
        EVENT_FIELDS,
        ("kind", "occurred_at"),
        ("occurred_at",),
        account_event_parse,
        account_events_store,
    ),
    "intent": FeedKind(
        "intent",
        INTENT_FIELDS,
        ("topic", "surge_score", "observed_at"),
        ("observed_at",),
        intent_parse,
        intent_signals_store,
    ),
    "technologies": FeedKind(
        "technologies",
        TECHNOLOGY_FIELDS,
        ("name",),
        ("seen_at",),
        technology_parse,
        technologies_store,
    ),
}


class FeedImportError(Exception):
    """The mapping or the file as a whole is unusable; nothing was stored."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class FeedMapping:
    """CSV column -> feed field, and values for fields the file does not carry."""

    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    kind: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    timezone: str | None = None


def feed_mapping_load(path: Path) -> FeedMapping:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FeedImportError([f"cannot read the mapping {path}: {error.strerror}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise FeedImportError([f"the mapping {path} is not valid TOML: {error}"]) from None
    return feed_mapping_parse(data)


def feed_mapping_parse(data: dict[str, Any]) -> FeedMapping:
    problems: list[str] = []
    for key in sorted(data.keys() - {"feed", "csv", "columns", "defaults"}):
        problems.append(f"unknown section [{key}] (expected feed, csv, columns, defaults)")

    def table(name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            problems.append(f"[{name}] must be a table")
            return {}
        return value

    feed, csv_table = table("feed"), table("csv")
    columns, defaults = table("columns"), table("defaults")
    kind = feed.get("kind")
    if kind is not None and kind not in KINDS:
        problems.append(f"[feed] kind {kind!r} is not one of {', '.join(KINDS)}")
    for key in sorted(csv_table.keys() - {"delimiter", "encoding", "timezone"}):
        problems.append(f"[csv] unknown key {key!r} (expected delimiter, encoding, timezone)")
    for name, value in [*columns.items(), *defaults.items()]:
        if not isinstance(value, str):
            problems.append(f"{name!r} = {value!r}: must be a string")
    targets = [v for v in columns.values() if isinstance(v, str) and v]
    for target in sorted({t for t in targets if targets.count(t) > 1}):
        problems.append(f"[columns] two columns map to {target!r}")
    if problems:
        raise FeedImportError(problems)
    return FeedMapping(
        columns=dict(columns),
        defaults=dict(defaults),
        kind=kind,
        delimiter=csv_table.get("delimiter"),
        encoding=csv_table.get("encoding"),
        timezone=csv_table.get("timezone"),
    )


@dataclass
class RowProblem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f" {self.field}:" if self.field else ""
        return f"line {self.line}:{where} {self.message}"


@dataclass
class FeedImportReport:
    path: Path
    kind: str
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    bad_rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ","
    dry_run: bool = False
    skip_invalid: bool = False
    # False when bad rows stopped an all-or-nothing import (nothing stored).
    accepted: bool = True
    # The lines of a chunk whose write failed and was rolled back (import stopped there).
    failed_chunk: tuple[int, int] | None = None
    failure: str = ""
    seconds: float = 0.0


Progress = Callable[[str, int, int], None]


@dataclass
class _Plan:
    kind: FeedKind
    # (cell index, feed field) for each used column; details.<key> fields are kept whole.
    used: list[tuple[int, str]]
    defaults: dict[str, str]
    moments: frozenset[str]
    zone: ZoneInfo | None
    # feed field -> the CSV column it came from, to name it in a report.
    column_of: dict[str, str]


def feed_csv_import(
    *,
    path: Path,
    kind: str,
    mapping: FeedMapping | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    time_zone: str | None = None,
    source: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    chunk_size: int = 1000,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> FeedImportReport:
    """Import one feed's CSV file through its store function; see the module docstring."""
    mapping = mapping or FeedMapping()
    if mapping.kind and mapping.kind != kind:
        raise FeedImportError([f"the mapping is for --kind {mapping.kind}, not {kind}"])
    feed = KINDS[kind]
    chunk_size = max(1, min(chunk_size, MAX_BATCH))
    started = time.perf_counter()
    report = FeedImportReport(path=path, kind=kind, dry_run=dry_run, skip_invalid=skip_invalid)
    encoding = encoding or mapping.encoding
    delimiter = delimiter or mapping.delimiter
    default_source = source or mapping.defaults.get("source") or CSV_SOURCE
    lines = _line_count(path)
    report.encoding, report.delimiter, header = _open_probe(path, encoding, delimiter)
    plan = _plan(feed, header, mapping, time_zone or mapping.timezone, report)
    now = now or timezone.now()
    tick = progress or (lambda phase, done, total: None)

    if not skip_invalid and not dry_run:
        _validate_pass(path, report, plan, chunk_size, default_source, now, lines, tick)
        if report.bad_rows:
            report.accepted = False
            report.seconds = time.perf_counter() - started
            return report
        report.rows = 0
    _write_pass(path, report, plan, chunk_size, default_source, now, lines, tick)
    if dry_run and not skip_invalid and report.bad_rows:
        report.accepted = False  # the real run would store nothing
    report.seconds = time.perf_counter() - started
    return report


# --- reading -------------------------------------------------------------------------------


def _line_count(path: Path) -> int:
    """Physical lines: the progress bar's total (a quoted field over lines counts extra)."""
    try:
        with path.open("rb") as handle:
            return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except OSError as error:
        raise FeedImportError([f"cannot read {path}: {error.strerror}"]) from None


def _open_probe(
    path: Path, encoding: str | None, delimiter: str | None
) -> tuple[str, str, list[str]]:
    """The encoding, delimiter and header row, from the head of the file."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    if encoding is None:
        encoding = "utf-8-sig"
    try:
        text = head.decode(encoding, errors="strict")
    except LookupError:
        raise FeedImportError([f"unknown encoding {encoding!r}"]) from None
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut by the 64 KiB read
            line = head.count(b"\n", 0, error.start) + 1
            raise FeedImportError(
                [
                    f"the file is not valid {encoding}: byte 0x{head[error.start]:02x} on line "
                    f"{line}; give --encoding (cp1252 for Excel on Windows)"
                ]
            ) from None
        text = head[: error.start].decode(encoding)
    delimiter = delimiter or delimiter_sniff(text, DEFAULT_DELIMITERS)
    rows = _records(path, encoding, delimiter)
    try:
        _, header = next(rows)
    except StopIteration:
        raise FeedImportError(["the file is empty: it has no header row"]) from None
    finally:
        rows.close()
    return encoding, delimiter, [cell.strip() for cell in header]


def _records(path: Path, encoding: str, delimiter: str) -> Generator[tuple[int, list[str]]]:
    """(first line, cells) of each non-blank row, the header first; streamed."""
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        line = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise FeedImportError(
                    [f"the file is not readable CSV near line {reader.line_num}: {error}"]
                ) from None
            except UnicodeDecodeError as error:
                raise FeedImportError(
                    [
                        f"the file is not valid {encoding} after line {reader.line_num}: "
                        f"{error.reason}; give --encoding (cp1252 for Excel on Windows)"
                    ]
                ) from None
            if any(cell.strip() for cell in cells):
                yield line, cells
            line = reader.line_num + 1


def _plan(
    feed: FeedKind,
    header: list[str],
    mapping: FeedMapping,
    zone_name: str | None,
    report: FeedImportReport,
) -> _Plan:
    problems: list[str] = []
    used: list[tuple[int, str]] = []
    column_of: dict[str, str] = {}
    for index, column in enumerate(header):
        if not column:
            continue
        if column in mapping.columns:
            target: str | None = mapping.columns[column] or None  # "" ignores the column
            if target is None:
                continue  # ignored on purpose: not worth a line in the summary
            if not (target in feed.fields or target.startswith(DETAILS_PREFIX)):
                problems.append(
                    f"[columns] {column!r} maps to {target!r}, which is not a field of the "
                    f"{feed.name} feed ({', '.join(sorted(feed.fields))}, or details.<key>)"
                )
                continue
        elif column in feed.fields or column.startswith(DETAILS_PREFIX):
            target = column  # a column already named as the field needs no mapping line
        else:
            report.ignored_columns.append(column)
            continue
        if target in column_of:
            problems.append(f"columns {column_of[target]!r} and {column!r} both give {target!r}")
            continue
        used.append((index, target))
        column_of[target] = column
    for column in mapping.columns:
        if column not in header:
            problems.append(f"the mapped column {column!r} is not in the file's header")
    for name in sorted(mapping.defaults.keys() - feed.fields):
        problems.append(f"[defaults] {name!r} is not a field of the {feed.name} feed")
    given = set(column_of) | set(mapping.defaults)
    if not given & ACCOUNT_FIELDS:
        problems.append(
            "no column names the account: map one to account_domain, account_id or "
            "account_salesforce_id"
        )
    for name in feed.required:
        if name not in given:
            problems.append(f"no column gives {name!r}, which the {feed.name} feed requires")
    zone: ZoneInfo | None = None
    if zone_name:
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"unknown time zone {zone_name!r} (e.g. UTC, Europe/Paris)")
    if problems:
        raise FeedImportError(problems)
    return _Plan(
        kind=feed,
        used=used,
        defaults=dict(mapping.defaults),
        moments=frozenset(feed.moments),
        zone=zone,
        column_of=column_of,
    )


def _item(plan: _Plan, cells: list[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A row as the API item it stands for, and its CSV-level problems (field, message)."""
    item: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    details: dict[str, Any] = {}
    for index, target in plan.used:
        value = cells[index].strip() if index < len(cells) else ""
        if not value:
            continue
        if target.startswith(DETAILS_PREFIX):
            details[target.removeprefix(DETAILS_PREFIX)] = value
        elif target == "details":
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as error:
                problems.append(("details", f"Not valid JSON: {error.msg} at {error.pos}."))
                continue
            item["details"] = parsed
        elif target in plan.moments and plan.zone is not None:
            item[target] = _zoned(value, plan.zone)
        else:
            item[target] = value
    for name, value in plan.defaults.items():
        item.setdefault(name, value)
    if details:
        merged = item.get("details")
        item["details"] = {**details, **merged} if isinstance(merged, dict) else details
    return item, problems


def _zoned(value: str, zone: ZoneInfo) -> str:
    """A date-time without an offset (or a bare date) read in the file's time zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # the parser reports it
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=zone).isoformat()
    return value


def _chunks(
    path: Path, report: FeedImportReport, size: int
) -> Iterator[list[tuple[int, list[str]]]]:
    rows = _records(path, report.encoding, report.delimiter)
    next(rows)  # the header
    chunk: list[tuple[int, list[str]]] = []
    for record in rows:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- the passes ----------------------------------------------------------------------------


def _report_errors(
    report: FeedImportReport, plan: _Plan, line: int, errors: Errors | list[tuple[str, str]]
) -> None:
    pairs = (
        [(name, message) for name, messages in errors.items() for message in messages]
        if isinstance(errors, dict)
        else errors
    )
    report.bad_rows += 1
    for name, message in pairs:
        column = plan.column_of.get(name)
        where = name if column in (None, name) else f"{column} ({name})"
        if name == "non_field_errors":
            where = ""
        report.problems.append(RowProblem(line=line, field=where, message=message))


def _validate_pass(
    path: Path,
    report: FeedImportReport,
    plan: _Plan,
    chunk_size: int,
    default_source: str,
    now: datetime,
    lines: int,
    tick: Progress,
) -> None:
    """Every row checked as the store would (fields, then its account); nothing written."""
    for chunk in _chunks(path, report, chunk_size):
        parsed = []
        for line, cells in chunk:
            report.rows += 1
            item, problems = _item(plan, cells)
            if problems:
                _report_errors(report, plan, line, problems)
                continue
            record, errors = plan.kind.parse(item, now=now, default_source=default_source)
            if record is None:
                _report_errors(report, plan, line, errors)
            else:
                parsed.append((line, record))
        found = accounts_resolve([record.account for _, record in parsed])
        for line, record in parsed:
            account_id, problem = found.get(record.account, (None, "Account not found."))
            if account_id is None:
                _report_errors(report, plan, line, {record.account.path: [problem]})
        tick("validating", chunk[-1][0], lines)
    tick("validating", lines, lines)


def _write_pass(
    path: Path,
    report: FeedImportReport,
    plan: _Plan,
    chunk_size: int,
    default_source: str,
    now: datetime,
    lines: int,
    tick: Progress,
) -> None:
    # A dry run reports every bad row, as the validation pass would.
    all_or_nothing = not (report.skip_invalid or report.dry_run)
    phase = "checking" if report.dry_run else "writing"
    for chunk in _chunks(path, report, chunk_size):
        items: list[dict[str, Any]] = []
        item_lines: list[int] = []
        for line, cells in chunk:
            report.rows += 1
            item, problems = _item(plan, cells)
            if problems:
                _report_errors(report, plan, line, problems)
                continue
            items.append(item)
            item_lines.append(line)
        if not items:
            continue
        try:
            with transaction.atomic():
                result = plan.kind.store(
                    items=items,
                    default_source=default_source,
                    all_or_nothing=all_or_nothing,
                    now=now,
                )
                if report.dry_run:
                    # Rolled back with the chunk: the hooks' on_commit callbacks go with it.
                    transaction.set_rollback(True)
        except Exception as error:
            report.failed_chunk = (chunk[0][0], chunk[-1][0])
            report.failure = f"{type(error).__name__}: {error}"
            return
        for item_result, line in zip(result.items, item_lines, strict=True):
            if item_result.status == ItemStatus.INVALID:
                _report_errors(report, plan, line, item_result.errors)
        if result.refused:
            # Only when an account went between the two passes: the chunk stored nothing.
            report.accepted = False
            report.failed_chunk = (chunk[0][0], chunk[-1][0])
            report.failure = "a row became invalid after the validation pass"
            return
        report.created += result.created
        report.duplicates += result.duplicates
        tick(phase, chunk[-1][0], lines)
    tick(phase, lines, lines)


__all__ = [
    "KINDS",
    "FeedImportError",
    "FeedImportReport",
    "FeedMapping",
    "feed_csv_import",
    "feed_mapping_load",
    "feed_mapping_parse",
]
