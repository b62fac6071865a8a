"""The periodic tasks: declared in CELERY_BEAT_SCHEDULE, registered with the Celery app, and
copied into django-celery-beat's tables when beat starts, where an operator pauses them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from dashboards.models import MetricsSnapshot
from dashboards.tasks import metrics_snapshot_take_task
from leadqual.celery import app as celery_app
from routing.models import AssignmentStatus
from scoring.models import Qualification, Tier
from scoring.tasks import leads_requalify_dormant_sweep_task, model_train_task
from tests.factories import AssignmentFactory, LeadFactory, TouchpointFactory

SCHEDULE = settings.CELERY_BEAT_SCHEDULE

EXPECTED = {
    "routing-check-sla": "routing.tasks.assignments_check_sla_task",
    "scoring-requalify-dirty-sweep": "scoring.tasks.leads_requalify_dirty_sweep_task",
    "scoring-requalify-all-nightly": "scoring.tasks.leads_qualify_all_task",
    "scoring-requalify-dormant": "scoring.tasks.leads_requalify_dormant_sweep_task",
    "scoring-train-weekly": "scoring.tasks.model_train_task",
    # Timing objections whose revisit date has come (docs/triggers.md).
    "scoring-triggers-revisit-due": "scoring.tasks.triggers_revisit_due_task",
    "dashboards-metrics-snapshot": "dashboards.tasks.metrics_snapshot_take_task",
    # Managers' lead overrides past their expiry (docs/overrides.md).
    "scoring-lead-overrides-expire": "scoring.tasks.lead_overrides_expire_task",
    # Path webhook deliveries whose task was lost.
    "routing-webhook-resume": "routing.tasks.webhook_deliveries_resume_task",
    # Every few minutes; the task itself skips while SALESFORCE_ENABLED is off.
    "salesforce-sync": "routing.tasks.salesforce_sync_task",
}


def test_the_schedule_declares_each_periodic_job_of_the_pipeline() -> None:
    assert {name: entry["task"] for name, entry in SCHEDULE.items()} == EXPECTED


def test_every_scheduled_task_is_registered_with_the_celery_app() -> None:
    # What a worker imports at start: the apps' tasks modules (autodiscovery).
    celery_app.loader.import_default_modules()
    missing = {str(entry["task"]) for entry in SCHEDULE.values()} - set(celery_app.tasks)
    assert not missing, f"scheduled but not registered: {sorted(missing)}"


def test_every_scheduled_job_expires_before_it_piles_up() -> None:
    # django-celery-beat reads only "expire_seconds" from the options and drops "expires".
    for name, entry in SCHEDULE.items():
        options = entry.get("options", {})
        assert isinstance(options, dict) and "expires" not in options, name
        assert int(options["expire_seconds"]) > 0, name


# transaction=True: beat closes a connection it finds inside a transaction, as a test's is.
@pytest.mark.django_db(transaction=True)
def test_starting_beat_writes_the_schedule_into_the_django_celery_beat_tables() -> None:
    DatabaseScheduler(app=celery_app, lazy=True).setup_schedule()

    rows = {task.name: task for task in PeriodicTask.objects.select_related("crontab", "interval")}
    for name, task_name in EXPECTED.items():
        assert rows[name].task == task_name
        assert rows[name].enabled
    nightly = rows["scoring-requalify-all-nightly"].crontab
    assert nightly is not None and (nightly.hour, nightly.minute) == ("2", "30")
    weekly = rows["scoring-train-weekly"].crontab
    assert weekly is not None and weekly.day_of_week == "sun"
    assert rows["dashboards-metrics-snapshot"].crontab is not None
    sweep = rows["scoring-requalify-dirty-sweep"].interval
    assert (
        sweep is not None
        and sweep.every
        == settings.CELERY_BEAT_SCHEDULE["scoring-requalify-dirty-sweep"]["schedule"]
    )
    assert json.loads(rows["scoring-requalify-dormant"].kwargs) == {
        "dormant_days": 14,
        "stale_days": 7,
    }
    assert rows["routing-check-sla"].expire_seconds == 240


# transaction=True: beat closes a connection it finds inside a transaction, as a test's is.
@pytest.mark.django_db(transaction=True)
def test_a_job_paused_in_the_admin_stays_paused_when_beat_restarts() -> None:
    DatabaseScheduler(app=celery_app, lazy=True).setup_schedule()
    PeriodicTask.objects.filter(name="scoring-train-weekly").update(enabled=False)

    restarted = DatabaseScheduler(app=celery_app, lazy=True)
    restarted.setup_schedule()

    assert not PeriodicTask.objects.get(name="scoring-train-weekly").enabled
    assert "scoring-train-weekly" not in restarted.schedule
    assert "scoring-requalify-dirty-sweep" in restarted.schedule


def test_the_nightly_run_is_a_crontab_and_the_sweep_an_interval() -> None:
    assert isinstance(SCHEDULE["scoring-requalify-all-nightly"]["schedule"], crontab)
    assert isinstance(SCHEDULE["scoring-requalify-dirty-sweep"]["schedule"], int)


# --- the jobs themselves --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_metrics_snapshot_counts_the_funnel() -> None:
    now = timezone.now()
    ready = LeadFactory()
    Qualification.objects.create(
        lead=ready, tier=Tier.SALES_READY, confidence="high", conversion_probability=0.8
    )
    nurture = LeadFactory(requalify_requested_at=now)
    Qualification.objects.create(
        lead=nurture,
        tier=Tier.NURTURE,
        confidence="low",
        conversion_probability=0.2,
        computed_at=now - timedelta(hours=3),
    )
    LeadFactory()  # not qualified yet
    AssignmentFactory(lead=ready, status=AssignmentStatus.OPEN, sla_due_at=now - timedelta(1))

    snapshot_id = metrics_snapshot_take_task.delay().get()

    snapshot = MetricsSnapshot.objects.get(pk=snapshot_id)
    assert (snapshot.leads, snapshot.qualified) == (3, 2)
    assert (snapshot.sales_ready, snapshot.nurture, snapshot.disqualified) == (1, 1, 0)
    assert snapshot.requalified_last_hour == 1
    assert snapshot.mean_conversion_probability == pytest.approx(0.5)
    assert snapshot.leads_dirty == 1
    assert (snapshot.assignments_open, snapshot.assignments_overdue) == (1, 1)


@pytest.mark.django_db
def test_the_dormant_sweep_requalifies_quiet_live_leads_with_an_old_qualification() -> None:
    long_ago = timezone.now() - timedelta(days=30)
    dormant = LeadFactory()
    TouchpointFactory(lead=dormant, occurred_at=long_ago)
    old = Qualification.objects.create(
        lead=dormant, tier=Tier.SALES_READY, confidence="high", computed_at=long_ago
    )
    active = LeadFactory()
    TouchpointFactory(lead=active, occurred_at=timezone.now() - timedelta(days=1))
    Qualification.objects.create(
        lead=active, tier=Tier.SALES_READY, confidence="high", computed_at=long_ago
    )
    fresh = LeadFactory()
    Qualification.objects.create(lead=fresh, tier=Tier.NURTURE, confidence="high")
    out = LeadFactory()
    Qualification.objects.create(
        lead=out, tier=Tier.DISQUALIFY, confidence="high", computed_at=long_ago
    )

    assert leads_requalify_dormant_sweep_task.delay().get() == 1

    current = Qualification.objects.get(lead=dormant, is_current=True)
    assert current.pk != old.pk and current.computed_at > long_ago
    for untouched in (active, fresh, out):
        assert Qualification.objects.filter(lead=untouched).count() == 1


@pytest.mark.django_db
def test_the_weekly_retraining_without_enough_outcomes_skips_without_failing() -> None:
    LeadFactory()

    result = model_train_task.delay().get()

    assert result["activated"] is False and result["model_version"] is None


def test_long_jobs_go_to_the_bulk_queue_and_real_time_work_stays_on_the_default_one() -> None:
    from leadqual.celery import app

    def queue_of(task: str) -> str:
        route = app.amqp.router.route({}, task)
        return str(route["queue"].name)

    for task in (
        "scoring.tasks.leads_qualify_all_task",
        "scoring.tasks.leads_qualify_task",
        "scoring.tasks.model_train_task",
        "routing.tasks.salesforce_sync_task",
    ):
        assert queue_of(task) == "bulk", task
    for task in (
        "scoring.tasks.leads_requalify_task",
        "routing.tasks.assignments_route_task",
        "routing.tasks.assignments_check_sla_task",
    ):
        assert queue_of(task) == "celery", task
    # A worker started without -Q consumes every declared queue, bulk included.
    assert {q.name for q in app.conf.task_queues} == {"celery", "bulk"}
