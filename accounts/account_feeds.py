"""The account feeds' write path: account events, intent signals and technologies in.

`account_events_store`, `intent_signals_store` and `technologies_store` are the one write path
of the feed APIs (accounts.feed_apis), the CSV import (`manage.py import_account_feed`) and the
Salesforce pull. Each, for a batch of raw items:

1. validates every item (accounts.feed_records, pure); invalid ones are reported by index with
   their errors by field, and not stored;
2. finds the accounts in three queries at most (by id, Salesforce id, domain); an item naming
   no known account is invalid (a feed never creates accounts: a data vendor's file covers the
   whole market, and the CRM owns the account list);
3. stores the rest in one transaction, idempotent by each feed's key (below): an item whose
   key is already stored, or repeated within the batch, is a duplicate and changes nothing;
4. once committed, hands one EvidenceArrival per newly stored row to the account-evidence
   hooks (accounts.evidence_arrival): duplicates re-qualify nobody.

Idempotency keys (enforced by unique constraints, so a concurrent request cannot slip a second
copy in):

- account event: (source, external_id) when the sender gives an id; else (account, kind,
  occurred_at, title, source);
- intent signal: (source, external_id); else (account, topic, source, observed_at);
- technology: (account, name): a technology seen again moves its last_seen on (and fills an
  empty category) but is not new evidence.

On PostgreSQL each feed is one INSERT ... SELECT FROM unnest(...) ON CONFLICT, whatever the
batch size; elsewhere (SQLite: tests) a bulk_create after a lookup, writers being serialised.

With `all_or_nothing` (the CSV import, the single-item API) nothing is stored when any item is
invalid; otherwise (the batch APIs, like /api/v1/events/batch) the valid items are stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.events import Errors
from accounts.evidence_arrival import (
    KIND_ACCOUNT_EVENT,
    KIND_INTENT,
    KIND_TECHNOLOGY,
    EvidenceArrival,
    account_evidence_on_commit,
)
from accounts.feed_records import (
    AccountEventIn,
    AccountRef,
    IntentIn,
    TechnologyIn,
    account_event_parse,
    intent_parse,
    technology_parse,
)
from accounts.ingest import ITEM_STATUS_CHOICES, ItemStatus, _pg_fetch
from accounts.models import Account, AccountEvent, AccountTechnology, IntentSignal

MAX_BATCH = 10_000
API_SOURCE = "api"

__all__ = [
    "ITEM_STATUS_CHOICES",
    "MAX_BATCH",
    "FeedItem",
    "FeedResult",
    "ItemStatus",
    "account_events_store",
    "intent_signals_store",
    "technologies_store",
]

R = TypeVar("R", AccountEventIn, IntentIn, TechnologyIn)
Parser = Callable[..., tuple[Any, Errors]]
# An idempotency key: ("id", source, external_id), or the feed's natural key.
Key = tuple[Any, ...]


@dataclass(slots=True)
class FeedItem:
    index: int
    status: str
    record_id: int | None = None
    account_id: int | None = None
    errors: Errors = field(default_factory=dict)


@dataclass
class FeedResult:
    items: list[FeedItem]
    # True when all_or_nothing refused the batch because of an invalid item.
    refused: bool = False
    arrivals: list[EvidenceArrival] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def created(self) -> int:
        return self.count(ItemStatus.CREATED)

    @property
    def duplicates(self) -> int:
        return self.count(ItemStatus.DUPLICATE)

    @property
    def invalid(self) -> int:
        return self.count(ItemStatus.INVALID)


def account_events_store(
    *,
    items: Sequence[Any],
    default_source: str = API_SOURCE,
    all_or_nothing: bool = False,
    now: datetime | None = None,
) -> FeedResult:
    """Store account events (funding, leadership change, initiative, job posting, contract
    renewal, competitor news); report each item: created, duplicate, or invalid."""
    return _feed_store(
        items,
        account_event_parse,
        _events_write,
        default_source=default_source,
        all_or_nothing=all_or_nothing,
        now=now,
    )


def intent_signals_store(
    *,
    items: Sequence[Any],
    default_source: str = API_SOURCE,
    all_or_nothing: bool = False,
    now: datetime | None = None,
) -> FeedResult:
    """Store third-party intent signals; report each item."""
    return _feed_store(
        items,
        intent_parse,
        _intent_write,
        default_source=default_source,
        all_or_nothing=all_or_nothing,
        now=now,
    )


def technologies_store(
    *,
    items: Sequence[Any],
    default_source: str = API_SOURCE,
    all_or_nothing: bool = False,
    now: datetime | None = None,
) -> FeedResult:
    """Store technology sightings (one row per account and technology); report each item."""
    return _feed_store(
        items,
        technology_parse,
        _technologies_write,
        default_source=default_source,
        all_or_nothing=all_or_nothing,
        now=now,
    )


# --- the common steps ----------------------------------------------------------------------

# (item, record, account id) of the valid items, first occurrence of each key only.
Rows = list[tuple[FeedItem, Any, int]]
Writer = Callable[[Rows, datetime], list[EvidenceArrival]]


def _feed_store(
    items: Sequence[Any],
    parse: Parser,
    write: Writer,
    *,
    default_source: str,
    all_or_nothing: bool,
    now: datetime | None,
) -> FeedResult:
    if len(items) > MAX_BATCH:
        raise ValueError(f"At most {MAX_BATCH} items per call, not {len(items)}.")
    now = now or timezone.now()
    result = FeedResult(items=[])
    parsed: list[tuple[FeedItem, Any]] = []
    for index, raw in enumerate(items):
        record, errors = parse(raw, now=now, default_source=default_source)
        item = FeedItem(index=index, status=ItemStatus.INVALID if record is None else "")
        item.errors = errors
        result.items.append(item)
        if record is not None:
            parsed.append((item, record))
    found = accounts_resolve([record.account for _, record in parsed])
    rows: Rows = []
    for item, record in parsed:
        account_id, problem = found.get(record.account, (None, "Account not found."))
        if account_id is None:
            item.status = ItemStatus.INVALID
            item.errors = {record.account.path: [problem]}
            continue
        item.account_id = account_id
        item.status = ItemStatus.CREATED
        rows.append((item, record, account_id))
    if all_or_nothing and result.invalid:
        result.refused = True
        for item in result.items:
            if item.status != ItemStatus.INVALID:
                item.status, item.account_id = "", None
        return result
    if rows:
        with transaction.atomic():
            result.arrivals = write(rows, now)
            account_evidence_on_commit(result.arrivals)
    return result


def accounts_resolve(refs: Iterable[AccountRef]) -> dict[AccountRef, tuple[int | None, str]]:
    """Each reference's account id, or None and why not, in at most three queries."""
    refs = set(refs)
    ids = {ref.account_id for ref in refs if ref.account_id is not None}
    sf_ids = {ref.salesforce_id for ref in refs if ref.salesforce_id}
    domains = {ref.domain for ref in refs if ref.domain}
    by_id = set(Account.objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
    by_sf: dict[str, int] = {}
    if sf_ids:
        # An 18-character id is the 15-character one plus a case checksum; either may arrive
        # (a report export gives 15), the pull stores 18.
        query = Q(salesforce_id__in=sf_ids)
        for short in (sf for sf in sf_ids if len(sf) == 15):
            query |= Q(salesforce_id__startswith=short)
        for sf, pk in Account.objects.filter(query).values_list("salesforce_id", "pk"):
            if sf:
                by_sf[sf] = pk
                by_sf.setdefault(sf[:15], pk)
    by_domain = (
        dict(Account.objects.filter(domain__in=domains).values_list("domain", "pk"))
        if domains
        else {}
    )
    out: dict[AccountRef, tuple[int | None, str]] = {}
    for ref in refs:
        named: list[int] = []
        missing = ""
        if ref.account_id is not None:
            if ref.account_id in by_id:
                named.append(ref.account_id)
            else:
                missing = f"No account has id {ref.account_id}."
        if ref.salesforce_id and not missing:
            sf_pk = by_sf.get(ref.salesforce_id) or by_sf.get(ref.salesforce_id[:15])
            if sf_pk is None:
                missing = f"No account has Salesforce id {ref.salesforce_id!r}."
            else:
                named.append(sf_pk)
        if ref.domain and not missing:
            if ref.domain in by_domain:
                named.append(by_domain[ref.domain])
            else:
                missing = (
                    f"No account has domain {ref.domain!r}. Feeds do not create accounts: "
                    "create or import it first."
                )
        if missing or not named:
            out[ref] = (None, missing or "Account not found.")
        elif len(set(named)) > 1:
            out[ref] = (None, "The account fields name two different accounts; send one.")
        else:
            out[ref] = (named[0], "")
    return out


def _first_of_each_key(
    rows: Rows, key: Callable[[Any, int], Key]
) -> tuple[dict[Key, tuple[FeedItem, Any, int]], list[tuple[FeedItem, Key]]]:
    firsts: dict[Key, tuple[FeedItem, Any, int]] = {}
    repeats: list[tuple[FeedItem, Key]] = []
    for item, record, account_id in rows:
        k = key(record, account_id)
        if k in firsts:
            item.status = ItemStatus.DUPLICATE
            repeats.append((item, k))
        else:
            firsts[k] = (item, record, account_id)
    return firsts, repeats


def _settle(
    firsts: dict[Key, tuple[FeedItem, Any, int]],
    repeats: list[tuple[FeedItem, Key]],
    inserted: dict[Key, int],
    existing: Callable[[list[Key]], dict[Key, int]],
) -> None:
    """Statuses and ids: the inserted are created, every other key was stored before."""
    missing = [k for k in firsts if k not in inserted]
    before = existing(missing) if missing else {}
    for k, (item, _, _) in firsts.items():
        if k in inserted:
            item.record_id = inserted[k]
        else:
            item.status = ItemStatus.DUPLICATE
            item.record_id = before.get(k)
    for item, k in repeats:
        item.record_id = firsts[k][0].record_id


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


def _unnest_insert(
    table: str,
    columns: Sequence[tuple[str, str]],
    values: list[tuple[Any, ...]],
    *,
    constant: dict[str, Any],
    returning: str,
    conflict: str = "ON CONFLICT DO NOTHING",
) -> list[tuple[Any, ...]]:
    """One INSERT ... SELECT FROM unnest(arrays): every row of the batch in one statement.

    Each array is cast to its type: an array whose items are all None (renews_at when no
    renewal is in the batch) would otherwise reach the server as text[] of unknown type.
    """
    arrays: list[list[Any]] = [[] for _ in columns]
    for row in values:
        for array, value in zip(arrays, row, strict=True):
            array.append(value)
    names = [name for name, _ in columns]
    unnest = ", ".join(f"%s::{'text' if kind == 'jsonb' else kind}[]" for _, kind in columns)
    selected = [f"u.{name}::jsonb" if kind == "jsonb" else f"u.{name}" for name, kind in columns]
    selected += ["%s"] * len(constant)
    sql = (
        f"INSERT INTO {table} ({', '.join(names + list(constant))}) "
        f"SELECT {', '.join(selected)} FROM unnest({unnest}) AS u({', '.join(names)}) "
        f"{conflict} RETURNING {returning}"
    )
    return _pg_fetch(sql, [*constant.values(), *arrays])


# --- account events ------------------------------------------------------------------------


def _event_key(record: AccountEventIn, account_id: int) -> Key:
    if record.external_id:
        return ("id", record.source, record.external_id)
    return ("occurrence", account_id, record.kind, record.occurred_at, record.title, record.source)


def _event_row_key(
    account_id: int,
    kind: str,
    occurred_at: datetime,
    title: str,
    source: str,
    external_id: str | None,
) -> Key:
    if external_id:
        return ("id", source, external_id)
    return ("occurrence", account_id, kind, occurred_at, title, source)


def _events_existing(keys: list[Key]) -> dict[Key, int]:
    by_id = [k for k in keys if k[0] == "id"]
    by_occurrence = [k for k in keys if k[0] == "occurrence"]
    query = Q(pk__in=[])
    if by_id:
        query |= Q(external_id__in={k[2] for k in by_id})
    if by_occurrence:
        query |= Q(
            external_id__isnull=True,
            account_id__in={k[1] for k in by_occurrence},
            occurred_at__in={k[3] for k in by_occurrence},
        )
    wanted = set(keys)
    found = {}
    for (
        pk,
        account_id,
        kind,
        occurred_at,
        title,
        source,
        external_id,
    ) in AccountEvent.objects.filter(query).values_list(
        "pk", "account_id", "kind", "occurred_at", "title", "source", "external_id"
    ):
        k = _event_row_key(account_id, kind, occurred_at, title, source, external_id)
        if k in wanted:
            found[k] = pk
    return found


_EVENT_COLUMNS = (
    ("account_id", "bigint"),
    ("kind", "text"),
    ("occurred_at", "timestamptz"),
    ("title", "text"),
    ("details", "jsonb"),
    ("source", "text"),
    ("external_id", "text"),
    ("vendor", "text"),
    ("renews_at", "date"),
)


def _events_write(rows: Rows, now: datetime) -> list[EvidenceArrival]:
    firsts, repeats = _first_of_each_key(rows, _event_key)
    records: list[tuple[AccountEventIn, int]] = [(r, a) for _, r, a in firsts.values()]
    inserted: dict[Key, int] = {}
    if _on_postgres():
        # In key order: concurrent batches wait on each other's index entries in one order.
        ordered = sorted(records, key=lambda ra: repr(_event_key(*ra)))
        returned = _unnest_insert(
            AccountEvent._meta.db_table,
            _EVENT_COLUMNS,
            [
                (
                    a,
                    r.kind,
                    r.occurred_at,
                    r.title,
                    json.dumps(r.details),
                    r.source,
                    r.external_id,
                    r.vendor,
                    r.renews_at,
                )
                for r, a in ordered
            ],
            constant={"received_at": now},
            returning="id, account_id, kind, occurred_at, title, source, external_id",
        )
        inserted = {_event_row_key(*row[1:]): row[0] for row in returned}
    else:
        before = _events_existing([_event_key(r, a) for r, a in records])
        fresh = [(r, a) for r, a in records if _event_key(r, a) not in before]
        created = AccountEvent.objects.bulk_create(
            [
                AccountEvent(
                    account_id=a,
                    kind=r.kind,
                    occurred_at=r.occurred_at,
                    title=r.title,
                    details=r.details,
                    source=r.source,
                    external_id=r.external_id,
                    vendor=r.vendor,
                    renews_at=r.renews_at,
                    received_at=now,
                )
                for r, a in fresh
            ],
            batch_size=1000,
        )
        inserted = {
            _event_key(r, a): event.pk for (r, a), event in zip(fresh, created, strict=True)
        }
    _settle(firsts, repeats, inserted, _events_existing)
    return [
        EvidenceArrival(account_id=a, kind=KIND_ACCOUNT_EVENT, record_id=inserted[k], detail=r.kind)
        for k, (_, r, a) in firsts.items()
        if k in inserted
    ]


# --- intent signals ------------------------------------------------------------------------


def _intent_key(record: IntentIn, account_id: int) -> Key:
    if record.external_id:
        return ("id", record.source, record.external_id)
    return ("observation", account_id, record.topic, record.source, record.observed_at)


def _intent_row_key(
    account_id: int, topic: str, source: str, observed_at: datetime, external_id: str | None
) -> Key:
    if external_id:
        return ("id", source, external_id)
    return ("observation", account_id, topic, source, observed_at)


def _intent_existing(keys: list[Key]) -> dict[Key, int]:
    by_id = [k for k in keys if k[0] == "id"]
    by_observation = [k for k in keys if k[0] == "observation"]
    query = Q(pk__in=[])
    if by_id:
        query |= Q(external_id__in={k[2] for k in by_id})
    if by_observation:
        query |= Q(
            external_id__isnull=True,
            account_id__in={k[1] for k in by_observation},
            observed_at__in={k[4] for k in by_observation},
        )
    wanted = set(keys)
    found = {}
    for pk, account_id, topic, source, observed_at, external_id in IntentSignal.objects.filter(
        query
    ).values_list("pk", "account_id", "topic", "source", "observed_at", "external_id"):
        k = _intent_row_key(account_id, topic, source, observed_at, external_id)
        if k in wanted:
            found[k] = pk
    return found


_INTENT_COLUMNS = (
    ("account_id", "bigint"),
    ("topic", "text"),
    ("surge_score", "float8"),
    ("observed_at", "timestamptz"),
    ("source", "text"),
    ("external_id", "text"),
)


def _intent_write(rows: Rows, now: datetime) -> list[EvidenceArrival]:
    firsts, repeats = _first_of_each_key(rows, _intent_key)
    records: list[tuple[IntentIn, int]] = [(r, a) for _, r, a in firsts.values()]
    if _on_postgres():
        ordered = sorted(records, key=lambda ra: repr(_intent_key(*ra)))
        returned = _unnest_insert(
            IntentSignal._meta.db_table,
            _INTENT_COLUMNS,
            [
                (a, r.topic, r.surge_score, r.observed_at, r.source, r.external_id)
                for r, a in ordered
            ],
            constant={"received_at": now},
            returning="id, account_id, topic, source, observed_at, external_id",
        )
        inserted = {_intent_row_key(*row[1:]): row[0] for row in returned}
    else:
        before = _intent_existing([_intent_key(r, a) for r, a in records])
        fresh = [(r, a) for r, a in records if _intent_key(r, a) not in before]
        created = IntentSignal.objects.bulk_create(
            [
                IntentSignal(
                    account_id=a,
                    topic=r.topic,
                    surge_score=r.surge_score,
                    observed_at=r.observed_at,
                    source=r.source,
                    external_id=r.external_id,
                    received_at=now,
                )
                for r, a in fresh
            ],
            batch_size=1000,
        )
        inserted = {
            _intent_key(r, a): signal.pk for (r, a), signal in zip(fresh, created, strict=True)
        }
    _settle(firsts, repeats, inserted, _intent_existing)
    return [
        EvidenceArrival(account_id=a, kind=KIND_INTENT, record_id=inserted[k], detail=r.topic)
        for k, (_, r, a) in firsts.items()
        if k in inserted
    ]


# --- technologies --------------------------------------------------------------------------


def _technology_key(record: TechnologyIn, account_id: int) -> Key:
    return (account_id, record.name)


_TECHNOLOGY_COLUMNS = (
    ("account_id", "bigint"),
    ("name", "text"),
    ("category", "text"),
    ("first_seen", "timestamptz"),
    ("last_seen", "timestamptz"),
    ("source", "text"),
)
# A technology seen again: the sighting window widens, an empty category is filled in; the
# row is not new evidence. xmax = 0 marks the rows this statement inserted (not updated).
_TECHNOLOGY_CONFLICT = """
    ON CONFLICT (account_id, name) DO UPDATE SET
        first_seen = LEAST(t.first_seen, EXCLUDED.first_seen),
        last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen),
        category = CASE WHEN t.category = '' THEN EXCLUDED.category ELSE t.category END
"""


def _technologies_write(rows: Rows, now: datetime) -> list[EvidenceArrival]:
    # Sightings of one technology in one batch are merged: the earliest and latest times.
    merged: dict[Key, tuple[FeedItem, TechnologyIn, int, datetime, datetime]] = {}
    repeats: list[tuple[FeedItem, Key]] = []
    for item, record, account_id in rows:
        k = _technology_key(record, account_id)
        if k in merged:
            first_item, first, a, low, high = merged[k]
            item.status = ItemStatus.DUPLICATE
            repeats.append((item, k))
            if not first.category and record.category:
                first.category = record.category
            merged[k] = (
                first_item,
                first,
                a,
                min(low, record.seen_at),
                max(high, record.seen_at),
            )
        else:
            merged[k] = (item, record, account_id, record.seen_at, record.seen_at)
    inserted: dict[Key, int] = {}
    ids: dict[Key, int] = {}
    if _on_postgres():
        ordered = sorted(merged.items(), key=lambda kv: repr(kv[0]))
        returned = _unnest_insert(
            f"{AccountTechnology._meta.db_table} AS t",
            _TECHNOLOGY_COLUMNS,
            [(a, r.name, r.category, low, high, r.source) for _, (_, r, a, low, high) in ordered],
            constant={"received_at": now},
            returning="t.id, t.account_id, t.name, (t.xmax = 0)",
            conflict=_TECHNOLOGY_CONFLICT,
        )
        for pk, account_id, name, was_inserted in returned:
            ids[(account_id, name)] = pk
            if was_inserted:
                inserted[(account_id, name)] = pk
    else:
        stored: dict[Key, AccountTechnology] = {
            (tech.account_id, tech.name): tech
            for tech in AccountTechnology.objects.filter(
                account_id__in={a for _, _, a, _, _ in merged.values()},
                name__in={r.name for _, r, _, _, _ in merged.values()},
            )
        }
        changed: list[AccountTechnology] = []
        new: list[tuple[Key, AccountTechnology]] = []
        for k, (_, r, a, low, high) in merged.items():
            tech = stored.get(k)
            if tech is None:
                new.append(
                    (
                        k,
                        AccountTechnology(
                            account_id=a,
                            name=r.name,
                            category=r.category,
                            first_seen=low,
                            last_seen=high,
                            source=r.source,
                            received_at=now,
                        ),
                    )
                )
                continue
            tech.first_seen, tech.last_seen = min(tech.first_seen, low), max(tech.last_seen, high)
            tech.category = tech.category or r.category
            changed.append(tech)
            ids[k] = tech.pk
        AccountTechnology.objects.bulk_update(
            changed, ["first_seen", "last_seen", "category"], batch_size=1000
        )
        created = AccountTechnology.objects.bulk_create([t for _, t in new], batch_size=1000)
        for (k, _), tech in zip(new, created, strict=True):
            ids[k] = inserted[k] = tech.pk
    for k, (item, _, _, _, _) in merged.items():
        item.record_id = ids.get(k)
        if k not in inserted:
            item.status = ItemStatus.DUPLICATE
    for item, k in repeats:
        item.record_id = ids.get(k)
    _tech_stacks_sync(set(inserted))
    return [
        EvidenceArrival(account_id=a, kind=KIND_TECHNOLOGY, record_id=inserted[k], detail=r.name)
        for k, (_, r, a, _, _) in merged.items()
        if k in inserted
    ]


def _tech_stacks_sync(new: set[Key]) -> None:
    """Add the new technologies' names to Account.tech_stack, which fit scoring reads.

    A union, not a replacement: names typed in the admin stay. Compared in lower case, as fit
    scoring compares them.
    """
    names: dict[int, set[str]] = {}
    for key in new:
        names.setdefault(int(key[0]), set()).add(str(key[1]))
    if not names:
        return
    accounts = list(Account.objects.filter(pk__in=names).only("pk", "tech_stack").order_by("pk"))
    changed = []
    for account in accounts:
        stack = list(account.tech_stack) if isinstance(account.tech_stack, list) else []
        known = {str(t).lower() for t in stack}
        added = sorted(name for name in names[account.pk] if name not in known)
        if added:
            account.tech_stack = stack + added
            changed.append(account)
    Account.objects.bulk_update(changed, ["tech_stack"], batch_size=500)
