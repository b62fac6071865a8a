"""The Salesforce account push: each account's stored priority and score, written to its
Salesforce Account.

What is sent, per account with a ``salesforce_id`` and a current ``AccountQualification``
(``scoring.account_services`` stores it): the priority as the org's picklist value (High,
Medium, Low) and the score (0-100). Field names come from the
``SALESFORCE_ACCOUNT_PUSH_FIELD_*`` settings; an empty name leaves that field out, and with
both empty the account push does nothing.

Only what changed, without a state table of its own: the pull copies the Account's custom
fields into ``Account.attributes``, these two included, so ``attributes`` holds what the org
has (as of the last pull). An account whose wanted values equal those is not sent. After a
successful write the push sets the same keys itself, the way the lead push keeps the owner it
wrote in ``outcome_attributes``: the next pull reads our write back (its SystemModstamp moved)
and finds nothing changed, and the push after that has nothing to send. A person who edits the
fields in Salesforce is seen by the next pull, and the push after it writes leadqual's values
again: the fields are leadqual's, as Score__c and Tier__c are on the Lead.

Composite collection updates of at most ``SALESFORCE_PUSH_BATCH_SIZE`` (<= 200) records. A
refused record (a deleted account, a validation rule) is reported and tried again on the next
run; ``SalesforceLimitExceeded`` stops the run cleanly, and what was sent is kept.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery

from accounts.models import Account
from accounts.salesforce.client import ApiUsage, SalesforceClient, SObjectDescribe
from accounts.salesforce.errors import SalesforceConfigError, SalesforceLimitExceeded
from routing.salesforce_push import push_fields_check
from scoring.models import AccountPriority, AccountQualification

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

ACCOUNT = "Account"
# Values of the org's priority picklist (docs/salesforce.md): the priorities' own labels.
PRIORITY_VALUES = {value: str(label) for value, label in AccountPriority.choices}


@dataclass(frozen=True)
class AccountPushFields:
    """The Account fields the push writes; "" leaves a field out."""

    priority: str = "LeadQual_Priority__c"
    score: str = "LeadQual_Account_Score__c"

    @classmethod
    def from_settings(cls) -> AccountPushFields:
        return cls(
            priority=settings.SALESFORCE_ACCOUNT_PUSH_FIELD_PRIORITY.strip(),
            score=settings.SALESFORCE_ACCOUNT_PUSH_FIELD_SCORE.strip(),
        )

    def named(self) -> dict[str, str]:
        """{setting name: field name} of the fields in use."""
        return {
            setting: name
            for setting, name in (
                ("SALESFORCE_ACCOUNT_PUSH_FIELD_PRIORITY", self.priority),
                ("SALESFORCE_ACCOUNT_PUSH_FIELD_SCORE", self.score),
            )
            if name
        }


def account_push_values(*, priority: str, score: int, fields: AccountPushFields) -> dict[str, Any]:
    """{field: value} the org should hold for this qualification. Pure."""
    values: dict[str, Any] = {}
    if fields.priority:
        values[fields.priority] = PRIORITY_VALUES.get(priority, priority)
    if fields.score:
        # A Number field comes back from Salesforce as a float: keep the mirror in that form.
        values[fields.score] = float(score)
    return values


def account_push_needed(*, wanted: dict[str, Any], org: dict[str, Any]) -> bool:
    """Whether the org's values (as the pull copied them into attributes) differ. Pure."""
    return any(org.get(name) != value for name, value in wanted.items())


