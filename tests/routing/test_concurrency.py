"""Several workers routing overlapping batches at once, on PostgreSQL with its row locks.

Each thread has its own database connection, as a Celery worker process would; the test's
data is committed (transaction=True) so that every connection sees it. Without the locks, two
workers read the same loads and credits: a rep goes over capacity, a round-robin update is
lost, or a lead gets two current assignments (which the unique index then refuses).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connections

from routing import selectors
from routing.engine import RoundRobinState, pool_key
from routing.models import (
    Assignment,
    AssignmentStatus,
    RoundRobinClock,
    RoundRobinCredit,
    RoutingPool,
    RoutingSettings,
    SalesRep,
)
from routing.services import assignments_route
from tests.factories import (
    AccountFactory,
    RoutingPoolFactory,
    RoutingRuleFactory,
    TerritoryFactory,
)
from tests.routing.test_services import NOW, leads, make_rep

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS = 4


def team(weights: list[int], **fields: object) -> tuple[list[SalesRep], RoutingPool]:
    RoutingSettings.load()
    reps = [
        make_rep(f"Rep{i}", weight=Decimal(weight), **fields) for i, weight in enumerate(weights)
    ]
    pool = RoutingPoolFactory(name="EMEA AEs")
    pool.reps.set(reps)
    RoutingRuleFactory(name="EMEA", territory=TerritoryFactory(regions=["EMEA"]), pool=pool)
    return reps, pool


def run_at_once(jobs: list[Callable[[], object]]) -> None:
    """Start the jobs together on their own threads (and connections); re-raise any error."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            job()
        except BaseException as error:  # handed to the test thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    if errors:
        raise errors[0]


def overlapping_jobs(lead_ids: list[int], *, batch_size: int) -> list[Callable[[], object]]:
    """Every worker routes all the leads, each in its own order and in small batches."""
    jobs: list[Callable[[], object]] = []
    for seed in range(WORKERS):
        order = lead_ids[:]
        random.Random(seed).shuffle(order)
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

        def job(batches: list[list[int]] = batches) -> None:
            for batch in batches:
                assignments_route(lead_ids=batch, now=NOW, batch_size=batch_size)

        jobs.append(job)
    return jobs


def assert_one_current_assignment_per_lead(lead_ids: list[int]) -> None:
    current = Counter(
        Assignment.objects.filter(status__in=[AssignmentStatus.OPEN, AssignmentStatus.ACCEPTED])
        .order_by()
        .values_list("lead_id", flat=True)
    )
    assert set(current) == set(lead_ids)
    assert set(current.values()) == {1}


def test_parallel_workers_never_push_a_rep_over_either_cap() -> None:
    reps, _ = team([2, 1, 1, 1, 1], max_open_leads=12, max_leads_per_day=1000)
    SalesRep.objects.filter(pk=reps[1].pk).update(max_leads_per_day=5)
    SalesRep.objects.filter(pk=reps[2].pk).update(max_open_leads=3)
    batch = [lead.pk for lead in leads(80, AccountFactory(country="DE", region="EMEA"))]

    run_at_once(overlapping_jobs(batch, batch_size=4))

    assert_one_current_assignment_per_lead(batch)
    held = Counter(
        Assignment.objects.filter(status=AssignmentStatus.OPEN, rep__isnull=False)
        .order_by()
        .values_list("rep_id", flat=True)
    )
    caps = {
        rep.pk: min(rep.max_open_leads, rep.max_leads_per_day)
        for rep in SalesRep.objects.filter(pk__in=[r.pk for r in reps])
    }
    # 12 + 5 + 3 + 12 + 12 = 44 places for 80 leads: every rep full, none over, the rest queued.
    assert dict(held) == caps
    assert Assignment.objects.filter(rep__isnull=True).count() == 80 - sum(caps.values())


def test_parallel_workers_share_the_leads_as_a_single_worker_would() -> None:
    reps, pool = team([2, 1, 1, 1, 1])
    account = AccountFactory(country="DE", region="EMEA")
    lead_ids = [lead.pk for lead in leads(180, account)]
    # What one worker would do with the same leads: the pure engine over the same inputs.
    setup = selectors.routing_setup()
    facts = [
        item.facts
        for item in selectors.routable_leads(lead_ids=lead_ids, disqualifiers=setup.disqualifiers)
    ]
    hours = setup.hours
    sequential = setup.router.route_many(
        facts,
        reps=selectors.rep_states(now=NOW, hours=hours),
        rr_state=RoundRobinState(),
        now=NOW,
    ).load_by_rep()

    run_at_once(overlapping_jobs(lead_ids, batch_size=6))

    assert_one_current_assignment_per_lead(lead_ids)
    parallel = Counter(
        Assignment.objects.filter(status=AssignmentStatus.OPEN)
        .order_by()
        .values_list("rep_id", flat=True)
    )
    assert sum(parallel.values()) == 180
    for rep in reps:
        assert abs(parallel[rep.pk] - sequential[rep.pk].leads) <= 2, (parallel, sequential)
    assert parallel[reps[0].pk] == pytest.approx(60, abs=2)  # weight 2 of 6
    # No round-robin update was lost: the clock and the credits count every lead.
    key = pool_key(pool.pk)
    clock = RoundRobinClock.objects.get(key=key)
    assert (clock.leads, clock.seq) == (180, 180)
    credits = {c.rep_id: c.leads for c in RoundRobinCredit.objects.filter(key=key)}
    assert credits == dict(parallel)
