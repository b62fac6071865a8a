"""The incremental pull: Salesforce records into leadqual's CRM tables, object after object.

Per object (parents first, so that references resolve):

1. ``SELECT <fields> FROM <Obj> WHERE SystemModstamp > <watermark - lookback>
   ORDER BY SystemModstamp, Id`` through queryAll, so deleted records come too (IsDeleted) and
   are deleted or unlinked here. A first pull has no WHERE: everything.
2. ``SELECT COUNT()`` of the same window first; above SALESFORCE_PULL_BULK_THRESHOLD records a
   Bulk API 2.0 queryAll job reads it instead of REST pages.
3. Each page (SALESFORCE_PULL_PAGE_SIZE records) is applied in its own transaction, which also
   moves the object's watermark (``SalesforceSyncState``). A crash between two pages leaves the
   watermark at the last page applied; the next pull reads from there. Every write is an
   idempotent upsert by Salesforce id, so the records read twice change nothing.
4. A record whose mapped values equal what is stored is counted ``unchanged`` and not written:
   leadqual's own push (score, tier, brief, reasons, owner) bumps SystemModstamp on every lead
   it writes, and must not come back as new work. Only a change to a lead's evidence (its
   email, name, title, source, country, status, account or attributes) marks it for
   re-qualification, as does a new or changed touchpoint, the way the event API does.

The pull does not record a ``SalesforceSyncRun``: the command does that around it. It keeps each
object's ``SalesforceSyncState`` (watermark, last run, status, counts, error).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from accounts.account_feeds import (
    MAX_BATCH,
    FeedResult,
    account_events_store,
    technologies_store,
)
from accounts.events import PersonIn
from accounts.ingest import accounts_match_for_people, events_ingested_notify
from accounts.models import (
    Account,
    Lead,
    Opportunity,
    SalesforceSyncState,
    Stakeholder,
    SyncRunStatus,
    Touchpoint,
)
from accounts.salesforce import mapping
from accounts.salesforce.account_feed_fields import (
    SALESFORCE_SOURCE,
    AccountFeedFields,
    account_feed_values,
)
from accounts.salesforce.client import (
    ApiUsage,
    SalesforceClient,
    SObjectDescribe,
    SObjectRecord,
    soql_datetime,
)
from accounts.salesforce.errors import (
    SalesforceBulkJobFailed,
    SalesforceError,
    SalesforceLimitExceeded,
)
from accounts.salesforce.mapping import MappingError

logger = logging.getLogger(__name__)

# Parents first: a Contact needs its Account, a Task its Lead or Contact.
DEFAULT_OBJECTS = ("Account", "Contact", "Lead", "Opportunity", "Task", "Event")
# Selected whatever a handler asks for: the cursor, the key, the delete flag.
SYSTEM_FIELDS = ("Id", "IsDeleted", "SystemModstamp")
# Field types copied into `attributes` from the org's own (custom) fields. Long text, ids,
# addresses, emails and phone numbers make no model feature (and some are personal data).
ATTRIBUTE_FIELD_TYPES = frozenset(
    {"string", "picklist", "multipicklist", "boolean", "int", "double", "currency", "percent",
     "date", "datetime"}
)  # fmt: skip
ErrorDict = dict[str, Any]


@dataclass
class PullCounts:
    """What a pull did to one object's records. A record with an error is also ``skipped``."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    errors: list[ErrorDict] = field(default_factory=list)

    def error(self, object_name: str, salesforce_id: str, message: str) -> None:
        self.errors.append({"object": object_name, "id": salesforce_id, "message": message})
        self.skipped += 1

    def add(self, other: PullCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.skipped += other.skipped
        self.errors.extend(other.errors)

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "skipped": self.skipped,
            "errors": len(self.errors),
        }


@dataclass
class PullReport:
    counts: dict[str, PullCounts] = field(default_factory=dict)
    # Per-record errors of every object, then the error that ended the run, if one did.
    errors: list[ErrorDict] = field(default_factory=list)
    # The org's API usage crossed SALESFORCE_API_USAGE_STOP_SHARE: stopped on purpose.
    stopped: bool = False
    api_usage: ApiUsage | None = None

    @property
    def status(self) -> str:
        """The SalesforceSyncRun status this report ends a run with."""
        if self.stopped:
            return SyncRunStatus.STOPPED
        return SyncRunStatus.OK

    def counts_dict(self) -> dict[str, dict[str, int]]:
        return {name: counts.as_dict() for name, counts in self.counts.items()}


class PullHandler(Protocol):
    """Applies one Salesforce object's records. Both methods run inside the page's transaction
    and must be idempotent: a page may be applied again after a crash."""

    object_name: str
    fields: Sequence[str]  # the SOQL select list (Id, IsDeleted, SystemModstamp are added)

    def apply(self, records: Sequence[Mapping[str, Any]], *, dry_run: bool) -> PullCounts: ...

    def delete(self, salesforce_ids: Sequence[str], *, dry_run: bool) -> int: ...


# --- the run ---------------------------------------------------------------------------------


