"""Celery for real: a worker on the broker runs a task against the database, and eager mode runs
it inline when there is no broker."""

from __future__ import annotations

import logging
import time

import pytest

from accounts.models import Lead
from accounts.tasks import lead_match_account_task
from leadqual.celery import app as celery_app
from tests.celery_worker import RunningWorker
from tests.factories import AccountFactory, LeadFactory


def _wait_for_account(lead_id: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    account_id = None
    while time.monotonic() < deadline:
        account_id = Lead.objects.values_list("account_id", flat=True).get(pk=lead_id)
        if account_id is not None:
            break
        time.sleep(0.2)
    return account_id


@pytest.mark.slow
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_matches_a_lead_enqueued_through_the_broker(
    live_celery_worker: RunningWorker,
) -> None:
    account = AccountFactory(domain="acme.com")
    lead = LeadFactory(email="buyer@eu.acme.com")
    assert lead.account_id is None

    result = live_celery_worker.send(lead_match_account_task, lead.pk)

    assert _wait_for_account(lead.pk, timeout=30) == account.pk, live_celery_worker.log()
    assert result.get(timeout=10) == account.pk
    assert "lead_match_account_task" in live_celery_worker.log()


@pytest.mark.slow
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_shrugs_off_a_lead_that_no_longer_exists(
    live_celery_worker: RunningWorker,
) -> None:
    lead = LeadFactory(email="gone@acme.com")
    lead_id = lead.pk
    lead.delete()

    result = live_celery_worker.send(lead_match_account_task, lead_id)

    assert result.get(timeout=30) is None
    assert result.successful()


@pytest.mark.django_db
def test_in_eager_mode_delay_runs_the_task_inline() -> None:
    assert celery_app.conf.task_always_eager is True
    account = AccountFactory(domain="acme.com")
    lead = LeadFactory(email="buyer@acme.com")

    result = lead_match_account_task.delay(lead.pk)

    # Eager mode: the work is done by the time delay() returns, no worker involved.
    assert result.get() == account.pk
    lead.refresh_from_db()
    assert lead.account_id == account.pk


@pytest.mark.django_db
def test_the_task_is_safe_to_run_twice() -> None:
    account = AccountFactory(domain="acme.com")
    lead = LeadFactory(email="buyer@acme.com")

    first = lead_match_account_task.delay(lead.pk).get()
    lead.refresh_from_db()
    updated_at = lead.updated_at
    second = lead_match_account_task.delay(lead.pk).get()
    lead.refresh_from_db()

    assert first == second == account.pk
    # The second run finds nothing to change and writes nothing.
    assert lead.updated_at == updated_at


@pytest.mark.django_db
def test_the_task_logs_and_returns_when_the_lead_is_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="accounts.tasks"):
        assert lead_match_account_task.delay(987654).get() is None

    assert "987654" in caplog.text


@pytest.mark.django_db
def test_the_task_leaves_a_free_mail_lead_without_an_account() -> None:
    AccountFactory(domain="gmail.com")
    lead = LeadFactory(email="someone@gmail.com")

    assert lead_match_account_task.delay(lead.pk).get() is None
    lead.refresh_from_db()
    assert lead.account_id is None


def test_the_task_acknowledges_late() -> None:
    # A worker killed mid-task must leave the message for another worker.
    assert lead_match_account_task.acks_late is True
