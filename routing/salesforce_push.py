"""The Salesforce push: each lead's qualification and routed owner, written back to its Lead.

What is sent, per lead with a ``salesforce_id``: the score (conversion probability x 100), the
tier as the org's picklist value, the handoff package as plain text (``routing.handoff.to_text``:
summary, approach, talking points, stakeholder map, alerts), the top reasons, and ``OwnerId`` =
the Salesforce user of the rep holding the lead's current assignment, or, for a lead on an
alternative path whose destination is a Salesforce queue or user, that queue or user
(docs/paths.md). Field names come from the ``SALESFORCE_PUSH_FIELD_*`` settings; an empty name
leaves that field out.

How:

* Only what changed: ``SalesforcePushState`` records the qualification, owner and tier last
  written. A lead whose current values match is not sent, so a second push with nothing new
  makes no API call at all, and the push never re-sends (or re-triggers) its own writes.
* Composite collection updates of at most ``SALESFORCE_PUSH_BATCH_SIZE`` (<= 200) records, with
  ``Sforce-Auto-Assign: FALSE`` (the client's default): an active lead assignment rule would
  otherwise overwrite the owner just routed.
* A converted lead is read-only in Salesforce: it is recorded as skipped and never sent again.
  Row locks and 5xx are retried by the client; other per-record refusals are recorded on the
  push state and in the report, and tried again on the next run.
* A path's owner is checked once per run before it is written (an active user, or a group of
  type Queue): Salesforce refuses a whole record whose OwnerId it cannot take, so a refused
  owner is left out of the payload, said once in ``report.owner_errors``, and the lead's other
  fields still go.
* The push state is saved after every batch, so a run that stops (API usage over the configured
  share: ``SalesforceLimitExceeded``) or crashes loses nothing and the next run goes on from there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from accounts.models import Lead
from accounts.salesforce.client import ApiUsage, SalesforceClient, SObjectDescribe, soql_quote
from accounts.salesforce.errors import SalesforceConfigError, SalesforceLimitExceeded
from routing.handoff import TEXT_LIMIT, HandoffPackage, to_text
from routing.handoff_service import handoffs_for_leads
from routing.models import (
    SALESFORCE_OWNER_PREFIXES,
    Assignment,
    PathDestination,
    PathDestinationKind,
    Queue,
    SalesforcePushState,
    salesforce_id18,
)
from routing.selectors import CURRENT_STATUSES
from scoring.models import Qualification, Tier

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

LEAD = "Lead"
# Values of the org's Tier__c picklist (docs/salesforce.md). A Disqualify decision is told
# apart by where routing sent the lead: existing customers to Success or Support, the rest to
# the low-priority pool, or Disqualified when a hard rule decided.
TIER_SALES_READY = "Sales Ready"
TIER_NURTURE = "Nurture"
TIER_SUCCESS = "Success"
TIER_SUPPORT = "Support"
TIER_LOW_PRIORITY = "Low Priority"
TIER_DISQUALIFIED = "Disqualified"
# Fallback lengths when describe reports none: Salesforce's long text area maximum.
LONG_TEXT_LIMIT = 32_768


def salesforce_tier(*, tier: str, queue: str | None, rule_decided: bool) -> str:
    """The Tier__c picklist value of a qualification tier and the lead's current queue."""
    if tier == Tier.SALES_READY:
        return TIER_SALES_READY
    if tier == Tier.NURTURE:
        return TIER_NURTURE
    if queue == Queue.SUCCESS:
        return TIER_SUCCESS
    if queue == Queue.SUPPORT:
        return TIER_SUPPORT
    return TIER_DISQUALIFIED if rule_decided else TIER_LOW_PRIORITY