def salesforce_pull(
    *,
    client: SalesforceClient,
    objects: Sequence[str] | None = None,
    dry_run: bool = False,
    handlers: Mapping[str, PullHandler] | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
    now: datetime | None = None,
) -> PullReport:
    """Pull what changed in Salesforce since each object's watermark.

    ``handlers`` adds or replaces handlers by object name (e.g. {"User": RepPullHandler()});
    added objects are pulled before the default ones. ``objects`` picks some (in that same
    order whatever order they are given in). A dry run does everything in one transaction and
    rolls it back: its counts are real, nothing is kept, watermarks included.

    Stops cleanly (``report.stopped``) when the org's API usage crosses the configured share,
    keeping every page applied. Any other failure (a Salesforce fault the client's retries did
    not cure, a database error) is recorded on the object's SalesforceSyncState and raised;
    the pages applied before it are kept.
    """
    registry: dict[str, PullHandler] = {**default_handlers(), **(handlers or {})}
    extra = [name for name in (handlers or {}) if name not in DEFAULT_OBJECTS]
    order = [*extra, *DEFAULT_OBJECTS]
    if objects is None:
        names = order
    else:
        unknown = sorted(set(objects) - set(registry))
        if unknown:
            raise ValueError(
                f"No pull for {', '.join(unknown)}; known objects: {', '.join(order)}."
            )
        names = [name for name in order if name in set(objects)]
    now = now or timezone.now()
    report = PullReport()
    with transaction.atomic() if dry_run else nullcontext():
        for name in names:
            handler = registry[name]
            counts = report.counts.setdefault(name, PullCounts())
            try:
                _pull_object(client, handler, counts, dry_run=dry_run, progress=progress)
            except SalesforceLimitExceeded as error:
                logger.warning("Salesforce pull stopped at %s: %s", name, error)
                report.stopped = True
                _state_finish(name, counts, now=now, status="stopped", error=str(error))
                report.errors.extend(counts.errors)
                report.errors.append({"object": name, "id": "", "message": str(error)})
                break
            except Exception as error:
                # Recorded on the object, then raised: the caller records the failed run. Later
                # objects refer to this one, so the run ends here; the next one resumes from
                # the watermarks.
                message = str(error) if isinstance(error, SalesforceError) else repr(error)
                try:
                    with transaction.atomic():
                        _state_finish(name, counts, now=now, status="failed", error=message)
                except Exception:
                    logger.exception("Could not record the failed pull of %s", name)
                raise
            _state_finish(name, counts, now=now, status="ok", error="")
            report.errors.extend(counts.errors)
        if dry_run:
            transaction.set_rollback(True)
    report.api_usage = client.api_usage
    return report


def default_handlers() -> dict[str, PullHandler]:
    return {
        "Account": AccountPullHandler(),
        "Contact": ContactPullHandler(),
        "Lead": LeadPullHandler(),
        "Opportunity": OpportunityPullHandler(),
        "Task": ActivityPullHandler("Task"),
        "Event": ActivityPullHandler("Event"),
    }


def _pull_object(
    client: SalesforceClient,
    handler: PullHandler,
    counts: PullCounts,
    *,
    dry_run: bool,
    progress: Callable[[str, int, int | None], None] | None,
) -> None:
    name = handler.object_name
    prepare = getattr(handler, "prepare", None)
    if callable(prepare):
        prepare(client.describe(name))
    state, _ = SalesforceSyncState.objects.get_or_create(object_name=name)
    where = ""
    if state.watermark is not None:
        lookback = timedelta(seconds=settings.SALESFORCE_PULL_LOOKBACK_SECONDS)
        where = f" WHERE SystemModstamp > {soql_datetime(state.watermark - lookback)}"
    select = ", ".join(select_list(handler.fields))
    soql = f"SELECT {select} FROM {name}{where} ORDER BY SystemModstamp, Id"
    total = client.count(f"SELECT COUNT() FROM {name}{where}", include_deleted=True)
    if progress is not None:
        progress(name, 0, total)
    page_size = settings.SALESFORCE_PULL_PAGE_SIZE
    use_bulk = total > settings.SALESFORCE_PULL_BULK_THRESHOLD
    done = 0
    last: list[SObjectRecord] = []
    for records in _pages(client, soql, page_size=page_size, bulk=use_bulk):
        with transaction.atomic():
            live = [r for r in records if not r.get("IsDeleted")]
            deleted = [str(r["Id"]) for r in records if r.get("IsDeleted")]
            if live:
                counts.add(handler.apply(live, dry_run=dry_run))
            if deleted:
                counts.deleted += handler.delete(deleted, dry_run=dry_run)
            _advance(state, safe_watermark(records, last_page=False))
        last = records or last
        done += len(records)
        if progress is not None:
            progress(name, done, total)
    # Every page is applied: the last page's own top stamp is complete now. (Not known while
    # applying it without reading one page ahead, and a crash while reading ahead would
    # then lose the page held.)
    _advance(state, safe_watermark(last, last_page=True))


