"""When the RevOps pages say the next snapshot runs: from django-celery-beat's row once beat
has written it, from CELERY_BEAT_SCHEDULE before, and never while nothing can run it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from dashboards.selectors import schedule as s
from leadqual.celery import app as celery_app
from tests.dashboards.conftest import client_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 12, 22, 55, 123456, tzinfo=UTC)
TASK = "dashboards.tasks.metrics_snapshot_take_task"


@pytest.fixture
def with_a_worker() -> Iterator[None]:
    """As with CELERY_BROKER_URL set: tasks go to a broker (the tests' default is eager)."""
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = saved


@pytest.fixture
def revops(demo_users: dict[str, User]) -> Client:
    return client_for(demo_users["revops"])


def _row(**schedule: Any) -> PeriodicTask:
    return PeriodicTask.objects.create(name=s.SNAPSHOT_JOB, task=TASK, **schedule)


def test_without_a_broker_nothing_runs_on_a_schedule() -> None:
    found = s.snapshot_schedule(now=NOW)

    assert (found.state, found.next_run_at) == (s.NO_WORKER, None)
    assert found.every == "every hour UTC"  # the declared crontab(minute=0), in words
    assert not found.runs


@pytest.mark.usefixtures("with_a_worker")
def test_before_beat_has_started_the_declared_schedule_says_when_it_would_run() -> None:
    found = s.snapshot_schedule(now=NOW)

    assert found.state == s.NOT_STARTED
    assert found.next_run_at == datetime(2026, 12, 7, 13, 0, tzinfo=UTC)


@pytest.mark.usefixtures("with_a_worker")
def test_once_beat_wrote_the_row_the_row_decides_even_retimed_in_the_admin() -> None:
    _row(crontab=CrontabSchedule.objects.create(minute="45", hour="*", timezone="UTC"))

    found = s.snapshot_schedule(now=NOW)

    assert (found.state, found.every) == (s.SCHEDULED, "at 45 minutes past the hour UTC")
    assert found.next_run_at == datetime(2026, 12, 7, 12, 45, tzinfo=UTC)
    assert found.runs


@pytest.mark.usefixtures("with_a_worker")
def test_an_interval_runs_one_period_after_its_last_run() -> None:
    every = IntervalSchedule.objects.create(every=600, period=IntervalSchedule.SECONDS)
    _row(interval=every, last_run_at=NOW - timedelta(minutes=4))

    found = s.snapshot_schedule(now=NOW)

    assert found.state == s.SCHEDULED
    assert found.next_run_at == (NOW + timedelta(minutes=6)).replace(microsecond=0)


@pytest.mark.usefixtures("with_a_worker")
def test_an_overdue_run_is_due_now_not_in_the_past() -> None:
    every = IntervalSchedule.objects.create(every=600, period=IntervalSchedule.SECONDS)
    _row(interval=every, last_run_at=NOW - timedelta(hours=3))

    assert s.snapshot_schedule(now=NOW).next_run_at == NOW.replace(microsecond=0)


@pytest.mark.usefixtures("with_a_worker")
def test_a_job_paused_in_the_admin_has_no_next_run() -> None:
    _row(crontab=CrontabSchedule.objects.create(minute="0", timezone="UTC"), enabled=False)

    found = s.snapshot_schedule(now=NOW)

    assert (found.state, found.next_run_at) == (s.PAUSED, None)


def test_a_job_missing_from_the_declared_schedule_is_said_so(settings: Any) -> None:
    settings.CELERY_BEAT_SCHEDULE = {}

    assert s.snapshot_schedule(now=NOW).state == s.NOT_DECLARED


@pytest.mark.usefixtures("with_a_worker")
def test_reading_the_schedule_costs_one_query() -> None:
    _row(crontab=CrontabSchedule.objects.create(minute="0", timezone="UTC"))

    with CaptureQueriesContext(connection) as queries:
        s.snapshot_schedule(now=NOW)

    assert len(queries) == 1


def test_before_the_first_snapshot_the_pages_offer_one_and_say_none_comes_by_itself(
    revops: Client, demo_users: dict[str, User]
) -> None:
    for name in ("revops", "revops-models", "revops-fairness", "revops-drift"):
        html = revops.get(reverse(f"dashboards:{name}")).content.decode()
        assert "No metrics snapshot yet" in html, name
        assert "Take a snapshot now" in html, name
        assert "no Celery broker is configured (CELERY_TASK_ALWAYS_EAGER)" in html, name
    # With the right to read the pages but not to act, the page says who can take one.
    reader = User.objects.create_user("reader", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_metricssnapshot"))
    html = client_for(reader).get(reverse("dashboards:revops")).content.decode()
    assert "Take a snapshot now" not in html
    assert "Someone with RevOps rights can take one now" in html


@pytest.mark.usefixtures("with_a_worker")
def test_the_empty_page_says_when_the_scheduled_snapshot_runs(revops: Client) -> None:
    _row(crontab=CrontabSchedule.objects.create(minute="0", hour="*", timezone="UTC"))

    html = revops.get(reverse("dashboards:revops")).content.decode()

    assert "The scheduled job runs every hour UTC: the next snapshot is taken at" in html
    assert "no Celery broker" not in html


@pytest.mark.usefixtures("with_a_worker")
def test_the_empty_page_says_when_the_job_is_paused_or_beat_never_started(
    revops: Client,
) -> None:
    before_beat = revops.get(reverse("dashboards:revops")).content.decode()
    _row(crontab=CrontabSchedule.objects.create(minute="0", timezone="UTC"), enabled=False)
    paused = revops.get(reverse("dashboards:revops")).content.decode()

    assert "Celery beat has never started on this database" in before_beat
    assert "The scheduled job is paused in the admin" in paused
    assert "the next snapshot is taken at" not in paused
