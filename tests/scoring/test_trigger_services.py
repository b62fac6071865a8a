"""Re-qualification triggers at the service level: evidence in, a Resurfacing with its reason,
the change line, the cooldown, a closed lead reopened, and routing back to the previous owner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.evidence_arrival import EvidenceArrival
from accounts.models import Lead, LeadStatus
from routing.models import Assignment, AssignmentStatus, Queue
from scoring import feedback_revisit, services, tasks, trigger_services
from scoring.models import (
    Qualification,
    Resurfacing,
    ResurfacingStatus,
    ScoringSettings,
    ThresholdMode,
    TriggerKind,
    TriggerRule,
)
from scoring.triggers import TRIGGERS
from tests.factories import (
    AccountEventFactory,
    AccountFactory,
    LeadFactory,
    SalesRepFactory,
    TouchpointFactory,
)

pytestmark = pytest.mark.django_db


def _threshold(value: float) -> None:
    ScoringSettings.objects.update_or_create(
        pk=1,
        defaults={
            "threshold_mode": ThresholdMode.FIXED,
            "sales_ready_threshold": value,
            "min_sales_ready_probability": value,
        },
    )


def _engaged_lead(days_ago: float, **fields: Any) -> Lead:
    account = fields.pop("account", None) or AccountFactory(
        country="DE", employee_count=500, industry="software"
    )
    lead = LeadFactory(account=account, title="VP Operations", seniority="vp", **fields)
    for _ in range(3):
        TouchpointFactory(
            lead=lead,
            page_category="pricing",
            occurred_at=timezone.now() - timedelta(days=days_ago),
        )
    services.leads_qualify(lead_ids=[lead.pk], notify=False)
    return lead


def _arrival(lead: Lead, kind: str, record_id: int) -> EvidenceArrival:
    assert lead.account_id is not None
    return EvidenceArrival(account_id=lead.account_id, kind=kind, record_id=record_id)


def test_the_migration_seeds_one_rule_per_trigger_kind() -> None:
    assert set(TriggerRule.objects.values_list("kind", flat=True)) == set(TRIGGERS)
    assert set(TriggerKind.values) == set(TRIGGERS)


def test_a_funding_round_resurfaces_the_lead_and_routes_it_to_the_previous_owner(
    django_capture_on_commit_callbacks: Any,
) -> None:
    _threshold(0.28)
    rep = SalesRepFactory(team="emea")
    lead = _engaged_lead(40, owner=rep.user)
    assert Qualification.objects.get(lead=lead, is_current=True).tier == "nurture"
    event = AccountEventFactory(account=lead.account, kind="funding", title="Raised $20M Series B")

    with django_capture_on_commit_callbacks(execute=True):
        trigger_services.triggers_on_account_evidence([_arrival(lead, "account_event", event.pk)])

    [item] = Resurfacing.objects.filter(lead=lead)
    assert item.trigger == TriggerKind.COMPANY_CHANGE
    assert item.sentences[0].startswith("Funding round: Raised $20M Series B")
    assert item.evidence["records"] == [{"kind": "account_event", "id": event.pk}]
    assert item.change.startswith("Nurture ") and "→ Sales Ready" in item.change
    assert item.previous_owner == rep.user
    assignment = Assignment.objects.get(lead=lead, status=AssignmentStatus.OPEN)
    assert (assignment.queue, assignment.rep_id) == (Queue.SALES, rep.pk)
    assert (item.status, item.routed_to) == (ResurfacingStatus.ROUTED, rep.user)

    # The cooldown: the same news again resurfaces nobody.
    again = AccountEventFactory(account=lead.account, kind="funding", title="Raised more")
    trigger_services.triggers_on_account_evidence([_arrival(lead, "account_event", again.pk)])
    assert Resurfacing.objects.filter(lead=lead).count() == 1


def test_a_closed_lead_active_again_is_reopened_resurfaced_and_routed(
    django_capture_on_commit_callbacks: Any,
) -> None:
    _threshold(0.3)
    rep = SalesRepFactory()
    lead = _engaged_lead(3, owner=rep.user)
    lead.status = LeadStatus.CLOSED
    lead.save(update_fields=["status"])
    TouchpointFactory(lead=lead, form_type="demo_request", kind="form_submit")
    # What the ingest does: the lead is marked for re-qualification.
    Lead.objects.filter(pk=lead.pk).update(requalify_requested_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        tasks.leads_requalify_task.apply(args=([lead.pk],))

    lead.refresh_from_db()
    assert lead.status == LeadStatus.WORKING
    [item] = Resurfacing.objects.filter(lead=lead)
    assert item.trigger == TriggerKind.DORMANT_ACTIVITY
    assert item.previous_status == LeadStatus.CLOSED
    assert item.sentences[0].startswith("Closed lead active again")
    assert item.change
    if Qualification.objects.get(lead=lead, is_current=True).tier == "sales_ready":
        assert item.routed_to == rep.user


def test_a_lead_active_within_the_dormant_window_does_not_resurface() -> None:
    lead = _engaged_lead(3)
    TouchpointFactory(lead=lead, page_category="pricing")
    Lead.objects.filter(pk=lead.pk).update(requalify_requested_at=timezone.now())
    tasks.leads_requalify_task.apply(args=([lead.pk],))
    assert not Resurfacing.objects.filter(lead=lead).exists()


def test_a_new_contact_re_qualifies_its_engaged_colleague() -> None:
    colleague = _engaged_lead(5)
    new = LeadFactory(account=colleague.account, name="Sam New")
    trigger_services.triggers_on_account_evidence([_arrival(colleague, "new_contact", new.pk)])
    fired = dict(Resurfacing.objects.values_list("lead_id", "trigger"))
    assert fired == {colleague.pk: TriggerKind.NEW_CONTACT, new.pk: TriggerKind.NEW_CONTACT}
    assert "New contact Sam New" in Resurfacing.objects.get(lead=colleague).sentences[0]


def test_a_revisit_date_that_has_come_resurfaces_the_lead_once() -> None:
    from tests.factories import FeedbackFactory

    lead = _engaged_lead(50)
    FeedbackFactory(
        lead=lead,
        verdict="reject",
        reason="bad_timing",
        revisit_on=timezone.localdate() - timedelta(days=1),
        created_at=timezone.now() - timedelta(days=30),
    )
    [item] = trigger_services.triggers_on_revisit_due()
    assert item.trigger == TriggerKind.TIMING_WINDOW
    assert "asked to revisit" in item.sentences[0]
    assert trigger_services.triggers_on_revisit_due() == []


def test_a_revisit_date_must_be_in_the_future_and_within_a_year() -> None:
    from django.core.exceptions import ValidationError

    today = timezone.localdate()
    assert feedback_revisit.revisit_on_validate(revisit_on=None, today=today) == today + timedelta(
        days=90
    )
    with pytest.raises(ValidationError, match="not in the future"):
        feedback_revisit.revisit_on_validate(revisit_on=today, today=today)
    with pytest.raises(ValidationError, match="more than a year"):
        feedback_revisit.revisit_on_validate(revisit_on=today + timedelta(days=400), today=today)
