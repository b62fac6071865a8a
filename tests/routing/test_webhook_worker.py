"""Path webhooks with a real Celery worker on PostgreSQL and Redis, against a real HTTP server.

Routing runs here and commits; its after-commit enqueue goes to the test worker's own queue
(the one substitution: which queue, so that no other worker on the broker takes the message).
The worker makes the attempts, Celery's own retry schedules the next one after a 5xx, and the
delivery log in the database says what happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from accounts.models import Lead
from routing.models import (
    PathDestination,
    PathDestinationKind,
    Queue,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from routing.services import assignments_route
from routing.tasks import webhook_delivery_send_task
from scoring.models import DisqualificationRule, Qualification, RuleAction, Tier
from tests.celery_worker import RunningWorker
from tests.factories import LeadFactory
from tests.routing.webhook_receiver import WebhookReceiver

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SECRET = "worker-test-secret-0123456789"
WAIT = 60.0


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-second backoff in the worker (it reads the environment when it starts)."""
    monkeypatch.setenv("LEADQUAL_WEBHOOK_RETRY_SECONDS", "1")
    monkeypatch.setenv("LEADQUAL_WEBHOOK_RETRY_MAX_SECONDS", "2")
    monkeypatch.setenv("LEADQUAL_WEBHOOK_MAX_ATTEMPTS", "4")


@pytest.fixture
def to_the_worker(
    live_celery_worker: RunningWorker, monkeypatch: pytest.MonkeyPatch
) -> RunningWorker:
    def delay(delivery_id: int) -> Any:
        return live_celery_worker.send(webhook_delivery_send_task, delivery_id)

    monkeypatch.setattr(webhook_delivery_send_task, "delay", delay)
    return live_celery_worker


def _wait_until(condition: Callable[[], bool], what: str, worker: RunningWorker) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"Timed out waiting for {what}.\n{worker.log()}")


def _student_routed_and_committed() -> WebhookDelivery:
    DisqualificationRule.objects.create(
        name="Student or academic",
        category="student",
        reason_code="student",
        action=RuleAction.ROUTE_COMMUNITY,
    )
    lead: Lead = LeadFactory(email="amy.chen@mit.edu", name="Amy Chen")
    Qualification.objects.create(
        lead=lead, tier=Tier.DISQUALIFY, confidence="high", disqualification_reason="student"
    )
    with transaction.atomic():  # committed at the end of the block: the enqueue runs then
        (assignment,) = assignments_route(lead_ids=[lead.pk])
    assert assignment.queue == Queue.COMMUNITY
    return WebhookDelivery.objects.get(assignment=assignment)


def test_a_worker_delivers_after_a_5xx_with_the_same_delivery_id_and_body(
    quick_retries: None, receiver: WebhookReceiver, to_the_worker: RunningWorker
) -> None:
    PathDestination.objects.create(
        path=Queue.COMMUNITY,
        kind=PathDestinationKind.WEBHOOK,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
    )
    receiver.script = [503]

    delivery = _student_routed_and_committed()

    def delivered() -> bool:
        delivery.refresh_from_db()
        return delivery.status == WebhookDeliveryStatus.DELIVERED

    _wait_until(delivered, "the delivery to succeed", to_the_worker)
    first, second = receiver.wait_for(2)
    assert first.body == second.body == delivery.body.encode()
    assert first.header("X-Leadqual-Delivery") == second.header("X-Leadqual-Delivery")
    assert first.header("X-Leadqual-Delivery") == str(delivery.delivery_id)
    assert (first.header("X-Leadqual-Attempt"), second.header("X-Leadqual-Attempt")) == ("1", "2")
    assert (delivery.attempts, delivery.last_status_code) == (2, 200)
    assert delivery.delivered_at is not None


def test_a_worker_gives_up_on_a_4xx_at_once_and_a_duplicate_task_sends_nothing_more(
    quick_retries: None, receiver: WebhookReceiver, to_the_worker: RunningWorker
) -> None:
    PathDestination.objects.create(
        path=Queue.COMMUNITY,
        kind=PathDestinationKind.WEBHOOK,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
    )
    receiver.script = [422]

    delivery = _student_routed_and_committed()

    def failed() -> bool:
        delivery.refresh_from_db()
        return delivery.status == WebhookDeliveryStatus.FAILED

    _wait_until(failed, "the delivery to be given up", to_the_worker)
    # The same message delivered twice (acks_late after a lost ack): nothing more is sent.
    result = to_the_worker.send(webhook_delivery_send_task, delivery.pk)
    assert result.get(timeout=WAIT) == WebhookDeliveryStatus.FAILED
    time.sleep(2.5)  # past any retry the backoff could have scheduled
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (1, 422)