@dataclass(frozen=True)
class PushFields:
    """The Lead fields the push writes; "" leaves a field out."""

    score: str = "Score__c"
    tier: str = "Tier__c"
    brief: str = "Brief__c"
    top_reasons: str = "Top_Reasons__c"

    @classmethod
    def from_settings(cls) -> PushFields:
        return cls(
            score=settings.SALESFORCE_PUSH_FIELD_SCORE.strip(),
            tier=settings.SALESFORCE_PUSH_FIELD_TIER.strip(),
            brief=settings.SALESFORCE_PUSH_FIELD_BRIEF.strip(),
            top_reasons=settings.SALESFORCE_PUSH_FIELD_TOP_REASONS.strip(),
        )

    def named(self) -> dict[str, str]:
        """{setting name: field name} of the fields in use."""
        return {
            setting: name
            for setting, name in (
                ("SALESFORCE_PUSH_FIELD_SCORE", self.score),
                ("SALESFORCE_PUSH_FIELD_TIER", self.tier),
                ("SALESFORCE_PUSH_FIELD_BRIEF", self.brief),
                ("SALESFORCE_PUSH_FIELD_TOP_REASONS", self.top_reasons),
            )
            if name
        }


@dataclass(frozen=True)
class PushError:
    lead_id: int
    salesforce_id: str
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        # The shape of SalesforceSyncRun.errors: object, id, message (+ ours).
        return {
            "object": LEAD,
            "id": self.salesforce_id,
            "lead_id": self.lead_id,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class PushReport:
    dry_run: bool = False
    # Leads whose qualification, owner or tier differ from what was last pushed.
    pending: int = 0
    pushed: int = 0
    unchanged: int = 0
    # Converted in Salesforce (read-only there): recorded and never sent again.
    skipped: int = 0
    failed: int = 0
    # Composite collection calls made.
    calls: int = 0
    errors: list[PushError] = field(default_factory=list)
    # Path owners Salesforce would refuse (not a queue, not an active user): left out.
    owner_errors: list[str] = field(default_factory=list)
    stopped: bool = False
    stop_reason: str = ""
    api_usage: ApiUsage | None = None

    def counts(self) -> dict[str, int]:
        return {
            "pending": self.pending,
            "pushed": self.pushed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "calls": self.calls,
        }


@dataclass(frozen=True)
class _Todo:
    lead_id: int
    salesforce_id: str
    qualification_id: int | None
    probability: float | None
    owner: str | None
    tier: str | None
    # What the push state holds now: kept when this push has no owner to write.
    previous_owner: str
    # The owner is the lead's path's Salesforce destination, not a rep's user.
    owner_from_path: bool = False
    # Nothing but the owner differs from what was last pushed.
    owner_only: bool = False


def path_owners() -> dict[str, str]:
    """Path → the Salesforce queue or user its leads are owned by (Salesforce destinations)."""
    return {
        path: salesforce_id18(owner)
        for path, owner in PathDestination.objects.filter(
            kind=PathDestinationKind.SALESFORCE
        ).values_list("path", "salesforce_owner_id")
        if owner
    }


def _pending(
    *, lead_ids: Collection[int] | None, batch_size: int = 2000
) -> tuple[list[_Todo], int]:
    """The leads to push, and how many are up to date, in one query (streamed)."""
    current_q = Qualification.objects.filter(lead=OuterRef("pk"), is_current=True)
    current_a = Assignment.objects.filter(
        lead=OuterRef("pk"), status__in=CURRENT_STATUSES
    ).order_by("-assigned_at", "-pk")
    # A lead converted in Salesforce is read-only there: known from the pull (converted_at) or
    # from an earlier refusal (the push state); either way it is not sent.
    leads = Lead.objects.filter(salesforce_id__isnull=False, converted_at__isnull=True).exclude(
        salesforce_id=""
    )
    if lead_ids is not None:
        leads = leads.filter(pk__in=list(lead_ids))
    rows = (
        leads.filter(salesforce_push_state__converted_at__isnull=True)
        .annotate(
            q_id=Subquery(current_q.values("pk")[:1]),
            q_tier=Subquery(current_q.values("tier")[:1]),
            q_probability=Subquery(current_q.values("conversion_probability")[:1]),
            q_rule=Subquery(current_q.values("disqualification_reason")[:1]),
            a_queue=Subquery(current_a.values("queue")[:1]),
            a_owner=Subquery(current_a.values("rep__salesforce_user_id")[:1]),
            s_q=F("salesforce_push_state__pushed_qualification_id"),
            s_owner=F("salesforce_push_state__pushed_owner_salesforce_id"),
            s_tier=F("salesforce_push_state__pushed_tier"),
        )
        .order_by("pk")
        .values_list(
            "pk",
            "salesforce_id",
            "q_id",
            "q_tier",
            "q_probability",
            "q_rule",
            "a_queue",
            "a_owner",
            "s_q",
            "s_owner",
            "s_tier",
        )
    )
    todo: list[_Todo] = []
    unchanged = 0
    on_paths = path_owners()
    for (
        lead_id,
        sf_id,
        q_id,
        q_tier,
        probability,
        q_rule,
        queue,
        owner,
        s_q,
        s_owner,
        s_tier,
    ) in rows.iterator(chunk_size=batch_size):
        owner = owner or None
        from_path = False
        if owner is None and queue in on_paths:
            owner, from_path = on_paths[queue], True
        if q_id is None and owner is None:
            continue  # nothing decided yet
        tier = (
            salesforce_tier(tier=q_tier, queue=queue, rule_decided=bool(q_rule))
            if q_id is not None
            else None
        )
        others = (q_id is not None and q_id != s_q) or (
            tier is not None and tier != (s_tier or None)
        )
        owner_changed = owner is not None and owner != (s_owner or None)
        if not (others or owner_changed):
            unchanged += 1
            continue
        todo.append(
            _Todo(
                lead_id,
                str(sf_id),
                q_id,
                probability,
                owner,
                tier,
                previous_owner=s_owner or "",
                owner_from_path=from_path,
                owner_only=not others,
            )
        )
    return todo, unchanged


def _owners_refused(client: SalesforceClient, owners: Collection[str]) -> dict[str, str]:
    """{owner id: why} of the path owners Salesforce would refuse as a lead's OwnerId: one
    that does not exist, an inactive user, a group that is not a queue (two queries at most).
    """
    found: dict[str, str] = {}
    by_prefix: dict[str, list[str]] = {}
    for owner in sorted(owners):
        by_prefix.setdefault(owner[:3], []).append(owner)
    users = by_prefix.get("005", [])
    if users:
        listed = ", ".join(soql_quote(owner) for owner in users)
        for record in client.query(f"SELECT Id, IsActive FROM User WHERE Id IN ({listed})"):
            found[str(record["Id"])] = "" if record.get("IsActive") else "is an inactive user"
    queues = by_prefix.get("00G", [])
    if queues:
        listed = ", ".join(soql_quote(owner) for owner in queues)
        for record in client.query(f"SELECT Id, Type FROM Group WHERE Id IN ({listed})"):
            kind = str(record.get("Type") or "")
            found[str(record["Id"])] = (
                "" if kind == "Queue" else f"is a group of type {kind or 'unknown'}, not a queue"
            )
    refused = {}
    for owner in owners:
        why = found.get(owner, "does not exist in the org")
        if owner[:3] not in SALESFORCE_OWNER_PREFIXES:
            why = "is neither a queue nor a user"
        if why:
            refused[owner] = why
    return refused


def _path_owners_checked(
    client: SalesforceClient, todo: list[_Todo], report: PushReport
) -> list[_Todo]:
    """The batch without the path owners Salesforce would refuse (said in the report)."""
    owners = {t.owner for t in todo if t.owner_from_path and t.owner}
    if not owners:
        return todo
    refused = _owners_refused(client, owners)
    if not refused:
        return todo
    paths = {owner: path for path, owner in path_owners().items()}
    kept: list[_Todo] = []
    dropped: dict[str, int] = {}
    for item in todo:
        if not (item.owner_from_path and item.owner in refused):
            kept.append(item)
            continue
        owner = str(item.owner)
        dropped[owner] = dropped.get(owner, 0) + 1
        if not item.owner_only:
            kept.append(replace(item, owner=None, owner_from_path=False))
    for owner, count in sorted(dropped.items()):
        path = paths.get(owner, "")
        label = Queue(path).label if path else "a"
        message = (
            f"{label} path: Salesforce owner {owner} {refused[owner]}; {count} lead"
            f"{'s' if count != 1 else ''} sent without it (fix the path's destination in the "
            "admin)"
        )
        report.owner_errors.append(message)
        logger.warning("Salesforce push: %s", message)
    return kept


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


@dataclass(frozen=True)
class _Limits:
    brief: int
    top_reasons: int


def push_fields_check(
    describe: SObjectDescribe, *, sobject: str, named: Mapping[str, str], section: str
) -> None:
    """Every configured field (setting -> field name) exists on `sobject` and the integration
    user may write it; `section`: where docs/salesforce.md explains the settings."""
    for setting, name in named.items():
        found = describe.field(name)
        if found is None:
            raise SalesforceConfigError(
                f"{sobject} has no field {name!r} ({setting}): create it in the org or change "
                f"the setting (docs/salesforce.md, {section})",
                code="PUSH_FIELD_MISSING",
            )
        if not found.updateable:
            raise SalesforceConfigError(
                f"{sobject}.{name} ({setting}) is not updateable by the integration user",
                code="PUSH_FIELD_READ_ONLY",
            )


def _check_fields(describe: SObjectDescribe, fields: PushFields) -> _Limits:
    """Every configured field exists on Lead and the integration user may write it."""
    push_fields_check(
        describe,
        sobject=LEAD,
        named={**fields.named(), "owner": "OwnerId"},
        section="Push and sync",
    )

    def length(name: str) -> int:
        found = describe.field(name) if name else None
        return found.length if found is not None and found.length > 0 else LONG_TEXT_LIMIT

    return _Limits(
        brief=min(length(fields.brief), TEXT_LIMIT), top_reasons=length(fields.top_reasons)
    )


def _packages(batch: Sequence[_Todo], fields: PushFields) -> dict[int, HandoffPackage]:
    """The handoff packages the batch's payloads write, read in one go for the whole batch."""
    if not (fields.brief or fields.top_reasons):
        return {}
    return handoffs_for_leads(lead_ids=[t.lead_id for t in batch if t.qualification_id is not None])


def _payload(
    todo: _Todo, fields: PushFields, limits: _Limits, packages: Mapping[int, HandoffPackage]
) -> dict[str, Any]:
    values: dict[str, Any] = {"Id": todo.salesforce_id}
    if todo.qualification_id is not None:
        if fields.score:
            values[fields.score] = (
                round(todo.probability * 100, 1) if todo.probability is not None else None
            )
        if fields.tier:
            values[fields.tier] = todo.tier
        if fields.brief or fields.top_reasons:
            package = packages.get(todo.lead_id)
            if package is None:  # deleted since _pending read it, as handoff_for_lead raised
                raise Lead.DoesNotExist(f"Lead {todo.lead_id} does not exist.")
            if fields.brief:
                values[fields.brief] = to_text(package, limit=limits.brief)
            if fields.top_reasons:
                reasons = "\n".join(f"- {line}" for line in package.summary)
                values[fields.top_reasons] = _clip(reasons, limits.top_reasons) or None
    if todo.owner is not None:
        values["OwnerId"] = todo.owner
    return values


def _owners_remember(done: Sequence[_Todo]) -> None:
    """Keep the owner we wrote where the pull keeps the Salesforce owner, so the next pull
    finds the lead as it left it and counts it unchanged: our own write never comes back as a
    change. (Not a field of evidence: nothing is marked for re-qualification.)"""
    owners = {t.lead_id: t.owner for t in done if t.owner}
    if not owners:
        return
    leads = list(Lead.objects.filter(pk__in=owners).only("pk", "outcome_attributes"))
    changed = []
    for lead in leads:
        attributes = dict(lead.outcome_attributes or {})
        if attributes.get("salesforce_owner_id") != owners[lead.pk]:
            attributes["salesforce_owner_id"] = owners[lead.pk]
            lead.outcome_attributes = attributes
            changed.append(lead)
    # bulk_update leaves updated_at alone: the lead itself did not change.
    Lead.objects.bulk_update(changed, ["outcome_attributes"], batch_size=500)


def _save_states(
    *, done: Sequence[_Todo], failed: Sequence[tuple[_Todo, str]], converted: Sequence[_Todo]
) -> None:
    now = timezone.now()
    with transaction.atomic():
        _owners_remember(done)
        if done:
            SalesforcePushState.objects.bulk_create(
                [
                    SalesforcePushState(
                        lead_id=t.lead_id,
                        pushed_qualification_id=t.qualification_id,
                        pushed_owner_salesforce_id=t.owner or t.previous_owner,
                        pushed_tier=t.tier or "",
                        pushed_at=now,
                        last_error="",
                        last_error_at=None,
                    )
                    for t in done
                ],
                update_conflicts=True,
                unique_fields=["lead"],
                update_fields=[
                    "pushed_qualification",
                    "pushed_owner_salesforce_id",
                    "pushed_tier",
                    "pushed_at",
                    "last_error",
                    "last_error_at",
                ],
            )
        if failed:
            SalesforcePushState.objects.bulk_create(
                [
                    SalesforcePushState(lead_id=t.lead_id, last_error=message, last_error_at=now)
                    for t, message in failed
                ],
                update_conflicts=True,
                unique_fields=["lead"],
                update_fields=["last_error", "last_error_at"],
            )
        if converted:
            SalesforcePushState.objects.bulk_create(
                [
                    SalesforcePushState(
                        lead_id=t.lead_id,
                        converted_at=now,
                        last_error="Converted in Salesforce: the lead is read-only there.",
                        last_error_at=now,
                    )
                    for t in converted
                ],
                update_conflicts=True,
                unique_fields=["lead"],
                update_fields=["converted_at", "last_error", "last_error_at"],
            )


def salesforce_push(
    *,
    client: SalesforceClient,
    lead_ids: Collection[int] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    fields: PushFields | None = None,
    batch_size: int | None = None,
) -> PushReport:
    """Write changed qualifications and owners to their Salesforce Leads (see the module doc).

    ``dry_run`` counts what would be sent and calls nothing. Raises the client's errors other
    than ``SalesforceLimitExceeded``, which stops the run cleanly (``report.stopped``); batches
    already sent are recorded either way.
    """
    fields = fields or PushFields.from_settings()
    size = batch_size or settings.SALESFORCE_PUSH_BATCH_SIZE
    if not 1 <= size <= 200:
        raise ValueError(f"batch_size must be between 1 and 200, not {size}")
    report = PushReport(dry_run=dry_run)
    todo, report.unchanged = _pending(lead_ids=lead_ids)
    report.pending = len(todo)
    say = progress or (lambda message: None)
    say(f"push: {len(todo)} leads to send, {report.unchanged} unchanged")
    if dry_run or not todo:
        report.api_usage = client.api_usage
        return report

    try:
        limits = _check_fields(client.describe(LEAD), fields)
        todo = _path_owners_checked(client, todo, report)
        batches = math.ceil(len(todo) / size)
        for number, start in enumerate(range(0, len(todo), size), start=1):
            batch = todo[start : start + size]
            packages = _packages(batch, fields)
            payloads = [_payload(t, fields, limits, packages) for t in batch]
            results = client.collection_update(LEAD, payloads, auto_assign=False)
            report.calls += 1
            done: list[_Todo] = []
            failed: list[tuple[_Todo, str]] = []
            converted: list[_Todo] = []
            for item, result in zip(batch, results, strict=True):
                if result.success:
                    done.append(item)
                elif result.is_converted_lead:
                    converted.append(item)
                else:
                    error = result.errors[0] if result.errors else None
                    code = error.code if error else "UNKNOWN"
                    message = error.message if error else "no error given"
                    failed.append((item, f"{code}: {message}"))
                    report.errors.append(PushError(item.lead_id, item.salesforce_id, code, message))
            _save_states(done=done, failed=failed, converted=converted)
            report.pushed += len(done)
            report.skipped += len(converted)
            report.failed += len(failed)
            say(
                f"push: batch {number}/{batches}: {len(done)} sent, {len(converted)} converted "
                f"skipped, {len(failed)} refused"
            )
    except SalesforceLimitExceeded as exc:
        report.stopped = True
        report.stop_reason = str(exc)
        logger.warning("Salesforce push stopped: %s", exc)
        say(f"push: stopped: {exc}")
    report.api_usage = client.api_usage
    return report
