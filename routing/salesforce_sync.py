"""One Salesforce sync: pull the CRM's changes, then push our decisions back (the leads', then
the accounts' priorities and scores).

The service behind ``manage.py salesforce_sync`` and the ``salesforce-sync`` beat entry. It
logs in from the SALESFORCE_* settings, records one ``SalesforceSyncRun`` per direction (the
status panel reads them), pulls with the User → rep handler added to the pull's own handlers,
then pushes. A pull that failed or stopped on the API budget skips the push: the push would
hit the same wall, and it should send decisions made on fresh data.

Two syncs never run at once (a cache lock): beat fires every few minutes and a big pull can
take longer than that.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache

from accounts.models import SalesforceSyncRun, SyncDirection, SyncRunStatus
from accounts.salesforce.client import ApiUsage, SalesforceClient, SalesforceConfig
from accounts.salesforce.errors import SalesforceAuthError, SalesforceConfigError, SalesforceError
from accounts.salesforce.pull import PullReport, salesforce_pull
from accounts.services import salesforce_sync_run_finish, salesforce_sync_run_start
from routing.salesforce_account_push import AccountPushReport, salesforce_account_push
from routing.salesforce_push import PushReport, salesforce_push
from routing.salesforce_users import SalesforceUserHandler

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

LOCK_KEY = "routing:salesforce-sync:lock"


class SyncAlreadyRunning(Exception):
    """Another sync holds the lock."""


@dataclass
class SyncSummary:
    dry_run: bool
    status: str = SyncRunStatus.OK
    pull: PullReport | None = None
    push: PushReport | None = None
    account_push: AccountPushReport | None = None
    pull_run_id: int | None = None
    push_run_id: int | None = None
    errors: list[str] = field(default_factory=list)
    api_usage: ApiUsage | None = None

    @property
    def ok(self) -> bool:
        return self.status == SyncRunStatus.OK

    def as_dict(self) -> dict[str, Any]:
        pull: dict[str, Any] | None = None
        if self.pull is not None:
            pull = {
                "counts": {name: counts.as_dict() for name, counts in self.pull.counts.items()},
                "errors": self.pull.errors,
                "stopped": self.pull.stopped,
            }
        push: dict[str, Any] | None = None
        if self.push is not None:
            push = {
                "counts": self.push.counts(),
                "errors": [e.as_dict() for e in self.push.errors],
                "stopped": self.push.stopped,
                "stop_reason": self.push.stop_reason,
            }
        account_push: dict[str, Any] | None = None
        if self.account_push is not None:
            account_push = {
                "counts": self.account_push.counts(),
                "errors": [e.as_dict() for e in self.account_push.errors],
                "stopped": self.account_push.stopped,
                "stop_reason": self.account_push.stop_reason,
            }
        usage = self.api_usage
        return {
            "status": str(self.status),
            "dry_run": self.dry_run,
            "pull": pull,
            "push": push,
            "account_push": account_push,
            "pull_run_id": self.pull_run_id,
            "push_run_id": self.push_run_id,
            "errors": self.errors,
            "api_usage": {"used": usage.used, "limit": usage.limit} if usage else None,
        }


@contextmanager
def _sync_lock() -> Iterator[None]:
    token = uuid.uuid4().hex
    # Outlives the longest run a worker allows, so a killed run cannot hold it for ever.
    timeout = int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 1800)) + 60
    if not cache.add(LOCK_KEY, token, timeout=timeout):
        raise SyncAlreadyRunning("A Salesforce sync is already running.")
    try:
        yield
    finally:
        if cache.get(LOCK_KEY) == token:
            cache.delete(LOCK_KEY)


def _fail_run(run: SalesforceSyncRun, error: BaseException, usage: ApiUsage | None) -> None:
    salesforce_sync_run_finish(
        run=run,
        status=SyncRunStatus.FAILED,
        counts={},
        errors=[{"code": getattr(error, "code", type(error).__name__), "message": str(error)}],
        api_usage=usage,
    )


def _pull_progress(say: Progress) -> Callable[[str, int, int | None], None]:
    def report(object_name: str, done: int, total: int | None) -> None:
        say(f"pull {object_name}: {done}/{'?' if total is None else total}")

    return report


def salesforce_sync(
    *,
    pull: bool = True,
    push: bool = True,
    objects: Sequence[str] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> SyncSummary:
    """Pull then push (either may be off). Raises ``SalesforceDisabled`` when the integration
    is off, ``SalesforceAuthError``/``SalesforceConfigError`` when the login fails (after
    recording failed runs), ``SyncAlreadyRunning``; other Salesforce faults end the run as
    failed in the returned summary. ``objects`` narrows the pull."""
    if not (pull or push):
        raise ValueError("Nothing to do: pull and push are both off.")
    config = SalesforceConfig.from_settings()
    say = progress or (lambda message: None)
    summary = SyncSummary(dry_run=dry_run)
    directions = [d for d, on in ((SyncDirection.PULL, pull), (SyncDirection.PUSH, push)) if on]
    with _sync_lock():
        try:
            client = SalesforceClient(config)
        except (SalesforceAuthError, SalesforceConfigError, SalesforceError) as exc:
            for direction in directions:
                run = salesforce_sync_run_start(direction=direction, dry_run=dry_run)
                _fail_run(run, exc, None)
            raise
        say(f"Logged in to Salesforce ({client.auth_mode}).")

        if pull:
            run = salesforce_sync_run_start(direction=SyncDirection.PULL, dry_run=dry_run)
            summary.pull_run_id = run.pk
            user_handler = SalesforceUserHandler()
            try:
                report = salesforce_pull(
                    client=client,
                    objects=objects,
                    dry_run=dry_run,
                    handlers={user_handler.object_name: user_handler},
                    progress=_pull_progress(say),
                )
            except SalesforceError as exc:
                logger.exception("Salesforce pull failed")
                _fail_run(run, exc, client.api_usage)
                summary.status = SyncRunStatus.FAILED
                summary.errors.append(f"pull: {exc}")
            except BaseException as exc:
                _fail_run(run, exc, client.api_usage)
                raise
            else:
                summary.pull = report
                status = SyncRunStatus.STOPPED if report.stopped else SyncRunStatus.OK
                salesforce_sync_run_finish(
                    run=run,
                    status=status,
                    counts=report.counts,
                    errors=report.errors,
                    api_usage=report.api_usage or client.api_usage,
                )
                if report.stopped:
                    summary.status = SyncRunStatus.STOPPED
                    summary.errors.append("pull: stopped at the API usage limit")

        if push and summary.status == SyncRunStatus.OK:
            run = salesforce_sync_run_start(direction=SyncDirection.PUSH, dry_run=dry_run)
            summary.push_run_id = run.pk
            try:
                pushed = salesforce_push(client=client, dry_run=dry_run, progress=progress)
            except SalesforceError as exc:
                logger.exception("Salesforce push failed")
                _fail_run(run, exc, client.api_usage)
                summary.status = SyncRunStatus.FAILED
                summary.errors.append(f"push: {exc}")
            except BaseException as exc:
                _fail_run(run, exc, client.api_usage)
                raise
            else:
                summary.push = pushed
                # The accounts' priorities and scores, in the same run; not after a lead push
                # that stopped on the API budget (it would hit the same wall). Its failure (an
                # org without the Account fields) keeps the lead push's counts in the run.
                accounts_pushed, account_failure = None, None
                if not pushed.stopped:
                    try:
                        accounts_pushed = salesforce_account_push(
                            client=client, dry_run=dry_run, progress=progress
                        )
                    except SalesforceError as exc:
                        logger.exception("Salesforce account push failed")
                        account_failure = exc
                    except BaseException as exc:
                        _fail_run(run, exc, client.api_usage)
                        raise
                errors: list[dict[str, Any]] = [e.as_dict() for e in pushed.errors]
                errors += [
                    {"code": "PATH_OWNER_REFUSED", "message": message}
                    for message in pushed.owner_errors
                ]
                counts = {"Lead": pushed.counts()}
                stop_reason = pushed.stop_reason
                if accounts_pushed is not None:
                    summary.account_push = accounts_pushed
                    counts["Account"] = accounts_pushed.counts()
                    errors += [e.as_dict() for e in accounts_pushed.errors]
                    stop_reason = stop_reason or accounts_pushed.stop_reason
                status = SyncRunStatus.OK
                if stop_reason:
                    errors.append({"code": "STOPPED", "message": stop_reason})
                    status = summary.status = SyncRunStatus.STOPPED
                    summary.errors.append(f"push: {stop_reason}")
                if account_failure is not None:
                    code = getattr(account_failure, "code", "") or type(account_failure).__name__
                    errors.append(
                        {"object": "Account", "code": code, "message": str(account_failure)}
                    )
                    status = summary.status = SyncRunStatus.FAILED
                    summary.errors.append(f"account push: {account_failure}")
                salesforce_sync_run_finish(
                    run=run,
                    status=status,
                    counts=counts,
                    errors=errors,
                    api_usage=client.api_usage or pushed.api_usage,
                )
        elif push:
            say("Push skipped: the pull did not finish.")
        summary.api_usage = client.api_usage
    return summary
