"""The SLA check and the routing tasks: the first breach alerts, the second reassigns, every move
is recorded, and running twice changes nothing more."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Lead
from routing.models import (
    Assignment,
    AssignmentEvent,
    AssignmentEventKind,
    AssignmentStatus,
    Queue,
    RoutingSettings,
    SalesRep,
)
from routing.services import assignments_check_sla, assignments_route
from routing.tasks import assignments_check_sla_task, assignments_route_task
from scoring.models import Tier
from tests.celery_worker import RunningWorker
from tests.factories import AssignmentFactory
from tests.routing.test_services import NOW, build_world, qualified_lead

pytestmark = pytest.mark.django_db

# The deadline of an assignment routed at NOW (Monday 15:00 UTC, one business hour).
DUE = NOW + timedelta(hours=1)


def routed(lead: Lead) -> Assignment:
    (assignment,) = assignments_route(lead_ids=[lead.pk], now=NOW)
    return assignment


def test_an_assignment_touched_or_not_yet_due_is_no_breach() -> None:
    world = build_world()
    touched = routed(qualified_lead(world.account))
    Assignment.objects.filter(pk=touched.pk).update(first_touch_at=NOW + timedelta(minutes=20))
    waiting = routed(qualified_lead(world.account))

    result = assignments_check_sla(now=DUE - timedelta(minutes=1))
    assert result.breached == []
    result = assignments_check_sla(now=DUE + timedelta(minutes=1))
    assert result.breached == [waiting.pk]


def test_the_first_breach_alerts_and_starts_a_fresh_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = build_world()
    assignment = routed(qualified_lead(world.account))
    check_at = DUE + timedelta(minutes=5)  # Monday 16:05

    with caplog.at_level(logging.WARNING, logger="routing.services"):
        result = assignments_check_sla(now=check_at)

    assert (result.breached, result.reassigned) == ([assignment.pk], [])
    assignment.refresh_from_db()
    assert assignment.sla_breaches == 1
    assert assignment.status == AssignmentStatus.OPEN
    assert assignment.rep_id == world.ana.pk
    # One business hour from the alert: 16:05 plus 55 minutes today and 5 tomorrow.
    assert assignment.sla_due_at == NOW.replace(day=3, hour=9, minute=5)
    event = AssignmentEvent.objects.get(assignment=assignment)
    assert event.kind == AssignmentEventKind.SLA_BREACH
    assert event.message == "SLA breach 1: not touched by 2026-03-02 16:00 UTC (Ana)"
    assert f"SLA breach 1 of assignment {assignment.pk}" in caplog.text


def test_checking_twice_counts_one_breach() -> None:
    world = build_world()
    assignment = routed(qualified_lead(world.account))
    check_at = DUE + timedelta(minutes=5)
    assignments_check_sla(now=check_at)
    assert assignments_check_sla(now=check_at).breached == []
    assignment.refresh_from_db()
    assert assignment.sla_breaches == 1
    assert AssignmentEvent.objects.count() == 1


def test_the_second_breach_reassigns_to_someone_else_and_records_it() -> None:
    world = build_world()
    lead = qualified_lead(world.account)
    first = routed(lead)
    assignments_check_sla(now=DUE + timedelta(minutes=5))
    second_check = NOW.replace(day=3, hour=9, minute=30)

    result = assignments_check_sla(now=second_check)

    first.refresh_from_db()
    assert first.status == AssignmentStatus.REASSIGNED
    assert first.sla_breaches == 2
    (moved,) = Assignment.objects.filter(lead=lead, status=AssignmentStatus.OPEN)
    assert result.reassigned == [moved.pk]
    assert moved.rep_id in {world.ben.pk, world.cleo.pk}
    assert moved.reassigned_from_id == first.pk
    assert moved.reason.startswith("SLA breached 2 times by Ana → rule EMEA → pool EMEA AEs → ")
    assert moved.sla_breaches == 0
    assert moved.sla_due_at == second_check + timedelta(hours=1)
    assert moved.assigned_at == second_check
    kinds = list(
        AssignmentEvent.objects.filter(assignment__lead=lead)
        .order_by("pk")
        .values_list("kind", flat=True)
    )
    assert kinds == [
        AssignmentEventKind.SLA_BREACH,
        AssignmentEventKind.SLA_BREACH,
        AssignmentEventKind.REASSIGNED,
    ]
    lead.refresh_from_db()
    assert lead.owner_id == SalesRep.objects.get(pk=moved.rep_id).user_id


def test_the_number_of_breaches_before_a_move_is_configurable() -> None:
    world = build_world()
    RoutingSettings.objects.filter(pk=1).update(reassign_after_breaches=1)
    first = routed(qualified_lead(world.account))
    result = assignments_check_sla(now=DUE + timedelta(minutes=5))
    assert len(result.reassigned) == 1
    first.refresh_from_db()
    assert first.status == AssignmentStatus.REASSIGNED


def test_a_lead_no_one_else_can_take_waits_unassigned_for_a_manager() -> None:
    off = {"is_active": False}
    world = build_world(ben=off, cleo=off, dev=off)
    lead = qualified_lead(world.account)
    first = routed(lead)
    assignments_check_sla(now=DUE + timedelta(minutes=5))
    assignments_check_sla(now=NOW.replace(day=3, hour=9, minute=30))

    (waiting,) = Assignment.objects.filter(lead=lead, status=AssignmentStatus.OPEN)
    assert (waiting.rep_id, waiting.queue, waiting.reassigned_from_id) == (
        None,
        Queue.SALES,
        first.pk,
    )
    assert waiting.reason.endswith("unassigned in the sales queue for a manager to assign")
    lead.refresh_from_db()
    assert lead.owner_id is None

    # Unassigned and still nobody: alerts go on, but no new record every other hour.
    SalesRep.objects.filter(pk=world.ana.pk).update(is_active=False)
    assignments_check_sla(now=NOW.replace(day=3, hour=10, minute=45))
    assignments_check_sla(now=NOW.replace(day=3, hour=12))
    assert Assignment.objects.filter(lead=lead).count() == 2
    waiting.refresh_from_db()
    assert waiting.sla_breaches == 2


def test_a_queue_assignment_is_alerted_but_not_moved() -> None:
    build_world()
    lead = qualified_lead(None)
    review = AssignmentFactory(
        lead=lead, queue=Queue.REVIEW, tier=Tier.SALES_READY, sla_due_at=NOW, sla_breaches=1
    )
    result = assignments_check_sla(now=NOW + timedelta(minutes=1))
    assert (result.breached, result.reassigned) == ([review.pk], [])
    review.refresh_from_db()
    assert (review.status, review.sla_breaches) == (AssignmentStatus.OPEN, 2)


def test_an_accepted_or_closed_assignment_is_never_breached() -> None:
    build_world()
    for status in (AssignmentStatus.ACCEPTED, AssignmentStatus.CLOSED):
        AssignmentFactory(status=status, sla_due_at=NOW - timedelta(hours=2))
    assert assignments_check_sla(now=NOW).breached == []


# --- tasks -------------------------------------------------------------------------------------


def test_the_route_task_routes_and_running_it_twice_changes_nothing() -> None:
    world = build_world()
    lead = qualified_lead(world.account)
    assert assignments_route_task.delay([lead.pk]).get() == 1
    assert assignments_route_task.delay([lead.pk]).get() == 0
    assert Assignment.objects.filter(lead=lead).count() == 1


def test_the_sla_task_checks_against_the_clock() -> None:
    world = build_world()
    AssignmentFactory(
        lead=qualified_lead(world.account),
        rep=world.ana,
        tier=Tier.SALES_READY,
        sla_due_at=timezone.now() - timedelta(minutes=1),
    )
    assert assignments_check_sla_task.delay().get() == {"breached": 1, "reassigned": 0}
    assert assignments_check_sla_task.delay().get() == {"breached": 0, "reassigned": 0}


@pytest.mark.celery_worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_routes_the_leads_it_is_sent(live_celery_worker: RunningWorker) -> None:
    world = build_world()
    lead = qualified_lead(world.account)
    result = live_celery_worker.send(assignments_route_task, [lead.pk])
    assert result.get(timeout=60) == 1
    assert Assignment.objects.get(lead=lead).rep_id == world.ana.pk
