"""The Celery application. Workers start with `celery -A leadqual worker`."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadqual.settings")

app = Celery("leadqual")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="leadqual.ping", acks_late=False)
def ping() -> str:
    """A no-op round trip through the broker and a worker: the floor any task's latency sits
    on (bench/latency.py), and a liveness check (`ping.delay().get(timeout=5)`)."""
    return "pong"
