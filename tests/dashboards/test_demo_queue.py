"""`make demo` creates the logins after the demo world was routed; the sdr login must still
open a queue with leads in it, and join the busiest demo SDR's pools so new leads reach it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from accounts.models import Lead
from dashboards.services import DEMO_QUEUE_LEADS, demo_users_ensure
from leadqual.demo.load import demo_world_load
from routing.models import Assignment, AssignmentEvent, AssignmentStatus, Queue, SalesRep
from routing.services import assignments_route
from scoring.services import leads_qualify

pytestmark = pytest.mark.django_db


def _sdr_open(rep: SalesRep) -> list[Assignment]:
    return list(Assignment.objects.filter(rep=rep, status=AssignmentStatus.OPEN))


def test_the_demo_sdr_login_takes_over_part_of_the_busiest_demo_sdrs_queue():
    demo_world_load(leads=300, seed=11, reset=True)
    ids = list(Lead.objects.values_list("pk", flat=True))
    leads_qualify(lead_ids=ids, notify=False)
    assignments_route(lead_ids=ids)

    demo_users_ensure()

    rep = User.objects.get(username="sdr").sales_rep
    mine = _sdr_open(rep)
    assert 0 < len(mine) <= DEMO_QUEUE_LEADS
    assert all(a.queue == Queue.SALES and a.tier == "sales_ready" for a in mine)
    assert set(
        Lead.objects.filter(pk__in=[a.lead_id for a in mine]).values_list("owner", flat=True)
    ) == {rep.user_id}
    assert rep.pools.exists(), "the sdr login joins the pools routing sends new leads to"
    assert AssignmentEvent.objects.filter(assignment__in=mine).exists()

    # Running it again (make demo twice) hands over nothing more.
    demo_users_ensure()
    assert {a.pk for a in _sdr_open(rep)} == {a.pk for a in mine}


def test_without_a_routed_world_the_sdr_login_just_gets_an_empty_rep_profile():
    demo_users_ensure()

    rep = User.objects.get(username="sdr").sales_rep
    assert _sdr_open(rep) == [] and not rep.pools.exists()
