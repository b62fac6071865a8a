"""Alternative paths' writes: a path team marks a lead handled, and webhook deliveries.

A delivery is recorded in the transaction that assigns the lead to a webhook path
(`webhook_deliveries_create`, called by routing), and sent by a Celery task once that
transaction commits (`webhook_delivery_send`): the body is fixed at the first attempt, signed,
POSTed outside any transaction, and the answer decides: delivered, retry later with backoff
(5xx, no answer), or give up (4xx). A delivery whose task was lost (the broker was down at
commit, a worker died) is picked up again by `webhook_deliveries_resume`, on beat.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.models import Lead
from routing import webhook
from routing.handoff_service import handoffs_for_leads
from routing.models import (
    ALTERNATIVE_PATHS,
    Assignment,
    AssignmentEvent,
    AssignmentEventKind,
    AssignmentStatus,
    PathDestinationKind,
    Queue,
    WebhookDelivery,
    WebhookDeliveryStatus,
)

logger = logging.getLogger(__name__)

CURRENT = (AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED)
FINISHED = (
    WebhookDeliveryStatus.DELIVERED,
    WebhookDeliveryStatus.FAILED,
    WebhookDeliveryStatus.CANCELLED,
)
# A delivery left "sending" this long past its timeout is an attempt that died mid-way.
CLAIM_MARGIN = timedelta(seconds=30)
# The sweep leaves alone what is due this recently: its own task is about to run it.
RESUME_GRACE = timedelta(minutes=5)
RESUME_LIMIT = 1000


class PathError(Exception):
    """A path action that cannot be done; the message says why, for the person who tried."""


def _name(user: AbstractBaseUser | None) -> str:
    if user is None:
        return "someone"
    full = getattr(user, "get_full_name", lambda: "")()
    return str(full or user.get_username())


# --- a team marks a lead handled -----------------------------------------------------------


def path_assignment_handle(
    *, assignment_id: int, user: AbstractBaseUser, now: datetime | None = None
) -> Assignment:
    """The path's team has dealt with this lead: its assignment is accepted by `user`.

    The lead stays on the path (and in its history) with who handled it and when; an event
    records it. Raises PathError when the assignment is not a lead waiting on a path.
    """
    moment = now or timezone.now()
    lead_id = Assignment.objects.filter(pk=assignment_id).values_list("lead_id", flat=True).first()
    if lead_id is None:
        raise PathError("This assignment does not exist.")
    with transaction.atomic():
        # The lead's row lock: every change of a lead's assignments holds it (routing.services).
        list(Lead.objects.select_for_update().filter(pk=lead_id).values_list("pk"))
        assignment = (
            Assignment.objects.select_related("accepted_by").filter(pk=assignment_id).first()
        )
        if assignment is None or assignment.status not in CURRENT:
            raise PathError("The lead has moved on since this page was loaded.")
        if assignment.queue not in ALTERNATIVE_PATHS:
            raise PathError("This lead is not on an alternative path.")
        label = Queue(assignment.queue).label
        if assignment.status == AssignmentStatus.ACCEPTED:
            raise PathError(f"Already handled by {_name(assignment.accepted_by)}.")
        assignment.status = AssignmentStatus.ACCEPTED
        assignment.accepted_by_id = user.pk
        assignment.accepted_at = moment
        fields = ["status", "accepted_by", "accepted_at"]
        if assignment.first_touch_at is None:
            assignment.first_touch_at = moment  # handled is touched: no SLA alert follows
            fields.append("first_touch_at")
        assignment.save(update_fields=fields)
        AssignmentEvent.objects.create(
            assignment=assignment,
            kind=AssignmentEventKind.HANDLED,
            created_at=moment,
            by_user_id=user.pk,
            message=f"Handled by {_name(user)} on the {label.lower()} path.",
        )
    return assignment


# --- webhook deliveries --------------------------------------------------------------------


def webhook_deliveries_create(
    *, assignments: Sequence[Assignment], destinations: Mapping[str, int], now: datetime
) -> list[int]:
    """Record a delivery for each new assignment to a webhook path, inside routing's
    transaction, and send each once it commits. Returns the deliveries' ids."""
    rows = [
        WebhookDelivery(
            assignment_id=assignment.pk,
            destination_id=destinations[assignment.queue],
            path=assignment.queue,
            created_at=now,
            next_attempt_at=now,
        )
        for assignment in assignments
    ]
    WebhookDelivery.objects.bulk_create(rows)
    ids = [row.pk for row in rows]
    # robust: the assignment is committed either way; a delivery whose task could not be sent
    # waits for the resume sweep.
    transaction.on_commit(lambda: _enqueue(ids), robust=True)
    return ids


