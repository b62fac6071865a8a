"""The re-qualification pipeline in-process (eager Celery): coalescing, the dirty sweep,
idempotence and retries. The same tasks on a real worker: tests/test_pipeline_worker.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts.models import Lead
from leadqual.celery import app as celery_app
from routing.models import Assignment
from scoring import services, tasks
from scoring.models import Qualification
from tests.factories import LeadFactory
from tests.routing.test_services import build_world
from tests.scoring.test_services import FAST
from tests.scoring.test_services import _history as _labelled_history

pytestmark = pytest.mark.django_db


def pipeline_state_forget() -> None:
    """Drop the pipeline's flag, notes and claims from the cache.

    They live in the cache (Redis when a broker is set), which outlives a test's rolled-back
    database: a new lead may reuse an id a previous test claimed. Only these keys: on Redis
    the cache shares its database with the broker, which `cache.clear()` would empty.
    """
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        # The flag, the notes and the claims: tasks._QUEUED_KEY, _PENDING_KEY, _CLAIM_KEY.
        keys = list(client.scan_iter(match="*leadqual:requalify-*"))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _no_stale_pipeline_state() -> Iterator[None]:
    pipeline_state_forget()
    yield
    pipeline_state_forget()


def _dirty_lead(**fields: Any) -> Lead:
    lead: Lead = LeadFactory(requalify_requested_at=timezone.now(), **fields)
    return lead


@pytest.fixture
def enqueue(django_capture_on_commit_callbacks: Any) -> Callable[[list[int]], None]:
    """leads_requalify_enqueue as an ingest calls it: after its transaction has committed
    (here the test's transaction never commits, so the on-commit sends run on the spot)."""

    def call(lead_ids: list[int]) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            tasks.leads_requalify_enqueue(lead_ids)

    return call


def _qualifications(lead: Lead) -> int:
    return Qualification.objects.filter(lead=lead).count()


def _is_dirty(lead: Lead) -> bool:
    lead.refresh_from_db(fields=["requalify_requested_at"])
    return lead.requalify_requested_at is not None


def test_a_burst_of_fifty_events_for_one_lead_costs_one_requalification(
    django_capture_on_commit_callbacks: Any,
) -> None:
    lead = _dirty_lead()
    sent = mock.Mock(wraps=tasks.leads_requalify_task.apply_async)

    # Fifty ingests' after-commit calls while the first task is still queued (its on-commit
    # send held back until the block ends, as a busy queue would hold the message).
    with (
        mock.patch.object(tasks.leads_requalify_task, "apply_async", sent),
        django_capture_on_commit_callbacks(execute=True),
    ):
        for _ in range(50):
            tasks.leads_requalify_enqueue([lead.pk])

    assert sent.call_count == 1
    assert _qualifications(lead) == 1
    assert not _is_dirty(lead)


def test_a_single_event_is_qualified_and_routed_at_once(
    enqueue: Callable[[list[int]], None],
) -> None:
    world = build_world()
    lead = _dirty_lead(account=world.account)

    enqueue([lead.pk])

    qualification = Qualification.objects.get(lead=lead, is_current=True)
    assignment = Assignment.objects.get(lead=lead, status__in=["open", "accepted"])
    assert assignment.tier == qualification.tier
    assert not _is_dirty(lead)


def test_an_event_after_the_task_started_enqueues_again(
    enqueue: Callable[[list[int]], None],
) -> None:
    lead = _dirty_lead()
    enqueue([lead.pk])
    assert _qualifications(lead) == 1

    # The first task has taken its mark off: new evidence must not wait for the sweep.
    Lead.objects.filter(pk=lead.pk).update(requalify_requested_at=timezone.now())
    enqueue([lead.pk])

    assert _qualifications(lead) == 2
    assert not _is_dirty(lead)


def test_a_backlog_is_worked_through_in_runs_of_bounded_size(
    monkeypatch: pytest.MonkeyPatch, enqueue: Callable[[list[int]], None]
) -> None:
    monkeypatch.setattr(tasks, "REQUALIFY_TASK_LEADS", 2)
    leads = [_dirty_lead() for _ in range(5)]
    runs = mock.Mock(wraps=services.leads_qualify)
    monkeypatch.setattr(services, "leads_qualify", runs)

    # One ingest of five leads: one task, which takes two and leaves a successor the rest.
    enqueue([lead.pk for lead in leads])

    assert [len(call.kwargs["lead_ids"]) for call in runs.call_args_list] == [2, 2, 1]
    assert not any(_is_dirty(lead) for lead in leads)


def test_the_task_is_idempotent_one_current_qualification_and_a_clean_lead() -> None:
    lead = _dirty_lead()

    first = tasks.leads_requalify_task.delay([lead.pk]).get()
    second = tasks.leads_requalify_task.delay([lead.pk]).get()

    assert (first, second) == (1, 0)
    assert Qualification.objects.filter(lead=lead, is_current=True).count() == 1
    assert _qualifications(lead) == 1
    assert not _is_dirty(lead)


def test_the_task_takes_other_waiting_leads_along_in_the_same_run() -> None:
    mine = _dirty_lead()
    waiting = LeadFactory(requalify_requested_at=timezone.now() - timedelta(seconds=5))
    clean = LeadFactory()

    assert tasks.leads_requalify_task.delay([mine.pk]).get() == 2

    assert not _is_dirty(mine) and not _is_dirty(waiting)
    assert _qualifications(clean) == 0
    # The waiting lead's own task, when it comes, finds nothing left to do.
    assert tasks.leads_requalify_task.delay([waiting.pk]).get() == 0


def test_a_lead_another_task_is_qualifying_is_left_to_it() -> None:
    held = _dirty_lead()
    free = _dirty_lead()
    assert tasks._claim([held.pk], "another-task") == [held.pk]

    assert tasks.leads_requalify_task.delay([held.pk, free.pk]).get() == 1

    assert _is_dirty(held) and _qualifications(held) == 0
    assert not _is_dirty(free)


def test_a_redelivered_task_holds_again_what_its_killed_attempt_claimed() -> None:
    lead = _dirty_lead()
    assert tasks._claim([lead.pk], "task-1") == [lead.pk]

    assert tasks._claim([lead.pk], "task-1") == [lead.pk]
    assert tasks._claim([lead.pk], "task-2") == []
    result = tasks.leads_requalify_task.apply(args=([lead.pk],), task_id="task-1")

    assert result.get() == 1
    assert not _is_dirty(lead)
    assert tasks._claim([lead.pk], "task-2") == [lead.pk]  # released at the end


def test_the_task_skips_missing_leads() -> None:
    lead = _dirty_lead()
    missing = lead.pk + 1000

    assert tasks.leads_requalify_task.delay([lead.pk, missing]).get() == 1


def test_a_clean_lead_qualified_before_the_request_is_qualified_again() -> None:
    # The ingest race: a run cleared the dirty mark without having seen the event, whose
    # after-commit request came later. The request's time says the lead still needs a run.
    lead = LeadFactory()
    services.leads_qualify(lead_ids=[lead.pk])
    requested_at = timezone.now()
    assert not _is_dirty(lead)

    assert tasks.leads_requalify_task.delay([lead.pk], requested_at.isoformat()).get() == 1
    current = Qualification.objects.get(lead=lead, is_current=True)
    assert current.computed_at >= requested_at
    # ...and once it has one from after the request, a repeat does nothing.
    assert tasks.leads_requalify_task.delay([lead.pk], requested_at.isoformat()).get() == 0


def test_a_lead_noted_by_an_ingest_is_requalified_even_if_another_run_cleared_its_mark(
    enqueue: Callable[[list[int]], None],
) -> None:
    # The race: a run that started before the ingest committed clears the dirty mark without
    # having read the new evidence. The ingest noted the lead after its commit, so the next
    # run qualifies it anyway.
    lead = LeadFactory()
    services.leads_qualify(lead_ids=[lead.pk])
    before = Qualification.objects.get(lead=lead, is_current=True)
    assert not _is_dirty(lead)

    enqueue([lead.pk])

    current = Qualification.objects.get(lead=lead, is_current=True)
    assert current.pk != before.pk


def test_the_sweep_requalifies_leads_left_dirty_and_leaves_fresh_ones_to_the_real_time_path() -> (
    None
):
    stale = LeadFactory(requalify_requested_at=timezone.now() - timedelta(minutes=5))
    fresh = _dirty_lead()
    clean = LeadFactory()

    swept = tasks.leads_requalify_dirty_sweep_task.delay().get()

    assert swept == 1
    assert _qualifications(stale) == 1
    assert not _is_dirty(stale)
    assert _qualifications(fresh) == 0 and _is_dirty(fresh)
    assert _qualifications(clean) == 0


def test_the_sweep_requalifies_what_a_lost_message_left_behind(
    enqueue: Callable[[list[int]], None],
) -> None:
    lead = LeadFactory(requalify_requested_at=timezone.now() - timedelta(minutes=5))
    # The flag of a task the broker lost: ingests enqueue nothing until it expires.
    assert tasks._flag_queued()
    enqueue([lead.pk])
    assert _is_dirty(lead)

    assert tasks.leads_requalify_dirty_sweep_task.delay().get() == 1

    assert not _is_dirty(lead) and _qualifications(lead) == 1


def test_an_operational_error_is_retried_with_backoff_and_the_retry_converges() -> None:
    lead = _dirty_lead()
    real = services.leads_qualify
    attempts: list[int] = []

    def deadlocked_once(**kwargs: Any) -> services.QualifyResult:
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("deadlock detected")
        return real(**kwargs)

    with (
        mock.patch.object(services, "leads_qualify", side_effect=deadlocked_once),
        pytest.raises(Retry) as retry,
    ):
        tasks.leads_requalify_task.delay([lead.pk])

    assert isinstance(retry.value.exc, OperationalError)
    # Exponential backoff with full jitter: a countdown drawn from 0..2**retries seconds.
    assert retry.value.when is not None and tasks.leads_requalify_task.retry_backoff
    assert _is_dirty(lead)  # the failed attempt wrote nothing

    with mock.patch.object(services, "leads_qualify", side_effect=deadlocked_once):
        assert retry.value.sig is not None
        assert retry.value.sig.apply().get() == 1

    assert len(attempts) == 2
    assert Qualification.objects.filter(lead=lead, is_current=True).count() == 1
    assert not _is_dirty(lead)


def test_the_pipeline_tasks_acknowledge_late_and_have_time_limits() -> None:
    for task in (tasks.leads_requalify_task, tasks.leads_requalify_dirty_sweep_task):
        assert task.acks_late is True
        assert task.name in celery_app.tasks
    assert tasks.leads_requalify_task.soft_time_limit
    assert tasks.leads_requalify_task.time_limit
    assert OperationalError in tasks.leads_requalify_task.autoretry_for


def test_a_broker_that_is_down_costs_the_ingest_nothing_and_leaves_the_lead_to_the_sweep(
    enqueue: Callable[[list[int]], None], caplog: pytest.LogCaptureFixture
) -> None:
    lead = _dirty_lead()
    down = mock.Mock(side_effect=KombuOperationalError("Error 111 connecting to redis"))

    with mock.patch.object(tasks.leads_requalify_task, "apply_async", down):
        enqueue([lead.pk])  # does not raise into the ingest's response

    assert down.call_count == 1
    assert _is_dirty(lead) and _qualifications(lead) == 0
    assert "Cannot enqueue a re-qualification" in caplog.text
    # The flag was taken back: the next event tries the broker again.
    enqueue([lead.pk])
    assert not _is_dirty(lead)


def test_a_new_lead_without_the_custom_attributes_the_model_learned_is_still_qualified(
    enqueue: Callable[[list[int]], None],
) -> None:
    _labelled_history()
    Lead.objects.update(attributes={"annual_budget_band": "100k+"})
    assert services.model_train(params=FAST).activated
    newcomer = _dirty_lead()  # from an ingest: no CRM attributes at all

    enqueue([newcomer.pk])

    current = Qualification.objects.get(lead=newcomer, is_current=True)
    assert current.model_version_id is not None
