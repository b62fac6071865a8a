"""When the next metrics snapshot will be taken, read from the schedule that takes it.

The job is declared in CELERY_BEAT_SCHEDULE and lands in django-celery-beat's tables when beat
starts; from then on the table is what beat obeys (an operator may pause or retime it in the
admin), so the table wins over the declaration once the row exists. Without a broker
(CELERY_TASK_ALWAYS_EAGER) there is no worker and no beat: nothing runs on a schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from celery.schedules import crontab
from celery.schedules import schedule as interval_schedule
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

SNAPSHOT_JOB = "dashboards-metrics-snapshot"

# What `SnapshotSchedule.state` can be.
SCHEDULED = "scheduled"  # beat has the job, enabled: `next_run_at` is when it runs
NOT_STARTED = "beat_not_started"  # declared, but beat has never started on this database
PAUSED = "paused"  # disabled in the admin's periodic tasks
NO_WORKER = "no_worker"  # tasks run inline (no broker): nothing runs on a schedule
NOT_DECLARED = "not_declared"  # CELERY_BEAT_SCHEDULE has no such job


@dataclass(frozen=True)
class SnapshotSchedule:
    state: str
    job: str = SNAPSHOT_JOB
    # In words ("Every hour UTC"), or "" when there is no schedule to describe.
    every: str = ""
    # When the job next runs (SCHEDULED), or would once beat starts (NOT_STARTED).
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None

    @property
    def runs(self) -> bool:
        return self.state == SCHEDULED


def next_run(schedule: Any, *, last_run_at: datetime | None, now: datetime) -> datetime | None:
    """When a crontab or interval schedule next fires after `last_run_at`, by the clock of
    `now` (a run already due is due now, not in the past); None for any other schedule."""
    if isinstance(schedule, crontab):
        # A copy on our clock: Celery's own reads the wall clock, not `now`.
        tz = schedule.tz if getattr(schedule, "tz", None) else None
        ours = crontab(
            minute=schedule._orig_minute,
            hour=schedule._orig_hour,
            day_of_week=schedule._orig_day_of_week,
            day_of_month=schedule._orig_day_of_month,
            month_of_year=schedule._orig_month_of_year,
            nowfun=lambda: now.astimezone(tz) if tz else now,
            app=current_app,
        )
        at = now + ours.remaining_estimate(last_run_at or now)
    elif isinstance(schedule, interval_schedule):
        at = (last_run_at or now) + schedule.run_every
    else:
        return None
    # Celery works to the microsecond a beat tick away from the minute: whole seconds.
    rounded = (at + timedelta(milliseconds=500)).replace(microsecond=0)
    return max(rounded, now.replace(microsecond=0))


def describe(schedule: Any) -> str:
    """A declared schedule in words, as the admin's periodic tasks show it."""
    if isinstance(schedule, int | float | timedelta):
        schedule = interval_schedule(run_every=schedule)
    if isinstance(schedule, crontab):
        # As text: the row reads a field of 0 (an int, falsy) as "*", every minute.
        row = CrontabSchedule(
            minute=str(schedule._orig_minute),
            hour=str(schedule._orig_hour),
            day_of_week=str(schedule._orig_day_of_week),
            day_of_month=str(schedule._orig_day_of_month),
            month_of_year=str(schedule._orig_month_of_year),
            timezone=settings.CELERY_TIMEZONE,
        )
        return _sentence_case(str(row.human_readable))
    if isinstance(schedule, interval_schedule):
        seconds = int(schedule.run_every.total_seconds())
        return str(IntervalSchedule(every=seconds, period=IntervalSchedule.SECONDS))
    return str(schedule)


def _sentence_case(text: str) -> str:
    """A description as it reads inside a sentence: "Every hour UTC" → "every hour UTC"."""
    return text[:1].lower() + text[1:]


def _declared(name: str) -> Any:
    entry = settings.CELERY_BEAT_SCHEDULE.get(name)
    return None if entry is None else entry["schedule"]


def snapshot_schedule(*, now: datetime | None = None) -> SnapshotSchedule:
    """The snapshot job's schedule and next run (at most one query)."""
    now = now or timezone.now()
    declared = _declared(SNAPSHOT_JOB)
    if declared is None:
        return SnapshotSchedule(state=NOT_DECLARED)
    if isinstance(declared, int | float | timedelta):
        declared = interval_schedule(run_every=declared)
    if current_app.conf.task_always_eager:
        return SnapshotSchedule(state=NO_WORKER, every=describe(declared))
    task = (
        PeriodicTask.objects.select_related("crontab", "interval", "solar", "clocked")
        .filter(name=SNAPSHOT_JOB)
        .first()
    )
    if task is None:
        return SnapshotSchedule(
            state=NOT_STARTED,
            every=describe(declared),
            next_run_at=next_run(declared, last_run_at=None, now=now),
        )
    scheduler = task.crontab.human_readable if task.crontab else task.scheduler
    every = _sentence_case(str(scheduler or ""))
    if not task.enabled:
        return SnapshotSchedule(state=PAUSED, every=every, last_run_at=task.last_run_at)
    return SnapshotSchedule(
        state=SCHEDULED,
        every=every,
        next_run_at=next_run(task.schedule, last_run_at=task.last_run_at, now=now),
        last_run_at=task.last_run_at,
    )
