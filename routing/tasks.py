"""Celery tasks of the routing app: thin wrappers that take ids and call one service.

All are safe to run twice: routing leaves a lead that is already where it belongs alone, a
breach moves the SLA deadline into the future, and a webhook delivery already made (or in
flight) is not made again. A lock timeout or a deadlock the database broke (OperationalError)
is retried: the transaction rolled back whole.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import OperationalError

from routing import account_plays, path_services, services

logger = logging.getLogger(__name__)

# Accounts per account-play task: each may route its engaged leads.
ACCOUNT_PLAY_TASK_ACCOUNTS = 200
# Leads per routing task: one transaction each, a few hundred milliseconds of work.
ROUTE_TASK_LEADS = 500
# A sync pulls incrementally and pushes only what changed, so a run is short; a first full
# sync of a big org is better started by hand (manage.py salesforce_sync).
SALESFORCE_SYNC_SOFT_TIME_LIMIT = 25 * 60
SALESFORCE_SYNC_TIME_LIMIT = 30 * 60


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def assignments_route_task(lead_ids: list[int]) -> int:
    """Route these leads (after qualification); returns how many assignments were made."""
    return len(services.assignments_route(lead_ids=lead_ids))


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def assignments_check_sla_task() -> dict[str, int]:
    """The periodic SLA check: alert on breaches, reassign repeat breaches."""
    result = services.assignments_check_sla()
    return {"breached": len(result.breached), "reassigned": len(result.reassigned)}


@shared_task(bind=True, acks_late=True, max_retries=None)
def webhook_delivery_send_task(self: Task, delivery_id: int) -> str:
    """One attempt at a path webhook delivery; a 5xx or no answer schedules the next one, with
    the backoff the service chose (it also decides when to give up)."""
    outcome = path_services.webhook_delivery_send(delivery_id=delivery_id)
    # Run inline (no broker), a retry would repeat at once and hold up whoever routed the
    # lead: the delivery waits, "retrying", for the resume sweep instead.
    if outcome.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(acks_late=True)
def webhook_deliveries_resume_task() -> int:
    """The periodic sweep (beat: routing-webhook-resume): deliveries whose task was lost."""
    return len(path_services.webhook_deliveries_resume())


def route_qualified(lead_ids: Sequence[int]) -> None:
    """scoring's after-qualification hook (settings.LEADQUAL_AFTER_QUALIFY): route the leads
    a qualification run stored, in tasks of ROUTE_TASK_LEADS leads (inline without a broker)."""
    ids = sorted(set(lead_ids))
    for start in range(0, len(ids), ROUTE_TASK_LEADS):
        assignments_route_task.delay(ids[start : start + ROUTE_TASK_LEADS])


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def account_plays_apply_task(account_ids: list[int]) -> dict[str, int]:
    """Bring these accounts' plays in line with their current qualification and route the
    engaged leads of a new outreach (safe to run twice: an unchanged play does nothing)."""
    result = account_plays.account_plays_apply(account_ids=account_ids)
    return {
        "created": len(result.created),
        "updated": len(result.updated) + len(result.refreshed),
        "routed": result.routed,
    }


def account_plays_start(changes: dict[int, list[str]]) -> None:
    """scoring's after-account-qualification hook (settings.LEADQUAL_AFTER_ACCOUNT_QUALIFY,
    called once the new qualifications committed, {account id: [previous, new priority]}):
    the accounts' plays, in tasks of ACCOUNT_PLAY_TASK_ACCOUNTS (inline without a broker)."""
    ids = sorted({int(account_id) for account_id in changes})
    for start in range(0, len(ids), ACCOUNT_PLAY_TASK_ACCOUNTS):
        account_plays_apply_task.delay(ids[start : start + ACCOUNT_PLAY_TASK_ACCOUNTS])


@shared_task(
    acks_late=True,
    soft_time_limit=SALESFORCE_SYNC_SOFT_TIME_LIMIT,
    time_limit=SALESFORCE_SYNC_TIME_LIMIT,
)
def salesforce_sync_task(pull: bool = True, push: bool = True) -> dict[str, Any]:
    """The periodic Salesforce sync (beat: salesforce-sync). Safe to run twice: the pull is
    idempotent by Salesforce id, the push sends only what changed, and a run already going
    makes this one skip."""
    # Imported here: it loads simple-salesforce, which the other routing tasks never need.
    from routing.salesforce_sync import SyncAlreadyRunning, salesforce_sync

    if not settings.SALESFORCE_ENABLED:
        logger.info("Salesforce sync skipped: SALESFORCE_ENABLED is off.")
        return {"status": "skipped", "reason": "SALESFORCE_ENABLED is off"}
    try:
        summary = salesforce_sync(pull=pull, push=push)
    except SyncAlreadyRunning:
        logger.info("Salesforce sync skipped: another sync is running.")
        return {"status": "skipped", "reason": "another sync is running"}
    return summary.as_dict()
