"""Disqualified leads leaving the sales queue while several workers route at once, and a path
team marking leads handled while routing moves them, on PostgreSQL with its row locks.

Each thread has its own connection, as a Celery worker would; the data is committed
(transaction=True) so every connection sees it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest

from accounts.models import Lead
from routing import selectors
from routing.models import (
    Assignment,
    AssignmentEvent,
    AssignmentEventKind,
    AssignmentStatus,
    Queue,
)
from routing.path_services import PathError, path_assignment_handle
from routing.services import assignments_route
from scoring.models import DisqualificationRule, Qualification, RuleAction, Tier
from tests.factories import AccountFactory, UserFactory
from tests.routing.test_concurrency import assert_one_current_assignment_per_lead, run_at_once, team
from tests.routing.test_services import NOW, leads

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CURRENT = [AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED]


def requalify(lead_ids: list[int], tier: str, **fields: object) -> None:
    Qualification.objects.filter(lead_id__in=lead_ids).update(is_current=False)
    Qualification.objects.bulk_create(
        [
            Qualification(lead_id=lead_id, tier=tier, confidence="high", **fields)
            for lead_id in lead_ids
        ]
    )


def routing_jobs(
    lead_ids: list[int], *, workers: int, batch_size: int
) -> list[Callable[[], object]]:
    """Every worker routes all the leads, in its own order, in small batches."""
    jobs: list[Callable[[], object]] = []
    for worker in range(workers):
        order = lead_ids[worker:] + lead_ids[:worker]
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

        def job(batches: list[list[int]] = batches) -> None:
            for batch in batches:
                assignments_route(lead_ids=batch, now=NOW, batch_size=batch_size)

        jobs.append(job)
    return jobs


def test_parallel_workers_move_accepted_students_out_of_sales_once_and_leave_nurture_drops() -> (
    None
):
    reps, _ = team([1, 1, 1])
    DisqualificationRule.objects.create(
        name="Students",
        category="student",
        reason_code="student",
        action=RuleAction.ROUTE_COMMUNITY,
    )
    account = AccountFactory(country="DE", region="EMEA")
    ids = [lead.pk for lead in leads(40, account)]
    assignments_route(lead_ids=ids, now=NOW)
    Assignment.objects.filter(lead_id__in=ids).update(status=AssignmentStatus.ACCEPTED)
    held_before = dict(Assignment.objects.filter(lead_id__in=ids).values_list("lead_id", "rep_id"))
    students, drops = ids[::2], ids[1::2]
    requalify(students, Tier.DISQUALIFY, disqualification_reason="student")
    requalify(drops, Tier.NURTURE, conversion_probability=0.05)

    run_at_once(routing_jobs(ids, workers=4, batch_size=3))

    assert_one_current_assignment_per_lead(ids)
    now_at = {a.lead_id: a for a in Assignment.objects.filter(lead_id__in=ids, status__in=CURRENT)}
    assert {now_at[i].queue for i in students} == {Queue.COMMUNITY}
    assert all(now_at[i].rep_id is None and now_at[i].reason_code == "student" for i in students)
    # Each student left sales exactly once, however many workers saw it.
    left = Counter(
        AssignmentEvent.objects.filter(kind=AssignmentEventKind.LEFT_SALES).values_list(
            "assignment__lead_id", flat=True
        )
    )
    assert left == dict.fromkeys(students, 1)
    # The nurture drops stay accepted with the reps who had them.
    assert all(
        (now_at[i].status, now_at[i].rep_id) == (AssignmentStatus.ACCEPTED, held_before[i])
        for i in drops
    )
    # Each rep's open count is now the drops they kept.
    setup = selectors.routing_setup()
    states = selectors.rep_states(now=NOW, hours=setup.hours, rep_ids=[r.pk for r in reps])
    kept = Counter(held_before[i] for i in drops)
    assert {rep.pk: states[rep.pk].open_leads for rep in reps} == {
        rep.pk: kept[rep.pk] for rep in reps
    }
    assert not Lead.objects.filter(pk__in=students, owner__isnull=False).exists()


def test_a_team_marking_leads_handled_while_routing_moves_them_never_leaves_two_current() -> None:
    team([1, 1], max_open_leads=1000, max_leads_per_day=1000)
    DisqualificationRule.objects.create(
        name="Students",
        category="student",
        reason_code="student",
        action=RuleAction.ROUTE_COMMUNITY,
    )
    account = AccountFactory(country="DE", region="EMEA")
    ids = [
        lead.pk
        for lead in leads(30, account, tier=Tier.DISQUALIFY, disqualification_reason="student")
    ]
    assignments_route(lead_ids=ids, now=NOW)
    on_path = dict(
        Assignment.objects.filter(lead_id__in=ids, queue=Queue.COMMUNITY).values_list(
            "lead_id", "pk"
        )
    )
    assert len(on_path) == 30
    # The students now look like buyers: routing will take them to sales as the team works.
    requalify(ids, Tier.SALES_READY, conversion_probability=0.7, deal_size_low=Decimal(10_000))
    member = UserFactory(username="ana")
    refused = []
    lock = threading.Lock()

    def handle_all() -> None:
        for lead_id in ids:
            try:
                path_assignment_handle(assignment_id=on_path[lead_id], user=member)
            except PathError:
                with lock:
                    refused.append(lead_id)

    run_at_once([handle_all, *routing_jobs(ids, workers=2, batch_size=2)])

    assert_one_current_assignment_per_lead(ids)
    assert set(
        Assignment.objects.filter(lead_id__in=ids, status__in=CURRENT).values_list(
            "queue", flat=True
        )
    ) == {Queue.SALES}
    old = {a.lead_id: a for a in Assignment.objects.filter(pk__in=on_path.values())}
    for lead_id in ids:
        assert old[lead_id].status == AssignmentStatus.REASSIGNED
        # Handled before routing moved it, or refused because it had moved: never both.
        handled = old[lead_id].accepted_by_id == member.pk
        assert handled != (lead_id in refused), lead_id