def _advance(state: SalesforceSyncState, mark: datetime | None) -> None:
    """Move the watermark forward (never back: a lookback re-read must not lower it)."""
    if mark is not None and (state.watermark is None or mark > state.watermark):
        state.watermark = mark
        state.save(update_fields=["watermark"])


def _pages(
    client: SalesforceClient, soql: str, *, page_size: int, bulk: bool
) -> Iterator[list[SObjectRecord]]:
    if bulk:
        applied = False
        try:
            # Bulk API 2.0 queryAll; the ORDER BY holds there too, so the watermark logic is
            # the same. Its result pages are cut into pull pages of page_size.
            chunk: list[SObjectRecord] = []
            for record in client.bulk_query(soql, include_deleted=True):
                chunk.append(record)
                if len(chunk) >= page_size:
                    applied = True
                    yield chunk
                    chunk = []
            if chunk or not applied:
                yield chunk
            return
        except SalesforceBulkJobFailed as error:
            if applied:
                raise
            # Some objects or fields are refused by Bulk; REST reads the same records.
            logger.warning("Bulk query failed (%s); reading through REST instead", error)
    for page in client.query_pages(soql, include_deleted=True, batch_size=page_size):
        yield page.records


def select_list(fields: Iterable[str]) -> list[str]:
    """The handler's fields with the system fields first, each once (SOQL is case-blind)."""
    out: list[str] = []
    seen: set[str] = set()
    for name in (*SYSTEM_FIELDS, *fields):
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def safe_watermark(records: Sequence[Mapping[str, Any]], *, last_page: bool) -> datetime | None:
    """The highest SystemModstamp of which every record has been applied with this page.

    Records come in (SystemModstamp, Id) order and SystemModstamp has second precision, so
    several records often share one value, and a page can end in the middle of them: the rest
    come on the next page. Stamps below the page's last one are complete (nothing with a lower
    stamp can follow); the last one is complete only on the last page. Stopping the watermark
    there means the next pull (``>`` watermark minus the lookback) reads the rest of the tied
    records again even with no lookback; those already applied are upserts that change
    nothing. The lookback itself covers transactions that commit after a later stamp was read.
    """
    stamps = [r["SystemModstamp"] for r in records if r.get("SystemModstamp") is not None]
    if not stamps:
        return None
    if last_page:
        return max(stamps)
    top = stamps[-1]
    below = [stamp for stamp in stamps if stamp < top]
    return max(below) if below else None


def _state_finish(
    object_name: str, counts: PullCounts, *, now: datetime, status: str, error: str
) -> None:
    SalesforceSyncState.objects.update_or_create(
        object_name=object_name,
        defaults={
            "last_run_at": now,
            "last_status": status,
            "last_error": error[:5000],
            "last_counts": counts.as_dict(),
        },
    )


# --- shared helpers for the handlers ---------------------------------------------------------


def _assign(instance: models.Model, values: Mapping[str, Any]) -> set[str]:
    """Set the values that differ; the names of those that did."""
    changed = set()
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.add(name)
    return changed


M = TypeVar("M", bound=models.Model)


class _PageWrites(Generic[M]):
    """One page's creates and updates of one model, counted and written in two statements.

    `stamp`: the timestamp field an update also sets (the row's updated_at), so that the
    readers that look for recently changed rows see it; None for models without one.
    """

    def __init__(
        self, model: type[M], counts: PullCounts, *, batch_size: int = 500, stamp: str = ""
    ) -> None:
        self.model, self.counts, self.batch_size, self.stamp = model, counts, batch_size, stamp
        self.new: list[M] = []
        self.changed: list[M] = []
        self._fields: set[str] = set()
        self._now = timezone.now()

    def create(self, row: M) -> None:
        self.new.append(row)

    def update(self, row: M, values: Mapping[str, Any]) -> set[str]:
        """Apply `values`; count the row updated or unchanged; the fields that changed."""
        changed = _assign(row, values)
        if not changed:
            self.counts.unchanged += 1
            return changed
        if self.stamp:
            setattr(row, self.stamp, self._now)
            self._fields.add(self.stamp)
        self.changed.append(row)
        self._fields |= changed
        self.counts.updated += 1
        return changed

    def save(self) -> None:
        self.model._default_manager.bulk_create(self.new, batch_size=self.batch_size)
        self.counts.created += len(self.new)
        if self.changed:
            self.model._default_manager.bulk_update(
                self.changed, sorted(self._fields), batch_size=self.batch_size
            )


def _mapped(
    records: Sequence[Mapping[str, Any]],
    to_fields: Callable[[Mapping[str, Any]], dict[str, Any]],
    *,
    counts: PullCounts,
    object_name: str,
) -> list[tuple[str, dict[str, Any]]]:
    """(Salesforce id, our fields) of each record the mapping accepts; a record it refuses is
    counted as an error with its id and reason, and the page goes on without it."""
    rows = []
    for record in records:
        sfid = str(record["Id"])
        try:
            rows.append((sfid, to_fields(record)))
        except MappingError as error:
            counts.error(object_name, sfid, str(error))
    return rows


