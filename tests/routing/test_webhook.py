"""Path webhooks end to end against a real HTTP server on 127.0.0.1: the document, its
signature, retries with backoff on 5xx and no answer, no retry on 4xx, the delivery log, and
a retry carrying the same delivery id and bytes."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Account, Lead
from routing import webhook
from routing.models import (
    Assignment,
    AssignmentStatus,
    PathDestination,
    PathDestinationKind,
    Queue,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from routing.path_services import (
    webhook_deliveries_redeliver,
    webhook_deliveries_resume,
    webhook_delivery_send,
)
from routing.services import assignments_route
from routing.tasks import webhook_delivery_send_task
from scoring.models import DisqualificationRule, Qualification, RuleAction, Tier
from tests.factories import AccountFactory, LeadFactory
from tests.routing.webhook_receiver import HANG, WebhookReceiver

pytestmark = pytest.mark.django_db

SECRET = "a-receiver-secret-of-some-length"
EVIDENCE = "Academic email domain (mit.edu) and the title 'PhD candidate'"
BRIEF = {
    "tier": "disqualify",
    "status": "Disqualify",
    "rule_hits": [
        {
            "reason_code": "student",
            "category": "student",
            "rule": "Student or academic",
            "action": "route_community",
            "needs_review": False,
            "evidence": EVIDENCE,
        }
    ],
    "behaviour": ["Read 6 blog posts on lead scoring models"],
}


def community_webhook(url: str, **fields: Any) -> PathDestination:
    destination: PathDestination = PathDestination.objects.create(
        path=Queue.COMMUNITY,
        kind=PathDestinationKind.WEBHOOK,
        webhook_url=url,
        webhook_secret=SECRET,
        **fields,
    )
    return destination


def student_routed(
    capture: Callable[..., Any], *, execute: bool = False, email: str = "amy.chen@mit.edu"
) -> WebhookDelivery:
    """A student qualified by the community rule and routed; the delivery routing recorded."""
    DisqualificationRule.objects.get_or_create(
        reason_code="student",
        defaults={"name": "Student or academic", "category": "student",
                  "action": RuleAction.ROUTE_COMMUNITY},
    )  # fmt: skip
    account = Account.objects.filter(domain="mit.edu").first() or AccountFactory(
        name="MIT", domain="mit.edu"
    )
    lead: Lead = LeadFactory(
        account=account, email=email, name="Amy Chen", title="PhD candidate",
        salesforce_id="00Q5g000000AbCdEAK" if email == "amy.chen@mit.edu" else None,
    )  # fmt: skip
    Qualification.objects.create(
        lead=lead,
        tier=Tier.DISQUALIFY,
        confidence="high",
        disqualification_reason="student",
        brief=BRIEF,
    )
    with capture(execute=execute):
        (assignment,) = assignments_route(lead_ids=[lead.pk])
    assert assignment.queue == Queue.COMMUNITY
    return WebhookDelivery.objects.get(assignment=assignment)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- the pure parts ----------------------------------------------------------------------------


def test_the_signature_is_the_hex_hmac_sha256_of_the_body_under_the_secret() -> None:
    body = b'{"event":"lead.path_assigned"}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    assert webhook.signature(body, SECRET) == f"sha256={expected}"
    assert webhook.signature_valid(body, SECRET, f"sha256={expected}")
    assert not webhook.signature_valid(body + b" ", SECRET, f"sha256={expected}")
    assert not webhook.signature_valid(body, "another secret", f"sha256={expected}")


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (webhook.Answer(200), webhook.DELIVERED),
        (webhook.Answer(204), webhook.DELIVERED),
        (webhook.Answer(500, "HTTP 500"), webhook.RETRY),
        (webhook.Answer(503, "HTTP 503"), webhook.RETRY),
        (webhook.Answer(None, "ConnectionError"), webhook.RETRY),
        (webhook.Answer(400, "HTTP 400"), webhook.GIVE_UP),
        (webhook.Answer(404, "HTTP 404"), webhook.GIVE_UP),
        (webhook.Answer(429, "HTTP 429"), webhook.GIVE_UP),
        (webhook.Answer(301, "Redirected"), webhook.GIVE_UP),
    ],
)
def test_5xx_and_no_answer_are_retried_and_4xx_is_not(answer: webhook.Answer, verdict: str) -> None:
    assert webhook.outcome(answer) == verdict


def test_the_backoff_doubles_up_to_its_cap() -> None:
    waits = [webhook.backoff_seconds(n, base=30, cap=300) for n in range(1, 7)]

    assert waits == [30, 60, 120, 240, 300, 300]


# --- delivery end to end -----------------------------------------------------------------------


def test_the_receiver_gets_the_lead_its_path_the_rule_and_the_summary_signed_after_commit(
    receiver: WebhookReceiver, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    community_webhook(receiver.url)

    delivery = student_routed(django_capture_on_commit_callbacks, execute=True)

    (got,) = receiver.received
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        WebhookDeliveryStatus.DELIVERED,
        1,
        200,
    )
    assert got.body == delivery.body.encode()
    expected = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.header("X-Leadqual-Signature") == f"sha256={expected}"
    assert got.header("X-Leadqual-Delivery") == str(delivery.delivery_id)
    assert got.header("X-Leadqual-Event") == "lead.path_assigned"
    assert got.header("X-Leadqual-Attempt") == "1"
    assert got.header("Content-Type").startswith("application/json")
    document = json.loads(got.body)
    assignment = delivery.assignment
    assert document["delivery_id"] == str(delivery.delivery_id)
    assert document["path"] == {"code": "community", "label": "Community"}
    assert document["lead"] == {
        "id": assignment.lead_id,
        "name": "Amy Chen",
        "email": "amy.chen@mit.edu",
        "title": "PhD candidate",
        "company": "MIT",
        "account_id": assignment.lead.account_id,
        "salesforce_id": "00Q5g000000AbCdEAK",
    }
    assert document["assignment"]["id"] == assignment.pk
    assert document["assignment"]["reason"] == "rule student → community"
    assert document["assignment"]["reason_code"] == "student"
    assert document["rule"] == {
        "reason_code": "student",
        "name": "Student or academic",
        "category": "student",
        "action": "route_community",
        "evidence": EVIDENCE,
    }
    assert f"Rule: {EVIDENCE}" in document["summary"]


def test_a_5xx_is_retried_later_with_the_same_delivery_id_body_and_signature(
    receiver: WebhookReceiver,
    django_capture_on_commit_callbacks: Callable[..., Any],
    settings: Any,
) -> None:
    settings.LEADQUAL_WEBHOOK_RETRY_SECONDS = 30.0
    community_webhook(receiver.url)
    delivery = student_routed(django_capture_on_commit_callbacks)
    receiver.script = [503]
    start = timezone.now()

    first = webhook_delivery_send(delivery_id=delivery.pk, now=start)

    delivery.refresh_from_db()
    assert (first.status, first.retry_in) == (WebhookDeliveryStatus.RETRYING, 30.0)
    assert (delivery.attempts, delivery.last_status_code) == (1, 503)
    assert delivery.last_error.startswith("HTTP 503")
    assert delivery.next_attempt_at == start + timedelta(seconds=30)

    second = webhook_delivery_send(delivery_id=delivery.pk, now=start + timedelta(seconds=31))

    assert (second.status, second.retry_in) == (WebhookDeliveryStatus.DELIVERED, None)
    one, two = receiver.received
    assert one.body == two.body
    assert one.header("X-Leadqual-Delivery") == two.header("X-Leadqual-Delivery")
    assert one.header("X-Leadqual-Signature") == two.header("X-Leadqual-Signature")
    assert (one.header("X-Leadqual-Attempt"), two.header("X-Leadqual-Attempt")) == ("1", "2")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        WebhookDeliveryStatus.DELIVERED,
        2,
        "",
    )


def test_a_4xx_is_not_retried_and_the_log_keeps_the_receiver_s_answer(
    receiver: WebhookReceiver, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    community_webhook(receiver.url)
    delivery = student_routed(django_capture_on_commit_callbacks)
    receiver.script = [404]

    outcome = webhook_delivery_send(delivery_id=delivery.pk)
    again = webhook_delivery_send(delivery_id=delivery.pk)

    assert (outcome.status, outcome.retry_in) == (WebhookDeliveryStatus.FAILED, None)
    assert again.status == WebhookDeliveryStatus.FAILED
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code, delivery.next_attempt_at) == (
        1,
        404,
        None,
    )
    assert delivery.last_error == 'HTTP 404: {"error": "scripted"}'


def test_no_answer_is_retried_connection_refused_and_timeout_alike(
    receiver: WebhookReceiver, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    destination = community_webhook(
        f"http://127.0.0.1:{unused_port()}/hook", webhook_timeout_seconds=1
    )
    delivery = student_routed(django_capture_on_commit_callbacks)

    refused = webhook_delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert refused.status == WebhookDeliveryStatus.RETRYING
    assert delivery.last_status_code is None
    assert "ConnectionError" in delivery.last_error

    PathDestination.objects.filter(pk=destination.pk).update(webhook_url=receiver.url)
    receiver.script, receiver.hang_seconds = [HANG], 2.5
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    timed_out = webhook_delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert timed_out.status == WebhookDeliveryStatus.RETRYING
    assert (delivery.attempts, delivery.last_error) == (2, "No answer within 1 s.")
    assert delivery.url == receiver.url  # where the last attempt went


def test_a_delivery_is_given_up_after_the_configured_attempts(
    receiver: WebhookReceiver,
    django_capture_on_commit_callbacks: Callable[..., Any],
    settings: Any,
) -> None:
    settings.LEADQUAL_WEBHOOK_MAX_ATTEMPTS = 2
    community_webhook(receiver.url)
    delivery = student_routed(django_capture_on_commit_callbacks)
    receiver.script = [500, 502]

    webhook_delivery_send(delivery_id=delivery.pk)
    last = webhook_delivery_send(delivery_id=delivery.pk)

    assert (last.status, last.retry_in) == (WebhookDeliveryStatus.FAILED, None)
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.last_error.startswith("Gave up after 2 attempts. Last: HTTP 502")


def test_a_lead_that_left_the_path_before_the_first_attempt_is_not_sent(
    receiver: WebhookReceiver, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    community_webhook(receiver.url)
    delivery = student_routed(django_capture_on_commit_callbacks)
    Assignment.objects.filter(pk=delivery.assignment_id).update(status=AssignmentStatus.REASSIGNED)

    outcome = webhook_delivery_send(delivery_id=delivery.pk)

    assert outcome.status == WebhookDeliveryStatus.CANCELLED
    assert receiver.received == []


def test_a_delivery_whose_destination_was_removed_fails_with_the_reason(
    receiver: WebhookReceiver, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    destination = community_webhook(receiver.url)
    delivery = student_routed(django_capture_on_commit_callbacks)
    destination.delete()

    outcome = webhook_delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert outcome.status == WebhookDeliveryStatus.FAILED
    assert "destination was removed" in delivery.last_error
    assert receiver.received == []


def test_a_delivery_another_run_is_sending_is_not_sent_twice(
    receiver: WebhookReceiver, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    community_webhook(receiver.url)
    delivery = student_routed(django_capture_on_commit_callbacks)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDeliveryStatus.SENDING,
        next_attempt_at=timezone.now() + timedelta(seconds=20),
    )

    assert webhook_delivery_send(delivery_id=delivery.pk).status == WebhookDeliveryStatus.SENDING
    assert receiver.received == []


def test_the_task_run_inline_leaves_a_retry_to_the_sweep_instead_of_repeating_at_once(
    receiver: WebhookReceiver, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    community_webhook(receiver.url)
    delivery = student_routed(django_capture_on_commit_callbacks)
    receiver.script = [503, 503, 503]

    status = webhook_delivery_send_task.delay(delivery.pk).get()

    assert status == WebhookDeliveryStatus.RETRYING
    assert len(receiver.received) == 1


def test_the_sweep_resumes_deliveries_whose_task_was_lost_and_leaves_fresh_ones(
    receiver: WebhookReceiver, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    community_webhook(receiver.url)
    lost = student_routed(django_capture_on_commit_callbacks)  # its task was never sent
    WebhookDelivery.objects.filter(pk=lost.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    fresh = student_routed(django_capture_on_commit_callbacks, email="bo.li@mit.edu")

    resumed = webhook_deliveries_resume()

    assert resumed == [lost.pk]
    (got,) = receiver.received
    assert got.header("X-Leadqual-Delivery") == str(lost.delivery_id)
    fresh.refresh_from_db()
    assert fresh.status == WebhookDeliveryStatus.PENDING


def test_a_failed_delivery_sent_again_keeps_its_delivery_id_and_body(
    receiver: WebhookReceiver,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    community_webhook(receiver.url)
    delivery = student_routed(django_capture_on_commit_callbacks)
    receiver.script = [410]
    webhook_delivery_send(delivery_id=delivery.pk)

    with django_capture_on_commit_callbacks(execute=True):
        count = webhook_deliveries_redeliver(delivery_ids=[delivery.pk])

    assert count == 1
    first, second = receiver.received
    assert first.body == second.body
    assert first.header("X-Leadqual-Delivery") == second.header("X-Leadqual-Delivery")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDeliveryStatus.DELIVERED, 1)
