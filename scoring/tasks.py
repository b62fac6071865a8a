"""Celery tasks of the scoring app: thin wrappers that take ids and call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from scoring import selectors, services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, max_retries=3, default_retry_delay=5)
def leads_qualify_task(lead_ids: list[int]) -> dict[str, int]:
    """Re-qualify these leads; safe to run twice (each run appends one current assessment)."""
    result = services.leads_qualify(lead_ids=lead_ids)
    return result.tiers


@shared_task(acks_late=True, soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def leads_qualify_all_task(chunk_size: int = services.DEFAULT_CHUNK) -> int:
    """The nightly full re-qualification, in chunks a worker can take one by one."""
    ids = selectors.lead_ids_for_qualification()
    for start in range(0, len(ids), chunk_size):
        leads_qualify_task.delay(ids[start : start + chunk_size])
    return len(ids)


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3900)
def model_train_task() -> dict[str, object]:
    """Train and register a model; it becomes active only if it beats the active one."""
    result = services.model_train(activate="auto")
    logger.info("Trained model %s: %s", result.version.pk, result.reason)
    return {
        "model_version": result.version.pk,
        "activated": result.activated,
        "reason": result.reason,
    }