@dataclass(frozen=True)
class AccountPushError:
    account_id: int
    salesforce_id: str
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        # The shape of SalesforceSyncRun.errors: object, id, message (+ ours).
        return {
            "object": ACCOUNT,
            "id": self.salesforce_id,
            "account_id": self.account_id,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class AccountPushReport:
    dry_run: bool = False
    # Accounts whose stored priority or score differ from what the org holds.
    pending: int = 0
    pushed: int = 0
    unchanged: int = 0
    failed: int = 0
    calls: int = 0
    errors: list[AccountPushError] = field(default_factory=list)
    stopped: bool = False
    stop_reason: str = ""
    api_usage: ApiUsage | None = None

    def counts(self) -> dict[str, int]:
        return {
            "pending": self.pending,
            "pushed": self.pushed,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "calls": self.calls,
        }


@dataclass(frozen=True)
class _Todo:
    account_id: int
    salesforce_id: str
    values: dict[str, Any]


def _pending(
    *, fields: AccountPushFields, account_ids: Collection[int] | None, batch_size: int = 2000
) -> tuple[list[_Todo], int]:
    """The linked, scored accounts to push, and how many are up to date (one query)."""
    current = AccountQualification.objects.filter(account=OuterRef("pk"), is_current=True)
    accounts = Account.objects.filter(salesforce_id__isnull=False).exclude(salesforce_id="")
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    rows = (
        accounts.annotate(
            q_priority=Subquery(current.values("priority")[:1]),
            q_score=Subquery(current.values("score")[:1]),
        )
        .filter(q_priority__isnull=False)
        .order_by("pk")
        .values_list("pk", "salesforce_id", "attributes", "q_priority", "q_score")
    )
    todo: list[_Todo] = []
    unchanged = 0
    for account_id, sf_id, attributes, priority, score in rows.iterator(chunk_size=batch_size):
        wanted = account_push_values(priority=priority, score=score, fields=fields)
        org = attributes if isinstance(attributes, dict) else {}
        if account_push_needed(wanted=wanted, org=org):
            todo.append(_Todo(account_id, str(sf_id), wanted))
        else:
            unchanged += 1
    return todo, unchanged


def _check_fields(describe: SObjectDescribe, fields: AccountPushFields) -> None:
    """Every configured field exists on Account, the integration user may write it, and a
    picklist holds the three priorities (a restricted one would refuse every record)."""
    push_fields_check(describe, sobject=ACCOUNT, named=fields.named(), section="The account push")
    priority = describe.field(fields.priority) if fields.priority else None
    if priority is not None and priority.type == "picklist":
        missing = [v for v in PRIORITY_VALUES.values() if v not in priority.picklist_values]
        if missing:
            raise SalesforceConfigError(
                f"Account.{priority.name} (SALESFORCE_ACCOUNT_PUSH_FIELD_PRIORITY) has no "
                f"picklist value {', '.join(repr(v) for v in missing)}: add High, Medium and Low",
                code="PUSH_PICKLIST_VALUE_MISSING",
            )


def _mirror(done: Sequence[_Todo]) -> None:
    """Keep what was written where the pull keeps the org's custom fields, so the next pull
    finds the account as it left it (see the module doc)."""
    if not done:
        return
    wanted = {t.account_id: t.values for t in done}
    with transaction.atomic():
        accounts = list(
            Account.objects.select_for_update()
            .filter(pk__in=wanted)
            .order_by("pk")
            .only("pk", "attributes")
        )
        for account in accounts:
            attributes = dict(account.attributes if isinstance(account.attributes, dict) else {})
            attributes.update(wanted[account.pk])
            account.attributes = attributes
        # bulk_update leaves updated_at alone: the account's own data did not change.
        Account.objects.bulk_update(accounts, ["attributes"], batch_size=500)


def salesforce_account_push(
    *,
    client: SalesforceClient,
    account_ids: Collection[int] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    fields: AccountPushFields | None = None,
    batch_size: int | None = None,
) -> AccountPushReport:
    """Write changed account priorities and scores to their Salesforce Accounts (see the
    module doc).

    ``dry_run`` counts what would be sent and calls nothing. Raises the client's errors other
    than ``SalesforceLimitExceeded`` (``SalesforceConfigError`` for a missing field), which
    stops the run cleanly (``report.stopped``); batches already sent are kept either way.
    """
    fields = fields or AccountPushFields.from_settings()
    size = batch_size or settings.SALESFORCE_PUSH_BATCH_SIZE
    if not 1 <= size <= 200:
        raise ValueError(f"batch_size must be between 1 and 200, not {size}")
    report = AccountPushReport(dry_run=dry_run)
    say = progress or (lambda message: None)
    if not fields.named():
        say("account push: off (no SALESFORCE_ACCOUNT_PUSH_FIELD_* set)")
        return report
    todo, report.unchanged = _pending(fields=fields, account_ids=account_ids)
    report.pending = len(todo)
    say(f"account push: {len(todo)} accounts to send, {report.unchanged} unchanged")
    if dry_run or not todo:
        report.api_usage = client.api_usage
        return report

    try:
        _check_fields(client.describe(ACCOUNT), fields)
        batches = math.ceil(len(todo) / size)
        for number, start in enumerate(range(0, len(todo), size), start=1):
            batch = todo[start : start + size]
            payloads = [{"Id": t.salesforce_id, **t.values} for t in batch]
            results = client.collection_update(ACCOUNT, payloads)
            report.calls += 1
            done: list[_Todo] = []
            for item, result in zip(batch, results, strict=True):
                if result.success:
                    done.append(item)
                    continue
                error = result.errors[0] if result.errors else None
                report.errors.append(
                    AccountPushError(
                        item.account_id,
                        item.salesforce_id,
                        error.code if error else "UNKNOWN",
                        error.message if error else "no error given",
                    )
                )
            _mirror(done)
            report.pushed += len(done)
            report.failed += len(batch) - len(done)
            say(
                f"account push: batch {number}/{batches}: {len(done)} sent, "
                f"{len(batch) - len(done)} refused"
            )
    except SalesforceLimitExceeded as exc:
        report.stopped = True
        report.stop_reason = str(exc)
        logger.warning("Salesforce account push stopped: %s", exc)
        say(f"account push: stopped: {exc}")
    report.api_usage = client.api_usage
    return report