def _enqueue(delivery_ids: Collection[int]) -> None:
    from routing.tasks import webhook_delivery_send_task

    for delivery_id in delivery_ids:
        webhook_delivery_send_task.delay(delivery_id)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one call did: the delivery's status after it, and when to try again (seconds),
    None when there is nothing more to do."""

    status: str
    retry_in: float | None = None


def _document(delivery: WebhookDelivery, now: datetime) -> str:
    assignment = delivery.assignment
    lead = Lead.objects.only("pk", "salesforce_id").get(pk=assignment.lead_id)
    package = handoffs_for_leads(lead_ids=[lead.pk], now=now)[lead.pk]
    hits = package.rule_hits
    hit = next((h for h in hits if h.reason_code == assignment.reason_code), None) or (
        hits[0] if hits else None
    )
    card = package.lead
    return webhook.encode(
        webhook.payload(
            webhook.PayloadFacts(
                delivery_id=str(delivery.delivery_id),
                created_at=delivery.created_at,
                path=assignment.queue,
                path_label=str(Queue(assignment.queue).label),
                lead_id=lead.pk,
                lead_name=card.name,
                lead_email=card.email,
                lead_title=card.title,
                company=card.company,
                account_id=card.account_id,
                salesforce_id=lead.salesforce_id or "",
                assignment_id=assignment.pk,
                assigned_at=assignment.assigned_at,
                tier=assignment.tier,
                reason=assignment.reason,
                reason_code=assignment.reason_code,
                rule=(
                    webhook.RuleFacts(
                        reason_code=hit.reason_code,
                        name=hit.rule,
                        category=hit.category,
                        action=hit.action,
                        evidence=hit.evidence,
                    )
                    if hit is not None
                    else None
                ),
                summary=package.summary,
            )
        )
    )


@dataclass(frozen=True)
class _Attempt:
    delivery_id: str
    url: str
    body: bytes
    secret: str
    timeout: float
    attempt: int


def _finish(delivery: WebhookDelivery, status: str, error: str) -> DeliveryOutcome:
    delivery.status = status
    delivery.last_error = error
    delivery.next_attempt_at = None
    delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
    return DeliveryOutcome(status)


def _claim(delivery_id: int, now: datetime) -> _Attempt | DeliveryOutcome:
    """Under the delivery's row lock: the attempt to make, or why there is none."""
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("destination", "assignment")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        return DeliveryOutcome("missing")
    if delivery.status in FINISHED:
        return DeliveryOutcome(delivery.status)
    if (
        delivery.status == WebhookDeliveryStatus.SENDING
        and delivery.next_attempt_at is not None
        and delivery.next_attempt_at > now
    ):
        return DeliveryOutcome(delivery.status)  # another run's attempt is in flight
    destination = delivery.destination
    if destination is None or destination.kind != PathDestinationKind.WEBHOOK:
        return _finish(
            delivery,
            WebhookDeliveryStatus.FAILED,
            "The path's webhook destination was removed or changed before delivery.",
        )
    if delivery.assignment.status not in CURRENT:
        return _finish(
            delivery,
            WebhookDeliveryStatus.CANCELLED,
            "The lead left the path before it could be delivered; nothing was sent since.",
        )
    fields = ["status", "attempts", "last_attempt_at", "next_attempt_at", "url"]
    if not delivery.body:
        delivery.body = _document(delivery, now)
        fields.append("body")
    delivery.status = WebhookDeliveryStatus.SENDING
    delivery.attempts += 1
    delivery.last_attempt_at = now
    timeout = float(destination.webhook_timeout_seconds)
    # Until then this attempt holds the delivery; past it, it is taken to have died.
    delivery.next_attempt_at = now + timedelta(seconds=timeout) + CLAIM_MARGIN
    delivery.url = destination.webhook_url
    delivery.save(update_fields=fields)
    return _Attempt(
        delivery_id=str(delivery.delivery_id),
        url=destination.webhook_url,
        body=delivery.body.encode(),
        secret=destination.webhook_secret,
        timeout=timeout,
        attempt=delivery.attempts,
    )


