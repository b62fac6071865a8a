"""Event ingest: touchpoints in, people found or created, leads marked for re-qualification.

`events_ingest` is the one write path of POST /api/v1/events and /api/v1/events/batch. It is
set-based so that a batch of 10,000 events costs a fixed handful of queries, not 10,000:

1. every event is validated (accounts.events, pure); invalid ones are reported, not stored;
2. one query finds the events already stored (by external id): they are duplicates, reported
   as such, and change nothing, not even the lead's re-qualification mark;
3. two queries find the people, by external id and by email; the new ones are created with
   one INSERT and matched to their accounts with one more query (free-mail never matches);
4. one COPY stores the touchpoints (PostgreSQL; a bulk INSERT elsewhere). An event stored by a
   concurrent request between steps 2 and 4 makes the COPY fail in its savepoint; the rows
   then go through a staging table and INSERT ... ON CONFLICT (external_id) DO NOTHING, and
   that event becomes a duplicate, not an error;
5. one UPDATE marks the touched leads (requalify_requested_at), in the same transaction, and
   the LEADQUAL_AFTER_INGEST hooks get their ids once it has committed.

On PostgreSQL the statements bypass the ORM where it would cost more than the work (see
`_pg_fetch`). Concurrent batches lock shared rows in one order (people by email, touchpoints
by external id, leads by id), and a deadlock that slips through is retried whole.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.domains import domain_candidates, email_domain, is_free_mail
from accounts.events import Errors, EventIn, PersonCache, PersonIn, event_parse
from accounts.evidence_arrival import (
    KIND_NEW_CONTACT,
    EvidenceArrival,
    account_evidence_on_commit,
)
from accounts.models import Account, Lead, Touchpoint

logger = logging.getLogger(__name__)

MAX_BATCH = 10_000
DEADLOCK_ATTEMPTS = 3
LEAD_SOURCE = "api"


class ItemStatus:
    CREATED = "created"
    DUPLICATE = "duplicate"
    INVALID = "invalid"


ITEM_STATUS_CHOICES = [
    (ItemStatus.CREATED, "Stored"),
    (ItemStatus.DUPLICATE, "Already stored (a replay): nothing changed"),
    (ItemStatus.INVALID, "Not stored: see errors"),
]


@dataclass(slots=True)
class IngestItem:
    index: int
    status: str
    touchpoint_id: int | None = None
    lead_id: int | None = None
    # By path inside the event ("occurred_at", "person.email"); the batch API prefixes them.
    errors: Errors = field(default_factory=dict)


@dataclass
class IngestResult:
    items: list[IngestItem]
    leads_created: int = 0
    # The leads marked for re-qualification: those with a newly stored touchpoint.
    lead_ids: list[int] = field(default_factory=list)

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


@dataclass(slots=True)
class _LeadRow:
    id: int
    email: str
    external_id: str | None
    account_id: int | None


def events_ingest(*, events: Sequence[Any], now: datetime | None = None) -> IngestResult:
    """Store the valid events, report each one: created, duplicate, or invalid with errors.

    Valid events are stored even when others in the same call are invalid: a tracker's batch
    must not lose a thousand page views to one malformed one. A caller that wants all or
    nothing (the single-event API) checks `result.invalid` and rolls back, or validates first.
    """
    if len(events) > MAX_BATCH:
        raise ValueError(f"At most {MAX_BATCH} events per call, not {len(events)}.")
    now = now or timezone.now()
    items: list[IngestItem] = []
    # First occurrence of each external id among the valid events; later ones are duplicates.
    fresh: dict[str, tuple[IngestItem, EventIn]] = {}
    firsts: dict[str, IngestItem] = {}
    repeats: list[tuple[IngestItem, str]] = []
    people: PersonCache = {}
    for index, raw in enumerate(events):
        event, errors = event_parse(raw, now=now, person_cache=people)
        if event is None:
            items.append(IngestItem(index=index, status=ItemStatus.INVALID, errors=errors))
            continue
        item = IngestItem(index=index, status=ItemStatus.CREATED)
        items.append(item)
        if event.external_id in fresh:
            item.status = ItemStatus.DUPLICATE
            repeats.append((item, event.external_id))
        else:
            fresh[event.external_id] = (item, event)
            firsts[event.external_id] = item
    result = IngestResult(items=items)
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        if not fresh:
            break
        try:
            _store(dict(fresh), result, now=now)
            break
        except OperationalError as error:
            # Two batches touching the same leads lock them in the same (id) order, which
            # rules out most deadlocks; the rare rest (a tracker id attached meanwhile) is
            # rolled back whole by PostgreSQL, so running the batch again is safe.
            if getattr(error.__cause__, "sqlstate", None) != "40P01" or (
                attempt == DEADLOCK_ATTEMPTS
            ):
                raise
            logger.warning("Ingest deadlocked (attempt %s); running the batch again", attempt)
            for item, _ in fresh.values():
                item.status, item.touchpoint_id, item.lead_id, item.errors = (
                    ItemStatus.CREATED,
                    None,
                    None,
                    {},
                )
            result.lead_ids, result.leads_created = [], 0
    for item, external_id in repeats:
        first = firsts[external_id]
        item.touchpoint_id, item.lead_id = first.touchpoint_id, first.lead_id
        if first.status == ItemStatus.INVALID:
            item.status, item.errors = ItemStatus.INVALID, first.errors
    return result


def _store(
    fresh: dict[str, tuple[IngestItem, EventIn]], result: IngestResult, *, now: datetime
) -> None:
    """Steps 2-5 for the first occurrence of each valid event; fills in the items."""
    with transaction.atomic():
        stored = _touchpoints_stored(fresh.keys())
        for external_id, (touchpoint_id, lead_id) in stored.items():
            item, _ = fresh.pop(external_id)
            item.status = ItemStatus.DUPLICATE
            item.touchpoint_id, item.lead_id = touchpoint_id, lead_id

        leads, result.leads_created = _people_resolve(fresh.values())
        rows = []
        for external_id, (item, event) in list(fresh.items()):
            lead = leads.get(id(event))
            if lead is None:
                fresh.pop(external_id)
                continue
            item.lead_id = lead.id
            rows.append((event, lead))

        inserted = _touchpoints_insert(rows, now=now)
        raced = [external_id for external_id in fresh if external_id not in inserted]
        stored = _touchpoints_stored(raced) if raced else {}
        touched: set[int] = set()
        for external_id, (item, _) in fresh.items():
            if external_id in inserted:
                item.touchpoint_id = inserted[external_id]
                if item.lead_id is not None:
                    touched.add(item.lead_id)
            else:  # stored by a concurrent request since step 2
                item.status = ItemStatus.DUPLICATE
                item.touchpoint_id, item.lead_id = stored.get(external_id, (None, item.lead_id))

        result.lead_ids = sorted(touched)
        if result.lead_ids:
            # The time of the write, not of the request: a re-qualification that starts
            # after this mark and clears it (`<= its start`) cannot have missed these rows by
            # more than this transaction's commit.
            _leads_mark(result.lead_ids, now=timezone.now())
            lead_ids = result.lead_ids
            # robust: the events are stored and their leads marked whatever a hook does; a
            # failed enqueue (broker down) is logged and left to the dirty-lead sweep.
            transaction.on_commit(lambda: events_ingested_notify(lead_ids), robust=True)


def events_ingested_notify(lead_ids: Sequence[int]) -> None:
    """Hand the touched leads to the apps that act on them (LEADQUAL_AFTER_INGEST)."""
    for path in settings.LEADQUAL_AFTER_INGEST:
        import_string(path)(list(lead_ids))


# --- steps ---------------------------------------------------------------------------------


# On PostgreSQL the set-wide statements bind their lists as one array parameter on the server
# (`= ANY(%s)`, a plain psycopg cursor): Django's client-side binding spells a 10,000-item IN
# list into the SQL text, which costs more than running the query.


def _pg_fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    import psycopg

    connection.ensure_connection()
    # wrap_database_errors: psycopg's errors become Django's, as through a Django cursor.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


def _touchpoints_stored(external_ids: Iterable[str]) -> dict[str, tuple[int, int | None]]:
    wanted = list(external_ids)
    if not wanted:
        return {}
    if _on_postgres():
        rows: Iterable[tuple[Any, ...]] = _pg_fetch(
            f"SELECT external_id, id, lead_id FROM {Touchpoint._meta.db_table} "
            "WHERE external_id = ANY(%s::text[])",
            [wanted],
        )
    else:
        rows = Touchpoint.objects.filter(external_id__in=wanted).values_list(
            "external_id", "pk", "lead_id"
        )
    return {external_id: (pk, lead_id) for external_id, pk, lead_id in rows}


def _leads_mark(lead_ids: list[int], *, now: datetime) -> None:
    """requalify_requested_at = now: the lead has evidence its qualification has not seen."""
    if _on_postgres():
        # Locked in id order, so that two batches marking some of the same leads wait for
        # each other instead of deadlocking. NO KEY UPDATE, what a plain UPDATE takes: it
        # does not conflict with the KEY SHARE locks of touchpoint inserts (foreign keys).
        table = Lead._meta.db_table
        _pg_fetch(
            f"UPDATE {table} SET requalify_requested_at = %s WHERE id IN ("
            f"SELECT id FROM {table} WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE)",
            [now, lead_ids],
        )
    else:
        Lead.objects.filter(pk__in=lead_ids).update(requalify_requested_at=now)


def _leads_by(field_name: str, values: set[str]) -> dict[str, _LeadRow]:
    if not values:
        return {}
    if _on_postgres():
        rows: Iterable[tuple[Any, ...]] = _pg_fetch(
            f"SELECT id, email, external_id, account_id FROM {Lead._meta.db_table} "
            f"WHERE {field_name} = ANY(%s::text[])",
            [list(values)],
        )
    else:
        rows = Lead.objects.filter(**{f"{field_name}__in": list(values)}).values_list(
            "pk", "email", "external_id", "account_id"
        )
    found = {}
    for pk, email, external_id, account_id in rows:
        lead = _LeadRow(pk, email, external_id, account_id)
        found[email if field_name == "email" else external_id] = lead
    return found


def _people_resolve(
    pending: Iterable[tuple[IngestItem, EventIn]],
) -> tuple[dict[int, _LeadRow], int]:
    """The lead of each event (keyed by id(event)), creating the people not known yet.

    A person is found by external id first (the sender's own key), then by email. An event
    whose two keys name two different leads is refused rather than guessed. A person found by
    email gets the event's external id when they had none, so later events that carry only
    the external id (a tracker's visitor id) find them; within the batch too, and likewise a
    new person's external id serves the batch's other events of that person, in any order.
    """
    pending = list(pending)
    by_external = _leads_by(
        "external_id", {e.person.external_id for _, e in pending if e.person.external_id}
    )
    by_email = _leads_by("email", {e.person.email for _, e in pending if e.person.email})

    # First pass: what the batch itself says about external ids not stored yet. An id is
    # given to the first person who carries it with an email: a known lead (attached to it)
    # or a new person (created with it).
    attach: dict[str, _LeadRow] = {}
    attached: set[int] = set()
    claimed: dict[str, str] = {}
    for _, event in pending:
        person = event.person
        if not (person.email and person.external_id) or person.external_id in by_external:
            continue
        if person.external_id in attach or person.external_id in claimed:
            continue
        lead_mail = by_email.get(person.email)
        if lead_mail is None:
            claimed[person.external_id] = person.email
        elif lead_mail.external_id is None and lead_mail.id not in attached:
            attach[person.external_id] = lead_mail
            attached.add(lead_mail.id)

    leads: dict[int, _LeadRow] = {}
    new_people: dict[str, PersonIn] = {}
    waiting: list[tuple[IngestItem, EventIn, str]] = []
    for item, event in pending:
        person = event.person
        external = person.external_id
        lead_ext = (by_external.get(external) or attach.get(external)) if external else None
        lead_mail = by_email.get(person.email) if person.email else None
        claim = claimed.get(external) if external else None
        if lead_ext is not None and lead_mail is not None and lead_ext.id != lead_mail.id:
            _invalid(
                item,
                "person",
                "The email and the external_id name two different leads; send one of them.",
            )
        elif lead_ext is not None:
            leads[id(event)] = lead_ext
        elif lead_mail is not None:
            leads[id(event)] = lead_mail
        elif claim is not None and person.email not in (None, claim):
            _invalid(
                item,
                "person.external_id",
                f"Given to another new person in this batch ({claim}).",
            )
        elif person.email is None and claim is None:
            _invalid(
                item,
                "person.email",
                f"No lead has external_id {external!r}: the first event of a new person "
                "needs their email.",
            )
        else:
            email = person.email or claim or ""
            if person.email:
                new_people.setdefault(email, person)
            waiting.append((item, event, email))

    # A new person is created with the external id the batch gives them, even when their
    # first event carried only the email.
    for external_id, email in claimed.items():
        first = new_people.get(email)
        if first is not None and first.external_id is None:
            new_people[email] = dataclasses.replace(first, external_id=external_id)
    _external_ids_attach({lead.id: external_id for external_id, lead in attach.items()})
    created = _people_create(new_people.values()) if new_people else {}
    # TRIGGERS: a new person at a known account is account evidence (a new contact), which
    # re-qualifies their engaged colleagues (scoring decides who counts as engaged); on commit,
    # so a deadlock retry that rolls this back sends nothing.
    account_evidence_on_commit(
        EvidenceArrival(account_id=lead.account_id, kind=KIND_NEW_CONTACT, record_id=lead.id)
        for lead in created.values()
        if lead.account_id is not None
    )
    for item, event, email in waiting:
        lead = created.get(email)
        if lead is None:
            _invalid(
                item,
                "person",
                "Could not create this person: their external_id was taken by another lead "
                "meanwhile. Send the event again.",
            )
        else:
            leads[id(event)] = lead
    # Counted as "not found before": one created meanwhile by a concurrent request is
    # counted by both; the figure is a report, not an invariant.
    return leads, len(created)


def _invalid(item: IngestItem, path: str, message: str) -> None:
    item.status = ItemStatus.INVALID
    item.errors.setdefault(path, []).append(message)


def _external_ids_attach(attach: dict[int, str]) -> None:
    # Rare (the first event carrying both keys for a person known by email), so row by row,
    # each in a savepoint: a concurrent request may have given the id to someone else.
    for lead_id, external_id in attach.items():
        try:
            with transaction.atomic():
                Lead.objects.filter(pk=lead_id, external_id__isnull=True).update(
                    external_id=external_id
                )
        except IntegrityError:
            logger.info(
                "external_id %r was taken meanwhile; lead %s keeps none", external_id, lead_id
            )


def _people_create(people: Iterable[PersonIn]) -> dict[str, _LeadRow]:
    """Create the new people (one INSERT), matched to their accounts; the leads by email.

    A person created by a concurrent request meanwhile is found rather than created twice
    (ON CONFLICT DO NOTHING, then one SELECT by email).
    """
    # In email order: concurrent batches creating the same people then wait on each other's
    # unique-index entries in one order, never in a cycle.
    people = sorted((person for person in people if person.email), key=lambda p: p.email or "")
    accounts = accounts_match_for_people(people)
    now = timezone.now()
    if _on_postgres():
        _leads_insert_postgres(people, accounts, now=now)
    else:
        Lead.objects.bulk_create(
            [
                Lead(
                    email=person.email or "",
                    external_id=person.external_id,
                    name=person.name,
                    title=person.title,
                    source=LEAD_SOURCE,
                    account_id=accounts.get(person.email or ""),
                    attributes=_lead_attributes(person),
                    created_at=now,
                )
                for person in people
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
    return _leads_by("email", {person.email for person in people if person.email})


def _lead_attributes(person: PersonIn) -> dict[str, str]:
    return {"company_domain": person.company_domain} if person.company_domain else {}


# The columns a new person fills; every other column of the lead gets its model default.
_LEAD_ARRAYS = (
    ("email", "text"),
    ("external_id", "text"),
    ("name", "text"),
    ("title", "text"),
    ("account_id", "bigint"),
    ("attributes", "jsonb"),
)


def _leads_insert_postgres(
    people: list[PersonIn], accounts: dict[str, int], *, now: datetime
) -> None:
    arrays: list[list[Any]] = [[] for _ in _LEAD_ARRAYS]
    for person in people:
        values = (
            person.email,
            person.external_id,
            person.name,
            person.title,
            accounts.get(person.email or ""),
            json.dumps(_lead_attributes(person)),
        )
        for array, value in zip(arrays, values, strict=True):
            array.append(value)
    # Defaults live in the model, not the table (Django does not declare db_default here), so
    # the statement spells each out: one scalar parameter per remaining NOT NULL column.
    given = {name for name, _ in _LEAD_ARRAYS}
    defaults: list[tuple[str, Any]] = []
    for model_field in Lead._meta.concrete_fields:
        if model_field.primary_key or model_field.attname in given:
            continue
        if getattr(model_field, "auto_now", False) or model_field.attname == "created_at":
            default: Any = now
        elif model_field.attname == "source":
            default = LEAD_SOURCE
        else:
            default = model_field.get_default()
        if default is None and model_field.null:
            continue
        defaults.append((model_field.column, model_field.get_db_prep_save(default, connection)))
    columns = [name for name, _ in _LEAD_ARRAYS] + [column for column, _ in defaults]
    unnest = ", ".join(f"%s::{'text' if kind == 'jsonb' else kind}[]" for _, kind in _LEAD_ARRAYS)
    selected = [
        f"u.{name}::jsonb" if kind == "jsonb" else f"u.{name}" for name, kind in _LEAD_ARRAYS
    ] + ["%s"] * len(defaults)
    sql = (
        f"INSERT INTO {Lead._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(selected)} "
        f"FROM unnest({unnest}) AS u({', '.join(name for name, _ in _LEAD_ARRAYS)}) "
        "ON CONFLICT DO NOTHING"
    )
    # Parameters in the order they appear: the SELECT list's defaults, then the arrays.
    _pg_fetch(sql, [value for _, value in defaults] + arrays)


def accounts_match_for_people(people: Iterable[PersonIn]) -> dict[str, int]:
    """The account id of each person (by email) that matches one, in one query.

    The rule of `accounts.services.account_match_for_email`, for many at once: the email's
    domain or its nearest parent naming an account; free-mail never matches. The
    `company_domain` a person gives is tried after their email's domain (a subsidiary's
    address, the group's account), but never for a free-mail address: anyone can type a
    company into a form, while a company address is evidence.
    """
    candidates: dict[str, list[str]] = {}
    for person in people:
        if not person.email:
            continue
        domain = email_domain(person.email)
        if is_free_mail(domain, settings.LEADQUAL_FREE_MAIL_DOMAINS_EXTRA):
            continue
        found = domain_candidates(domain)
        if person.company_domain and not is_free_mail(
            person.company_domain, settings.LEADQUAL_FREE_MAIL_DOMAINS_EXTRA
        ):
            found += [d for d in domain_candidates(person.company_domain) if d not in found]
        candidates[person.email] = found
    wanted = {domain for found in candidates.values() for domain in found}
    if not wanted:
        return {}
    if _on_postgres():
        accounts = dict(
            _pg_fetch(
                f"SELECT domain, id FROM {Account._meta.db_table} WHERE domain = ANY(%s::text[])",
                [list(wanted)],
            )
        )
    else:
        accounts = dict(Account.objects.filter(domain__in=list(wanted)).values_list("domain", "pk"))
    matched = {}
    for email, found in candidates.items():
        for domain in found:
            if domain in accounts:
                matched[email] = accounts[domain]
                break
    return matched


def _touchpoints_insert(rows: list[tuple[EventIn, _LeadRow]], *, now: datetime) -> dict[str, int]:
    """Insert the touchpoints, skipping external ids already stored; {external_id: new id}."""
    if not rows:
        return {}
    if connection.vendor == "postgresql":
        return _touchpoints_insert_postgres(rows, now=now)
    # Elsewhere (SQLite: tests, the embedded default) writers are serialised, so the ids
    # absent before the insert are exactly those it stored.
    before = set(_touchpoints_stored(e.external_id for e, _ in rows))
    Touchpoint.objects.bulk_create(
        [
            Touchpoint(
                lead_id=lead.id,
                account_id=lead.account_id,
                kind=event.kind,
                occurred_at=event.occurred_at,
                url=event.url,
                page_category=event.page_category,
                duration_seconds=event.duration_seconds,
                form_type=event.form_type,
                text=event.text,
                external_id=event.external_id,
                properties=event.properties,
                created_at=now,
            )
            for event, lead in rows
            if event.external_id not in before
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    stored = _touchpoints_stored(e.external_id for e, _ in rows if e.external_id not in before)
    return {external_id: pk for external_id, (pk, _) in stored.items()}


_TOUCHPOINT_COLUMNS = (
    "lead_id, account_id, kind, occurred_at, url, page_category, duration_seconds, "
    "form_type, text, external_id, properties"
)
# The fallback's staging table, per connection, emptied at each commit: COPY fills it, one
# INSERT ... SELECT moves the rows into the real table, skipping external ids stored meanwhile.
_STAGING_TABLE = "leadqual_ingest_touchpoint"
_STAGING_SQL = f"""
    CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING_TABLE} (
        lead_id bigint, account_id bigint, kind text, occurred_at timestamptz, url text,
        page_category text, duration_seconds integer, form_type text, text text,
        external_id text, properties jsonb
    ) ON COMMIT DELETE ROWS
"""
_MOVE_SQL = f"""
    INSERT INTO accounts_touchpoint ({_TOUCHPOINT_COLUMNS}, created_at)
    SELECT {_TOUCHPOINT_COLUMNS}, %s FROM {_STAGING_TABLE} ORDER BY external_id
    ON CONFLICT (external_id) DO NOTHING
    RETURNING external_id, id
"""


def _copy_values(event: EventIn, lead: _LeadRow) -> tuple[Any, ...]:
    return (
        lead.id,
        lead.account_id,
        event.kind,
        event.occurred_at,
        event.url,
        event.page_category,
        event.duration_seconds,
        event.form_type,
        event.text,
        event.external_id,
        event.properties_json,
    )


def _touchpoints_insert_postgres(
    rows: list[tuple[EventIn, _LeadRow]], *, now: datetime
) -> dict[str, int]:
    """COPY straight into the table, with ids drawn from its sequence beforehand (so nothing
    needs reading back). COPY has no ON CONFLICT: when a concurrent request stored one of the
    external ids since they were looked up, the COPY fails in its savepoint and the rows go
    through the staging table instead.

    COPY rather than a multi-row INSERT: psycopg formats COPY rows in C, where binding eleven
    10,000-item arrays runs in Python and costs more than the insert itself.
    """
    import psycopg

    table = Touchpoint._meta.db_table
    # In external id order: concurrent batches then wait on each other's index entries in
    # one order, never in a cycle.
    rows = sorted(rows, key=lambda row: row[0].external_id)
    ids = [
        int(pk)
        for (pk,) in _pg_fetch(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(rows)],
        )
    ]
    try:
        with (
            transaction.atomic(),
            connection.wrap_database_errors,
            psycopg.Cursor(connection.connection) as cursor,
            cursor.copy(f"COPY {table} (id, {_TOUCHPOINT_COLUMNS}, created_at) FROM STDIN") as copy,
        ):
            for pk, (event, lead) in zip(ids, rows, strict=True):
                copy.write_row((pk, *_copy_values(event, lead), now))
    except IntegrityError:
        return _touchpoints_insert_staged(rows, now=now)
    return {event.external_id: pk for pk, (event, _) in zip(ids, rows, strict=True)}


def _touchpoints_insert_staged(
    rows: list[tuple[EventIn, _LeadRow]], *, now: datetime
) -> dict[str, int]:
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_STAGING_SQL)
        # The staging table empties on commit; a savepoint rolled back may leave rows behind.
        cursor.execute(f"TRUNCATE {_STAGING_TABLE}")
        with cursor.copy(f"COPY {_STAGING_TABLE} ({_TOUCHPOINT_COLUMNS}) FROM STDIN") as copy:
            for event, lead in rows:
                copy.write_row(_copy_values(event, lead))
        cursor.execute(_MOVE_SQL, [now])
        inserted = dict(cursor.fetchall())
        cursor.execute(f"TRUNCATE {_STAGING_TABLE}")
        return inserted
