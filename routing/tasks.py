"""Celery tasks of the routing app: thin wrappers that take ids and call one service.

Both are safe to run twice: routing leaves a lead that is already where it belongs alone, and
a breach moves the SLA deadline into the future. A lock timeout or a deadlock the database
broke (OperationalError) is retried: the transaction rolled back whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import shared_task
from django.db import OperationalError

from routing import services

# Leads per routing task: one transaction each, a few hundred milliseconds of work.
ROUTE_TASK_LEADS = 500


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def assignments_route_task(lead_ids: list[int]) -> int:
    """Route these leads (after qualification); returns how many assignments were made."""
    return len(services.assignments_route(lead_ids=lead_ids))


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def assignments_check_sla_task() -> dict[str, int]:
    """The periodic SLA check: alert on breaches, reassign repeat breaches."""
    result = services.assignments_check_sla()
    return {"breached": len(result.breached), "reassigned": len(result.reassigned)}


def route_qualified(lead_ids: Sequence[int]) -> None:
    """scoring's after-qualification hook (settings.LEADQUAL_AFTER_QUALIFY): route the leads
    a qualification run stored, in tasks of ROUTE_TASK_LEADS leads (inline without a broker)."""
    ids = sorted(set(lead_ids))
    for start in range(0, len(ids), ROUTE_TASK_LEADS):
        assignments_route_task.delay(ids[start : start + ROUTE_TASK_LEADS])