def webhook_delivery_send(*, delivery_id: int, now: datetime | None = None) -> DeliveryOutcome:
    """Make one attempt at a delivery; safe to call twice (a finished delivery is left alone,
    one in flight elsewhere is not sent again).

    The receiver gets the same body, delivery id and signature on every attempt: it tells a
    retry from a new lead by `X-Leadqual-Delivery`. After LEADQUAL_WEBHOOK_MAX_ATTEMPTS the
    delivery is given up; each wait is LEADQUAL_WEBHOOK_RETRY_SECONDS, doubled per attempt, at
    most LEADQUAL_WEBHOOK_RETRY_MAX_SECONDS.
    """
    with transaction.atomic():
        claimed = _claim(delivery_id, now or timezone.now())
    if isinstance(claimed, DeliveryOutcome):
        return claimed
    answer = webhook.post(
        claimed.url,
        body=claimed.body,
        headers=webhook.headers(
            delivery_id=claimed.delivery_id,
            body=claimed.body,
            secret=claimed.secret,
            attempt=claimed.attempt,
        ),
        timeout=claimed.timeout,
    )
    moment = now or timezone.now()
    verdict = webhook.outcome(answer)
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.last_status_code = answer.status_code
        delivery.last_error = answer.error
        fields = ["status", "last_status_code", "last_error", "next_attempt_at", "delivered_at"]
        retry_in: float | None = None
        if verdict == webhook.DELIVERED:
            delivery.status = WebhookDeliveryStatus.DELIVERED
            delivery.delivered_at = moment
            delivery.next_attempt_at = None
        elif (
            verdict == webhook.RETRY and delivery.attempts < settings.LEADQUAL_WEBHOOK_MAX_ATTEMPTS
        ):
            retry_in = webhook.backoff_seconds(
                delivery.attempts,
                base=settings.LEADQUAL_WEBHOOK_RETRY_SECONDS,
                cap=settings.LEADQUAL_WEBHOOK_RETRY_MAX_SECONDS,
            )
            delivery.status = WebhookDeliveryStatus.RETRYING
            delivery.next_attempt_at = moment + timedelta(seconds=retry_in)
        else:
            delivery.status = WebhookDeliveryStatus.FAILED
            delivery.next_attempt_at = None
            if verdict == webhook.RETRY:
                delivery.last_error = (
                    f"Gave up after {delivery.attempts} attempts. Last: {answer.error}"
                )
        delivery.save(update_fields=fields)
    if delivery.status != WebhookDeliveryStatus.DELIVERED:
        logger.warning(
            "Webhook delivery %s (%s path) attempt %s: %s",
            delivery.delivery_id,
            delivery.path,
            delivery.attempts,
            delivery.last_error or delivery.status,
        )
    return DeliveryOutcome(delivery.status, retry_in)


def webhook_deliveries_resume(*, now: datetime | None = None) -> list[int]:
    """Send again the deliveries whose task was lost: unfinished and due for over
    RESUME_GRACE (a retry that is on time is left to its own task). Returns their ids."""
    moment = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            status__in=[
                WebhookDeliveryStatus.PENDING,
                WebhookDeliveryStatus.SENDING,
                WebhookDeliveryStatus.RETRYING,
            ],
            next_attempt_at__lt=moment - RESUME_GRACE,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:RESUME_LIMIT]
    )
    if ids:
        logger.info("Resuming %s webhook deliveries whose task was lost", len(ids))
        _enqueue(ids)
    return ids


def webhook_deliveries_redeliver(
    *, delivery_ids: Collection[int], now: datetime | None = None
) -> int:
    """An operator sends failed deliveries again (after fixing the receiver or the URL): the
    same delivery id and body, a fresh set of attempts. Returns how many."""
    moment = now or timezone.now()
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(
                pk__in=list(delivery_ids),
                status=WebhookDeliveryStatus.FAILED,
            ).values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=WebhookDeliveryStatus.PENDING, attempts=0, next_attempt_at=moment
        )
        transaction.on_commit(lambda: _enqueue(ids), robust=True)
    return len(ids)
