"""Celery tasks of the CRM record. Thin: each takes ids and calls one service."""

from __future__ import annotations

import logging

from celery import shared_task

from accounts.models import Lead
from accounts.services import lead_match_account

logger = logging.getLogger(__name__)


# acks_late: a worker that dies mid-task leaves the message on the broker for another worker;
# that is safe because matching is idempotent (a second run finds the account already set).
@shared_task(acks_late=True)
def lead_match_account_task(lead_id: int) -> int | None:
    """Attach the lead to its account by email domain; returns the account id, if any."""
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None:
        # Deleted between enqueue and run (or a stale message): nothing to do, nothing to retry.
        logger.info("lead_match_account_task: lead %s no longer exists", lead_id)
        return None
    lead = lead_match_account(lead=lead)
    return lead.account_id
