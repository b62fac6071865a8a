"""Celery tasks of the dashboards app: thin wrappers that call one service."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from dashboards import services


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=300,
    time_limit=360,
)
def metrics_snapshot_take_task() -> int:
    """The hourly snapshot; returns the new row's id. Running it twice stores two rows a
    moment apart, which the series shrugs off."""
    return services.metrics_snapshot_take().pk