def _merged(current: Mapping[str, Any] | None, incoming: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON field with Salesforce's keys set (None: removed) and every other key kept, so
    what other sources wrote (a tracker's company_domain) survives a pull."""
    out = dict(current or {})
    for key, value in incoming.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _attribute_fields(describe: SObjectDescribe, exclude: Iterable[str] = ()) -> tuple[str, ...]:
    excluded = {name.lower() for name in exclude if name}
    return tuple(
        f.name
        for f in describe.fields.values()
        if f.custom
        and not f.external_id
        and f.type in ATTRIBUTE_FIELD_TYPES
        and f.name.lower() not in excluded
    )


def _salesforce_map(model: type[models.Model], ids: Iterable[str | None]) -> dict[str, Any]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    manager = model._default_manager
    return {obj.salesforce_id: obj for obj in manager.filter(salesforce_id__in=wanted)}  # type: ignore[attr-defined]


def _leads_mark(lead_ids: Iterable[int], *, dry_run: bool) -> None:
    """Mark leads for re-qualification and hand them to LEADQUAL_AFTER_INGEST on commit."""
    ids = sorted(set(lead_ids))
    if not ids:
        return
    # Locked in id order like the event ingest does, so the two never deadlock on shared leads.
    locked = list(
        Lead.objects.select_for_update(no_key=True)
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    Lead.objects.filter(pk__in=locked).update(requalify_requested_at=timezone.now())
    if not dry_run:
        transaction.on_commit(lambda: events_ingested_notify(locked), robust=True)


def _created_at(value: Any) -> datetime:
    return value if isinstance(value, datetime) else timezone.now()


def _with_custom_fields(base: Sequence[str], custom: Sequence[str]) -> tuple[str, ...]:
    return (*base, *(name for name in custom if name not in base))


# --- Account → accounts.Account ------------------------------------------------------------


class AccountPullHandler:
    """Accounts by Salesforce id, or by domain (the Website's) when an account of that domain
    exists here without one. A deleted Salesforce account is unlinked, not deleted: its
    leads, intent signals and events came from elsewhere too."""

    object_name = "Account"

    def __init__(self) -> None:
        self.custom_fields: tuple[str, ...] = ()
        self.fields: Sequence[str] = mapping.ACCOUNT_FIELDS
        self.feed_fields = AccountFeedFields()

    def prepare(self, describe: SObjectDescribe) -> None:
        self.feed_fields = AccountFeedFields(
            fiscal_year_start=settings.SALESFORCE_PULL_FIELD_FISCAL_YEAR_START,
            renewal_date=settings.SALESFORCE_PULL_FIELD_RENEWAL_DATE,
            incumbent_vendor=settings.SALESFORCE_PULL_FIELD_INCUMBENT_VENDOR,
            technologies=settings.SALESFORCE_PULL_FIELD_TECHNOLOGIES,
        ).present(describe.fields)
        # The feed fields become model fields, events and technologies, not attributes (a
        # semicolon list or a renewal date makes no categorical feature).
        self.custom_fields = _attribute_fields(describe, exclude=self.feed_fields.names())
        self.fields = _with_custom_fields(
            mapping.ACCOUNT_FIELDS, (*self.custom_fields, *self.feed_fields.names())
        )

    def apply(self, records: Sequence[Mapping[str, Any]], *, dry_run: bool) -> PullCounts:
        counts = PullCounts()
        rows = _mapped(
            records,
            lambda record: mapping.account_fields(record, custom_fields=self.custom_fields),
            counts=counts,
            object_name=self.object_name,
        )
        existing = _salesforce_map(Account, (sfid for sfid, _ in rows))
        domains = {v["domain"] for _, v in rows if v["domain"]}
        domains |= {mapping.synthetic_domain(sfid) for sfid, _ in rows}
        by_domain = {a.domain: a for a in Account.objects.filter(domain__in=domains)}
        claimed: set[str] = set()
        linked: set[int] = set()
        writes = _PageWrites(Account, counts, stamp="updated_at")
        feeds = self._feed_values(records, {sfid for sfid, _ in rows}, counts)
        for sfid, v in rows:
            account = existing.get(sfid)
            synthetic = mapping.synthetic_domain(sfid)
            if account is None:
                for domain in (v["domain"], synthetic):
                    holder = by_domain.get(domain) if domain else None
                    if (
                        holder is not None
                        and holder.salesforce_id is None
                        and holder.pk not in linked
                    ):
                        account = holder
                        linked.add(holder.pk)
                        break
            domain = self._domain(v["domain"], synthetic, account, by_domain, claimed)
            claimed.add(domain)
            values = {
                "name": v["name"],
                "domain": domain,
                "industry": v["industry"],
                "employee_count": v["employee_count"],
                "annual_revenue": v["annual_revenue"],
                "country": v["country"],
                "state": v["state"],
                "region": v["region"],
            }
            if self.feed_fields.fiscal_year_start:
                # Only when the org has the field: otherwise a month typed in the admin stays.
                values["fiscal_year_start_month"] = feeds[sfid].fiscal_year_start_month
            if account is None:
                writes.create(
                    Account(
                        salesforce_id=sfid,
                        attributes=_merged({}, v["custom"]),
                        created_at=_created_at(v["created_at"]),
                        **values,
                    )
                )
                continue
            values["salesforce_id"] = sfid
            values["attributes"] = _merged(account.attributes, v["custom"])
            writes.update(account, values)
        writes.save()
        self._feeds_store(feeds, counts)
        return counts

    def _feed_values(
        self, records: Sequence[Mapping[str, Any]], wanted: set[str], counts: PullCounts
    ) -> dict[str, Any]:
        out = {}
        now = timezone.now()
        for record in records:
            sfid = str(record["Id"])
            if sfid not in wanted:
                continue
            stamp = record.get("SystemModstamp")
            seen_at = min(stamp, now) if isinstance(stamp, datetime) else now
            out[sfid] = values = account_feed_values(
                record, self.feed_fields, salesforce_id=sfid, seen_at=seen_at
            )
            for problem in values.problems:
                counts.errors.append({"object": self.object_name, "id": sfid, "message": problem})
        return out

    def _feeds_store(self, feeds: Mapping[str, Any], counts: PullCounts) -> None:
        """The renewals and technologies through the feeds' store (after the accounts are
        written, in the page's transaction): a value pulled again is a duplicate, a bad one is
        an error on the account, which itself is stored."""
        events = [item for values in feeds.values() for item in values.events]
        technologies = [item for values in feeds.values() for item in values.technologies]
        for items, store, what in (
            (events, account_events_store, "contract renewal"),
            (technologies, technologies_store, "technology"),
        ):
            for start in range(0, len(items), MAX_BATCH):
                chunk = items[start : start + MAX_BATCH]
                result: FeedResult = store(items=chunk, default_source=SALESFORCE_SOURCE)
                for item in result.items:
                    if item.errors:
                        problems = "; ".join(
                            f"{name}: {' '.join(messages)}"
                            for name, messages in item.errors.items()
                        )
                        counts.errors.append(
                            {
                                "object": self.object_name,
                                "id": chunk[item.index]["account_salesforce_id"],
                                "message": f"{what}: {problems}",
                            }
                        )

    @staticmethod
    def _domain(
        wanted: str,
        synthetic: str,
        account: Account | None,
        by_domain: Mapping[str, Account],
        claimed: set[str],
    ) -> str:
        """The domain to store: the Website's when no other account holds it; else the one
        the account has; else one made from the Salesforce id. Two Salesforce accounts often
        share a website (subsidiaries): the first keeps the domain that leads match on."""
        if wanted and wanted not in claimed:
            holder = by_domain.get(wanted)
            if holder is None or (account is not None and holder.pk == account.pk):
                return wanted
        return account.domain if account is not None else synthetic

    def delete(self, salesforce_ids: Sequence[str], *, dry_run: bool) -> int:
        return Account.objects.filter(salesforce_id__in=salesforce_ids).update(
            salesforce_id=None, updated_at=timezone.now()
        )


# --- Contact → accounts.Stakeholder --------------------------------------------------------


class ContactPullHandler:
    """Contacts as stakeholders of their account, with the committee role their title suggests
    (until a person sets it), linked to the lead of the same email when there is one."""

    object_name = "Contact"
    fields: Sequence[str] = mapping.CONTACT_FIELDS

    def apply(self, records: Sequence[Mapping[str, Any]], *, dry_run: bool) -> PullCounts:
        counts = PullCounts()
        rows = _mapped(records, mapping.contact_fields, counts=counts, object_name=self.object_name)
        accounts = _salesforce_map(Account, (v["account_salesforce_id"] for _, v in rows))
        existing = _salesforce_map(Stakeholder, (sfid for sfid, _ in rows))
        emails = {v["email"] for _, v in rows if v["email"]}
        by_email = dict(Lead.objects.filter(email__in=emails).values_list("email", "pk"))
        converted = dict(
            Lead.objects.filter(
                outcome_attributes__salesforce_converted_contact_id__in=[s for s, _ in rows]
            ).values_list("outcome_attributes__salesforce_converted_contact_id", "pk")
        )
        account_ids = {a.pk for a in accounts.values()}
        taken = {
            (account_id, lead_id): pk
            for pk, account_id, lead_id in Stakeholder.objects.filter(
                account_id__in=account_ids, lead__isnull=False
            ).values_list("pk", "account_id", "lead_id")
        }
        writes = _PageWrites(Stakeholder, counts)
        for sfid, v in rows:
            account = accounts.get(v["account_salesforce_id"])
            if account is None:
                counts.error(
                    self.object_name,
                    sfid,
                    f"AccountId {v['account_salesforce_id']} is not an account pulled here",
                )
                continue
            stakeholder = existing.get(sfid)
            lead_id = (
                (stakeholder.lead_id if stakeholder is not None else None)
                or converted.get(sfid)
                or by_email.get(v["email"])
            )
            holder = taken.get((account.pk, lead_id)) if lead_id else None
            if holder is not None and (stakeholder is None or holder != stakeholder.pk):
                lead_id = None  # that lead is another stakeholder of this account already
            if lead_id:
                taken[(account.pk, lead_id)] = stakeholder.pk if stakeholder else -1
            values: dict[str, Any] = {
                "account_id": account.pk,
                "lead_id": lead_id,
                "name": v["name"],
                "email": v["email"],
                "title": v["title"],
            }
            if stakeholder is None:
                writes.create(
                    Stakeholder(
                        salesforce_id=sfid,
                        committee_role=v["committee_role"],
                        role_inferred=True,
                        created_at=_created_at(v["created_at"]),
                        **values,
                    )
                )
                continue
            if stakeholder.role_inferred:
                values["committee_role"] = v["committee_role"]
            writes.update(stakeholder, values)
        writes.save()
        return counts

    def delete(self, salesforce_ids: Sequence[str], *, dry_run: bool) -> int:
        deleted, _ = Stakeholder.objects.filter(salesforce_id__in=salesforce_ids).delete()
        return deleted


# --- Lead → accounts.Lead ------------------------------------------------------------------


class LeadPullHandler:
    """Leads by Salesforce id, or by email when a lead of that email exists here without one
    (the web tracker saw the person first).

    What leadqual's push writes (the SALESFORCE_PUSH_FIELD_* fields) is never read back; the
    owner it writes is kept in outcome_attributes, which asks for no re-qualification. A
    deleted Salesforce lead is unlinked, not deleted: its touchpoints and qualifications stay.
    """

    object_name = "Lead"

    def __init__(self) -> None:
        self.custom_fields: tuple[str, ...] = ()
        self.fields: Sequence[str] = mapping.LEAD_FIELDS

    def prepare(self, describe: SObjectDescribe) -> None:
        pushed = [
            getattr(settings, name, "")
            for name in (
                "SALESFORCE_PUSH_FIELD_SCORE",
                "SALESFORCE_PUSH_FIELD_TIER",
                "SALESFORCE_PUSH_FIELD_BRIEF",
                "SALESFORCE_PUSH_FIELD_TOP_REASONS",
            )
        ]
        self.custom_fields = _attribute_fields(describe, exclude=pushed)
        self.fields = _with_custom_fields(mapping.LEAD_FIELDS, self.custom_fields)

    def apply(self, records: Sequence[Mapping[str, Any]], *, dry_run: bool) -> PullCounts:
        counts = PullCounts()
        rows = _mapped(
            records,
            lambda record: mapping.lead_fields(record, custom_fields=self.custom_fields),
            counts=counts,
            object_name=self.object_name,
        )
        existing = _salesforce_map(Lead, (sfid for sfid, _ in rows))
        by_email = {
            lead.email: lead
            for lead in Lead.objects.filter(email__in={v["email"] for _, v in rows})
        }
        converted_accounts = _salesforce_map(Account, (v["account_salesforce_id"] for _, v in rows))
        matched = accounts_match_for_people(
            PersonIn(
                email=v["email"],
                external_id=None,
                name="",
                title="",
                company_domain=v["company_domain"],
            )
            for _, v in rows
        )
        now = timezone.now()
        seen_emails: set[str] = set()
        linked: set[int] = set()
        to_mark: list[Lead] = []
        writes = _PageWrites(Lead, counts, stamp="updated_at")
        for sfid, v in rows:
            email = v["email"]
            lead = existing.get(sfid)
            holder = by_email.get(email)
            if email in seen_emails:
                counts.error(
                    self.object_name, sfid, f"Email {email} is on another lead of this page"
                )
                continue
            if lead is None and holder is not None:
                if holder.salesforce_id is None and holder.pk not in linked:
                    lead = holder
                    linked.add(holder.pk)
                else:
                    counts.error(
                        self.object_name,
                        sfid,
                        f"Email {email} belongs to lead {holder.salesforce_id or holder.pk} "
                        "already (a duplicate lead in Salesforce?)",
                    )
                    continue
            elif lead is not None and holder is not None and holder.pk != lead.pk:
                counts.error(self.object_name, sfid, f"Email {email} belongs to another lead")
                continue
            seen_emails.add(email)
            converted_account = converted_accounts.get(v["account_salesforce_id"])
            account_id = (
                (converted_account.pk if converted_account else None)
                or matched.get(email)
                or (lead.account_id if lead is not None else None)
            )
            values = {
                "email": email,
                "name": v["name"],
                "title": v["title"],
                "seniority": v["seniority"],
                "department": v["department"],
                "source": v["source"] or (lead.source if lead is not None else "salesforce"),
                "country": v["country"],
                "state": v["state"],
                "status": v["status"],
                "account_id": account_id,
                "attributes": _merged(lead.attributes if lead else None, v["attributes"]),
                "outcome_attributes": _merged(
                    lead.outcome_attributes if lead else None, v["outcome_attributes"]
                ),
                # The first moment seen converted or closed stays: Salesforce keeps only a date.
                "converted_at": None,
                "closed_at": None,
            }
            # The first moment seen converted or closed stays: Salesforce keeps only a date.
            if v["is_converted"]:
                values["converted_at"] = (lead.converted_at if lead else None) or v["converted_at"]
            if v["status"] == "closed":
                values["closed_at"] = (lead.closed_at if lead else None) or v["closed_hint"] or now
            if lead is None:
                lead = Lead(salesforce_id=sfid, created_at=_created_at(v["created_at"]), **values)
                writes.create(lead)
                # New and open, it needs a qualification; converted, it makes no new work.
                if not v["is_converted"]:
                    to_mark.append(lead)
                continue
            values["salesforce_id"] = sfid
            changed = writes.update(lead, values)
            evidence = changed & {*mapping.LEAD_EVIDENCE_FIELDS, "account_id", "salesforce_id"}
            if evidence and not v["is_converted"]:
                to_mark.append(lead)
        # requalify_requested_at is never among the fields written back: a mark the event
        # ingest (or a clear by a qualification) made since this page was read must stand.
        writes.save()
        _leads_mark((lead.pk for lead in to_mark), dry_run=dry_run)
        _stakeholders_link([*writes.new, *writes.changed])
        return counts

    def delete(self, salesforce_ids: Sequence[str], *, dry_run: bool) -> int:
        return Lead.objects.filter(salesforce_id__in=salesforce_ids).update(
            salesforce_id=None, updated_at=timezone.now()
        )


def _stakeholders_link(leads: Sequence[Lead]) -> None:
    """Contacts come before leads (they need their accounts), so a contact pulled before the
    lead it was converted from, or shares an email with, is linked to it here."""
    by_contact = {
        lead.outcome_attributes.get("salesforce_converted_contact_id"): lead.pk
        for lead in leads
        if lead.outcome_attributes.get("salesforce_converted_contact_id")
    }
    by_email = {lead.email: lead.pk for lead in leads}
    if not leads:
        return
    waiting = list(
        Stakeholder.objects.filter(lead__isnull=True).filter(
            models.Q(salesforce_id__in=list(by_contact)) | models.Q(email__in=list(by_email))
        )
    )
    if not waiting:
        return
    taken = set(
        Stakeholder.objects.filter(
            account_id__in={s.account_id for s in waiting}, lead__isnull=False
        ).values_list("account_id", "lead_id")
    )
    linked = []
    for stakeholder in waiting:
        lead_id = by_contact.get(stakeholder.salesforce_id) or by_email.get(stakeholder.email)
        if lead_id is None or (stakeholder.account_id, lead_id) in taken:
            continue
        taken.add((stakeholder.account_id, lead_id))
        stakeholder.lead_id = lead_id
        linked.append(stakeholder)
    Stakeholder.objects.bulk_update(linked, ["lead"], batch_size=500)


# --- Opportunity → accounts.Opportunity ----------------------------------------------------


class OpportunityPullHandler:
    """Deals with their outcome (stage, IsWon, IsClosed, Amount, CloseDate), linked to the
    lead they were converted from, or to the lead of their contact."""

    object_name = "Opportunity"
    fields: Sequence[str] = mapping.OPPORTUNITY_FIELDS

    def apply(self, records: Sequence[Mapping[str, Any]], *, dry_run: bool) -> PullCounts:
        counts = PullCounts()
        rows = _mapped(
            records, mapping.opportunity_fields, counts=counts, object_name=self.object_name
        )
        accounts = _salesforce_map(Account, (v["account_salesforce_id"] for _, v in rows))
        contacts = _salesforce_map(Stakeholder, (v["contact_salesforce_id"] for _, v in rows))
        existing = _salesforce_map(Opportunity, (sfid for sfid, _ in rows))
        converted = dict(
            Lead.objects.filter(
                outcome_attributes__salesforce_converted_opportunity_id__in=[s for s, _ in rows]
            ).values_list("outcome_attributes__salesforce_converted_opportunity_id", "pk")
        )
        writes = _PageWrites(Opportunity, counts)
        for sfid, v in rows:
            account = accounts.get(v["account_salesforce_id"])
            if v["account_salesforce_id"] and account is None:
                counts.error(
                    self.object_name,
                    sfid,
                    f"AccountId {v['account_salesforce_id']} is not an account pulled here",
                )
                continue
            opportunity = existing.get(sfid)
            contact = contacts.get(v["contact_salesforce_id"])
            lead_id = (
                converted.get(sfid)
                or (contact.lead_id if contact is not None else None)
                or (opportunity.lead_id if opportunity is not None else None)
            )
            values = {
                "account_id": account.pk if account is not None else None,
                "lead_id": lead_id,
                "name": v["name"],
                "stage": v["stage"],
                "amount": v["amount"],
                "is_closed": v["is_closed"],
                "is_won": v["is_won"],
                "closed_at": v["closed_at"],
            }
            if opportunity is None:
                writes.create(
                    Opportunity(
                        salesforce_id=sfid, created_at=_created_at(v["created_at"]), **values
                    )
                )
                continue
            if v["created_at"] is not None:
                values["created_at"] = v["created_at"]
            writes.update(opportunity, values)
        writes.save()
        return counts

    def delete(self, salesforce_ids: Sequence[str], *, dry_run: bool) -> int:
        deleted, _ = Opportunity.objects.filter(salesforce_id__in=salesforce_ids).delete()
        return deleted


# --- Task, Event → accounts.Touchpoint -----------------------------------------------------

_LEAD_PREFIX, _CONTACT_PREFIX, _ACCOUNT_PREFIX, _OPPORTUNITY_PREFIX = "00Q", "003", "001", "006"


class ActivityPullHandler:
    """Tasks and Events as touchpoints (external id ``salesforce:<Id>``), on the lead they name
    (WhoId), or on the account of the contact or record they name. Which activities count as
    the person's doing: ``mapping.activity_fields``; the rest are skipped (and a stored one
    that stops counting, say a call set back to open, is removed)."""

    def __init__(self, object_name: str) -> None:
        if object_name not in ("Task", "Event"):
            raise ValueError(f"Activities are Task or Event, not {object_name!r}")
        self.object_name = object_name
        self.fields: Sequence[str] = (
            mapping.TASK_FIELDS if object_name == "Task" else mapping.EVENT_FIELDS
        )

    def apply(self, records: Sequence[Mapping[str, Any]], *, dry_run: bool) -> PullCounts:
        counts = PullCounts()
        rows: list[tuple[str, dict[str, Any]]] = []
        dropped: list[str] = []
        for record in records:
            sfid = str(record["Id"])
            try:
                values = mapping.activity_fields(record, object_name=self.object_name)
            except MappingError as error:
                counts.error(self.object_name, sfid, str(error))
                continue
            if values is None:
                dropped.append(mapping.TOUCHPOINT_EXTERNAL_PREFIX + sfid)
            else:
                rows.append((sfid, values))
        if dropped:
            # Read first: a pull with nothing to remove must write nothing.
            stale = list(
                Touchpoint.objects.filter(external_id__in=dropped).values_list("pk", flat=True)
            )
            if stale:
                Touchpoint.objects.filter(pk__in=stale).delete()
            counts.deleted += len(stale)
            counts.skipped += len(dropped) - len(stale)
        refs = [v["who_salesforce_id"] for _, v in rows] + [
            v["what_salesforce_id"] for _, v in rows
        ]
        leads = {
            sfid: (pk, account_id)
            for sfid, pk, account_id in Lead.objects.filter(
                salesforce_id__in=[r for r in refs if r and r.startswith(_LEAD_PREFIX)]
            ).values_list("salesforce_id", "pk", "account_id")
        }
        contacts = {
            sfid: (lead_id, account_id)
            for sfid, lead_id, account_id in Stakeholder.objects.filter(
                salesforce_id__in=[r for r in refs if r and r.startswith(_CONTACT_PREFIX)]
            ).values_list("salesforce_id", "lead_id", "account_id")
        }
        accounts = dict(
            Account.objects.filter(
                salesforce_id__in=[r for r in refs if r and r.startswith(_ACCOUNT_PREFIX)]
            ).values_list("salesforce_id", "pk")
        )
        accounts.update(
            Opportunity.objects.filter(
                salesforce_id__in=[r for r in refs if r and r.startswith(_OPPORTUNITY_PREFIX)],
                account__isnull=False,
            ).values_list("salesforce_id", "account_id")
        )
        existing = {
            t.external_id: t
            for t in Touchpoint.objects.filter(external_id__in=[v["external_id"] for _, v in rows])
        }
        writes = _PageWrites(Touchpoint, counts, batch_size=1000)
        touched: set[int] = set()
        for sfid, v in rows:
            who, what = v["who_salesforce_id"], v["what_salesforce_id"]
            lead_id: int | None = None
            account_id: int | None = None
            if who and who in leads:
                lead_id, account_id = leads[who]
            elif who and who in contacts:
                lead_id, account_id = contacts[who]
            if lead_id is None and account_id is None and what:
                account_id = accounts.get(what)
            if lead_id is None and account_id is None:
                counts.error(
                    self.object_name,
                    sfid,
                    f"Names no lead, contact or account pulled here (WhoId {who}, WhatId {what})",
                )
                continue
            values = {
                "lead_id": lead_id,
                "account_id": account_id,
                "kind": v["kind"],
                "occurred_at": v["occurred_at"],
                "duration_seconds": v["duration_seconds"],
                "text": v["text"],
                "properties": v["properties"],
            }
            touchpoint = existing.get(v["external_id"])
            if touchpoint is None:
                writes.create(Touchpoint(external_id=v["external_id"], **values))
            elif not writes.update(touchpoint, values):
                continue
            if lead_id is not None:
                touched.add(lead_id)
        writes.save()
        # A converted lead's qualification is over: its activities make no new work.
        open_leads = Lead.objects.filter(pk__in=touched, converted_at__isnull=True)
        _leads_mark(open_leads.values_list("pk", flat=True), dry_run=dry_run)
        return counts

    def delete(self, salesforce_ids: Sequence[str], *, dry_run: bool) -> int:
        external_ids = [mapping.TOUCHPOINT_EXTERNAL_PREFIX + sfid for sfid in salesforce_ids]
        deleted, _ = Touchpoint.objects.filter(external_id__in=external_ids).delete()
        return deleted
