"""Qualification hands its leads to routing once it has committed (LEADQUAL_AFTER_QUALIFY), and
the SLA check is on the beat schedule."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from leadqual.celery import app
from routing.models import Assignment
from scoring import services
from scoring.models import Qualification
from tests.factories import LeadFactory
from tests.routing.test_services import build_world

pytestmark = pytest.mark.django_db


def _current(lead_id: int) -> Assignment:
    return Assignment.objects.get(lead_id=lead_id, status__in=["open", "accepted"])


def test_a_qualified_lead_is_routed_where_its_new_tier_belongs_after_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    world = build_world()
    lead = LeadFactory(account=world.account)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.leads_qualify(lead_ids=[lead.pk])

    assert len(callbacks) == 1
    qualification = Qualification.objects.get(lead=lead, is_current=True)
    assignment = _current(lead.pk)
    assert assignment.tier == qualification.tier
    assert assignment.reason


def test_nothing_is_routed_before_the_qualification_commits(
    django_capture_on_commit_callbacks: Any,
) -> None:
    world = build_world()
    lead = LeadFactory(account=world.account)

    with django_capture_on_commit_callbacks(execute=False):
        services.leads_qualify(lead_ids=[lead.pk])

    assert not Assignment.objects.filter(lead=lead).exists()


def test_notify_false_leaves_routing_alone(django_capture_on_commit_callbacks: Any) -> None:
    world = build_world()
    lead = LeadFactory(account=world.account)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.leads_qualify(lead_ids=[lead.pk], notify=False)

    assert callbacks == []
    assert not Assignment.objects.filter(lead=lead).exists()


def test_the_command_routes_what_it_qualified_unless_told_not_to() -> None:
    world = build_world()
    routed, left = LeadFactory(account=world.account), LeadFactory(account=world.account)

    out = io.StringIO()
    call_command("qualify_leads", "--unqualified", "--no-notify", stdout=out)
    assert not Assignment.objects.filter(lead__in=[routed, left]).exists()

    Qualification.objects.filter(lead=routed).delete()
    call_command("qualify_leads", "--unqualified", stdout=out)

    assert "Handing 1 leads on to routing.tasks.route_qualified" in out.getvalue()
    assert _current(routed.pk).tier == Qualification.objects.get(lead=routed, is_current=True).tier
    assert not Assignment.objects.filter(lead=left).exists()


def test_every_scheduled_task_exists_and_the_sla_check_is_scheduled() -> None:
    app.loader.import_default_modules()
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "routing.tasks.assignments_check_sla_task" in tasks
    assert tasks <= set(app.tasks)
