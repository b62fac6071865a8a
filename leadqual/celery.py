"""The Celery application. Workers start with `celery -A leadqual worker`."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadqual.settings")

app = Celery("leadqual")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="leadqual.ping", acks_late=False)
def ping() -> str:
    """A no-op round trip through the broker and a worker: the floor any task's latency sits
    on (bench/latency.py), and a liveness check (`ping.delay().get(timeout=5)`)."""
    return "pong"


@worker_process_init.connect
def _pool_process_predict_threads(**_: object) -> None:
    """A pool process predicts with LEADQUAL_WORKER_PREDICT_THREADS threads (default 1): the
    pool runs one process per core already, and the nightly re-qualification keeps them all
    busy."""
    from django.conf import settings

    from scoring import services

    services.predict_threads_use(settings.LEADQUAL_WORKER_PREDICT_THREADS)
