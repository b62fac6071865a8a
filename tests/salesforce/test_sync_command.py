"""manage.py salesforce_sync, the sync service's runs and lock, the task and its beat entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import CommandError, call_command

from accounts.models import Lead, SalesforceSyncRun, SyncDirection, SyncRunStatus
from accounts.salesforce.loopback import (
    DEFAULT_PASSWORD,
    DEFAULT_SECURITY_TOKEN,
    INTEGRATION_USERNAME,
    LoopbackServer,
)
from routing.models import SalesforcePushState, SalesRep
from routing.salesforce_sync import LOCK_KEY
from routing.tasks import salesforce_sync_task
from scoring.models import Tier
from tests.celery_worker import RunningWorker
from tests.factories import AssignmentFactory, LeadFactory, QualificationFactory, SalesRepFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def sf_settings(settings: Any, sf_server: LoopbackServer) -> Any:
    settings.SALESFORCE_ENABLED = True
    settings.SALESFORCE_USERNAME = INTEGRATION_USERNAME
    settings.SALESFORCE_PASSWORD = DEFAULT_PASSWORD
    settings.SALESFORCE_SECURITY_TOKEN = DEFAULT_SECURITY_TOKEN
    settings.SALESFORCE_LOOPBACK_URL = sf_server.url
    settings.SALESFORCE_BULK_POLL_SECONDS = 0
    settings.SALESFORCE_RETRY_BACKOFF_SECONDS = 0.01
    settings.SALESFORCE_RETRY_MAX_BACKOFF_SECONDS = 0.02
    settings.SALESFORCE_TIMEOUT_SECONDS = 5.0
    return settings


def routed_org_leads(server: LoopbackServer, count: int) -> tuple[SalesRep, list[str]]:
    rep: SalesRep = SalesRepFactory(
        salesforce_user_id=server.add_user("sam@acme.example", password="x")
    )
    ids = server.store.seed(
        "Lead", [{"LastName": f"Lead {n}", "Company": f"Co {n}"} for n in range(count)]
    )
    for sf_id in ids:
        lead = LeadFactory(salesforce_id=sf_id)
        QualificationFactory(lead=lead, tier=Tier.SALES_READY, conversion_probability=0.9)
        AssignmentFactory(lead=lead, rep=rep)
    return rep, ids


def run(*args: str) -> str:
    out = StringIO()
    call_command("salesforce_sync", *args, stdout=out)
    return out.getvalue()


def test_with_salesforce_disabled_the_command_says_so_and_exits_non_zero() -> None:
    env = {**os.environ, "DEBUG": "1", "SALESFORCE_ENABLED": "0"}
    done = subprocess.run(
        [sys.executable, "manage.py", "salesforce_sync", "--push"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Salesforce is disabled: set SALESFORCE_ENABLED=1" in done.stderr


def test_disabled_in_process_too(settings: Any) -> None:
    settings.SALESFORCE_ENABLED = False
    with pytest.raises(CommandError, match="Salesforce is disabled"):
        run()
    assert not SalesforceSyncRun.objects.exists()


def test_bad_credentials_are_a_clear_error_and_recorded_as_failed_runs(
    sf_settings: Any,
) -> None:
    sf_settings.SALESFORCE_PASSWORD = "wrong"

    with pytest.raises(CommandError, match="Could not log in to Salesforce: INVALID_LOGIN"):
        run("--push")

    (failed,) = SalesforceSyncRun.objects.all()
    assert (failed.direction, failed.status) == (SyncDirection.PUSH, SyncRunStatus.FAILED)
    assert "INVALID_LOGIN" in failed.errors[0]["message"]


def test_push_dry_run_changes_nothing(sf_settings: Any, sf_server: LoopbackServer) -> None:
    routed_org_leads(sf_server, 3)
    before = {r["Id"]: dict(r) for r in sf_server.store.all("Lead")}

    out = run("--push", "--dry-run")

    assert "(3 would be sent)" in out and "Dry run: nothing was written." in out
    assert {r["Id"]: dict(r) for r in sf_server.store.all("Lead")} == before
    assert sf_server.requests_to("PATCH", r"composite") == []
    assert not SalesforcePushState.objects.exists()
    (push_run,) = SalesforceSyncRun.objects.all()
    assert (push_run.direction, push_run.status, push_run.dry_run) == ("push", "ok", True)


def test_push_sends_then_reports_nothing_to_send_as_json(
    sf_settings: Any, sf_server: LoopbackServer
) -> None:
    rep, ids = routed_org_leads(sf_server, 3)

    out = run("--push")
    assert "push: 3 sent, 0 unchanged" in out
    assert {sf_server.store.get("Lead", i)["OwnerId"] for i in ids} == {rep.salesforce_user_id}

    summary = json.loads(run("--push", "--json"))
    assert summary["status"] == "ok" and summary["pull"] is None
    assert summary["push"]["counts"]["unchanged"] == 3
    assert summary["push"]["counts"]["calls"] == 0
    first, second = SalesforceSyncRun.objects.order_by("pk")
    assert first.counts["Lead"]["pushed"] == 3 and second.counts["Lead"]["pushed"] == 0
    assert first.api_used is not None and first.api_limit


def test_stopping_at_the_api_usage_limit_exits_with_code_2(
    sf_settings: Any, sf_server: LoopbackServer
) -> None:
    routed_org_leads(sf_server, 2)
    sf_server.faults.set_api_usage(95_000, 100_000)

    with pytest.raises(CommandError, match="stopped") as raised:
        run("--push")

    assert raised.value.returncode == 2
    (push_run,) = SalesforceSyncRun.objects.all()
    assert push_run.status == SyncRunStatus.STOPPED
    assert "API_USAGE_STOP_SHARE" in push_run.errors[-1]["message"]


def test_a_sync_already_running_makes_the_next_one_wait_its_turn(sf_settings: Any) -> None:
    cache.add(LOCK_KEY, "someone else", timeout=60)
    try:
        with pytest.raises(CommandError, match="already running"):
            run("--push")
        assert salesforce_sync_task.delay(pull=False).get()["status"] == "skipped"
    finally:
        cache.delete(LOCK_KEY)


def test_the_task_skips_with_a_log_line_when_salesforce_is_disabled(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.SALESFORCE_ENABLED = False
    with caplog.at_level("INFO", logger="routing.tasks"):
        result = salesforce_sync_task.delay().get()
    assert result == {"status": "skipped", "reason": "SALESFORCE_ENABLED is off"}
    assert "Salesforce sync skipped: SALESFORCE_ENABLED is off." in caplog.text


def test_the_task_runs_the_sync(sf_settings: Any, sf_server: LoopbackServer) -> None:
    routed_org_leads(sf_server, 2)

    result = salesforce_sync_task.delay(pull=False).get()

    assert result["status"] == "ok" and result["push"]["counts"]["pushed"] == 2


def test_beat_runs_the_sync_every_salesforce_sync_minutes() -> None:
    entry = django_settings.CELERY_BEAT_SCHEDULE["salesforce-sync"]
    assert entry["task"] == "routing.tasks.salesforce_sync_task"
    assert entry["schedule"] == 60 * django_settings.SALESFORCE_SYNC_MINUTES == 300


def seed_org(server: LoopbackServer, count: int) -> tuple[str, list[str]]:
    sam = server.add_user("sam@acme.example", password="x", FirstName="Sam", LastName="Rivera")
    ids = server.store.seed(
        "Lead",
        [
            {"LastName": f"Person {n}", "Company": f"Co {n}", "Email": f"p{n}@co{n}.example"}
            for n in range(count)
        ],
    )
    return sam, ids


def test_a_full_sync_pulls_users_as_reps_and_leads_and_records_both_runs(
    sf_settings: Any, sf_server: LoopbackServer
) -> None:
    sam, ids = seed_org(sf_server, 4)

    out = run("--objects", "User,Lead")

    assert "pull User: 0/" in out and "pull Lead: 4/4" in out
    assert "pull Lead: 4 created" in out
    assert SalesRep.objects.get(salesforce_user_id=sam).is_active is False
    assert Lead.objects.filter(salesforce_id__in=ids).count() == 4
    pull_run, push_run = SalesforceSyncRun.objects.order_by("pk")
    assert (pull_run.direction, pull_run.status) == ("pull", "ok")
    assert pull_run.counts["Lead"]["created"] == 4 and pull_run.counts["User"]["created"] == 2
    assert (push_run.direction, push_run.status) == ("push", "ok")


def test_a_second_sync_after_a_push_changes_nothing(
    sf_settings: Any, sf_server: LoopbackServer
) -> None:
    sam, ids = seed_org(sf_server, 3)
    run("--objects", "User,Lead")
    rep = SalesRep.objects.get(salesforce_user_id=sam)
    for lead in Lead.objects.filter(salesforce_id__in=ids):
        QualificationFactory(lead=lead, tier=Tier.NURTURE, conversion_probability=0.3)
        AssignmentFactory(lead=lead, rep=rep)
    Lead.objects.update(requalify_requested_at=None)
    first = json.loads(run("--objects", "User,Lead", "--json"))
    assert first["push"]["counts"]["pushed"] == 3

    run("--objects", "User,Lead")  # reads the pushed leads back once: nothing to do
    calls = len(sf_server.requests_log)
    last = json.loads(run("--objects", "User,Lead", "--json"))

    lead_counts = last["pull"]["counts"]["Lead"]
    assert (lead_counts["created"], lead_counts["updated"], lead_counts["errors"]) == (0, 0, 0)
    assert last["push"]["counts"]["calls"] == 0
    assert len(sf_server.requests_to("PATCH", r"composite")) == 1
    assert not Lead.objects.filter(requalify_requested_at__isnull=False).exists()
    assert len(sf_server.requests_log) > calls  # the pull did read


def test_pull_dry_run_writes_nothing(sf_settings: Any, sf_server: LoopbackServer) -> None:
    seed_org(sf_server, 2)

    out = run("--pull", "--dry-run")

    assert "Dry run: nothing was written." in out
    assert not Lead.objects.exists() and not SalesRep.objects.exists()
    (pull_run,) = SalesforceSyncRun.objects.all()
    assert pull_run.dry_run and pull_run.counts["Lead"]["created"] == 2


def test_an_unknown_object_is_a_clear_error(sf_settings: Any) -> None:
    with pytest.raises(CommandError, match="No pull for Bogus"):
        run("--pull", "--objects", "Lead,Bogus")


@pytest.fixture
def sf_environ(monkeypatch: pytest.MonkeyPatch, sf_server: LoopbackServer) -> None:
    """The loopback org in the environment, for a worker process to read into its settings."""
    for name, value in {
        "SALESFORCE_ENABLED": "1",
        "SALESFORCE_USERNAME": INTEGRATION_USERNAME,
        "SALESFORCE_PASSWORD": DEFAULT_PASSWORD,
        "SALESFORCE_SECURITY_TOKEN": DEFAULT_SECURITY_TOKEN,
        "SALESFORCE_LOOPBACK_URL": sf_server.url,
        "SALESFORCE_BULK_POLL_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.celery_worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_scheduled_sync(
    sf_environ: None, sf_server: LoopbackServer, live_celery_worker: RunningWorker
) -> None:
    rep, ids = routed_org_leads(sf_server, 3)

    result = live_celery_worker.send(salesforce_sync_task, pull=False).get(timeout=120)

    assert result["status"] == "ok" and result["push"]["counts"]["pushed"] == 3
    assert {sf_server.store.get("Lead", i)["OwnerId"] for i in ids} == {rep.salesforce_user_id}
    assert SalesforceSyncRun.objects.get().status == SyncRunStatus.OK
