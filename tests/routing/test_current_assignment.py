"""Routing tells scoring's lead API where a lead is being worked (the provider setting), so the
API's lead detail names the rep and the reason without scoring importing routing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from routing.models import AssignmentStatus
from scoring.selectors import lead_current_assignment
from tests.factories import AssignmentFactory, LeadFactory, SalesRepFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_configured_provider_reports_the_leads_open_assignment_with_its_rep():
    rep = SalesRepFactory(user=UserFactory(first_name="Sam", last_name="Rivera"))
    lead = LeadFactory()
    earlier = timezone.now() - timedelta(days=2)
    AssignmentFactory(lead=lead, rep=rep, status=AssignmentStatus.REASSIGNED, assigned_at=earlier)
    current = AssignmentFactory(lead=lead, rep=rep, reason="account owner")

    found = lead_current_assignment(lead_id=lead.pk)

    assert found is not None
    assert found.assignment_id == current.pk
    assert found.rep_user_id == rep.user_id
    assert found.rep_name == "Sam Rivera"
    assert found.reason == "account owner"
    assert found.status == AssignmentStatus.OPEN


def test_a_lead_whose_assignments_are_all_closed_has_none():
    lead = LeadFactory()
    AssignmentFactory(lead=lead, status=AssignmentStatus.CLOSED)

    assert lead_current_assignment(lead_id=lead.pk) is None


def test_a_queue_assignment_without_a_rep_reports_the_queue():
    lead = LeadFactory()
    AssignmentFactory(lead=lead, queue="nurture", reason="nurture tier")

    found = lead_current_assignment(lead_id=lead.pk)

    assert found is not None
    assert found.rep_user_id is None
    assert found.queue == "nurture"
